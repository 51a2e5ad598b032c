//! Small validated values: birth dates, IANA zones, language tags, ICD-10
//! codes, NPIs, US state codes.

use std::fmt;

use jiff::civil::Date;

/// A wall-clock time written `HH:MM` (24-hour).
pub fn parse_hhmm(raw: &str) -> Result<jiff::civil::Time, TimeFormatError> {
    let s = raw.trim();
    if s.len() != 5 || s.as_bytes()[2] != b':' {
        return Err(TimeFormatError);
    }
    s.parse().map_err(|_| TimeFormatError)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("is not a time in HH:MM form")]
pub struct TimeFormatError;

/// A birth date (`YYYY-MM-DD`), not in the future and not before 1880.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BirthDate(Date);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BirthDateError {
    #[error("is not a date in YYYY-MM-DD form")]
    Format,
    #[error("is in the future")]
    Future,
    #[error("is before 1880")]
    TooOld,
}

impl BirthDate {
    /// Parses `raw` as of `today` (the caller's clock, so tests can pin it).
    pub fn parse(raw: &str, today: Date) -> Result<Self, BirthDateError> {
        let raw = raw.trim();
        let well_formed = raw.len() == 10 && raw.as_bytes()[4] == b'-' && raw.as_bytes()[7] == b'-';
        if !well_formed {
            return Err(BirthDateError::Format);
        }
        let date: Date = raw.parse().map_err(|_| BirthDateError::Format)?;
        if date > today {
            return Err(BirthDateError::Future);
        }
        if date.year() < 1880 {
            return Err(BirthDateError::TooOld);
        }
        Ok(Self(date))
    }

    /// For dates already validated once (read back from storage).
    pub fn from_date(date: Date) -> Self {
        Self(date)
    }

    pub fn date(&self) -> Date {
        self.0
    }

    /// Whole years of age on `on`.
    pub fn age_on(&self, on: Date) -> i16 {
        let mut age = on.year() - self.0.year();
        if (on.month(), on.day()) < (self.0.month(), self.0.day()) {
            age -= 1;
        }
        age
    }
}

impl fmt::Display for BirthDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An IANA time zone name (`America/New_York`), checked against the zone
/// database. The rules come from that database, never from a fixed offset.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TimeZoneName(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("is not an IANA time zone name (e.g. America/New_York)")]
pub struct TimeZoneError;

