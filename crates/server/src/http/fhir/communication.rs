//! What passes between the practice and its patients, as FHIR: every
//! message Rapport planned or sent and every text a patient sent is a
//! Communication (read, and search by patient, newest first); a
//! CommunicationRequest asks Rapport to send one (create, read, search).
//! A request is a message like any other: consent, opt-outs, the patient's
//! hours and the rate limits apply, and its identifier is its idempotency
//! key, so a request posted twice sends once.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use jiff::Timestamp;
use rapport_domain::message::pace::Priority;
use rapport_domain::{
    AppointmentId, Channel, InboundTextId, Message, MessageClass, MessageId, MessagePlan, MessageState, OrganizationId,
    PatientId, ValidationErrors,
};
use serde_json::{Value, json};

use super::resources::instant;
use super::search::Search;
use super::write::resource_of;
use super::{base, capability, fhir_json, found_or_none, id, kept, read_answer, reference};
use crate::http::AppState;
use crate::http::access::{Allowed, need};
use crate::http::error::ApiError;
use crate::http::query::QueryParams;
use crate::store::{FhirRecordQuery, MessageQuery, ReceivedText, Said, StoreError};

const PARTICIPATION_MODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode";
/// A request's identifier, kept in its message's idempotency key.
pub(super) const REQUEST_KEY: &str = "fhir-request:";

fn meta(at: Timestamp) -> Value {
    json!({"versionId": "1", "lastUpdated": instant(at)})
}

/// The channel as a Communication's medium (v3 ParticipationMode where it
/// has a code; SMS and web push by name).
fn medium(channel: Channel) -> Value {
    match channel {
        Channel::Email => json!({"coding": [{"system": PARTICIPATION_MODE, "code": "EMAILWRIT"}], "text": "email"}),
        Channel::Voice => json!({"coding": [{"system": PARTICIPATION_MODE, "code": "PHONE"}], "text": "voice"}),
        Channel::Sms => json!({"text": "sms"}),
        Channel::Push => json!({"text": "push"}),
    }
}

/// A request's medium as the channel it pins, if it names one.
fn channel_of(medium: &Value) -> Option<Channel> {
    let code = medium["coding"].as_array().into_iter().flatten().find_map(|c| c["code"].as_str());
    match code {
        Some("EMAILWRIT") => return Some(Channel::Email),
        Some("PHONE") => return Some(Channel::Voice),
        Some("SMSWRIT") => return Some(Channel::Sms),
        _ => {}
    }
    medium["text"].as_str().and_then(|t| t.parse().ok())
}

/// A message as the Communication it is (or will be).
pub fn message_communication(m: &Message) -> Value {
    let patient = json!({"reference": format!("Patient/{}", m.plan.patient_id)});
    let (status, ended) = match m.state {
        MessageState::Planned => ("preparation", false),
        MessageState::Sending | MessageState::InDoubt => ("in-progress", false),
        MessageState::Sent | MessageState::Delivered | MessageState::Read => ("completed", false),
        MessageState::Failed | MessageState::Undeliverable | MessageState::Cancelled | MessageState::Suppressed => {
            ("not-done", true)
        }
    };
    let mut out = json!({
        "resourceType": "Communication",
        "id": m.id.to_string(),
        "meta": meta(m.sent_at.unwrap_or(m.created_at)),
        "status": status,
        "subject": patient,
        "recipient": [patient],
        "sender": {"reference": format!("Organization/{}", m.organization_id)},
    });
    if ended {
        out["statusReason"] = json!({"text": m.reason.clone().unwrap_or_else(|| m.state.as_str().to_owned())});
    }
    if let Some(channel) = m.channel.or(m.plan.channel) {
        out["medium"] = json!([medium(channel)]);
    }
    if let Some(sent) = m.sent_at {
        out["sent"] = json!(instant(sent));
    }
    if !m.plan.body.trim().is_empty() {
        out["payload"] = json!([{"contentString": m.plan.body}]);
    }
    if let Some(visit) = m.plan.appointment_id {
        out["about"] = json!([{"reference": format!("Appointment/{visit}")}]);
    }
    if m.plan.idempotency_key.starts_with(REQUEST_KEY) {
        out["basedOn"] = json!([{"reference": format!("CommunicationRequest/{}", m.id)}]);
    }
    out
}

/// A patient's text as the Communication it is (no subject while nobody
/// knows whose it is).
pub fn text_communication(t: &ReceivedText, org: &str) -> Value {
    let mut payload = Vec::new();
    if !t.body.trim().is_empty() {
        payload.push(json!({"contentString": t.body}));
    }
    for media in &t.media {
        let mut attachment = json!({"url": media.url});
        if let Some(kind) = &media.content_type {
            attachment["contentType"] = json!(kind);
        }
        payload.push(json!({"contentAttachment": attachment}));
    }
    let mut out = json!({
        "resourceType": "Communication",
        "id": t.id.to_string(),
        "meta": meta(t.received_at),
        "status": "completed",
        "recipient": [{"reference": format!("Organization/{org}")}],
        "medium": [medium(Channel::Sms)],
        "received": instant(t.received_at),
    });
    if let Some(patient) = t.patient_id {
        out["subject"] = json!({"reference": format!("Patient/{patient}")});
        out["sender"] = json!({"reference": format!("Patient/{patient}")});
    }
    if !payload.is_empty() {
        out["payload"] = payload.into();
    }
    if let Some(visit) = t.appointment_id {
        out["about"] = json!([{"reference": format!("Appointment/{visit}")}]);
    }
    out
}

