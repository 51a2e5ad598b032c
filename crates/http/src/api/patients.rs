//! `/organizations/{org}/patients`: the registry's API.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rapport_domain::{BirthDate, Email, OrganizationId, PatientId, PhoneE164};

use super::patient_dto::{PatientInput, PatientView};
use super::{ListView, about_patient, versioned};
use crate::AppState;
use crate::access::{Allowed, need};
use crate::error::{ApiError, Problem};
use crate::extract::{IfMatch, JsonBody, OptionalIfMatch, path_id};
use crate::query::QueryParams;
use rapport_store::PatientQuery;

/// Search or list patients. Every given criterion must match; without any,
/// all patients are listed. Results are in creation order.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/patients", tag = "patients",
    params(("org" = String, Path, description = "Organization id"),
        ("name" = Option<String>, Query, description = "Name prefixes: each word starts the given or family name"),
        ("phone" = Option<String>, Query, description = "A phone number (E.164 or US national)"),
        ("email" = Option<String>, Query, description = "An email address"),
        ("birth_date" = Option<String>, Query, description = "YYYY-MM-DD"),
        ("identifier" = Option<String>, Query, description = "`value` or `system|value`"),
        ("limit" = Option<usize>, Query, description = "1 to 200, default 50"),
        ("after" = Option<String>, Query, description = "The `next_cursor` of the previous page")),
    responses((status = 200, body = ListView<PatientView>), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn search(
    State(state): State<AppState>,
    access: Allowed<need::ReadPatients>,
    params: QueryParams,
) -> Result<Response, ApiError> {
    let org = access.org();
    let params = params.only(&["name", "phone", "email", "birth_date", "identifier"])?;
    let query = PatientQuery {
        name: params.get("name").map(str::to_owned),
        phone: params.parse::<PhoneE164>("phone", "a phone number")?,
        email: params.get("email").map(Email::parse).transpose().map_err(|_| bad("email", "an email address"))?,
        birth_date: params
            .get("birth_date")
            .map(|b| BirthDate::parse(b, state.store.clock().latest_today()))
            .transpose()
            .map_err(|_| bad("birth_date", "a date in YYYY-MM-DD form"))?,
        identifier: params.get("identifier").map(|raw| match raw.split_once('|') {
            Some((system, value)) => (Some(system.to_owned()), value.to_owned()),
            None => (None, raw.to_owned()),
        }),
        updated_since: None,
    };
    let page = state.store.search_patients(org, &query, &params.page()?).await?;
    let view = ListView { items: page.items.iter().map(PatientView::from).collect(), next_cursor: page.next_cursor };
    Ok(axum::Json(view).into_response())
}

fn bad(parameter: &str, expected: &str) -> ApiError {
    ApiError::InvalidQuery(format!("parameter `{parameter}` must be {expected}"))
}

/// Register a patient.
#[utoipa::path(post, path = "/api/v1/organizations/{org}/patients", tag = "patients",
    params(("org" = String, Path, description = "Organization id")), request_body = PatientInput,
    responses((status = 201, body = PatientView), (status = 400, body = Problem), (status = 409, body = Problem),
        (status = 413, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    access: Allowed<need::WritePatients>,
    JsonBody(input): JsonBody<PatientInput>,
) -> Result<Response, ApiError> {
    let org = access.org();
    let details = input.into_details(state.store.clock().latest_today())?;
    let patient = state.store.create_patient(org, &details).await?;
    Ok(about_patient(versioned(patient.version, PatientView::from(&patient), true), patient.id))
}

/// Read one patient; the ETag is its version.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/patients/{id}", tag = "patients",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Patient id")),
    responses((status = 200, body = PatientView), (status = 404, body = Problem)))]
pub async fn read(
    State(state): State<AppState>,
    access: Allowed<need::ReadPatients>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (org, id): (OrganizationId, PatientId) = (access.org(), path_id(&id)?);
    let patient = state.store.get_patient(org, id).await?;
    Ok(versioned(patient.version, PatientView::from(&patient), false))
}

/// Replace a patient's details. `If-Match` must carry the ETag you read.
#[utoipa::path(put, path = "/api/v1/organizations/{org}/patients/{id}", tag = "patients",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Patient id"),
        ("If-Match" = String, Header, description = "The ETag read")),
    request_body = PatientInput,
    responses((status = 200, body = PatientView), (status = 404, body = Problem), (status = 412, body = Problem),
        (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    access: Allowed<need::WritePatients>,
    Path((_, id)): Path<(String, String)>,
    IfMatch(expected): IfMatch,
    JsonBody(input): JsonBody<PatientInput>,
) -> Result<Response, ApiError> {
    let (org, id): (OrganizationId, PatientId) = (access.org(), path_id(&id)?);
    let details = input.into_details(state.store.clock().latest_today())?;
    let patient = state.store.update_patient(org, id, expected, &details).await?;
    Ok(versioned(patient.version, PatientView::from(&patient), false))
}

/// Delete a patient (soft: history is kept, lookups stop finding them).
#[utoipa::path(delete, path = "/api/v1/organizations/{org}/patients/{id}", tag = "patients",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Patient id"),
        ("If-Match" = Option<String>, Header, description = "The ETag read (optional)")),
    responses((status = 204, description = "Deleted"), (status = 404, body = Problem), (status = 412, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    access: Allowed<need::WritePatients>,
    Path((_, id)): Path<(String, String)>,
    OptionalIfMatch(expected): OptionalIfMatch,
) -> Result<StatusCode, ApiError> {
    let (org, id): (OrganizationId, PatientId) = (access.org(), path_id(&id)?);
    state.store.delete_patient(org, id, expected).await?;
    Ok(StatusCode::NO_CONTENT)
}
