//! FHIR writes of Patient and Appointment (and the helpers every write
//! shares; Practitioner and Location are `registry_writes`): create (`POST`, conditional
//! with `If-None-Exist: identifier=system|value`) and update (`PUT …/{id}`,
//! under `If-Match: W/"version"` when given). A resource is read as the
//! FHIR import reads it (`import::fhir::map`), so both ways in keep the
//! same things. A Patient update keeps what Rapport holds beyond FHIR
//! (preferences, quiet hours, consents, tags, caregivers), and identifiers
//! are only ever added (feeds find patients by them). An Appointment's
//! participants are this server's Patient, Location (or the organization's
//! only location) and Practitioner; its identifier is its source, so the
//! EHR that sent it finds it again; every write re-plans its reminders. An
//! appointment asked for without a time (proposed, pending or waitlist) is
//! kept as sent (`kept`), not booked.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use rapport_domain::{
    AppointmentDetails, AppointmentId, ExternalId, LocationId, OrganizationId, PatientDetails, PatientId, ProviderId,
};
use serde_json::Value;

use super::{base, fhir_json, id, resources};
use crate::AppState;
use crate::access::{Allowed, need};
use crate::error::ApiError;
use rapport_interop::import::fhir::map;
use rapport_store::StoreError;

/// The body as a resource of `kind`, or a 400 naming what is wrong.
pub(super) fn resource_of(headers: &HeaderMap, body: &Bytes, kind: &str) -> Result<Value, ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !matches!(essence, "application/fhir+json" | "application/json") {
        return Err(ApiError::InvalidQuery("the body must be application/fhir+json".into()));
    }
    let resource: Value =
        serde_json::from_slice(body).map_err(|_| ApiError::InvalidQuery("the body is not a JSON resource".into()))?;
    if resource["resourceType"] != kind {
        return Err(ApiError::InvalidQuery(format!("the body must be a {kind} resource")));
    }
    Ok(resource)
}

/// An update's body: a resource of `kind` whose id, if it has one, is the URL's.
pub(super) fn update_of(headers: &HeaderMap, body: &Bytes, kind: &str, raw: &str) -> Result<Value, ApiError> {
    let resource = resource_of(headers, body, kind)?;
    if resource.get("id").is_some_and(|body_id| body_id != raw) {
        return Err(ApiError::InvalidQuery("the body's id must be the id in the URL".into()));
    }
    Ok(resource)
}

/// A mapping's refusal (it starts with the element at fault) as a field error.
pub(super) fn refused(why: String) -> ApiError {
    let element = why.split_whitespace().next().unwrap_or("resource").to_owned();
    ApiError::field(element, why)
}

fn details_of(state: &AppState, resource: &Value) -> Result<PatientDetails, ApiError> {
    let today = state.store.clock().latest_today();
    map::patient_details(resource, today).map_err(refused)
}

/// A write's answer: the resource as read back, its version as ETag and
/// its place (`Location: …/{type}/{id}/_history/{version}`).
pub(super) fn written(headers: &HeaderMap, resource: Value, status: StatusCode) -> Response {
    let kind = resource["resourceType"].as_str().unwrap_or_default().to_owned();
    let id = resource["id"].as_str().unwrap_or_default().to_owned();
    let version = resource["meta"]["versionId"].as_str().unwrap_or_default().to_owned();
    let mut response = fhir_json(resource);
    *response.status_mut() = status;
    let place = format!("{}/{kind}/{id}/_history/{version}", base(headers));
    if let Ok(place) = HeaderValue::from_str(&place) {
        response.headers_mut().insert(header::LOCATION, place);
    }
    if let Ok(tag) = HeaderValue::from_str(&format!("W/\"{version}\"")) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    response
}

/// `If-None-Exist: identifier=system|value` as the identifier it names.
pub(super) fn none_exist(headers: &HeaderMap) -> Result<Option<ExternalId>, ApiError> {
    let Some(raw) = headers.get("if-none-exist") else { return Ok(None) };
    let refuse = || ApiError::InvalidQuery("If-None-Exist must be identifier=system|value".into());
    let query = raw.to_str().map_err(|_| refuse())?;
    let mut pairs = form_urlencoded::parse(query.trim_start_matches('?').as_bytes());
    let (Some((name, value)), None) = (pairs.next(), pairs.next()) else { return Err(refuse()) };
    let (system, value) = value.split_once('|').ok_or_else(refuse)?;
    if name != "identifier" || system.is_empty() || value.is_empty() {
        return Err(refuse());
    }
    Ok(Some(ExternalId { system: system.to_owned(), value: value.to_owned() }))
}

