//! Cleaning of display text that one player sends and others see: names and chat lines.
//!
//! One set of rules for both, so a character that cannot hide in a name cannot hide in a chat
//! line either.

use crate::msg::MAX_NAME_BYTES;

/// Combining marks kept after one base character of a name or a chat line: enough for any real script's
/// stacked diacritics, too few to draw a "zalgo" name over its neighbours' rows.
pub const MAX_COMBINING_MARKS: usize = 2;

/// Cleans one line of display text (a player name, a chat line) so it can neither break a
/// scoreboard, a chat box or a log line nor impersonate another player with characters nobody
/// sees: control, format (zero-width, bidirectional overrides, byte-order marks, tags),
/// separator and invisible filler characters are removed, any run of Unicode spaces becomes one
/// ASCII space, at most [`MAX_COMBINING_MARKS`] combining marks follow a base character, and the
/// result is cut to `max_bytes` bytes of UTF-8 on a char boundary and trimmed. The result may be
/// empty.
pub fn clean_line(text: &str, max_bytes: usize) -> String {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    let mut out = String::new();
    // Marks since the last base character; `None` before the first base (a leading mark has
    // nothing to sit on and is dropped).
    let mut marks: Option<usize> = None;
    for c in text.chars() {
        let piece = match c.general_category() {
            GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
            | GeneralCategory::Surrogate
            | GeneralCategory::PrivateUse
            | GeneralCategory::Unassigned => continue,
            _ if is_invisible_filler(c) => continue,
            GeneralCategory::SpaceSeparator => {
                marks = None;
                if out.is_empty() || out.ends_with(' ') {
                    continue;
                }
                ' '
            }
            GeneralCategory::NonspacingMark
            | GeneralCategory::SpacingMark
            | GeneralCategory::EnclosingMark => match &mut marks {
                Some(n) if *n < MAX_COMBINING_MARKS => {
                    *n += 1;
                    c
                }
                _ => continue,
            },
            _ => {
                marks = Some(0);
                c
            }
        };
        if out.len() + piece.len_utf8() > max_bytes {
            break;
        }
        out.push(piece);
    }
    let trimmed = out.trim_end();
    if trimmed.len() == out.len() {
        out
    } else {
        trimmed.to_owned()
    }
}

/// Cleans a player name with [`clean_line`], cut to [`MAX_NAME_BYTES`] bytes; an empty result
/// becomes `player`.
pub fn sanitize_name(name: &str) -> String {
    let clean = clean_line(name, MAX_NAME_BYTES);
    if clean.is_empty() {
        "player".to_owned()
    } else {
        clean
    }
}

/// Letters and marks that render as nothing: Hangul fillers, the Braille blank, the combining
/// grapheme joiner and variation selectors (Unicode's default-ignorable code points outside
/// the format category).
fn is_invisible_filler(c: char) -> bool {
    matches!(
        c,
        '\u{115F}'
            | '\u{1160}'
            | '\u{3164}'
            | '\u{FFA0}'
            | '\u{2800}'
            | '\u{034F}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{E0100}'..='\u{E01EF}'
    )
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

    use super::*;

    #[test]
    fn invisible_and_bidirectional_characters_cannot_impersonate() {
        assert_eq!(sanitize_name("bys\u{200b}tander"), "bystander");
        assert_eq!(sanitize_name("\u{feff}bystander"), "bystander");
        assert_eq!(sanitize_name("\u{202e}rednatsyb"), "rednatsyb");
        assert_eq!(
            sanitize_name("by\u{2066}stan\u{2069}der\u{e0041}"),
            "bystander"
        );
        assert_eq!(sanitize_name("by\u{3164}stander\u{fe0f}"), "bystander");
        assert_eq!(sanitize_name("a\u{2028}b\u{2029}c\u{00ad}d"), "abcd");
        assert_eq!(sanitize_name("\u{200b}\u{3164}"), "player");
    }

    #[test]
    fn spaces_fold_and_scripts_survive() {
        assert_eq!(sanitize_name("  ann\u{3000}\u{00a0} lee  "), "ann lee");
        assert_eq!(sanitize_name("Zoë Ærøskøbing"), "Zoë Ærøskøbing");
        assert_eq!(sanitize_name("日本語の名前"), "日本語の名前");
        // Decomposed e + acute + dot below: two marks on one base are kept.
        assert_eq!(sanitize_name("e\u{301}\u{323}"), "e\u{301}\u{323}");
    }

    #[test]
    fn combining_marks_are_capped_per_base() {
        let zalgo = format!("a{}b", "\u{336}".repeat(40));
        assert_eq!(sanitize_name(&zalgo), "a\u{336}\u{336}b");
        assert_eq!(
            sanitize_name("\u{301}\u{301}x"),
            "x",
            "leading marks have no base"
        );
        assert_eq!(sanitize_name("a \u{301}"), "a", "a space is no base either");
    }

    proptest! {
        #[test]
        fn sanitized_names_are_bounded_visible_and_stable(name in any::<String>()) {
            let clean = sanitize_name(&name);
            prop_assert!(!clean.is_empty() && clean.len() <= MAX_NAME_BYTES);
            prop_assert_eq!(clean.trim(), clean.as_str());
            prop_assert!(!clean.contains("  "));
            for c in clean.chars() {
                prop_assert!(!matches!(
                    c.general_category(),
                    GeneralCategory::Control | GeneralCategory::Format | GeneralCategory::Unassigned
                ), "{:?} survived", c);
            }
            prop_assert_eq!(sanitize_name(&clean), clean.clone(), "sanitizing is idempotent");
        }
    }

    #[test]
    fn chat_lines_lose_newlines_and_keep_their_words() {
        assert_eq!(clean_line("gg\nwp\r\n", 200), "ggwp");
        assert_eq!(clean_line("  hi   there\t", 200), "hi there");
        assert_eq!(clean_line("\u{202e}\u{200b}", 200), "");
        assert_eq!(clean_line("ab\u{e9}", 3), "ab", "cut on a char boundary");
    }

    proptest! {
        #[test]
        fn clean_lines_are_bounded_and_stable(text in any::<String>(), max in 0usize..300) {
            let clean = clean_line(&text, max);
            prop_assert!(clean.len() <= max);
            prop_assert_eq!(clean.trim(), clean.as_str());
            prop_assert_eq!(clean_line(&clean, max), clean.clone());
        }
    }
}
