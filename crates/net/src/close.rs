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

/// Metric label values for close codes: the registered codes a peer may send (RFC 6455 §7.4 and
/// the IANA registry) and tickwire's own 4000-4009, each as its number; [`NO_STATUS`] for a close
/// frame without a code; `other` for any other code a peer chose (so a client cannot create
/// series at will); `abrupt` for a connection that ended without a close frame.
pub const METRIC_LABELS: &[&str] = &[
    "1000",
    "1001",
    "1002",
    "1003",
    "1005",
    "1007",
    "1008",
    "1009",
    "1010",
    "1011",
    "1012",
    "1013",
    "1014",
    "4000",
    "4001",
    "4002",
    "4003",
    "4004",
    "4005",
    "4006",
    "4007",
    "4008",
    "4009",
    OTHER_LABEL,
    ABRUPT_LABEL,
];

/// [`METRIC_LABELS`] value of a close code outside the fixed set.
const OTHER_LABEL: &str = "other";
/// [`METRIC_LABELS`] value of a connection that ended without any close frame.
pub const ABRUPT_LABEL: &str = "abrupt";

/// The [`METRIC_LABELS`] value of a close frame's code (`None`: a close without a code).
pub fn metric_label(code: Option<u16>) -> &'static str {
    let code = code.unwrap_or(NO_STATUS);
    let text = code.to_string();
    METRIC_LABELS[..METRIC_LABELS.len() - 2]
        .iter()
        .find(|label| **label == text)
        .copied()
        .unwrap_or(OTHER_LABEL)
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
    fn metric_labels_are_a_fixed_set() {
        assert_eq!(metric_label(Some(NORMAL)), "1000");
        assert_eq!(metric_label(None), "1005");
        assert_eq!(metric_label(Some(IDLE_TIMEOUT)), "4000");
        for code in (0..=u16::MAX).step_by(7) {
            assert!(METRIC_LABELS.contains(&metric_label(Some(code))), "{code}");
        }
        assert_eq!(metric_label(Some(3123)), "other");
        assert_eq!(metric_label(Some(4010)), "other");
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
