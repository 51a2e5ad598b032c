//! The JSON REST API under `/api/v1`. Every resource lives inside an
//! organization's path, and every store call is scoped by it.

mod appointment_dto;
mod appointments;
mod consents;
mod organization_dto;
mod organizations;
mod patient_dto;
mod patients;

use axum::Json;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::extract::etag;

pub(crate) use openapi_paths::ApiPaths;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/organizations", get(organizations::list).post(organizations::create))
        .route("/organizations/{org}", get(organizations::read).put(organizations::update))
        .route(
            "/organizations/{org}/locations",
            get(organizations::list_locations).post(organizations::create_location),
        )
        .route(
            "/organizations/{org}/locations/{id}",
            get(organizations::read_location).put(organizations::update_location),
        )
        .route(
            "/organizations/{org}/providers",
            get(organizations::list_providers).post(organizations::create_provider),
        )
        .route(
            "/organizations/{org}/providers/{id}",
            get(organizations::read_provider).put(organizations::update_provider),
        )
        .route("/organizations/{org}/patients", get(patients::search).post(patients::create))
        .route("/organizations/{org}/patients/{id}", get(patients::read).put(patients::update).delete(patients::delete))
        .route("/organizations/{org}/patients/{id}/consents", get(consents::list).post(consents::record))
        .route("/organizations/{org}/appointments", get(appointments::list).post(appointments::create_appointment))
        .route(
            "/organizations/{org}/appointments/{id}",
            get(appointments::read).put(appointments::update).delete(appointments::delete),
        )
}

/// A page of results and the cursor of the next one (pass it as `after`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ListView<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A JSON body with its version as ETag; `created` answers 201.
fn versioned<T: Serialize>(version: i64, body: T, created: bool) -> Response {
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    let mut response = (status, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

mod openapi_paths {
    /// Every operation of the API, for the OpenAPI document.
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(
        super::organizations::list,
        super::organizations::create,
        super::organizations::read,
        super::organizations::update,
        super::organizations::list_locations,
        super::organizations::create_location,
        super::organizations::read_location,
        super::organizations::update_location,
        super::organizations::list_providers,
        super::organizations::create_provider,
        super::organizations::read_provider,
        super::organizations::update_provider,
        super::patients::search,
        super::patients::create,
        super::patients::read,
        super::patients::update,
        super::patients::delete,
        super::consents::list,
        super::consents::record,
        super::appointments::list,
        super::appointments::create_appointment,
        super::appointments::read,
        super::appointments::update,
        super::appointments::delete,
    ))]
    pub struct ApiPaths;
}
