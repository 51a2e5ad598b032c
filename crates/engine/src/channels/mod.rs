//! Channels: how a message leaves Rapport. Each provider sits behind one
//! trait, [`Provider`]: it hands a message off and says how that went, and
//! it can look a message up after an outcome it could not read (a timeout
//! after the request left, a connection dropped before the answer).
//!
//! - `log`: writes what would be sent to the local outbox (the demo and
//!   development; no provider account needed).
//! - `twilio`: SMS through a Twilio-compatible REST API, with its status
//!   callbacks and inbound webhooks signed by `X-Twilio-Signature`.
//! - `smtp`: email through an SMTP server, with one-click unsubscribe.
//!
//! A provider never logs a message's body or address: ids only.

pub mod log;
pub mod smtp;
pub mod twilio;
pub mod voice;
pub mod webpush;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use jiff::{SignedDuration, Timestamp};
use rapport_domain::message::pace::{RateLimit, SenderLimit};
use rapport_domain::{Channel, MessageClass, MessageId, OrganizationId, ProviderRef};

/// A boxed future, so providers can sit behind `dyn Provider`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One message on its way to a provider.
#[derive(Debug, Clone)]
pub struct Handoff {
    pub organization_id: OrganizationId,
    pub message_id: MessageId,
    pub channel: Channel,
    /// Decides, for email, whether it carries an unsubscribe link.
    pub class: MessageClass,
    /// The patient's address on the channel (E.164 number, email address).
    pub to: String,
    pub subject: Option<String>,
    pub body: String,
    /// HTTPS links sent with it (MMS; links in an email).
    pub media: Vec<String>,
    /// An iCalendar invitation for the visit it is about (email), and its method.
    pub calendar: Option<(&'static str, String)>,
    /// When the hand-off began: a lookup searches from there.
    pub sending_at: Timestamp,
}

/// How a hand-off went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The provider took it, under its reference.
    Accepted { provider_ref: ProviderRef },
    /// Refused before it was taken (overloaded, rate-limited, unreachable):
    /// may be sent again, after `after` when the provider said so.
    Retry { reason: String, after: Option<SignedDuration> },
    /// Refused for good; `undeliverable` when the address itself cannot receive.
    Refused { reason: String, undeliverable: bool },
    /// The provider holds the patient's opt-out (texted STOP to this sender).
    OptedOut,
    /// Unknown whether the provider took it: reconcile, do not resend.
    InDoubt { reason: String },
    /// Not tried: the batch's time for hand-offs ran out first (the
    /// dispatcher's lease must not lapse while it still sends).
    NotAttempted,
}

/// What a lookup after an in-doubt outcome found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The provider has it.
    Yes { provider_ref: ProviderRef },
    /// The provider does not have it: it may be sent again.
    No,
    /// The lookup itself failed; ask again later.
    Unknown(String),
}

/// A provider of one channel.
pub trait Provider: Send + Sync {
    /// Its name in the decision trace (`twilio`, `log`).
    fn name(&self) -> &'static str;
    /// The sender address it sends from, whose suppression list applies (SMS).
    fn sender(&self) -> Option<&str> {
        None
    }
    fn send<'a>(&'a self, handoff: &'a Handoff) -> BoxFuture<'a, Outcome>;
    /// Hands over several messages: by default up to 16 at a time, each on
    /// its own; a provider with a batch form overrides it. A hand-off not
    /// started by `deadline` is [`Outcome::NotAttempted`]. One outcome per
    /// hand-off, in order.
    fn send_many<'a>(&'a self, handoffs: &'a [Handoff], deadline: Instant) -> BoxFuture<'a, Vec<Outcome>> {
        use futures_util::StreamExt;
        let send = move |h: &'a Handoff| -> BoxFuture<'a, Outcome> {
            if Instant::now() >= deadline { Box::pin(async { Outcome::NotAttempted }) } else { self.send(h) }
        };
        Box::pin(futures_util::stream::iter(handoffs).map(send).buffered(16).collect())
    }
    fn lookup<'a>(&'a self, handoff: &'a Handoff) -> BoxFuture<'a, Found>;
}

/// A `Retry-After` header's seconds, if the answer carries one.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<SignedDuration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<i64>().ok().map(SignedDuration::from_secs)
}

/// The provider of each channel, and each sender's rate limit.
#[derive(Clone)]
pub struct Providers {
    pub sms: Arc<dyn Provider>,
    pub email: Arc<dyn Provider>,
    pub voice: Arc<dyn Provider>,
    pub push: Arc<dyn Provider>,
    /// The limit of each channel's sender, if it has one.
    pub limits: Vec<(Channel, RateLimit)>,
}

impl Providers {
    /// Every channel to the log channel, writing to `outbox`.
    pub fn log_only_to(outbox: Arc<dyn log::Outbox>) -> Self {
        let log: Arc<dyn Provider> = Arc::new(log::LogProvider::new(outbox));
        Self { sms: log.clone(), email: log.clone(), voice: log.clone(), push: log, limits: Vec::new() }
    }

    /// The limited senders: each channel's limit on its provider's sender
    /// (`sms:+13125550100`; a provider without a sender address is named
    /// by its name, `email:smtp`).
    pub fn sender_limits(&self) -> Vec<SenderLimit> {
        self.limits
            .iter()
            .filter_map(|&(channel, limit)| {
                let provider = self.for_channel(channel)?;
                let sender = provider.sender().unwrap_or(provider.name());
                Some(SenderLimit { channel, bucket: format!("{}:{sender}", channel.as_str()), limit })
            })
            .collect()
    }

    pub fn for_channel(&self, channel: Channel) -> Option<&Arc<dyn Provider>> {
        match channel {
            Channel::Sms => Some(&self.sms),
            Channel::Email => Some(&self.email),
            Channel::Voice => Some(&self.voice),
            Channel::Push => Some(&self.push),
        }
    }

    /// The channels some provider can carry.
    pub fn channels(&self) -> &'static [Channel] {
        &Channel::ALL
    }
}
