//! Sending one message, at send time: everything is checked again (the
//! message may have been cancelled, consent revoked, the patient deleted or
//! opted out), the channel is chosen and explained, the patient's hours and
//! caps may defer it, and the channel's provider takes it. `sending` is
//! committed before the provider is called; an outcome that cannot be read
//! leaves the message `in_doubt`, and a run that finds a message `sending`
//! or `in_doubt` asks the provider (a lookup) instead of sending again.
//! Every decision lands in the message's trace; no log line carries its
//! content or the patient's data.

use jiff::SignedDuration;
use jiff::tz::TimeZone;
use rapport_domain::message::caps::FrequencyCap;
use rapport_domain::message::routing::{RoutingFacts, choose_channel};
use rapport_domain::message::window::{SendingHours, SendingWindow};
use rapport_domain::{Channel, Message, MessageClass, MessageId, MessageState, Patient, PhoneKind};

use crate::channels::{Found, Handoff, Outcome, Provider, Providers};
use crate::jobs::{JobFailure, JobHandler};
use crate::store::{Job, SEND_JOB, Store, StoreError};

/// Whether a message must wait before it goes.
enum Wait {
    No,
    Until(jiff::Timestamp),
    /// The rules leave no moment at all.
    Never,
}

pub struct MessageSender {
    store: Store,
    providers: Providers,
    /// How long after an in-doubt outcome the provider is asked (a status
    /// report may settle it first).
    reconcile_after: SignedDuration,
}

impl MessageSender {
    /// Sends every channel to the log channel's outbox.
    pub fn new(store: Store) -> Self {
        let providers = Providers::log_only(&store);
        Self::with_providers(store, providers)
    }

    pub fn with_providers(store: Store, providers: Providers) -> Self {
        Self { store, providers, reconcile_after: SignedDuration::from_mins(1) }
    }

    /// How long after an in-doubt outcome the provider is asked.
    pub fn reconcile_after(mut self, wait: SignedDuration) -> Self {
        self.reconcile_after = wait;
        self
    }
}

fn retry(error: StoreError) -> JobFailure {
    JobFailure::Retry(error.to_string())
}

impl JobHandler for MessageSender {
    fn kind(&self) -> &'static str {
        SEND_JOB
    }

    async fn run(&self, job: &Job) -> Result<(), JobFailure> {
        let id: MessageId = serde_json::from_str::<serde_json::Value>(&job.payload)
            .ok()
            .and_then(|v| v["message_id"].as_str().and_then(|id| id.parse().ok()))
            .ok_or_else(|| JobFailure::Permanent("the payload names no message".into()))?;
        let org = job.organization_id.ok_or_else(|| JobFailure::Permanent("the job has no organization".into()))?;
        let message = match self.store.message(org, id).await {
            Ok(message) => message,
            Err(StoreError::NotFound) => return Err(JobFailure::Permanent("the message is gone".into())),
            Err(error) => return Err(retry(error)),
        };
        match message.state {
            MessageState::Planned => self.send(&message).await,
            MessageState::Sending | MessageState::InDoubt => self.reconcile(&message).await,
            _ => Ok(()),
        }
    }
}

impl MessageSender {
    async fn suppress(&self, message: &Message, reason: &str) -> Result<(), JobFailure> {
        self.store
            .close_message(message.organization_id, message.id, MessageState::Suppressed, reason)
            .await
            .map_err(retry)?;
        Ok(())
    }

    /// The channels whose address is known not to receive, and the SMS
    /// opt-out of the sender that would send it.
    async fn unusable(&self, message: &Message, patient: &Patient) -> Result<(Vec<Channel>, Vec<Channel>), JobFailure> {
        let org = message.organization_id;
        let candidates: Vec<(Channel, String)> =
            self.providers.channels().iter().filter_map(|&c| address_of(patient, c).map(|a| (c, a))).collect();
        let undeliverable = self.store.undeliverable_channels(org, &candidates).await.map_err(retry)?;
        let mut opted_out = Vec::new();
        let sms = candidates.iter().find(|(c, _)| *c == Channel::Sms);
        if let (Some((_, to)), Some(sender)) = (sms, self.providers.sms.sender())
            && self.store.is_sms_suppressed(org, sender, to).await.map_err(retry)?
        {
            opted_out.push(Channel::Sms);
        }
        Ok((undeliverable, opted_out))
    }

