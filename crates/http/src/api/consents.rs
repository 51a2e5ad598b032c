//! `/organizations/{org}/patients/{id}/consents`: the consent ledger.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rapport_domain::{
    Channel, Consent, ConsentId, ConsentStatus, OrganizationId, PatientId, Purpose, ValidationErrors,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::access::{Allowed, need};
use crate::error::{ApiError, Problem};
use crate::extract::{JsonBody, path_id};

/// A grant or revocation to record.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentInput {
    /// sms, email, voice or push.
    pub channel: String,
    /// transactional, marketing or research.
    pub purpose: String,
    /// granted or revoked.
    pub status: String,
    /// How it was obtained: `api`, `paper-form`, `portal` …
    pub source: Option<String>,
    /// What proves it: a form id, a message id.
    pub evidence: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentView {
    pub id: String,
    pub patient_id: String,
    pub channel: String,
    pub purpose: String,
    pub status: String,
    pub source: String,
    pub evidence: Option<String>,
    pub recorded_at: String,
}

impl From<&Consent> for ConsentView {
    fn from(c: &Consent) -> Self {
        Self {
            id: c.id.to_string(),
            patient_id: c.patient_id.to_string(),
            channel: c.channel.as_str().to_owned(),
            purpose: c.purpose.as_str().to_owned(),
            status: c.status.as_str().to_owned(),
            source: c.source.clone(),
            evidence: c.evidence.clone(),
            recorded_at: c.recorded_at.to_string(),
        }
    }
}

/// The current choice per channel and purpose, and the full ledger.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentsView {
    pub current: Vec<ConsentView>,
    pub history: Vec<ConsentView>,
}

/// A patient's consents: current state and history.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/patients/{id}/consents", tag = "consents",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Patient id")),
    responses((status = 200, body = ConsentsView), (status = 404, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    access: Allowed<need::ReadConsents>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (org, id): (OrganizationId, PatientId) = (access.org(), path_id(&id)?);
    let history = state.store.consent_history(org, id).await?;
    let view = ConsentsView {
        current: rapport_domain::consent::current(&history).into_iter().map(ConsentView::from).collect(),
        history: history.iter().map(ConsentView::from).collect(),
    };
    Ok(axum::Json(view).into_response())
}

/// Record a grant or a revocation.
#[utoipa::path(post, path = "/api/v1/organizations/{org}/patients/{id}/consents", tag = "consents",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Patient id")),
    request_body = ConsentInput,
    responses((status = 201, body = ConsentView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn record(
    State(state): State<AppState>,
    access: Allowed<need::WriteConsents>,
    Path((_, id)): Path<(String, String)>,
    JsonBody(input): JsonBody<ConsentInput>,
) -> Result<Response, ApiError> {
    let (org, patient): (OrganizationId, PatientId) = (access.org(), path_id(&id)?);
    let mut v = ValidationErrors::new();
    let channel = v.check("channel", input.channel.parse::<Channel>());
    let purpose = v.check("purpose", input.purpose.parse::<Purpose>());
    let status = v.check("status", input.status.parse::<ConsentStatus>());
    let (Some(channel), Some(purpose), Some(status)) = (channel, purpose, status) else {
        return Err(v.into());
    };
    let consent = Consent {
        id: ConsentId::generate(),
        organization_id: org,
        patient_id: patient,
        channel,
        purpose,
        status,
        source: input.source.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).unwrap_or_else(|| "api".into()),
        evidence: input.evidence,
        recorded_at: state.store.clock().now(),
    };
    let stored = state.store.record_consent(&consent).await?;
    Ok((StatusCode::CREATED, axum::Json(ConsentView::from(&stored))).into_response())
}
