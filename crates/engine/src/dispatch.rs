//! Sending messages, a batch at a time. For each batch of leased send jobs:
//!
//! 1. read the messages and everything deciding on them needs, in a few
//!    queries (`Store::dispatch_facts`);
//! 2. decide each planned message in memory (`decide.rs`): suppress, defer,
//!    or hand over by a channel to an address;
//! 3. commit the decisions in one transaction: `planned → sending` for the
//!    hand-overs (only from `planned`: a message cancelled meanwhile, or
//!    taken by another dispatcher, is left alone), the trace, and the jobs
//!    that end here; a hand-off to the log channel is its outbox row,
//!    written here, the message `sent` and its job done;
//! 4. call the providers, outside any transaction, each with its whole share
//!    of the batch; each records a few hand-offs at a time as started, in a
//!    short commit, just before they may reach it (`channels::Starts`);
//! 5. commit their answers with the jobs' ends in one transaction.
//!
//! A message found `sending` whose start was never recorded had not left:
//! it is planned again and decided afresh (so STOP, a cancellation, its
//! expiry and the sending hours still win). One found `sending` after its
//! start, or `in_doubt` (an answer that could not be read), is never handed
//! over blindly: the provider is asked first (`reconcile`). Nothing here
//! logs a message's content or the patient's data.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::SignedDuration;
use rapport_domain::calendar;
use rapport_domain::{Channel, JobId, Message, MessageId, MessageState, ProviderRef};

use super::decide::{BatchSends, decide};
use crate::channels::{BoxFuture, Found, Handoff, Outcome, Providers, Starts};
use crate::jobs::{BatchReport, JobFailure, WorkerSettings};
use crate::links::PatientLinks;
use rapport_domain::message::caps::FrequencyCap;
use rapport_domain::message::handoff::{Decided, Handed, Taken};
use rapport_store::{DispatchFacts, Job, JobKind, JobResult, JobWork, Progress, SendRules, Store, StoreError};

/// The invitation an email about a visit carries (RFC 5545): the visit as
/// it stands, its UID stable, its SEQUENCE the visit's version.
fn invitation(
    message: &Message,
    language: Option<&rapport_domain::LanguageTag>,
    facts: &DispatchFacts,
    now: jiff::Timestamp,
) -> Option<(&'static str, String)> {
    let org = message.organization_id;
    let visit = facts.compose.visit(org, message.plan.appointment_id?)?;
    let organization = facts.organizations.get(&org)?;
    let spanish = language.is_some_and(|l| l.primary() == "es");
    let summary =
        if spanish { format!("Cita en {}", organization.name) } else { format!("Visit at {}", organization.name) };
    let address = rapport_domain::message::wording::address(&visit.location.address);
    let location = [visit.location.name.as_str(), address.as_str()]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    let domain = format!("{org}.rapport");
    let text = calendar::InviteText { summary: &summary, location: &location, domain: &domain };
    Some((calendar::method(visit.appointment), calendar::invite(visit.appointment, text, now)))
}

pub struct MessageSender {
    store: Store,
    providers: Providers,
    /// The care cap and the senders' limits, checked again at commit.
    rules: SendRules,
    /// Makes the links templates may carry (none without a public URL).
    links: Option<PatientLinks>,
    /// How long after an in-doubt outcome the provider is asked (a status
    /// report may settle it first); also how long after a hand-off's start
    /// a lookup that finds nothing is believed (a request may still be on
    /// its way).
    reconcile_after: SignedDuration,
    /// Where the providers' progress is recorded: the store, by [`Recorder`].
    starts: Arc<dyn Starts>,
}

/// Records the providers' progress in the store: the next hand-offs'
/// start, the earlier ones taken (sent) or not taken (not started after
/// all, so a crash now sends them again).
struct Recorder {
    store: Store,
    providers: Providers,
}

