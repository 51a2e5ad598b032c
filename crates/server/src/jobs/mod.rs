//! Durable jobs: work that must happen once and survive a crash (sending a
//! message, syncing a record). The store holds the queue (`store/jobs.rs`);
//! here are the retry policy and the worker that leases a batch, runs each
//! job outside any transaction, and records the outcome.

pub mod retry;

use std::future::Future;

use jiff::SignedDuration;

pub use retry::RetryPolicy;

use crate::store::{Job, JobState, Store, StoreError};

/// How one run of a job ended, when it did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobFailure {
    /// Worth another attempt later (a timeout, a 5xx).
    Retry(String),
    /// Worth another attempt, not before this moment (a 429 with `Retry-After`).
    RetryNotBefore(String, jiff::Timestamp),
    /// Will never succeed (bad payload, a permanent refusal): dead at once.
    Permanent(String),
    /// Not a failure: the job may not run before this moment (the patient's
    /// quiet hours, a frequency cap). Costs no attempt.
    Later(jiff::Timestamp),
}

/// Runs the jobs of one kind.
pub trait JobHandler: Send + Sync {
    fn kind(&self) -> &'static str;
    fn run(&self, job: &Job) -> impl Future<Output = Result<(), JobFailure>> + Send;
}

/// How a worker takes its work.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// The worker's name in leases (unique per process and worker).
    pub owner: String,
    pub batch: usize,
    /// Longer than a job can take: a lease that expires makes the job run again.
    pub lease_for: SignedDuration,
    pub retry: RetryPolicy,
}

/// What one batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReport {
    pub done: usize,
    pub retried: usize,
    pub dead: usize,
    /// Put back to wait for their moment.
    pub deferred: usize,
    /// Finished after the lease had passed to another worker: the outcome is not recorded here.
    pub lease_lost: usize,
}

/// Leases one batch of due jobs and runs them, one after another.
pub async fn work_batch<H: JobHandler>(
    store: &Store,
    handler: &H,
    settings: &WorkerSettings,
) -> Result<BatchReport, StoreError> {
    let jobs = store.lease_jobs(&settings.owner, handler.kind(), settings.batch, settings.lease_for).await?;
    let mut report = BatchReport::default();
    for job in jobs {
        let outcome = handler.run(&job).await;
        let now = store.clock().now();
        let recorded = match outcome {
            Ok(()) => store.complete_job(job.id, &settings.owner).await?.then_some(JobState::Done),
            Err(JobFailure::Retry(error)) => {
                let unit = f64::from(crate::auth::secret::random_bytes::<1>()[0]) / 256.0;
                let retry_at = now + settings.retry.delay(job.attempts, unit);
                store.fail_job(job.id, &settings.owner, &error, retry_at).await?
            }
            Err(JobFailure::RetryNotBefore(error, not_before)) => {
                let unit = f64::from(crate::auth::secret::random_bytes::<1>()[0]) / 256.0;
                let retry_at = (now + settings.retry.delay(job.attempts, unit)).max(not_before);
                store.fail_job(job.id, &settings.owner, &error, retry_at).await?
            }
            Err(JobFailure::Permanent(error)) => store.fail_job_permanently(job.id, &settings.owner, &error).await?,
            Err(JobFailure::Later(until)) => {
                if store.defer_job(job.id, &settings.owner, until).await? {
                    report.deferred += 1;
                } else {
                    report.lease_lost += 1;
                }
                continue;
            }
        };
        match recorded {
            Some(JobState::Done) => report.done += 1,
            Some(JobState::Queued) => report.retried += 1,
            Some(JobState::Dead) => report.dead += 1,
            Some(JobState::Running) | None => report.lease_lost += 1,
        }
    }
    Ok(report)
}
