//! `POST /organizations/{org}/messages/lint`: checks a text against the
//! rules before anyone sends it (`rapport_domain::message::lint`): SMS
//! segments and encoding, the care-text exemption's terms, the CANCEL
//! keyword, protected details in unsecured channels.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use rapport_domain::message::lint::{Finding, LintInput, Severity, lint};
use rapport_domain::{Channel, MessageClass, ValidationErrors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::access::{Allowed, need};
use crate::error::{ApiError, Problem};
use crate::extract::JsonBody;

/// A text to check.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LintRequest {
    /// sms, email, voice or push.
    pub channel: String,
    /// transactional, care or marketing.
    pub class: String,
    pub body: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LintFinding {
    /// info, warning or error (an error breaks a rule: do not send it as written).
    pub severity: String,
    /// The rule's stable name (`care.length`, `phi.unsecured` …).
    pub rule: String,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LintReport {
    /// False when any finding is an error.
    pub sendable: bool,
    pub findings: Vec<LintFinding>,
}

impl From<Vec<Finding>> for LintReport {
    fn from(findings: Vec<Finding>) -> Self {
        let sendable = findings.iter().all(|f| f.severity != Severity::Error);
        let findings = findings
            .into_iter()
            .map(|f| LintFinding {
                severity: match f.severity {
                    Severity::Info => "info",
                    Severity::Warning => "warning",
                    Severity::Error => "error",
                }
                .into(),
                rule: f.rule.into(),
                message: f.message,
            })
            .collect();
        Self { sendable, findings }
    }
}

#[utoipa::path(post, path = "/api/v1/organizations/{org}/messages/lint", tag = "messages",
    params(("org" = String, Path, description = "Organization id")), request_body = LintRequest,
    responses((status = 200, body = LintReport), (status = 422, body = Problem)))]
pub async fn check(
    State(state): State<AppState>,
    access: Allowed<need::WriteMessages>,
    JsonBody(input): JsonBody<LintRequest>,
) -> Result<Response, ApiError> {
    let mut errors = ValidationErrors::new();
    let channel = input.channel.parse::<Channel>().map_err(|e| errors.push("channel", e.to_string())).ok();
    let class = input.class.parse::<MessageClass>().map_err(|e| errors.push("class", e.to_string())).ok();
    let (Some(channel), Some(class), true) = (channel, class, errors.is_empty()) else {
        return Err(errors.into());
    };
    let organization = state.store.get_organization(access.org()).await?;
    let findings = lint(&LintInput { channel, class, body: &input.body, practice: &organization.name });
    Ok(axum::Json(LintReport::from(findings)).into_response())
}
