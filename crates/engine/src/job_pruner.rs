//! Keeps the job queue in order, at most once a minute while there is
//! nothing left to do: jobs whose worker died holding them on every attempt
//! go dead (the lease never takes them again), and done jobs are deleted
//! once they are older than the keeping time (`[dispatcher]
//! keep_done_jobs_days`), a bounded batch at a time. Dead jobs stay: they
//! are evidence, and the guard that keeps a write-back or a media fetch
//! from being queued again.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use jiff::SignedDuration;
use rapport_store::{Store, StoreError};

use crate::SideWorker;
use crate::jobs::{BatchReport, WorkerSettings};

/// How many done jobs one batch deletes.
const BATCH: usize = 1_000;
/// How long the pruner rests after a batch that left nothing to delete.
const REST: Duration = Duration::from_secs(60);

/// The queue's keeper: sweeps exhausted leases, prunes done jobs.
pub struct JobPruner {
    store: Store,
    keep: SignedDuration,
    /// When the pruner may look again (after a batch that emptied its backlog).
    next: Mutex<Option<Instant>>,
}

impl JobPruner {
    pub fn new(store: Store, keep: SignedDuration) -> Self {
        Self { store, keep, next: Mutex::new(None) }
    }

    async fn prune(&self) -> Result<BatchReport, StoreError> {
        let now = Instant::now();
        let resting = self.next.lock().map(|next| next.is_some_and(|at| now < at)).unwrap_or(false);
        if resting {
            return Ok(BatchReport::default());
        }
        let died = self.store.sweep_exhausted_leases().await? as usize;
        let before = self.store.clock().now() - self.keep;
        let deleted = self.store.prune_done_jobs(before, BATCH).await? as usize;
        if deleted < BATCH
            && let Ok(mut next) = self.next.lock()
        {
            *next = Some(now + REST);
        }
        Ok(BatchReport { done: deleted, dead: died, ..BatchReport::default() })
    }
}

impl SideWorker for JobPruner {
    fn name(&self) -> &'static str {
        "job pruner"
    }

    fn batch<'a>(&'a self, _worker: &'a WorkerSettings) -> BoxFuture<'a, Result<BatchReport, StoreError>> {
        Box::pin(self.prune())
    }
}
