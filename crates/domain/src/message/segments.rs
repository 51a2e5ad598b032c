//! How many SMS segments a text costs (RULES.md): GSM-7 text fits 160
//! characters in one segment and 153 a segment when split, with the
//! extension characters (€ [ ] { } \ ^ ~ | and form feed) counting twice; one
//! character outside GSM-7 makes the whole text UCS-2: 70, then 67 a segment,
//! counted in UTF-16 units (an emoji is two).

/// The GSM 03.38 basic character set.
const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// Reached through the escape code: two units each.
const GSM_EXTENSION: &str = "\u{c}^{}\\[~]|€";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

/// A text's encoding, length in that encoding's units, and segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmsSize {
    pub encoding: Encoding,
    pub units: usize,
    pub segments: usize,
}

pub fn measure(text: &str) -> SmsSize {
    let gsm_units: Option<usize> = text
        .chars()
        .map(|c| {
            if GSM_BASIC.contains(c) {
                Some(1)
            } else if GSM_EXTENSION.contains(c) {
                Some(2)
            } else {
                None
            }
        })
        .sum();
    let (encoding, units, single, multi) = match gsm_units {
        Some(units) => (Encoding::Gsm7, units, 160, 153),
        None => (Encoding::Ucs2, text.encode_utf16().count(), 70, 67),
    };
    let segments = match units {
        0 => 0,
        n if n <= single => 1,
        n => n.div_ceil(multi),
    };
    SmsSize { encoding, units, segments }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: (Encoding, usize, usize)) {
        let size = measure(text);
        assert_eq!((size.encoding, size.units, size.segments), expected, "{text:?}");
    }

    #[test]
    fn gsm_and_ucs2_boundaries() {
        check("", (Encoding::Gsm7, 0, 0));
        check(&"a".repeat(160), (Encoding::Gsm7, 160, 1));
        check(&"a".repeat(161), (Encoding::Gsm7, 161, 2));
        check(&"a".repeat(306), (Encoding::Gsm7, 306, 2));
        check(&"a".repeat(307), (Encoding::Gsm7, 307, 3));
        check("Price: 10€", (Encoding::Gsm7, 11, 1));
        check(&format!("{}€", "a".repeat(159)), (Encoding::Gsm7, 161, 2));
        check("Reply 1 to confirm ✓", (Encoding::Ucs2, 20, 1));
        check(&"é".repeat(200), (Encoding::Gsm7, 200, 2));
        check(&"ó".repeat(70), (Encoding::Ucs2, 70, 1));
        check(&"ó".repeat(71), (Encoding::Ucs2, 71, 2));
        check("See you soon 👍", (Encoding::Ucs2, 15, 1));
        check("“curly quotes”", (Encoding::Ucs2, 14, 1));
    }
}