/// A message asked for through FHIR as its CommunicationRequest.
pub fn message_request(m: &Message) -> Value {
    let patient = json!({"reference": format!("Patient/{}", m.plan.patient_id)});
    let status = match m.state {
        MessageState::Planned | MessageState::Sending | MessageState::InDoubt => "active",
        MessageState::Sent | MessageState::Delivered | MessageState::Read => "completed",
        MessageState::Failed | MessageState::Undeliverable | MessageState::Cancelled | MessageState::Suppressed => {
            "revoked"
        }
    };
    let mut out = json!({
        "resourceType": "CommunicationRequest",
        "id": m.id.to_string(),
        "meta": meta(m.created_at),
        "status": status,
        "subject": patient,
        "recipient": [patient],
        "authoredOn": instant(m.created_at),
        "occurrenceDateTime": instant(m.plan.due_at),
        "payload": [{"contentString": m.plan.body}],
    });
    if let Some((system, value)) = m.plan.idempotency_key.strip_prefix(REQUEST_KEY).and_then(|k| k.split_once('|')) {
        out["identifier"] = json!([{"system": system, "value": value}]);
    }
    if status == "revoked" {
        out["statusReason"] = json!({"text": m.reason.clone().unwrap_or_else(|| m.state.as_str().to_owned())});
    }
    if let Some(channel) = m.plan.channel {
        out["medium"] = json!([medium(channel)]);
    }
    if let Some(visit) = m.plan.appointment_id {
        out["about"] = json!([{"reference": format!("Appointment/{visit}")}]);
    }
    out
}

#[utoipa::path(get, path = "/fhir/Communication/{id}", tag = "fhir", params(("id" = String, Path, description = "Message or text id")),
    responses((status = 200, description = "A FHIR Communication"), (status = 404, description = "An OperationOutcome")))]
pub async fn read_communication(
    State(state): State<AppState>,
    access: Allowed<need::ReadMessages>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let org = access.org();
    if let Some(message) = found_or_none(state.store.message(org, id::<MessageId>(&raw)?).await)? {
        return Ok(read_answer(message_communication(&message)));
    }
    if let Some(text) = found_or_none(state.store.text_by_id(org, id::<InboundTextId>(&raw)?).await)? {
        return Ok(read_answer(text_communication(&text, &org.to_string())));
    }
    let record = state.store.fhir_record(org, "Communication", &raw).await?;
    Ok(read_answer(kept::resource(&record)))
}

/// One thing said, as a Communication.
pub(super) fn said_communication(said: &Said, org: OrganizationId) -> Value {
    match said {
        Said::Message(m) => message_communication(m),
        Said::Text(t) => text_communication(t, &org.to_string()),
        Said::Kept(r) => kept::resource(r),
    }
}

#[utoipa::path(put, path = "/fhir/Communication/{id}", tag = "fhir", params(("id" = String, Path, description = "Communication id")),
    responses((status = 200, description = "A Communication kept as sent, replaced"),
        (status = 404, description = "An OperationOutcome: none kept with this id (a message Rapport sent is not rewritten)"),
        (status = 412, description = "An OperationOutcome")))]
pub async fn update_communication(
    State(state): State<AppState>,
    access: Allowed<need::WriteMessages>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    kept::update(&state, access.org(), &headers, "Communication", &raw, &body).await
}

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

#[utoipa::path(post, path = "/fhir/Communication", tag = "fhir",
    responses((status = 201, description = "The Communication, kept as sent (said elsewhere; Rapport sends nothing)"),
        (status = 200, description = "If-None-Exist (identifier=system|value) found it"),
        (status = 422, description = "An OperationOutcome: a subject that is not a patient of this organization")))]
pub async fn create_communication(
    State(state): State<AppState>,
    access: Allowed<need::WriteMessages>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let resource = resource_of(&headers, &body, "Communication")?;
    let subject = "Communication.subject";
    let patient = kept::patient_of(resource["subject"]["reference"].as_str(), subject)?;
    kept::keep(&state, access.org(), &headers, &resource, (patient, subject), None).await
}

#[utoipa::path(get, path = "/fhir/Communication", tag = "fhir",
    responses((status = 200, description = "A searchset Bundle of Communications, newest first"),
        (status = 400, description = "An OperationOutcome")))]
pub async fn search_communications(
    State(state): State<AppState>,
    access: Allowed<need::ReadMessages>,
    headers: HeaderMap,
    params: QueryParams,
) -> Result<Response, ApiError> {
    let org = access.org();
    let search = Search::read(params, &capability::parameters("Communication"))?;
    if let Some(only) = search.get("_id") {
        let mut found = Vec::new();
        if let (Ok(message), Ok(text)) = (only.parse::<MessageId>(), only.parse::<InboundTextId>()) {
            if let Some(m) = found_or_none(state.store.message(org, message).await)? {
                found.push(message_communication(&m));
            } else if let Some(t) = found_or_none(state.store.text_by_id(org, text).await)? {
                found.push(text_communication(&t, &org.to_string()));
            } else if let Some(r) = found_or_none(state.store.fhir_record(org, "Communication", only).await)? {
                found.push(kept::resource(&r));
            }
        }
        return Ok(fhir_json(search.bundle(&base(&headers), "Communication", found, None)));
    }
    let patient = patient_parameter(&search)?;
    let page = state.store.communications(org, patient, &search.page).await?;
    let found = page.items.iter().map(|said| said_communication(said, org)).collect();
    Ok(fhir_json(search.bundle(&base(&headers), "Communication", found, page.next_cursor)))
}

/// `patient` or `subject` (`Patient/…`), if given.
fn patient_parameter(search: &Search) -> Result<Option<PatientId>, ApiError> {
    search.get("patient").or(search.get("subject")).map(|raw| reference(raw, "Patient")).transpose()
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
