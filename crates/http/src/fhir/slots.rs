//! FHIR Slot: computed on demand from a Schedule's hours, its planning
//! horizon and the booked visits (`Schedule::slots`), `free` or `busy`,
//! never stored, so a slot can never disagree with the diary. A slot's id is
//! `{schedule}.{start in Unix seconds}`; a search pages by (start, schedule).

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use jiff::{SignedDuration, Timestamp};
use rapport_domain::{Schedule, ScheduleId, Slot};
use serde_json::{Value, json};

use super::resources::instant;
use super::schedules::actor_query;
use super::search::Search;
use super::{base, capability, fhir_json, found_or_none, reference};
use crate::AppState;
use crate::access::{Allowed, need};
use crate::error::ApiError;
use crate::query::QueryParams;
use rapport_store::{PageRequest, ScheduleQuery};

/// A slot search covers at most this many days.
const MAX_WINDOW_DAYS: i64 = 31;
/// A slot search without `schedule` or `schedule.actor` reads at most this many schedules.
const MAX_SCHEDULES: usize = 50;

fn slot_id(slot: &Slot) -> String {
    format!("{}.{}", slot.schedule_id, slot.start.as_second())
}

fn parse_slot_id(raw: &str) -> Option<(ScheduleId, Timestamp)> {
    let (schedule, start) = raw.split_once('.')?;
    Some((schedule.parse().ok()?, Timestamp::from_second(start.parse().ok()?).ok()?))
}

fn slot(s: &Slot, service_type: Option<&str>) -> Value {
    let mut out = json!({
        "resourceType": "Slot",
        "id": slot_id(s),
        "schedule": {"reference": format!("Schedule/{}", s.schedule_id)},
        "status": if s.busy { "busy" } else { "free" },
        "start": instant(s.start),
        "end": instant(s.end),
    });
    if let Some(service) = service_type {
        out["serviceType"] = json!([{"text": service}]);
    }
    out
}

/// The schedule's slots starting in `[from, to)`.
async fn slots_of(state: &AppState, s: &Schedule, from: Timestamp, to: Timestamp) -> Result<Vec<Slot>, ApiError> {
    let org = s.organization_id;
    let zone = state.store.get_location(org, s.details.location_id).await?.time_zone.tz();
    // A visit that began before the window may still overlap its first slot.
    let reach = SignedDuration::from_hours(24);
    let booked = state.store.booked_spans(org, &s.details, from - reach, to + reach).await?;
    Ok(s.slots(&zone, from, to, &booked))
}

#[utoipa::path(get, path = "/fhir/Slot/{id}", tag = "fhir", params(("id" = String, Path, description = "Slot id: {schedule}.{start in Unix seconds}")),
    responses((status = 200, description = "A FHIR Slot, free or busy as of now"), (status = 404, description = "An OperationOutcome")))]
pub async fn read_slot(
    State(state): State<AppState>,
    access: Allowed<need::ReadOrganization>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let (schedule_id, start) = parse_slot_id(&raw).ok_or(ApiError::NotFound)?;
    let found = state.store.get_schedule(access.org(), schedule_id).await?;
    let slots = slots_of(&state, &found, start, start + SignedDuration::from_secs(1)).await?;
    let one = slots.iter().find(|s| s.start == start).ok_or(ApiError::NotFound)?;
    Ok(fhir_json(slot(one, found.details.service_type.as_deref())))
}

/// The `start` parameters as a window: `[from, to)` (a day is the
/// organization's), from now for a week when open, at most 31 days.
fn window(search: &Search, zone: &jiff::tz::TimeZone, now: Timestamp) -> Result<(Timestamp, Timestamp), ApiError> {
    let (from, to) = search.range("start", zone)?;
    let from = from.unwrap_or(now);
    let to = to.unwrap_or(from + SignedDuration::from_hours(24 * 7));
    if to.duration_since(from) > SignedDuration::from_hours(24 * MAX_WINDOW_DAYS) {
        return Err(ApiError::InvalidQuery(format!("parameter `start` may span at most {MAX_WINDOW_DAYS} days")));
    }
    Ok((from, to))
}

#[utoipa::path(get, path = "/fhir/Slot", tag = "fhir",
    responses((status = 200, description = "A searchset Bundle of Slots computed now, by start"),
        (status = 400, description = "An OperationOutcome")))]
pub async fn search_slots(
    State(state): State<AppState>,
    access: Allowed<need::ReadOrganization>,
    headers: HeaderMap,
    params: QueryParams,
) -> Result<Response, ApiError> {
    let org = access.org();
    let search = Search::read_keyed(params, &capability::parameters("Slot"), |c| parse_slot_id(c).is_some())?;
    let zone = state.store.get_organization(org).await?.time_zone.tz();
    let (from, to) = window(&search, &zone, state.store.clock().now())?;
    let status = match search.get("status") {
        None => None,
        Some(s @ ("free" | "busy")) => Some(s == "busy"),
        Some(_) => return Err(ApiError::InvalidQuery("parameter `status` must be free or busy".into())),
    };
    let schedules = match search.get("schedule") {
        Some(raw) => {
            found_or_none(state.store.get_schedule(org, reference(raw, "Schedule")?).await)?.into_iter().collect()
        }
        None => {
            let mut query = ScheduleQuery { active: Some(true), ..ScheduleQuery::default() };
            actor_query(search.get("schedule.actor"), &mut query)?;
            let found = state.store.search_schedules(org, &query, &PageRequest::first(MAX_SCHEDULES + 1)).await?;
            if found.items.len() > MAX_SCHEDULES {
                return Err(ApiError::InvalidQuery(format!(
                    "more than {MAX_SCHEDULES} schedules match: narrow by `schedule` or `schedule.actor`"
                )));
            }
            found.items
        }
    };
    let after = search.page.after.as_deref().and_then(parse_slot_id).map(|(s, at)| (at, s));
    let mut found: Vec<(Slot, Option<&str>)> = Vec::new();
    for s in &schedules {
        for one in slots_of(&state, s, from, to).await? {
            let key = (one.start, one.schedule_id);
            if status.is_none_or(|busy| one.busy == busy) && after.is_none_or(|a| key > a) {
                found.push((one, s.details.service_type.as_deref()));
            }
        }
    }
    found.sort_by_key(|(s, _)| (s.start, s.schedule_id));
    let limit = search.page.limit;
    let next = (found.len() > limit).then(|| slot_id(&found[limit - 1].0));
    found.truncate(limit);
    let resources = found.iter().map(|(s, service)| slot(s, *service)).collect();
    Ok(fhir_json(search.bundle(&base(&headers), "Slot", resources, next)))
}
