//! Recall rules (`/recall-rules`): a visit type, an interval in months, and
//! the attempts (days after the patient falls due). One rule per visit type.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rapport_domain::message::template::TemplateKind;
use rapport_domain::recall::{RecallPlan, RecallRule};
use rapport_domain::{RecallRuleId, ValidationErrors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ListView;
use crate::AppState;
use crate::access::{Allowed, need};
use crate::error::{ApiError, Problem};
use crate::extract::{JsonBody, path_id};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecallRuleInput {
    /// The visit type that recurs (`hygiene`).
    pub visit_type: String,
    /// 1 to 36 months after the last fulfilled visit of that type.
    pub interval_months: i64,
    /// 1 to 5 attempts, in days after the patient falls due (default 0, 14, 28).
    pub attempts: Option<Vec<i64>>,
    /// The template kind (default `recall_due`).
    pub template: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecallRuleView {
    pub id: String,
    pub visit_type: String,
    pub interval_months: i64,
    pub attempts: Vec<i64>,
    pub template: String,
    pub created_at: String,
}

impl From<&RecallRule> for RecallRuleView {
    fn from(r: &RecallRule) -> Self {
        Self {
            id: r.id.to_string(),
            visit_type: r.plan.visit_type.clone(),
            interval_months: r.plan.interval_months,
            attempts: r.plan.attempts.clone(),
            template: r.plan.template.as_str().to_owned(),
            created_at: r.created_at.to_string(),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/organizations/{org}/recall-rules", tag = "reminders",
    params(("org" = String, Path, description = "Organization id")),
    responses((status = 200, body = ListView<RecallRuleView>)))]
pub async fn list(
    State(state): State<AppState>,
    access: Allowed<need::ReadOrganization>,
) -> Result<Response, ApiError> {
    let items = state.store.recall_rules(Some(access.org())).await?.iter().map(RecallRuleView::from).collect();
    Ok(axum::Json(ListView { items, next_cursor: None }).into_response())
}

/// Write a rule (one per visit type: 409 for a second).
#[utoipa::path(post, path = "/api/v1/organizations/{org}/recall-rules", tag = "reminders",
    params(("org" = String, Path, description = "Organization id")), request_body = RecallRuleInput,
    responses((status = 201, body = RecallRuleView), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    access: Allowed<need::WriteOrganization>,
    JsonBody(input): JsonBody<RecallRuleInput>,
) -> Result<Response, ApiError> {
    let mut errors = ValidationErrors::new();
    let template = TemplateKind::parse(input.template.as_deref().unwrap_or("recall_due"))
        .map_err(|e| errors.push("template", e.to_string()))
        .ok();
    let Some(template) = template.filter(|_| errors.is_empty()) else { return Err(errors.into()) };
    let attempts = input.attempts.unwrap_or_else(|| vec![0, 14, 28]);
    let plan = RecallPlan::new(&input.visit_type, input.interval_months, attempts, template).map_err(|e| {
        let field = match e {
            rapport_domain::recall::RecallRuleError::Interval => "interval_months",
            rapport_domain::recall::RecallRuleError::Attempts => "attempts",
            rapport_domain::recall::RecallRuleError::VisitType => "visit_type",
        };
        ApiError::field(field, e.to_string())
    })?;
    let rule = state.store.create_recall_rule(access.org(), &plan).await?;
    Ok((StatusCode::CREATED, axum::Json(RecallRuleView::from(&rule))).into_response())
}

/// Remove a rule (attempts already planned stay until the patient books).
#[utoipa::path(delete, path = "/api/v1/organizations/{org}/recall-rules/{id}", tag = "reminders",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Rule id")),
    responses((status = 204, description = "Removed"), (status = 404, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    access: Allowed<need::WriteOrganization>,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id: RecallRuleId = path_id(&id)?;
    state.store.delete_recall_rule(access.org(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
