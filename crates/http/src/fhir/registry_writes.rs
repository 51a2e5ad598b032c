//! FHIR writes of the registry's Practitioner and Location (create and
//! update, as `write` does them). A Practitioner keeps its name, title and
//! NPI (its conditional create finds it by the NPI; one NPI, one provider).
//! A Location's zone is its timezone extension, else its state's, else the
//! organization's; its opening hours stay Rapport's (weekdays 8 to 5 when
//! new).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use rapport_domain::{LocationId, OrganizationId, ProviderId};
use serde_json::Value;

use super::write::{if_match, none_exist, refused, resource_of, update_of, written};
use super::{id, resources};
use crate::AppState;
use crate::access::{Allowed, need};
use crate::error::ApiError;
use rapport_interop::import::fhir::map::{self, NPI_SYSTEM};

/// A Practitioner as a provider's fields.
fn provider_of(resource: &Value) -> Result<map::ProviderFields, ApiError> {
    map::practitioner_fields(resource).map_err(refused)
}

#[utoipa::path(post, path = "/fhir/Practitioner", tag = "fhir",
    responses((status = 201, description = "The Practitioner as created"),
        (status = 200, description = "If-None-Exist (identifier=…us-npi|NPI) found it"),
        (status = 409, description = "An OperationOutcome: an NPI another provider holds"),
        (status = 422, description = "An OperationOutcome naming the element at fault")))]
pub async fn create_practitioner(
    State(state): State<AppState>,
    access: Allowed<need::WriteOrganization>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let org = access.org();
    let resource = resource_of(&headers, &body, "Practitioner")?;
    let fields = provider_of(&resource)?;
    if let Some(key) = none_exist(&headers)? {
        if key.system != NPI_SYSTEM {
            return Err(ApiError::InvalidQuery(format!("a Practitioner is found again by its NPI ({NPI_SYSTEM}|…)")));
        }
        let page = rapport_store::PageRequest::first(1);
        let found = state.store.search_providers(org, None, Some(&key.value), &page).await?.items;
        if let Some(provider) = found.first() {
            return Ok(written(&headers, resources::practitioner(provider), StatusCode::OK));
        }
    }
    let provider = fields.into_provider(org, state.store.clock().now());
    let provider = state.store.create_provider(&provider).await?;
    Ok(written(&headers, resources::practitioner(&provider), StatusCode::CREATED))
}

#[utoipa::path(put, path = "/fhir/Practitioner/{id}", tag = "fhir", params(("id" = String, Path, description = "Practitioner id")),
    responses((status = 200, description = "The Practitioner as updated (its locations kept)"),
        (status = 404, description = "An OperationOutcome"), (status = 412, description = "An OperationOutcome"),
        (status = 422, description = "An OperationOutcome naming the element at fault")))]
pub async fn update_practitioner(
    State(state): State<AppState>,
    access: Allowed<need::WriteOrganization>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let org = access.org();
    let resource = update_of(&headers, &body, "Practitioner", &raw)?;
    let fields = provider_of(&resource)?;
    let mut provider = state.store.get_provider(org, id::<ProviderId>(&raw)?).await?;
    let expected = if_match(&headers)?.unwrap_or(provider.version);
    provider.given_name = fields.given_name;
    provider.family_name = fields.family_name;
    provider.title = fields.title;
    provider.npi = fields.npi.or(provider.npi);
    let provider = state.store.update_provider(&provider, expected).await?;
    Ok(written(&headers, resources::practitioner(&provider), StatusCode::OK))
}

/// The IANA zone a Location names in FHIR's timezone extension, if any.
fn zone_extension(resource: &Value) -> Result<Option<rapport_domain::TimeZoneName>, ApiError> {
    let url = "http://hl7.org/fhir/StructureDefinition/timezone";
    let code = resource["extension"].as_array().into_iter().flatten().find(|e| e["url"] == url);
    match code.map(|e| e["valueCode"].as_str().unwrap_or_default()) {
        None => Ok(None),
        Some(zone) => rapport_domain::TimeZoneName::parse(zone)
            .map(Some)
            .map_err(|_| ApiError::field("Location.extension", "the timezone extension is not an IANA zone")),
    }
}

/// A Location's fields, its zone settled (see the module's note).
async fn site_of(
    state: &AppState,
    org: OrganizationId,
    resource: &Value,
) -> Result<(map::LocationFields, rapport_domain::TimeZoneName), ApiError> {
    let fields = map::location_fields(resource).map_err(refused)?;
    let zone = match zone_extension(resource)?.or(fields.time_zone.clone()) {
        Some(zone) => zone,
        None => state.store.get_organization(org).await?.time_zone,
    };
    Ok((fields, zone))
}

#[utoipa::path(post, path = "/fhir/Location", tag = "fhir",
    responses((status = 201, description = "The Location as created"),
        (status = 422, description = "An OperationOutcome naming the element at fault")))]
pub async fn create_location(
    State(state): State<AppState>,
    access: Allowed<need::WriteOrganization>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let org = access.org();
    let resource = resource_of(&headers, &body, "Location")?;
    let (fields, time_zone) = site_of(&state, org, &resource).await?;
    let location = fields.into_location(org, time_zone, state.store.clock().now());
    let location = state.store.create_location(&location).await?;
    Ok(written(&headers, resources::location(&location), StatusCode::CREATED))
}

#[utoipa::path(put, path = "/fhir/Location/{id}", tag = "fhir", params(("id" = String, Path, description = "Location id")),
    responses((status = 200, description = "The Location as updated (its opening hours kept)"),
        (status = 404, description = "An OperationOutcome"), (status = 412, description = "An OperationOutcome"),
        (status = 422, description = "An OperationOutcome naming the element at fault")))]
pub async fn update_location(
    State(state): State<AppState>,
    access: Allowed<need::WriteOrganization>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let org = access.org();
    let resource = update_of(&headers, &body, "Location", &raw)?;
    let (fields, time_zone) = site_of(&state, org, &resource).await?;
    let mut location = state.store.get_location(org, id::<LocationId>(&raw)?).await?;
    let expected = if_match(&headers)?.unwrap_or(location.version);
    location.name = fields.name;
    location.address = fields.address;
    location.phone = fields.phone.or(location.phone);
    location.time_zone = time_zone;
    let location = state.store.update_location(&location, expected).await?;
    Ok(written(&headers, resources::location(&location), StatusCode::OK))
}
