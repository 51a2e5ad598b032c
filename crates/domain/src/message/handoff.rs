//! The dispatcher's vocabulary, between deciding, committing and handing
//! over: what it decided for a planned message (`Decided`, with its
//! `Words`), what became of a decision at commit (`Taken`), and what a
//! provider's answer does to a message in `sending` (`Handed`). Pure data:
//! the engine decides, the store commits.

use jiff::Timestamp;

use super::lifecycle::{MessageState, ProviderRef};
use crate::consent::Channel;
use crate::value::LanguageTag;

/// What the dispatcher decided for one planned message.
#[derive(Debug, Clone)]
pub enum Decided {
    /// Not to be sent: suppressed with the reason.
    Close { reason: String },
    /// To wait until then: only the trace is written (the job is put back).
    Defer { until: Timestamp },
    /// To hand over now to `address` by `channel`, in these words:
    /// `planned → sending`, the words (composed, if templated) kept.
    Begin { channel: Channel, address: String, words: Words },
}

/// What a message says, as handed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Words {
    pub subject: Option<String>,
    pub body: String,
    /// Set when composed from a template: the language it was composed in.
    pub language: Option<LanguageTag>,
}

/// What became of a decision at commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// Committed (a hand-over: the message is now `sending`, ours to send).
    Yes,
    /// Committed and handed over in the same transaction (the log channel's
    /// outbox row): the message is `sent`, its job done.
    Sent,
    /// The message was no longer planned (cancelled, or another dispatcher has it).
    Lost,
    /// A care text that the cap, checked again under lock, puts off until then.
    Deferred(Timestamp),
}

/// What a provider's answer does to a message in `sending`.
#[derive(Debug, Clone)]
pub enum Handed {
    Sent {
        provider_ref: ProviderRef,
        line: String,
    },
    InDoubt {
        reason: String,
    },
    BackToPlanned {
        why: String,
    },
    Refused {
        state: MessageState,
        reason: String,
    },
    /// The provider holds the STOP that `address` texted to `sender`.
    OptedOut {
        sender: Option<String>,
        address: String,
        reason: String,
    },
}
