//! The reminder planner: runs the sync jobs that every appointment write
//! enqueues (`store/reminders.rs`), with the standard schedule (3 days and
//! 1 day before; a confirmation when booked inside that time).

use rapport_domain::AppointmentId;
use rapport_domain::reminder::ReminderSchedule;

use crate::jobs::{BatchReport, JobFailure, JobHandler, WorkerSettings, work_batch};
use crate::store::{Job, REMINDER_SYNC_JOB, Store, StoreError};

pub struct ReminderPlanner {
    store: Store,
    schedule: ReminderSchedule,
}

impl ReminderPlanner {
    pub fn new(store: Store) -> Self {
        Self { store, schedule: ReminderSchedule::standard() }
    }

    /// Leases one batch of sync jobs and runs them.
    pub async fn plan_batch(&self, worker: &WorkerSettings) -> Result<BatchReport, StoreError> {
        work_batch(&self.store, self, worker).await
    }
}

impl JobHandler for ReminderPlanner {
    fn kind(&self) -> &'static str {
        REMINDER_SYNC_JOB
    }

    async fn run(&self, job: &Job) -> Result<(), JobFailure> {
        let payload: serde_json::Value =
            serde_json::from_str(&job.payload).map_err(|_| JobFailure::Permanent("the payload is not JSON".into()))?;
        let id: AppointmentId = payload["appointment_id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| JobFailure::Permanent("the payload names no appointment".into()))?;
        let org = job.organization_id.ok_or_else(|| JobFailure::Permanent("the job names no organization".into()))?;
        self.store.sync_reminders(org, id, &self.schedule).await.map_err(|e| JobFailure::Retry(e.to_string()))?;
        Ok(())
    }
}
