//! FHIR R4 resources (as JSON) to Rapport's records, one resource at a time
//! and without the store: what each field becomes, and why a resource is
//! refused (naming the element, never its value). References between
//! resources are left as written (`Patient/123`, `urn:uuid:…`,
//! `Location?identifier=system|value`) for the importer to resolve.

use jiff::Timestamp;
use jiff::civil::Date;
use rapport_domain::{
    Address, AppointmentStatus, BirthDate, Email, ExternalId, LanguageTag, Location, LocationId, Npi, OpeningHours,
    OrganizationId, PatientDetails, PatientEmail, PatientPhone, PhoneE164, PhoneKind, Provider, ProviderId, Sex,
    TimeZoneName,
};
use serde_json::Value;

/// Identifier types that are never kept: they are not Rapport's to hold.
const SENSITIVE_TYPES: [&str; 4] = ["SS", "SB", "DL", "PPN"];
const SSN_SYSTEM: &str = "http://hl7.org/fhir/sid/us-ssn";
pub const NPI_SYSTEM: &str = "http://hl7.org/fhir/sid/us-npi";

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

fn array<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value.get(key).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// A resource's identifiers as `(type code, system, value)`.
fn identifiers(resource: &Value) -> Vec<(&str, &str, &str)> {
    array(resource, "identifier")
        .iter()
        .filter_map(|i| {
            let kind = i.get("type").map(|t| array(t, "coding")).and_then(|c| c.first()).and_then(|c| text(c, "code"));
            Some((kind.unwrap_or(""), text(i, "system").unwrap_or(""), text(i, "value")?))
        })
        .collect()
}

/// The key a resource is known by across imports: its identifier of type
/// `preferred` (or first), else its logical id under `fhir:{type}`.
pub fn key(resource: &Value, resource_type: &str, preferred: &str) -> Option<ExternalId> {
    let ids = identifiers(resource);
    let chosen = ids.iter().find(|(kind, ..)| *kind == preferred).or(ids.first());
    match chosen {
        Some((_, system, value)) => Some(ExternalId { system: (*system).to_owned(), value: (*value).to_owned() }),
        None => text(resource, "id").map(|id| ExternalId { system: format!("fhir:{resource_type}"), value: id.into() }),
    }
}

/// The key as the text a conditional reference names: `system|value`.
pub fn key_text(key: &ExternalId) -> String {
    format!("{}|{}", key.system, key.value)
}

/// The IANA zone most of a US state lives in.
pub fn state_zone(state: &str) -> Option<&'static str> {
    let zone = match state.trim().to_ascii_uppercase().as_str() {
        "CT" | "DE" | "DC" | "FL" | "GA" | "IN" | "KY" | "ME" | "MD" | "MA" | "MI" | "NH" | "NJ" | "NY" | "NC"
        | "OH" | "PA" | "RI" | "SC" | "VT" | "VA" | "WV" => "America/New_York",
        "AL" | "AR" | "IL" | "IA" | "KS" | "LA" | "MN" | "MS" | "MO" | "NE" | "ND" | "OK" | "SD" | "TN" | "TX"
        | "WI" => "America/Chicago",
        "CO" | "ID" | "MT" | "NM" | "UT" | "WY" => "America/Denver",
        "AZ" => "America/Phoenix",
        "CA" | "NV" | "OR" | "WA" => "America/Los_Angeles",
        "AK" => "America/Anchorage",
        "HI" => "Pacific/Honolulu",
        "PR" => "America/Puerto_Rico",
        _ => return None,
    };
    Some(zone)
}

fn address(value: Option<&Value>) -> Address {
    let Some(a) = value else { return Address::default() };
    let lines: Vec<&str> = array(a, "line").iter().filter_map(Value::as_str).collect();
    Address {
        line: (!lines.is_empty()).then(|| lines.join(", ")),
        city: text(a, "city").map(str::to_owned),
        state: text(a, "state").map(str::to_owned),
        postal_code: text(a, "postalCode").map(str::to_owned),
        country: text(a, "country").map(str::to_owned),
    }
}

