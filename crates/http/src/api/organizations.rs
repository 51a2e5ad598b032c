//! `/organizations`, and their `/locations` and `/providers`.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use rapport_domain::{Location, LocationId, Organization, OrganizationId, Provider, ProviderId};

use super::organization_dto::{
    LocationInput, LocationView, OrganizationInput, OrganizationView, ProviderInput, ProviderView,
};
use super::{ListView, versioned};
use crate::AppState;
use crate::access::{Allowed, need};
use crate::error::{ApiError, Problem};
use crate::extract::{IfMatch, JsonBody, path_id};
use crate::query::QueryParams;

/// The caller's organization, as a list (a caller belongs to exactly one).
#[utoipa::path(get, path = "/api/v1/organizations", tag = "organizations",
    responses((status = 200, body = ListView<OrganizationView>), (status = 400, body = Problem), (status = 401, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    access: Allowed<need::ReadOrganization>,
    params: QueryParams,
) -> Result<Response, ApiError> {
    params.only(&[])?.page()?;
    let org = state.store.get_organization(access.org()).await?;
    Ok(axum::Json(ListView { items: vec![OrganizationView::from(&org)], next_cursor: None }).into_response())
}

#[utoipa::path(get, path = "/api/v1/organizations/{org}", tag = "organizations",
    params(("org" = String, Path, description = "Organization id")),
    responses((status = 200, body = OrganizationView), (status = 404, body = Problem)))]
pub async fn read(
    State(state): State<AppState>,
    access: Allowed<need::ReadOrganization>,
) -> Result<Response, ApiError> {
    let org = state.store.get_organization(access.org()).await?;
    Ok(versioned(org.version, OrganizationView::from(&org), false))
}

#[utoipa::path(put, path = "/api/v1/organizations/{org}", tag = "organizations",
    params(("org" = String, Path, description = "Organization id"), ("If-Match" = String, Header, description = "The ETag read")),
    request_body = OrganizationInput,
    responses((status = 200, body = OrganizationView), (status = 404, body = Problem), (status = 412, body = Problem),
        (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    access: Allowed<need::WriteOrganization>,
    IfMatch(expected): IfMatch,
    JsonBody(input): JsonBody<OrganizationInput>,
) -> Result<Response, ApiError> {
    let current = state.store.get_organization(access.org()).await?;
    let fields = input.validate()?;
    let changed = Organization {
        name: fields.name,
        time_zone: fields.time_zone,
        default_language: fields.default_language,
        sending_window: fields.sending_window,
        ..current
    };
    let org = state.store.update_organization(&changed, expected).await?;
    Ok(versioned(org.version, OrganizationView::from(&org), false))
}

#[utoipa::path(get, path = "/api/v1/organizations/{org}/locations", tag = "locations",
    params(("org" = String, Path, description = "Organization id"), ("limit" = Option<usize>, Query, description = "1 to 200"),
        ("after" = Option<String>, Query, description = "Cursor")),
    responses((status = 200, body = ListView<LocationView>), (status = 404, body = Problem)))]
pub async fn list_locations(
    State(state): State<AppState>,
    access: Allowed<need::ReadOrganization>,
    params: QueryParams,
) -> Result<Response, ApiError> {
    let org = state.store.get_organization(access.org()).await?;
    let page = state.store.list_locations(org.id, &params.only(&[])?.page()?).await?;
    let items = page.items.iter().map(LocationView::from).collect();
    Ok(axum::Json(ListView { items, next_cursor: page.next_cursor }).into_response())
}

