//! The integration log (`/integration/hl7-messages`): every HL7 v2 message
//! received, oldest first, with what became of it and the records it
//! touched (the raw message stays in the database: it holds patient data).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::ListView;
use crate::http::AppState;
use crate::http::access::{Allowed, need};
use crate::http::error::{ApiError, Problem};
use crate::http::query::QueryParams;
use crate::store::Hl7Entry;

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
            id: e.id.clone(),
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
