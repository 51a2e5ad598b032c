//! A message's record and the states it moves through:
//!
//! ```text
//! planned ──> sending ──> sent ──> delivered ──> read
//!    │           │          └──> failed | undeliverable
//!    │           │  └──> in_doubt ──> sent (found at the provider)
//!    │           │                └─> planned (proven never received)
//!    │           └──> planned (refused before it was taken: retry)
//!    └──> cancelled | suppressed
//! ```
//!
//! `sending` is committed before the provider is called, so a crash during
//! the call leaves a trace: the next run finds `sending` and reconciles
//! (asks the provider) instead of sending again.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;

use super::MessageClass;
use super::pace::Priority;
use super::template::TemplateKind;
use crate::consent::Channel;
use crate::ids::{AppointmentId, InboundTextId, MessageId, OrganizationId, PatientId};
use crate::value::LanguageTag;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageState {
    /// Waiting for its time (and for the patient's hours and caps).
    Planned,
    /// Being handed to the provider (the call may be under way or cut short).
    Sending,
    /// The provider may or may not have it (a timeout, a dropped connection):
    /// to reconcile, never to resend blindly.
    InDoubt,
    /// Taken by the provider.
    Sent,
    /// The provider reports it reached the patient.
    Delivered,
    /// The provider reports the patient opened it (a read receipt, where
    /// the channel has them).
    Read,
    /// The provider could not deliver it this time.
    Failed,
    /// The address cannot receive (unknown number, landline, bounced for good).
    Undeliverable,
    /// Withdrawn by staff or by the event that planned it.
    Cancelled,
    /// Not sent, by policy (no channel, expired, patient gone, opted out), with the reason.
    Suppressed,
}

impl MessageState {
    pub const ALL: [MessageState; 10] = [
        MessageState::Planned,
        MessageState::Sending,
        MessageState::InDoubt,
        MessageState::Sent,
        MessageState::Delivered,
        MessageState::Read,
        MessageState::Failed,
        MessageState::Undeliverable,
        MessageState::Cancelled,
        MessageState::Suppressed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageState::Planned => "planned",
            MessageState::Sending => "sending",
            MessageState::InDoubt => "in_doubt",
            MessageState::Sent => "sent",
            MessageState::Delivered => "delivered",
            MessageState::Read => "read",
            MessageState::Failed => "failed",
            MessageState::Undeliverable => "undeliverable",
            MessageState::Cancelled => "cancelled",
            MessageState::Suppressed => "suppressed",
        }
    }

    /// How far along a provider's reports it is: a status report may only
    /// move a message forward (reports arrive late, twice, out of order).
    pub fn delivery_rank(self) -> u8 {
        match self {
            MessageState::Planned | MessageState::Cancelled | MessageState::Suppressed => 0,
            MessageState::Sending | MessageState::InDoubt => 1,
            MessageState::Sent => 2,
            MessageState::Delivered | MessageState::Failed | MessageState::Undeliverable => 3,
            MessageState::Read => 4,
        }
    }

    /// Whether the provider ended it without delivering it: no later report moves it.
    pub fn undelivered(self) -> bool {
        matches!(self, MessageState::Failed | MessageState::Undeliverable)
    }

    /// Whether the provider has (or may have) the message: it must not be sent again.
    pub fn reached_provider(self) -> bool {
        self.delivery_rank() >= 1
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
    /// The words: as written, or (with `template`) composed at hand-off.
    pub subject: Option<String>,
    pub body: String,
    /// The kind of template its words come from, composed for the patient at
    /// hand-off (in their language, for the channel chosen); `subject` and
    /// `body` are empty until then.
    pub template: Option<TemplateKind>,
    /// The visit it is about, if any (a template's `{{appointment.*}}`).
    pub appointment_id: Option<AppointmentId>,
    /// Who goes first when senders are busy (`Priority::default_for` its class, unless a reply).
    pub priority: Priority,
    /// HTTPS links to images or PDFs sent with it: an MMS by text, links in an email.
    pub media: Vec<String>,
    /// Only by this channel (a reply goes back the way the patient wrote;
    /// a reminder rule may name one); `None`: the patient's order decides.
    pub channel: Option<Channel>,
    /// The patient's address to use on `channel`, when they have several (a
    /// reply goes to the number that wrote); one that is not theirs is ignored.
    pub to: Option<String>,
    /// Not before.
    pub due_at: Timestamp,
    /// Not after: a message that could not go out by then is suppressed.
    pub expires_at: Option<Timestamp>,
}

impl MessagePlan {
    /// How long an automatic answer to a text may wait for the patient's
    /// sending hours.
    pub const ACKNOWLEDGEMENT_LIFETIME: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

    /// Rapport's automatic answer to a patient's text (an answer taken, a
    /// waitlist offer won or gone, an unclear reply): the template's words,
    /// by SMS to the number that wrote, ahead of other traffic, once per
    /// text however often it is settled, for a day at most.
    pub fn acknowledgement(
        text: InboundTextId,
        patient: PatientId,
        to: &str,
        template: TemplateKind,
        visit: Option<AppointmentId>,
        now: Timestamp,
    ) -> Self {
        MessagePlan {
            patient_id: patient,
            class: MessageClass::Transactional,
            idempotency_key: format!("reply:{text}"),
            subject: None,
            body: String::new(),
            template: Some(template),
            appointment_id: visit,
            priority: Priority::Reply,
            media: Vec::new(),
            channel: Some(Channel::Sms),
            to: Some(to.to_owned()),
            due_at: now,
            expires_at: Some(now + Self::ACKNOWLEDGEMENT_LIFETIME),
        }
    }
}

/// A provider's own name for a message or a text: a Twilio SID, an email's
/// Message-ID, a push service's location. Opaque: compared, never parsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProviderRef(String);

impl ProviderRef {
    pub fn new(reference: impl Into<String>) -> Self {
        Self(reference.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProviderRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for ProviderRef {
    fn from(reference: String) -> Self {
        Self(reference)
    }
}

impl From<&str> for ProviderRef {
    fn from(reference: &str) -> Self {
        Self(reference.to_owned())
    }
}

impl PartialEq<str> for ProviderRef {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: MessageId,
    pub organization_id: OrganizationId,
    pub plan: MessagePlan,
    pub state: MessageState,
    pub channel: Option<Channel>,
    /// Where it was sent (from `sending` on).
    pub address: Option<String>,
    /// The provider's id for it (a Twilio message SID), once known.
    pub provider_ref: Option<ProviderRef>,
    /// The language its words are in, once composed from a template.
    pub language: Option<LanguageTag>,
    /// When its (latest) hand-off began.
    pub sending_at: Option<Timestamp>,
    /// When that hand-off crossed its point of no return (it may have
    /// reached the provider): unset, a `sending` message had not left.
    pub handed_at: Option<Timestamp>,
    /// Why it was cancelled, suppressed, failed or is in doubt.
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
