//! The engine: what Rapport does on its own, between requests: the message
//! dispatcher (`dispatch`, deciding with `decide`), which hands messages to
//! the channels' providers (`crate::channels`), and the reminder planner
//! (`reminders`), which keeps each visit's reminders in line with it. The
//! server runs both beside HTTP, in one loop, with the EHR write-back
//! (`rapport_interop::ehr::write_back`) and the MMS media fetcher (`media_fetch`)
//! when configured, and the pruner of done jobs (`job_pruner`). `replies` reads a patient's
//! text and `keyword_replies` answers STOP, START and HELP (both called by
//! the inbound webhook).

pub mod answers;
pub mod auth;
pub mod channel_store;
pub mod channels;
pub mod decide;
pub mod dispatch;
pub mod inbound;
pub mod job_pruner;
pub mod jobs;
pub mod keyword_replies;
pub mod links;
pub mod media_fetch;
pub mod recall;
pub mod reminder_sync;
pub mod reminders;
pub mod replies;
pub mod tls;
pub mod waitlist;

use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::watch;

use crate::jobs::{BatchReport, WorkerSettings};
use rapport_store::StoreError;

/// A worker the loop runs a batch of at a time beside the planner and the
/// dispatcher, when configured: the EHR write-back (`rapport-interop`) and
/// the media fetcher. Its batch reports what it did, as theirs do.
pub trait SideWorker: Send + Sync {
    /// What it is called in a log line when its batch cannot reach the database.
    fn name(&self) -> &'static str;
    fn batch<'a>(&'a self, worker: &'a WorkerSettings) -> BoxFuture<'a, Result<BatchReport, StoreError>>;
}

/// What the loop runs besides the planner and the dispatcher, in order.
#[derive(Default)]
pub struct SideWork {
    pub workers: Vec<Box<dyn SideWorker>>,
}

/// Runs the reminder planner, the message dispatcher and, when configured,
/// the EHR write-back and the media fetcher until `stop` turns true: a
/// batch of each at a time, resting a second whenever none had anything to do.
pub async fn run_dispatcher(
    sender: dispatch::MessageSender,
    planner: reminders::ReminderPlanner,
    side: SideWork,
    settings: WorkerSettings,
    mut stop: watch::Receiver<bool>,
) {
    // Whether a batch had nothing to do (a failure counts as idle: rest, then retry).
    fn idle(result: Result<BatchReport, StoreError>, what: &str) -> bool {
        match result {
            Ok(report) => report == BatchReport::default(),
            Err(error) => {
                tracing::error!(%error, "the {what} could not reach the database");
                true
            }
        }
    }
    while !*stop.borrow() {
        let planned = idle(planner.plan_batch(&settings).await, "reminder planner");
        let dispatched = idle(sender.dispatch_batch(&settings).await, "message dispatcher");
        let mut rested = planned && dispatched;
        for worker in &side.workers {
            rested &= idle(worker.batch(&settings).await, worker.name());
        }
        if rested {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.changed() => {}
            }
        }
    }
}
