//! A patient's text, once opt-out keywords are dealt with: kept, read as an
//! answer to the visit a reminder asked about, and settled (the answer, the
//! acknowledgement sent back to the number that wrote, a staff task when a
//! person must look). Rapport never guesses: a text that is no answer goes
//! to staff; an answer that could be for several visits, or for patients
//! sharing the phone, goes to staff and the patient is told so. A YES to
//! a waitlist offer takes the slot (`waitlist.rs`).

use jiff::{SignedDuration, Timestamp};
use rapport_domain::answer::{Asked, Target, UNCLEAR_ACKNOWLEDGEMENT, target};
use rapport_domain::keywords;
use rapport_domain::message::template::TemplateKind;
use rapport_domain::{
    Answer, AppointmentId, Channel, ConversationId, MessagePlan, OrganizationId, PatientId, PhoneE164, ReplyWords,
};

use crate::answers::Settlement;
use rapport_store::{
    Answered, InboundText, NewAnswer, NewTask, OfferSent, OfferTaken, ReceivedText, Store, StoreError, TaskKind,
    TextOutcome,
};

/// How far back a reminder still counts as asking (a reply a week later to
/// a reminder sent two weeks before a visit is still an answer).
const ASKED_WITHIN: SignedDuration = SignedDuration::from_hours(24 * 21);

/// How far back a waitlist offer may be answered (its round may have
/// closed: a late YES is told the time is gone).
const OFFERS_WITHIN: SignedDuration = SignedDuration::from_hours(24);

/// What became of a text.
#[derive(Debug, Clone, PartialEq)]
pub struct TextTaken {
    pub text: ReceivedText,
    /// Set when this call settled it (not a repeat of a settled text).
    pub outcome: Option<TextOutcome>,
    pub answered: Option<Answered>,
    /// The conversation it joined, when this call settled it.
    pub conversation_id: Option<ConversationId>,
}

/// Keeps and settles one text (a repeat of a settled one changes nothing).
pub async fn take_text(
    store: &Store,
    org: OrganizationId,
    text: &InboundText,
    words: &ReplyWords,
    now: Timestamp,
) -> Result<TextTaken, StoreError> {
    let received = store.receive_text(org, text).await?;
    if received.outcome.is_some() {
        return Ok(TextTaken { text: received, outcome: None, answered: None, conversation_id: None });
    }
    let reading = read(store, org, text, words, now).await?;
    // A YES to a waitlist offer takes it, unless a reminder also waits for
    // an answer, or several offers do (other slots, or patients sharing the
    // phone): then it is unclear.
    let ask_waits = matches!(target(&reading.asked, now), Target::Visit(v) if v.answered.is_none());
    if let ([offer], false) = (reading.offers.as_slice(), ask_waits) {
        return take_offer_text(store, org, offer, received).await;
    }
    let settlement = settlement_for(store, org, &received, &reading, now).await?;
    let outcome = settlement.outcome;
    let settled = crate::answers::settle_text(store, org, &received, settlement).await?;
    let conversation_id = Some(settled.conversation_id);
    Ok(TextTaken { text: received, outcome: Some(outcome), answered: settled.answered, conversation_id })
}

/// What a text says, against what was asked of its number lately.
struct Reading {
    /// The number that wrote, when it is a phone number.
    phone: Option<PhoneE164>,
    answer: Option<Answer>,
    /// The visits reminders asked about, newest first.
    asked: Vec<Asked>,
    /// The waitlist offers a YES could take.
    offers: Vec<OfferSent>,
    /// It reads as "stop texting me".
    revocation: bool,
}

async fn read(
    store: &Store,
    org: OrganizationId,
    text: &InboundText,
    words: &ReplyWords,
    now: Timestamp,
) -> Result<Reading, StoreError> {
    // Rapport texts patients' phones, which are E.164: a sender that is
    // not (a short code, a name) was asked nothing and is nobody's phone.
    let phone = PhoneE164::parse(&text.from).ok();
    let asked = match &phone {
        Some(phone) => store.asked_visits(org, phone, now - ASKED_WITHIN).await?,
        None => Vec::new(),
    };
    let answer = words.read(&text.body);
    let revocation = answer.is_none() && keywords::reads_as_revocation(&text.body);
    let offers = match (answer, &phone) {
        (Some(Answer::Confirm), Some(phone)) => store.offers_sent_to(org, phone, now - OFFERS_WITHIN).await?,
        _ => Vec::new(),
    };
    Ok(Reading { phone, answer, asked, offers, revocation })
}

