//! `/organizations/{org}/reminder-rules`: when a visit's reminders go. A
//! rule applies to the organization's visits, or to one location's, one
//! visit type's, or both; the most specific wins, and without any the
//! standard schedule (3 days and 1 day before) applies. Every change
//! re-plans the reminders of the booked visits ahead.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rapport_domain::message::template::TemplateKind;
use rapport_domain::reminder::{Before, ReminderOffset, ReminderRule, ReminderSchedule};
use rapport_domain::{Channel, LocationId, ReminderRuleId, ValidationErrors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ListView, versioned};
use crate::AppState;
use crate::access::{Allowed, need};
use crate::error::{ApiError, Problem};
use crate::extract::{IfMatch, JsonBody, path_id};
use rapport_store::NewReminderRule;

/// One reminder: how long before the visit, in which words.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OffsetDto {
    /// `3d` (calendar days, same local time) or `2h` (real hours).
    pub before: String,
    /// The template kind (default `appointment_reminder`).
    pub template: Option<String>,
    /// Only by this channel: sms, email, voice or push (default: the patient's order).
    pub channel: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReminderRuleInput {
    /// Only this location's visits.
    pub location_id: Option<String>,
    /// Only visits of this type.
    pub visit_type: Option<String>,
    /// 1 to 5 reminders.
    pub offsets: Vec<OffsetDto>,
    /// Sent at once when a visit is booked after a reminder's time (default `appointment_booked`).
    pub confirmation: Option<String>,
    /// What the offsets still ahead send once the patient confirmed: a
    /// template kind (default `appointment_see_you`), or null for nothing.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub after_confirmation: Option<Option<String>>,
    /// Preparation and reassurance ahead of the visit, whatever the patient
    /// answered (template default `visit_preparation`); none by default.
    #[serde(default)]
    pub preparation: Vec<OffsetDto>,
    /// A message once the visit is fulfilled; none by default.
    pub after_visit: Option<AfterVisitDto>,
    /// The message after a no-show: a template kind (default
    /// `appointment_missed`), or null for none. Staff get a task either way.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub after_no_show: Option<Option<String>>,
}

/// The message after a fulfilled visit.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AfterVisitDto {
    /// How long after the visit's end: `2h` (real hours) or `1d` (calendar days).
    pub after: String,
    /// The template kind (default `visit_follow_up`).
    pub template: Option<String>,
    /// Only by this channel (default: the patient's order).
    pub channel: Option<String>,
}

/// A field given (its value, null included) rather than left out.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReminderRuleView {
    pub id: String,
    pub location_id: Option<String>,
    pub visit_type: Option<String>,
    pub offsets: Vec<OffsetDto>,
    pub confirmation: String,
    /// Null: nothing more once the patient confirmed.
    pub after_confirmation: Option<String>,
    pub preparation: Vec<OffsetDto>,
    pub after_visit: Option<AfterVisitDto>,
    /// Null: no message after a no-show.
    pub after_no_show: Option<String>,
    pub version: i64,
    pub updated_at: String,
}

impl From<&ReminderRule> for ReminderRuleView {
    fn from(r: &ReminderRule) -> Self {
        Self {
            id: r.id.to_string(),
            location_id: r.location_id.map(|l| l.to_string()),
            visit_type: r.visit_type.clone(),
            offsets: r.schedule.offsets.iter().map(offset_view).collect(),
            preparation: r.schedule.preparation.iter().map(offset_view).collect(),
            after_visit: r.schedule.after_visit.as_ref().map(|a| AfterVisitDto {
                after: a.before.key(),
                template: Some(a.template.as_str().to_owned()),
                channel: a.channel.map(|c| c.as_str().to_owned()),
            }),
            confirmation: r.schedule.confirmation.as_str().to_owned(),
            after_confirmation: r.schedule.after_confirmation.as_ref().map(|k| k.as_str().to_owned()),
            after_no_show: r.schedule.after_no_show.as_ref().map(|k| k.as_str().to_owned()),
            version: r.version,
            updated_at: r.updated_at.to_string(),
        }
    }
}

fn offset_view(o: &ReminderOffset) -> OffsetDto {
    OffsetDto {
        before: o.before.key(),
        template: Some(o.template.as_str().to_owned()),
        channel: o.channel.map(|c| c.as_str().to_owned()),
    }
}

/// One offset of the input, its errors named under `field` (`offsets[0]`).
fn offset(
    (before, template, channel): (&str, Option<&str>, Option<&str>),
    default: &str,
    field: &str,
    errors: &mut ValidationErrors,
) -> Option<ReminderOffset> {
    let before = Before::parse(before).map_err(|e| errors.push(format!("{field}.before"), e.to_string()));
    let template = TemplateKind::parse(template.unwrap_or(default))
        .map_err(|e| errors.push(format!("{field}.template"), e.to_string()));
    let channel = channel
        .map(str::parse::<Channel>)
        .transpose()
        .map_err(|e| errors.push(format!("{field}.channel"), e.to_string()));
    Some(ReminderOffset { before: before.ok()?, template: template.ok()?, channel: channel.ok()? })
}