#[utoipa::path(post, path = "/fhir/Patient", tag = "fhir",
    responses((status = 201, description = "The Patient as created"),
        (status = 200, description = "If-None-Exist found it: the Patient that exists"),
        (status = 400, description = "An OperationOutcome: not a Patient, or a bad If-None-Exist"),
        (status = 409, description = "An OperationOutcome: an identifier another patient holds"),
        (status = 422, description = "An OperationOutcome naming the element at fault")))]
pub async fn create_patient(
    State(state): State<AppState>,
    access: Allowed<need::WritePatients>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let org = access.org();
    let resource = resource_of(&headers, &body, "Patient")?;
    let details = details_of(&state, &resource)?;
    if let Some(key) = none_exist(&headers)?
        && let Some(found) = state.store.find_patient_by_external_id(org, &key.system, &key.value).await?
    {
        let patient = state.store.get_patient(org, found).await?;
        return Ok(written(&headers, resources::patient(&patient), StatusCode::OK));
    }
    let patient = state.store.create_patient(org, &details).await?;
    Ok(written(&headers, resources::patient(&patient), StatusCode::CREATED))
}

#[utoipa::path(put, path = "/fhir/Patient/{id}", tag = "fhir", params(("id" = String, Path, description = "Patient id")),
    responses((status = 200, description = "The Patient as updated"),
        (status = 400, description = "An OperationOutcome: not a Patient, or another id in the body"),
        (status = 404, description = "An OperationOutcome"),
        (status = 412, description = "An OperationOutcome: If-Match names a version that is not the current one"),
        (status = 422, description = "An OperationOutcome naming the element at fault")))]
pub async fn update_patient(
    State(state): State<AppState>,
    access: Allowed<need::WritePatients>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let org = access.org();
    let resource = update_of(&headers, &body, "Patient", &raw)?;
    let patient_id: PatientId = id(&raw)?;
    let incoming = details_of(&state, &resource)?;
    let current = state.store.get_patient(org, patient_id).await?;
    let expected = if_match(&headers)?.unwrap_or(current.version);
    let mut details = current.details.clone();
    details.given_name = incoming.given_name;
    details.family_name = incoming.family_name;
    details.birth_date = incoming.birth_date;
    details.sex = incoming.sex;
    details.phones = incoming.phones;
    details.emails = incoming.emails;
    details.language = incoming.language.or(details.language);
    details.address = incoming.address;
    details.time_zone = incoming.time_zone.or(details.time_zone);
    for tag in incoming.tags {
        if !details.tags.contains(&tag) {
            details.tags.push(tag);
        }
    }
    for identifier in incoming.external_ids {
        if !details.external_ids.contains(&identifier) {
            details.external_ids.push(identifier);
        }
    }
    let patient = state.store.update_patient(org, patient_id, expected, &details).await?;
    Ok(written(&headers, resources::patient(&patient), StatusCode::OK))
}

/// `If-Match: W/"n"` as the version it names; `None` without one.
pub(super) fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(tag) = headers.get(header::IF_MATCH) else { return Ok(None) };
    let tag = tag.to_str().unwrap_or_default().trim();
    let version = tag.trim_start_matches("W/").trim_matches('"');
    version.parse().map(Some).map_err(|_| ApiError::InvalidQuery("If-Match must be W/\"version\"".into()))
}

/// An Appointment's details, its references resolved to this server's records.
async fn visit_of(state: &AppState, org: OrganizationId, resource: &Value) -> Result<AppointmentDetails, ApiError> {
    let fields = map::appointment(resource).map_err(refused)?;
    let refuse = |what: &str| ApiError::field("Appointment.participant", format!("must name a {what} of this server"));
    let local =
        |reference: &str, kind: &str| reference.strip_prefix(kind).and_then(|r| r.strip_prefix('/')).map(str::to_owned);
    let patient: PatientId =
        local(&fields.patient, "Patient").and_then(|p| p.parse().ok()).ok_or_else(|| refuse("Patient"))?;
    let location: LocationId = match fields.location.as_deref() {
        Some(reference) => {
            local(reference, "Location").and_then(|l| l.parse().ok()).ok_or_else(|| refuse("Location"))?
        }
        None => {
            let sites = state.store.list_locations(org, &rapport_store::PageRequest::first(2)).await?.items;
            match sites.as_slice() {
                [only] => only.id,
                _ => return Err(refuse("Location (the organization has several)")),
            }
        }
    };
    let provider: Option<ProviderId> = match fields.practitioner.as_deref() {
        Some(reference) => {
            Some(local(reference, "Practitioner").and_then(|p| p.parse().ok()).ok_or_else(|| refuse("Practitioner"))?)
        }
        None => None,
    };
    let identified = resource["identifier"].as_array().is_some_and(|ids| !ids.is_empty());
    let details = AppointmentDetails {
        patient_id: patient,
        provider_id: provider,
        location_id: location,
        start: fields.start,
        end: fields.end,
        visit_type: fields.visit_type,
        status: fields.status,
        source: identified.then_some(fields.source),
    };
    details.check_span().map_err(|e| ApiError::field("Appointment.end", e.to_string()))?;
    Ok(details)
}

