//! `/organizations/{org}/appointments`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use rapport_domain::{AppointmentId, AppointmentStatus, OrganizationId};

use super::appointment_dto::{AppointmentInput, AppointmentView};
use super::{ListView, about_patient, versioned};
use crate::AppState;
use crate::access::{Allowed, need};
use crate::error::{ApiError, Problem};
use crate::extract::{IfMatch, JsonBody, OptionalIfMatch, path_id};
use crate::query::QueryParams;
use rapport_store::AppointmentQuery;

/// List appointments, filtered.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/appointments", tag = "appointments",
    params(("org" = String, Path, description = "Organization id"),
        ("patient_id" = Option<String>, Query, description = "Only this patient's"),
        ("provider_id" = Option<String>, Query, description = "Only this provider's"),
        ("location_id" = Option<String>, Query, description = "Only at this location"),
        ("status" = Option<String>, Query, description = "FHIR status"),
        ("from" = Option<String>, Query, description = "Starting at or after (RFC 3339)"),
        ("to" = Option<String>, Query, description = "Starting before (RFC 3339)"),
        ("limit" = Option<usize>, Query, description = "1 to 200, default 50"),
        ("after" = Option<String>, Query, description = "The `next_cursor` of the previous page")),
    responses((status = 200, body = ListView<AppointmentView>), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    access: Allowed<need::ReadAppointments>,
    params: QueryParams,
) -> Result<Response, ApiError> {
    let org = access.org();
    let params = params.only(&["patient_id", "provider_id", "location_id", "status", "from", "to"])?;
    let query = AppointmentQuery {
        patient_id: params.parse("patient_id", "an id")?,
        provider_id: params.parse("provider_id", "an id")?,
        location_id: params.parse("location_id", "an id")?,
        status: params.parse::<AppointmentStatus>("status", "a FHIR appointment status")?,
        from: params.parse::<Timestamp>("from", "an RFC 3339 instant")?,
        to: params.parse::<Timestamp>("to", "an RFC 3339 instant")?,
        updated_since: None,
    };
    let page = state.store.list_appointments(org, &query, &params.page()?).await?;
    let view =
        ListView { items: page.items.iter().map(AppointmentView::from).collect(), next_cursor: page.next_cursor };
    Ok(axum::Json(view).into_response())
}

/// Book an appointment.
#[utoipa::path(post, path = "/api/v1/organizations/{org}/appointments", tag = "appointments",
    params(("org" = String, Path, description = "Organization id")), request_body = AppointmentInput,
    responses((status = 201, body = AppointmentView), (status = 400, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn create_appointment(
    State(state): State<AppState>,
    access: Allowed<need::WriteAppointments>,
    JsonBody(input): JsonBody<AppointmentInput>,
) -> Result<Response, ApiError> {
    let org = access.org();
    let details = input.into_details()?;
    let appointment = state.store.create_appointment(org, &details).await?;
    Ok(about_patient(
        versioned(appointment.version, AppointmentView::from(&appointment), true),
        appointment.details.patient_id,
    ))
}

/// Read one appointment; the ETag is its version.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/appointments/{id}", tag = "appointments",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Appointment id")),
    responses((status = 200, body = AppointmentView), (status = 404, body = Problem)))]
pub async fn read(
    State(state): State<AppState>,
    access: Allowed<need::ReadAppointments>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (org, id): (OrganizationId, AppointmentId) = (access.org(), path_id(&id)?);
    let appointment = state.store.get_appointment(org, id).await?;
    Ok(about_patient(
        versioned(appointment.version, AppointmentView::from(&appointment), false),
        appointment.details.patient_id,
    ))
}

/// Replace an appointment (reschedule, change status …). `If-Match` required.
#[utoipa::path(put, path = "/api/v1/organizations/{org}/appointments/{id}", tag = "appointments",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Appointment id"),
        ("If-Match" = String, Header, description = "The ETag read")),
    request_body = AppointmentInput,
    responses((status = 200, body = AppointmentView), (status = 404, body = Problem), (status = 412, body = Problem),
        (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    access: Allowed<need::WriteAppointments>,
    Path((_, id)): Path<(String, String)>,
    IfMatch(expected): IfMatch,
    JsonBody(input): JsonBody<AppointmentInput>,
) -> Result<Response, ApiError> {
    let (org, id): (OrganizationId, AppointmentId) = (access.org(), path_id(&id)?);
    let details = input.into_details()?;
    let appointment = state.store.update_appointment(org, id, expected, &details).await?;
    Ok(about_patient(
        versioned(appointment.version, AppointmentView::from(&appointment), false),
        appointment.details.patient_id,
    ))
}

/// Delete an appointment entered by mistake (to call one off, set its status to `cancelled`).
#[utoipa::path(delete, path = "/api/v1/organizations/{org}/appointments/{id}", tag = "appointments",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Appointment id"),
        ("If-Match" = Option<String>, Header, description = "The ETag read (optional)")),
    responses((status = 204, description = "Deleted"), (status = 404, body = Problem), (status = 412, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    access: Allowed<need::WriteAppointments>,
    Path((_, id)): Path<(String, String)>,
    OptionalIfMatch(expected): OptionalIfMatch,
) -> Result<StatusCode, ApiError> {
    let (org, id): (OrganizationId, AppointmentId) = (access.org(), path_id(&id)?);
    state.store.delete_appointment(org, id, expected).await?;
    Ok(StatusCode::NO_CONTENT)
}
