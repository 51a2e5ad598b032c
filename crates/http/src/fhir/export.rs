//! FHIR bulk data export (`$export`, the asynchronous request pattern of
//! the FHIR Bulk Data Access IG): a kick-off with `Prefer: respond-async`
//! answers 202 with a status URL; the export runs in the background,
//! writing one NDJSON file per type (Patient, Appointment, Communication)
//! into the database; the status answers 202 while it runs, then the
//! manifest; each file is served as `application/fhir+ndjson`; DELETE on
//! the status removes the export. An administrator's (patients:export),
//! audited like every request.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rapport_domain::OrganizationId;
use serde_json::{Value, json};

use super::communication::said_communication;
use super::resources::{self, instant};
use super::{base, fhir_json};
use crate::AppState;
use crate::access::{Allowed, need};
use crate::error::ApiError;
use crate::query::QueryParams;
use rapport_store::{AppointmentQuery, ExportStatus, PageRequest, PatientQuery, Store, StoreError};

/// The types an export can hold, in the order they are written.
const TYPES: [&str; 3] = ["Patient", "Appointment", "Communication"];

#[utoipa::path(get, path = "/fhir/$export", tag = "fhir",
    params(("_type" = Option<String>, Query, description = "Patient, Appointment, Communication (comma-separated; default all)")),
    responses((status = 202, description = "Accepted: poll Content-Location"),
        (status = 400, description = "An OperationOutcome: no Prefer: respond-async, or a type or parameter not supported")))]
pub async fn kick_off(
    State(state): State<AppState>,
    access: Allowed<need::ExportPatients>,
    headers: HeaderMap,
    params: QueryParams,
) -> Result<Response, ApiError> {
    let asynchronous = headers
        .get("prefer")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|p| p.trim() == "respond-async"));
    if !asynchronous {
        return Err(ApiError::InvalidQuery("a bulk export needs Prefer: respond-async".into()));
    }
    let params = params.only(&["_type", "_outputFormat"])?;
    if let Some(format) = params.get("_outputFormat")
        && !matches!(format, "application/fhir+ndjson" | "application/ndjson" | "ndjson")
    {
        return Err(ApiError::InvalidQuery("_outputFormat must be application/fhir+ndjson".into()));
    }
    let types: Vec<&'static str> = match params.get("_type") {
        None => TYPES.to_vec(),
        Some(list) => {
            let mut wanted = Vec::new();
            for name in list.split(',').map(str::trim) {
                let known = TYPES.iter().find(|t| **t == name).ok_or_else(|| {
                    ApiError::InvalidQuery("_type may name Patient, Appointment and Communication".into())
                })?;
                if !wanted.contains(known) {
                    wanted.push(*known);
                }
            }
            wanted
        }
    };
    let org = access.org();
    let id = uuid::Uuid::now_v7().to_string();
    let base = base(&headers);
    let request = match params.get("_type") {
        Some(list) => format!("{base}/$export?_type={list}"),
        None => format!("{base}/$export"),
    };
    state.store.start_fhir_export(org, &id, &request).await?;
    let store = state.store.clone();
    let export = id.clone();
    tokio::spawn(async move {
        let outcome = write_files(&store, org, &types).await.map_err(|e| e.to_string());
        if let Err(error) = &outcome {
            tracing::warn!(organization = %org, export = %export, %error, "a bulk export failed");
        }
        if let Err(error) = store.finish_fhir_export(org, &export, outcome).await {
            tracing::warn!(organization = %org, export = %export, %error, "a bulk export's end was not recorded");
        }
    });
    let mut response = StatusCode::ACCEPTED.into_response();
    if let Ok(place) = HeaderValue::from_str(&format!("{base}/$export-status/{id}")) {
        response.headers_mut().insert(header::CONTENT_LOCATION, place);
    }
    Ok(response)
}