/// A FHIR Patient as a registry record, known by its key (see [`key`]).
pub fn patient(resource: &Value, today: Date) -> Result<(ExternalId, PatientDetails), String> {
    let key = key(resource, "Patient", "MR").ok_or("Patient has neither an identifier nor an id")?;
    let mut details = patient_details(resource, today)?;
    if !details.external_ids.contains(&key) {
        details.external_ids.insert(0, key.clone());
    }
    Ok((key, details))
}

/// A FHIR Patient's details: the official name (else the first; a newborn
/// or a fetal record may have none yet, and keeps none), birth date, sex,
/// phones that are numbers Rapport can text or call, emails, language,
/// address (and the zone of its state), and identifiers with a system
/// (never a social security, driver's licence or passport number). A
/// deceased patient keeps no contact point and is tagged `deceased`:
/// nothing is ever sent to them.
pub fn patient_details(resource: &Value, today: Date) -> Result<PatientDetails, String> {
    let names = array(resource, "name");
    let name = names.iter().find(|n| text(n, "use") == Some("official")).or(names.first());
    let family = name.and_then(|n| text(n, "family")).unwrap_or("");
    let given = name.map(|n| array(n, "given")).unwrap_or_default().iter().filter_map(Value::as_str).next();
    let mut details = PatientDetails::new(given.unwrap_or("").trim().to_owned(), family.to_owned());
    if let Some(birth) = text(resource, "birthDate") {
        details.birth_date = Some(BirthDate::parse(birth, today).map_err(|_| "Patient.birthDate is not a date")?);
    }
    details.sex = match text(resource, "gender") {
        Some("female") => Sex::Female,
        Some("male") => Sex::Male,
        Some("other") => Sex::Other,
        _ => Sex::Unknown,
    };
    for telecom in array(resource, "telecom") {
        let Some(value) = text(telecom, "value") else { continue };
        match text(telecom, "system") {
            Some("phone" | "sms") => {
                if let Ok(number) = PhoneE164::parse(value) {
                    let kind =
                        if text(telecom, "use") == Some("mobile") { PhoneKind::Mobile } else { PhoneKind::Unknown };
                    if !details.phones.iter().any(|p| p.number == number) {
                        details.phones.push(PatientPhone { number, kind });
                    }
                }
            }
            Some("email") => {
                if let Ok(address) = Email::parse(value) {
                    details.emails.push(PatientEmail { address });
                }
            }
            _ => {}
        }
    }
    details.language = array(resource, "communication")
        .iter()
        .filter_map(|c| c.get("language"))
        .flat_map(|l| array(l, "coding"))
        .filter_map(|c| text(c, "code"))
        .find_map(|code| LanguageTag::parse(code).ok());
    details.address = address(array(resource, "address").first());
    details.time_zone = details.address.state.as_deref().and_then(state_zone).and_then(|z| TimeZoneName::parse(z).ok());
    let deceased = resource.get("deceasedDateTime").is_some()
        || resource.get("deceasedBoolean").and_then(Value::as_bool) == Some(true);
    if deceased {
        details.phones.clear();
        details.emails.clear();
        details.tags.push("deceased".into());
    }
    details.external_ids = identifiers(resource)
        .into_iter()
        .filter(|(kind, system, _)| !SENSITIVE_TYPES.contains(kind) && *system != SSN_SYSTEM && !system.is_empty())
        .map(|(_, system, value)| ExternalId { system: system.into(), value: value.into() })
        .collect();
    details.external_ids.dedup();
    Ok(details)
}

/// What a Practitioner gives a provider: names, a title, the NPI when it
/// is a valid one.
pub struct ProviderFields {
    pub given_name: String,
    pub family_name: String,
    pub title: Option<String>,
    pub npi: Option<Npi>,
}

