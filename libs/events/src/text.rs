//! What may be recorded of a client's string: printable text of bounded length. The gateway
//! refuses anything else at its edge; projections apply [`recorded`] as well, so an event from an
//! older or foreign producer still books its money with a readable label.

use std::borrow::Cow;

/// Longest model name recorded (bytes).
pub const MAX_MODEL: usize = 256;
/// Longest request id recorded (bytes).
pub const MAX_REQUEST_ID: usize = 128;
/// Longest other label recorded (provider, idempotency key, note; bytes).
pub const MAX_LABEL: usize = 256;

/// Whether `c` is printable: not a control character (C0, DEL, C1), line or paragraph
/// separator, bidirectional override or isolate (they reorder what an operator reads), or
/// Unicode noncharacter.
pub fn is_printable(c: char) -> bool {
    let code = u32::from(c);
    !(c.is_control()
        || matches!(code, 0x2028 | 0x2029 | 0x202A..=0x202E | 0x2066..=0x2069)
        || (0xFDD0..=0xFDEF).contains(&code)
        || code & 0xFFFE == 0xFFFE)
}

/// `value` as it may be stored: unprintable characters replaced by U+FFFD, cut to at most
/// `max` bytes on a character boundary. Borrowed when nothing had to change.
pub fn recorded(value: &str, max: usize) -> Cow<'_, str> {
    if value.len() <= max && value.chars().all(is_printable) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len().min(max));
    for c in value.chars() {
        let c = if is_printable(c) { c } else { '\u{FFFD}' };
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(c);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_refuses_controls_separators_bidi_and_noncharacters() {
        let bad = [
            '\0',
            '\n',
            '\t',
            '\u{7f}',
            '\u{85}',
            '\u{2028}',
            '\u{202e}',
            '\u{2067}',
            '\u{fffe}',
            '\u{1ffff}',
            '\u{fdd0}',
        ];
        for c in bad {
            assert!(!is_printable(c), "{c:?}");
        }
        for c in ['a', ' ', 'é', '日', '\u{1f600}', '\u{200d}', '-', '/'] {
            assert!(is_printable(c), "{c:?}");
        }
    }

    #[test]
    fn recorded_text_is_printable_bounded_and_borrowed_when_clean() {
        assert!(matches!(
            recorded("gpt-4o", MAX_MODEL),
            Cow::Borrowed("gpt-4o")
        ));
        assert_eq!(recorded("a\0b", MAX_MODEL), "a\u{FFFD}b");
        assert_eq!(recorded(&"x".repeat(300), MAX_MODEL).len(), MAX_MODEL);
        // Cut on a character boundary: 3 bytes each, 85 fit in 256.
        let long = "日".repeat(100);
        let cut = recorded(&long, MAX_MODEL);
        assert_eq!(cut.chars().count(), 85);
        assert!(recorded("", MAX_MODEL).is_empty());
    }
}
