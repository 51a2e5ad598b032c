//! Sending one message, at send time: everything is checked again (the
//! message may have been cancelled, consent revoked, the patient deleted),
//! the channel is chosen and explained, the patient's hours and caps may
//! defer it, and the log channel hands it off. Every decision lands in the
//! message's trace; no log line carries its content or the patient's data.

use jiff::SignedDuration;
use jiff::tz::TimeZone;
use rapport_domain::message::caps::FrequencyCap;
use rapport_domain::message::routing::{RoutingFacts, choose_channel};
use rapport_domain::message::window::{SendingHours, SendingWindow};
use rapport_domain::{Channel, Message, MessageClass, MessageId, MessageState, Patient, PhoneKind};

use crate::jobs::{JobFailure, JobHandler};
use crate::store::{Job, OutboxEntry, SEND_JOB, Store, StoreError};

/// Every channel has a form in the log channel: it writes the text as is.
const LOG_FORMS: [Channel; 3] = [Channel::Sms, Channel::Email, Channel::Voice];

/// Whether a message must wait before it goes.
enum Wait {
    No,
    Until(jiff::Timestamp),
    /// The rules leave no moment at all.
    Never,
}

pub struct MessageSender {
    store: Store,
}

impl MessageSender {
    pub fn new(store: Store) -> Self {
        Self { store }
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
        if message.state != MessageState::Planned {
            return Ok(());
        }
        self.send(&message).await
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
        let facts = RoutingFacts {
            class: message.plan.class,
            forms: &LOG_FORMS,
            consents: &consents,
            undeliverable: &[],
            opted_out: &[],
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
        let Some(address) = address_of(&patient, channel) else {
            return self.suppress(message, "the chosen channel has no address").await;
        };
        let entry = OutboxEntry {
            message_id: message.id,
            channel,
            address,
            subject: message.plan.subject.clone(),
            body: message.plan.body.clone(),
            created_at: now,
        };
        store.hand_to_outbox(message, &entry, &route.trace).await.map_err(retry)?;
        Ok(())
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
