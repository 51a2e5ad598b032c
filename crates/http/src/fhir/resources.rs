//! Rapport's records as FHIR R4 resources (JSON): Patient, Practitioner,
//! Location, Organization, Appointment. `meta.versionId` is the record's
//! version (its ETag in the REST API), `meta.lastUpdated` its last change.

use jiff::Timestamp;
use rapport_domain::{Address, Appointment, Location, Organization, Patient, PhoneKind, Provider, Sex};
use serde_json::{Value, json};

const NPI_SYSTEM: &str = "http://hl7.org/fhir/sid/us-npi";
const BCP47: &str = "urn:ietf:bcp:47";
/// The R4 extension that names a location's IANA time zone.
const TIMEZONE_EXTENSION: &str = "http://hl7.org/fhir/StructureDefinition/timezone";

fn meta(version: i64, updated: Timestamp) -> Value {
    json!({"versionId": version.to_string(), "lastUpdated": instant(updated)})
}

/// An instant as FHIR writes it (seconds, UTC).
pub fn instant(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn address(a: &Address) -> Option<Value> {
    let mut out = serde_json::Map::new();
    if let Some(line) = &a.line {
        out.insert("line".into(), json!([line]));
    }
    for (key, value) in
        [("city", &a.city), ("state", &a.state), ("postalCode", &a.postal_code), ("country", &a.country)]
    {
        if let Some(value) = value {
            out.insert(key.into(), json!(value));
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

fn gender(sex: Sex) -> &'static str {
    match sex {
        Sex::Female => "female",
        Sex::Male => "male",
        Sex::Other => "other",
        Sex::Unknown => "unknown",
    }
}

pub fn patient(p: &Patient) -> Value {
    let d = &p.details;
    // A record may have no name yet (a newborn): FHIR has no empty strings.
    let mut official = json!({"use": "official"});
    if !d.family_name.is_empty() {
        official["family"] = json!(d.family_name);
    }
    if !d.given_name.is_empty() {
        official["given"] = json!([d.given_name]);
    }
    let mut names = Vec::new();
    if official.as_object().is_some_and(|o| o.len() > 1) {
        names.push(official);
    }
    if let Some(preferred) = &d.preferred_name {
        names.push(json!({"use": "usual", "given": [preferred]}));
    }
    let mut telecom: Vec<Value> = d
        .phones
        .iter()
        .enumerate()
        .map(|(rank, phone)| {
            let mut t = json!({"system": "phone", "value": phone.number.as_str(), "rank": rank + 1});
            if phone.kind == PhoneKind::Mobile {
                t["use"] = json!("mobile");
            }
            t
        })
        .collect();
    telecom.extend(d.emails.iter().map(|e| json!({"system": "email", "value": e.address.as_str()})));
    let mut out = json!({
        "resourceType": "Patient",
        "id": p.id.to_string(),
        "meta": meta(p.version, p.updated_at),
        "active": true,
        "gender": gender(d.sex),
    });
    if !names.is_empty() {
        out["name"] = names.into();
    }
    if !d.external_ids.is_empty() {
        out["identifier"] =
            d.external_ids.iter().map(|i| json!({"system": i.system, "value": i.value})).collect::<Vec<_>>().into();
    }
    if !telecom.is_empty() {
        out["telecom"] = telecom.into();
    }
    if let Some(birth) = d.birth_date {
        out["birthDate"] = json!(birth.to_string());
    }
    if let Some(address) = address(&d.address) {
        out["address"] = json!([address]);
    }
    if let Some(language) = &d.language {
        out["communication"] =
            json!([{"language": {"coding": [{"system": BCP47, "code": language.as_str()}]}, "preferred": true}]);
    }
    out
}

pub fn practitioner(p: &Provider) -> Value {
    let mut name = json!({"family": p.family_name, "given": [p.given_name]});
    if let Some(title) = &p.title {
        name["prefix"] = json!([title]);
    }
    let mut out = json!({
        "resourceType": "Practitioner",
        "id": p.id.to_string(),
        "meta": meta(p.version, p.updated_at),
        "active": true,
        "name": [name],
    });
    if let Some(npi) = &p.npi {
        out["identifier"] = json!([{"system": NPI_SYSTEM, "value": npi.as_str()}]);
    }
    out
}

pub fn location(l: &Location) -> Value {
    let mut out = json!({
        "resourceType": "Location",
        "id": l.id.to_string(),
        "meta": meta(l.version, l.updated_at),
        "extension": [{"url": TIMEZONE_EXTENSION, "valueCode": l.time_zone.as_str()}],
        "status": "active",
        "name": l.name,
        "managingOrganization": {"reference": format!("Organization/{}", l.organization_id)},
    });
    if let Some(phone) = &l.phone {
        out["telecom"] = json!([{"system": "phone", "value": phone.as_str()}]);
    }
    if let Some(address) = address(&l.address) {
        out["address"] = address;
    }
    out
}

pub fn organization(o: &Organization) -> Value {
    json!({
        "resourceType": "Organization",
        "id": o.id.to_string(),
        "meta": meta(o.version, o.updated_at),
        "active": true,
        "name": o.name,
    })
}

pub fn appointment(a: &Appointment) -> Value {
    let d = &a.details;
    let mut participants = vec![
        json!({"actor": {"reference": format!("Patient/{}", d.patient_id)}, "status": "accepted"}),
        json!({"actor": {"reference": format!("Location/{}", d.location_id)}, "status": "accepted"}),
    ];
    if let Some(provider) = d.provider_id {
        participants.push(json!({"actor": {"reference": format!("Practitioner/{provider}")}, "status": "accepted"}));
    }
    let minutes = d.end.duration_since(d.start).as_secs() / 60;
    let mut out = json!({
        "resourceType": "Appointment",
        "id": a.id.to_string(),
        "meta": meta(a.version, a.updated_at),
        "status": d.status.as_str(),
        "serviceType": [{"text": d.visit_type}],
        "start": instant(d.start),
        "end": instant(d.end),
        "participant": participants,
    });
    if minutes > 0 {
        out["minutesDuration"] = json!(minutes);
    }
    if let Some(source) = &d.source {
        out["identifier"] = json!([{"system": source.system, "value": source.value}]);
    }
    out
}