/// Every resource of each type as NDJSON: `(type, count, lines)`.
async fn write_files(
    store: &Store,
    org: OrganizationId,
    types: &[&str],
) -> Result<Vec<(String, i64, String)>, StoreError> {
    let mut files = Vec::new();
    for kind in types {
        let mut lines: Vec<Value> = Vec::new();
        let mut page = PageRequest::first(PageRequest::MAX_LIMIT);
        loop {
            let next = match *kind {
                "Patient" => {
                    let got = store.search_patients(org, &PatientQuery::default(), &page).await?;
                    lines.extend(got.items.iter().map(resources::patient));
                    got.next_cursor
                }
                "Appointment" => {
                    let got = store.list_appointments(org, &AppointmentQuery::default(), &page).await?;
                    lines.extend(got.items.iter().map(resources::appointment));
                    got.next_cursor
                }
                _ => {
                    let got = store.communications(org, None, &page).await?;
                    lines.extend(got.items.iter().map(|said| said_communication(said, org)));
                    got.next_cursor
                }
            };
            match next {
                Some(cursor) => page.after = Some(cursor),
                None => break,
            }
        }
        let ndjson: String = lines.iter().map(|line| format!("{line}\n")).collect();
        files.push(((*kind).to_owned(), lines.len() as i64, ndjson));
    }
    Ok(files)
}

#[utoipa::path(get, path = "/fhir/$export-status/{id}", tag = "fhir", params(("id" = String, Path, description = "Export id")),
    responses((status = 202, description = "Still running (X-Progress)"), (status = 200, description = "The manifest"),
        (status = 404, description = "An OperationOutcome"), (status = 500, description = "An OperationOutcome: the export failed")))]
pub async fn status(
    State(state): State<AppState>,
    access: Allowed<need::ExportPatients>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let mut export = state.store.fhir_export(access.org(), &id).await?;
    // An export runs in the process that took it: one still running after
    // an hour was cut short (that process stopped). Say so; start anew.
    let stale = state.store.clock().now().duration_since(export.requested_at) > jiff::SignedDuration::from_hours(1);
    if export.status == ExportStatus::Running && stale {
        export.status = ExportStatus::Failed;
        export.error = Some("the export was interrupted: delete it and start a new one".into());
    }
    match export.status {
        ExportStatus::Running => {
            let mut response = StatusCode::ACCEPTED.into_response();
            response.headers_mut().insert("x-progress", HeaderValue::from_static("running"));
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            Ok(response)
        }
        ExportStatus::Failed => {
            let why = export.error.unwrap_or_else(|| "the export failed".into());
            let outcome = json!({"resourceType": "OperationOutcome",
                "issue": [{"severity": "error", "code": "exception", "diagnostics": why}]});
            let mut response = fhir_json(outcome);
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            Ok(response)
        }
        ExportStatus::Done => {
            let base = base(&headers);
            let output: Vec<Value> = export
                .files
                .iter()
                .map(|(kind, count)| json!({"type": kind, "url": format!("{base}/$export-file/{id}/{kind}"), "count": count}))
                .collect();
            Ok(axum::Json(json!({
                "transactionTime": instant(export.requested_at),
                "request": export.request,
                "requiresAccessToken": true,
                "output": output,
                "error": [],
            }))
            .into_response())
        }
    }
}

#[utoipa::path(get, path = "/fhir/$export-file/{id}/{type}", tag = "fhir",
    params(("id" = String, Path, description = "Export id"), ("type" = String, Path, description = "Resource type")),
    responses((status = 200, description = "The type's resources, one JSON per line (application/fhir+ndjson)"),
        (status = 404, description = "An OperationOutcome")))]
pub async fn file(
    State(state): State<AppState>,
    access: Allowed<need::ExportPatients>,
    Path((id, kind)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let ndjson = state.store.fhir_export_file(access.org(), &id, &kind).await?;
    let mut response = Response::new(Body::from(ndjson));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/fhir+ndjson"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok(response)
}

#[utoipa::path(delete, path = "/fhir/$export-status/{id}", tag = "fhir", params(("id" = String, Path, description = "Export id")),
    responses((status = 202, description = "Removed"), (status = 404, description = "An OperationOutcome")))]
pub async fn remove(
    State(state): State<AppState>,
    access: Allowed<need::ExportPatients>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_fhir_export(access.org(), &id).await?;
    Ok(StatusCode::ACCEPTED)
}
