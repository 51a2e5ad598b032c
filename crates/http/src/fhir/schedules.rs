//! FHIR Schedule: a provider's (or a location's own) bookable hours at one
//! location: read, search, create (conditional on its identifier) and
//! update. Its weekly hours travel in Rapport's
//! `available-time` extension, shaped like PractitionerRole.availableTime
//! (without it, the location's opening hours), and its slot length in
//! `slot-minutes` (15 without it); `slots` computes the Slots from them.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use jiff::Timestamp;
use jiff::civil::{Date, Time};
use rapport_domain::{LocationId, OpeningHours, OrganizationId, ProviderId, Schedule, ScheduleDetails, ScheduleId};
use serde_json::{Value, json};

use super::resources::instant;
use super::search::Search;
use super::write::{if_match, none_exist, resource_of, update_of, written};
use super::{base, capability, fhir_json, found_or_none, id, read_answer, reference};
use crate::AppState;
use crate::access::{Allowed, need};
use crate::error::ApiError;
use crate::query::QueryParams;
use rapport_store::{PageRequest, ScheduleQuery, StoreError};

pub const AVAILABLE_TIME: &str = "https://rapport.dev/fhir/StructureDefinition/available-time";
pub const SLOT_MINUTES: &str = "https://rapport.dev/fhir/StructureDefinition/slot-minutes";
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

pub fn schedule(s: &Schedule) -> Value {
    let d = &s.details;
    let mut actors = Vec::new();
    if let Some(provider) = d.provider_id {
        actors.push(json!({"reference": format!("Practitioner/{provider}")}));
    }
    actors.push(json!({"reference": format!("Location/{}", d.location_id)}));
    let mut out = json!({
        "resourceType": "Schedule",
        "id": s.id.to_string(),
        "meta": {"versionId": s.version.to_string(), "lastUpdated": instant(s.updated_at)},
        "active": d.active,
        "actor": actors,
    });
    let mut extension = available_time(&d.hours);
    extension.push(json!({"url": SLOT_MINUTES, "valueInteger": d.slot_minutes}));
    out["extension"] = extension.into();
    if let Some(source) = &d.source {
        out["identifier"] = json!([{"system": source.system, "value": source.value}]);
    }
    if let Some(service) = &d.service_type {
        out["serviceType"] = json!([{"text": service}]);
    }
    let mut horizon = serde_json::Map::new();
    for (key, at) in [("start", d.horizon_start), ("end", d.horizon_end)] {
        if let Some(at) = at {
            horizon.insert(key.into(), json!(instant(at)));
        }
    }
    if !horizon.is_empty() {
        out["planningHorizon"] = Value::Object(horizon);
    }
    if let Some(comment) = &d.comment {
        out["comment"] = json!(comment);
    }
    out
}

/// The weekly hours as `available-time` extensions: one per interval, with
/// every day that has it.
fn available_time(hours: &OpeningHours) -> Vec<Value> {
    let mut intervals: Vec<(Time, Time)> = hours.days.iter().flatten().copied().collect();
    intervals.sort();
    intervals.dedup();
    intervals
        .into_iter()
        .map(|(open, close)| {
            let mut parts: Vec<Value> = DAYS
                .iter()
                .zip(&hours.days)
                .filter(|(_, day)| day.contains(&(open, close)))
                .map(|(code, _)| json!({"url": "daysOfWeek", "valueCode": code}))
                .collect();
            parts.push(json!({"url": "availableStartTime", "valueTime": open.strftime("%H:%M:%S").to_string()}));
            parts.push(json!({"url": "availableEndTime", "valueTime": close.strftime("%H:%M:%S").to_string()}));
            json!({"url": AVAILABLE_TIME, "extension": parts})
        })
        .collect()
}

/// The `available-time` extensions as weekly hours, `None` when there are none.
fn hours_of(resource: &Value) -> Result<Option<OpeningHours>, ApiError> {
    let refuse = |why: &str| ApiError::field("Schedule.extension", format!("available-time: {why}"));
    let mut hours = OpeningHours::default();
    let mut any = false;
    for ext in resource["extension"].as_array().into_iter().flatten().filter(|e| e["url"] == AVAILABLE_TIME) {
        any = true;
        let parts = ext["extension"].as_array().map(Vec::as_slice).unwrap_or_default();
        let time = |url: &str| {
            let raw = parts.iter().find(|p| p["url"] == url).and_then(|p| p["valueTime"].as_str());
            raw.and_then(|t| t.parse::<Time>().ok()).ok_or_else(|| refuse(&format!("{url} must be a time (hh:mm:ss)")))
        };
        let (open, close) = (time("availableStartTime")?, time("availableEndTime")?);
        let days: Vec<&str> =
            parts.iter().filter(|p| p["url"] == "daysOfWeek").filter_map(|p| p["valueCode"].as_str()).collect();
        if days.is_empty() {
            return Err(refuse("daysOfWeek must name at least one day (mon … sun)"));
        }
        for day in days {
            let index = DAYS.iter().position(|d| *d == day).ok_or_else(|| refuse("daysOfWeek must be mon … sun"))?;
            hours.days[index].push((open, close));
        }
    }
    if !any {
        return Ok(None);
    }
    hours.validated().map(Some).map_err(|e| refuse(&e.to_string()))
}

