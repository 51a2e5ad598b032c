//! The shared inbox (`/conversations`): the list with its filters (mine,
//! unassigned, unmatched, flagged, open or closed), a thread, and what
//! staff do in it: read, assign, close, reopen, link an unmatched number
//! to its patient, write a note, reply. A reply is a message like any
//! other (consent, suppression, sending hours and rate limits apply),
//! sent by text to the number that wrote, first in line (`reply` priority).
//! Every change tells the open consoles (`inbox_events.rs`).

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rapport_domain::message::pace::Priority;
use rapport_domain::{
    Channel, ConversationId, MessageClass, MessagePlan, OrganizationId, PatientId, PhoneE164, StaffUserId,
    ValidationErrors,
};

use super::conversation_dto::{
    AssignInput, ConversationView, LinkInput, NoteInput, NoteView, ReplyInput, TeamAssignInput, ThreadEntry, ThreadView,
};
use super::messages::MessageView;
use super::timeline::TextView;
use super::{ListView, about_patient};
use crate::AppState;
use crate::access::{Allowed, Principal, need};
use crate::error::{ApiError, Problem};
use crate::extract::{JsonBody, OptionalIfMatch, etag, path_id};
use crate::query::QueryParams;
use rapport_store::{
    AssignedFilter, Conversation, ConversationChange, ConversationQuery, ConversationStatus, InboxEvent,
    InboxEventKind, MessageQuery, PageRequest, THREAD_LIMIT, TeamFilter,
};

/// The staff member behind the request (`None` for an API token).
pub fn viewer<N: crate::access::Need>(access: &Allowed<N>) -> Option<StaffUserId> {
    match &access.grant.principal {
        Principal::Staff { user, .. } => Some(user.id),
        Principal::Token(_) => None,
    }
}

fn with_etag(conversation: &Conversation, body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    if let Ok(tag) = etag(conversation.version).parse() {
        response.headers_mut().insert(header::ETAG, tag);
    }
    match conversation.patient_id {
        Some(patient) => about_patient(response, patient),
        None => response,
    }
}

async fn announce(state: &AppState, org: OrganizationId, conversation: ConversationId, kind: InboxEventKind) {
    state.store.publish(InboxEvent { organization_id: org, conversation_id: conversation, kind }).await;
}

/// Conversations, most recent activity first.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/conversations", tag = "inbox",
    params(("org" = String, Path, description = "Organization id"),
        ("status" = Option<String>, Query, description = "open or closed (default: both)"),
        ("assigned" = Option<String>, Query, description = "me, none, or a staff member's id"),
        ("unmatched" = Option<bool>, Query, description = "true: only those no patient is linked to"),
        ("flagged" = Option<bool>, Query, description = "true: only possible revocations"),
        ("patient" = Option<String>, Query, description = "Only this patient's"),
        ("team" = Option<String>, Query, description = "mine (any team of the signed-in staff member's) or a team's id"),
        ("q" = Option<String>, Query, description = "Words each matching the patient's name (its start), digits of the number, or words of the thread's texts, messages and notes"),
        ("limit" = Option<usize>, Query, description = "1 to 200"), ("after" = Option<String>, Query, description = "Cursor")),
    responses((status = 200, body = ListView<ConversationView>), (status = 400, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    access: Allowed<need::ReadMessages>,
    params: QueryParams,
) -> Result<Response, ApiError> {
    let params = params.only(&["status", "assigned", "unmatched", "flagged", "patient", "team", "q"])?;
    let me = viewer(&access);
    let assigned = match params.get("assigned") {
        None => None,
        Some("none") => Some(AssignedFilter::Nobody),
        Some("me") => match me {
            Some(user) => Some(AssignedFilter::To(user)),
            None => return Err(ApiError::InvalidQuery("assigned=me needs a staff session".into())),
        },
        Some(id) => Some(AssignedFilter::To(
            id.parse().map_err(|_| ApiError::InvalidQuery("assigned must be me, none or a staff id".into()))?,
        )),
    };
    let team = match params.get("team") {
        None => None,
        Some("mine") => match me {
            Some(user) => Some(TeamFilter::Of(user)),
            None => return Err(ApiError::InvalidQuery("team=mine needs a staff session".into())),
        },
        Some(id) => Some(TeamFilter::Is(
            id.parse().map_err(|_| ApiError::InvalidQuery("team must be mine or a team id".into()))?,
        )),
    };
    let search = params.get("q").map(str::trim).filter(|q| !q.is_empty());
    if search.is_some_and(|q| q.chars().count() > 100 || q.split_whitespace().count() > 5) {
        return Err(ApiError::InvalidQuery("q must be at most 100 characters in at most 5 words".into()));
    }
    let flag = |name: &str| match params.get(name) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::InvalidQuery(format!("{name} must be true or false"))),
    };
    let query = ConversationQuery {
        status: params.parse::<ConversationStatus>("status", "open or closed")?,
        assigned,
        unmatched: flag("unmatched")?,
        flagged: flag("flagged")?,
        patient: params.parse::<PatientId>("patient", "a patient id")?,
        team,
        search: search.map(str::to_owned),
    };
    let page = state.store.conversations(access.org(), &query, me, &params.page()?).await?;
    let items = page.items.iter().map(ConversationView::from).collect();
    Ok(axum::Json(ListView { items, next_cursor: page.next_cursor }).into_response())
}