fn into_rule(input: ReminderRuleInput) -> Result<NewReminderRule, ApiError> {
    let mut errors = ValidationErrors::new();
    let location_id = input
        .location_id
        .as_deref()
        .and_then(|raw| raw.parse::<LocationId>().map_err(|_| errors.push("location_id", "is not an id")).ok());
    let visit_type = input.visit_type.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let kind = |raw: Option<&str>, default: &str, field: String, errors: &mut ValidationErrors| {
        TemplateKind::parse(raw.unwrap_or(default)).map_err(|e| errors.push(field, e.to_string())).ok()
    };
    let list = |items: &[OffsetDto], default: &str, name: &str, errors: &mut ValidationErrors| {
        let mut all = Vec::new();
        for (i, o) in items.iter().enumerate() {
            let parts = (o.before.as_str(), o.template.as_deref(), o.channel.as_deref());
            all.extend(offset(parts, default, &format!("{name}[{i}]"), errors));
        }
        all
    };
    let offsets = list(&input.offsets, "appointment_reminder", "offsets", &mut errors);
    let preparation = list(&input.preparation, "visit_preparation", "preparation", &mut errors);
    let after_visit = input.after_visit.as_ref().and_then(|a| {
        let parts = (a.after.as_str(), a.template.as_deref(), a.channel.as_deref());
        offset(parts, "visit_follow_up", "after_visit", &mut errors)
    });
    let confirmation = kind(input.confirmation.as_deref(), "appointment_booked", "confirmation".into(), &mut errors);
    let after_confirmation = match input.after_confirmation {
        Some(None) => None,
        given => kind(given.flatten().as_deref(), "appointment_see_you", "after_confirmation".into(), &mut errors),
    };
    let after_no_show = match input.after_no_show {
        Some(None) => None,
        given => kind(given.flatten().as_deref(), "appointment_missed", "after_no_show".into(), &mut errors),
    };
    let schedule = match (confirmation, errors.is_empty()) {
        (Some(confirmation), true) => ReminderSchedule {
            preparation,
            after_visit,
            after_no_show,
            ..ReminderSchedule::new(offsets, confirmation, after_confirmation)
                .map_err(|e| ApiError::field("offsets", e.to_string()))?
        },
        _ => return Err(errors.into()),
    };
    Ok(NewReminderRule { location_id, visit_type, schedule })
}

/// The organization's rules, oldest first.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/reminder-rules", tag = "reminders",
    params(("org" = String, Path, description = "Organization id")),
    responses((status = 200, body = ListView<ReminderRuleView>)))]
pub async fn list(
    State(state): State<AppState>,
    access: Allowed<need::ReadOrganization>,
) -> Result<Response, ApiError> {
    let items = state.store.reminder_rules(access.org()).await?.iter().map(ReminderRuleView::from).collect();
    Ok(axum::Json(ListView { items, next_cursor: None }).into_response())
}

/// Write a rule (one per scope: 409 for a second); the booked visits ahead are re-planned.
#[utoipa::path(post, path = "/api/v1/organizations/{org}/reminder-rules", tag = "reminders",
    params(("org" = String, Path, description = "Organization id")), request_body = ReminderRuleInput,
    responses((status = 201, body = ReminderRuleView), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    access: Allowed<need::WriteOrganization>,
    JsonBody(input): JsonBody<ReminderRuleInput>,
) -> Result<Response, ApiError> {
    let rule = state.store.create_reminder_rule(access.org(), &into_rule(input)?).await?;
    Ok(versioned(rule.version, ReminderRuleView::from(&rule), true))
}

#[utoipa::path(get, path = "/api/v1/organizations/{org}/reminder-rules/{id}", tag = "reminders",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Rule id")),
    responses((status = 200, body = ReminderRuleView), (status = 404, body = Problem)))]
pub async fn read(
    State(state): State<AppState>,
    access: Allowed<need::ReadOrganization>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let rule = state.store.reminder_rule(access.org(), path_id(&id)?).await?;
    Ok(versioned(rule.version, ReminderRuleView::from(&rule), false))
}

/// Replace a rule at the version read (`If-Match`); the booked visits ahead are re-planned.
#[utoipa::path(put, path = "/api/v1/organizations/{org}/reminder-rules/{id}", tag = "reminders",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Rule id"),
        ("If-Match" = String, Header, description = "The ETag read")),
    request_body = ReminderRuleInput,
    responses((status = 200, body = ReminderRuleView), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    access: Allowed<need::WriteOrganization>,
    Path((_, id)): Path<(String, String)>,
    IfMatch(expected): IfMatch,
    JsonBody(input): JsonBody<ReminderRuleInput>,
) -> Result<Response, ApiError> {
    let id: ReminderRuleId = path_id(&id)?;
    let rule = state.store.update_reminder_rule(access.org(), id, &into_rule(input)?, expected).await?;
    Ok(versioned(rule.version, ReminderRuleView::from(&rule), false))
}

/// Remove a rule: its visits fall back to a wider rule or the standard schedule.
#[utoipa::path(delete, path = "/api/v1/organizations/{org}/reminder-rules/{id}", tag = "reminders",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Rule id")),
    responses((status = 204, description = "Removed"), (status = 404, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    access: Allowed<need::WriteOrganization>,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_reminder_rule(access.org(), path_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
