//! Contact points: E.164 phone numbers and email addresses, each parsed once
//! at the edge and valid from then on.

use std::fmt;
use std::str::FromStr;

/// A phone number in E.164 form (`+` then 8 to 15 digits, no leading zero).
/// Ten-digit North American numbers written locally (`(212) 555-0142`) are
/// read as `+1`; any other national form must carry its country code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneE164(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("is empty")]
    Empty,
    #[error("has characters that are not digits or separators")]
    BadCharacter,
    #[error("is not an E.164 number (+ and country code, 8 to 15 digits)")]
    BadLength,
    #[error("is not a valid North American number (area code and exchange start with 2-9)")]
    BadNanp,
}

impl PhoneE164 {
    pub fn parse(raw: &str) -> Result<Self, PhoneError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(PhoneError::Empty);
        }
        let international = trimmed.starts_with('+');
        let mut digits = String::with_capacity(16);
        for (i, c) in trimmed.char_indices() {
            match c {
                '0'..='9' => digits.push(c),
                '+' if i == 0 => {}
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(PhoneError::BadCharacter),
            }
        }
        let digits = match (international, digits.len()) {
            (true, _) => digits,
            (false, 10) => format!("1{digits}"),
            (false, 11) if digits.starts_with('1') => digits,
            (false, _) => return Err(PhoneError::BadLength),
        };
        if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
            return Err(PhoneError::BadLength);
        }
        if let Some(national) = digits.strip_prefix('1') {
            let bytes = national.as_bytes();
            if bytes.len() != 10 || bytes[0] < b'2' || bytes[3] < b'2' {
                return Err(PhoneError::BadNanp);
            }
        }
        Ok(Self(format!("+{digits}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PhoneE164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for PhoneE164 {
    type Err = PhoneError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// What kind of line a number is: it decides whether texts can reach it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PhoneKind {
    Mobile,
    Landline,
    Unknown,
}

impl PhoneKind {
    pub const ALL: [PhoneKind; 3] = [PhoneKind::Mobile, PhoneKind::Landline, PhoneKind::Unknown];

    pub fn as_str(self) -> &'static str {
        match self {
            PhoneKind::Mobile => "mobile",
            PhoneKind::Landline => "landline",
            PhoneKind::Unknown => "unknown",
        }
    }
}

impl FromStr for PhoneKind {
    type Err = UnknownWord;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "mobile" | "cell" => Ok(PhoneKind::Mobile),
            "landline" | "home" | "work" => Ok(PhoneKind::Landline),
            "unknown" | "" => Ok(PhoneKind::Unknown),
            _ => Err(UnknownWord("mobile, landline or unknown")),
        }
    }
}

/// A word outside a closed list; names the words that are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be one of: {0}")]
pub struct UnknownWord(pub &'static str);

/// An email address: one `@`, a local part of at most 64 bytes, a domain with
/// a dot, no spaces, at most 254 bytes. The domain is kept in lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("is not a valid email address")]
pub struct EmailError;

impl Email {
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let s = raw.trim();
        if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EmailError);
        }
        let (local, domain) = s.rsplit_once('@').ok_or(EmailError)?;
        let labels_ok = domain.split('.').all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
        if local.is_empty() || local.len() > 64 || local.contains('@') {
            return Err(EmailError);
        }
        if !domain.contains('.') || !labels_ok {
            return Err(EmailError);
        }
        Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(raw: &str) -> Result<String, PhoneError> {
        PhoneE164::parse(raw).map(|p| p.as_str().to_owned())
    }

    #[test]
    fn phones_normalise_to_e164() {
        assert_eq!(phone("+1 (212) 555-0142"), Ok("+12125550142".into()));
        assert_eq!(phone("(212) 555-0142"), Ok("+12125550142".into()));
        assert_eq!(phone("1-212-555-0142"), Ok("+12125550142".into()));
        assert_eq!(phone("+44 20 7946 0958"), Ok("+442079460958".into()));
        assert_eq!(phone("+52 55 1234 5678"), Ok("+525512345678".into()));
    }

    #[test]
    fn phones_reject_what_is_not_a_number() {
        assert_eq!(phone(""), Err(PhoneError::Empty));
        assert_eq!(phone("555-0142"), Err(PhoneError::BadLength));
        assert_eq!(phone("+0 212 555 0142"), Err(PhoneError::BadLength));
        assert_eq!(phone("+1 212 555 01423"), Err(PhoneError::BadNanp));
        assert_eq!(phone("(112) 555-0142"), Err(PhoneError::BadNanp));
        assert_eq!(phone("212-555-CALL"), Err(PhoneError::BadCharacter));
        assert_eq!(phone("+1234567890123456"), Err(PhoneError::BadLength));
    }

    #[test]
    fn emails_keep_local_part_and_lower_the_domain() {
        assert_eq!(Email::parse(" Ana.Diaz@Example.ORG ").map(|e| e.0), Ok("Ana.Diaz@example.org".into()));
        for bad in ["", "ana", "ana@", "@example.org", "ana@example", "ana diaz@example.org", "a@-x.org", "a@x..org"] {
            assert_eq!(Email::parse(bad), Err(EmailError), "{bad:?}");
        }
    }
}
