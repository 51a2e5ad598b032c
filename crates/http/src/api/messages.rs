//! `/organizations/{org}/messages` and `/outbox`: plan a message, follow it
//! with its decision trace, cancel it; read what the log channel "sent".

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rapport_domain::message::pace::Priority;
use rapport_domain::message::template::TemplateKind;
use rapport_domain::{
    AppointmentId, Message, MessageClass, MessageId, MessagePlan, MessageState, OrganizationId, PatientId,
    ValidationErrors,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ListView, about_patient};
use crate::AppState;
use crate::access::{Allowed, need};
use crate::error::{ApiError, Problem};
use crate::extract::{JsonBody, path_id};
use crate::query::QueryParams;
use rapport_store::{MessageQuery, OutboxEntry, Settle};

/// A message to plan.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageInput {
    pub patient_id: String,
    /// transactional, care or marketing: decides the consents, hours and caps that apply.
    pub class: String,
    /// Unique per organization: planning the same key again answers the first message (200, not 201).
    pub idempotency_key: String,
    /// The words as written (with `subject` for email); or give `template`.
    pub subject: Option<String>,
    pub body: Option<String>,
    /// A template kind (`appointment_reminder` …) instead of `body`: composed at
    /// hand-off in the patient's language for the channel chosen.
    pub template: Option<String>,
    /// The visit it is about (required when its template speaks of one).
    pub appointment_id: Option<String>,
    /// reply, timely or bulk: who goes first when senders are busy (default:
    /// bulk for marketing, timely otherwise; reply is for answers to a patient).
    pub priority: Option<String>,
    /// Up to 10 HTTPS links to images or PDFs: sent as an MMS by text, as links in an email.
    pub media_urls: Option<Vec<String>>,
    /// Not before (RFC 3339); default now.
    pub due_at: Option<String>,
    /// Not after: a message that cannot go by then is suppressed.
    pub expires_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    pub id: String,
    pub patient_id: String,
    pub class: String,
    pub idempotency_key: String,
    /// planned, sending, in_doubt, sent, delivered, read, failed, undeliverable, cancelled or suppressed.
    pub state: String,
    pub channel: Option<String>,
    pub reason: Option<String>,
    pub subject: Option<String>,
    /// Empty for a templated message until it is composed at hand-off.
    pub body: String,
    pub template: Option<String>,
    pub appointment_id: Option<String>,
    /// The language of a templated message, once composed.
    pub language: Option<String>,
    /// reply, timely or bulk.
    pub priority: String,
    pub media_urls: Vec<String>,
    pub due_at: String,
    pub expires_at: Option<String>,
    pub sent_at: Option<String>,
    pub created_at: String,
    /// Why it went (or did not) the way it did, oldest first; on a single message only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<Vec<String>>,
}