impl ProviderFields {
    /// A new provider of `org` with these fields, at no location yet.
    pub fn into_provider(self, org: OrganizationId, now: Timestamp) -> Provider {
        Provider {
            id: ProviderId::generate(),
            organization_id: org,
            given_name: self.given_name,
            family_name: self.family_name,
            title: self.title,
            npi: self.npi,
            location_ids: Vec::new(),
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }
}

pub fn practitioner(resource: &Value) -> Result<(ExternalId, ProviderFields), String> {
    let npi_id = identifiers(resource).into_iter().find(|(_, system, _)| *system == NPI_SYSTEM);
    let key = match npi_id {
        Some((_, system, value)) => ExternalId { system: system.into(), value: value.into() },
        None => key(resource, "Practitioner", "").ok_or("Practitioner has neither an identifier nor an id")?,
    };
    Ok((key, practitioner_fields(resource)?))
}

/// A Practitioner's fields without the key an import needs (the FHIR API's create).
pub fn practitioner_fields(resource: &Value) -> Result<ProviderFields, String> {
    let npi_id = identifiers(resource).into_iter().find(|(_, system, _)| *system == NPI_SYSTEM);
    let name = array(resource, "name").first().ok_or("Practitioner.name is missing")?;
    // Without parts, the name's text: its first word the given name, the
    // rest the family name ("Juri van Gelder"); one word, a family name.
    let from_text = text(name, "text").map(str::trim).filter(|t| !t.is_empty()).map(|t| match t.split_once(' ') {
        Some((given, family)) => (given, family.trim()),
        None => ("", t),
    });
    let (family, given) = match (text(name, "family"), from_text) {
        (Some(family), _) => (family, array(name, "given").iter().filter_map(Value::as_str).next().unwrap_or("")),
        (None, Some((given, family))) => (family, given),
        (None, None) => return Err("Practitioner.name.family is missing (and so is its text)".into()),
    };
    let title =
        array(name, "prefix").iter().filter_map(Value::as_str).next().map(|t| t.trim_end_matches('.').to_owned());
    let npi = npi_id.and_then(|(_, _, value)| Npi::parse(value).ok());
    Ok(ProviderFields { given_name: given.into(), family_name: family.into(), title, npi })
}

/// The names a Location's managing organization goes by
/// (`Organization?identifier=system|value`, `Organization/id`).
pub fn managing_organization(resource: &Value) -> Vec<String> {
    let Some(managing) = resource.get("managingOrganization") else { return Vec::new() };
    let mut names: Vec<String> = reference(Some(managing)).into_iter().collect();
    if let Some(identifier) = managing.get("identifier")
        && let (Some(system), Some(value)) = (text(identifier, "system"), text(identifier, "value"))
    {
        names.push(format!("Organization?identifier={system}|{value}"));
    }
    names
}

/// What a Location gives a location: name, address, phone, zone (from its
/// state, else none: the importer uses the organization's).
pub struct LocationFields {
    pub name: String,
    pub address: Address,
    pub phone: Option<PhoneE164>,
    pub time_zone: Option<TimeZoneName>,
}

impl LocationFields {
    /// A new location of `org` with these fields in `zone`, open weekdays 8 to 5.
    pub fn into_location(self, org: OrganizationId, zone: TimeZoneName, now: Timestamp) -> Location {
        Location {
            id: LocationId::generate(),
            organization_id: org,
            name: self.name,
            address: self.address,
            phone: self.phone,
            time_zone: zone,
            opening_hours: OpeningHours::weekdays_8_to_5(),
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }
}

pub fn location(resource: &Value) -> Result<(ExternalId, LocationFields), String> {
    place(resource, "Location", resource.get("address"))
}

/// An Organization taken as a site: a provider organization that brought
/// no Location of its own (older Synthea bundles), where its visits happen.
pub fn organization(resource: &Value) -> Result<(ExternalId, LocationFields), String> {
    place(resource, "Organization", array(resource, "address").first())
}

fn place(resource: &Value, kind: &str, address_value: Option<&Value>) -> Result<(ExternalId, LocationFields), String> {
    let key = key(resource, kind, "").ok_or_else(|| format!("{kind} has neither an identifier nor an id"))?;
    Ok((key, place_fields(resource, kind, address_value)?))
}

/// A Location's fields without the key an import needs (the FHIR API's create).
pub fn location_fields(resource: &Value) -> Result<LocationFields, String> {
    place_fields(resource, "Location", resource.get("address"))
}

fn place_fields(resource: &Value, kind: &str, address_value: Option<&Value>) -> Result<LocationFields, String> {
    let name = text(resource, "name").ok_or_else(|| format!("{kind}.name is missing"))?;
    let address = address(address_value);
    let phone = array(resource, "telecom")
        .iter()
        .filter(|t| text(t, "system") == Some("phone"))
        .filter_map(|t| text(t, "value"))
        .find_map(|v| PhoneE164::parse(v).ok());
    let time_zone = address.state.as_deref().and_then(state_zone).and_then(|z| TimeZoneName::parse(z).ok());
    Ok(LocationFields { name: name.into(), address, phone, time_zone })
}

/// A visit as an Encounter or an Appointment describes it, its references
/// unresolved.
pub struct VisitFields {
    pub source: ExternalId,
    pub patient: String,
    pub location: Option<String>,
    /// The organization responsible (an Encounter's `serviceProvider`):
    /// the visit's place when its location is not a site.
    pub service_provider: Option<String>,
    pub practitioner: Option<String>,
    pub start: jiff::Timestamp,
    pub end: jiff::Timestamp,
    pub visit_type: String,
    pub status: AppointmentStatus,
}

fn instant(value: Option<&str>, element: &str) -> Result<jiff::Timestamp, String> {
    value.and_then(|v| v.parse().ok()).ok_or_else(|| format!("{element} is not an instant with an offset"))
}

fn reference(value: Option<&Value>) -> Option<String> {
    value.and_then(|r| text(r, "reference")).map(str::to_owned)
}

fn concept_text(concept: Option<&Value>) -> Option<&str> {
    let concept = concept?;
    text(concept, "text").or_else(|| array(concept, "coding").iter().find_map(|c| text(c, "display")))
}

pub fn encounter(resource: &Value) -> Result<VisitFields, String> {
    let source = key(resource, "Encounter", "").ok_or("Encounter has neither an identifier nor an id")?;
    let patient = reference(resource.get("subject")).ok_or("Encounter.subject is missing")?;
    let period = resource.get("period").ok_or("Encounter.period is missing")?;
    let start = instant(text(period, "start"), "Encounter.period.start")?;
    let end = match text(period, "end") {
        Some(_) => instant(text(period, "end"), "Encounter.period.end")?,
        None => start + jiff::SignedDuration::from_mins(30),
    };
    let status = match text(resource, "status") {
        Some("planned") => AppointmentStatus::Booked,
        Some("arrived" | "triaged") => AppointmentStatus::Arrived,
        Some("in-progress" | "onleave") => AppointmentStatus::CheckedIn,
        Some("finished") => AppointmentStatus::Fulfilled,
        Some("cancelled") => AppointmentStatus::Cancelled,
        Some("entered-in-error") => AppointmentStatus::EnteredInError,
        _ => return Err("Encounter.status is not one Rapport maps".into()),
    };
    Ok(VisitFields {
        source,
        patient,
        location: array(resource, "location").iter().find_map(|l| reference(l.get("location"))),
        service_provider: reference(resource.get("serviceProvider")),
        practitioner: array(resource, "participant").iter().find_map(|p| reference(p.get("individual"))),
        start,
        end: end.max(start),
        visit_type: concept_text(array(resource, "type").first()).unwrap_or("visit").to_owned(),
        status,
    })
}

pub fn appointment(resource: &Value) -> Result<VisitFields, String> {
    let source = key(resource, "Appointment", "").ok_or("Appointment has neither an identifier nor an id")?;
    let status: AppointmentStatus = text(resource, "status")
        .ok_or("Appointment.status is missing")?
        .parse()
        .map_err(|_| "Appointment.status is not a FHIR appointment status")?;
    let start = instant(text(resource, "start"), "Appointment.start")?;
    let end = match text(resource, "end") {
        Some(_) => instant(text(resource, "end"), "Appointment.end")?,
        None => start + jiff::SignedDuration::from_mins(30),
    };
    let actors: Vec<String> = array(resource, "participant").iter().filter_map(|p| reference(p.get("actor"))).collect();
    let find = |kind: &str| actors.iter().find(|r| r.starts_with(kind)).cloned();
    Ok(VisitFields {
        source,
        patient: find("Patient").ok_or("Appointment.participant names no Patient")?,
        location: find("Location"),
        service_provider: None,
        practitioner: find("Practitioner"),
        start,
        end: end.max(start),
        visit_type: concept_text(resource.get("appointmentType"))
            .or_else(|| concept_text(array(resource, "serviceType").first()))
            .unwrap_or("visit")
            .to_owned(),
        status,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_patient_keeps_its_record_number_and_never_its_social_security_number() {
        let resource = json!({
            "resourceType": "Patient", "id": "p1",
            "identifier": [
                {"system": "https://github.com/synthetichealth/synthea", "value": "p1"},
                {"type": {"coding": [{"code": "MR"}]}, "system": "http://hospital.example", "value": "M-1"},
                {"type": {"coding": [{"code": "SS"}]}, "system": "http://hl7.org/fhir/sid/us-ssn", "value": "999-1"}
            ],
            "name": [{"use": "nickname", "family": "X"}, {"use": "official", "family": "Goldner", "given": ["Andrew", "J"]}],
            "telecom": [{"system": "phone", "value": "(312) 555-0101", "use": "mobile"}],
            "gender": "male", "birthDate": "1943-03-17",
            "address": [{"line": ["847 Tremblay Crossroad"], "city": "Bloom", "state": "KS"}],
            "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "es"}]}}]
        });
        let today = jiff::civil::date(2026, 12, 1);
        let (key, details) = patient(&resource, today).expect("a patient");
        assert_eq!((key.system.as_str(), key.value.as_str()), ("http://hospital.example", "M-1"));
        assert_eq!((details.given_name.as_str(), details.family_name.as_str()), ("Andrew", "Goldner"));
        assert_eq!(details.phones[0].kind, PhoneKind::Mobile);
        assert_eq!(details.language.as_ref().map(|l| l.as_str()), Some("es"));
        assert_eq!(details.time_zone.as_ref().map(|z| z.as_str()), Some("America/Chicago"));
        assert!(details.external_ids.iter().all(|i| !i.system.contains("ssn")), "{:?}", details.external_ids);
        assert_eq!(details.external_ids.len(), 2);

        let mut dead = resource.clone();
        dead["deceasedDateTime"] = json!("2020-01-01T00:00:00Z");
        let (_, details) = patient(&dead, today).expect("a patient");
        assert!(details.phones.is_empty() && details.tags == ["deceased"], "nothing is ever sent to the dead");

        let mut newborn = resource.clone();
        newborn.as_object_mut().expect("object").remove("name");
        let (_, details) = patient(&newborn, today).expect("a newborn has no name yet");
        assert_eq!((details.given_name.as_str(), details.family_name.as_str()), ("", ""));

        let mut undated = resource;
        undated["birthDate"] = json!("1943-13-45");
        assert_eq!(patient(&undated, today).err().as_deref(), Some("Patient.birthDate is not a date"));
    }

    #[test]
    fn an_encounter_is_a_visit_with_its_references_as_written() {
        let resource = json!({
            "resourceType": "Encounter", "id": "e1", "status": "finished",
            "identifier": [{"system": "https://github.com/synthetichealth/synthea", "value": "e1"}],
            "type": [{"text": "Encounter for problem"}],
            "subject": {"reference": "Patient/p1"},
            "participant": [{"individual": {"reference": "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999974493"}}],
            "period": {"start": "1989-10-04T02:25:16-04:00", "end": "1989-10-04T06:20:16-04:00"},
            "location": [{"location": {"reference": "Location?identifier=https://github.com/synthetichealth/synthea|l1"}}]
        });
        let visit = encounter(&resource).expect("a visit");
        assert_eq!(visit.status, AppointmentStatus::Fulfilled);
        assert_eq!(visit.patient, "Patient/p1");
        assert_eq!(visit.start, "1989-10-04T06:25:16Z".parse::<jiff::Timestamp>().expect("time"));
        assert_eq!(visit.visit_type, "Encounter for problem");
        assert!(visit.location.as_deref().is_some_and(|l| l.ends_with("|l1")));
        let mut local = resource;
        local["period"]["start"] = json!("1989-10-04T02:25:16");
        assert_eq!(encounter(&local).err().as_deref(), Some("Encounter.period.start is not an instant with an offset"));
    }
}
