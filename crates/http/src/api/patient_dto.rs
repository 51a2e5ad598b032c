//! The wire form of patients, and its translation to and from the domain.

use std::collections::BTreeMap;

use jiff::civil::Date;
use rapport_domain::patient::{parse_name, parse_tag};
use rapport_domain::{
    Address, BirthDate, Caregiver, Channel, Email, ExternalId, Icd10Code, LanguageTag, Patient, PatientDetails,
    PatientEmail, PatientPhone, PhoneE164, PhoneKind, QuietHours, Sex, TimeZoneName, ValidationErrors,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A postal address.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressDto {
    pub line: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
}

impl AddressDto {
    pub fn into_domain(self) -> Address {
        let clean = |s: Option<String>| s.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        Address {
            line: clean(self.line),
            city: clean(self.city),
            state: clean(self.state),
            postal_code: clean(self.postal_code),
            country: clean(self.country),
        }
    }

    pub fn from_domain(a: &Address) -> Self {
        Self {
            line: a.line.clone(),
            city: a.city.clone(),
            state: a.state.clone(),
            postal_code: a.postal_code.clone(),
            country: a.country.clone(),
        }
    }
}

/// A phone number; `type` is mobile, landline or unknown.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneDto {
    /// E.164 (`+13125550101`); ten-digit US numbers are accepted and normalised.
    pub number: String,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHoursDto {
    /// `HH:MM`, patient's local time.
    pub start: String,
    pub end: String,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentifierDto {
    /// The issuing system, e.g. `urn:oid:…` or an EHR name.
    pub system: String,
    pub value: String,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaregiverDto {
    pub patient_id: String,
    pub relationship: String,
}

/// What a client sends to create or replace a patient.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatientInput {
    pub given_name: String,
    pub family_name: String,
    pub preferred_name: Option<String>,
    /// `YYYY-MM-DD`.
    pub birth_date: Option<String>,
    /// female, male, other or unknown.
    pub sex: Option<String>,
    pub gender_identity: Option<String>,
    /// BCP 47, e.g. `es`.
    pub language: Option<String>,
    /// IANA zone, e.g. `America/Chicago`.
    pub time_zone: Option<String>,
    pub address: Option<AddressDto>,
    #[serde(default)]
    pub phones: Vec<PhoneDto>,
    #[serde(default)]
    pub emails: Vec<String>,
    /// Channels in order of preference: sms, email, voice, push.
    #[serde(default)]
    pub channel_order: Vec<String>,
    pub quiet_hours: Option<QuietHoursDto>,
    /// ICD-10 codes.
    #[serde(default)]
    pub conditions: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    #[serde(default)]
    pub identifiers: Vec<IdentifierDto>,
    #[serde(default)]
    pub caregivers: Vec<CaregiverDto>,
}

fn optional_text(raw: Option<String>) -> Option<String> {
    raw.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

impl PatientInput {
    /// Validates every field, reporting all failures at once.
    pub fn into_details(self, today: Date) -> Result<PatientDetails, ValidationErrors> {
        let mut v = ValidationErrors::new();
        let given_name = v.check("given_name", parse_name(&self.given_name));
        let family_name = v.check("family_name", parse_name(&self.family_name));
        let preferred_name = v.check_opt("preferred_name", optional_text(self.preferred_name).map(|n| parse_name(&n)));
        let birth_date = v.check_opt("birth_date", self.birth_date.map(|b| BirthDate::parse(&b, today)));
        let sex = v.check("sex", self.sex.as_deref().unwrap_or("unknown").parse::<Sex>());
        let language = v.check_opt("language", optional_text(self.language).map(|l| LanguageTag::parse(&l)));
        let time_zone = v.check_opt("time_zone", optional_text(self.time_zone).map(|z| TimeZoneName::parse(&z)));
        let phones: Vec<PatientPhone> = self
            .phones
            .into_iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let number = v.check(format!("phones[{i}].number"), PhoneE164::parse(&p.number));
                let kind =
                    v.check(format!("phones[{i}].type"), p.kind.as_deref().unwrap_or("unknown").parse::<PhoneKind>());
                Some(PatientPhone { number: number?, kind: kind? })
            })
            .collect();
        let emails: Vec<PatientEmail> = self
            .emails
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                v.check(format!("emails[{i}]"), Email::parse(e)).map(|address| PatientEmail { address })
            })
            .collect();
        let channel_order: Vec<Channel> = self
            .channel_order
            .iter()
            .enumerate()
            .filter_map(|(i, c)| v.check(format!("channel_order[{i}]"), c.parse::<Channel>()))
            .collect();
        let mut seen = channel_order.clone();
        seen.sort();
        seen.dedup();
        if seen.len() != channel_order.len() {
            v.push("channel_order", "names a channel more than once");
        }
        let quiet_hours = v.check_opt("quiet_hours", self.quiet_hours.map(|q| QuietHours::parse(&q.start, &q.end)));
        let conditions = (self.conditions.iter().enumerate())
            .filter_map(|(i, c)| v.check(format!("conditions[{i}]"), Icd10Code::parse(c)))
            .collect();
        let tags =
            (self.tags.iter().enumerate()).filter_map(|(i, t)| v.check(format!("tags[{i}]"), parse_tag(t))).collect();
        for key in self.attributes.keys() {
            if key.trim().is_empty() || key.len() > 64 {
                v.push("attributes", "keys must be 1 to 64 characters");
            }
        }
        let external_ids = (self.identifiers.iter().enumerate())
            .filter_map(|(i, x)| v.check(format!("identifiers[{i}]"), ExternalId::parse(&x.system, &x.value)))
            .collect();
        let caregivers = (self.caregivers.iter().enumerate())
            .filter_map(|(i, c)| {
                let id = v.check(format!("caregivers[{i}].patient_id"), c.patient_id.parse());
                let relationship = v.check(format!("caregivers[{i}].relationship"), parse_name(&c.relationship));
                Some(Caregiver { patient_id: id?, relationship: relationship? })
            })
            .collect();
        let (Some(given_name), Some(family_name), Some(sex)) = (given_name, family_name, sex) else {
            return Err(v);
        };
        v.finish(|| PatientDetails {
            given_name,
            family_name,
            preferred_name,
            birth_date,
            sex,
            gender_identity: optional_text(self.gender_identity),
            language,
            time_zone,
            address: self.address.map(AddressDto::into_domain).unwrap_or_default(),
            phones,
            emails,
            channel_order,
            quiet_hours,
            conditions,
            tags,
            attributes: self.attributes,
            external_ids,
            caregivers,
        })
    }
}

