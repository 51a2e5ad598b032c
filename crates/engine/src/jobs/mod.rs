//! Durable jobs: work that must happen once and survive a crash (sending a
//! message, syncing a record). The store holds the queue (`store/jobs.rs`);
//! here are the retry policy and the worker that leases a batch, runs each
//! job outside any transaction, and records the outcome.

pub mod retry;

use std::future::Future;

use jiff::SignedDuration;

pub use retry::RetryPolicy;

use rapport_store::{Job, JobResult, JobState, Store, StoreError};

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

impl JobFailure {
    /// What to record for a run that ended so, on its `attempts`-th try.
    pub fn result(self, attempts: i64, now: jiff::Timestamp, retry: &RetryPolicy) -> JobResult {
        let backoff = || {
            let unit = f64::from(crate::auth::secret::random_bytes::<1>()[0]) / 256.0;
            now + retry.delay(attempts, unit)
        };
        match self {
            JobFailure::Retry(error) => JobResult::Retry { error, at: backoff() },
            JobFailure::RetryNotBefore(error, not_before) => JobResult::Retry { error, at: backoff().max(not_before) },
            JobFailure::Permanent(error) => JobResult::Dead { error },
            JobFailure::Later(until) => JobResult::Later { until },
        }
    }
}

impl BatchReport {
    /// Counts one recorded result (`recorded`: the job's state now, `None` if the lease was lost).
    pub fn count(&mut self, result: &JobResult, recorded: Option<JobState>) {
        match (result, recorded) {
            (_, None | Some(JobState::Running)) => self.lease_lost += 1,
            (JobResult::Later { .. }, Some(_)) => self.deferred += 1,
            (_, Some(JobState::Done)) => self.done += 1,
            (_, Some(JobState::Queued)) => self.retried += 1,
            (_, Some(JobState::Dead)) => self.dead += 1,
        }
    }
}

/// Leases one batch of due jobs and runs them, one after another; their
/// outcomes are recorded together at the end.
pub async fn work_batch<H: JobHandler>(
    store: &Store,
    handler: &H,
    settings: &WorkerSettings,
) -> Result<BatchReport, StoreError> {
    let jobs = store.lease_jobs(&settings.owner, handler.kind(), settings.batch, settings.lease_for).await?;
    let mut results = Vec::with_capacity(jobs.len());
    for job in &jobs {
        let result = match handler.run(job).await {
            Ok(()) => JobResult::Done,
            Err(failure) => failure.result(job.attempts, store.clock().now(), &settings.retry),
        };
        results.push((job.id, result));
    }
    let recorded = store.finish_jobs(&settings.owner, &results).await?;
    let mut report = BatchReport::default();
    for ((_, result), state) in results.iter().zip(recorded) {
        report.count(result, state);
    }
    Ok(report)
}
