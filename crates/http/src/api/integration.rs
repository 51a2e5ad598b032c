//! The integration log (`/integration/hl7-messages`): every HL7 v2 message
//! received, oldest first, with what became of it and the records it
//! touched (the raw message stays in the database: it holds patient data),
//! and its replay; the feeds' code tables (`/integration/code-mappings`)
//! with the codes waiting for staff.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use rapport_domain::Hl7MessageId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ListView;
use crate::AppState;
use crate::access::{Allowed, need};
use crate::error::{ApiError, Problem};
use crate::extract::JsonBody;
use crate::query::QueryParams;
use rapport_interop::ehr::intake::{self, ReplayError};
use rapport_store::{CodeKind, CodeMapping, Hl7Entry};

#[derive(Debug, Serialize, ToSchema)]
pub struct Hl7EntryView {
    pub id: String,
    /// MSH-3^MSH-4.
    pub sender: String,
    /// MSH-10.
    pub control_id: String,
    /// MSH-9.1^MSH-9.2, e.g. `SIU^S12`.
    pub message_type: String,
    pub received_at: String,
    /// received, applied, rejected (AR) or failed (AE).
    pub status: String,
    /// Why it was refused, naming fields.
    pub reason: Option<String>,
    pub patient_id: Option<String>,
    pub appointment_id: Option<String>,
}

impl From<&Hl7Entry> for Hl7EntryView {
    fn from(e: &Hl7Entry) -> Self {
        Self {
            id: e.id.to_string(),
            sender: e.sender.clone(),
            control_id: e.control_id.clone(),
            message_type: e.message_type.clone(),
            received_at: e.received_at.to_string(),
            status: e.status.as_str().into(),
            reason: e.reason.clone(),
            patient_id: e.patient_id.map(|p| p.to_string()),
            appointment_id: e.appointment_id.map(|a| a.to_string()),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/organizations/{org}/integration/hl7-messages", tag = "integration",
    params(("org" = String, Path, description = "Organization id"),
        ("limit" = Option<usize>, Query, description = "1 to 200"), ("after" = Option<String>, Query, description = "Cursor")),
    responses((status = 200, body = ListView<Hl7EntryView>), (status = 400, body = Problem)))]
pub async fn hl7_messages(
    State(state): State<AppState>,
    access: Allowed<need::ReadOrganization>,
    params: QueryParams,
) -> Result<Response, ApiError> {
    let page = state.store.hl7_log(access.org(), &params.only(&[])?.page()?).await?;
    let items = page.items.iter().map(Hl7EntryView::from).collect();
    Ok(axum::Json(ListView { items, next_cursor: page.next_cursor }).into_response())
}

/// Apply a kept message again, once its cause is fixed (a code mapped). A
/// message applied already is refused (409): replaying it could undo what
/// came after it.
#[utoipa::path(post, path = "/api/v1/organizations/{org}/integration/hl7-messages/{id}/replay", tag = "integration",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Log entry id")),
    responses((status = 200, body = Hl7EntryView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn replay(
    State(state): State<AppState>,
    access: Allowed<need::WriteOrganization>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id: Hl7MessageId = id.parse().map_err(|_| ApiError::NotFound)?;
    let entry = match intake::replay(&state.store, access.org(), id).await {
        Ok(entry) => entry,
        Err(ReplayError::Applied) => return Err(ApiError::Conflict(ReplayError::Applied.to_string())),
        Err(ReplayError::Store(error)) => return Err(error.into()),
    };
    Ok(axum::Json(Hl7EntryView::from(&entry)).into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CodeMappingView {
    /// The feed: `hl7:{MSH-3}`.
    pub system: String,
    /// location, provider or visit_type.
    pub kind: String,
    pub code: String,
    /// The feed's text beside the code.
    pub display: String,
    /// A location id, a provider id or a visit type; null while the code
    /// waits for staff (a mapping task).
    pub target: Option<String>,
    pub first_seen_at: String,
    pub updated_at: String,
}

impl From<&CodeMapping> for CodeMappingView {
    fn from(m: &CodeMapping) -> Self {
        Self {
            system: m.system.clone(),
            kind: m.kind.as_str().into(),
            code: m.code.clone(),
            display: m.display.clone(),
            target: m.target.clone(),
            first_seen_at: m.first_seen_at.to_string(),
            updated_at: m.updated_at.to_string(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CodeMappingList {
    pub items: Vec<CodeMappingView>,
}

/// The feeds' code tables; `unmapped=true` lists the mapping tasks only.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/integration/code-mappings", tag = "integration",
    params(("org" = String, Path, description = "Organization id"),
        ("kind" = Option<String>, Query, description = "location, provider or visit_type"),
        ("unmapped" = Option<bool>, Query, description = "Only the codes with no target")),
    responses((status = 200, body = CodeMappingList), (status = 400, body = Problem)))]
pub async fn code_mappings(
    State(state): State<AppState>,
    access: Allowed<need::ReadOrganization>,
    params: QueryParams,
) -> Result<Response, ApiError> {
    let params = params.only(&["kind", "unmapped"])?;
    let kind = params.parse::<CodeKind>("kind", "location, provider or visit_type")?;
    let unmapped = params.parse::<bool>("unmapped", "true or false")?.unwrap_or(false);
    let items = state.store.code_mappings(access.org(), kind, unmapped).await?;
    Ok(axum::Json(CodeMappingList { items: items.iter().map(CodeMappingView::from).collect() }).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeMappingInput {
    /// The feed: `hl7:{MSH-3}`.
    pub system: String,
    /// location, provider or visit_type.
    pub kind: String,
    pub code: String,
    /// A location id, a provider id or a visit type; null to unset.
    pub target: Option<String>,
}

/// Say what a feed's code means (creating the row, or filling a task).
#[utoipa::path(put, path = "/api/v1/organizations/{org}/integration/code-mappings", tag = "integration",
    params(("org" = String, Path, description = "Organization id")), request_body = CodeMappingInput,
    responses((status = 200, body = CodeMappingView), (status = 422, body = Problem)))]
pub async fn map_code(
    State(state): State<AppState>,
    access: Allowed<need::WriteOrganization>,
    JsonBody(input): JsonBody<CodeMappingInput>,
) -> Result<Response, ApiError> {
    let kind: CodeKind =
        input.kind.parse().map_err(|_| ApiError::field("kind", "must be location, provider or visit_type"))?;
    let text = |field: &str, value: &str| match value.trim() {
        "" => Err(ApiError::field(field, "must not be empty")),
        v if v.chars().count() > 200 => Err(ApiError::field(field, "must be at most 200 characters")),
        v => Ok(v.to_owned()),
    };
    let (system, code) = (text("system", &input.system)?, text("code", &input.code)?);
    let mapping = state.store.map_code(access.org(), &system, kind, &code, input.target.as_deref()).await?;
    Ok(axum::Json(CodeMappingView::from(&mapping)).into_response())
}
