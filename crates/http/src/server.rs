//! Running the server: bind, serve until told to stop, then drain.

use std::future::Future;

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::listener::{PeerAddr, TlsListener};
use crate::{AppState, HttpSettings, build_app};

/// Serves on `listener` (bound by the caller, so tests can use port 0),
/// over TLS when given an acceptor, until `shutdown` completes; in-flight
/// requests finish first.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    state: AppState,
    settings: HttpSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let settings = HttpSettings { hsts: tls.is_some(), ..settings };
    let app = build_app(state, &settings);
    // The peer's address feeds throttling and the audit trail.
    match tls {
        None => {
            axum::serve(listener, app.into_make_service_with_connect_info::<PeerAddr>())
                .with_graceful_shutdown(shutdown)
                .await
        }
        Some(acceptor) => {
            axum::serve(TlsListener::new(listener, acceptor)?, app.into_make_service_with_connect_info::<PeerAddr>())
                .with_graceful_shutdown(shutdown)
                .await
        }
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
