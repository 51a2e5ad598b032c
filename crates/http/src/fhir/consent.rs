//! The consent ledger as FHIR Consent: each entry is one Consent (read,
//! search by patient, newest first), and a Consent created here is one new
//! entry. Rapport's consents are about contacting the patient: one channel
//! (`provision.code` in Rapport's channel system) for one purpose
//! (`provision.purpose`, v3 ActReason: TREAT for care and reminders,
//! HMARKT for marketing, HRESCH for research), permitted or denied. A
//! Consent that speaks of contact at all (a code in Rapport's channel
//! system, or one of those purposes, anywhere in its provisions) must be
//! exactly that, or it is refused naming what it lacks: a contact consent
//! is never kept without being honoured. A Consent about something else
//! (sharing records, treatment, research access) has nothing for Rapport to
//! apply: it is kept as sent, tagged so (`kept`), and listed with the
//! patient's consents and in their `$everything`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use rapport_domain::{Channel, Consent, ConsentId, ConsentStatus, PatientId, Purpose, ValidationErrors};
use serde_json::{Value, json};

use super::resources::instant;
use super::search::Search;
use super::write::resource_of;
use super::{base, capability, fhir_json, found_or_none, id, kept, read_answer, reference};
use crate::AppState;
use crate::access::{Allowed, need};
use crate::error::ApiError;
use crate::query::QueryParams;
use rapport_store::{FhirRecordQuery, PageRequest, StoreError};

/// Rapport's code system for the ways it reaches a patient.
pub const CHANNEL_SYSTEM: &str = "https://rapport.dev/fhir/CodeSystem/channel";
const ACT_REASON: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
/// The ledger's source for an entry made through FHIR.
const FHIR_SOURCE: &str = "fhir";

fn purpose_code(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Transactional => "TREAT",
        Purpose::Marketing => "HMARKT",
        Purpose::Research => "HRESCH",
    }
}

/// A ledger entry as a Consent.
pub fn consent(c: &Consent) -> Value {
    let (kind, rule) = match c.status {
        ConsentStatus::Granted => ("permit", "OPTIN"),
        ConsentStatus::Revoked => ("deny", "OPTOUT"),
    };
    let mut out = json!({
        "resourceType": "Consent",
        "id": c.id.to_string(),
        "meta": {"versionId": "1", "lastUpdated": instant(c.recorded_at)},
        "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}], "text": "contact preferences"}],
        "patient": {"reference": format!("Patient/{}", c.patient_id)},
        "dateTime": instant(c.recorded_at),
        "policyRule": {"coding": [{"system": ACT_CODE, "code": rule}]},
        "provision": {
            "type": kind,
            "purpose": [{"system": ACT_REASON, "code": purpose_code(c.purpose)}],
            "code": [{"coding": [{"system": CHANNEL_SYSTEM, "code": c.channel.as_str()}]}],
        },
    });
    let source = match &c.evidence {
        Some(evidence) => format!("{}: {evidence}", c.source),
        None => c.source.clone(),
    };
    out["sourceAttachment"] = json!({"title": source});
    out
}

/// Whether a Consent speaks of contacting the patient anywhere in its
/// provisions: a code in Rapport's channel system, or a purpose it reads.
fn about_contact(provision: &Value) -> bool {
    match provision {
        Value::Object(fields) => {
            let (system, code) =
                (fields.get("system").and_then(Value::as_str), fields.get("code").and_then(Value::as_str));
            let ours = system == Some(CHANNEL_SYSTEM)
                || (system == Some(ACT_REASON) && Purpose::ALL.into_iter().any(|p| Some(purpose_code(p)) == code));
            ours || fields.values().any(about_contact)
        }
        Value::Array(items) => items.iter().any(about_contact),
        _ => false,
    }
}

/// A created Consent as the ledger entry it makes.
fn entry_of(resource: &Value, org: rapport_domain::OrganizationId) -> Result<Consent, ApiError> {
    let mut errors = ValidationErrors::new();
    if resource["status"] != "active" {
        errors.push("Consent.status", "must be active: a ledger entry takes effect when recorded");
    }
    let patient = resource["patient"]["reference"]
        .as_str()
        .and_then(|r| r.strip_prefix("Patient/"))
        .and_then(|p| p.parse::<PatientId>().ok());
    if patient.is_none() {
        errors.push("Consent.patient", "must reference a Patient of this server");
    }
    let provision = &resource["provision"];
    let status = match provision["type"].as_str() {
        Some("permit") => Some(ConsentStatus::Granted),
        Some("deny") => Some(ConsentStatus::Revoked),
        _ => {
            errors.push("Consent.provision.type", "must be permit or deny");
            None
        }
    };
    let codes = |key: &str| -> Vec<(String, String)> {
        let list = provision[key].as_array().cloned().unwrap_or_default();
        let codings = list.iter().flat_map(|c| c["coding"].as_array().cloned().unwrap_or_else(|| vec![c.clone()]));
        codings.filter_map(|c| Some((c["system"].as_str()?.to_owned(), c["code"].as_str()?.to_owned()))).collect()
    };
    let channels: Vec<Channel> =
        codes("code").iter().filter(|(s, _)| s == CHANNEL_SYSTEM).filter_map(|(_, c)| c.parse().ok()).collect();
    if channels.len() != 1 {
        errors.push(
            "Consent.provision.code",
            "must name one channel (sms, email, voice or push in https://rapport.dev/fhir/CodeSystem/channel): Rapport's consents are about contacting the patient",
        );
    }
    let purposes: Vec<Purpose> = codes("purpose")
        .iter()
        .filter(|(s, _)| s == ACT_REASON)
        .filter_map(|(_, c)| Purpose::ALL.into_iter().find(|p| purpose_code(*p) == c))
        .collect();
    if purposes.len() != 1 {
        errors.push("Consent.provision.purpose", "must name one purpose (v3 ActReason TREAT, HMARKT or HRESCH)");
    }
    let (Some(patient_id), Some(status), [channel], [purpose], true) =
        (patient, status, channels.as_slice(), purposes.as_slice(), errors.is_empty())
    else {
        return Err(ApiError::Validation(errors));
    };
    Ok(Consent {
        id: ConsentId::generate(),
        organization_id: org,
        patient_id,
        channel: *channel,
        purpose: *purpose,
        status,
        source: FHIR_SOURCE.into(),
        evidence: None,
        recorded_at: jiff::Timestamp::UNIX_EPOCH,
    })
}

