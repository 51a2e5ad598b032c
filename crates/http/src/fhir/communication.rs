//! What passes between the practice and its patients, as FHIR: every
//! message Rapport planned or sent and every text a patient sent is a
//! Communication (read, and search by patient, newest first, with those
//! said elsewhere and kept as sent); `communication_request` asks Rapport
//! to send one.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use jiff::Timestamp;
use rapport_domain::{Channel, InboundTextId, Message, MessageId, MessageState, OrganizationId, PatientId};
use serde_json::{Value, json};

use super::resources::instant;
use super::search::Search;
use super::write::resource_of;
use super::{base, capability, fhir_json, found_or_none, id, kept, read_answer, reference};
use crate::AppState;
use crate::access::{Allowed, need};
use crate::error::ApiError;
use crate::query::QueryParams;
use rapport_store::{ReceivedText, Said};

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
pub(super) fn channel_of(medium: &Value) -> Option<Channel> {
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
pub(super) fn patient_parameter(search: &Search) -> Result<Option<PatientId>, ApiError> {
    search.get("patient").or(search.get("subject")).map(|raw| reference(raw, "Patient")).transpose()
}