#[utoipa::path(post, path = "/api/v1/organizations/{org}/locations", tag = "locations",
    params(("org" = String, Path, description = "Organization id")), request_body = LocationInput,
    responses((status = 201, body = LocationView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create_location(
    State(state): State<AppState>,
    access: Allowed<need::WriteOrganization>,
    JsonBody(input): JsonBody<LocationInput>,
) -> Result<Response, ApiError> {
    let org = state.store.get_organization(access.org()).await?;
    let f = input.validate()?;
    let now = state.store.clock().now();
    let location = Location {
        id: LocationId::generate(),
        organization_id: org.id,
        name: f.name,
        address: f.address,
        phone: f.phone,
        time_zone: f.time_zone,
        opening_hours: f.opening_hours,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let location = state.store.create_location(&location).await?;
    Ok(versioned(location.version, LocationView::from(&location), true))
}

#[utoipa::path(get, path = "/api/v1/organizations/{org}/locations/{id}", tag = "locations",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Location id")),
    responses((status = 200, body = LocationView), (status = 404, body = Problem)))]
pub async fn read_location(
    State(state): State<AppState>,
    access: Allowed<need::ReadOrganization>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let location = state.store.get_location(access.org(), path_id(&id)?).await?;
    Ok(versioned(location.version, LocationView::from(&location), false))
}

#[utoipa::path(put, path = "/api/v1/organizations/{org}/locations/{id}", tag = "locations",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Location id"),
        ("If-Match" = String, Header, description = "The ETag read")),
    request_body = LocationInput,
    responses((status = 200, body = LocationView), (status = 404, body = Problem), (status = 412, body = Problem),
        (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn update_location(
    State(state): State<AppState>,
    access: Allowed<need::WriteOrganization>,
    Path((_, id)): Path<(String, String)>,
    IfMatch(expected): IfMatch,
    JsonBody(input): JsonBody<LocationInput>,
) -> Result<Response, ApiError> {
    let (org, id): (OrganizationId, LocationId) = (access.org(), path_id(&id)?);
    let current = state.store.get_location(org, id).await?;
    let f = input.validate()?;
    let changed = Location {
        name: f.name,
        address: f.address,
        phone: f.phone,
        time_zone: f.time_zone,
        opening_hours: f.opening_hours,
        ..current
    };
    let location = state.store.update_location(&changed, expected).await?;
    Ok(versioned(location.version, LocationView::from(&location), false))
}

#[utoipa::path(get, path = "/api/v1/organizations/{org}/providers", tag = "providers",
    params(("org" = String, Path, description = "Organization id"), ("limit" = Option<usize>, Query, description = "1 to 200"),
        ("after" = Option<String>, Query, description = "Cursor")),
    responses((status = 200, body = ListView<ProviderView>), (status = 404, body = Problem)))]
pub async fn list_providers(
    State(state): State<AppState>,
    access: Allowed<need::ReadOrganization>,
    params: QueryParams,
) -> Result<Response, ApiError> {
    let org = state.store.get_organization(access.org()).await?;
    let page = state.store.list_providers(org.id, &params.only(&[])?.page()?).await?;
    let items = page.items.iter().map(ProviderView::from).collect();
    Ok(axum::Json(ListView { items, next_cursor: page.next_cursor }).into_response())
}

#[utoipa::path(post, path = "/api/v1/organizations/{org}/providers", tag = "providers",
    params(("org" = String, Path, description = "Organization id")), request_body = ProviderInput,
    responses((status = 201, body = ProviderView), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn create_provider(
    State(state): State<AppState>,
    access: Allowed<need::WriteOrganization>,
    JsonBody(input): JsonBody<ProviderInput>,
) -> Result<Response, ApiError> {
    let org = state.store.get_organization(access.org()).await?;
    let f = input.validate()?;
    let now = state.store.clock().now();
    let provider = Provider {
        id: ProviderId::generate(),
        organization_id: org.id,
        given_name: f.given_name,
        family_name: f.family_name,
        title: f.title,
        npi: f.npi,
        location_ids: f.location_ids,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let provider = state.store.create_provider(&provider).await?;
    Ok(versioned(provider.version, ProviderView::from(&provider), true))
}

#[utoipa::path(get, path = "/api/v1/organizations/{org}/providers/{id}", tag = "providers",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Provider id")),
    responses((status = 200, body = ProviderView), (status = 404, body = Problem)))]
pub async fn read_provider(
    State(state): State<AppState>,
    access: Allowed<need::ReadOrganization>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let provider = state.store.get_provider(access.org(), path_id(&id)?).await?;
    Ok(versioned(provider.version, ProviderView::from(&provider), false))
}

#[utoipa::path(put, path = "/api/v1/organizations/{org}/providers/{id}", tag = "providers",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Provider id"),
        ("If-Match" = String, Header, description = "The ETag read")),
    request_body = ProviderInput,
    responses((status = 200, body = ProviderView), (status = 404, body = Problem), (status = 412, body = Problem),
        (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn update_provider(
    State(state): State<AppState>,
    access: Allowed<need::WriteOrganization>,
    Path((_, id)): Path<(String, String)>,
    IfMatch(expected): IfMatch,
    JsonBody(input): JsonBody<ProviderInput>,
) -> Result<Response, ApiError> {
    let (org, id): (OrganizationId, ProviderId) = (access.org(), path_id(&id)?);
    let current = state.store.get_provider(org, id).await?;
    let f = input.validate()?;
    let changed = Provider {
        given_name: f.given_name,
        family_name: f.family_name,
        title: f.title,
        npi: f.npi,
        location_ids: f.location_ids,
        ..current
    };
    let provider = state.store.update_provider(&changed, expected).await?;
    Ok(versioned(provider.version, ProviderView::from(&provider), false))
}