impl From<&Message> for MessageView {
    fn from(m: &Message) -> Self {
        Self {
            id: m.id.to_string(),
            patient_id: m.plan.patient_id.to_string(),
            class: m.plan.class.as_str().to_owned(),
            idempotency_key: m.plan.idempotency_key.clone(),
            state: m.state.as_str().to_owned(),
            channel: m.channel.map(|c| c.as_str().to_owned()),
            reason: m.reason.clone(),
            subject: m.plan.subject.clone(),
            body: m.plan.body.clone(),
            template: m.plan.template.as_ref().map(|k| k.as_str().to_owned()),
            appointment_id: m.plan.appointment_id.map(|a| a.to_string()),
            language: m.language.as_ref().map(|l| l.as_str().to_owned()),
            priority: m.plan.priority.as_str().to_owned(),
            media_urls: m.plan.media.clone(),
            due_at: m.plan.due_at.to_string(),
            expires_at: m.plan.expires_at.map(|t| t.to_string()),
            sent_at: m.sent_at.map(|t| t.to_string()),
            created_at: m.created_at.to_string(),
            trace: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxView {
    pub message_id: String,
    pub channel: String,
    pub address: String,
    pub subject: Option<String>,
    pub body: String,
    pub created_at: String,
}

impl From<&OutboxEntry> for OutboxView {
    fn from(e: &OutboxEntry) -> Self {
        Self {
            message_id: e.message_id.to_string(),
            channel: e.channel.as_str().to_owned(),
            address: e.address.clone(),
            subject: e.subject.clone(),
            body: e.body.clone(),
            created_at: e.created_at.to_string(),
        }
    }
}

fn into_plan(input: MessageInput, now: jiff::Timestamp) -> Result<MessagePlan, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let patient_id = input.patient_id.parse::<PatientId>().map_err(|_| errors.push("patient_id", "is not an id")).ok();
    let class = input.class.parse::<MessageClass>().map_err(|e| errors.push("class", e.to_string())).ok();
    let mut instant = |field: &str, raw: Option<&String>| match raw.map(|r| r.parse::<jiff::Timestamp>()) {
        None => None,
        Some(Ok(at)) => Some(at),
        Some(Err(_)) => {
            errors.push(field, "is not an RFC 3339 instant");
            None
        }
    };
    let due_at = instant("due_at", input.due_at.as_ref()).unwrap_or(now);
    let expires_at = instant("expires_at", input.expires_at.as_ref());
    let key = input.idempotency_key.trim().to_owned();
    if key.is_empty() || key.len() > 200 {
        errors.push("idempotency_key", "must be 1 to 200 characters");
    }
    let template = input
        .template
        .as_deref()
        .and_then(|raw| TemplateKind::parse(raw).map_err(|e| errors.push("template", e.to_string())).ok());
    let appointment_id = input
        .appointment_id
        .as_deref()
        .and_then(|raw| raw.parse::<AppointmentId>().map_err(|_| errors.push("appointment_id", "is not an id")).ok());
    let priority = input
        .priority
        .as_deref()
        .and_then(|raw| raw.parse::<Priority>().map_err(|e| errors.push("priority", e.to_string())).ok());
    let media = input.media_urls.unwrap_or_default();
    if media.len() > 10 {
        errors.push("media_urls", "holds at most 10 links");
    }
    for (i, url) in media.iter().enumerate() {
        let bare = url.strip_prefix("https://").unwrap_or_default();
        if bare.is_empty() || url.len() > 2000 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            errors.push(format!("media_urls[{i}]"), "is not an https:// link of at most 2000 characters");
        }
    }
    let body = input.body.unwrap_or_default();
    match (&input.template, body.trim().is_empty()) {
        (None, true) => errors.push("body", "is required (or give a template)"),
        (Some(_), false) => errors.push("body", "cannot go with a template: its words come from the template"),
        (Some(_), true) if input.subject.is_some() => {
            errors.push("subject", "cannot go with a template: its words come from the template");
        }
        _ => {}
    }
    if expires_at.is_some_and(|at| at <= due_at) {
        errors.push("expires_at", "must be after due_at");
    }
    match (patient_id, class, errors.is_empty()) {
        (Some(patient_id), Some(class), true) => Ok(MessagePlan {
            patient_id,
            class,
            idempotency_key: key,
            subject: input.subject,
            body,
            template,
            appointment_id,
            priority: priority.unwrap_or(Priority::default_for(class)),
            media,
            channel: None,
            to: None,
            due_at,
            expires_at,
        }),
        _ => Err(errors),
    }
}

/// Plan a message; it goes out at `due_at` or the patient's next allowed moment.
#[utoipa::path(post, path = "/api/v1/organizations/{org}/messages", tag = "messages",
    params(("org" = String, Path, description = "Organization id")), request_body = MessageInput,
    responses((status = 201, body = MessageView), (status = 200, body = MessageView, description = "Planned before under this key"),
        (status = 422, body = Problem)))]
pub async fn plan(
    State(state): State<AppState>,
    access: Allowed<need::WriteMessages>,
    JsonBody(input): JsonBody<MessageInput>,
) -> Result<Response, ApiError> {
    let plan = into_plan(input, state.store.clock().now())?;
    let (message, created) = state.store.plan_message(access.org(), &plan).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(about_patient((status, axum::Json(MessageView::from(&message))).into_response(), message.plan.patient_id))
}