/// A Period's bound: an instant, or a day (its start in `zone`).
fn bound(raw: &Value, zone: &jiff::tz::TimeZone, element: &str) -> Result<Option<Timestamp>, ApiError> {
    let Some(text) = raw.as_str() else { return Ok(None) };
    if let Ok(at) = text.parse::<Timestamp>() {
        return Ok(Some(at));
    }
    let day =
        text.parse::<Date>().map_err(|_| ApiError::field(element, "must be a day or an instant with an offset"))?;
    day.to_zoned(zone.clone())
        .map(|z| Some(z.timestamp()))
        .map_err(|_| ApiError::field(element, "must be a day or an instant with an offset"))
}

/// A Schedule's details, its actors resolved to this server's records.
async fn details_of(state: &AppState, org: OrganizationId, resource: &Value) -> Result<ScheduleDetails, ApiError> {
    let refuse = |why: &str| ApiError::field("Schedule.actor", why.to_owned());
    let mut provider: Option<ProviderId> = None;
    let mut location: Option<LocationId> = None;
    for actor in resource["actor"].as_array().into_iter().flatten() {
        let reference = actor["reference"].as_str().unwrap_or_default();
        if let Some(raw) = reference.strip_prefix("Practitioner/") {
            let found = raw.parse().map_err(|_| refuse("a Practitioner must be a record of this server"))?;
            provider = Some(found);
        } else if let Some(raw) = reference.strip_prefix("Location/") {
            location = Some(raw.parse().map_err(|_| refuse("a Location must be a record of this server"))?);
        } else {
            return Err(refuse("an actor must be a Practitioner or a Location of this server"));
        }
    }
    let location = match location {
        Some(location) => location,
        None => only_location(state, org, provider).await?,
    };
    let site = match state.store.get_location(org, location).await {
        Err(StoreError::NotFound) => return Err(refuse("the Location is not a record of this organization")),
        other => other?,
    };
    let zone = site.time_zone.tz();
    let minutes = match resource["extension"].as_array().into_iter().flatten().find(|e| e["url"] == SLOT_MINUTES) {
        None => 15,
        Some(ext) => {
            ext["valueInteger"].as_i64().filter(|m| ScheduleDetails::SLOT_MINUTES.contains(m)).ok_or_else(|| {
                ApiError::field("Schedule.extension", "slot-minutes must be a whole number from 5 to 480")
            })?
        }
    };
    let horizon = &resource["planningHorizon"];
    let (start, end) = (
        bound(&horizon["start"], &zone, "Schedule.planningHorizon.start")?,
        bound(&horizon["end"], &zone, "Schedule.planningHorizon.end")?,
    );
    if let (Some(start), Some(end)) = (start, end)
        && end <= start
    {
        return Err(ApiError::field("Schedule.planningHorizon.end", "must be after its start"));
    }
    let service = resource["serviceType"][0].clone();
    let service_type = service["text"].as_str().or(service["coding"][0]["display"].as_str()).map(str::to_owned);
    let source = resource["identifier"].as_array().into_iter().flatten().find_map(|i| {
        let (system, value) = (i["system"].as_str()?, i["value"].as_str()?);
        Some(rapport_domain::ExternalId { system: system.to_owned(), value: value.to_owned() })
    });
    Ok(ScheduleDetails {
        location_id: location,
        provider_id: provider,
        hours: hours_of(resource)?.unwrap_or(site.opening_hours),
        slot_minutes: minutes,
        horizon_start: start,
        horizon_end: end,
        active: resource["active"].as_bool().unwrap_or(true),
        service_type,
        comment: resource["comment"].as_str().map(str::to_owned),
        source,
    })
}

/// The location a schedule naming none is at: the provider's only one, else
/// the organization's only one.
async fn only_location(
    state: &AppState,
    org: OrganizationId,
    provider: Option<ProviderId>,
) -> Result<LocationId, ApiError> {
    if let Some(provider) = provider
        && let Some(found) = found_or_none(state.store.get_provider(org, provider).await)?
        && let [only] = found.location_ids.as_slice()
    {
        return Ok(*only);
    }
    match state.store.list_locations(org, &PageRequest::first(2)).await?.items.as_slice() {
        [only] => Ok(only.id),
        _ => Err(ApiError::field("Schedule.actor", "must name the Location (the organization has several)")),
    }
}

/// A store refusal of a schedule's actors, named as FHIR names them.
fn actor_refusal(error: StoreError) -> ApiError {
    match error {
        StoreError::UnknownReference { field } => {
            let what = if field.contains("provider") { "Practitioner" } else { "Location" };
            ApiError::field("Schedule.actor", format!("the {what} is not a record of this organization"))
        }
        other => other.into(),
    }
}

