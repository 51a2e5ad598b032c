//! Reminder metrics (`/metrics/reminders`): per local day and location,
//! what reminders, answers, the waitlist and recall did.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use jiff::civil::Date;
use serde::Serialize;
use utoipa::ToSchema;

use super::ListView;
use crate::AppState;
use crate::access::{Allowed, need};
use crate::error::{ApiError, Problem};
use crate::query::QueryParams;

#[derive(Debug, Serialize, ToSchema)]
pub struct DayMetricsView {
    /// The local date (`YYYY-MM-DD`) in the location's zone.
    pub date: String,
    pub location_id: String,
    pub appointments: i64,
    pub reminded: i64,
    pub confirmed: i64,
    pub cancelled_by_patient: i64,
    pub no_shows: i64,
    pub offers_sent: i64,
    pub offers_taken: i64,
    pub recalls_sent: i64,
    pub recall_bookings: i64,
}

/// Per day and location, oldest first: at most 92 days at a time.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/metrics/reminders", tag = "reminders",
    params(("org" = String, Path, description = "Organization id"),
        ("from" = String, Query, description = "First local day, YYYY-MM-DD"),
        ("to" = String, Query, description = "Last local day, YYYY-MM-DD (inclusive)")),
    responses((status = 200, body = ListView<DayMetricsView>), (status = 400, body = Problem)))]
pub async fn reminders(
    State(state): State<AppState>,
    access: Allowed<need::ReadAppointments>,
    params: QueryParams,
) -> Result<Response, ApiError> {
    let params = params.only(&["from", "to"])?;
    let from = params.parse::<Date>("from", "a date (YYYY-MM-DD)")?;
    let to = params.parse::<Date>("to", "a date (YYYY-MM-DD)")?;
    let (Some(from), Some(to)) = (from, to) else {
        return Err(ApiError::InvalidQuery("from and to are required".into()));
    };
    let days = from.until(to).ok().map(|span| span.get_days());
    if !days.is_some_and(|d| (0..=91).contains(&d)) {
        return Err(ApiError::InvalidQuery("to must be from 0 to 91 days after from".into()));
    }
    let metrics = state.store.reminder_metrics(access.org(), from, to).await?;
    let items = metrics
        .into_iter()
        .map(|((date, location), m)| DayMetricsView {
            date: date.to_string(),
            location_id: location.to_string(),
            appointments: m.appointments,
            reminded: m.reminded,
            confirmed: m.confirmed,
            cancelled_by_patient: m.cancelled_by_patient,
            no_shows: m.no_shows,
            offers_sent: m.offers_sent,
            offers_taken: m.offers_taken,
            recalls_sent: m.recalls_sent,
            recall_bookings: m.recall_bookings,
        })
        .collect();
    Ok(axum::Json(ListView { items, next_cursor: None }).into_response())
}