impl Starts for Recorder {
    fn started<'a>(
        &'a self,
        next: &'a [Handoff],
        answered: &'a [(&'a Handoff, Outcome)],
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let lines: Vec<String> = answered
                .iter()
                .map(|(h, outcome)| match outcome {
                    Outcome::Accepted { provider_ref } => sent_line(&self.providers, h.channel, provider_ref),
                    _ => String::new(),
                })
                .collect();
            let mut progress = Progress::default();
            for ((handoff, outcome), line) in answered.iter().zip(&lines) {
                let message = (handoff.organization_id, handoff.message_id);
                match outcome {
                    Outcome::Accepted { provider_ref } => {
                        progress.sent.push((message.0, message.1, provider_ref, line))
                    }
                    Outcome::InDoubt { .. } => {}
                    _ => progress.not_taken.push(message),
                }
            }
            progress.started = next.iter().map(|h| (h.organization_id, h.message_id)).collect();
            self.store.record_progress(&progress).await.map_err(|error| error.to_string())
        })
    }
}

/// Counts a provider call (one batch's share) and its outcomes, by provider
/// and channel: `rapport_provider_call_seconds`, `rapport_handoffs_total`.
fn count_outcomes(provider: &'static str, channel: Channel, took: std::time::Duration, outcomes: &[Outcome]) {
    let channel = channel.as_str();
    metrics::histogram!("rapport_provider_call_seconds", "provider" => provider, "channel" => channel)
        .record(took.as_secs_f64());
    for outcome in outcomes {
        let name = match outcome {
            Outcome::Accepted { .. } => "accepted",
            Outcome::Retry { .. } => "retry",
            Outcome::Refused { .. } => "refused",
            Outcome::OptedOut => "opted_out",
            Outcome::InDoubt { .. } => "in_doubt",
            Outcome::NotAttempted => "not_attempted",
        };
        metrics::counter!("rapport_handoffs_total", "provider" => provider, "channel" => channel, "outcome" => name)
            .increment(1);
    }
}

/// A store error while reconciling: the job is tried again.
fn retry(error: StoreError) -> JobFailure {
    JobFailure::Retry(error.to_string())
}

/// The trace line of a hand-off the provider took.
fn sent_line(providers: &Providers, channel: Channel, provider_ref: &ProviderRef) -> String {
    let provider = providers.for_channel(channel).map_or("none", |p| p.name());
    format!("sent by {} through {provider} ({provider_ref})", channel.as_str())
}

fn message_id_of(job: &Job) -> Option<MessageId> {
    match job.work() {
        Ok(JobWork::Send { message_id }) => Some(message_id),
        _ => None,
    }
}

/// A hand-over in flight: the message, its job, where it goes.
struct Handover<'a> {
    job: &'a Job,
    message: &'a Message,
    handoff: Handoff,
}

impl MessageSender {
    /// Sends every channel to the log channel's outbox.
    pub fn new(store: Store) -> Self {
        let providers = Providers::log_only(&store);
        Self::with_providers(store, providers)
    }

    pub fn with_providers(store: Store, providers: Providers) -> Self {
        let rules = SendRules {
            care_cap: FrequencyCap::CARE_TEXTS,
            senders: providers.sender_limits(),
            sms_sender: providers.sms.sender().map(str::to_owned),
            outboxed: Channel::ALL
                .into_iter()
                .filter(|&c| providers.for_channel(c).is_some_and(|p| p.transactional()))
                .collect(),
        };
        let starts = Arc::new(Recorder { store: store.clone(), providers: providers.clone() });
        Self { store, providers, rules, links: None, reconcile_after: SignedDuration::from_mins(1), starts }
    }

    /// Records hand-offs' starts with `starts` instead of the store (a test
    /// proves what is lost without them).
    pub fn recording_starts_with(mut self, starts: Arc<dyn Starts>) -> Self {
        self.starts = starts;
        self
    }

    /// Lets templates carry links (`{{links.unsubscribe}}`) made under the public URL.
    pub fn with_links(mut self, links: PatientLinks) -> Self {
        self.links = Some(links);
        self
    }

    /// How long after an in-doubt outcome the provider is asked.
    pub fn reconcile_after(mut self, wait: SignedDuration) -> Self {
        self.reconcile_after = wait;
        self
    }

