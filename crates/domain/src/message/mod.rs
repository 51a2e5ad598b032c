//! Message policy, pure: which channel a message takes and why the others
//! were passed over (`routing`), at what hour it may arrive (`window`), how
//! often a patient may be messaged (`caps`), and what a text costs in SMS
//! segments (`segments`), and what the rules ask of a text's words (`lint`);
//! the words themselves: `template` (kinds, `{{variables}}`), `builtin` (the
//! shipped English and Spanish templates), `wording` (dates, times and
//! addresses as a patient reads them), `compose` (a template chosen by
//! language and filled for one patient); `pace` how fast a sender may send
//! and who goes first (priorities, rates, daily caps).
//! The messaging engine asks these at planning time
//! and again at send time.

pub mod builtin;
pub mod canned;
pub mod caps;
pub mod compose;
pub mod handoff;
pub mod lifecycle;
pub mod lint;
pub mod pace;
pub mod routing;
pub mod segments;
pub mod template;
pub mod window;
pub mod wording;

use std::fmt;
use std::str::FromStr;

use crate::consent::Purpose;

pub use lifecycle::{Message, MessageEvent, MessagePlan, MessageState, ProviderRef};

/// What kind of message it is, which decides the consents that apply and
/// the caps and hours that limit it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageClass {
    /// Confirmations, receipts, sign-in codes: operations the patient started.
    Transactional,
    /// Reminders and care instructions: informational healthcare messages
    /// (the FCC's exemption: capped, no marketing content).
    Care,
    /// Newsletters, promotions: need the patient's written consent.
    Marketing,
}

impl MessageClass {
    pub const ALL: [MessageClass; 3] = [MessageClass::Transactional, MessageClass::Care, MessageClass::Marketing];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageClass::Transactional => "transactional",
            MessageClass::Care => "care",
            MessageClass::Marketing => "marketing",
        }
    }

    /// The consent purpose that governs it.
    pub fn purpose(self) -> Purpose {
        match self {
            MessageClass::Transactional | MessageClass::Care => Purpose::Transactional,
            MessageClass::Marketing => Purpose::Marketing,
        }
    }
}

impl fmt::Display for MessageClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text names no message class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be transactional, care or marketing")]
pub struct UnknownClass;

impl FromStr for MessageClass {
    type Err = UnknownClass;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MessageClass::ALL.into_iter().find(|c| c.as_str() == s).ok_or(UnknownClass)
    }
}
