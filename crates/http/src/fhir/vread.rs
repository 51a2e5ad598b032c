//! `GET /fhir/{type}/{id}/_history/{version}`: a version read. Rapport
//! keeps each record's current version only (its history is the audit
//! trail's), so the current version reads like a plain read and an older
//! one is a 404 that says so; the links writes answer with resolve.

use axum::extract::{Path, State};
use axum::response::Response;
use rapport_domain::{AppointmentId, LocationId, PatientId, ProviderId, ScheduleId};
use serde_json::Value;

use super::{id, read_answer, resources, schedules};
use crate::AppState;
use crate::access::{Allowed, need};
use crate::error::ApiError;

/// The resource if `version` is its current one.
fn at_version(resource: Value, version: &str) -> Result<Response, ApiError> {
    if resource["meta"]["versionId"].as_str() == Some(version) {
        return Ok(read_answer(resource));
    }
    Err(ApiError::NotFoundBecause("only the current version of a record is kept; read it without _history".into()))
}

#[utoipa::path(get, path = "/fhir/Patient/{id}/_history/{version}", tag = "fhir",
    params(("id" = String, Path, description = "Patient id"), ("version" = String, Path, description = "meta.versionId")),
    responses((status = 200, description = "The Patient at that version"), (status = 404, description = "An OperationOutcome")))]
pub async fn patient(
    State(state): State<AppState>,
    access: Allowed<need::ReadPatients>,
    Path((raw, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let patient = state.store.get_patient(access.org(), id::<PatientId>(&raw)?).await?;
    at_version(resources::patient(&patient), &version)
}

#[utoipa::path(get, path = "/fhir/Practitioner/{id}/_history/{version}", tag = "fhir",
    params(("id" = String, Path, description = "Practitioner id"), ("version" = String, Path, description = "meta.versionId")),
    responses((status = 200, description = "The Practitioner at that version"), (status = 404, description = "An OperationOutcome")))]
pub async fn practitioner(
    State(state): State<AppState>,
    access: Allowed<need::ReadOrganization>,
    Path((raw, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let provider = state.store.get_provider(access.org(), id::<ProviderId>(&raw)?).await?;
    at_version(resources::practitioner(&provider), &version)
}

#[utoipa::path(get, path = "/fhir/Location/{id}/_history/{version}", tag = "fhir",
    params(("id" = String, Path, description = "Location id"), ("version" = String, Path, description = "meta.versionId")),
    responses((status = 200, description = "The Location at that version"), (status = 404, description = "An OperationOutcome")))]
pub async fn location(
    State(state): State<AppState>,
    access: Allowed<need::ReadOrganization>,
    Path((raw, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let location = state.store.get_location(access.org(), id::<LocationId>(&raw)?).await?;
    at_version(resources::location(&location), &version)
}

#[utoipa::path(get, path = "/fhir/Appointment/{id}/_history/{version}", tag = "fhir",
    params(("id" = String, Path, description = "Appointment id"), ("version" = String, Path, description = "meta.versionId")),
    responses((status = 200, description = "The Appointment at that version"), (status = 404, description = "An OperationOutcome")))]
pub async fn appointment(
    State(state): State<AppState>,
    access: Allowed<need::ReadAppointments>,
    Path((raw, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let appointment = state.store.get_appointment(access.org(), id::<AppointmentId>(&raw)?).await?;
    at_version(resources::appointment(&appointment), &version)
}

#[utoipa::path(get, path = "/fhir/Schedule/{id}/_history/{version}", tag = "fhir",
    params(("id" = String, Path, description = "Schedule id"), ("version" = String, Path, description = "meta.versionId")),
    responses((status = 200, description = "The Schedule at that version"), (status = 404, description = "An OperationOutcome")))]
pub async fn schedule(
    State(state): State<AppState>,
    access: Allowed<need::ReadOrganization>,
    Path((raw, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let schedule = state.store.get_schedule(access.org(), id::<ScheduleId>(&raw)?).await?;
    at_version(schedules::schedule(&schedule), &version)
}