    /// Leases one batch of due send jobs and carries them out.
    pub async fn dispatch_batch(&self, worker: &WorkerSettings) -> Result<BatchReport, StoreError> {
        let store = &self.store;
        let jobs = store.lease_jobs(&worker.owner, JobKind::Send.as_str(), worker.batch, worker.lease_for).await?;
        let mut report = BatchReport::default();
        if jobs.is_empty() {
            return Ok(report);
        }
        let named: Vec<(&Job, Option<MessageId>)> = jobs.iter().map(|job| (job, message_id_of(job))).collect();
        let ids: Vec<MessageId> = named.iter().filter_map(|(_, id)| *id).collect();
        let messages: HashMap<MessageId, Message> =
            store.messages_by_ids(&ids).await?.into_iter().map(|m| (m.id, m)).collect();
        let mut ends: Vec<(JobId, JobResult)> = Vec::new();
        let (mut planned, mut unsettled) = (Vec::new(), Vec::new());
        for (job, id) in named {
            let Some(id) = id else {
                ends.push((job.id, JobResult::Dead { error: "the payload names no message".into() }));
                continue;
            };
            match messages.get(&id).filter(|m| Some(m.organization_id) == job.organization_id) {
                None => ends.push((job.id, JobResult::Dead { error: "the message is gone".into() })),
                Some(m) if m.state == MessageState::Planned => planned.push((job, m)),
                Some(m) if matches!(m.state, MessageState::Sending | MessageState::InDoubt) => unsettled.push((job, m)),
                Some(_) => ends.push((job.id, JobResult::Done)),
            }
        }
        let (handovers, mut results) = self.decide_batch(worker, &planned, ends, &mut report).await?;
        // Hand-offs get half the lease; the rest is room to record the answers.
        let budget = std::time::Duration::try_from(worker.lease_for / 2).unwrap_or_default();
        let deadline = std::time::Instant::now() + budget;
        let mut answers = Vec::new();
        for (handover, outcome) in self.hand_over(handovers, deadline).await {
            let (handed, result) = self.read_outcome(&handover, outcome, &worker.retry);
            answers.push((handover.message, handed));
            results.push((handover.job.id, result));
        }
        for (job, message) in unsettled {
            let result = match self.reconcile(message).await {
                Ok(result) => result,
                Err(failure) => failure.result(job.attempts, store.clock().now(), &worker.retry),
            };
            results.push((job.id, result));
        }
        let recorded = store.record_handoffs(&worker.owner, &answers, &results).await?;
        for ((_, result), state) in results.iter().zip(recorded) {
            report.count(result, state);
        }
        Ok(report)
    }

