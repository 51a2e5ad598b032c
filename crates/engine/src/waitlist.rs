//! A YES to a waitlist offer: the freed slot booked for the patient who
//! wrote, or "gone" when someone was first, the offer closed, or staff
//! booked the provider meanwhile. Everything it causes commits together,
//! under the offer's row lock: the booking, the entry and the offer, the
//! text settled, its acknowledgement, the conversation. Offering the slot
//! and its rounds stay in the store's waitlist (`open_offer_in`,
//! `close_rounds`): pure queue work.

use rapport_domain::message::template::{ShippedKind, TemplateKind};
use rapport_domain::{
    Appointment, AppointmentDetails, AppointmentStatus, ConversationId, InboundTextId, MessagePlan, OrganizationId,
};
use rapport_store::{Joining, LockedOffer, OfferOutcome, OfferSent, OfferTaken, Store, StoreError, TextOutcome, Tx};

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
