//! Consent: which channel may carry which purpose of message to a patient.
//! Consents are a ledger: each change is a new record, the latest one wins.

use std::str::FromStr;

use jiff::Timestamp;

use crate::contact::UnknownWord;
use crate::ids::{ConsentId, OrganizationId, PatientId};

/// A way to reach a patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    Sms,
    Email,
    Voice,
    Push,
}

impl Channel {
    pub const ALL: [Channel; 4] = [Channel::Sms, Channel::Email, Channel::Voice, Channel::Push];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Email => "email",
            Channel::Voice => "voice",
            Channel::Push => "push",
        }
    }
}

impl FromStr for Channel {
    type Err = UnknownWord;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or(UnknownWord("sms, email, voice or push"))
    }
}

/// Why a message is sent; each purpose needs its own consent (TCPA, CAN-SPAM).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Reminders, confirmations, care instructions: treatment and operations.
    Transactional,
    Marketing,
    Research,
}

impl Purpose {
    pub const ALL: [Purpose; 3] = [Purpose::Transactional, Purpose::Marketing, Purpose::Research];

    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Transactional => "transactional",
            Purpose::Marketing => "marketing",
            Purpose::Research => "research",
        }
    }
}

impl FromStr for Purpose {
    type Err = UnknownWord;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Purpose::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or(UnknownWord("transactional, marketing or research"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsentStatus {
    Granted,
    Revoked,
}

impl ConsentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentStatus::Granted => "granted",
            ConsentStatus::Revoked => "revoked",
        }
    }
}

impl FromStr for ConsentStatus {
    type Err = UnknownWord;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "granted" => Ok(ConsentStatus::Granted),
            "revoked" => Ok(ConsentStatus::Revoked),
            _ => Err(UnknownWord("granted or revoked")),
        }
    }
}

/// One entry of the consent ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct Consent {
    pub id: ConsentId,
    pub organization_id: OrganizationId,
    pub patient_id: PatientId,
    pub channel: Channel,
    pub purpose: Purpose,
    pub status: ConsentStatus,
    /// How it was given or taken back: `api`, `import`, `paper-form`, `sms-keyword` …
    pub source: String,
    /// What proves it (a form id, the inbound message id); never free patient text.
    pub evidence: Option<String>,
    pub recorded_at: Timestamp,
}

/// The current choice per channel and purpose: the latest entry of each,
/// from a ledger in the order it was recorded.
pub fn current(ledger: &[Consent]) -> Vec<&Consent> {
    let mut current: Vec<&Consent> = Vec::new();
    for entry in ledger {
        current.retain(|c| (c.channel, c.purpose) != (entry.channel, entry.purpose));
        current.push(entry);
    }
    current
}
