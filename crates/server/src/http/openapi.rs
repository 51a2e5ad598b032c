//! `GET /api/openapi.json`: the OpenAPI 3 document, generated from the
//! handlers' annotations, so it cannot drift from the code.

use axum::Json;
use axum::response::IntoResponse;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "Rapport", description = "Patient relationship management: the registry API."),
    paths(super::healthz, super::readyz)
)]
struct ApiDoc;

/// The whole document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut document = ApiDoc::openapi();
    document.merge(super::api::ApiPaths::openapi());
    document
}

pub async fn serve() -> impl IntoResponse {
    Json(document())
}