    async fn send(&self, message: &Message) -> Result<(), JobFailure> {
        let (store, org) = (&self.store, message.organization_id);
        let now = store.clock().now();
        if message.plan.expires_at.is_some_and(|at| at <= now) {
            return self.suppress(message, "it expired before it could be sent").await;
        }
        let patient = match store.get_patient(org, message.plan.patient_id).await {
            Ok(patient) => patient,
            Err(StoreError::NotFound) => return self.suppress(message, "the patient's record was deleted").await,
            Err(error) => return Err(retry(error)),
        };
        let consents = store.current_consents(org, patient.id).await.map_err(retry)?;
        let (undeliverable, opted_out) = self.unusable(message, &patient).await?;
        let facts = RoutingFacts {
            class: message.plan.class,
            forms: self.providers.channels(),
            consents: &consents,
            undeliverable: &undeliverable,
            opted_out: &opted_out,
            has_push: false,
        };
        let route = choose_channel(&patient.details, &facts);
        let Some(channel) = route.channel else {
            for line in &route.trace {
                store.note_message(message.id, line).await.map_err(retry)?;
            }
            return self.suppress(message, "no channel can carry it").await;
        };
        match self.wait_for(message, &patient, channel).await? {
            Wait::No => {}
            Wait::Never => return self.suppress(message, "the patient's hours leave no time to send").await,
            Wait::Until(until) if message.plan.expires_at.is_some_and(|at| at <= until) => {
                return self.suppress(message, "it could not arrive before it expires").await;
            }
            Wait::Until(until) => return Err(JobFailure::Later(until)),
        }
        let (Some(address), Some(provider)) = (address_of(&patient, channel), self.providers.for_channel(channel))
        else {
            return self.suppress(message, "the chosen channel has no address").await;
        };
        let mut trace = route.trace;
        trace.push(format!("handing to {} by {}", provider.name(), channel.as_str()));
        if !store.begin_sending(message, channel, &address, &trace).await.map_err(retry)? {
            // Cancelled meanwhile, or another worker has it.
            return Ok(());
        }
        let handoff = Handoff {
            organization_id: org,
            message_id: message.id,
            channel,
            to: address,
            subject: message.plan.subject.clone(),
            body: message.plan.body.clone(),
            sending_at: now,
        };
        let outcome = provider.send(&handoff).await;
        self.record(message, provider.as_ref(), &handoff, outcome).await
    }

    /// Records what the provider answered.
    async fn record(
        &self,
        message: &Message,
        provider: &dyn Provider,
        handoff: &Handoff,
        outcome: Outcome,
    ) -> Result<(), JobFailure> {
        let (store, org, id) = (&self.store, message.organization_id, message.id);
        let now = store.clock().now();
        match outcome {
            Outcome::Accepted { provider_ref } => {
                let line = format!("sent by {} through {} ({provider_ref})", handoff.channel.as_str(), provider.name());
                store.record_sent(org, id, &provider_ref, &line).await.map_err(retry)?;
                Ok(())
            }
            Outcome::Retry { reason, after } => {
                store.return_to_planned(org, id, &reason).await.map_err(retry)?;
                match after {
                    Some(after) => Err(JobFailure::RetryNotBefore(reason, now + after)),
                    None => Err(JobFailure::Retry(reason)),
                }
            }
            Outcome::Refused { reason, undeliverable } => {
                let state = if undeliverable { MessageState::Undeliverable } else { MessageState::Failed };
                store.record_refusal(message, state, &reason).await.map_err(retry)?;
                Ok(())
            }
            Outcome::OptedOut => {
                if let Some(sender) = provider.sender() {
                    store.suppress_sms(org, sender, &handoff.to).await.map_err(retry)?;
                }
                let reason = "the patient opted out of texts from this number (STOP)";
                store.record_refusal(message, MessageState::Suppressed, reason).await.map_err(retry)?;
                Ok(())
            }
            Outcome::InDoubt { reason } => {
                store.record_in_doubt(org, id, &reason).await.map_err(retry)?;
                Err(JobFailure::Later(now + self.reconcile_after))
            }
        }
    }

