//! The engine: what Rapport does on its own, between requests: the message
//! dispatcher (`dispatch`, deciding with `decide`), which hands messages to
//! the channels' providers (`crate::channels`), and the reminder planner
//! (`reminders`), which keeps each visit's reminders in line with it. The
//! server runs both beside HTTP, in one loop, with the EHR write-back
//! (`crate::ehr::write_back`) and the MMS media fetcher (`media_fetch`)
//! when configured. `replies` reads a patient's
//! text and `keyword_replies` answers STOP, START and HELP (both called by
//! the inbound webhook).

pub mod decide;
pub mod dispatch;
pub mod keyword_replies;
pub mod media_fetch;
pub mod reminders;
pub mod replies;

use std::time::Duration;

use tokio::sync::watch;

use crate::jobs::{BatchReport, WorkerSettings};
use crate::store::StoreError;

/// What the loop runs besides the planner and the dispatcher, when configured.
#[derive(Default)]
pub struct SideWork {
    pub write_backs: Option<crate::ehr::write_back::WriteBacks>,
    pub media: Option<media_fetch::MediaFetcher>,
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
        let written = match &side.write_backs {
            Some(write_backs) => idle(write_backs.batch(&settings).await, "EHR write-back"),
            None => true,
        };
        let fetched = match &side.media {
            Some(media) => idle(media.batch(&settings).await, "media fetcher"),
            None => true,
        };
        if planned && dispatched && written && fetched {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.changed() => {}
            }
        }
    }
}