/// Messages, newest first; every given filter must match.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/messages", tag = "messages",
    params(("org" = String, Path, description = "Organization id"),
        ("patient" = Option<String>, Query, description = "Only this patient's"),
        ("class" = Option<String>, Query, description = "transactional, care or marketing (the purpose)"),
        ("state" = Option<String>, Query, description = "planned, sending, in_doubt, sent, delivered, read, failed, undeliverable, cancelled or suppressed"),
        ("template" = Option<String>, Query, description = "A template kind (what the messages are for)"),
        ("appointment" = Option<String>, Query, description = "Only those about this visit"),
        ("limit" = Option<usize>, Query, description = "1 to 200"), ("after" = Option<String>, Query, description = "Cursor")),
    responses((status = 200, body = ListView<MessageView>), (status = 400, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    access: Allowed<need::ReadMessages>,
    params: QueryParams,
) -> Result<Response, ApiError> {
    let params = params.only(&["patient", "class", "state", "template", "appointment"])?;
    let query = MessageQuery {
        patient: params.parse::<PatientId>("patient", "a patient id")?,
        class: params.parse::<MessageClass>("class", "transactional, care or marketing")?,
        state: params.parse::<MessageState>("state", "a message state")?,
        template: params.parse::<TemplateKind>("template", "a template kind")?,
        appointment: params.parse::<AppointmentId>("appointment", "an appointment id")?,
        key_prefix: None,
    };
    let page = state.store.messages(access.org(), &query, &params.page()?).await?;
    let items = page.items.iter().map(MessageView::from).collect();
    Ok(axum::Json(ListView { items, next_cursor: page.next_cursor }).into_response())
}

/// One message with its decision trace.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/messages/{id}", tag = "messages",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Message id")),
    responses((status = 200, body = MessageView), (status = 404, body = Problem)))]
pub async fn read(
    State(state): State<AppState>,
    access: Allowed<need::ReadMessages>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id: MessageId = path_id(&id)?;
    let message = state.store.message(access.org(), id).await?;
    let trace = state.store.message_events(access.org(), id).await?;
    let mut view = MessageView::from(&message);
    view.trace = Some(trace.iter().map(|e| format!("{} {}", e.at, e.note)).collect());
    Ok(about_patient(axum::Json(view).into_response(), message.plan.patient_id))
}

/// Cancel a message that has not gone out; 409 once it has.
#[utoipa::path(post, path = "/api/v1/organizations/{org}/messages/{id}/cancel", tag = "messages",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Message id")),
    responses((status = 200, body = MessageView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn cancel(
    State(state): State<AppState>,
    access: Allowed<need::WriteMessages>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id: MessageId = path_id(&id)?;
    let store = &state.store;
    if !store.close_message(access.org(), id, MessageState::Cancelled, "cancelled by staff").await? {
        store.message(access.org(), id).await?;
        return Err(ApiError::Conflict("a message that is no longer planned".into()));
    }
    let message = store.message(access.org(), id).await?;
    Ok(about_patient(axum::Json(MessageView::from(&message)).into_response(), message.plan.patient_id))
}

/// Mark a message in doubt as sent: staff know it arrived (the mail
/// server's log, the patient). 409 unless it is in doubt.
#[utoipa::path(post, path = "/api/v1/organizations/{org}/messages/{id}/mark-sent", tag = "messages",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Message id")),
    responses((status = 200, body = MessageView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn mark_sent(
    State(state): State<AppState>,
    access: Allowed<need::WriteMessages>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    settle(&state, access.org(), &id, Settle::Sent).await
}

/// Send a message in doubt again, knowing the patient may get it twice:
/// planned again, decided afresh at once (STOP, the sending hours and its
/// expiry still apply). 409 unless it is in doubt.
#[utoipa::path(post, path = "/api/v1/organizations/{org}/messages/{id}/resend", tag = "messages",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Message id")),
    responses((status = 200, body = MessageView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn resend(
    State(state): State<AppState>,
    access: Allowed<need::ResendMessages>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    settle(&state, access.org(), &id, Settle::Resend).await
}

async fn settle(state: &AppState, org: OrganizationId, id: &str, settle: Settle) -> Result<Response, ApiError> {
    let id: MessageId = path_id(id)?;
    if !state.store.settle_in_doubt(org, id, settle).await? {
        state.store.message(org, id).await?;
        return Err(ApiError::Conflict("a message that is not in doubt".into()));
    }
    let message = state.store.message(org, id).await?;
    Ok(about_patient(axum::Json(MessageView::from(&message)).into_response(), message.plan.patient_id))
}

/// What the log channel "sent" (demo and development), newest first.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/outbox", tag = "messages",
    params(("org" = String, Path, description = "Organization id"),
        ("limit" = Option<usize>, Query, description = "1 to 200"), ("after" = Option<String>, Query, description = "Cursor")),
    responses((status = 200, body = ListView<OutboxView>)))]
pub async fn outbox(
    State(state): State<AppState>,
    access: Allowed<need::ReadMessages>,
    params: QueryParams,
) -> Result<Response, ApiError> {
    let page = state.store.outbox(access.org(), &params.only(&[])?.page()?).await?;
    let items = page.items.iter().map(OutboxView::from).collect();
    Ok(axum::Json(ListView { items, next_cursor: page.next_cursor }).into_response())
}
