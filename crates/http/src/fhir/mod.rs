//! The FHIR R4 API (`/fhir`): the CapabilityStatement, read and search of
//! Patient, Practitioner, Location and Appointment, create and update of
//! them (`write`, `registry_writes`), Organization (`organizations`: the
//! tenant, and others kept as sent), the messages both ways as
//! Communication and CommunicationRequest (`communication`), the consent
//! ledger as Consent (`consent`), resources kept as sent without acting on
//! them (`kept`), Schedule and the Slots computed from it (`schedules`,
//! `slots`), `Patient/$everything` and the bulk `$export` (`everything`,
//! `export`), in the caller's organization (the API token's or the staff
//! member's), guarded and audited like every route. Bodies are
//! `application/fhir+json`; every error under `/fhir` (the guard's too) is
//! an OperationOutcome, turned from the problem the rest of the API would
//! answer (`outcomes`).

pub mod capability;
pub mod communication;
pub mod communication_request;
pub mod consent;
pub mod everything;
pub mod export;
pub mod kept;
pub mod organizations;
pub mod registry_writes;
mod resources;
pub mod schedules;
mod search;
pub mod slots;
pub mod vread;
pub mod write;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rapport_domain::{AppointmentId, AppointmentStatus, Email, LocationId, PatientId, PhoneE164, ProviderId};
use serde_json::{Value, json};

use super::AppState;
use super::access::{Allowed, need};
use super::error::ApiError;
use super::query::QueryParams;
use rapport_store::{AppointmentQuery, PatientQuery, StoreError};
use search::Search;

const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/metadata", get(capability::metadata))
        .route("/.well-known/smart-configuration", get(super::smart::configuration))
        .route("/$export", get(export::kick_off))
        .route("/$export-status/{id}", get(export::status).delete(export::remove))
        .route("/$export-file/{id}/{type}", get(export::file))
        .route("/Patient", get(search_patients).post(write::create_patient))
        .route("/Patient/{id}", get(read_patient).put(write::update_patient))
        .route("/Patient/{id}/_history/{version}", get(vread::patient))
        .route("/Patient/{id}/$everything", get(everything::patient_everything))
        .route("/Practitioner/{id}/_history/{version}", get(vread::practitioner))
        .route("/Location/{id}/_history/{version}", get(vread::location))
        .route("/Appointment/{id}/_history/{version}", get(vread::appointment))
        .route("/Practitioner", get(search_practitioners).post(registry_writes::create_practitioner))
        .route("/Practitioner/{id}", get(read_practitioner).put(registry_writes::update_practitioner))
        .route("/Location", get(search_locations).post(registry_writes::create_location))
        .route("/Location/{id}", get(read_location).put(registry_writes::update_location))
        .route("/Organization", get(organizations::search).post(organizations::create))
        .route("/Organization/{id}", get(organizations::read).put(organizations::update))
        .route("/Appointment", get(search_appointments).post(write::create_appointment))
        .route("/Appointment/{id}", get(read_appointment).put(write::update_appointment))
        .route("/Communication", get(communication::search_communications).post(communication::create_communication))
        .route("/Communication/{id}", get(communication::read_communication).put(communication::update_communication))
        .route(
            "/CommunicationRequest",
            get(communication_request::search_requests).post(communication_request::create_request),
        )
        .route(
            "/CommunicationRequest/{id}",
            get(communication_request::read_request).put(communication_request::update_request),
        )
        .route("/Consent", get(consent::search_consents).post(consent::create_consent))
        .route("/Consent/{id}", get(consent::read_consent).put(consent::update_consent))
        .route("/Schedule", get(schedules::search_schedules).post(schedules::create_schedule))
        .route("/Schedule/{id}", get(schedules::read_schedule).put(schedules::update_schedule))
        .route("/Schedule/{id}/_history/{version}", get(vread::schedule))
        .route("/Slot", get(slots::search_slots))
        .route("/Slot/{id}", get(slots::read_slot))
}

/// A FHIR JSON body.
pub fn fhir_json(value: Value) -> Response {
    let mut response = axum::Json(value).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    response
}

/// A read's answer, with the version as a weak ETag.
fn read_answer(resource: Value) -> Response {
    let version = resource["meta"]["versionId"].as_str().map(|v| format!("W/\"{v}\""));
    let mut response = fhir_json(resource);
    if let Some(tag) = version.and_then(|v| HeaderValue::from_str(&v).ok()) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    response
}

/// Where this server's FHIR base is, as the caller reached it.
fn base(headers: &HeaderMap) -> String {
    format!("{}/fhir", super::smart::origin(headers))
}

fn id<T: std::str::FromStr>(raw: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound)
}

