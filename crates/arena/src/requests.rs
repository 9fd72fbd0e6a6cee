//! Arena's requests: one, [`ArenaRequest::Emote`], a taunt every client sees as a reliable
//! [`GameEvent::Emote`](tickwire_proto::msg::GameEvent::Emote). It changes nothing in the
//! replicated world, so state frames are the same with or without emotes.
//!
//! # Payload
//! Byte 0 is the request's tag; the rest is its body:
//! - `00 kind`: [`ArenaRequest::Emote`], `kind` one byte (`0..EMOTE_KINDS`, see
//!   [`EMOTE_NAMES`]). The game refuses an unknown kind; any other length or tag is malformed.
//!
//! The reply to an emote is the tick it was shown at, `u32` little-endian (4 bytes).

use tickwire_sim::request::RequestError;

/// Tag of [`ArenaRequest::Emote`] in byte 0 of a payload.
pub const EMOTE_TAG: u8 = 0;

/// The emotes, by kind.
pub const EMOTE_NAMES: [&str; 8] = [
    "wave",
    "laugh",
    "taunt",
    "thanks",
    "sorry",
    "good game",
    "help",
    "cheer",
];

/// Emote kinds there are: kinds `0..EMOTE_KINDS` exist.
pub const EMOTE_KINDS: u8 = EMOTE_NAMES.len() as u8;

/// A request of arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArenaRequest {
    /// Show emote `kind` to every client.
    Emote {
        /// Which emote; an unknown kind decodes (it is well-formed) and the game refuses it.
        kind: u8,
    },
}

impl ArenaRequest {
    /// The payload of this request.
    pub fn payload(&self) -> Vec<u8> {
        match *self {
            ArenaRequest::Emote { kind } => vec![EMOTE_TAG, kind],
        }
    }

    /// Decodes a payload; never panics, whatever the bytes.
    pub fn decode(bytes: &[u8]) -> Result<ArenaRequest, RequestError> {
        match bytes {
            [EMOTE_TAG, kind] => Ok(ArenaRequest::Emote { kind: *kind }),
            [EMOTE_TAG, ..] => Err(RequestError::Malformed(format!(
                "an emote is 2 bytes (tag, kind), not {}",
                bytes.len()
            ))),
            [tag, ..] => Err(RequestError::Malformed(format!(
                "unknown request tag {tag}"
            ))),
            [] => Err(RequestError::Malformed("empty request".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_emote_is_its_tag_and_kind() {
        let e = ArenaRequest::Emote { kind: 3 };
        assert_eq!(e.payload(), [0, 3]);
        assert_eq!(ArenaRequest::decode(&[0, 3]), Ok(e));
        // Unknown kinds are well-formed: the game, not the decoder, refuses them.
        assert_eq!(
            ArenaRequest::decode(&[0, 200]),
            Ok(ArenaRequest::Emote { kind: 200 })
        );
    }

    #[test]
    fn other_bytes_are_malformed_with_a_reason() {
        let why = |b: &[u8]| ArenaRequest::decode(b).unwrap_err().to_string();
        assert_eq!(why(&[]), "empty request");
        assert_eq!(why(&[0]), "an emote is 2 bytes (tag, kind), not 1");
        assert_eq!(why(&[0, 1, 2]), "an emote is 2 bytes (tag, kind), not 3");
        assert_eq!(why(&[7, 1]), "unknown request tag 7");
    }

    proptest! {
        #[test]
        fn the_decoder_never_panics_and_only_two_byte_emotes_decode(
            bytes in proptest::collection::vec(any::<u8>(), 0..300)
        ) {
            let decoded = ArenaRequest::decode(&bytes);
            prop_assert_eq!(decoded.is_ok(), bytes.len() == 2 && bytes[0] == EMOTE_TAG);
            if let Ok(r) = decoded {
                prop_assert_eq!(r.payload(), bytes);
            }
        }
    }
}
