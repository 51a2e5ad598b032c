//! The MLLP listener (`rapport serve --mllp-listen ADDR`): per connection,
//! messages in order; each is kept in the integration log (committed)
//! before it is applied and acknowledged; a control id seen before is
//! acknowledged as it was, not applied again. Limits: a message's size
//! (larger ones get an AR and are skipped) and a connection's idle time.

use std::time::Duration;

use rapport_domain::OrganizationId;
use rapport_hl7::mllp::{Decoder, Frame, frame};
use rapport_hl7::segments::Msh;
use rapport_hl7::{Severity, parse};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::ack::{AckCode, ack};
use super::apply::{Applied, apply};
use crate::store::{Hl7Status, Store};

#[derive(Debug, Clone, Copy)]
pub struct MllpSettings {
    pub max_message_bytes: usize,
    /// A connection silent this long is closed.
    pub idle: Duration,
}

impl Default for MllpSettings {
    fn default() -> Self {
        Self { max_message_bytes: 1024 * 1024, idle: Duration::from_secs(300) }
    }
}

/// Accepts connections until `stop` turns true.
pub async fn serve(
    listener: TcpListener,
    store: Store,
    org: OrganizationId,
    settings: MllpSettings,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let store = store.clone();
                    tokio::spawn(async move { connection(stream, &store, org, settings).await });
                }
                Err(error) => tracing::warn!(%error, "the MLLP listener could not accept a connection"),
            },
            _ = stop.changed() => return,
        }
    }
}

async fn connection(mut stream: TcpStream, store: &Store, org: OrganizationId, settings: MllpSettings) {
    let mut decoder = Decoder::new(settings.max_message_bytes);
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = match tokio::time::timeout(settings.idle, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Err(_) => return,
            Ok(Ok(n)) => n,
            Ok(Err(error)) => {
                tracing::debug!(%error, "an MLLP connection broke off");
                return;
            }
        };
        decoder.push(&buffer[..read]);
        while let Some(next) = decoder.next_frame() {
            let answer = match next {
                Frame::Message(bytes) => receive(store, org, &bytes).await,
                Frame::TooLarge => {
                    let reason = format!("the message is over {} bytes", settings.max_message_bytes);
                    ack(None, AckCode::Rejected, Some(&reason), store.clock().now())
                }
                Frame::Garbage(_) => continue,
            };
            if stream.write_all(&frame(answer.as_bytes())).await.is_err() {
                return;
            }
        }
    }
}

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
    let kind = format!("{}^{}", msh.message_type(), msh.trigger_event());
    let raw = rapport_hl7::encode(message);
    let (entry, new) = match store.receive_hl7(org, &sender, msh.control_id(), &kind, &raw).await {
        Ok(kept) => kept,
        Err(error) => {
            tracing::error!(%error, "an HL7 message could not be kept: refused with AE");
            return ack(Some(message), AckCode::Error, Some("the message could not be stored; send it again"), now);
        }
    };
    if !new && entry.status != Hl7Status::Received {
        let code = match entry.status {
            Hl7Status::Applied => AckCode::Accepted,
            Hl7Status::Rejected => AckCode::Rejected,
            _ => AckCode::Error,
        };
        tracing::info!(organization = %org, message_type = %kind, "an HL7 message sent again was acknowledged as before");
        return ack(Some(message), code, entry.reason.as_deref(), now);
    }
    let (status, code, reason, patient, visit) = match apply(store, org, message).await {
        Ok(Applied::Patient(patient)) => (Hl7Status::Applied, AckCode::Accepted, None, Some(patient), None),
        Ok(Applied::Visit { patient, visit }) => {
            (Hl7Status::Applied, AckCode::Accepted, None, Some(patient), Some(visit))
        }
        Ok(Applied::Deleted) => (Hl7Status::Applied, AckCode::Accepted, None, None, None),
        Err(refusal) if refusal.rejected => (Hl7Status::Rejected, AckCode::Rejected, Some(refusal.reason), None, None),
        Err(refusal) => (Hl7Status::Failed, AckCode::Error, Some(refusal.reason), None, None),
    };
    if let Err(error) = store.settle_hl7(org, &entry.id, status, reason.as_deref(), patient, visit).await {
        tracing::error!(%error, "an applied HL7 message could not be marked");
    }
    tracing::info!(organization = %org, message_type = %kind, outcome = status.as_str(), "an HL7 message was taken");
    ack(Some(message), code, reason.as_deref(), now)
}