impl TimeZoneName {
    pub fn parse(raw: &str) -> Result<Self, TimeZoneError> {
        let raw = raw.trim();
        // Offsets and abbreviations ("EST", "+05:00") are not zones: they have no DST rules.
        if !raw.contains('/') && raw != "UTC" {
            return Err(TimeZoneError);
        }
        let tz = jiff::tz::db().get(raw).map_err(|_| TimeZoneError)?;
        Ok(Self(tz.iana_name().unwrap_or(raw).to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn tz(&self) -> jiff::tz::TimeZone {
        // Validated at parse time; the database does not shrink while we run.
        jiff::tz::db().get(&self.0).unwrap_or(jiff::tz::TimeZone::UTC)
    }
}

impl fmt::Display for TimeZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A BCP 47 language tag, normalised: `es`, `en-US`, `zh-Hant`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LanguageTag(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("is not a language tag (e.g. en, es, en-US)")]
pub struct LanguageTagError;

impl LanguageTag {
    pub fn parse(raw: &str) -> Result<Self, LanguageTagError> {
        let mut parts = raw.trim().split(['-', '_']);
        let primary = parts.next().unwrap_or_default();
        if !(2..=3).contains(&primary.len()) || !primary.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(LanguageTagError);
        }
        let mut tag = primary.to_ascii_lowercase();
        for sub in parts {
            if !(2..=8).contains(&sub.len()) || !sub.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(LanguageTagError);
            }
            tag.push('-');
            match sub.len() {
                2 => tag.push_str(&sub.to_ascii_uppercase()),
                4 => {
                    tag.push_str(&sub[..1].to_ascii_uppercase());
                    tag.push_str(&sub[1..].to_ascii_lowercase());
                }
                _ => tag.push_str(&sub.to_ascii_lowercase()),
            }
        }
        Ok(Self(tag))
    }

    /// The primary language (`es` of `es-MX`), which picks a template.
    pub fn primary(&self) -> &str {
        self.0.split('-').next().unwrap_or(&self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An ICD-10 code (`E11.9`), normalised to upper case with the dot after the category.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Icd10Code(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("is not an ICD-10 code (e.g. E11.9)")]
pub struct Icd10Error;

impl Icd10Code {
    pub fn parse(raw: &str) -> Result<Self, Icd10Error> {
        let compact: String = raw.trim().chars().filter(|c| *c != '.').collect::<String>().to_ascii_uppercase();
        let b = compact.as_bytes();
        let category_ok =
            b.len() >= 3 && b[0].is_ascii_uppercase() && b[1].is_ascii_digit() && b[2].is_ascii_alphanumeric();
        if !category_ok || b.len() > 7 || !b[3..].iter().all(u8::is_ascii_alphanumeric) {
            return Err(Icd10Error);
        }
        let (category, rest) = compact.split_at(3);
        Ok(Self(if rest.is_empty() { category.to_owned() } else { format!("{category}.{rest}") }))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A US National Provider Identifier: 10 digits whose last is a Luhn check
/// digit computed with the `80840` prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Npi(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("is not a valid NPI (10 digits with a correct check digit)")]
pub struct NpiError;

impl Npi {
    pub fn parse(raw: &str) -> Result<Self, NpiError> {
        let raw = raw.trim();
        if raw.len() != 10 || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NpiError);
        }
        if luhn_valid(&format!("80840{raw}")) { Ok(Self(raw.to_owned())) } else { Err(NpiError) }
    }

    /// Completes nine digits with their check digit (demo data, tests).
    pub fn with_check_digit(nine: &str) -> Option<Self> {
        (0..10).map(|d| format!("{nine}{d}")).find_map(|c| Self::parse(&c).ok())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn luhn_valid(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// A US state or territory postal code (`FL`); quiet-hour rules differ by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UsState([u8; 2]);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("is not a US state code (e.g. NY, FL)")]
pub struct UsStateError;

const US_STATES: &str = "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR VI GU AS MP";

impl UsState {
    pub fn parse(raw: &str) -> Result<Self, UsStateError> {
        let up = raw.trim().to_ascii_uppercase();
        if up.len() == 2 && US_STATES.split(' ').any(|s| s == up) {
            let b = up.as_bytes();
            Ok(Self([b[0], b[1]]))
        } else {
            Err(UsStateError)
        }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn birth_dates() {
        let today = date(2026, 11, 22);
        assert_eq!(BirthDate::parse("1980-02-29", today).map(|d| d.to_string()), Ok("1980-02-29".into()));
        assert_eq!(BirthDate::parse("1981-02-29", today), Err(BirthDateError::Format));
        assert_eq!(BirthDate::parse("1980-2-9", today), Err(BirthDateError::Format));
        assert_eq!(BirthDate::parse("02/09/1980", today), Err(BirthDateError::Format));
        assert_eq!(BirthDate::parse("2026-11-23", today), Err(BirthDateError::Future));
        assert_eq!(BirthDate::parse("1879-12-31", today), Err(BirthDateError::TooOld));
        let born = BirthDate::parse("2000-11-23", today).map(|d| d.age_on(today));
        assert_eq!(born, Ok(25));
    }

    #[test]
    fn zones_are_iana_names() {
        assert_eq!(TimeZoneName::parse("America/Phoenix").map(|z| z.0), Ok("America/Phoenix".into()));
        assert_eq!(TimeZoneName::parse("UTC").map(|z| z.0), Ok("UTC".into()));
        for bad in ["EST", "+05:00", "America/Atlantis", ""] {
            assert_eq!(TimeZoneName::parse(bad), Err(TimeZoneError), "{bad:?}");
        }
    }

    #[test]
    fn language_tags_normalise() {
        let tag = |s: &str| LanguageTag::parse(s).map(|t| t.0);
        assert_eq!(tag("ES"), Ok("es".into()));
        assert_eq!(tag("en_us"), Ok("en-US".into()));
        assert_eq!(tag("zh-hant-tw"), Ok("zh-Hant-TW".into()));
        assert_eq!(LanguageTag::parse("es-MX").map(|t| t.primary().to_owned()), Ok("es".into()));
        assert_eq!(tag("spanish"), Err(LanguageTagError));
        assert_eq!(tag("e"), Err(LanguageTagError));
    }

    #[test]
    fn icd10_codes_normalise() {
        let code = |s: &str| Icd10Code::parse(s).map(|c| c.0);
        assert_eq!(code("e119"), Ok("E11.9".into()));
        assert_eq!(code("I10"), Ok("I10".into()));
        assert_eq!(code("S72.001A"), Ok("S72.001A".into()));
        assert_eq!(code("11.9"), Err(Icd10Error));
        assert_eq!(code("E1"), Err(Icd10Error));
        assert_eq!(code("E11.99999"), Err(Icd10Error));
    }

    #[test]
    fn npi_check_digit() {
        // The CMS example NPI.
        assert!(Npi::parse("1234567893").is_ok());
        assert_eq!(Npi::parse("1234567890"), Err(NpiError));
        assert_eq!(Npi::parse("12345"), Err(NpiError));
        assert_eq!(Npi::with_check_digit("123456789").map(|n| n.0), Some("1234567893".into()));
    }

    #[test]
    fn states() {
        assert_eq!(UsState::parse("fl").map(|s| s.as_str().to_owned()), Ok("FL".into()));
        assert_eq!(UsState::parse("XX"), Err(UsStateError));
    }
}
