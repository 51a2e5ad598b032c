//! The staff worklist (`/tasks`), a visit's answers (`/appointments/{id}/answers`)
//! and a patient's texts (`/patients/{id}/texts`): what patients said, and
//! what a person must look at because of it.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use rapport_domain::{AppointmentId, PatientId, StaffTaskId};
use serde::Serialize;
use utoipa::ToSchema;

use super::ListView;
use crate::http::AppState;
use crate::http::access::{Allowed, Principal, need};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::path_id;
use crate::http::query::QueryParams;
use crate::store::{ReceivedText, StaffTask, TaskKind, TaskQuery, VisitAnswer};

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskView {
    pub id: String,
    /// visit_cancelled, reschedule_requested, reply_unclear or reply_to_read.
    pub kind: String,
    pub patient_id: Option<String>,
    pub appointment_id: Option<String>,
    /// The text that raised it, if any.
    pub text_id: Option<String>,
    pub created_at: String,
    /// Open until done.
    pub done_at: Option<String>,
    pub done_by: Option<String>,
}

impl From<&StaffTask> for TaskView {
    fn from(t: &StaffTask) -> Self {
        Self {
            id: t.id.to_string(),
            kind: t.kind.as_str().into(),
            patient_id: t.patient_id.map(|p| p.to_string()),
            appointment_id: t.appointment_id.map(|a| a.to_string()),
            text_id: t.inbound_id.map(|i| i.to_string()),
            created_at: t.created_at.to_string(),
            done_at: t.done_at.map(|d| d.to_string()),
            done_by: t.done_by.clone(),
        }
    }
}

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
        }
    }
}

/// The worklist, oldest first.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/tasks", tag = "tasks",
    params(("org" = String, Path, description = "Organization id"),
        ("state" = Option<String>, Query, description = "open or done (default: both)"),
        ("kind" = Option<String>, Query, description = "visit_cancelled, reschedule_requested, reply_unclear or reply_to_read"),
        ("patient" = Option<String>, Query, description = "Only this patient's"),
        ("limit" = Option<usize>, Query, description = "1 to 200"), ("after" = Option<String>, Query, description = "Cursor")),
    responses((status = 200, body = ListView<TaskView>), (status = 400, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    access: Allowed<need::ReadAppointments>,
    params: QueryParams,
) -> Result<Response, ApiError> {
    let params = params.only(&["state", "kind", "patient"])?;
    let done = match params.get("state") {
        None => None,
        Some("open") => Some(false),
        Some("done") => Some(true),
        Some(_) => return Err(ApiError::InvalidQuery("state must be open or done".into())),
    };
    let query = TaskQuery {
        done,
        kind: params.parse::<TaskKind>("kind", "a task kind")?,
        patient: params.parse::<PatientId>("patient", "a patient id")?,
    };
    let page = state.store.staff_tasks(access.org(), &query, &params.page()?).await?;
    let items = page.items.iter().map(TaskView::from).collect();
    Ok(axum::Json(ListView { items, next_cursor: page.next_cursor }).into_response())
}

/// Mark a task done (done already, it stays as it was).
#[utoipa::path(post, path = "/api/v1/organizations/{org}/tasks/{id}/done", tag = "tasks",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Task id")),
    responses((status = 200, body = TaskView), (status = 404, body = Problem)))]
pub async fn done(
    State(state): State<AppState>,
    access: Allowed<need::WriteAppointments>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id: StaffTaskId = path_id(&id)?;
    let by = match &access.grant.principal {
        Principal::Staff { user, .. } => format!("user:{}", user.id),
        Principal::Token(token) => format!("token:{}", token.id),
    };
    let task = state.store.finish_task(access.org(), id, &by).await?;
    Ok(axum::Json(TaskView::from(&task)).into_response())
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