    /// Steps 2 and 3: decides on the planned messages and commits the
    /// decisions with `ends` (jobs finished without a hand-over). Returns
    /// the hand-overs this dispatcher won, and the jobs of those it lost
    /// (to be ended with the answers).
    async fn decide_batch<'a>(
        &self,
        worker: &WorkerSettings,
        planned: &[(&'a Job, &'a Message)],
        mut ends: Vec<(JobId, JobResult)>,
        report: &mut BatchReport,
    ) -> Result<(Vec<Handover<'a>>, Vec<(JobId, JobResult)>), StoreError> {
        let store = &self.store;
        let now = store.clock().now();
        let channels = self.providers.channels();
        let messages: Vec<&Message> = planned.iter().map(|(_, m)| *m).collect();
        let since = now - SignedDuration::from_hours(24 * 7);
        let facts = store.dispatch_facts(&messages, channels, self.providers.sms.sender(), since).await?;
        let mut batch_sends = BatchSends::new();
        let mut decisions = Vec::with_capacity(planned.len());
        for &(job, message) in planned {
            let mut decision = decide(message, &facts, channels, now, self.links.as_ref(), &mut batch_sends);
            match &decision.decided {
                Decided::Begin { channel, .. } => {
                    let provider = self.providers.for_channel(*channel).map_or("none", |p| p.name());
                    decision.trace.push(format!("handing to {provider} by {}", channel.as_str()));
                }
                Decided::Defer { until } => ends.push((job.id, JobResult::Later { until: *until })),
                Decided::Close { .. } => ends.push((job.id, JobResult::Done)),
            }
            decisions.push((message, job.id, decision.decided, decision.trace));
        }
        let (took, recorded) = store.commit_decisions(&worker.owner, &decisions, &ends, &self.rules).await?;
        let put_off = decisions.iter().zip(&took).filter_map(|((_, job, _, _), taken)| match taken {
            Taken::Deferred(until) => Some((*job, JobResult::Later { until: *until })),
            _ => None,
        });
        // The log channel's hand-offs ended in the commit: their jobs are done.
        let outboxed = decisions.iter().zip(&took).filter_map(|((_, job, _, _), taken)| match taken {
            Taken::Sent => Some((*job, JobResult::Done)),
            _ => None,
        });
        let ended: Vec<(JobId, JobResult)> = ends.into_iter().chain(put_off).chain(outboxed).collect();
        for ((_, result), state) in ended.iter().zip(recorded) {
            report.count(result, state);
        }
        let mut handovers = Vec::new();
        let mut lost = Vec::new();
        for (((message, _, decided, _), taken), (job, _)) in decisions.iter().zip(&took).zip(planned) {
            let Decided::Begin { channel, address, words } = decided else { continue };
            match taken {
                Taken::Yes => {}
                // Cancelled meanwhile, or another dispatcher has it: nothing to send.
                Taken::Lost => {
                    lost.push((job.id, JobResult::Done));
                    continue;
                }
                Taken::Deferred(_) | Taken::Sent => continue,
            }
            let calendar = (*channel == Channel::Email)
                .then(|| invitation(message, words.language.as_ref(), &facts, now))
                .flatten();
            let handoff = Handoff {
                organization_id: message.organization_id,
                message_id: message.id,
                channel: *channel,
                class: message.plan.class,
                to: address.clone(),
                subject: words.subject.clone(),
                body: words.body.clone(),
                media: message.plan.media.clone(),
                calendar,
                sending_at: now,
            };
            handovers.push(Handover { job, message, handoff });
        }
        Ok((handovers, lost))
    }

    /// Step 4: each provider gets its share of the batch at once.
    async fn hand_over<'a>(
        &self,
        handovers: Vec<Handover<'a>>,
        deadline: std::time::Instant,
    ) -> Vec<(Handover<'a>, Outcome)> {
        let mut done = Vec::with_capacity(handovers.len());
        let mut rest = handovers;
        for channel in Channel::ALL {
            let (mine, others): (Vec<_>, Vec<_>) = rest.into_iter().partition(|h| h.handoff.channel == channel);
            rest = others;
            if mine.is_empty() {
                continue;
            }
            let Some(provider) = self.providers.for_channel(channel) else {
                let refused =
                    || Outcome::Refused { reason: "no provider carries this channel".into(), undeliverable: false };
                done.extend(mine.into_iter().map(|h| (h, refused())));
                continue;
            };
            let handoffs: Vec<Handoff> = mine.iter().map(|h| h.handoff.clone()).collect();
            let started = std::time::Instant::now();
            let outcomes = provider.send_many(&handoffs, deadline, self.starts.as_ref()).await;
            count_outcomes(provider.name(), channel, started.elapsed(), &outcomes);
            done.extend(mine.into_iter().zip(outcomes));
        }
        done
    }

    /// Step 5: what a provider's answer does to the message and its job.
    fn read_outcome(
        &self,
        handover: &Handover<'_>,
        outcome: Outcome,
        retry: &crate::jobs::RetryPolicy,
    ) -> (Handed, JobResult) {
        let now = self.store.clock().now();
        match outcome {
            Outcome::Accepted { provider_ref } => {
                let line = sent_line(&self.providers, handover.handoff.channel, &provider_ref);
                (Handed::Sent { provider_ref, line }, JobResult::Done)
            }
            Outcome::Retry { reason, after } => {
                let failure = match after {
                    Some(after) => JobFailure::RetryNotBefore(reason.clone(), now + after),
                    None => JobFailure::Retry(reason.clone()),
                };
                (Handed::BackToPlanned { why: reason }, failure.result(handover.job.attempts, now, retry))
            }
            Outcome::Refused { reason, undeliverable } => {
                let state = if undeliverable { MessageState::Undeliverable } else { MessageState::Failed };
                (Handed::Refused { state, reason }, JobResult::Done)
            }
            Outcome::OptedOut => {
                let sender =
                    self.providers.for_channel(handover.handoff.channel).and_then(|p| p.sender()).map(str::to_owned);
                let reason = "the patient opted out of texts from this number (STOP)".to_owned();
                (Handed::OptedOut { sender, address: handover.handoff.to.clone(), reason }, JobResult::Done)
            }
            Outcome::InDoubt { reason } => {
                (Handed::InDoubt { reason }, JobResult::Later { until: now + self.reconcile_after })
            }
            Outcome::NotAttempted => {
                let why = "not attempted: the batch's time for hand-offs ran out".to_owned();
                (Handed::BackToPlanned { why }, JobResult::Later { until: now })
            }
        }
    }

    /// A message found `sending` (its dispatcher stopped mid-hand-off) or
    /// `in_doubt`. Its start never recorded: it had not left, and is planned
    /// again at once. Otherwise the provider is asked whether it has it.
    /// Found: sent. Not found, once the hand-off is old enough to believe
    /// it: planned again, to be decided afresh at once. The lookup failed
    /// or is too early to believe: in doubt, asked again later.
    async fn reconcile(&self, message: &Message) -> Result<JobResult, JobFailure> {
        let (store, org, id) = (&self.store, message.organization_id, message.id);
        let now = store.clock().now();
        let (Some(channel), Some(to), Some(sending_at), Some(handed_at)) =
            (message.channel, message.address.clone(), message.sending_at, message.handed_at)
        else {
            let why = "the previous attempt stopped before the hand-off began";
            store.return_to_planned(org, id, why).await.map_err(retry)?;
            return Ok(JobResult::Later { until: now });
        };
        let Some(provider) = self.providers.for_channel(channel) else {
            return Err(JobFailure::Permanent("no provider carries this channel any more".into()));
        };
        let handoff = Handoff {
            organization_id: org,
            message_id: id,
            channel,
            class: message.plan.class,
            to,
            subject: message.plan.subject.clone(),
            body: message.plan.body.clone(),
            media: message.plan.media.clone(),
            calendar: None,
            sending_at,
        };
        let believed_from = handed_at + self.reconcile_after;
        match provider.lookup(&handoff).await {
            Found::Yes { provider_refs } => match store.unclaimed_ref(org, id, &provider_refs).await.map_err(retry)? {
                Some(provider_ref) => {
                    let line = format!("reconciled: {} has it ({provider_ref})", provider.name());
                    store.record_sent(org, id, &provider_ref, &line).await.map_err(retry)?;
                    Ok(JobResult::Done)
                }
                // Each match is another message's: this one never arrived.
                None => self.not_found(message, provider.name(), believed_from).await,
            },
            Found::No => self.not_found(message, provider.name(), believed_from).await,
            Found::Unknown(reason) => {
                self.in_doubt(message).await?;
                Err(JobFailure::Retry(format!("the lookup failed: {reason}")))
            }
            // Nothing to ask: in doubt until staff settle it.
            Found::Unknowable => {
                self.in_doubt(message).await?;
                Ok(JobResult::Done)
            }
        }
    }

    /// The provider does not have `message`: planned again at once, unless
    /// its request may still be on its way (before `believed_from`): then in
    /// doubt, asked again once it would have arrived.
    async fn not_found(
        &self,
        message: &Message,
        provider: &str,
        believed_from: jiff::Timestamp,
    ) -> Result<JobResult, JobFailure> {
        let now = self.store.clock().now();
        if now < believed_from {
            self.in_doubt(message).await?;
            return Ok(JobResult::Later { until: believed_from });
        }
        let why = format!("reconciled: {provider} never received it");
        let (org, id) = (message.organization_id, message.id);
        self.store.return_to_planned(org, id, &why).await.map_err(retry)?;
        Ok(JobResult::Later { until: now })
    }

    /// A message found `sending` after its start goes `in_doubt`.
    async fn in_doubt(&self, message: &Message) -> Result<(), JobFailure> {
        if message.state == MessageState::Sending {
            let why = "the previous attempt stopped during the hand-off";
            self.store.record_in_doubt(message.organization_id, message.id, why).await.map_err(retry)?;
        }
        Ok(())
    }
}
