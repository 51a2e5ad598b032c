//! The reminder planner: runs the sync jobs that every appointment write
//! enqueues (`reminder_sync.rs`), with the standard schedule (3 days and
//! 1 day before; a confirmation when booked inside that time); and, every
//! few minutes, the recall scan (`store/recalls.rs`), which plans nothing
//! twice however many processes run it; and the waitlist offers' rounds
//! whose time is up (`store/waitlist.rs`).

use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};
use rapport_domain::reminder::ReminderSchedule;
use rapport_domain::{AppointmentId, JobId, OrganizationId};

use crate::jobs::{BatchReport, JobFailure, WorkerSettings};
use crate::recall::{RecallScan, scan_recalls};
use crate::reminder_sync::sync_visits;
use rapport_store::{Job, JobKind, JobResult, JobWork, Store, StoreError};

/// How often a process scans for patients due a recall.
const RECALL_EVERY: SignedDuration = SignedDuration::from_mins(10);

pub struct ReminderPlanner {
    store: Store,
    schedule: ReminderSchedule,
    last_recall_scan: Mutex<Option<Timestamp>>,
}

impl ReminderPlanner {
    pub fn new(store: Store) -> Self {
        Self { store, schedule: ReminderSchedule::standard(), last_recall_scan: Mutex::new(None) }
    }

    /// Leases one batch of sync jobs and runs them together in one
    /// transaction (one commit for the batch, not one per message); if
    /// that fails, each runs on its own, so one bad visit holds up no
    /// other. Then the recall scan when due, and the waitlist rounds.
    pub async fn plan_batch(&self, worker: &WorkerSettings) -> Result<BatchReport, StoreError> {
        let jobs = self
            .store
            .lease_jobs(&worker.owner, JobKind::ReminderSync.as_str(), worker.batch, worker.lease_for)
            .await?;
        let mut results: Vec<(JobId, JobResult)> = Vec::with_capacity(jobs.len());
        let mut visits = Vec::with_capacity(jobs.len());
        for job in &jobs {
            match visit_of(job) {
                Ok(visit) => visits.push((job, visit)),
                Err(failure) => {
                    results.push((job.id, failure.result(job.attempts, self.store.clock().now(), &worker.retry)))
                }
            }
        }
        let together: Vec<(OrganizationId, AppointmentId)> = visits.iter().map(|(_, v)| *v).collect();
        match sync_visits(&self.store, &together, &self.schedule).await {
            Ok(_) => results.extend(visits.iter().map(|(job, _)| (job.id, JobResult::Done))),
            Err(error) => {
                tracing::warn!(%error, jobs = visits.len(), "a batch of reminder syncs failed; running them one by one");
                for (job, (org, id)) in &visits {
                    let result = match sync_visits(&self.store, &[(*org, *id)], &self.schedule).await {
                        Ok(_) => JobResult::Done,
                        Err(e) => JobFailure::Retry(e.to_string()).result(
                            job.attempts,
                            self.store.clock().now(),
                            &worker.retry,
                        ),
                    };
                    results.push((job.id, result));
                }
            }
        }
        let recorded = self.store.finish_jobs(&worker.owner, &results).await?;
        let mut report = BatchReport::default();
        for ((_, result), state) in results.iter().zip(recorded) {
            report.count(result, state);
        }
        self.scan_recalls_if_due().await?;
        crate::waitlist::close_rounds(&self.store).await?;
        Ok(report)
    }

    /// The recall scan, at most every ten minutes (by the store's clock).
    pub async fn scan_recalls_if_due(&self) -> Result<Option<RecallScan>, StoreError> {
        let now = self.store.clock().now();
        let due = {
            let mut last = self.last_recall_scan.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let due = last.is_none_or(|at| now.duration_since(at) >= RECALL_EVERY);
            if due {
                *last = Some(now);
            }
            due
        };
        if !due {
            return Ok(None);
        }
        let scan = scan_recalls(&self.store).await?;
        if scan.planned > 0 {
            tracing::info!(due = scan.due, planned = scan.planned, "the recall scan planned attempts");
        }
        Ok(Some(scan))
    }
}

/// The visit a sync job names.
fn visit_of(job: &Job) -> Result<(OrganizationId, AppointmentId), JobFailure> {
    let Ok(JobWork::ReminderSync { appointment_id: id }) = job.work() else {
        return Err(JobFailure::Permanent("the payload names no appointment".into()));
    };
    let org = job.organization_id.ok_or_else(|| JobFailure::Permanent("the job names no organization".into()))?;
    Ok((org, id))
}