/// `Type/id` or a bare id, for reference parameters.
fn reference<T: std::str::FromStr>(raw: &str, kind: &str) -> Result<T, ApiError> {
    let bare = raw.strip_prefix(kind).and_then(|r| r.strip_prefix('/')).unwrap_or(raw);
    bare.parse().map_err(|_| ApiError::InvalidQuery(format!("a reference must name a {kind} of this server")))
}

#[utoipa::path(get, path = "/fhir/Patient/{id}", tag = "fhir", params(("id" = String, Path, description = "Patient id")),
    responses((status = 200, description = "A FHIR Patient"), (status = 404, description = "An OperationOutcome")))]
pub async fn read_patient(
    State(state): State<AppState>,
    access: Allowed<need::ReadPatients>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let patient = state.store.get_patient(access.org(), id::<PatientId>(&raw)?).await?;
    Ok(read_answer(resources::patient(&patient)))
}

#[utoipa::path(get, path = "/fhir/Patient", tag = "fhir",
    responses((status = 200, description = "A searchset Bundle of Patients"), (status = 400, description = "An OperationOutcome")))]
pub async fn search_patients(
    State(state): State<AppState>,
    access: Allowed<need::ReadPatients>,
    headers: HeaderMap,
    params: QueryParams,
) -> Result<Response, ApiError> {
    let search = Search::read(params, &capability::parameters("Patient"))?;
    if let Some(only) = search.get("_id") {
        let found = match only.parse::<PatientId>() {
            Ok(id) => state.store.get_patient(access.org(), id).await.map(|p| vec![resources::patient(&p)]),
            Err(_) => Ok(Vec::new()),
        };
        let found = found.or_else(|e| if matches!(e, StoreError::NotFound) { Ok(Vec::new()) } else { Err(e) })?;
        return Ok(fhir_json(search.bundle(&base(&headers), "Patient", found, None)));
    }
    let names: Vec<&str> = ["name", "family", "given"].iter().filter_map(|k| search.get(k)).collect();
    let phone = search.get("phone").or(search.get("telecom").filter(|t| !t.contains('@')));
    let email = search.get("email").or(search.get("telecom").filter(|t| t.contains('@')));
    let query = PatientQuery {
        name: (!names.is_empty()).then(|| names.join(" ")),
        phone: phone
            .map(PhoneE164::parse)
            .transpose()
            .map_err(|_| ApiError::InvalidQuery("parameter `phone` must be a phone number".into()))?,
        email: email
            .map(Email::parse)
            .transpose()
            .map_err(|_| ApiError::InvalidQuery("parameter `email` must be an email address".into()))?,
        birth_date: search
            .get("birthdate")
            .map(|b| {
                rapport_domain::BirthDate::parse(b.strip_prefix("eq").unwrap_or(b), state.store.clock().latest_today())
            })
            .transpose()
            .map_err(|_| ApiError::InvalidQuery("parameter `birthdate` must be a day (YYYY-MM-DD)".into()))?,
        identifier: search.get("identifier").map(|raw| match raw.split_once('|') {
            Some(("", value)) => (None, value.to_owned()),
            Some((system, value)) => (Some(system.to_owned()), value.to_owned()),
            None => (None, raw.to_owned()),
        }),
        updated_since: search.get("_lastUpdated").map(search::last_updated).transpose()?,
    };
    let page = state.store.search_patients(access.org(), &query, &search.page).await?;
    let found = page.items.iter().map(resources::patient).collect();
    Ok(fhir_json(search.bundle(&base(&headers), "Patient", found, page.next_cursor)))
}

#[utoipa::path(get, path = "/fhir/Practitioner/{id}", tag = "fhir", params(("id" = String, Path, description = "Practitioner id")),
    responses((status = 200, description = "A FHIR Practitioner"), (status = 404, description = "An OperationOutcome")))]
pub async fn read_practitioner(
    State(state): State<AppState>,
    access: Allowed<need::ReadOrganization>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let provider = state.store.get_provider(access.org(), id::<ProviderId>(&raw)?).await?;
    Ok(read_answer(resources::practitioner(&provider)))
}

#[utoipa::path(get, path = "/fhir/Practitioner", tag = "fhir",
    responses((status = 200, description = "A searchset Bundle of Practitioners")))]
