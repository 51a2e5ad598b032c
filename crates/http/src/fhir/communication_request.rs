//! CommunicationRequest: asking Rapport to send a patient something
//! (create, read, search, with those kept as sent). A request is a message
//! like any other: consent, opt-outs, the patient's hours and the rate
//! limits apply, and its identifier is its idempotency key, so a request
//! posted twice sends once. One that is not for Rapport to send (another
//! recipient, no words) is kept as sent.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use jiff::Timestamp;
use rapport_domain::message::pace::Priority;
use rapport_domain::{AppointmentId, Message, MessageClass, MessageId, MessagePlan, PatientId, ValidationErrors};
use serde_json::Value;

use super::communication::{REQUEST_KEY, channel_of, message_request, patient_parameter};
use super::search::Search;
use super::write::resource_of;
use super::{base, capability, fhir_json, found_or_none, id, kept, read_answer};
use crate::AppState;
use crate::access::{Allowed, need};
use crate::error::ApiError;
use crate::query::QueryParams;
use rapport_store::{FhirRecordQuery, MessageQuery, StoreError};

#[utoipa::path(put, path = "/fhir/CommunicationRequest/{id}", tag = "fhir", params(("id" = String, Path, description = "Request id")),
    responses((status = 200, description = "A request kept as sent, replaced"),
        (status = 404, description = "An OperationOutcome: none kept with this id (one Rapport planned is not rewritten)"),
        (status = 412, description = "An OperationOutcome")))]
pub async fn update_request(
    State(state): State<AppState>,
    access: Allowed<need::WriteMessages>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    kept::update(&state, access.org(), &headers, "CommunicationRequest", &raw, &body).await
}

#[utoipa::path(get, path = "/fhir/CommunicationRequest/{id}", tag = "fhir", params(("id" = String, Path, description = "Request id")),
    responses((status = 200, description = "A FHIR CommunicationRequest"), (status = 404, description = "An OperationOutcome")))]
pub async fn read_request(
    State(state): State<AppState>,
    access: Allowed<need::ReadMessages>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let org = access.org();
    let message = found_or_none(state.store.message(org, id::<MessageId>(&raw)?).await)?;
    if let Some(message) = message.filter(|m| m.plan.idempotency_key.starts_with(REQUEST_KEY)) {
        return Ok(read_answer(message_request(&message)));
    }
    let record = state.store.fhir_record(org, "CommunicationRequest", &raw).await?;
    Ok(read_answer(kept::resource(&record)))
}

#[utoipa::path(get, path = "/fhir/CommunicationRequest", tag = "fhir",
    responses((status = 200, description = "A searchset Bundle of CommunicationRequests, newest first"),
        (status = 400, description = "An OperationOutcome")))]
pub async fn search_requests(
    State(state): State<AppState>,
    access: Allowed<need::ReadMessages>,
    headers: HeaderMap,
    params: QueryParams,
) -> Result<Response, ApiError> {
    let org = access.org();
    let search = Search::read(params, &capability::parameters("CommunicationRequest"))?;
    let requested = |m: &Message| m.plan.idempotency_key.starts_with(REQUEST_KEY);
    if let Some(only) = search.get("_id") {
        let one = match only.parse::<MessageId>() {
            Ok(id) => found_or_none(state.store.message(org, id).await)?.filter(requested),
            Err(_) => None,
        };
        let mut found: Vec<Value> = one.iter().map(message_request).collect();
        if found.is_empty() {
            let record = found_or_none(state.store.fhir_record(org, "CommunicationRequest", only).await)?;
            found.extend(record.iter().map(kept::resource));
        }
        return Ok(fhir_json(search.bundle(&base(&headers), "CommunicationRequest", found, None)));
    }
    let patient = patient_parameter(&search)?;
    let query = MessageQuery { patient, key_prefix: Some(REQUEST_KEY.into()), ..Default::default() };
    let asked = state.store.messages(org, &query, &search.page).await?;
    let others = FhirRecordQuery { patient_id: patient, ..FhirRecordQuery::default() };
    let kept = state.store.search_fhir_records(org, "CommunicationRequest", &others, &search.page).await?;
    // Both sources have time-ordered ids: newest first, one cursor.
    let more = asked.next_cursor.is_some() || kept.next_cursor.is_some();
    let mut found: Vec<(String, Value)> = asked.items.iter().map(|m| (m.id.to_string(), message_request(m))).collect();
    found.extend(kept.items.iter().map(|r| (r.id.clone(), kept::resource(r))));
    found.sort_by(|a, b| b.0.cmp(&a.0));
    let limit = search.page.limit;
    let next =
        (more || found.len() > limit).then(|| found.get(limit.min(found.len()) - 1).map(|f| f.0.clone())).flatten();
    found.truncate(limit);
    let found = found.into_iter().map(|(_, resource)| resource).collect();
    Ok(fhir_json(search.bundle(&base(&headers), "CommunicationRequest", found, next)))
}