#[utoipa::path(get, path = "/fhir/Schedule/{id}", tag = "fhir", params(("id" = String, Path, description = "Schedule id")),
    responses((status = 200, description = "A FHIR Schedule"), (status = 404, description = "An OperationOutcome")))]
pub async fn read_schedule(
    State(state): State<AppState>,
    access: Allowed<need::ReadOrganization>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let found = state.store.get_schedule(access.org(), id::<ScheduleId>(&raw)?).await?;
    Ok(read_answer(schedule(&found)))
}

/// `actor` (`Practitioner/…` or `Location/…`) as the query's provider or location.
pub(super) fn actor_query(raw: Option<&str>, query: &mut ScheduleQuery) -> Result<(), ApiError> {
    match raw {
        Some(r) if r.starts_with("Practitioner/") => query.provider_id = Some(reference(r, "Practitioner")?),
        Some(r) if r.starts_with("Location/") => query.location_id = Some(reference(r, "Location")?),
        Some(_) => return Err(ApiError::InvalidQuery("an actor must be Practitioner/… or Location/…".into())),
        None => {}
    }
    Ok(())
}

#[utoipa::path(get, path = "/fhir/Schedule", tag = "fhir",
    responses((status = 200, description = "A searchset Bundle of Schedules"), (status = 400, description = "An OperationOutcome")))]
pub async fn search_schedules(
    State(state): State<AppState>,
    access: Allowed<need::ReadOrganization>,
    headers: HeaderMap,
    params: QueryParams,
) -> Result<Response, ApiError> {
    let org = access.org();
    let search = Search::read(params, &capability::parameters("Schedule"))?;
    if let Some(only) = search.get("_id") {
        let found = match only.parse::<ScheduleId>() {
            Ok(id) => found_or_none(state.store.get_schedule(org, id).await)?,
            Err(_) => None,
        };
        return Ok(fhir_json(search.bundle(&base(&headers), "Schedule", found.iter().map(schedule).collect(), None)));
    }
    let mut query = ScheduleQuery::default();
    actor_query(search.get("actor"), &mut query)?;
    query.active = match search.get("active") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(ApiError::InvalidQuery("parameter `active` must be true or false".into())),
    };
    query.source = match search.get("identifier").map(|raw| raw.split_once('|')) {
        None => None,
        Some(Some((system, value))) if !system.is_empty() => {
            Some(rapport_domain::ExternalId { system: system.to_owned(), value: value.to_owned() })
        }
        Some(_) => return Err(ApiError::InvalidQuery("parameter `identifier` must be system|value".into())),
    };
    let page = state.store.search_schedules(org, &query, &search.page).await?;
    let found = page.items.iter().map(schedule).collect();
    Ok(fhir_json(search.bundle(&base(&headers), "Schedule", found, page.next_cursor)))
}

#[utoipa::path(post, path = "/fhir/Schedule", tag = "fhir",
    responses((status = 201, description = "The Schedule as created"),
        (status = 200, description = "If-None-Exist (identifier=system|value) found it"),
        (status = 422, description = "An OperationOutcome naming the element at fault")))]
pub async fn create_schedule(
    State(state): State<AppState>,
    access: Allowed<need::WriteOrganization>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let org = access.org();
    let resource = resource_of(&headers, &body, "Schedule")?;
    let details = details_of(&state, org, &resource).await?;
    if let Some(key) = none_exist(&headers)? {
        let query = ScheduleQuery { source: Some(key), ..ScheduleQuery::default() };
        let found = state.store.search_schedules(org, &query, &PageRequest::first(1)).await?.items;
        if let Some(existing) = found.first() {
            return Ok(written(&headers, schedule(existing), StatusCode::OK));
        }
    }
    let now = state.store.clock().now();
    let new = Schedule {
        id: ScheduleId::generate(),
        organization_id: org,
        version: 1,
        created_at: now,
        updated_at: now,
        details,
    };
    let created = state.store.create_schedule(&new).await.map_err(actor_refusal)?;
    Ok(written(&headers, schedule(&created), StatusCode::CREATED))
}

#[utoipa::path(put, path = "/fhir/Schedule/{id}", tag = "fhir", params(("id" = String, Path, description = "Schedule id")),
    responses((status = 200, description = "The Schedule as updated"),
        (status = 404, description = "An OperationOutcome"), (status = 412, description = "An OperationOutcome"),
        (status = 422, description = "An OperationOutcome naming the element at fault")))]
pub async fn update_schedule(
    State(state): State<AppState>,
    access: Allowed<need::WriteOrganization>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let org = access.org();
    let resource = update_of(&headers, &body, "Schedule", &raw)?;
    let mut current = state.store.get_schedule(org, id::<ScheduleId>(&raw)?).await?;
    let expected = if_match(&headers)?.unwrap_or(current.version);
    let mut details = details_of(&state, org, &resource).await?;
    details.source = current.details.source.take();
    current.details = details;
    let updated = state.store.update_schedule(&current, expected).await.map_err(actor_refusal)?;
    Ok(written(&headers, schedule(&updated), StatusCode::OK))
}