    /// A message found `sending` (its worker stopped mid-hand-off) or
    /// `in_doubt`: the provider is asked whether it has it. Found: sent.
    /// Not found: planned again and sent. The lookup failed: try later.
    async fn reconcile(&self, message: &Message) -> Result<(), JobFailure> {
        let (store, org, id) = (&self.store, message.organization_id, message.id);
        let (Some(channel), Some(to), Some(sending_at)) =
            (message.channel, message.address.clone(), message.sending_at)
        else {
            store.return_to_planned(org, id, "the hand-off had not chosen an address").await.map_err(retry)?;
            return self.send_again(message).await;
        };
        if message.state == MessageState::Sending {
            let reason = "the previous attempt stopped during the hand-off";
            store.record_in_doubt(org, id, reason).await.map_err(retry)?;
        }
        let Some(provider) = self.providers.for_channel(channel) else {
            return Err(JobFailure::Permanent("no provider carries this channel any more".into()));
        };
        let handoff = Handoff {
            organization_id: org,
            message_id: id,
            channel,
            to,
            subject: message.plan.subject.clone(),
            body: message.plan.body.clone(),
            sending_at,
        };
        match provider.lookup(&handoff).await {
            Found::Yes { provider_ref } => {
                let line = format!("reconciled: {} has it ({provider_ref})", provider.name());
                store.record_sent(org, id, &provider_ref, &line).await.map_err(retry)?;
                Ok(())
            }
            Found::No => {
                let why = format!("reconciled: {} never received it", provider.name());
                store.return_to_planned(org, id, &why).await.map_err(retry)?;
                self.send_again(message).await
            }
            Found::Unknown(reason) => Err(JobFailure::Retry(format!("the lookup failed: {reason}"))),
        }
    }

    async fn send_again(&self, message: &Message) -> Result<(), JobFailure> {
        let fresh = self.store.message(message.organization_id, message.id).await.map_err(retry)?;
        if fresh.state != MessageState::Planned {
            return Ok(());
        }
        self.send(&fresh).await
    }

    /// When the message must wait (the patient's hours, a cap), until when;
    /// each wait is written to the trace.
    async fn wait_for(&self, message: &Message, patient: &Patient, channel: Channel) -> Result<Wait, JobFailure> {
        let store = &self.store;
        let now = store.clock().now();
        let zone_name = match &patient.details.time_zone {
            Some(zone) => zone.as_str().to_owned(),
            None => store.get_organization(message.organization_id).await.map_err(retry)?.time_zone.as_str().to_owned(),
        };
        let zone = TimeZone::get(&zone_name).map_err(|_| JobFailure::Permanent("an unknown time zone".into()))?;
        let state = patient.details.address.state.as_deref();
        let window = match SendingWindow::for_state(state, message.plan.class) {
            Some(local_rule) => SendingWindow::DEFAULT.narrowed_by(local_rule),
            None => SendingWindow::DEFAULT,
        };
        let hours = SendingHours { window, quiet: patient.details.quiet_hours };
        let Some(allowed) = hours.next_allowed(now, &zone) else { return Ok(Wait::Never) };
        if allowed > now {
            let line = format!("deferred to {allowed}: outside the patient's sending hours ({zone_name})");
            store.note_message(message.id, &line).await.map_err(retry)?;
            return Ok(Wait::Until(allowed));
        }
        if message.plan.class == MessageClass::Care && channel == Channel::Sms {
            let sent = store.sends_since(patient.id, MessageClass::Care, now - SignedDuration::from_hours(24 * 7));
            let next = FrequencyCap::CARE_TEXTS.next_allowed(&sent.await.map_err(retry)?, now);
            if next > now {
                let line = format!("deferred to {next}: at most 1 care text a day and 3 a week");
                store.note_message(message.id, &line).await.map_err(retry)?;
                return Ok(Wait::Until(next));
            }
        }
        Ok(Wait::No)
    }
}

fn address_of(patient: &Patient, channel: Channel) -> Option<String> {
    let details = &patient.details;
    match channel {
        Channel::Sms => details.phones.iter().find(|p| p.kind == PhoneKind::Mobile).map(|p| p.number.to_string()),
        Channel::Voice => details.phones.first().map(|p| p.number.to_string()),
        Channel::Email => details.emails.first().map(|e| e.address.to_string()),
        Channel::Push => None,
    }
}