/// A conversation and its thread, oldest first.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/conversations/{id}", tag = "inbox",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Conversation id")),
    responses((status = 200, body = ThreadView), (status = 404, body = Problem)))]
pub async fn read(
    State(state): State<AppState>,
    access: Allowed<need::ReadMessages>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let org = access.org();
    let conversation = state.store.conversation(org, path_id(&id)?, viewer(&access)).await?;
    let view = thread(&state, org, conversation.clone()).await?;
    Ok(with_etag(&conversation, axum::Json(view)))
}

/// A conversation's thread: its texts, the patient's messages and staff's
/// notes, oldest first; and for an unmatched number, who has it.
pub async fn thread(state: &AppState, org: OrganizationId, conversation: Conversation) -> Result<ThreadView, ApiError> {
    let mut entries: Vec<(jiff::Timestamp, ThreadEntry)> = Vec::new();
    let entry = |at: jiff::Timestamp, kind: &str| ThreadEntry {
        at: at.to_string(),
        kind: kind.into(),
        text: None,
        message: None,
        note: None,
    };
    // Each list comes newest first; taken oldest first, the stable sort
    // keeps entries of one instant in the order they happened.
    for text in state.store.conversation_texts(org, conversation.id).await?.iter().rev() {
        entries.push((
            text.received_at,
            ThreadEntry { text: Some(TextView::from(text)), ..entry(text.received_at, "text") },
        ));
    }
    if let Some(patient) = conversation.patient_id {
        let query = MessageQuery { patient: Some(patient), ..MessageQuery::default() };
        let limit = PageRequest::first(THREAD_LIMIT as usize);
        for message in state.store.messages(org, &query, &limit).await?.items.iter().rev() {
            let at = message.sent_at.unwrap_or(message.created_at);
            entries.push((at, ThreadEntry { message: Some(MessageView::from(message)), ..entry(at, "message") }));
        }
    }
    for note in state.store.conversation_notes(org, conversation.id).await?.iter().rev() {
        entries.push((
            note.created_at,
            ThreadEntry { note: Some(NoteView::from(note)), ..entry(note.created_at, "note") },
        ));
    }
    entries.sort_by_key(|(at, _)| *at);
    // An unmatched number's candidates: the patients with that phone (none
    // for a sender that is not a phone number).
    let candidates = match (conversation.patient_id, PhoneE164::parse(&conversation.number)) {
        (None, Ok(phone)) => {
            state.store.patients_with_phone(org, &phone).await?.iter().map(|p| p.to_string()).collect()
        }
        _ => Vec::new(),
    };
    Ok(ThreadView {
        conversation: ConversationView::from(&conversation),
        candidates,
        entries: entries.into_iter().map(|(_, e)| e).collect(),
    })
}

/// Marks the thread read by the signed-in staff member (their unread count drops to 0).
#[utoipa::path(post, path = "/api/v1/organizations/{org}/conversations/{id}/read", tag = "inbox",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Conversation id")),
    responses((status = 204, description = "Read"), (status = 400, body = Problem, description = "Not a staff session"),
        (status = 404, body = Problem)))]
