//! `/organizations/{org}/audit-events` (the auditors' query and CSV export)
//! and `/patients/{id}/export` (a patient's right of access).

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use rapport_domain::{AuditEvent, PatientId};
use serde::Serialize;
use utoipa::ToSchema;

use super::ListView;
use super::appointment_dto::AppointmentView;
use super::consents::ConsentView;
use super::patient_dto::PatientView;
use crate::AppState;
use crate::access::{Allowed, need};
use crate::error::{ApiError, Problem};
use crate::extract::path_id;
use crate::query::QueryParams;
use rapport_store::{AppointmentQuery, AuditQuery, PageRequest};

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventView {
    pub seq: i64,
    pub id: String,
    pub occurred_at: String,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub patient_id: Option<String>,
    pub outcome: String,
    pub status: Option<u16>,
    /// Opened outside the actor's role: review these first.
    pub break_glass: bool,
    pub reason: Option<String>,
    pub client_address: Option<String>,
    pub user_agent: Option<String>,
    pub hash: String,
}

impl From<&AuditEvent> for AuditEventView {
    fn from(e: &AuditEvent) -> Self {
        let n = &e.event;
        Self {
            seq: e.seq,
            id: e.id.to_string(),
            occurred_at: e.occurred_at.to_string(),
            actor_kind: n.actor_kind.as_str().to_owned(),
            actor_id: n.actor_id.clone(),
            action: n.action.clone(),
            resource_type: n.resource_type.clone(),
            resource_id: n.resource_id.clone(),
            patient_id: n.patient_id.map(|p| p.to_string()),
            outcome: n.outcome.as_str().to_owned(),
            status: n.status,
            break_glass: n.break_glass,
            reason: n.reason.clone(),
            client_address: n.client_address.clone(),
            user_agent: n.user_agent.clone(),
            hash: e.hash.clone(),
        }
    }
}

/// Query the trail, newest first; `format=csv` exports the page as CSV.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/audit-events", tag = "audit",
    params(("org" = String, Path, description = "Organization id"),
        ("patient" = Option<String>, Query, description = "Events about this patient"),
        ("actor" = Option<String>, Query, description = "Events by this staff user or token id"),
        ("action" = Option<String>, Query, description = "e.g. `patient.read`"),
        ("from" = Option<String>, Query, description = "At or after this instant (RFC 3339)"),
        ("to" = Option<String>, Query, description = "Before this instant"),
        ("format" = Option<String>, Query, description = "`json` (default) or `csv`"),
        ("limit" = Option<usize>, Query, description = "1 to 200, default 50 (csv: up to 10,000)"),
        ("after" = Option<i64>, Query, description = "The `next_cursor` of the previous page")),
    responses((status = 200, body = ListView<AuditEventView>), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn query(
    State(state): State<AppState>,
    access: Allowed<need::ReadAudit>,
    params: QueryParams,
) -> Result<Response, ApiError> {
    let params = params.only(&["patient", "actor", "action", "from", "to", "format"])?;
    let csv = match params.get("format") {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::InvalidQuery("parameter `format` must be json or csv".into())),
    };
    let query = AuditQuery {
        patient_id: params.parse::<PatientId>("patient", "a patient id")?,
        actor_id: params.get("actor").map(str::to_owned),
        action: params.get("action").map(str::to_owned),
        from: params.parse("from", "an RFC 3339 instant")?,
        to: params.parse("to", "an RFC 3339 instant")?,
    };
    let max = if csv { 10_000 } else { PageRequest::MAX_LIMIT };
    let limit = params.parse::<usize>("limit", "a whole number")?.unwrap_or(50);
    if !(1..=max).contains(&limit) {
        return Err(ApiError::InvalidQuery(format!("parameter `limit` must be a whole number from 1 to {max}")));
    }
    let after = params.parse::<i64>("after", "a cursor of this API")?.map(|seq| seq.to_string());
    let page = state.store.audit_events(access.org(), &query, &PageRequest { after, limit }).await?;
    let items: Vec<AuditEventView> = page.items.iter().map(AuditEventView::from).collect();
    if csv {
        return csv_response(&items);
    }
    Ok(axum::Json(ListView { items, next_cursor: page.next_cursor }).into_response())
}

fn csv_response(items: &[AuditEventView]) -> Result<Response, ApiError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let internal = |e: csv::Error| ApiError::Internal(format!("writing CSV: {e}"));
    writer
        .write_record([
            "seq",
            "id",
            "occurred_at",
            "actor_kind",
            "actor_id",
            "action",
            "resource_type",
            "resource_id",
            "patient_id",
            "outcome",
            "status",
            "break_glass",
            "reason",
            "client_address",
            "user_agent",
            "hash",
        ])
        .map_err(internal)?;
    for e in items {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        writer
            .write_record([
                e.seq.to_string(),
                e.id.clone(),
                e.occurred_at.clone(),
                e.actor_kind.clone(),
                text(&e.actor_id),
                e.action.clone(),
                text(&e.resource_type),
                text(&e.resource_id),
                text(&e.patient_id),
                e.outcome.clone(),
                e.status.map(|s| s.to_string()).unwrap_or_default(),
                e.break_glass.to_string(),
                text(&e.reason),
                text(&e.client_address),
                text(&e.user_agent),
                e.hash.clone(),
            ])
            .map_err(internal)?;
    }
    let bytes = writer.into_inner().map_err(|e| ApiError::Internal(format!("writing CSV: {e}")))?;
    let mut response = bytes.into_response();
    response.extensions_mut().insert(crate::guard::AuditAction("audit.export"));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"audit-events.csv\""));
    Ok(response)
}

/// Everything Rapport holds about one patient (HIPAA right of access, GDPR Art. 15).
#[derive(Debug, Serialize, ToSchema)]
pub struct PatientExport {
    pub exported_at: String,
    pub patient: PatientView,
    pub consents: Vec<ConsentView>,
    pub appointments: Vec<AppointmentView>,
}

/// Export one patient's record: demographics, consents, appointments.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/patients/{id}/export", tag = "patients",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Patient id")),
    responses((status = 200, body = PatientExport), (status = 404, body = Problem)))]
pub async fn export_patient(
    State(state): State<AppState>,
    access: Allowed<need::ExportPatients>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (org, id): (_, PatientId) = (access.org(), path_id(&id)?);
    let patient = state.store.get_patient(org, id).await?;
    let consents = state.store.consent_history(org, id).await?;
    let query = AppointmentQuery { patient_id: Some(id), ..AppointmentQuery::default() };
    let mut appointments = Vec::new();
    let mut page = PageRequest::first(PageRequest::MAX_LIMIT);
    loop {
        let found = state.store.list_appointments(org, &query, &page).await?;
        appointments.extend(found.items.iter().map(AppointmentView::from));
        match found.next_cursor {
            Some(cursor) => page.after = Some(cursor),
            None => break,
        }
    }
    let export = PatientExport {
        exported_at: state.store.clock().now().to_string(),
        patient: PatientView::from(&patient),
        consents: consents.iter().map(ConsentView::from).collect(),
        appointments,
    };
    let mut response = axum::Json(export).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"patient-export.json\""));
    Ok(response)
}
