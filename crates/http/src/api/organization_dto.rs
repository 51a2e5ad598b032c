//! The wire form of organizations, locations and providers.

use std::collections::BTreeMap;

use rapport_domain::message::window::SendingWindow;
use rapport_domain::organization::OpeningHours;
use rapport_domain::patient::parse_name;
use rapport_domain::value::parse_hhmm;
use rapport_domain::{LanguageTag, Location, Npi, Organization, PhoneE164, Provider, TimeZoneName, ValidationErrors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::patient_dto::AddressDto;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationInput {
    pub name: String,
    /// IANA zone used for patients whose own zone is unknown.
    pub time_zone: String,
    /// BCP 47 language of templates when the patient's has none; `en` when absent.
    pub default_language: Option<String>,
    /// Narrower sending hours than 08:00–21:00 for every message, in each
    /// patient's local time; absent: the default.
    pub sending_hours: Option<HoursDto>,
}

/// Local hours, `HH:MM` to `HH:MM`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoursDto {
    pub start: String,
    pub end: String,
}

/// The validated parts of an organization input.
pub struct OrganizationFields {
    pub name: String,
    pub time_zone: TimeZoneName,
    pub default_language: LanguageTag,
    pub sending_window: Option<SendingWindow>,
}

impl OrganizationInput {
    pub fn validate(self) -> Result<OrganizationFields, ValidationErrors> {
        let mut v = ValidationErrors::new();
        let name = v.check("name", parse_name(&self.name));
        let time_zone = v.check("time_zone", TimeZoneName::parse(&self.time_zone));
        let default_language =
            v.check("default_language", LanguageTag::parse(self.default_language.as_deref().unwrap_or("en")));
        let sending_window = match &self.sending_hours {
            None => Some(None),
            Some(hours) => v.check("sending_hours", SendingWindow::narrower(&hours.start, &hours.end)).map(Some),
        };
        match (name, time_zone, default_language, sending_window) {
            (Some(name), Some(time_zone), Some(default_language), Some(sending_window)) => {
                Ok(OrganizationFields { name, time_zone, default_language, sending_window })
            }
            _ => Err(v),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationView {
    pub id: String,
    pub version: i64,
    pub name: String,
    pub time_zone: String,
    pub default_language: String,
    pub sending_hours: Option<HoursDto>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Organization> for OrganizationView {
    fn from(o: &Organization) -> Self {
        Self {
            id: o.id.to_string(),
            version: o.version,
            name: o.name.clone(),
            time_zone: o.time_zone.to_string(),
            default_language: o.default_language.as_str().to_owned(),
            sending_hours: o.sending_window.map(|w| HoursDto {
                start: w.start.strftime("%H:%M").to_string(),
                end: w.end.strftime("%H:%M").to_string(),
            }),
            created_at: o.created_at.to_string(),
            updated_at: o.updated_at.to_string(),
        }
    }
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationInput {
    pub name: String,
    pub address: Option<AddressDto>,
    pub phone: Option<String>,
    /// IANA zone: the zone of every appointment here.
    pub time_zone: String,
    /// Per weekday (`mon` … `sun`), open intervals `[["08:00","12:00"], …]`.
    /// Weekdays 08:00–17:00 when absent.
    pub opening_hours: Option<BTreeMap<String, Vec<[String; 2]>>>,
}

/// The validated parts of a location input.
pub struct LocationFields {
    pub name: String,
    pub address: rapport_domain::Address,
    pub phone: Option<PhoneE164>,
    pub time_zone: TimeZoneName,
    pub opening_hours: OpeningHours,
}

impl LocationInput {
    pub fn validate(self) -> Result<LocationFields, ValidationErrors> {
        let mut v = ValidationErrors::new();
        let name = v.check("name", parse_name(&self.name));
        let phone = v.check_opt("phone", self.phone.filter(|p| !p.trim().is_empty()).map(|p| PhoneE164::parse(&p)));
        let time_zone = v.check("time_zone", TimeZoneName::parse(&self.time_zone));
        let opening_hours = match self.opening_hours {
            None => Some(OpeningHours::weekdays_8_to_5()),
            Some(map) => parse_hours(map, &mut v),
        };
        match (name, time_zone, opening_hours) {
            (Some(name), Some(time_zone), Some(opening_hours)) if v.is_empty() => Ok(LocationFields {
                name,
                address: self.address.map(AddressDto::into_domain).unwrap_or_default(),
                phone,
                time_zone,
                opening_hours,
            }),
            _ => Err(v),
        }
    }
}

fn parse_hours(map: BTreeMap<String, Vec<[String; 2]>>, v: &mut ValidationErrors) -> Option<OpeningHours> {
    let mut hours = OpeningHours::default();
    for (day, intervals) in map {
        let Some(index) = DAYS.iter().position(|d| *d == day) else {
            v.push(format!("opening_hours.{day}"), "is not a weekday (mon … sun)");
            continue;
        };
        for (i, [start, end]) in intervals.iter().enumerate() {
            let field = format!("opening_hours.{day}[{i}]");
            let start = v.check(field.clone(), parse_hhmm(start));
            let end = v.check(field, parse_hhmm(end));
            if let (Some(start), Some(end)) = (start, end) {
                hours.days[index].push((start, end));
            }
        }
    }
    v.check("opening_hours", hours.validated())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LocationView {
    pub id: String,
    pub organization_id: String,
    pub version: i64,
    pub name: String,
    pub address: AddressDto,
    pub phone: Option<String>,
    pub time_zone: String,
    pub opening_hours: BTreeMap<String, Vec<[String; 2]>>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Location> for LocationView {
    fn from(l: &Location) -> Self {
        let hhmm = |t: jiff::civil::Time| format!("{:02}:{:02}", t.hour(), t.minute());
        let opening_hours = DAYS
            .iter()
            .zip(&l.opening_hours.days)
            .filter(|(_, d)| !d.is_empty())
            .map(|(name, d)| ((*name).to_owned(), d.iter().map(|(s, e)| [hhmm(*s), hhmm(*e)]).collect()))
            .collect();
        Self {
            id: l.id.to_string(),
            organization_id: l.organization_id.to_string(),
            version: l.version,
            name: l.name.clone(),
            address: AddressDto::from_domain(&l.address),
            phone: l.phone.as_ref().map(ToString::to_string),
            time_zone: l.time_zone.to_string(),
            opening_hours,
            created_at: l.created_at.to_string(),
            updated_at: l.updated_at.to_string(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderInput {
    pub given_name: String,
    pub family_name: String,
    /// Shown to patients: `Dr`, `NP` …
    pub title: Option<String>,
    /// US National Provider Identifier (10 digits, check digit verified).
    pub npi: Option<String>,
    #[serde(default)]
    pub location_ids: Vec<String>,
}

/// The validated parts of a provider input.
pub struct ProviderFields {
    pub given_name: String,
    pub family_name: String,
    pub title: Option<String>,
    pub npi: Option<Npi>,
    pub location_ids: Vec<rapport_domain::LocationId>,
}

impl ProviderInput {
    pub fn validate(self) -> Result<ProviderFields, ValidationErrors> {
        let mut v = ValidationErrors::new();
        let given_name = v.check("given_name", parse_name(&self.given_name));
        let family_name = v.check("family_name", parse_name(&self.family_name));
        let npi = v.check_opt("npi", self.npi.filter(|n| !n.trim().is_empty()).map(|n| Npi::parse(&n)));
        let location_ids = (self.location_ids.iter().enumerate())
            .filter_map(|(i, l)| v.check(format!("location_ids[{i}]"), l.parse()))
            .collect();
        match (given_name, family_name) {
            (Some(given_name), Some(family_name)) if v.is_empty() => Ok(ProviderFields {
                given_name,
                family_name,
                title: self.title.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()),
                npi,
                location_ids,
            }),
            _ => Err(v),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderView {
    pub id: String,
    pub organization_id: String,
    pub version: i64,
    pub given_name: String,
    pub family_name: String,
    pub title: Option<String>,
    pub npi: Option<String>,
    pub location_ids: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Provider> for ProviderView {
    fn from(p: &Provider) -> Self {
        Self {
            id: p.id.to_string(),
            organization_id: p.organization_id.to_string(),
            version: p.version,
            given_name: p.given_name.clone(),
            family_name: p.family_name.clone(),
            title: p.title.clone(),
            npi: p.npi.as_ref().map(|n| n.as_str().to_owned()),
            location_ids: p.location_ids.iter().map(ToString::to_string).collect(),
            created_at: p.created_at.to_string(),
            updated_at: p.updated_at.to_string(),
        }
    }
}