/// A patient as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PatientView {
    pub id: String,
    pub organization_id: String,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
    pub given_name: String,
    pub family_name: String,
    pub preferred_name: Option<String>,
    pub birth_date: Option<String>,
    pub sex: String,
    pub gender_identity: Option<String>,
    pub language: Option<String>,
    pub time_zone: Option<String>,
    pub address: AddressDto,
    pub phones: Vec<PhoneDto>,
    pub emails: Vec<String>,
    pub channel_order: Vec<String>,
    pub quiet_hours: Option<QuietHoursDto>,
    pub conditions: Vec<String>,
    pub tags: Vec<String>,
    pub attributes: BTreeMap<String, String>,
    pub identifiers: Vec<IdentifierDto>,
    pub caregivers: Vec<CaregiverDto>,
}

impl From<&Patient> for PatientView {
    fn from(p: &Patient) -> Self {
        let d = &p.details;
        let hhmm = |t: jiff::civil::Time| format!("{:02}:{:02}", t.hour(), t.minute());
        Self {
            id: p.id.to_string(),
            organization_id: p.organization_id.to_string(),
            version: p.version,
            created_at: p.created_at.to_string(),
            updated_at: p.updated_at.to_string(),
            given_name: d.given_name.clone(),
            family_name: d.family_name.clone(),
            preferred_name: d.preferred_name.clone(),
            birth_date: d.birth_date.map(|b| b.to_string()),
            sex: d.sex.as_str().to_owned(),
            gender_identity: d.gender_identity.clone(),
            language: d.language.as_ref().map(|l| l.as_str().to_owned()),
            time_zone: d.time_zone.as_ref().map(|z| z.as_str().to_owned()),
            address: AddressDto::from_domain(&d.address),
            phones: d
                .phones
                .iter()
                .map(|ph| PhoneDto { number: ph.number.to_string(), kind: Some(ph.kind.as_str().to_owned()) })
                .collect(),
            emails: d.emails.iter().map(|e| e.address.to_string()).collect(),
            channel_order: d.channel_order.iter().map(|c| c.as_str().to_owned()).collect(),
            quiet_hours: d.quiet_hours.map(|q| QuietHoursDto { start: hhmm(q.start), end: hhmm(q.end) }),
            conditions: d.conditions.iter().map(|c| c.as_str().to_owned()).collect(),
            tags: d.tags.clone(),
            attributes: d.attributes.clone(),
            identifiers: d
                .external_ids
                .iter()
                .map(|x| IdentifierDto { system: x.system.clone(), value: x.value.clone() })
                .collect(),
            caregivers: d
                .caregivers
                .iter()
                .map(|c| CaregiverDto { patient_id: c.patient_id.to_string(), relationship: c.relationship.clone() })
                .collect(),
        }
    }
}