pub async fn search_practitioners(
    State(state): State<AppState>,
    access: Allowed<need::ReadOrganization>,
    headers: HeaderMap,
    params: QueryParams,
) -> Result<Response, ApiError> {
    let search = Search::read(params, &capability::parameters("Practitioner"))?;
    let (found, next) = match search.get("_id") {
        Some(only) => {
            let one = match only.parse::<ProviderId>() {
                Ok(id) => found_or_none(state.store.get_provider(access.org(), id).await)?,
                Err(_) => None,
            };
            (one.iter().map(resources::practitioner).collect(), None)
        }
        None => {
            let name = search.get("name").or(search.get("family")).or(search.get("given"));
            // A practitioner's identifier here is the NPI (`system|value` or the value).
            let npi = search.get("identifier").map(|raw| raw.rsplit_once('|').map_or(raw, |(_, v)| v));
            let page = state.store.search_providers(access.org(), name, npi, &search.page).await?;
            (page.items.iter().map(resources::practitioner).collect(), page.next_cursor)
        }
    };
    Ok(fhir_json(search.bundle(&base(&headers), "Practitioner", found, next)))
}

#[utoipa::path(get, path = "/fhir/Location/{id}", tag = "fhir", params(("id" = String, Path, description = "Location id")),
    responses((status = 200, description = "A FHIR Location"), (status = 404, description = "An OperationOutcome")))]
pub async fn read_location(
    State(state): State<AppState>,
    access: Allowed<need::ReadOrganization>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let location = state.store.get_location(access.org(), id::<LocationId>(&raw)?).await?;
    Ok(read_answer(resources::location(&location)))
}

#[utoipa::path(get, path = "/fhir/Location", tag = "fhir",
    responses((status = 200, description = "A searchset Bundle of Locations")))]
pub async fn search_locations(
    State(state): State<AppState>,
    access: Allowed<need::ReadOrganization>,
    headers: HeaderMap,
    params: QueryParams,
) -> Result<Response, ApiError> {
    let search = Search::read(params, &capability::parameters("Location"))?;
    let (found, next) = match search.get("_id") {
        Some(only) => {
            let one = match only.parse::<LocationId>() {
                Ok(id) => found_or_none(state.store.get_location(access.org(), id).await)?,
                Err(_) => None,
            };
            (one.iter().map(resources::location).collect(), None)
        }
        None => {
            let page = state.store.search_locations(access.org(), search.get("name"), &search.page).await?;
            (page.items.iter().map(resources::location).collect(), page.next_cursor)
        }
    };
    Ok(fhir_json(search.bundle(&base(&headers), "Location", found, next)))
}

#[utoipa::path(get, path = "/fhir/Appointment/{id}", tag = "fhir", params(("id" = String, Path, description = "Appointment id")),
    responses((status = 200, description = "A FHIR Appointment"), (status = 404, description = "An OperationOutcome")))]
pub async fn read_appointment(
    State(state): State<AppState>,
    access: Allowed<need::ReadAppointments>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let org = access.org();
    if let Some(appointment) = found_or_none(state.store.get_appointment(org, id::<AppointmentId>(&raw)?).await)? {
        return Ok(read_answer(resources::appointment(&appointment)));
    }
    let asked = state.store.fhir_record(org, "Appointment", &raw).await?;
    Ok(read_answer(kept::resource(&asked)))
}

#[utoipa::path(get, path = "/fhir/Appointment", tag = "fhir",
    responses((status = 200, description = "A searchset Bundle of Appointments"), (status = 400, description = "An OperationOutcome")))]
pub async fn search_appointments(
    State(state): State<AppState>,
    access: Allowed<need::ReadAppointments>,
    headers: HeaderMap,
    params: QueryParams,
) -> Result<Response, ApiError> {
    let search = Search::read(params, &capability::parameters("Appointment"))?;
    if let Some(only) = search.get("_id") {
        let one = match only.parse::<AppointmentId>() {
            Ok(id) => found_or_none(state.store.get_appointment(access.org(), id).await)?,
            Err(_) => None,
        };
        let found = one.iter().map(resources::appointment).collect();
        return Ok(fhir_json(search.bundle(&base(&headers), "Appointment", found, None)));
    }
    let mut query = AppointmentQuery::default();
    if let Some(patient) = search.get("patient") {
        query.patient_id = Some(reference(patient, "Patient")?);
    }
    if let Some(location) = search.get("location") {
        query.location_id = Some(reference(location, "Location")?);
    }
    if let Some(practitioner) = search.get("practitioner") {
        query.provider_id = Some(reference(practitioner, "Practitioner")?);
    }
    if let Some(actor) = search.get("actor") {
        match actor.split_once('/') {
            Some(("Patient", _)) => query.patient_id = Some(reference(actor, "Patient")?),
            Some(("Location", _)) => query.location_id = Some(reference(actor, "Location")?),
            Some(("Practitioner", _)) => query.provider_id = Some(reference(actor, "Practitioner")?),
            _ => {
                return Err(ApiError::InvalidQuery(
                    "parameter `actor` must be Patient/…, Location/… or Practitioner/…".into(),
                ));
            }
        }
    }
    if let Some(status) = search.get("status") {
        query.status = Some(
            status
                .parse::<AppointmentStatus>()
                .map_err(|_| ApiError::InvalidQuery("parameter `status` must be an appointment status".into()))?,
        );
    }
    if let Some(since) = search.get("_lastUpdated") {
        query.updated_since = Some(search::last_updated(since)?);
    }
    if search.get("date").is_some() {
        let zone = state.store.get_organization(access.org()).await?.time_zone.tz();
        (query.from, query.to) = search.range("date", &zone)?;
    }
    let included = included_of(&search)?;
    let page = state.store.list_appointments(access.org(), &query, &search.page).await?;
    let found = page.items.iter().map(resources::appointment).collect();
    let base = base(&headers);
    let bundle = search.bundle(&base, "Appointment", found, page.next_cursor);
    let brought = include(&state, access.org(), &page.items, &included).await?;
    Ok(fhir_json(search.with_included(bundle, &base, brought)))
}

