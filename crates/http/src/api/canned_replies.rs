//! Canned replies (`/canned-replies`): the practice's ready answers, which
//! staff pick in the inbox, filled there for the patient at hand. Their
//! words may use `{{patient.first_name}}`, `{{patient.last_name}}` and
//! `{{organization.name}}`. Administrators write them; whoever replies
//! reads them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rapport_domain::CannedReplyId;
use rapport_domain::message::canned::CannedWords;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ListView;
use crate::AppState;
use crate::access::{Allowed, need};
use crate::error::{ApiError, Problem};
use crate::extract::{JsonBody, path_id};
use rapport_store::CannedReply;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CannedReplyInput {
    /// 1 to 80 characters, unique in the organization.
    pub title: String,
    /// 1 to 1,600 characters; variables: patient.first_name, patient.last_name, organization.name.
    pub body: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CannedReplyView {
    pub id: String,
    pub title: String,
    pub body: String,
    pub created_at: String,
}

impl From<&CannedReply> for CannedReplyView {
    fn from(c: &CannedReply) -> Self {
        Self {
            id: c.id.to_string(),
            title: c.words.title.clone(),
            body: c.words.text.as_str().to_owned(),
            created_at: c.created_at.to_string(),
        }
    }
}

/// The organization's canned replies, by title.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/canned-replies", tag = "inbox",
    params(("org" = String, Path, description = "Organization id")),
    responses((status = 200, body = ListView<CannedReplyView>)))]
pub async fn list(State(state): State<AppState>, access: Allowed<need::ReadMessages>) -> Result<Response, ApiError> {
    let items = state.store.canned_replies(access.org()).await?.iter().map(CannedReplyView::from).collect();
    Ok(axum::Json(ListView { items, next_cursor: None }).into_response())
}

/// Adds a canned reply (409 for a title the organization has).
#[utoipa::path(post, path = "/api/v1/organizations/{org}/canned-replies", tag = "inbox",
    params(("org" = String, Path, description = "Organization id")), request_body = CannedReplyInput,
    responses((status = 201, body = CannedReplyView), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    access: Allowed<need::WriteOrganization>,
    JsonBody(input): JsonBody<CannedReplyInput>,
) -> Result<Response, ApiError> {
    let words = CannedWords::parse(&input.title, &input.body)?;
    let reply = state.store.create_canned_reply(access.org(), &words).await?;
    Ok((StatusCode::CREATED, axum::Json(CannedReplyView::from(&reply))).into_response())
}

#[utoipa::path(delete, path = "/api/v1/organizations/{org}/canned-replies/{id}", tag = "inbox",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Canned reply id")),
    responses((status = 204, description = "Deleted"), (status = 404, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    access: Allowed<need::WriteOrganization>,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_canned_reply(access.org(), path_id::<CannedReplyId>(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