/// A YES that takes (or is too late for) a waitlist offer.
async fn take_offer_text(
    store: &Store,
    org: OrganizationId,
    offer: &OfferSent,
    received: ReceivedText,
) -> Result<TextTaken, StoreError> {
    let (taken, conversation) = crate::waitlist::take_offer(store, org, offer, received.id, &received.from).await?;
    let (answered, visit) = match taken {
        OfferTaken::Booked(visit) => {
            let id = visit.id;
            (Some(Answered::Applied(*visit)), Some(id))
        }
        OfferTaken::Gone => (None, None),
    };
    let text = ReceivedText {
        outcome: Some(TextOutcome::Answered),
        patient_id: Some(offer.patient_id),
        appointment_id: visit,
        conversation_id: Some(conversation),
        ..received
    };
    Ok(TextTaken { text, outcome: Some(TextOutcome::Answered), answered, conversation_id: Some(conversation) })
}

/// How a text that takes no offer is settled: an answer to the one visit
/// asked about, unclear (staff and the patient told so), or one to read.
async fn settlement_for(
    store: &Store,
    org: OrganizationId,
    received: &ReceivedText,
    reading: &Reading,
    now: Timestamp,
) -> Result<Settlement, StoreError> {
    let from = &received.from;
    let ack = |patient: PatientId, kind: TemplateKind, visit: Option<AppointmentId>| {
        MessagePlan::acknowledgement(received.id, patient, from, kind, visit, now)
    };
    let task = |kind: TaskKind, patient: Option<PatientId>| NewTask {
        kind,
        key: format!("text:{}", received.id),
        patient_id: patient,
        appointment_id: None,
        inbound_id: Some(received.id),
    };
    let unclear_offer = !reading.offers.is_empty();
    Ok(match (reading.answer, target(&reading.asked, now)) {
        (Some(answer), Target::Visit(visit)) if !unclear_offer => {
            let (patient, visit_id) = (visit.appointment.details.patient_id, visit.appointment.id);
            let given = NewAnswer {
                message_id: visit.message_id,
                answer,
                channel: Channel::Sms,
                inbound_id: Some(received.id),
            };
            Settlement {
                outcome: TextOutcome::Answered,
                patient_id: Some(patient),
                appointment_id: Some(visit_id),
                answer: Some(given),
                reply: Some(ack(patient, TemplateKind::from(answer.acknowledgement()), Some(visit_id))),
                task: None,
                revocation: false,
            }
        }
        (Some(_), target) if unclear_offer || target == Target::Unclear => {
            // The newest reminder's (or offer's) patient gets the words; the phone is the same.
            let patients = sole_patient(store, org, reading.phone.as_ref(), &reading.asked).await?;
            let newest = reading
                .asked
                .first()
                .map_or_else(|| reading.offers[0].patient_id, |a| a.appointment.details.patient_id);
            Settlement {
                outcome: TextOutcome::Unclear,
                patient_id: patients,
                appointment_id: None,
                answer: None,
                reply: Some(ack(patients.unwrap_or(newest), UNCLEAR_ACKNOWLEDGEMENT.into(), None)),
                task: Some(task(TaskKind::ReplyUnclear, patients)),
                revocation: false,
            }
        }
        _ => {
            let patients = sole_patient(store, org, reading.phone.as_ref(), &reading.asked).await?;
            Settlement {
                outcome: TextOutcome::ToRead,
                patient_id: patients,
                appointment_id: None,
                answer: None,
                reply: None,
                task: Some(task(TaskKind::ReplyToRead, patients)),
                revocation: reading.revocation,
            }
        }
    })
}

/// The one patient a number belongs to: the only one asked, else the only
/// one with that phone; `None` when several (or none) do.
async fn sole_patient(
    store: &Store,
    org: OrganizationId,
    phone: Option<&PhoneE164>,
    asked: &[rapport_domain::answer::Asked],
) -> Result<Option<PatientId>, StoreError> {
    let mut patients: Vec<PatientId> = asked.iter().map(|a| a.appointment.details.patient_id).collect();
    patients.sort();
    patients.dedup();
    if let (true, Some(phone)) = (patients.is_empty(), phone) {
        patients = store.patients_with_phone(org, phone).await?;
    }
    Ok(match patients.as_slice() {
        [only] => Some(*only),
        _ => None,
    })
}

/// Records a keyword text (STOP, START, HELP) as settled, in its
/// conversation and the patient's timeline; the conversation it joined
/// when this call settled it.
pub async fn keep_keyword(
    store: &Store,
    org: OrganizationId,
    text: &InboundText,
) -> Result<Option<ConversationId>, StoreError> {
    let received = store.receive_text(org, text).await?;
    if received.outcome.is_some() {
        return Ok(None);
    }
    let phone = PhoneE164::parse(&text.from).ok();
    let patient = sole_patient(store, org, phone.as_ref(), &[]).await?;
    let settlement = Settlement {
        outcome: TextOutcome::Keyword,
        patient_id: patient,
        appointment_id: None,
        answer: None,
        reply: None,
        task: None,
        revocation: false,
    };
    let settled = crate::answers::settle_text(store, org, &received, settlement).await?;
    Ok(Some(settled.conversation_id))
}