/// What `_include` asks of an Appointment search: its patients, locations, practitioners.
#[derive(Debug, Default)]
struct Included {
    patients: bool,
    locations: bool,
    practitioners: bool,
}

fn included_of(search: &Search) -> Result<Included, ApiError> {
    let mut wanted = Included::default();
    for value in search.all("_include") {
        match value {
            "Appointment:patient" => wanted.patients = true,
            "Appointment:location" => wanted.locations = true,
            "Appointment:practitioner" => wanted.practitioners = true,
            "Appointment:actor" => wanted = Included { patients: true, locations: true, practitioners: true },
            _ => {
                return Err(ApiError::InvalidQuery(
                    "_include may be Appointment:patient, :location, :practitioner or :actor".into(),
                ));
            }
        }
    }
    Ok(wanted)
}

/// The records a page of visits names, each once, as `_include` asked.
async fn include(
    state: &AppState,
    org: rapport_domain::OrganizationId,
    visits: &[rapport_domain::Appointment],
    wanted: &Included,
) -> Result<Vec<Value>, ApiError> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for visit in visits {
        let d = &visit.details;
        if wanted.patients && seen.insert(d.patient_id.to_string()) {
            out.push(resources::patient(&state.store.get_patient(org, d.patient_id).await?));
        }
        if wanted.locations && seen.insert(d.location_id.to_string()) {
            out.push(resources::location(&state.store.get_location(org, d.location_id).await?));
        }
        if let Some(provider) = d.provider_id.filter(|p| wanted.practitioners && seen.insert(p.to_string())) {
            out.push(resources::practitioner(&state.store.get_provider(org, provider).await?));
        }
    }
    Ok(out)
}

/// A read that found nothing is an empty search result, not an error.
fn found_or_none<T>(result: Result<T, StoreError>) -> Result<Option<T>, StoreError> {
    match result {
        Ok(found) => Ok(Some(found)),
        Err(StoreError::NotFound) => Ok(None),
        Err(error) => Err(error),
    }
}

/// Under `/fhir`, every problem (`application/problem+json`, the guard's
/// refusals included) becomes an OperationOutcome with the same status:
/// its code by status, the problem's detail as diagnostics, its stable
/// code as details, one issue per invalid field.
pub async fn outcomes(request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/fhir") {
        return next.run(request).await;
    }
    let response = next.run(request).await;
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/problem+json"));
    if !is_problem {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let problem: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let code = match parts.status {
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => "invalid",
        StatusCode::UNAUTHORIZED => "login",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not-found",
        StatusCode::CONFLICT | StatusCode::PRECONDITION_FAILED => "conflict",
        StatusCode::PAYLOAD_TOO_LARGE => "too-costly",
        StatusCode::TOO_MANY_REQUESTS => "throttled",
        _ => "exception",
    };
    let diagnostics = problem["detail"].as_str().or(problem["title"].as_str()).unwrap_or("the request failed");
    let mut issue = json!({"severity": "error", "code": code, "diagnostics": diagnostics});
    if let Some(stable) = problem["code"].as_str() {
        issue["details"] = json!({"text": stable});
    }
    let mut issues = vec![issue];
    for field in problem["errors"].as_array().into_iter().flatten() {
        issues.push(json!({
            "severity": "error",
            "code": "invalid",
            "diagnostics": field["reason"],
            "expression": [field["field"]],
        }));
    }
    let outcome = json!({"resourceType": "OperationOutcome", "issue": issues});
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(outcome.to_string()))
}
