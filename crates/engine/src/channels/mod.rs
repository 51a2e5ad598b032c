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
//! Before a hand-off crosses its point of no return (the request that may
//! reach the provider), its start is made durable through [`Starts`]: after
//! a crash, a message whose start was never recorded is sent again, and
//! only those recorded as started are in doubt. A provider marks as few as
//! it can before each crossing (16 HTTP requests in flight; one email just
//! before its content), so a crash leaves at most that many in doubt.
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
    /// The provider holds what matches it (two identical texts to one
    /// number match each other): it is the first of these not already
    /// recorded as another message's.
    Yes { provider_refs: Vec<ProviderRef> },
    /// The provider does not have it: it may be sent again.
    No,
    /// The lookup itself failed; ask again later.
    Unknown(String),
    /// The provider cannot be asked (a mail server): the message stays in
    /// doubt until staff settle it.
    Unknowable,
}

/// How many hand-offs a provider has in flight at once, by default: also
/// how many a crash can leave in doubt.
pub const IN_FLIGHT: usize = 16;

/// Records a provider's progress durably, in one short commit a call (the
/// engine's, over the store): `next`, about to cross their point of no
/// return, and `answered`, the outcomes since the previous call. An error:
/// `next` must not go.
pub trait Starts: Send + Sync {
    fn started<'a>(
        &'a self,
        next: &'a [Handoff],
        answered: &'a [(&'a Handoff, Outcome)],
    ) -> BoxFuture<'a, Result<(), String>>;
}

/// A provider's side of [`Starts`]: collects the outcomes, and hands them
/// over with the next start.
pub struct Progress<'a> {
    starts: &'a dyn Starts,
    answered: Vec<(&'a Handoff, Outcome)>,
}

impl<'a> Progress<'a> {
    pub fn new(starts: &'a dyn Starts) -> Self {
        Self { starts, answered: Vec::new() }
    }

    /// Records `next` as started, with the outcomes seen since the last
    /// call (nothing to record: no commit).
    pub async fn start(&mut self, next: &'a [Handoff]) -> Result<(), String> {
        if next.is_empty() && self.answered.is_empty() {
            return Ok(());
        }
        self.starts.started(next, &self.answered).await?;
        self.answered.clear();
        Ok(())
    }

    pub fn answered(&mut self, handoff: &'a Handoff, outcome: &Outcome) {
        self.answered.push((handoff, outcome.clone()));
    }
}

/// Records no start: for a hand-off no message's state rides on.
pub struct NoRecord;

impl Starts for NoRecord {
    fn started<'a>(&'a self, _: &'a [Handoff], _: &'a [(&'a Handoff, Outcome)]) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
}

/// A provider of one channel.
pub trait Provider: Send + Sync {
    /// Its name in the decision trace (`twilio`, `log`).
    fn name(&self) -> &'static str;
    /// The sender address it sends from, whose suppression list applies (SMS).
    fn sender(&self) -> Option<&str> {
        None
    }
    /// Whether its hand-off is the store's outbox row, written in the
    /// dispatcher's decision transaction (the log channel): never in doubt.
    fn transactional(&self) -> bool {
        false
    }
    fn send<'a>(&'a self, handoff: &'a Handoff) -> BoxFuture<'a, Outcome>;
    /// Hands over several messages: by default [`IN_FLIGHT`] at a time,
    /// each group's starts recorded through `starts` before it goes; a
    /// provider with a batch form overrides it. A hand-off not started by
    /// `deadline` is [`Outcome::NotAttempted`]. One outcome per hand-off,
    /// in order.
    fn send_many<'a>(
        &'a self,
        handoffs: &'a [Handoff],
        deadline: Instant,
        starts: &'a dyn Starts,
    ) -> BoxFuture<'a, Vec<Outcome>> {
        Box::pin(in_groups(handoffs, deadline, starts, |h| self.send(h)))
    }
    fn lookup<'a>(&'a self, handoff: &'a Handoff) -> BoxFuture<'a, Found>;
}

/// Sends `handoffs` with `send`, [`IN_FLIGHT`] at a time, each group's
/// start recorded through `starts` first (with the answers so far).
pub async fn in_groups<'h, F: Future<Output = Outcome>>(
    handoffs: &'h [Handoff],
    deadline: Instant,
    starts: &'h dyn Starts,
    send: impl Fn(&'h Handoff) -> F,
) -> Vec<Outcome> {
    let mut progress = Progress::new(starts);
    let mut outcomes = Vec::with_capacity(handoffs.len());
    for group in handoffs.chunks(IN_FLIGHT) {
        outcomes.extend(start_then(group, deadline, &mut progress, &send).await);
    }
    outcomes
}

/// Records `group`'s start, then sends it all at once with `send`; none
/// goes if the deadline passed or its start could not be recorded.
async fn start_then<'h, F: Future<Output = Outcome>>(
    group: &'h [Handoff],
    deadline: Instant,
    progress: &mut Progress<'h>,
    send: impl Fn(&'h Handoff) -> F,
) -> Vec<Outcome> {
    if Instant::now() >= deadline {
        return group.iter().map(|_| Outcome::NotAttempted).collect();
    }
    if let Err(error) = progress.start(group).await {
        let reason = format!("the hand-offs' start could not be recorded: {error}");
        return group.iter().map(|_| Outcome::Retry { reason: reason.clone(), after: None }).collect();
    }
    let outcomes = futures_util::future::join_all(group.iter().map(send)).await;
    for (handoff, outcome) in group.iter().zip(&outcomes) {
        progress.answered(handoff, outcome);
    }
    outcomes
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
