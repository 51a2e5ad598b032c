//! The decision on one planned message at send time, from what the store
//! read for its batch (`DispatchFacts`): suppress it (expired, patient gone,
//! no usable channel, no hour left), defer it (the patient's hours, the care
//! text cap), or hand it over by a channel to an address. Pure: no I/O, so
//! a batch is decided in memory and committed at once. Every reason lands
//! in the trace.

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use rapport_domain::message::caps::FrequencyCap;
use rapport_domain::message::compose::{AnswerLinks, Links, Source, compose};
use rapport_domain::message::routing::{RoutingFacts, address_for, choose_channel};
use rapport_domain::message::window::SendingHours;
use rapport_domain::reminder::key_prefix;
use rapport_domain::{Answer, Channel, Message, MessageClass, Patient, PatientId};

use crate::links::PatientLinks;
use rapport_domain::message::handoff::{Decided, Words};
use rapport_store::DispatchFacts;

/// A decision and its trace.
#[derive(Debug, Clone)]
pub struct Decision {
    pub decided: Decided,
    pub trace: Vec<String>,
}

impl Decision {
    fn close(reason: &str, trace: Vec<String>) -> Self {
        Self { decided: Decided::Close { reason: reason.into() }, trace }
    }
}

/// Care texts handed over earlier in the same batch, per patient: the cap
/// counts them before they are committed.
pub type BatchSends = HashMap<PatientId, Vec<Timestamp>>;

pub fn decide(
    message: &Message,
    facts: &DispatchFacts,
    channels: &[Channel],
    now: Timestamp,
    links: Option<&PatientLinks>,
    batch_sends: &mut BatchSends,
) -> Decision {
    let org = message.organization_id;
    if message.plan.expires_at.is_some_and(|at| at <= now) {
        return Decision::close("it expired before it could be sent", Vec::new());
    }
    let Some(patient) = facts.patients.get(&message.plan.patient_id).filter(|p| p.organization_id == org) else {
        return Decision::close("the patient's record was deleted", Vec::new());
    };
    // A push message's address is the patient's newest live subscription.
    let push_to = facts.push.get(&patient.id).and_then(|subscriptions| subscriptions.first()).map(|id| id.to_string());
    // A reply goes back to the number that wrote, if it is the patient's.
    let pinned =
        message.plan.to.as_deref().filter(|to| patient.details.phones.iter().any(|p| p.number.as_str() == *to));
    let address = |channel| match channel {
        Channel::Push => push_to.clone(),
        Channel::Sms | Channel::Voice if pinned.is_some() => pinned.map(str::to_owned),
        _ => address_for(&patient.details, channel),
    };
    // A message pinned to one channel may take only that one.
    let pinned_forms: Vec<Channel>;
    let channels = match message.plan.channel {
        Some(only) => {
            pinned_forms = channels.iter().copied().filter(|&c| c == only).collect();
            &pinned_forms[..]
        }
        None => channels,
    };
    let undeliverable: Vec<Channel> = channels
        .iter()
        .copied()
        .filter(|&c| address(c).is_some_and(|a| facts.undeliverable.contains(&(org, c, a))))
        .collect();
    let opted_out: Vec<Channel> = address(Channel::Sms)
        .filter(|a| facts.suppressed.contains(&(org, a.clone())))
        .map(|_| Channel::Sms)
        .into_iter()
        .collect();
    let no_consents = Vec::new();
    let routing = RoutingFacts {
        class: message.plan.class,
        forms: channels,
        consents: facts.consents.get(&patient.id).unwrap_or(&no_consents),
        undeliverable: &undeliverable,
        opted_out: &opted_out,
        has_push: push_to.is_some(),
    };
    let route = choose_channel(&patient.details, &routing);
    let trace = route.trace;
    let (Some(channel), Some(to)) = (route.channel, route.channel.and_then(address)) else {
        return Decision::close("no channel can carry it", trace);
    };
    let zone_name = match &patient.details.time_zone {
        Some(zone) => zone.as_str().to_owned(),
        None => facts.organizations.get(&org).map_or_else(|| "UTC".to_owned(), |o| o.time_zone.as_str().to_owned()),
    };
    let zone = TimeZone::get(&zone_name).unwrap_or(TimeZone::UTC);
    let own = facts.organizations.get(&org).and_then(|o| o.sending_window);
    let hours = SendingHours::for_patient(&patient.details, own, message.plan.class);
    let Some(allowed) = hours.next_allowed(now, &zone) else {
        return Decision::close("the patient's hours leave no time to send", trace);
    };
    // A deferral's trace is its one line: the route is traced when it is taken.
    let wait = |until: Timestamp, why: String, trace: Vec<String>| {
        if message.plan.expires_at.is_some_and(|at| at <= until) {
            return Decision::close("it could not arrive before it expires", trace);
        }
        let line = format!("deferred to {until}: {why}");
        Decision { decided: Decided::Defer { until }, trace: vec![line] }
    };
    if allowed > now {
        return wait(allowed, format!("outside the patient's sending hours ({zone_name})"), trace);
    }
    if message.plan.class == MessageClass::Care && channel == Channel::Sms {
        let mut sent = facts.care_sends.get(&patient.id).cloned().unwrap_or_default();
        sent.extend(batch_sends.get(&patient.id).into_iter().flatten().copied());
        sent.sort();
        let next = FrequencyCap::CARE_TEXTS.next_allowed(&sent, now);
        if next > now {
            return wait(next, "at most 1 care text a day and 3 a week".into(), trace);
        }
    }
    let mut trace = trace;
    let words = match words(message, patient, channel, facts, links, &mut trace) {
        Ok(words) => words,
        Err(reason) => return Decision::close(&reason, trace),
    };
    if message.plan.class == MessageClass::Care && channel == Channel::Sms {
        batch_sends.entry(patient.id).or_default().push(now);
    }
    Decision { decided: Decided::Begin { channel, address: to, words }, trace }
}