/// Whether a request asks Rapport to say something to the patient: words
/// to say (a `contentString`), and no recipient but the patient. Any other
/// (a payer asking a practice for papers, a request with nothing to say)
/// is kept as sent, not carried out.
fn for_the_patient(resource: &Value) -> bool {
    let words = resource["payload"].as_array().into_iter().flatten().any(|p| p["contentString"].is_string());
    let recipients = resource["recipient"].as_array().map(Vec::as_slice).unwrap_or_default();
    words && recipients.iter().all(|r| r["reference"].as_str().is_some_and(|r| r.starts_with("Patient/")))
}

/// A CommunicationRequest read as the message it asks for.
fn plan_of(resource: &Value, now: Timestamp) -> Result<MessagePlan, ApiError> {
    let mut errors = ValidationErrors::new();
    if resource["status"] != "active" {
        errors.push("CommunicationRequest.status", "must be active: Rapport sends what is asked of it");
    }
    let identifier = resource["identifier"].as_array().into_iter().flatten().find_map(|i| {
        let (system, value) = (i["system"].as_str()?.trim(), i["value"].as_str()?.trim());
        (!system.is_empty() && !value.is_empty() && !system.contains('|')).then(|| format!("{system}|{value}"))
    });
    if identifier.is_none() {
        errors.push("CommunicationRequest.identifier", "needs a system and a value: a request posted twice sends once");
    }
    let to = resource["subject"]["reference"].as_str().or(resource["recipient"][0]["reference"].as_str());
    let patient = to.and_then(|r| r.strip_prefix("Patient/")).and_then(|p| p.parse::<PatientId>().ok());
    if patient.is_none() {
        errors.push("CommunicationRequest.subject", "must reference a Patient of this server");
    }
    let words = resource["payload"].as_array().into_iter().flatten().find_map(|p| p["contentString"].as_str());
    let body = words.map(str::trim).unwrap_or("").to_owned();
    if body.is_empty() || body.chars().count() > 1600 {
        errors.push("CommunicationRequest.payload", "needs a contentString of 1 to 1,600 characters");
    }
    let channel = resource["medium"].as_array().and_then(|m| m.first()).map(channel_of);
    if channel == Some(None) {
        errors.push("CommunicationRequest.medium", "must be sms, email (EMAILWRIT), voice (PHONE) or push");
    }
    let due_at = match resource["occurrenceDateTime"].as_str().map(str::parse::<Timestamp>) {
        None => now,
        Some(Ok(at)) => at.max(now),
        Some(Err(_)) => {
            errors.push("CommunicationRequest.occurrenceDateTime", "must be an instant with its offset");
            now
        }
    };
    let about = resource["about"].as_array().into_iter().flatten().find_map(|a| a["reference"].as_str());
    let appointment = match about.map(|r| r.strip_prefix("Appointment/").and_then(|a| a.parse::<AppointmentId>().ok()))
    {
        Some(None) => {
            errors.push("CommunicationRequest.about", "may only reference an Appointment of this server");
            None
        }
        other => other.flatten(),
    };
    let marketing = resource["category"].as_array().into_iter().flatten().any(|c| {
        c["text"] == "marketing" || c["coding"].as_array().into_iter().flatten().any(|k| k["code"] == "marketing")
    });
    let (Some(patient_id), Some(key), true) = (patient, identifier, errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let class = if marketing { MessageClass::Marketing } else { MessageClass::Transactional };
    Ok(MessagePlan {
        patient_id,
        class,
        idempotency_key: format!("{REQUEST_KEY}{key}"),
        subject: None,
        body,
        template: None,
        appointment_id: appointment,
        priority: Priority::default_for(class),
        media: Vec::new(),
        channel: channel.flatten(),
        to: None,
        due_at,
        expires_at: None,
    })
}

#[utoipa::path(post, path = "/fhir/CommunicationRequest", tag = "fhir",
    responses((status = 201, description = "The request, planned as a message"),
        (status = 200, description = "Asked before under this identifier: the request as it stands"),
        (status = 400, description = "An OperationOutcome: not a CommunicationRequest"),
        (status = 422, description = "An OperationOutcome naming the element at fault")))]
pub async fn create_request(
    State(state): State<AppState>,
    access: Allowed<need::WriteMessages>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let resource = resource_of(&headers, &body, "CommunicationRequest")?;
    if !for_the_patient(&resource) {
        let subject = "CommunicationRequest.subject";
        let patient = kept::patient_of(resource["subject"]["reference"].as_str(), subject)?;
        return kept::keep(&state, access.org(), &headers, &resource, (patient, subject), None).await;
    }
    let plan = plan_of(&resource, state.store.clock().now())?;
    let (message, created) = match state.store.plan_message(access.org(), &plan).await {
        Err(StoreError::UnknownReference { field }) => {
            let element = if field.contains("appointment") { "about" } else { "subject" };
            return Err(ApiError::field(
                format!("CommunicationRequest.{element}"),
                "does not name a record of this organization",
            ));
        }
        other => other?,
    };
    let mut response = fhir_json(message_request(&message));
    *response.status_mut() = if created { StatusCode::CREATED } else { StatusCode::OK };
    let place = format!("{}/CommunicationRequest/{}", base(&headers), message.id);
    if let Ok(place) = HeaderValue::from_str(&place) {
        response.headers_mut().insert(header::LOCATION, place);
    }
    Ok(response)
}