#[utoipa::path(get, path = "/fhir/Consent/{id}", tag = "fhir", params(("id" = String, Path, description = "Consent id")),
    responses((status = 200, description = "A FHIR Consent"), (status = 404, description = "An OperationOutcome")))]
pub async fn read_consent(
    State(state): State<AppState>,
    access: Allowed<need::ReadConsents>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let org = access.org();
    if let Some(entry) = found_or_none(state.store.consent(org, id::<ConsentId>(&raw)?).await)? {
        return Ok(read_answer(consent(&entry)));
    }
    let record = state.store.fhir_record(org, "Consent", &raw).await?;
    Ok(read_answer(kept::resource(&record)))
}

#[utoipa::path(get, path = "/fhir/Consent", tag = "fhir",
    responses((status = 200, description = "A searchset Bundle of a patient's Consents, newest first"),
        (status = 400, description = "An OperationOutcome: no patient named")))]
pub async fn search_consents(
    State(state): State<AppState>,
    access: Allowed<need::ReadConsents>,
    headers: HeaderMap,
    params: QueryParams,
) -> Result<Response, ApiError> {
    let org = access.org();
    let search = Search::read(params, &capability::parameters("Consent"))?;
    if let Some(only) = search.get("_id") {
        let one = match only.parse::<ConsentId>() {
            Ok(id) => found_or_none(state.store.consent(org, id).await)?,
            Err(_) => None,
        };
        let mut found: Vec<Value> = one.iter().map(consent).collect();
        if found.is_empty() {
            found
                .extend(found_or_none(state.store.fhir_record(org, "Consent", only).await)?.iter().map(kept::resource));
        }
        return Ok(fhir_json(search.bundle(&base(&headers), "Consent", found, None)));
    }
    let Some(patient) = search.get("patient") else {
        return Err(ApiError::InvalidQuery("a Consent search names its patient (patient=…)".into()));
    };
    let patient: PatientId = reference(patient, "Patient")?;
    let ledger = match state.store.consent_history(org, patient).await {
        Err(StoreError::NotFound) => Vec::new(),
        other => other?,
    };
    let mut found: Vec<Value> = ledger.iter().rev().map(consent).collect();
    // Then the consents kept as sent, newest first (a patient has a few).
    let others = FhirRecordQuery { patient_id: Some(patient), ..FhirRecordQuery::default() };
    let page = PageRequest::first(PageRequest::MAX_LIMIT);
    let kept_ones = state.store.search_fhir_records(org, "Consent", &others, &page).await?;
    found.extend(kept_ones.items.iter().map(kept::resource));
    Ok(fhir_json(search.bundle(&base(&headers), "Consent", found, None)))
}

#[utoipa::path(put, path = "/fhir/Consent/{id}", tag = "fhir", params(("id" = String, Path, description = "Consent id")),
    responses((status = 200, description = "A Consent kept as sent, replaced"),
        (status = 404, description = "An OperationOutcome: none kept with this id (a ledger entry is never rewritten: record a new one)"),
        (status = 412, description = "An OperationOutcome")))]
pub async fn update_consent(
    State(state): State<AppState>,
    access: Allowed<need::WriteConsents>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    kept::update(&state, access.org(), &headers, "Consent", &raw, &body).await
}

#[utoipa::path(post, path = "/fhir/Consent", tag = "fhir",
    responses((status = 201, description = "The ledger's new entry, or a Consent about something else kept as sent"),
        (status = 400, description = "An OperationOutcome: not a Consent"),
        (status = 422, description = "An OperationOutcome naming what Rapport cannot read as a contact consent")))]
pub async fn create_consent(
    State(state): State<AppState>,
    access: Allowed<need::WriteConsents>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let resource = resource_of(&headers, &body, "Consent")?;
    if !about_contact(&resource["provision"]) {
        let element = "Consent.patient";
        let patient = kept::patient_of(resource["patient"]["reference"].as_str(), element)?;
        return kept::keep(&state, access.org(), &headers, &resource, (patient, element), None).await;
    }
    let entry = entry_of(&resource, access.org())?;
    let recorded = match state.store.record_consent(&entry).await {
        Err(StoreError::NotFound) => {
            return Err(ApiError::field("Consent.patient", "does not name a patient of this organization"));
        }
        other => other?,
    };
    let mut response = fhir_json(consent(&recorded));
    *response.status_mut() = StatusCode::CREATED;
    if let Ok(place) = HeaderValue::from_str(&format!("{}/Consent/{}", base(&headers), recorded.id)) {
        response.headers_mut().insert(header::LOCATION, place);
    }
    Ok(response)
}