/// The message's words on `channel`: as planned, or composed from its
/// template for this patient (traced: which template, which language).
fn words(
    message: &Message,
    patient: &Patient,
    channel: Channel,
    facts: &DispatchFacts,
    links: Option<&PatientLinks>,
    trace: &mut Vec<String>,
) -> Result<Words, String> {
    let plan = &message.plan;
    let Some(kind) = &plan.template else {
        return Ok(Words { subject: plan.subject.clone(), body: plan.body.clone(), language: None });
    };
    let org = message.organization_id;
    let organization = facts.organizations.get(&org).ok_or("its organization is gone")?;
    let visit = plan.appointment_id.and_then(|id| facts.compose.visit(org, id));
    if plan.appointment_id.is_some() && visit.is_none() {
        return Err("the appointment it is about is gone".into());
    }
    let unfit = |v: rapport_domain::message::compose::Visit<'_>| {
        let confirmed = facts.compose.confirmed.contains(&v.appointment.id);
        rapport_domain::reminder::unfit(&plan.idempotency_key, v.appointment, confirmed)
    };
    if let Some(why) = visit.and_then(unfit) {
        return Err(why.into());
    }
    let own = facts.compose.templates_of(org);
    // A reminder's answer pages work until the visit starts.
    let answers = match (links, visit) {
        (Some(l), Some(v)) if plan.idempotency_key.starts_with(&key_prefix(v.appointment.id)) => {
            let page = |answer| l.answer_link(message.id, answer, v.appointment.details.start);
            Some(AnswerLinks {
                confirm: page(Answer::Confirm),
                cancel: page(Answer::Cancel),
                reschedule: page(Answer::Reschedule),
            })
        }
        _ => None,
    };
    let links = Links { unsubscribe: links.map(|l| l.link(message.id)), answers };
    let composed = compose(kind, own, organization, &patient.details, visit, &links, channel)
        .map_err(|error| error.to_string())?;
    let from = match composed.source {
        Source::Organization(id) => format!("the organization's template {id}"),
        Source::Shipped => "the shipped template".to_owned(),
    };
    trace.push(format!("composed from {from} of kind {kind} in {}", composed.language.as_str()));
    Ok(Words { subject: composed.subject, body: composed.body, language: Some(composed.language) })
}
