//! A text from a patient, whole: the one call the inbound webhook and the
//! demo make. In order:
//!
//! 1. the compliance keyword, the carrier's reading first (Twilio's
//!    `OptOutType`), then ours (`rapport_domain::keywords`);
//! 2. an opt-out suppresses the number for the sender and revokes texts in
//!    the ledger of every patient with it; START (or YES from a suppressed
//!    number) lifts it;
//! 3. a keyword is kept as settled; any other text is kept and read as an
//!    answer (`replies::take_text`);
//! 4. its conversation hears of it (the inbox event);
//! 5. the one answer the webhook may give back: a keyword's (only when the
//!    deployment answers keywords, and an opt-out's the first time only), or
//!    the after-hours note for a text staff must read while every location
//!    is closed (once per closed stretch).
//!
//! A text delivered twice (same provider id) is taken once.

use rapport_domain::ConsentStatus::{Granted, Revoked};
use rapport_domain::keywords::{self, Keyword};
use rapport_domain::{ConversationId, OrganizationId, Purpose};
use rapport_store::{InboundText, InboxEvent, InboxEventKind, Store, StoreError, TextOutcome};

use crate::keyword_replies::{after_hours_reply, keyword_reply};
use crate::replies;

/// A text as the provider delivered it.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub text: InboundText,
    /// What the patient texted: the messaging service, else the number;
    /// the sender an opt-out applies to.
    pub sender: String,
    /// The carrier's own reading of a keyword, which comes before ours.
    pub carrier_keyword: Option<Keyword>,
}

/// What the deployment answers by itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct Answering {
    /// STOP, START and HELP (`[sms] answer_keywords`).
    pub keywords: bool,
    /// A text staff must read while every location is closed (`[sms] after_hours_reply`).
    pub after_hours: bool,
}

/// What became of a text.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// The conversation it joined, when this call settled it.
    pub conversation_id: Option<ConversationId>,
    /// Set when this call settled it (not a repeat).
    pub outcome: Option<TextOutcome>,
    /// The words to send back in the webhook's own answer, if any.
    pub reply: Option<String>,
}

/// Takes one text: keywords, the ledger, the answer, the conversation, the
/// event, and the webhook's answer.
pub async fn receive(
    store: &Store,
    org: OrganizationId,
    incoming: &Incoming,
    answering: Answering,
) -> Result<Received, StoreError> {
    let text = &incoming.text;
    let keyword = incoming.carrier_keyword.or_else(|| keywords::keyword(&text.body));
    let (conversation_id, outcome, answered_keyword) = match keyword {
        Some(keyword @ (Keyword::OptOut | Keyword::OptIn | Keyword::Help)) => {
            let first_time = heed_keyword(store, org, incoming, keyword).await?;
            let kept = replies::keep_keyword(store, org, text).await?;
            (kept, kept.map(|_| TextOutcome::Keyword), kept.is_some() && first_time)
        }
        Some(Keyword::Yes) | None => {
            // YES re-subscribes an opted-out number, and is read as an answer too.
            let resubscribed = keyword == Some(Keyword::Yes)
                && store.is_sms_suppressed(org, &incoming.sender, &text.from).await?
                && heed_keyword(store, org, incoming, Keyword::OptIn).await?;
            let words = store.reply_words(org).await?;
            let taken = replies::take_text(store, org, text, &words, store.clock().now()).await?;
            tracing::info!(organization = %org, "an inbound text was taken");
            (taken.conversation_id, taken.outcome, resubscribed && taken.outcome.is_some())
        }
    };
    if let Some(conversation_id) = conversation_id {
        store.publish(InboxEvent { organization_id: org, conversation_id, kind: InboxEventKind::Text }).await;
    }
    let reply = match keyword {
        Some(keyword) if answered_keyword && answering.keywords => {
            let spanish = text.body.trim().eq_ignore_ascii_case("ayuda");
            Some(keyword_reply(store, org, keyword, spanish).await?)
        }
        _ => after_hours(store, org, conversation_id, outcome, answering).await?,
    };
    Ok(Received { conversation_id, outcome, reply })
}

/// Heeds a keyword in the ledger and the sender's suppression list;
/// whether it changed anything the patient should hear of (an opt-out
/// answered the first time only; START and HELP always).
async fn heed_keyword(
    store: &Store,
    org: OrganizationId,
    incoming: &Incoming,
    keyword: Keyword,
) -> Result<bool, StoreError> {
    let (sender, from, sid) =
        (incoming.sender.as_str(), incoming.text.from.as_str(), incoming.text.provider_ref.as_str());
    match keyword {
        Keyword::OptOut => {
            let was_suppressed = store.is_sms_suppressed(org, sender, from).await?;
            // The number is suppressed for the sender and texts revoked for
            // every purpose in the ledger of every patient with it, together.
            let mut tx = store.begin().await?;
            store.suppress_sms_in(&mut tx, org, sender, from).await?;
            let patients = store.keyword_consents_in(&mut tx, org, from, Revoked, &Purpose::ALL, sid).await?;
            tx.commit().await?;
            tracing::info!(organization = %org, patients, "an opt-out suppressed a number and revoked its texts");
            Ok(!was_suppressed)
        }
        Keyword::OptIn | Keyword::Yes => {
            // Texts about care are granted again; marketing and research
            // wait until the patient consents to them again.
            let mut tx = store.begin().await?;
            store.lift_sms_suppression_in(&mut tx, org, sender, from).await?;
            let care = [Purpose::Transactional];
            let patients = store.keyword_consents_in(&mut tx, org, from, Granted, &care, sid).await?;
            tx.commit().await?;
            tracing::info!(organization = %org, patients, "an opt-in lifted a suppression and granted texts again");
            Ok(true)
        }
        Keyword::Help => Ok(true),
    }
}

/// The after-hours note, when the text waits for staff and nobody is there.
async fn after_hours(
    store: &Store,
    org: OrganizationId,
    conversation_id: Option<ConversationId>,
    outcome: Option<TextOutcome>,
    answering: Answering,
) -> Result<Option<String>, StoreError> {
    let Some(id) = conversation_id else { return Ok(None) };
    if !answering.after_hours || outcome != Some(TextOutcome::ToRead) || !store.claim_after_hours_reply(org, id).await?
    {
        return Ok(None);
    }
    after_hours_reply(store, org).await.map(Some)
}
