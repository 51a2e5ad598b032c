//! The patient registry's record: who the patient is and how to reach them.

use std::collections::BTreeMap;
use std::str::FromStr;

use jiff::Timestamp;
use jiff::civil::Time;

use crate::consent::Channel;
use crate::contact::{Email, PhoneE164, PhoneKind, UnknownWord};
use crate::ids::{OrganizationId, PatientId};
use crate::value::{BirthDate, Icd10Code, LanguageTag, TimeZoneName};

/// Administrative sex as FHIR codes it (`AdministrativeGender`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    Female,
    Male,
    Other,
    Unknown,
}

impl Sex {
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Female => "female",
            Sex::Male => "male",
            Sex::Other => "other",
            Sex::Unknown => "unknown",
        }
    }
}

impl FromStr for Sex {
    type Err = UnknownWord;
    /// Accepts the FHIR codes and the HL7 v2 one-letter codes (F, M, O, U).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "female" | "f" => Ok(Sex::Female),
            "male" | "m" => Ok(Sex::Male),
            "other" | "o" => Ok(Sex::Other),
            "unknown" | "u" | "" => Ok(Sex::Unknown),
            _ => Err(UnknownWord("female, male, other or unknown")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientPhone {
    pub number: PhoneE164,
    pub kind: PhoneKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientEmail {
    pub address: Email,
}

/// The patient's own quiet period in their local time, e.g. 20:00 to 09:00.
/// It may only narrow the organization's sending hours, never widen them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start: Time,
    pub end: Time,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QuietHoursError {
    #[error("is not a time in HH:MM form")]
    Format,
    #[error("start and end are the same time")]
    Empty,
}

impl QuietHours {
    pub fn parse(start: &str, end: &str) -> Result<Self, QuietHoursError> {
        let time = |s: &str| crate::value::parse_hhmm(s).map_err(|_| QuietHoursError::Format);
        let (start, end) = (time(start)?, time(end)?);
        if start == end {
            return Err(QuietHoursError::Empty);
        }
        Ok(Self { start, end })
    }

    /// True when `t` falls in the quiet period (which may wrap past midnight).
    pub fn contains(&self, t: Time) -> bool {
        if self.start < self.end { self.start <= t && t < self.end } else { t >= self.start || t < self.end }
    }
}

/// An identifier given by another system: an MRN per EHR, a payer id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExternalId {
    pub system: String,
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ExternalIdError {
    #[error("system is empty or longer than 200 characters")]
    System,
    #[error("value is empty or longer than 200 characters")]
    Value,
}

impl ExternalId {
    pub fn parse(system: &str, value: &str) -> Result<Self, ExternalIdError> {
        let (system, value) = (system.trim(), value.trim());
        if system.is_empty() || system.len() > 200 {
            return Err(ExternalIdError::System);
        }
        if value.is_empty() || value.len() > 200 {
            return Err(ExternalIdError::Value);
        }
        Ok(Self { system: system.to_owned(), value: value.to_owned() })
    }
}

/// A caregiver or proxy: another patient record allowed to act for this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caregiver {
    pub patient_id: PatientId,
    /// `parent`, `spouse`, `guardian` … (FHIR RoleCode words are welcome).
    pub relationship: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    pub line: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
}

/// What staff and integrations set on a patient.
#[derive(Debug, Clone, PartialEq)]
pub struct PatientDetails {
    pub given_name: String,
    pub family_name: String,
    pub preferred_name: Option<String>,
    pub birth_date: Option<BirthDate>,
    pub sex: Sex,
    pub gender_identity: Option<String>,
    pub language: Option<LanguageTag>,
    pub time_zone: Option<TimeZoneName>,
    pub address: Address,
    pub phones: Vec<PatientPhone>,
    pub emails: Vec<PatientEmail>,
    /// Channels to try, first preferred; empty means the organization's default.
    pub channel_order: Vec<Channel>,
    pub quiet_hours: Option<QuietHours>,
    pub conditions: Vec<Icd10Code>,
    pub tags: Vec<String>,
    pub attributes: BTreeMap<String, String>,
    pub external_ids: Vec<ExternalId>,
    pub caregivers: Vec<Caregiver>,
}

impl PatientDetails {
    /// A patient known by name only; every other field empty or unknown.
    pub fn new(given_name: String, family_name: String) -> Self {
        Self {
            given_name,
            family_name,
            preferred_name: None,
            birth_date: None,
            sex: Sex::Unknown,
            gender_identity: None,
            language: None,
            time_zone: None,
            address: Address::default(),
            phones: Vec::new(),
            emails: Vec::new(),
            channel_order: Vec::new(),
            quiet_hours: None,
            conditions: Vec::new(),
            tags: Vec::new(),
            attributes: BTreeMap::new(),
            external_ids: Vec::new(),
            caregivers: Vec::new(),
        }
    }
}

/// A stored patient: the details plus what the registry keeps about them.
#[derive(Debug, Clone, PartialEq)]
pub struct Patient {
    pub id: PatientId,
    pub organization_id: OrganizationId,
    /// Increments on every change; the API's ETag.
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub details: PatientDetails,
}

/// Names are short, printable, and never empty after trimming.
pub fn parse_name(raw: &str) -> Result<String, NameError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(NameError::Empty);
    }
    if trimmed.chars().count() > 100 {
        return Err(NameError::TooLong);
    }
    if trimmed.chars().any(char::is_control) {
        return Err(NameError::Control);
    }
    Ok(trimmed.to_owned())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("is empty")]
    Empty,
    #[error("is longer than 100 characters")]
    TooLong,
    #[error("contains control characters")]
    Control,
}

