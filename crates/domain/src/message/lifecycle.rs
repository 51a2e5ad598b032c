//! A message's record and the states it moves through. This first engine
//! sends through the log channel, whose hand-off commits with the state
//! change, so a message goes planned → sent in one step; providers reached
//! over the network add `sending` and the in-doubt outcomes.

use std::str::FromStr;

use jiff::Timestamp;

use super::MessageClass;
use crate::consent::Channel;
use crate::ids::{MessageId, OrganizationId, PatientId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageState {
    /// Waiting for its time (and for the patient's hours and caps).
    Planned,
    /// Handed to the channel.
    Sent,
    /// Withdrawn by staff or by the event that planned it.
    Cancelled,
    /// Not sent, by policy (no channel, expired, patient gone), with the reason.
    Suppressed,
}

impl MessageState {
    pub const ALL: [MessageState; 4] =
        [MessageState::Planned, MessageState::Sent, MessageState::Cancelled, MessageState::Suppressed];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageState::Planned => "planned",
            MessageState::Sent => "sent",
            MessageState::Cancelled => "cancelled",
            MessageState::Suppressed => "suppressed",
        }
    }
}

/// The text names no message state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a message state")]
pub struct UnknownState;

impl FromStr for MessageState {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MessageState::ALL.into_iter().find(|m| m.as_str() == s).ok_or(UnknownState)
    }
}

/// What is asked for when a message is planned.
#[derive(Debug, Clone, PartialEq)]
pub struct MessagePlan {
    pub patient_id: PatientId,
    pub class: MessageClass,
    /// Unique per organization: planning the same key again returns the first message.
    pub idempotency_key: String,
    pub subject: Option<String>,
    pub body: String,
    /// Not before.
    pub due_at: Timestamp,
    /// Not after: a message that could not go out by then is suppressed.
    pub expires_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: MessageId,
    pub organization_id: OrganizationId,
    pub plan: MessagePlan,
    pub state: MessageState,
    pub channel: Option<Channel>,
    /// Why it was cancelled or suppressed.
    pub reason: Option<String>,
    pub sent_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// One line of a message's decision trace.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageEvent {
    pub at: Timestamp,
    pub note: String,
}
