//! HL7 escape sequences: `\F\ \S\ \T\ \R\ \E\` stand for the delimiters,
//! `\Xhh…\` for bytes in hex (read as UTF-8, else Latin-1). Any other
//! sequence (formatting such as `\.br\`, `\H\`) is kept as written. An
//! escape character with no closing one is kept as a plain character.

use crate::Delimiters;

pub fn unescape(raw: &str, d: &Delimiters) -> String {
    if !raw.contains(d.escape) {
        return raw.to_owned();
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(start) = rest.find(d.escape) {
        out.push_str(&rest[..start]);
        let after = &rest[start + d.escape.len_utf8()..];
        let Some(end) = after.find(d.escape) else {
            out.push_str(&rest[start..]);
            return out;
        };
        let code = &after[..end];
        match code {
            "F" => out.push(d.field),
            "S" => out.push(d.component),
            "T" => out.push(d.subcomponent),
            "R" => out.push(d.repetition),
            "E" => out.push(d.escape),
            hex if hex.starts_with('X') && hex.len() > 1 => match decode_hex(&hex[1..]) {
                Some(text) => out.push_str(&text),
                None => {
                    out.push(d.escape);
                    out.push_str(code);
                    out.push(d.escape);
                }
            },
            _ => {
                out.push(d.escape);
                out.push_str(code);
                out.push(d.escape);
            }
        }
        rest = &after[end + d.escape.len_utf8()..];
    }
    out.push_str(rest);
    out
}

fn decode_hex(hex: &str) -> Option<String> {
    if !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let bytes: Vec<u8> =
        (0..hex.len()).step_by(2).filter_map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect();
    Some(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => error.into_bytes().iter().map(|&b| char::from(b)).collect(),
    })
}

/// A value as it must be written: each delimiter and the escape character
/// replaced by its sequence, and CR or LF (which would end the segment)
/// written as hex.
pub fn escape(value: &str, d: &Delimiters) -> String {
    let special = |c: char| {
        c == d.field
            || c == d.component
            || c == d.repetition
            || c == d.escape
            || c == d.subcomponent
            || c == '\r'
            || c == '\n'
            || c == '\u{0b}'
            || c == '\u{1c}'
    };
    if !value.chars().any(special) {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        let code = match c {
            _ if c == d.escape => Some("E".to_owned()),
            _ if c == d.field => Some("F".to_owned()),
            _ if c == d.component => Some("S".to_owned()),
            _ if c == d.subcomponent => Some("T".to_owned()),
            _ if c == d.repetition => Some("R".to_owned()),
            '\r' => Some("X0D".to_owned()),
            '\n' => Some("X0A".to_owned()),
            // MLLP's framing bytes: written as they are, they would end the frame.
            '\u{0b}' => Some("X0B".to_owned()),
            '\u{1c}' => Some("X1C".to_owned()),
            _ => None,
        };
        match code {
            Some(code) => {
                out.push(d.escape);
                out.push_str(&code);
                out.push(d.escape);
            }
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_hex_and_unknown_sequences_are_read() {
        let d = Delimiters::default();
        assert_eq!(unescape(r"Smith\T\Jones \F\ \S\ \R\ \E\", &d), r"Smith&Jones | ^ ~ \");
        assert_eq!(unescape(r"caf\XC3A9\", &d), "café");
        assert_eq!(unescape(r"\XE9\t\XE9\", &d), "été", "Latin-1 when not UTF-8");
        assert_eq!(unescape(r"line\.br\two", &d), r"line\.br\two", "formatting kept");
        assert_eq!(unescape(r"C:\path", &d), r"C:\path", "an unclosed escape is a character");
        assert_eq!(unescape(r"\XZZ\", &d), r"\XZZ\");
    }

    #[test]
    fn escaping_covers_every_delimiter_and_line_breaks() {
        let d = Delimiters::default();
        let value = "a|b^c~d\\e&f\rg\nh";
        let written = escape(value, &d);
        assert!(!written.contains(['|', '^', '~', '&', '\r', '\n']), "{written}");
        assert_eq!(unescape(&written, &d), value);
    }
}
