//! FHIR Organization: the caller's own organization (the tenant, read from
//! Rapport's settings and changed there), and the others it deals with
//! (referring practices, payers, labs, units), kept as they were sent
//! (`kept`): create (conditional on an identifier), read, update under a
//! version, and search by `_id`, `name` (its start) or `identifier`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::Value;

use super::search::Search;
use super::write::{resource_of, update_of};
use super::{base, capability, fhir_json, found_or_none, kept, read_answer, resources};
use crate::AppState;
use crate::access::{Allowed, need};
use crate::error::ApiError;
use crate::query::QueryParams;
use rapport_store::FhirRecordQuery;

/// An organization's name, which a kept one must have (FHIR's org-1: a
/// name or an identifier; Rapport lists organizations by name).
fn name_of(resource: &Value) -> Result<String, ApiError> {
    match resource["name"].as_str().map(str::trim) {
        Some(name) if !name.is_empty() => Ok(name.to_owned()),
        _ => Err(ApiError::field("Organization.name", "an organization needs its name")),
    }
}

#[utoipa::path(get, path = "/fhir/Organization/{id}", tag = "fhir", params(("id" = String, Path, description = "Organization id")),
    responses((status = 200, description = "The caller's organization, or one it keeps"), (status = 404, description = "An OperationOutcome")))]
pub async fn read(
    State(state): State<AppState>,
    access: Allowed<need::ReadOrganization>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    if raw == access.org().to_string() {
        let organization = state.store.get_organization(access.org()).await?;
        return Ok(read_answer(resources::organization(&organization)));
    }
    let record = state.store.fhir_record(access.org(), "Organization", &raw).await?;
    Ok(read_answer(kept::resource(&record)))
}

#[utoipa::path(get, path = "/fhir/Organization", tag = "fhir",
    responses((status = 200, description = "A searchset Bundle: the caller's organization first, then those it keeps, newest first")))]
pub async fn search(
    State(state): State<AppState>,
    access: Allowed<need::ReadOrganization>,
    headers: HeaderMap,
    params: QueryParams,
) -> Result<Response, ApiError> {
    let org = access.org();
    let search = Search::read(params, &capability::parameters("Organization"))?;
    let own = state.store.get_organization(org).await?;
    if let Some(only) = search.get("_id") {
        let found = if only == org.to_string() {
            vec![resources::organization(&own)]
        } else {
            found_or_none(state.store.fhir_record(org, "Organization", only).await)?
                .iter()
                .map(kept::resource)
                .collect()
        };
        return Ok(fhir_json(search.bundle(&base(&headers), "Organization", found, None)));
    }
    let name = search.get("name").map(str::to_lowercase);
    let identifier = search.get("identifier").map(|raw| match raw.split_once('|') {
        Some((system, value)) => rapport_domain::ExternalId { system: system.to_owned(), value: value.to_owned() },
        None => rapport_domain::ExternalId { system: String::new(), value: raw.to_owned() },
    });
    let mut found = Vec::new();
    let own_matches = name.as_ref().is_none_or(|n| own.name.to_lowercase().starts_with(n.as_str()));
    if search.page.after.is_none() && identifier.is_none() && own_matches {
        found.push(resources::organization(&own));
    }
    let query = FhirRecordQuery { name, identifier, ..FhirRecordQuery::default() };
    let page = state.store.search_fhir_records(org, "Organization", &query, &search.page).await?;
    found.extend(page.items.iter().map(kept::resource));
    Ok(fhir_json(search.bundle(&base(&headers), "Organization", found, page.next_cursor)))
}

#[utoipa::path(post, path = "/fhir/Organization", tag = "fhir",
    responses((status = 201, description = "The Organization as kept"),
        (status = 200, description = "If-None-Exist (identifier=system|value) found it"),
        (status = 422, description = "An OperationOutcome naming the element at fault")))]
pub async fn create(
    State(state): State<AppState>,
    access: Allowed<need::WriteOrganization>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let resource = resource_of(&headers, &body, "Organization")?;
    let name = name_of(&resource)?;
    kept::keep(&state, access.org(), &headers, &resource, (None, "Organization"), Some(name)).await
}

#[utoipa::path(put, path = "/fhir/Organization/{id}", tag = "fhir", params(("id" = String, Path, description = "Organization id")),
    responses((status = 200, description = "The Organization as kept now"),
        (status = 404, description = "An OperationOutcome"), (status = 412, description = "An OperationOutcome"),
        (status = 422, description = "An OperationOutcome: the caller's own organization is changed in Rapport's settings")))]
pub async fn update(
    State(state): State<AppState>,
    access: Allowed<need::WriteOrganization>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let org = access.org();
    let resource = update_of(&headers, &body, "Organization", &raw)?;
    if raw == org.to_string() {
        return Err(ApiError::field(
            "Organization.id",
            "this organization's own record is changed in Rapport's settings",
        ));
    }
    let name = name_of(&resource)?;
    let current = state.store.fhir_record(org, "Organization", &raw).await?;
    kept::replace(&state, org, &headers, current, &resource, Some(name)).await
}
