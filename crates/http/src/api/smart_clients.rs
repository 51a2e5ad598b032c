//! SMART Backend Services clients of an organization (administrators):
//! register one with its public keys (JWKS) and the system scopes it may
//! be granted; list them; revoke one (its access tokens stop at once).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::access::{Allowed, Principal, need};
use crate::error::{ApiError, Problem};
use crate::extract::JsonBody;
use rapport_engine::auth::smart;
use rapport_store::SmartClient;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmartClientInput {
    pub name: String,
    /// The system scopes it may be granted, space-separated: `system/*.read`,
    /// `system/Appointment.cruds` …
    pub scope: String,
    /// Its public keys as a JWKS (`{"keys": [...]}`): RSA (RS384) or EC P-384 (ES384).
    #[schema(value_type = Object)]
    pub jwks: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SmartClientView {
    /// What the client signs its assertions as (`iss` and `sub`).
    pub client_id: String,
    pub name: String,
    pub scope: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

impl From<&SmartClient> for SmartClientView {
    fn from(c: &SmartClient) -> Self {
        Self {
            client_id: c.id.clone(),
            name: c.name.clone(),
            scope: c.scope.clone(),
            created_at: c.created_at.to_string(),
            revoked_at: c.revoked_at.map(|t| t.to_string()),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/organizations/{org}/smart-clients", tag = "api-tokens",
    params(("org" = String, Path, description = "Organization id")), responses((status = 200, body = Vec<SmartClientView>)))]
pub async fn list(State(state): State<AppState>, access: Allowed<need::ManageStaff>) -> Result<Response, ApiError> {
    let clients = state.store.smart_clients(access.org()).await?;
    Ok(axum::Json(clients.iter().map(SmartClientView::from).collect::<Vec<_>>()).into_response())
}

#[utoipa::path(post, path = "/api/v1/organizations/{org}/smart-clients", tag = "api-tokens",
    params(("org" = String, Path, description = "Organization id")), request_body = SmartClientInput,
    responses((status = 201, body = SmartClientView), (status = 422, body = Problem)))]
pub async fn register(
    State(state): State<AppState>,
    access: Allowed<need::ManageStaff>,
    JsonBody(input): JsonBody<SmartClientInput>,
) -> Result<Response, ApiError> {
    let mut errors = rapport_domain::ValidationErrors::new();
    if input.name.trim().is_empty() {
        errors.push("name", "is required");
    }
    let scopes: Vec<&str> = input.scope.split_whitespace().collect();
    if scopes.is_empty() {
        errors.push("scope", "must name at least one system scope");
    }
    if let Some(bad) = scopes.iter().find(|s| smart::capabilities(s).is_none()) {
        errors.push("scope", format!("`{bad}` is not a system scope (system/Type.read, system/*.rs …)"));
    }
    if let Err(why) = smart::check_jwks(&input.jwks) {
        errors.push("jwks", why);
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let created_by = match &access.grant.principal {
        Principal::Staff { user, .. } => Some(user.id),
        Principal::Token(_) => None,
    };
    let client = SmartClient {
        id: uuid::Uuid::now_v7().to_string(),
        organization_id: access.org(),
        name: input.name.trim().to_owned(),
        jwks: input.jwks,
        scope: scopes.join(" "),
        created_by,
        created_at: state.store.clock().now(),
        revoked_at: None,
    };
    let registered = state.store.register_smart_client(&client).await?;
    Ok((StatusCode::CREATED, axum::Json(SmartClientView::from(&registered))).into_response())
}

#[utoipa::path(delete, path = "/api/v1/organizations/{org}/smart-clients/{id}", tag = "api-tokens",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Client id")),
    responses((status = 200, body = SmartClientView), (status = 404, body = Problem)))]
pub async fn revoke(
    State(state): State<AppState>,
    access: Allowed<need::ManageStaff>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let client = state.store.revoke_smart_client(access.org(), &id).await?;
    Ok(axum::Json(SmartClientView::from(&client)).into_response())
}
