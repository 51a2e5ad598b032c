//! The waitlist at work. A cancelled visit's time is offered once
//! (`open_offer_in`, from the reminder sync); each round texts up to
//! `BATCH` waiting patients it suits, oldest entry first, one text per
//! patient, and closes after `ROUND` (`close_rounds`, from the planner),
//! when the next round goes out or, with nobody left or no time, the offer
//! closes. A YES (`take_offer`) books the freed slot for the patient who
//! wrote, or is told "gone" when someone was first, the offer closed, or
//! staff booked the provider meanwhile. Everything a YES causes commits
//! together, under the offer's row lock: the booking, the entry and the
//! offer, the text settled, its acknowledgement, the conversation.

use jiff::Timestamp;
use rapport_domain::message::pace::Priority;
use rapport_domain::message::template::{ShippedKind, TemplateKind};
use rapport_domain::waitlist::{BATCH, round_closes};
use rapport_domain::{
    Appointment, AppointmentDetails, AppointmentStatus, Channel, ConversationId, InboundTextId, MessageClass,
    MessagePlan, OrganizationId, SlotOfferId,
};
use rapport_store::{
    DueOffer, Joining, LockedOffer, OfferOutcome, OfferSent, OfferTaken, Store, StoreError, TextOutcome, Tx,
    WaitlistEntry,
};

/// Offers the time of `freed` (a cancelled visit still far enough ahead)
/// to the waitlist, within the reminder sync's transaction: once per
/// visit; the first round goes now.
pub async fn open_offer_in(
    store: &Store,
    tx: &mut Tx,
    org: OrganizationId,
    freed: &Appointment,
) -> Result<Option<SlotOfferId>, StoreError> {
    let now = store.clock().now();
    let Some(closes) = round_closes(freed.details.start, now) else { return Ok(None) };
    let Some(offer) = store.create_offer_in(tx, org, freed, closes).await? else { return Ok(None) };
    next_round_in(store, tx, org, offer, freed, now).await?;
    Ok(Some(offer))
}

/// Rounds whose time is up: the next batch, or the offer closes, each in
/// its own transaction. Returns how many offers moved.
pub async fn close_rounds(store: &Store) -> Result<usize, StoreError> {
    let mut moved = 0;
    for (offer, org) in store.due_rounds().await? {
        let mut tx = store.begin().await?;
        match store.lock_due_offer_in(&mut tx, offer).await? {
            DueOffer::Moved => continue,
            DueOffer::VisitGone => store.close_offer_in(&mut tx, offer).await?,
            DueOffer::Due(freed) => next_round_in(store, &mut tx, org, offer, &freed, store.clock().now()).await?,
        }
        tx.commit().await?;
        moved += 1;
    }
    Ok(moved)
}

/// Texts the next batch the slot suits, or closes the offer when nobody
/// is left or it is too late.
async fn next_round_in(
    store: &Store,
    tx: &mut Tx,
    org: OrganizationId,
    offer: SlotOfferId,
    freed: &Appointment,
    now: Timestamp,
) -> Result<(), StoreError> {
    let waiting = store.entries_not_offered_in(tx, org, offer, freed.details.patient_id).await?;
    let batch = round_batch(waiting, freed);
    let (Some(closes), false) = (round_closes(freed.details.start, now), batch.is_empty()) else {
        return store.close_offer_in(tx, offer).await;
    };
    let round = store.next_round_number_in(tx, org, offer, closes).await?;
    for entry in batch {
        let plan = offer_text(offer, &entry, freed, now, closes);
        store.plan_in(tx, org, &plan, true).await?;
        store.add_recipient_in(tx, org, offer, &entry, round, &plan.idempotency_key).await?;
    }
    Ok(())
}

/// Up to `BATCH` of the waiting entries (oldest first) whose wishes the
/// slot suits, one per patient whatever their entries.
fn round_batch(waiting: Vec<WaitlistEntry>, freed: &Appointment) -> Vec<WaitlistEntry> {
    let mut batch: Vec<WaitlistEntry> = Vec::new();
    for entry in waiting {
        if entry.criteria.suits(freed) && !batch.iter().any(|b| b.patient_id == entry.patient_id) {
            batch.push(entry);
        }
        if batch.len() == BATCH {
            break;
        }
    }
    batch
}

