//! `/organizations/{org}/staff`, `/api-tokens` and `/security`: accounts,
//! roles, integrations' tokens and the organization's security settings.
//! Administrators only (the `staff:manage` capability).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rapport_domain::{ApiTokenId, Capability, Email, Role, StaffUserId};

use super::auth_dto::{
    ApiTokenInput, ApiTokenView, NewApiTokenView, RoleInput, SecuritySettings, StaffInput, StaffUserView,
};
use crate::AppState;
use crate::access::{Allowed, Principal, need};
use crate::error::{ApiError, Problem};
use crate::extract::{JsonBody, path_id};
use rapport_engine::auth::{TOKEN_PREFIX, password, secret};
use rapport_store::{NewApiToken, NewStaffUser};

fn role_for_people(raw: &str) -> Result<Role, ApiError> {
    match raw.parse::<Role>() {
        Ok(role) if role.is_for_people() => Ok(role),
        Ok(_) => Err(ApiError::field("role", "is for API tokens only")),
        Err(_) => Err(ApiError::field("role", "must be administrator, front_desk, clinician, marketer or auditor")),
    }
}

/// The organization's staff accounts.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/staff", tag = "staff",
    params(("org" = String, Path, description = "Organization id")),
    responses((status = 200, body = Vec<StaffUserView>), (status = 403, body = Problem)))]
pub async fn list(State(state): State<AppState>, access: Allowed<need::ManageStaff>) -> Result<Response, ApiError> {
    let users = state.store.staff_users(access.org()).await?;
    Ok(axum::Json(users.iter().map(StaffUserView::from).collect::<Vec<_>>()).into_response())
}

/// Create a staff account with a first password.
#[utoipa::path(post, path = "/api/v1/organizations/{org}/staff", tag = "staff",
    params(("org" = String, Path, description = "Organization id")), request_body = StaffInput,
    responses((status = 201, body = StaffUserView), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    access: Allowed<need::ManageStaff>,
    JsonBody(input): JsonBody<StaffInput>,
) -> Result<Response, ApiError> {
    let mut errors = rapport_domain::ValidationErrors::new();
    let email = Email::parse(&input.email).map_err(|e| errors.push("email", e.to_string())).ok();
    let role = role_for_people(&input.role).map_err(|_| errors.push("role", "must be a role for people")).ok();
    if input.display_name.trim().is_empty() {
        errors.push("display_name", "is required");
    }
    if let Err(weak) = password::check_strength(&input.password, &input.email) {
        errors.push("password", weak.to_string());
    }
    let (Some(email), Some(role), true) = (email, role, errors.is_empty()) else {
        return Err(errors.into());
    };
    let new = NewStaffUser {
        organization_id: access.org(),
        email,
        display_name: input.display_name.trim().to_owned(),
        role,
        password_hash: password::hash_off_thread(&input.password).await,
    };
    let user = state.store.create_staff_user(&new).await?;
    Ok((StatusCode::CREATED, axum::Json(StaffUserView::from(&user))).into_response())
}

#[utoipa::path(get, path = "/api/v1/organizations/{org}/staff/{id}", tag = "staff",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Staff user id")),
    responses((status = 200, body = StaffUserView), (status = 404, body = Problem)))]
pub async fn read(
    State(state): State<AppState>,
    access: Allowed<need::ManageStaff>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let user = state.store.staff_user(access.org(), path_id(&id)?).await?;
    Ok(axum::Json(StaffUserView::from(&user)).into_response())
}

/// Change a staff member's role.
#[utoipa::path(put, path = "/api/v1/organizations/{org}/staff/{id}/role", tag = "staff",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Staff user id")),
    request_body = RoleInput, responses((status = 200, body = StaffUserView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn set_role(
    State(state): State<AppState>,
    access: Allowed<need::ManageStaff>,
    Path((_, id)): Path<(String, String)>,
    JsonBody(input): JsonBody<RoleInput>,
) -> Result<Response, ApiError> {
    let id: StaffUserId = path_id(&id)?;
    let role = role_for_people(&input.role)?;
    let user = state.store.set_staff_role(access.org(), id, role).await?;
    Ok(axum::Json(StaffUserView::from(&user)).into_response())
}

/// Disable an account: its sessions end and it cannot sign in.
#[utoipa::path(post, path = "/api/v1/organizations/{org}/staff/{id}/disable", tag = "staff",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Staff user id")),
    responses((status = 200, body = StaffUserView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn disable(
    State(state): State<AppState>,
    access: Allowed<need::ManageStaff>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id: StaffUserId = path_id(&id)?;
    if matches!(&access.grant.principal, Principal::Staff { user, .. } if user.id == id) {
        return Err(ApiError::Conflict("disabling your own account".into()));
    }
    let user = state.store.set_staff_disabled(access.org(), id, true).await?;
    Ok(axum::Json(StaffUserView::from(&user)).into_response())
}

/// Enable a disabled account again.
#[utoipa::path(post, path = "/api/v1/organizations/{org}/staff/{id}/enable", tag = "staff",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Staff user id")),
    responses((status = 200, body = StaffUserView), (status = 404, body = Problem)))]
pub async fn enable(
    State(state): State<AppState>,
    access: Allowed<need::ManageStaff>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let user = state.store.set_staff_disabled(access.org(), path_id(&id)?, false).await?;
    Ok(axum::Json(StaffUserView::from(&user)).into_response())
}

/// Remove a staff member's second factor (a lost phone); they enrol again at next sign-in.
#[utoipa::path(post, path = "/api/v1/organizations/{org}/staff/{id}/reset-mfa", tag = "staff",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Staff user id")),
    responses((status = 200, body = StaffUserView), (status = 404, body = Problem)))]
