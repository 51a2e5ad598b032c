//! The write-back queue: patients' answers to visits that came from an HL7
//! feed go back to it as jobs (`ehr.write_back`), one per answer, enqueued
//! by a scan while a write-back endpoint is configured, so they are retried
//! through the job queue and written once.

use rapport_domain::message::pace::Priority;
use rapport_domain::{ExternalId, OrganizationId, VisitAnswerId};

use super::answers::{WriteBack, answer_from_row};
use super::db::args;
use super::jobs::NewJob;
use super::{JobKind, JobWork, Store, StoreError};

/// Sources whose visits are written back: the HL7 feeds (`hl7:{MSH-3}`).
const HL7_SOURCES: &str = "hl7:%";

impl Store {
    /// Enqueues a write-back job for each answer (oldest first, up to
    /// `limit`) to a visit from an HL7 feed that is neither written back
    /// nor queued yet; how many it enqueued.
    pub async fn queue_write_backs(&self, org: OrganizationId, limit: usize) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let prefix = format!("{}:", JobKind::WriteBack.as_str());
        let rows = tx
            .fetch_all(
                "SELECT v.id FROM visit_answers v
                 JOIN appointments a ON a.organization_id = v.organization_id AND a.id = v.appointment_id
                 WHERE v.organization_id = $1 AND v.written_back_at IS NULL AND a.source_system LIKE $2
                   AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.idempotency_key = $3 || v.id)
                 ORDER BY v.answered_at, v.id LIMIT $4",
                args([org.to_string().into(), HL7_SOURCES.into(), prefix.as_str().into(), (limit as i64).into()]),
            )
            .await?;
        let jobs = rows
            .iter()
            .map(|r| {
                let id: VisitAnswerId = r.parsed("id")?;
                Ok(NewJob {
                    organization_id: Some(org),
                    kind: JobKind::WriteBack.as_str().into(),
                    payload: JobWork::WriteBack { answer_id: id }.payload(),
                    idempotency_key: format!("{prefix}{id}"),
                    run_at: now,
                    max_attempts: 12,
                    rank: Priority::Timely.rank(),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.enqueue_jobs_in(&mut tx, &jobs).await?;
        tx.commit().await?;
        Ok(jobs.len())
    }

    /// Answer `id` with its visit's source id, unless it is written back
    /// already (or gone).
    pub async fn write_back(&self, org: OrganizationId, id: VisitAnswerId) -> Result<Option<WriteBack>, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT v.*, a.source_system, a.source_id FROM visit_answers v
                 JOIN appointments a ON a.organization_id = v.organization_id AND a.id = v.appointment_id
                 WHERE v.organization_id = $1 AND v.id = $2 AND v.written_back_at IS NULL
                   AND a.source_system IS NOT NULL",
                args([org.to_string().into(), id.to_string().into()]),
            )
            .await?;
        row.map(|r| {
            Ok(WriteBack {
                answer: answer_from_row(&r)?,
                source: ExternalId { system: r.text("source_system")?, value: r.text("source_id")? },
            })
        })
        .transpose()
    }
}