/// The offer's text to one entry: the freed visit's time, place and
/// provider, by SMS, valid until the round closes.
fn offer_text(
    offer: SlotOfferId,
    entry: &WaitlistEntry,
    freed: &Appointment,
    now: Timestamp,
    closes: Timestamp,
) -> MessagePlan {
    MessagePlan {
        patient_id: entry.patient_id,
        class: MessageClass::Transactional,
        idempotency_key: format!("offer:{offer}:{}", entry.id),
        subject: None,
        body: String::new(),
        template: Some(ShippedKind::WaitlistOffer.into()),
        appointment_id: Some(freed.id),
        priority: Priority::Timely,
        media: Vec::new(),
        channel: Some(Channel::Sms),
        to: None,
        due_at: now,
        expires_at: Some(closes),
    }
}

/// Takes the offer `sent` for the patient whose text `text` came from
/// `from`; what it did, and the conversation the text joined.
pub async fn take_offer(
    store: &Store,
    org: OrganizationId,
    sent: &OfferSent,
    text: InboundTextId,
    from: &str,
) -> Result<(OfferTaken, ConversationId), StoreError> {
    let now = store.clock().now();
    let mut tx = store.begin().await?;
    let offer = store.lock_offer_in(&mut tx, org, sent.offer_id).await?;
    let open = offer.state == "open" && offer.start_at > now;
    let taken = match free_slot(store, &mut tx, org, offer, open).await? {
        Some(freed) => {
            let details = booking_for(sent, &freed);
            let visit = store.book_offer_in(&mut tx, org, sent, &details, &freed.time_zone).await?;
            OfferTaken::Booked(Box::new(visit))
        }
        None => {
            if open {
                // The provider was booked meanwhile: nobody can take it.
                store.close_offer_in(&mut tx, sent.offer_id).await?;
            }
            OfferTaken::Gone
        }
    };
    let (outcome, ack, visit) = match &taken {
        OfferTaken::Booked(visit) => (OfferOutcome::Taken, ShippedKind::WaitlistTaken, Some(visit.id)),
        OfferTaken::Gone => (OfferOutcome::TooLate, ShippedKind::WaitlistGone, None),
    };
    store.record_offer_outcome_in(&mut tx, sent, outcome).await?;
    let reply = MessagePlan::acknowledgement(text, sent.patient_id, from, TemplateKind::from(ack), visit, now);
    store.plan_in(&mut tx, org, &reply, false).await?;
    store.settle_text_in(&mut tx, org, text, TextOutcome::Answered, Some(sent.patient_id), visit).await?;
    let joining = Joining { text, from, patient: Some(sent.patient_id), opens: false, revocation: false };
    let conversation = store.join_conversation_in(&mut tx, org, joining).await?;
    tx.commit().await?;
    if matches!(taken, OfferTaken::Booked(_)) {
        store.cancel_offer_messages(org, sent.offer_id).await?;
    }
    Ok((taken, conversation))
}

/// The freed visit, when its time can still be taken: the offer open and
/// ahead, and no live visit of its provider overlapping it.
async fn free_slot(
    store: &Store,
    tx: &mut Tx,
    org: OrganizationId,
    offer: LockedOffer,
    open: bool,
) -> Result<Option<Appointment>, StoreError> {
    match (offer.freed, open) {
        (Some(freed), true) if !store.slot_taken_in(tx, org, &freed).await? => Ok(Some(freed)),
        _ => Ok(None),
    }
}

/// The new visit: the freed one's time, place, provider and type, booked
/// for the patient who took it, with no source system of its own.
fn booking_for(sent: &OfferSent, freed: &Appointment) -> AppointmentDetails {
    AppointmentDetails {
        patient_id: sent.patient_id,
        status: AppointmentStatus::Booked,
        source: None,
        ..freed.details.clone()
    }
}
