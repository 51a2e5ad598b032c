//! The audit trail's records: who did what to which record, when, from
//! where, and how it ended. Events form one hash chain per organization;
//! the store appends and verifies them.

use std::str::FromStr;

use jiff::Timestamp;

use crate::ids::{AuditEventId, OrganizationId, PatientId};

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    /// A staff member (actor id: the staff user).
    User,
    /// An integration's API token (actor id: the token).
    Token,
    /// Rapport itself or its command line.
    System,
    /// A patient answering a message (actor id: the patient).
    Patient,
    /// A caller who is not signed in (a failed sign-in).
    Anonymous,
}

/// How the action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// Refused for want of a credential, a right, or a record in the caller's organization.
    Denied,
    /// Refused as bad input (validation, precondition, conflict).
    Refused,
    /// Failed on our side.
    Failed,
}

impl ActorKind {
    pub const ALL: [ActorKind; 5] =
        [ActorKind::User, ActorKind::Token, ActorKind::System, ActorKind::Patient, ActorKind::Anonymous];

    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Token => "token",
            ActorKind::System => "system",
            ActorKind::Patient => "patient",
            ActorKind::Anonymous => "anonymous",
        }
    }
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [Outcome::Success, Outcome::Denied, Outcome::Refused, Outcome::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }
}

/// The text names no actor kind or outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a known audit word")]
pub struct UnknownAuditWord;

impl FromStr for ActorKind {
    type Err = UnknownAuditWord;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ActorKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or(UnknownAuditWord)
    }
}

impl FromStr for Outcome {
    type Err = UnknownAuditWord;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s).ok_or(UnknownAuditWord)
    }
}

/// An event to append; the store gives it its id, place in the chain and hash.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEvent {
    /// `None` for events outside any organization (a failed sign-in with an unknown name).
    pub organization_id: Option<OrganizationId>,
    pub actor_kind: ActorKind,
    /// The staff user or token id, as text.
    pub actor_id: Option<String>,
    /// What was done, as `resource.verb` (`patient.read`, `auth.login`).
    pub action: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub patient_id: Option<PatientId>,
    pub outcome: Outcome,
    /// The HTTP status answered, when the event is a request.
    pub status: Option<u16>,
    /// Opened outside the actor's role, with a reason.
    pub break_glass: bool,
    /// The break-glass reason, or why a sign-in failed.
    pub reason: Option<String>,
    pub client_address: Option<String>,
    pub user_agent: Option<String>,
}

impl NewAuditEvent {
    pub fn new(organization_id: Option<OrganizationId>, actor_kind: ActorKind, action: &str, outcome: Outcome) -> Self {
        Self {
            organization_id,
            actor_kind,
            actor_id: None,
            action: action.to_owned(),
            resource_type: None,
            resource_id: None,
            patient_id: None,
            outcome,
            status: None,
            break_glass: false,
            reason: None,
            client_address: None,
            user_agent: None,
        }
    }
}

/// An appended event with its place in its chain.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub id: AuditEventId,
    /// The organization's id, or `system` for events outside any organization.
    pub chain: String,
    /// 1, 2, 3 … within the chain, without gaps.
    pub seq: i64,
    pub occurred_at: Timestamp,
    pub event: NewAuditEvent,
    /// The hash of the event before it (64 zeros for the first).
    pub prev_hash: String,
    pub hash: String,
}
