//! The engine: what Rapport does on its own, between requests. For now the
//! message dispatcher (`dispatch`, deciding with `decide`), which the server
//! runs beside HTTP and which hands messages to the channels' providers
//! (`crate::channels`).

pub mod decide;
pub mod dispatch;

use std::time::Duration;

use tokio::sync::watch;

use crate::jobs::WorkerSettings;

/// Runs the message dispatcher until `stop` turns true: a batch at a time,
/// resting a second whenever there was nothing to do.
pub async fn run_dispatcher(
    sender: dispatch::MessageSender,
    settings: WorkerSettings,
    mut stop: watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        let idle = match sender.dispatch_batch(&settings).await {
            Ok(report) => report == Default::default(),
            Err(error) => {
                tracing::error!(%error, "the message dispatcher could not reach the database");
                true
            }
        };
        if idle {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.changed() => {}
            }
        }
    }
}
