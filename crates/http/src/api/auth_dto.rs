//! Wire types of sign-in, sessions, staff accounts and API tokens.

use rapport_domain::{ApiToken, SessionInfo, StaffUser};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a person types to sign in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginInput {
    pub email: String,
    pub password: String,
    /// The 6-digit code of the authenticator app, when the account has one.
    pub code: Option<String>,
    /// One of the recovery codes, instead of `code`.
    pub recovery_code: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffUserView {
    pub id: String,
    pub organization_id: String,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub mfa_enrolled: bool,
    pub disabled: bool,
    pub version: i64,
    pub created_at: String,
}

impl From<&StaffUser> for StaffUserView {
    fn from(u: &StaffUser) -> Self {
        Self {
            id: u.id.to_string(),
            organization_id: u.organization_id.to_string(),
            email: u.email.as_str().to_owned(),
            display_name: u.display_name.clone(),
            role: u.role.as_str().to_owned(),
            mfa_enrolled: u.mfa_enrolled,
            disabled: !u.is_active(),
            version: u.version,
            created_at: u.created_at.to_string(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub id: String,
    /// This is the session making the request.
    pub current: bool,
    /// The session may only enrol a second factor until it does.
    pub mfa_enrolment_required: bool,
    pub client_address: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
}

impl SessionView {
    pub fn new(s: &SessionInfo, current: bool) -> Self {
        Self {
            id: s.id.to_string(),
            current,
            mfa_enrolment_required: s.mfa_pending,
            client_address: s.client_address.clone(),
            user_agent: s.user_agent.clone(),
            created_at: s.created_at.to_string(),
            last_seen_at: s.last_seen_at.to_string(),
            expires_at: s.expires_at.to_string(),
        }
    }
}

/// The signed-in person, their session, and the token to send as
/// `X-CSRF-Token` with every state-changing request.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeView {
    pub user: StaffUserView,
    pub session: SessionView,
    pub csrf_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MfaEnrolmentView {
    /// The base32 secret, for typing into an authenticator app.
    pub secret: String,
    /// The same as an `otpauth://` URI (for a QR code).
    pub otpauth_uri: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeInput {
    pub code: String,
}

/// Shown once: store them somewhere safe; each works once.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodesView {
    pub recovery_codes: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffInput {
    pub email: String,
    pub display_name: String,
    /// administrator, front_desk, clinician, marketer or auditor.
    pub role: String,
    /// The first password; at least 12 characters.
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    pub role: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiTokenInput {
    pub name: String,
    /// Capabilities such as `patients:read`, within the integration role.
    pub scopes: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiTokenView {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub created_by: Option<String>,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl From<&ApiToken> for ApiTokenView {
    fn from(t: &ApiToken) -> Self {
        Self {
            id: t.id.to_string(),
            name: t.name.clone(),
            prefix: t.prefix.clone(),
            scopes: t.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            created_by: t.created_by.map(|u| u.to_string()),
            created_at: t.created_at.to_string(),
            last_used_at: t.last_used_at.map(|t| t.to_string()),
            revoked_at: t.revoked_at.map(|t| t.to_string()),
        }
    }
}

/// A new token and, this once, its secret (send it as `Authorization: Bearer …`).
#[derive(Debug, Serialize, ToSchema)]
pub struct NewApiTokenView {
    pub token: ApiTokenView,
    pub secret: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    /// Every staff member must sign in with a second factor (administrators always must).
    pub mfa_required_for_all: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequestInput {
    pub email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetInput {
    /// The secret of the link.
    pub token: String,
    pub new_password: String,
}
