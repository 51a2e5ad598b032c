//! Web push: the deployment's VAPID public key (what a browser subscribes
//! with), and `/organizations/{org}/patients/{id}/push-subscriptions`, where
//! a patient's browser or app subscription is recorded (by the portal or an
//! integration) and listed. A patient whose channel order names `push` gets
//! messages there while a subscription lives.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rapport_domain::{OrganizationId, PatientId, ValidationErrors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ListView, about_patient};
use crate::AppState;
use crate::access::{Allowed, need};
use crate::error::{ApiError, Problem};
use crate::extract::{JsonBody, path_id};
use rapport_engine::channels::webpush::{Vapid, check_keys};
use rapport_store::PushSubscription;

#[derive(Debug, Serialize, ToSchema)]
pub struct VapidKeyView {
    /// The `applicationServerKey` for `pushManager.subscribe`: a P-256 public key, base64url.
    pub public_key: String,
}

/// The keys of a browser's `PushSubscription`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionKeys {
    pub p256dh: String,
    pub auth: String,
}

/// A browser's `PushSubscription.toJSON()`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SubscriptionInput {
    /// The push service's URL (https).
    pub endpoint: String,
    pub keys: SubscriptionKeys,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionView {
    pub id: String,
    pub patient_id: String,
    pub endpoint: String,
    pub created_at: String,
}

impl From<&PushSubscription> for SubscriptionView {
    fn from(s: &PushSubscription) -> Self {
        Self {
            id: s.id.to_string(),
            patient_id: s.patient_id.to_string(),
            endpoint: s.endpoint.clone(),
            created_at: s.created_at.to_string(),
        }
    }
}

/// Push services are reached over HTTPS; plain HTTP only on this machine (simulators).
fn endpoint_ok(endpoint: &str) -> bool {
    let local = ["http://127.0.0.1:", "http://127.0.0.1/", "http://localhost:", "http://localhost/"];
    let scheme_ok = endpoint.starts_with("https://") || local.iter().any(|p| endpoint.starts_with(p));
    scheme_ok && endpoint.len() <= 2000 && !endpoint.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The deployment's VAPID public key.
#[utoipa::path(get, path = "/api/v1/push/vapid-key", tag = "push", security(()),
    responses((status = 200, body = VapidKeyView)))]
pub async fn vapid_key(State(state): State<AppState>) -> Result<Response, ApiError> {
    let vapid = Vapid::load(&state.store).await?;
    Ok(axum::Json(VapidKeyView { public_key: vapid.public_key().to_owned() }).into_response())
}

/// Record a patient's push subscription (the same endpoint again takes the new keys).
#[utoipa::path(post, path = "/api/v1/organizations/{org}/patients/{id}/push-subscriptions", tag = "push",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Patient id")),
    request_body = SubscriptionInput,
    responses((status = 201, body = SubscriptionView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn subscribe(
    State(state): State<AppState>,
    access: Allowed<need::WritePatients>,
    Path((_, id)): Path<(String, String)>,
    JsonBody(input): JsonBody<SubscriptionInput>,
) -> Result<Response, ApiError> {
    let (org, patient): (OrganizationId, PatientId) = (access.org(), path_id(&id)?);
    let mut errors = ValidationErrors::new();
    if !endpoint_ok(&input.endpoint) {
        errors.push("endpoint", "is not an https:// URL of at most 2000 characters");
    }
    if let Err(reason) = check_keys(&input.keys.p256dh, &input.keys.auth) {
        let field = if reason.starts_with("auth") { "keys.auth" } else { "keys.p256dh" };
        errors.push(field, reason.split_once(' ').map_or(reason, |(_, rest)| rest));
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let (keys, store) = (&input.keys, &state.store);
    let subscription = store.add_push_subscription(org, patient, &input.endpoint, &keys.p256dh, &keys.auth).await?;
    let response = (StatusCode::CREATED, axum::Json(SubscriptionView::from(&subscription))).into_response();
    Ok(about_patient(response, patient))
}

/// A patient's live push subscriptions, newest first.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/patients/{id}/push-subscriptions", tag = "push",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Patient id")),
    responses((status = 200, body = ListView<SubscriptionView>), (status = 404, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    access: Allowed<need::ReadPatients>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (org, patient): (OrganizationId, PatientId) = (access.org(), path_id(&id)?);
    state.store.get_patient(org, patient).await?;
    let items = state.store.push_subscriptions(org, patient).await?.iter().map(SubscriptionView::from).collect();
    Ok(axum::Json(ListView { items, next_cursor: None }).into_response())
}