pub async fn reset_mfa(
    State(state): State<AppState>,
    access: Allowed<need::ManageStaff>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let user = state.store.staff_user(access.org(), path_id(&id)?).await?;
    state.store.reset_mfa(user.id).await?;
    let user = state.store.staff_user(access.org(), user.id).await?;
    Ok(axum::Json(StaffUserView::from(&user)).into_response())
}

/// The organization's API tokens, revoked ones included.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/api-tokens", tag = "api-tokens",
    params(("org" = String, Path, description = "Organization id")), responses((status = 200, body = Vec<ApiTokenView>)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    access: Allowed<need::ManageStaff>,
) -> Result<Response, ApiError> {
    let tokens = state.store.api_tokens(access.org()).await?;
    Ok(axum::Json(tokens.iter().map(ApiTokenView::from).collect::<Vec<_>>()).into_response())
}

/// Create a token for an integration; its secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/organizations/{org}/api-tokens", tag = "api-tokens",
    params(("org" = String, Path, description = "Organization id")), request_body = ApiTokenInput,
    responses((status = 201, body = NewApiTokenView), (status = 422, body = Problem)))]
pub async fn create_token(
    State(state): State<AppState>,
    access: Allowed<need::ManageStaff>,
    JsonBody(input): JsonBody<ApiTokenInput>,
) -> Result<Response, ApiError> {
    let mut errors = rapport_domain::ValidationErrors::new();
    if input.name.trim().is_empty() {
        errors.push("name", "is required");
    }
    if input.scopes.is_empty() {
        errors.push("scopes", "must name at least one capability");
    }
    let mut scopes = Vec::new();
    for (i, raw) in input.scopes.iter().enumerate() {
        match raw.parse::<Capability>() {
            Ok(c) if Role::Integration.has(c) => scopes.push(c),
            Ok(_) => errors.push(format!("scopes[{i}]"), "is not available to integrations"),
            Err(_) => errors.push(format!("scopes[{i}]"), "is not a known capability"),
        }
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let secret_text = secret::random_token(TOKEN_PREFIX);
    let created_by = match &access.grant.principal {
        Principal::Staff { user, .. } => Some(user.id),
        Principal::Token(_) => None,
    };
    let new = NewApiToken {
        organization_id: access.org(),
        name: input.name.trim().to_owned(),
        prefix: secret_text.chars().take(TOKEN_PREFIX.len() + 6).collect(),
        token_digest: secret::digest(&secret_text),
        scopes,
        created_by,
    };
    let token = state.store.create_api_token(&new).await?;
    let view = NewApiTokenView { token: ApiTokenView::from(&token), secret: secret_text };
    Ok((StatusCode::CREATED, axum::Json(view)).into_response())
}

/// Revoke a token at once.
#[utoipa::path(delete, path = "/api/v1/organizations/{org}/api-tokens/{id}", tag = "api-tokens",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Token id")),
    responses((status = 200, body = ApiTokenView), (status = 404, body = Problem)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    access: Allowed<need::ManageStaff>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id: ApiTokenId = path_id(&id)?;
    let token = state.store.revoke_api_token(access.org(), id).await?;
    Ok(axum::Json(ApiTokenView::from(&token)).into_response())
}

#[utoipa::path(get, path = "/api/v1/organizations/{org}/security", tag = "staff",
    params(("org" = String, Path, description = "Organization id")), responses((status = 200, body = SecuritySettings)))]
pub async fn read_security(
    State(state): State<AppState>,
    access: Allowed<need::ManageStaff>,
) -> Result<Response, ApiError> {
    let mfa_required_for_all = state.store.mfa_required_for_all(access.org()).await?;
    Ok(axum::Json(SecuritySettings { mfa_required_for_all }).into_response())
}

/// Change the security settings (audited like every change).
#[utoipa::path(put, path = "/api/v1/organizations/{org}/security", tag = "staff",
    params(("org" = String, Path, description = "Organization id")), request_body = SecuritySettings,
    responses((status = 200, body = SecuritySettings)))]
pub async fn update_security(
    State(state): State<AppState>,
    access: Allowed<need::ManageStaff>,
    JsonBody(input): JsonBody<SecuritySettings>,
) -> Result<Response, ApiError> {
    state.store.set_mfa_required_for_all(access.org(), input.mfa_required_for_all).await?;
    Ok(axum::Json(input).into_response())
}
