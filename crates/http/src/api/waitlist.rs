//! The waitlist (`/waitlist`) and the offers of freed slots (`/offers`):
//! who waits for what, and what each offer became.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rapport_domain::waitlist::{Criteria, day_name, parse_day};
use rapport_domain::{LocationId, PatientId, ProviderId, ValidationErrors, WaitlistEntryId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ListView;
use crate::AppState;
use crate::access::{Allowed, need};
use crate::error::{ApiError, Problem};
use crate::extract::{JsonBody, path_id};
use crate::query::QueryParams;
use rapport_store::{EntryState, SlotOffer, WaitlistEntry};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitlistInput {
    pub patient_id: String,
    pub provider_id: Option<String>,
    pub location_id: Option<String>,
    pub visit_type: Option<String>,
    /// `YYYY-MM-DD`, inclusive, local to the slot's location.
    pub earliest: Option<String>,
    pub latest: Option<String>,
    /// `mon` … `sun`; none: any day.
    #[serde(default)]
    pub days: Vec<String>,
    /// `HH:MM`: the visit starts at or after.
    pub from: Option<String>,
    /// `HH:MM`: the visit starts before.
    pub until: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WaitlistView {
    pub id: String,
    pub patient_id: String,
    pub provider_id: Option<String>,
    pub location_id: Option<String>,
    pub visit_type: Option<String>,
    pub earliest: Option<String>,
    pub latest: Option<String>,
    pub days: Vec<String>,
    pub from: Option<String>,
    pub until: Option<String>,
    /// waiting, booked or removed.
    pub state: String,
    /// The visit it booked.
    pub appointment_id: Option<String>,
    pub created_at: String,
}

impl From<&WaitlistEntry> for WaitlistView {
    fn from(e: &WaitlistEntry) -> Self {
        let c = &e.criteria;
        let hhmm = |t: Option<jiff::civil::Time>| t.map(|t| format!("{:02}:{:02}", t.hour(), t.minute()));
        Self {
            id: e.id.to_string(),
            patient_id: e.patient_id.to_string(),
            provider_id: c.provider_id.map(|p| p.to_string()),
            location_id: c.location_id.map(|l| l.to_string()),
            visit_type: c.visit_type.clone(),
            earliest: c.earliest.map(|d| d.to_string()),
            latest: c.latest.map(|d| d.to_string()),
            days: c.days.iter().map(|d| day_name(*d).to_owned()).collect(),
            from: hhmm(c.from),
            until: hhmm(c.until),
            state: e.state.as_str().into(),
            appointment_id: e.appointment_id.map(|a| a.to_string()),
            created_at: e.created_at.to_string(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecipientView {
    pub entry_id: String,
    pub patient_id: String,
    pub round: i64,
    /// taken, too_late, or null (no answer).
    pub outcome: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OfferView {
    pub id: String,
    /// The cancelled visit whose time is offered.
    pub appointment_id: String,
    pub start: String,
    /// open, taken or closed.
    pub state: String,
    pub round: i64,
    pub closes_at: String,
    pub taken_by: Option<String>,
    pub booked_appointment_id: Option<String>,
    pub recipients: Vec<RecipientView>,
}

impl From<&SlotOffer> for OfferView {
    fn from(o: &SlotOffer) -> Self {
        Self {
            id: o.id.to_string(),
            appointment_id: o.appointment_id.to_string(),
            start: o.start_at.to_string(),
            state: o.state.clone(),
            round: o.round,
            closes_at: o.closes_at.to_string(),
            taken_by: o.taken_by.map(|t| t.to_string()),
            booked_appointment_id: o.booked_id.map(|b| b.to_string()),
            recipients: o
                .recipients
                .iter()
                .map(|(entry, patient, round, outcome)| RecipientView {
                    entry_id: entry.to_string(),
                    patient_id: patient.to_string(),
                    round: *round,
                    outcome: outcome.clone(),
                })
                .collect(),
        }
    }
}

fn criteria(input: &WaitlistInput) -> Result<(PatientId, Criteria), ApiError> {
    let mut errors = ValidationErrors::new();
    let patient = input.patient_id.parse::<PatientId>().map_err(|_| errors.push("patient_id", "is not an id")).ok();
    let provider_id = input
        .provider_id
        .as_deref()
        .and_then(|r| r.parse::<ProviderId>().map_err(|_| errors.push("provider_id", "is not an id")).ok());
    let location_id = input
        .location_id
        .as_deref()
        .and_then(|r| r.parse::<LocationId>().map_err(|_| errors.push("location_id", "is not an id")).ok());
    let mut date = |raw: &Option<String>, field: &str| {
        raw.as_deref().and_then(|r| r.parse().map_err(|_| errors.push(field, "must be a date (YYYY-MM-DD)")).ok())
    };
    let (earliest, latest) = (date(&input.earliest, "earliest"), date(&input.latest, "latest"));
    let mut time = |raw: &Option<String>, field: &str| {
        raw.as_deref()
            .and_then(|r| rapport_domain::value::parse_hhmm(r).map_err(|e| errors.push(field, e.to_string())).ok())
    };
    let (from, until) = (time(&input.from, "from"), time(&input.until, "until"));
    let mut days = Vec::new();
    for (i, day) in input.days.iter().enumerate() {
        match parse_day(day) {
            Some(d) => days.push(d),
            None => errors.push(format!("days[{i}]"), "must be mon, tue, wed, thu, fri, sat or sun"),
        }
    }
    if earliest.zip(latest).is_some_and(|(e, l)| l < e) {
        errors.push("latest", "must not be before earliest");
    }
    let visit_type = input.visit_type.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    match patient {
        Some(patient) if errors.is_empty() => {
            Ok((patient, Criteria { provider_id, location_id, visit_type, earliest, latest, days, from, until }))
        }
        _ => Err(errors.into()),
    }
}

/// The waitlist, oldest first.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/waitlist", tag = "waitlist",
    params(("org" = String, Path, description = "Organization id"),
        ("state" = Option<String>, Query, description = "waiting, booked or removed (default: all)")),
    responses((status = 200, body = ListView<WaitlistView>), (status = 400, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    access: Allowed<need::ReadAppointments>,
    params: QueryParams,
) -> Result<Response, ApiError> {
    let params = params.only(&["state"])?;
    let wanted = params.parse::<EntryState>("state", "waiting, booked or removed")?;
    let items = state.store.waitlist(access.org(), wanted).await?.iter().map(WaitlistView::from).collect();
    Ok(axum::Json(ListView { items, next_cursor: None }).into_response())
}

/// Put a patient on the waitlist.
#[utoipa::path(post, path = "/api/v1/organizations/{org}/waitlist", tag = "waitlist",
    params(("org" = String, Path, description = "Organization id")), request_body = WaitlistInput,
    responses((status = 201, body = WaitlistView), (status = 422, body = Problem)))]
pub async fn add(
    State(state): State<AppState>,
    access: Allowed<need::WriteAppointments>,
    JsonBody(input): JsonBody<WaitlistInput>,
) -> Result<Response, ApiError> {
    let (patient, criteria) = criteria(&input)?;
    let entry = state.store.add_to_waitlist(access.org(), patient, &criteria).await?;
    Ok((StatusCode::CREATED, axum::Json(WaitlistView::from(&entry))).into_response())
}

/// Take a waiting entry off the list.
#[utoipa::path(delete, path = "/api/v1/organizations/{org}/waitlist/{id}", tag = "waitlist",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Entry id")),
    responses((status = 204, description = "Removed"), (status = 404, body = Problem)))]
pub async fn remove(
    State(state): State<AppState>,
    access: Allowed<need::WriteAppointments>,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id: WaitlistEntryId = path_id(&id)?;
    state.store.remove_from_waitlist(access.org(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Freed slots offered to the waitlist, newest first, with who got them.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/offers", tag = "waitlist",
    params(("org" = String, Path, description = "Organization id")),
    responses((status = 200, body = ListView<OfferView>)))]
pub async fn offers(
    State(state): State<AppState>,
    access: Allowed<need::ReadAppointments>,
) -> Result<Response, ApiError> {
    let items = state.store.slot_offers(access.org()).await?.iter().map(OfferView::from).collect();
    Ok(axum::Json(ListView { items, next_cursor: None }).into_response())
}