pub async fn mark_read(
    State(state): State<AppState>,
    access: Allowed<need::ReadMessages>,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let Some(me) = viewer(&access) else {
        return Err(ApiError::InvalidQuery("only a staff member reads a conversation".into()));
    };
    state.store.mark_conversation_read(access.org(), path_id(&id)?, me).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn change(
    state: &AppState,
    org: OrganizationId,
    id: &str,
    expected: Option<i64>,
    change: ConversationChange,
) -> Result<Response, ApiError> {
    let conversation = state.store.change_conversation(org, path_id(id)?, expected, change).await?;
    announce(state, org, conversation.id, InboxEventKind::Changed).await;
    Ok(with_etag(&conversation, axum::Json(ConversationView::from(&conversation))))
}

/// Assigns the conversation to a staff member, or to nobody.
#[utoipa::path(post, path = "/api/v1/organizations/{org}/conversations/{id}/assign", tag = "inbox",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Conversation id")),
    request_body = AssignInput,
    responses((status = 200, body = ConversationView), (status = 404, body = Problem),
        (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn assign(
    State(state): State<AppState>,
    access: Allowed<need::WriteMessages>,
    Path((_, id)): Path<(String, String)>,
    OptionalIfMatch(expected): OptionalIfMatch,
    JsonBody(input): JsonBody<AssignInput>,
) -> Result<Response, ApiError> {
    let user = match input.user_id.as_deref() {
        None => None,
        Some(raw) => Some(raw.parse::<StaffUserId>().map_err(|_| ApiError::field("user_id", "is not an id"))?),
    };
    change(&state, access.org(), &id, expected, ConversationChange::Assign(user)).await
}

/// Assigns the conversation to a team, or to none (a person's assignment stays).
#[utoipa::path(post, path = "/api/v1/organizations/{org}/conversations/{id}/team", tag = "inbox",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Conversation id")),
    request_body = TeamAssignInput,
    responses((status = 200, body = ConversationView), (status = 404, body = Problem),
        (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn assign_team(
    State(state): State<AppState>,
    access: Allowed<need::WriteMessages>,
    Path((_, id)): Path<(String, String)>,
    OptionalIfMatch(expected): OptionalIfMatch,
    JsonBody(input): JsonBody<TeamAssignInput>,
) -> Result<Response, ApiError> {
    let team = match input.team_id.as_deref() {
        None => None,
        Some(raw) => Some(raw.parse().map_err(|_| ApiError::field("team_id", "is not an id"))?),
    };
    change(&state, access.org(), &id, expected, ConversationChange::AssignTeam(team)).await
}

/// Closes the conversation (a possible-revocation flag is cleared with it).
#[utoipa::path(post, path = "/api/v1/organizations/{org}/conversations/{id}/close", tag = "inbox",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Conversation id")),
    responses((status = 200, body = ConversationView), (status = 404, body = Problem), (status = 412, body = Problem)))]
pub async fn close(
    State(state): State<AppState>,
    access: Allowed<need::WriteMessages>,
    Path((_, id)): Path<(String, String)>,
    OptionalIfMatch(expected): OptionalIfMatch,
) -> Result<Response, ApiError> {
    change(&state, access.org(), &id, expected, ConversationChange::Close).await
}

/// Reopens the conversation.
#[utoipa::path(post, path = "/api/v1/organizations/{org}/conversations/{id}/reopen", tag = "inbox",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Conversation id")),
    responses((status = 200, body = ConversationView), (status = 404, body = Problem), (status = 412, body = Problem)))]
pub async fn reopen(
    State(state): State<AppState>,
    access: Allowed<need::WriteMessages>,
    Path((_, id)): Path<(String, String)>,
    OptionalIfMatch(expected): OptionalIfMatch,
) -> Result<Response, ApiError> {
    change(&state, access.org(), &id, expected, ConversationChange::Reopen).await
}

/// Links an unmatched conversation to its patient; when the patient has a
/// conversation already, this one joins it (the answer is that one).
#[utoipa::path(post, path = "/api/v1/organizations/{org}/conversations/{id}/link", tag = "inbox",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Conversation id")),
    request_body = LinkInput,
    responses((status = 200, body = ConversationView), (status = 404, body = Problem),
        (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn link(
    State(state): State<AppState>,
    access: Allowed<need::WriteMessages>,
    Path((_, id)): Path<(String, String)>,
    OptionalIfMatch(expected): OptionalIfMatch,
    JsonBody(input): JsonBody<LinkInput>,
) -> Result<Response, ApiError> {
    let org = access.org();
    let patient: PatientId = input.patient_id.parse().map_err(|_| ApiError::field("patient_id", "is not an id"))?;
    let from: ConversationId = path_id(&id)?;
    let conversation = state.store.link_conversation(org, from, patient, expected).await?;
    announce(&state, org, from, InboxEventKind::Changed).await;
    if conversation.id != from {
        announce(&state, org, conversation.id, InboxEventKind::Changed).await;
    }
    Ok(with_etag(&conversation, axum::Json(ConversationView::from(&conversation))))
}

/// Adds a note to the thread: staff see it, the patient never does.
#[utoipa::path(post, path = "/api/v1/organizations/{org}/conversations/{id}/notes", tag = "inbox",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Conversation id")),
    request_body = NoteInput,
    responses((status = 201, body = NoteView), (status = 400, body = Problem, description = "Not a staff session"),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn add_note(
    State(state): State<AppState>,
    access: Allowed<need::WriteMessages>,
    Path((_, id)): Path<(String, String)>,
    JsonBody(input): JsonBody<NoteInput>,
) -> Result<Response, ApiError> {
    let Some(me) = viewer(&access) else {
        return Err(ApiError::InvalidQuery("a note is written by a staff member".into()));
    };
    let body = input.body.trim();
    if body.is_empty() || body.chars().count() > 4000 {
        return Err(ApiError::field("body", "must be 1 to 4,000 characters"));
    }
    let org = access.org();
    let note = state.store.add_conversation_note(org, path_id(&id)?, me, body).await?;
    announce(&state, org, path_id(&id)?, InboxEventKind::Changed).await;
    Ok((StatusCode::CREATED, axum::Json(NoteView::from(&note))).into_response())
}

/// Replies to the patient by text, at once or at `send_at`; the answer is
/// the planned message (follow it under `/messages/{id}`).
#[utoipa::path(post, path = "/api/v1/organizations/{org}/conversations/{id}/replies", tag = "inbox",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Conversation id")),
    request_body = ReplyInput,
    responses((status = 202, body = MessageView), (status = 200, body = MessageView, description = "Sent before under this key"),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "No patient is linked yet"),
        (status = 422, body = Problem)))]
pub async fn reply(
    State(state): State<AppState>,
    access: Allowed<need::WriteMessages>,
    Path((_, id)): Path<(String, String)>,
    JsonBody(input): JsonBody<ReplyInput>,
) -> Result<Response, ApiError> {
    let org = access.org();
    let conversation = state.store.conversation(org, path_id(&id)?, None).await?;
    let Some(patient) = conversation.patient_id else {
        return Err(ApiError::Conflict("link the conversation to a patient before replying".into()));
    };
    let now = state.store.clock().now();
    let mut errors = ValidationErrors::new();
    let body = input.body.trim().to_owned();
    if body.is_empty() || body.chars().count() > 1600 {
        errors.push("body", "must be 1 to 1,600 characters");
    }
    let due_at = match input.send_at.as_deref().map(str::parse::<jiff::Timestamp>) {
        None => now,
        Some(Ok(at)) => at.max(now),
        Some(Err(_)) => {
            errors.push("send_at", "is not an RFC 3339 instant");
            now
        }
    };
    let key = input.key.unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    if key.trim().is_empty() || key.len() > 100 {
        errors.push("key", "must be 1 to 100 characters");
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let plan = MessagePlan {
        patient_id: patient,
        class: MessageClass::Transactional,
        idempotency_key: format!("conversation:{}:{}", conversation.id, key.trim()),
        subject: None,
        body,
        template: None,
        appointment_id: None,
        priority: Priority::Reply,
        media: Vec::new(),
        channel: Some(Channel::Sms),
        to: Some(conversation.number.clone()),
        due_at,
        expires_at: None,
    };
    let (message, created) = state.store.plan_message(org, &plan).await?;
    if created {
        state.store.touch_conversation(org, conversation.id).await?;
        announce(&state, org, conversation.id, InboxEventKind::Message).await;
    }
    let status = if created { StatusCode::ACCEPTED } else { StatusCode::OK };
    Ok(about_patient((status, axum::Json(MessageView::from(&message))).into_response(), patient))
}
