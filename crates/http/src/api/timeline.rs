//! What a patient said and was sent, for staff: a visit's answers
//! (`/appointments/{id}/answers`), a patient's texts (`/patients/{id}/texts`)
//! and their timeline (`/patients/{id}/timeline`: messages sent, texts
//! received and answers given, newest first).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use rapport_domain::{AppointmentId, OrganizationId, PatientId};
use serde::Serialize;
use utoipa::ToSchema;

use super::ListView;
use crate::AppState;
use crate::access::{Allowed, need};
use crate::error::{ApiError, Problem};
use crate::extract::path_id;
use rapport_store::{MessageQuery, PageRequest, ReceivedText, Store, VisitAnswer};

#[derive(Debug, Serialize, ToSchema)]
pub struct AnswerView {
    pub id: String,
    /// confirm, cancel or reschedule.
    pub answer: String,
    /// How it came: sms, voice (the keypad) or email (a link).
    pub channel: String,
    /// The visit's version it answered.
    pub appointment_version: i64,
    pub message_id: String,
    pub text_id: Option<String>,
    pub answered_at: String,
}

impl From<&VisitAnswer> for AnswerView {
    fn from(a: &VisitAnswer) -> Self {
        Self {
            id: a.id.to_string(),
            answer: a.answer.as_str().into(),
            channel: a.channel.as_str().into(),
            appointment_version: a.appointment_version,
            message_id: a.message_id.to_string(),
            text_id: a.inbound_id.map(|i| i.to_string()),
            answered_at: a.answered_at.to_string(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TextView {
    pub id: String,
    pub from: String,
    pub body: String,
    pub received_at: String,
    /// The visit it answered, if it did.
    pub appointment_id: Option<String>,
    /// answered, unclear, to_read or keyword; null while being taken.
    pub outcome: Option<String>,
    /// An MMS's attachments, as the provider's links.
    pub media: Vec<MediaView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MediaView {
    /// The provider's link.
    pub url: String,
    pub content_type: Option<String>,
    /// Rapport keeps a copy: `GET /texts/{text id}/media/{position}` (from 0).
    pub stored: bool,
}

impl From<&ReceivedText> for TextView {
    fn from(t: &ReceivedText) -> Self {
        Self {
            id: t.id.to_string(),
            from: t.from.clone(),
            body: t.body.clone(),
            received_at: t.received_at.to_string(),
            appointment_id: t.appointment_id.map(|a| a.to_string()),
            outcome: t.outcome.map(|o| o.as_str().into()),
            media: t
                .media
                .iter()
                .map(|m| MediaView { url: m.url.clone(), content_type: m.content_type.clone(), stored: m.stored })
                .collect(),
        }
    }
}

/// A visit's answers from its patient, oldest first.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/appointments/{id}/answers", tag = "appointments",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Appointment id")),
    responses((status = 200, body = ListView<AnswerView>), (status = 404, body = Problem)))]
pub async fn answers(
    State(state): State<AppState>,
    access: Allowed<need::ReadAppointments>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id: AppointmentId = path_id(&id)?;
    let visit = state.store.get_appointment(access.org(), id).await?;
    let items = state.store.visit_answers(access.org(), visit.id).await?.iter().map(AnswerView::from).collect();
    Ok(axum::Json(ListView { items, next_cursor: None }).into_response())
}

/// A patient's texts to the practice, newest first (the last 200).
#[utoipa::path(get, path = "/api/v1/organizations/{org}/patients/{id}/texts", tag = "messages",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Patient id")),
    responses((status = 200, body = ListView<TextView>), (status = 404, body = Problem)))]
pub async fn texts(
    State(state): State<AppState>,
    access: Allowed<need::ReadMessages>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id: PatientId = path_id(&id)?;
    let patient = state.store.get_patient(access.org(), id).await?;
    let items = state.store.patient_texts(access.org(), patient.id).await?.iter().map(TextView::from).collect();
    Ok(axum::Json(ListView { items, next_cursor: None }).into_response())
}

/// One event of a patient's timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineItem {
    pub at: String,
    /// message (sent or planned to the patient), text (from the patient) or answer.
    pub kind: String,
    /// The message's, text's or answer's id.
    pub id: String,
    pub appointment_id: Option<String>,
    /// A message's state and template, a text's outcome, or the answer and its channel.
    pub summary: String,
}

/// A patient's timeline, newest first: up to 200 of each kind of event.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/patients/{id}/timeline", tag = "messages",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Patient id")),
    responses((status = 200, body = ListView<TimelineItem>), (status = 404, body = Problem)))]
pub async fn timeline(
    State(state): State<AppState>,
    access: Allowed<need::ReadMessages>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let org = access.org();
    let patient = state.store.get_patient(org, path_id::<PatientId>(&id)?).await?.id;
    let items = timeline_items(&state.store, org, patient).await?;
    Ok(axum::Json(ListView { items, next_cursor: None }).into_response())
}

/// A patient's timeline, newest first: up to 200 of each kind of event.
pub async fn timeline_items(
    store: &Store,
    org: OrganizationId,
    patient: PatientId,
) -> Result<Vec<TimelineItem>, ApiError> {
    let query = MessageQuery { patient: Some(patient), ..MessageQuery::default() };
    let messages = store.messages(org, &query, &PageRequest::first(200)).await?.items;
    let texts = store.patient_texts(org, patient).await?;
    let answers = store.patient_answers(org, patient).await?;
    let mut items: Vec<(jiff::Timestamp, TimelineItem)> = Vec::new();
    for m in &messages {
        let at = m.sent_at.unwrap_or(m.created_at);
        let what = m.plan.template.as_ref().map_or("words as written", |t| t.as_str());
        let by = m.channel.map_or(String::new(), |c| format!(" by {}", c.as_str()));
        let summary = format!("{}{by}: {what}", m.state.as_str());
        let id = m.id.to_string();
        let appointment_id = m.plan.appointment_id.map(|a| a.to_string());
        items.push((at, TimelineItem { at: at.to_string(), kind: "message".into(), id, appointment_id, summary }));
    }
    for t in &texts {
        let summary = t.outcome.map_or("being taken", |o| o.as_str()).to_owned();
        let item = TimelineItem {
            at: t.received_at.to_string(),
            kind: "text".into(),
            id: t.id.to_string(),
            appointment_id: t.appointment_id.map(|a| a.to_string()),
            summary,
        };
        items.push((t.received_at, item));
    }
    for a in &answers {
        let item = TimelineItem {
            at: a.answered_at.to_string(),
            kind: "answer".into(),
            id: a.id.to_string(),
            appointment_id: Some(a.appointment_id.to_string()),
            summary: format!("{} by {}", a.answer.as_str(), a.channel.as_str()),
        };
        items.push((a.answered_at, item));
    }
    items.sort_by_key(|item| std::cmp::Reverse(item.0));
    Ok(items.into_iter().map(|(_, item)| item).collect())
}
