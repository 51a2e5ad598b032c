//! Teams (`/teams`): named groups of staff a conversation can be assigned
//! to (`/conversations/{id}/team`), and listed by (`?team=mine`).
//! Administrators write them; whoever reads the inbox reads them.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rapport_domain::{StaffUserId, TeamId, ValidationErrors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ListView;
use crate::AppState;
use crate::access::{Allowed, need};
use crate::error::{ApiError, Problem};
use crate::extract::{JsonBody, OptionalIfMatch, etag, path_id};
use rapport_store::Team;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamInput {
    /// 1 to 80 characters, unique in the organization.
    pub name: String,
    /// Staff members of the organization (the whole list: an update replaces it).
    pub member_ids: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamView {
    pub id: String,
    pub name: String,
    pub member_ids: Vec<String>,
    pub created_at: String,
    pub version: i64,
}

impl From<&Team> for TeamView {
    fn from(t: &Team) -> Self {
        Self {
            id: t.id.to_string(),
            name: t.name.clone(),
            member_ids: t.members.iter().map(ToString::to_string).collect(),
            created_at: t.created_at.to_string(),
            version: t.version,
        }
    }
}

impl TeamInput {
    fn parse(&self) -> Result<(String, Vec<StaffUserId>), ApiError> {
        let mut errors = ValidationErrors::new();
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 80 {
            errors.push("name", "must be 1 to 80 characters");
        }
        if self.member_ids.len() > 500 {
            errors.push("member_ids", "must hold at most 500 staff members");
        }
        let members: Vec<StaffUserId> = self.member_ids.iter().filter_map(|m| m.parse().ok()).collect();
        if members.len() != self.member_ids.len() {
            errors.push("member_ids", "must hold staff ids only");
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        Ok((name, members))
    }
}

fn with_etag(team: &Team, status: StatusCode) -> Response {
    let mut response = (status, axum::Json(TeamView::from(team))).into_response();
    if let Ok(tag) = etag(team.version).parse() {
        response.headers_mut().insert(header::ETAG, tag);
    }
    response
}

/// The organization's teams, by name, with their members.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/teams", tag = "inbox",
    params(("org" = String, Path, description = "Organization id")),
    responses((status = 200, body = ListView<TeamView>)))]
pub async fn list(State(state): State<AppState>, access: Allowed<need::ReadMessages>) -> Result<Response, ApiError> {
    let items = state.store.teams(access.org()).await?.iter().map(TeamView::from).collect();
    Ok(axum::Json(ListView { items, next_cursor: None }).into_response())
}

/// Adds a team (409 for a name the organization has).
#[utoipa::path(post, path = "/api/v1/organizations/{org}/teams", tag = "inbox",
    params(("org" = String, Path, description = "Organization id")), request_body = TeamInput,
    responses((status = 201, body = TeamView), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    access: Allowed<need::WriteOrganization>,
    JsonBody(input): JsonBody<TeamInput>,
) -> Result<Response, ApiError> {
    let (name, members) = input.parse()?;
    let team = state.store.create_team(access.org(), &name, &members).await?;
    Ok(with_etag(&team, StatusCode::CREATED))
}

/// Renames the team and replaces its members, under `If-Match`.
#[utoipa::path(put, path = "/api/v1/organizations/{org}/teams/{id}", tag = "inbox",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Team id")),
    request_body = TeamInput,
    responses((status = 200, body = TeamView), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    access: Allowed<need::WriteOrganization>,
    Path((_, id)): Path<(String, String)>,
    OptionalIfMatch(expected): OptionalIfMatch,
    JsonBody(input): JsonBody<TeamInput>,
) -> Result<Response, ApiError> {
    let (name, members) = input.parse()?;
    let team = state.store.update_team(access.org(), path_id::<TeamId>(&id)?, expected, &name, &members).await?;
    Ok(with_etag(&team, StatusCode::OK))
}
