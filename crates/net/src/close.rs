//! WebSocket close codes the server sends, and the rules for close payloads.

/// Normal closure: the purpose of the connection was fulfilled.
pub const NORMAL: u16 = 1000;
/// The endpoint is going away (server shutdown, browser tab closed).
pub const GOING_AWAY: u16 = 1001;
/// The peer broke the WebSocket protocol.
pub const PROTOCOL_ERROR: u16 = 1002;
/// The peer sent a kind of data we do not accept (text when only binary is allowed).
pub const UNSUPPORTED_DATA: u16 = 1003;
/// A message's payload was inconsistent with its type (invalid UTF-8 in text or a close reason).
pub const INVALID_PAYLOAD: u16 = 1007;
/// The peer violated a policy of ours (for example overflowing its reliable queue).
pub const POLICY_VIOLATION: u16 = 1008;
/// A message was larger than `max_message_bytes`.
pub const MESSAGE_TOO_BIG: u16 = 1009;
/// The server hit an unexpected condition (a handler panicked).
pub const INTERNAL_ERROR: u16 = 1011;
/// Nothing was received from the peer for `idle_timeout` (application-defined code).
pub const IDLE_TIMEOUT: u16 = 4000;

/// Pseudo-code for a close frame without a status code; reported but never sent (RFC 6455 §7.4.1).
pub const NO_STATUS: u16 = 1005;

/// Longest close reason that fits in a control frame after the 2-byte code, in bytes.
pub const MAX_REASON_BYTES: usize = 123;

/// Label of every close code with a name, in the `code` label of
/// `tickwire_net_disconnects_total`: the RFC 6455 codes (1005 for a close without a code) and the
/// block 4000-4009 that the tickwire server names ([`IDLE_TIMEOUT`] here; join rejected and
/// session replaced in tickwire-proto's `close` module; new server codes go in this block).
const NAMED_LABELS: [(u16, &str); 20] = [
    (1000, "1000"),
    (1001, "1001"),
    (1002, "1002"),
    (1003, "1003"),
    (1005, "1005"),
    (1007, "1007"),
    (1008, "1008"),
    (1009, "1009"),
    (1010, "1010"),
    (1011, "1011"),
    (4000, "4000"),
    (4001, "4001"),
    (4002, "4002"),
    (4003, "4003"),
    (4004, "4004"),
    (4005, "4005"),
    (4006, "4006"),
    (4007, "4007"),
    (4008, "4008"),
    (4009, "4009"),
];

/// Label of every close code without a name, whatever the peer chose.
pub const OTHER_LABEL: &str = "other";

/// Label of a connection that ended without any close frame, either way (a dropped link, a
/// reset): beside [`CODE_LABELS`] in the `code` label of `tickwire_net_disconnects_total`.
pub const ABRUPT_LABEL: &str = "abrupt";

/// Every value [`code_label`] can return: a metric labelled with it has at most this many series.
pub const CODE_LABELS: [&str; NAMED_LABELS.len() + 1] = {
    let mut out = [OTHER_LABEL; NAMED_LABELS.len() + 1];
    let mut i = 0;
    while i < NAMED_LABELS.len() {
        out[i] = NAMED_LABELS[i].1;
        i += 1;
    }
    out
};

/// The metric label of a close code (`None`: a close without a code, labelled as 1005). Peers
/// choose their close codes, so a label is the code only for named codes and [`OTHER_LABEL`]
/// for anything else: series stay a fixed set, whatever peers send.
pub fn code_label(code: Option<u16>) -> &'static str {
    let code = code.unwrap_or(NO_STATUS);
    NAMED_LABELS
        .iter()
        .find(|(named, _)| *named == code)
        .map_or(OTHER_LABEL, |(_, label)| label)
}

/// Whether `code` may appear in a close frame on the wire (RFC 6455 §7.4 plus the IANA registry).
pub fn is_valid_code(code: u16) -> bool {
    // 1004-1006 and 1015 are reserved for reporting, never for the wire; 1016-2999 are unassigned.
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Cuts `reason` to at most [`MAX_REASON_BYTES`] bytes, on a char boundary so it stays valid UTF-8.
pub fn truncate_reason(reason: &str) -> &str {
    if reason.len() <= MAX_REASON_BYTES {
        return reason;
    }
    let mut end = MAX_REASON_BYTES;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_reasons_are_kept() {
        assert_eq!(truncate_reason("idle timeout"), "idle timeout");
        assert_eq!(truncate_reason(""), "");
    }

    #[test]
    fn long_reasons_are_cut_on_a_char_boundary() {
        let ascii = "a".repeat(200);
        assert_eq!(truncate_reason(&ascii).len(), MAX_REASON_BYTES);
        // 'é' is 2 bytes: 122 ASCII bytes then an 'é' straddling byte 123.
        let tricky = format!("{}é{}", "a".repeat(122), "b".repeat(10));
        let cut = truncate_reason(&tricky);
        assert_eq!(cut.len(), 122);
        assert!(cut.chars().all(|c| c == 'a'));
        let emoji = "🦀".repeat(40);
        assert!(truncate_reason(&emoji).len() <= MAX_REASON_BYTES);
    }

    #[test]
    fn every_code_maps_onto_the_fixed_labels() {
        let mut seen = std::collections::BTreeSet::new();
        for code in 0..=u16::MAX {
            let label = code_label(Some(code));
            assert!(CODE_LABELS.contains(&label), "{code} -> {label}");
            seen.insert(label);
        }
        assert_eq!(seen.len(), CODE_LABELS.len());
        assert_eq!(code_label(None), "1005");
        assert_eq!(code_label(Some(NORMAL)), "1000");
        assert_eq!(code_label(Some(IDLE_TIMEOUT)), "4000");
        assert_eq!(code_label(Some(3123)), OTHER_LABEL);
        assert_eq!(code_label(Some(4999)), OTHER_LABEL);
    }

    #[test]
    fn wire_code_validity() {
        for ok in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4000, 4999,
        ] {
            assert!(is_valid_code(ok), "{ok}");
        }
        for bad in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, u16::MAX] {
            assert!(!is_valid_code(bad), "{bad}");
        }
    }
}
