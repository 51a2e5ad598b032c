//! The engine: what Rapport does on its own, between requests: the message
//! dispatcher (`dispatch`, deciding with `decide`), which hands messages to
//! the channels' providers (`crate::channels`), and the reminder planner
//! (`reminders`), which keeps each visit's reminders in line with it. The
//! server runs both beside HTTP, in one loop, with the EHR write-back
//! (`crate::ehr::write_back`) when one is configured. `replies` reads a patient's
//! text and `keyword_replies` answers STOP, START and HELP (both called by
//! the inbound webhook).

pub mod decide;
pub mod dispatch;
pub mod keyword_replies;
pub mod reminders;
pub mod replies;

use std::time::Duration;

use tokio::sync::watch;

use crate::jobs::WorkerSettings;

/// Runs the reminder planner, the message dispatcher and, when configured,
/// the EHR write-back until `stop` turns true: a batch of each at a time,
/// resting a second whenever none had anything to do.
pub async fn run_dispatcher(
    sender: dispatch::MessageSender,
    planner: reminders::ReminderPlanner,
    write_backs: Option<crate::ehr::write_back::WriteBacks>,
    settings: WorkerSettings,
    mut stop: watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        let planned = match planner.plan_batch(&settings).await {
            Ok(report) => report == Default::default(),
            Err(error) => {
                tracing::error!(%error, "the reminder planner could not reach the database");
                true
            }
        };
        let dispatched = match sender.dispatch_batch(&settings).await {
            Ok(report) => report == Default::default(),
            Err(error) => {
                tracing::error!(%error, "the message dispatcher could not reach the database");
                true
            }
        };
        let written = match &write_backs {
            Some(write_backs) => match write_backs.batch(&settings).await {
                Ok(report) => report == Default::default(),
                Err(error) => {
                    tracing::error!(%error, "the EHR write-back could not reach the database");
                    true
                }
            },
            None => true,
        };
        let idle = planned && dispatched && written;
        if idle {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.changed() => {}
            }
        }
    }
}
