//! Staff accounts, their sessions and the organization's API tokens, as the
//! rest of Rapport sees them. Secrets (password hashes, MFA keys, token
//! digests) are not part of these types: only the sign-in code reads them.

use jiff::Timestamp;

use crate::access::{Capability, Role};
use crate::contact::Email;
use crate::ids::{ApiTokenId, OrganizationId, SessionId, StaffUserId};

/// A person who signs in to Rapport for one organization.
#[derive(Debug, Clone, PartialEq)]
pub struct StaffUser {
    pub id: StaffUserId,
    pub organization_id: OrganizationId,
    /// The sign-in name, unique across the deployment.
    pub email: Email,
    pub display_name: String,
    pub role: Role,
    /// A second factor is enrolled.
    pub mfa_enrolled: bool,
    pub disabled_at: Option<Timestamp>,
    pub version: i64,
    pub created_at: Timestamp,
}

impl StaffUser {
    pub fn is_active(&self) -> bool {
        self.disabled_at.is_none()
    }
}

/// A signed-in browser session, as its owner sees it in the session list.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionInfo {
    pub id: SessionId,
    pub user_id: StaffUserId,
    pub organization_id: OrganizationId,
    /// Signed in with the password but still owes the MFA enrolment its role requires.
    pub mfa_pending: bool,
    pub client_address: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    /// The absolute end, whatever the activity.
    pub expires_at: Timestamp,
}

/// An integration's bearer token. The secret is shown once, at creation.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiToken {
    pub id: ApiTokenId,
    pub organization_id: OrganizationId,
    pub name: String,
    /// The first characters of the secret, to tell tokens apart.
    pub prefix: String,
    pub scopes: Vec<Capability>,
    pub created_by: Option<StaffUserId>,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

impl ApiToken {
    /// What the token may do: its scopes, within the integration role.
    pub fn allows(&self, capability: Capability) -> bool {
        Role::Integration.has(capability) && self.scopes.contains(&capability)
    }
}