/// Tags are lower-case words (`diabetes-program`), so segments match them exactly.
pub fn parse_tag(raw: &str) -> Result<String, TagError> {
    let tag = raw.trim().to_lowercase();
    let ok = !tag.is_empty()
        && tag.len() <= 64
        && tag.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'));
    if ok { Ok(tag) } else { Err(TagError) }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("is not a tag (1 to 64 letters, digits, - _ : .)")]
pub struct TagError;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_hours_wrap_midnight() {
        let q = QuietHours::parse("20:00", "09:00").expect("valid");
        assert!(q.contains(Time::constant(22, 0, 0, 0)));
        assert!(q.contains(Time::constant(3, 0, 0, 0)));
        assert!(!q.contains(Time::constant(9, 0, 0, 0)));
        assert!(!q.contains(Time::constant(12, 30, 0, 0)));
        let day = QuietHours::parse("12:00", "13:00").expect("valid");
        assert!(day.contains(Time::constant(12, 30, 0, 0)));
        assert!(!day.contains(Time::constant(13, 0, 0, 0)));
        assert_eq!(QuietHours::parse("8pm", "09:00"), Err(QuietHoursError::Format));
        assert_eq!(QuietHours::parse("09:00", "09:00"), Err(QuietHoursError::Empty));
    }

    #[test]
    fn sex_accepts_fhir_and_hl7_codes() {
        assert_eq!("F".parse::<Sex>(), Ok(Sex::Female));
        assert_eq!("male".parse::<Sex>(), Ok(Sex::Male));
        assert!("x".parse::<Sex>().is_err());
    }

    #[test]
    fn names_and_tags() {
        assert_eq!(parse_name("  José  "), Ok("José".into()));
        assert_eq!(parse_name(" "), Err(NameError::Empty));
        assert_eq!(parse_name("a\u{7}b"), Err(NameError::Control));
        assert_eq!(parse_tag("Diabetes-Program"), Ok("diabetes-program".into()));
        assert_eq!(parse_tag("two words"), Err(TagError));
    }
}

/// The form a name is searched by: lower case, common Latin accents folded,
/// so "jose" finds "José" and "NUNEZ" finds "Núñez".
pub fn name_search_key(name: &str) -> String {
    name.trim()
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ñ' => 'n',
            'ç' => 'c',
            'ý' | 'ÿ' => 'y',
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod search_key_tests {
    use super::name_search_key;

    #[test]
    fn folds_case_and_accents() {
        assert_eq!(name_search_key(" Núñez "), "nunez");
        assert_eq!(name_search_key("JOSÉ"), "jose");
        assert_eq!(name_search_key("O'Brien"), "o'brien");
    }
}
