//! The staff worklist (`/tasks`): what a person must look at (a visit the
//! patient cancelled, a wish to reschedule, a reply to read or place, a
//! no-show).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use rapport_domain::{PatientId, StaffTaskId};
use serde::Serialize;
use utoipa::ToSchema;

use super::ListView;
use crate::AppState;
use crate::access::{Allowed, Principal, need};
use crate::error::{ApiError, Problem};
use crate::extract::path_id;
use crate::query::QueryParams;
use rapport_store::{StaffTask, TaskKind, TaskQuery};

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
