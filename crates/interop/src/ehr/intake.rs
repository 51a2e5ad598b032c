//! One HL7 v2 message in: kept in the integration log (committed) before
//! it is applied, then settled with what became of it, then acknowledged.
//! A control id seen before is acknowledged as it was and not applied
//! again, unless it failed (AE: Rapport could not place it then), which a
//! sender's retry applies anew. Staff replay a failed or held message once
//! the cause is fixed (a code mapped); an applied one never runs twice.

use rapport_domain::{Hl7MessageId, OrganizationId};
use rapport_hl7::segments::Msh;
use rapport_hl7::{Message, Severity, parse};

use super::ack::{AckCode, ack};
use super::apply::{Applied, apply};
use rapport_store::{Hl7Entry, Hl7Status, Store, StoreError};

/// Keeps, applies and acknowledges one message; returns the ACK's text.
pub async fn receive(store: &Store, org: OrganizationId, bytes: &[u8]) -> String {
    let now = store.clock().now();
    let parsed = parse(bytes);
    let Some(message) = parsed.message.as_ref() else {
        let reason = parsed.diagnostics.iter().find(|d| d.severity == Severity::Error).map(|d| d.message.as_str());
        return ack(None, AckCode::Rejected, reason.or(Some("not an HL7 v2 message")), now);
    };
    let Some(msh) = Msh::of(message).filter(|m| !m.control_id().is_empty()) else {
        return ack(Some(message), AckCode::Rejected, Some("MSH-10 (the control id) is empty"), now);
    };
    let sender = format!("{}^{}", msh.sending_application(), msh.sending_facility());
    let kind = kind_of(&msh);
    let raw = rapport_hl7::encode(message);
    let (entry, new) = match store.receive_hl7(org, &sender, msh.control_id(), &kind, &raw).await {
        Ok(kept) => kept,
        Err(error) => {
            tracing::error!(%error, "an HL7 message could not be kept: refused with AE");
            return ack(Some(message), AckCode::Error, Some("the message could not be stored; send it again"), now);
        }
    };
    if !new && matches!(entry.status, Hl7Status::Applied | Hl7Status::Rejected) {
        let code = match entry.status {
            Hl7Status::Applied => AckCode::Accepted,
            _ => AckCode::Rejected,
        };
        tracing::info!(organization = %org, message_type = %kind, "an HL7 message sent again was acknowledged as before");
        return ack(Some(message), code, entry.reason.as_deref(), now);
    }
    let (code, reason) = apply_and_settle(store, org, entry.id, message).await;
    ack(Some(message), code, reason.as_deref(), now)
}

/// Why a replay did not run.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("the message was applied already; replaying it could undo what came after")]
    Applied,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Applies a kept message again (one that failed, was refused, or was
/// kept and never settled) and returns its entry as it now stands.
pub async fn replay(store: &Store, org: OrganizationId, id: Hl7MessageId) -> Result<Hl7Entry, ReplayError> {
    let (entry, raw) = store.hl7_message(org, id).await?;
    if entry.status == Hl7Status::Applied {
        return Err(ReplayError::Applied);
    }
    match parse(raw.as_bytes()).message {
        Some(message) => {
            apply_and_settle(store, org, id, &message).await;
        }
        None => store.settle_hl7(org, id, Hl7Status::Rejected, Some("not an HL7 v2 message"), None, None).await?,
    }
    Ok(store.hl7_message(org, id).await?.0)
}

fn kind_of(msh: &Msh<'_>) -> String {
    format!("{}^{}", msh.message_type(), msh.trigger_event())
}

/// Applies a kept message and records what became of it; the ACK's code
/// and reason.
async fn apply_and_settle(
    store: &Store,
    org: OrganizationId,
    id: Hl7MessageId,
    message: &Message,
) -> (AckCode, Option<String>) {
    let (status, code, reason, patient, visit) = match apply(store, org, message).await {
        Ok(Applied::Patient(patient)) => (Hl7Status::Applied, AckCode::Accepted, None, Some(patient), None),
        Ok(Applied::Visit { patient, visit }) => {
            (Hl7Status::Applied, AckCode::Accepted, None, Some(patient), Some(visit))
        }
        Ok(Applied::Deleted) => (Hl7Status::Applied, AckCode::Accepted, None, None, None),
        Err(refusal) if refusal.rejected => (Hl7Status::Rejected, AckCode::Rejected, Some(refusal.reason), None, None),
        Err(refusal) => (Hl7Status::Failed, AckCode::Error, Some(refusal.reason), None, None),
    };
    if let Err(error) = store.settle_hl7(org, id, status, reason.as_deref(), patient, visit).await {
        tracing::error!(%error, "an applied HL7 message could not be marked");
    }
    let kind = Msh::of(message).map(|m| kind_of(&m)).unwrap_or_default();
    tracing::info!(organization = %org, message_type = %kind, outcome = status.as_str(), "an HL7 message was taken");
    (code, reason)
}