/// An appointment asked for, with no time yet (a proposal, or a wish on
/// a waitlist with its `requestedPeriod`): kept as sent, not booked, so
/// nothing is reminded of it.
fn is_request(resource: &Value) -> bool {
    resource.get("start").is_none() && matches!(resource["status"].as_str(), Some("proposed" | "pending" | "waitlist"))
}

/// A store refusal of a visit's references, named as FHIR names them.
fn visit_refusal(error: StoreError) -> ApiError {
    match error {
        StoreError::UnknownReference { field } => {
            let what = match field.as_str() {
                f if f.contains("patient") => "Patient",
                f if f.contains("provider") => "Practitioner",
                _ => "Location",
            };
            ApiError::field("Appointment.participant", format!("the {what} is not a record of this organization"))
        }
        other => other.into(),
    }
}

#[utoipa::path(post, path = "/fhir/Appointment", tag = "fhir",
    responses((status = 201, description = "The Appointment as created (its reminders planned)"),
        (status = 200, description = "If-None-Exist found it: the Appointment that exists"),
        (status = 400, description = "An OperationOutcome: not an Appointment, or a bad If-None-Exist"),
        (status = 409, description = "An OperationOutcome: an identifier another visit holds"),
        (status = 422, description = "An OperationOutcome naming the element at fault")))]
pub async fn create_appointment(
    State(state): State<AppState>,
    access: Allowed<need::WriteAppointments>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let org = access.org();
    let resource = resource_of(&headers, &body, "Appointment")?;
    if is_request(&resource) {
        let actors = resource["participant"].as_array().into_iter().flatten();
        let patient = actors.filter_map(|p| p["actor"]["reference"].as_str()).find(|r| r.starts_with("Patient/"));
        let element = "Appointment.participant";
        let patient = super::kept::patient_of(patient, element)?;
        return super::kept::keep(&state, org, &headers, &resource, (patient, element), None).await;
    }
    let details = visit_of(&state, org, &resource).await?;
    if let Some(key) = none_exist(&headers)?
        && let Some(found) = state.store.find_appointment_by_source(org, &key).await?
    {
        let visit = state.store.get_appointment(org, found).await?;
        return Ok(written(&headers, resources::appointment(&visit), StatusCode::OK));
    }
    let visit = state.store.create_appointment(org, &details).await.map_err(visit_refusal)?;
    Ok(written(&headers, resources::appointment(&visit), StatusCode::CREATED))
}

#[utoipa::path(put, path = "/fhir/Appointment/{id}", tag = "fhir", params(("id" = String, Path, description = "Appointment id")),
    responses((status = 200, description = "The Appointment as updated (its reminders re-planned)"),
        (status = 400, description = "An OperationOutcome: not an Appointment, or another id in the body"),
        (status = 404, description = "An OperationOutcome"),
        (status = 412, description = "An OperationOutcome: If-Match names a version that is not the current one"),
        (status = 422, description = "An OperationOutcome naming the element at fault")))]
pub async fn update_appointment(
    State(state): State<AppState>,
    access: Allowed<need::WriteAppointments>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let org = access.org();
    let resource = update_of(&headers, &body, "Appointment", &raw)?;
    let visit_id: AppointmentId = id(&raw)?;
    let mut details = visit_of(&state, org, &resource).await?;
    let current = state.store.get_appointment(org, visit_id).await?;
    details.source = details.source.or(current.details.source.clone());
    let expected = if_match(&headers)?.unwrap_or(current.version);
    let visit = state.store.update_appointment(org, visit_id, expected, &details).await.map_err(visit_refusal)?;
    Ok(written(&headers, resources::appointment(&visit), StatusCode::OK))
}
