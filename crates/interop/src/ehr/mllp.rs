//! The MLLP listener (`rapport serve --mllp-listen ADDR`): per connection,
//! messages in order, each taken by `intake::receive` before the next is
//! read. Limits: a message's size
//! (larger ones get an AR and are skipped) and a connection's idle time.
//! With TLS (`serve_tls`, `serve --mllp-tls`), each connection completes its
//! handshake (within the idle limit) before any message is read.

use std::time::Duration;

use rapport_domain::OrganizationId;
use rapport_hl7::mllp::{Decoder, Frame, frame};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::ack::{AckCode, ack};
use super::intake::receive;
use rapport_store::Store;

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
    stop: watch::Receiver<bool>,
) {
    accept(listener, None, store, org, settings, stop).await;
}

/// [`serve`] with each connection over TLS.
pub async fn serve_tls(
    listener: TcpListener,
    tls: TlsAcceptor,
    store: Store,
    org: OrganizationId,
    settings: MllpSettings,
    stop: watch::Receiver<bool>,
) {
    accept(listener, Some(tls), store, org, settings, stop).await;
}

async fn accept(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    store: Store,
    org: OrganizationId,
    settings: MllpSettings,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let (store, tls) = (store.clone(), tls.clone());
                    tokio::spawn(async move {
                        match tls {
                            None => connection(stream, &store, org, settings).await,
                            Some(tls) => match tokio::time::timeout(settings.idle, tls.accept(stream)).await {
                                Ok(Ok(secured)) => connection(secured, &store, org, settings).await,
                                Ok(Err(error)) => tracing::debug!(%error, "an MLLP TLS handshake failed"),
                                Err(_) => tracing::debug!("an MLLP TLS handshake did not finish in time"),
                            },
                        }
                    });
                }
                Err(error) => tracing::warn!(%error, "the MLLP listener could not accept a connection"),
            },
            _ = stop.changed() => return,
        }
    }
}

async fn connection<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    store: &Store,
    org: OrganizationId,
    settings: MllpSettings,
) {
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
