//! Soccer's requests: one, [`SoccerRequest::ChooseTeam`], accepted only before kickoff (the
//! Waiting phase) and when the team has room.
//!
//! # Payload
//! Exactly one byte, the team: 0 home, 1 away. Any other length or value is malformed. The
//! reply to an accepted request is the player's team, one byte.

use tickwire_sim::request::RequestError;

use crate::Team;

/// A request of soccer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SoccerRequest {
    /// Move the sender to `team`.
    ChooseTeam {
        /// The team asked for.
        team: Team,
    },
}

impl SoccerRequest {
    /// The payload of this request.
    pub fn payload(&self) -> Vec<u8> {
        match *self {
            SoccerRequest::ChooseTeam { team } => vec![team.code()],
        }
    }

    /// Decodes a payload; never panics, whatever the bytes.
    pub fn decode(bytes: &[u8]) -> Result<SoccerRequest, RequestError> {
        match bytes {
            [b] => Team::from_code(*b)
                .map(|team| SoccerRequest::ChooseTeam { team })
                .ok_or_else(|| {
                    RequestError::Malformed(format!("unknown team {b}; 0 is home, 1 is away"))
                }),
            _ => Err(RequestError::Malformed(format!(
                "a team choice is 1 byte, not {}",
                bytes.len()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_choice_is_one_team_byte() {
        for team in [Team::Home, Team::Away] {
            let r = SoccerRequest::ChooseTeam { team };
            assert_eq!(SoccerRequest::decode(&r.payload()), Ok(r));
        }
        let why = |b: &[u8]| SoccerRequest::decode(b).unwrap_err().to_string();
        assert_eq!(why(&[]), "a team choice is 1 byte, not 0");
        assert_eq!(why(&[0, 0]), "a team choice is 1 byte, not 2");
        assert_eq!(why(&[2]), "unknown team 2; 0 is home, 1 is away");
    }

    proptest! {
        #[test]
        fn the_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let decoded = SoccerRequest::decode(&bytes);
            prop_assert_eq!(decoded.is_ok(), bytes.len() == 1 && bytes[0] < 2);
        }
    }
}
