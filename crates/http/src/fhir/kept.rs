//! Resources Rapport keeps as they were sent without acting on them (an
//! organization other than the tenant, a Communication that happened
//! elsewhere, a request that is not Rapport's to carry out, a consent about
//! something else than contacting the patient). Each reads back as sent,
//! with this server's id and a `meta.tag` saying it is kept, not acted on,
//! so no one takes it for a consent honoured or a message sent.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use rapport_domain::{ExternalId, OrganizationId, PatientId};
use serde_json::{Value, json};

use super::resources::instant;
use super::write::{if_match, none_exist, written};
use crate::AppState;
use crate::error::ApiError;
use rapport_store::{FhirRecord, FhirRecordQuery, PageRequest, StoreError};

pub const HANDLING: &str = "https://rapport.dev/fhir/CodeSystem/handling";

/// The kept record as FHIR: its body, this server's id, the version and the tag.
pub fn resource(record: &FhirRecord) -> Value {
    let mut out = record.body.clone();
    out["resourceType"] = json!(record.resource_type);
    out["id"] = json!(record.id);
    out["meta"] = json!({
        "versionId": record.version.to_string(),
        "lastUpdated": instant(record.updated_at),
        "tag": [{"system": HANDLING, "code": "kept", "display": "Kept as sent; Rapport does not act on it"}],
    });
    out
}

/// The first identifier with both a system and a value.
pub fn first_identifier(resource: &Value) -> Option<ExternalId> {
    let list = match &resource["identifier"] {
        Value::Array(list) => list.clone(),
        one @ Value::Object(_) => vec![one.clone()],
        _ => Vec::new(),
    };
    list.iter().find_map(|i| {
        let (system, value) = (i["system"].as_str()?, i["value"].as_str()?);
        Some(ExternalId { system: system.to_owned(), value: value.to_owned() })
    })
}

/// The patient a reference names: `Patient/{id}` must be one of this
/// server's (else a refusal naming `element`); a contained (`#…`) or
/// absent reference names none.
pub fn patient_of(reference: Option<&str>, element: &str) -> Result<Option<PatientId>, ApiError> {
    match reference {
        None => Ok(None),
        Some(r) if r.starts_with('#') => Ok(None),
        Some(r) => r
            .strip_prefix("Patient/")
            .and_then(|id| id.parse().ok())
            .map(Some)
            .ok_or_else(|| ApiError::field(element, "must reference a Patient of this server")),
    }
}

/// The body to keep: the resource without its id and meta.
fn body_of(resource: &Value) -> Value {
    let mut body = resource.clone();
    if let Some(object) = body.as_object_mut() {
        object.remove("id");
        object.remove("meta");
    }
    body
}

fn refusal(error: StoreError, element: &str) -> ApiError {
    match error {
        StoreError::UnknownReference { .. } => ApiError::field(element, "does not name a patient of this organization"),
        other => other.into(),
    }
}

/// Keeps a created resource (found again by `If-None-Exist`, 200), about
/// `patient` (its reference element, for a refusal), named `name`.
pub async fn keep(
    state: &AppState,
    org: OrganizationId,
    headers: &HeaderMap,
    resource: &Value,
    patient: (Option<PatientId>, &str),
    name: Option<String>,
) -> Result<Response, ApiError> {
    let kind = resource["resourceType"].as_str().unwrap_or_default().to_owned();
    if let Some(key) = none_exist(headers)? {
        let query = FhirRecordQuery { identifier: Some(key), ..FhirRecordQuery::default() };
        let found = state.store.search_fhir_records(org, &kind, &query, &PageRequest::first(1)).await?.items;
        if let Some(existing) = found.first() {
            return Ok(written(headers, self::resource(existing), StatusCode::OK));
        }
    }
    let record = FhirRecord {
        id: uuid::Uuid::now_v7().to_string(),
        resource_type: kind,
        patient_id: patient.0,
        identifier: first_identifier(resource),
        name,
        body: body_of(resource),
        version: 1,
        updated_at: state.store.clock().now(),
    };
    let kept = state.store.keep_fhir_record(org, &record).await.map_err(|e| refusal(e, patient.1))?;
    Ok(written(headers, self::resource(&kept), StatusCode::CREATED))
}

/// `PUT {kind}/{id}`: a kept resource replaced (its patient and identifier
/// stay); one of Rapport's own records of the type is history it wrote
/// (a message, a ledger entry), refused naming the id.
pub async fn update(
    state: &AppState,
    org: OrganizationId,
    headers: &HeaderMap,
    kind: &str,
    raw: &str,
    body: &axum::body::Bytes,
) -> Result<Response, ApiError> {
    let resource = super::write::update_of(headers, body, kind, raw)?;
    match state.store.fhir_record(org, kind, raw).await {
        Ok(current) => replace(state, org, headers, current, &resource, None).await,
        Err(StoreError::NotFound) => Err(ApiError::NotFoundBecause(format!(
            "no {kind} kept as sent has this id; what Rapport itself sent or recorded is not rewritten"
        ))),
        Err(other) => Err(other.into()),
    }
}

/// Replaces a kept resource's body under `If-Match` (its patient and
/// identifier stay what they were).
pub async fn replace(
    state: &AppState,
    org: OrganizationId,
    headers: &HeaderMap,
    mut current: FhirRecord,
    resource: &Value,
    name: Option<String>,
) -> Result<Response, ApiError> {
    let expected = if_match(headers)?.unwrap_or(current.version);
    current.body = body_of(resource);
    current.name = name;
    let kept = state.store.replace_fhir_record(org, &current, expected).await?;
    Ok(written(headers, self::resource(&kept), StatusCode::OK))
}
