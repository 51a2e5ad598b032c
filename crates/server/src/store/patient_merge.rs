//! Merging two records of one patient (HL7 ADT A40): in one transaction,
//! the merged record's visits (each a new version, its reminder sync
//! enqueued), messages, consents, texts, answers, tasks, waitlist entries,
//! push subscriptions and the inbox conversation move to the survivor, as
//! do its identifiers (an old MRN finds the survivor) and its conditions
//! and tags; the merged
//! record is deleted softly and names the survivor, so its id keeps
//! resolving. The audit trail is never rewritten: its events keep the id
//! they were written with.

use rapport_domain::{ActorKind, AppointmentId, NewAuditEvent, OrganizationId, Outcome, PatientId};
use sqlx::AssertSqlSafe;

use super::db::args;
use super::reminders::sync_job;
use super::{Store, StoreError};

/// Tables whose rows simply move to the survivor.
const MOVED: [&str; 7] =
    ["messages", "consents", "inbound_texts", "visit_answers", "staff_tasks", "waitlist_entries", "push_subscriptions"];

/// How many records a merged id may lead through to its survivor.
const MAX_HOPS: usize = 8;

impl Store {
    /// Merges patient `merged` into `survivor` (both live, both of `org`).
    /// Merging a record into itself is refused; merging one merged already
    /// is NotFound.
    pub async fn merge_patients(
        &self,
        org: OrganizationId,
        survivor: PatientId,
        merged: PatientId,
    ) -> Result<(), StoreError> {
        if survivor == merged {
            return Err(StoreError::Invalid { field: "merged".into(), reason: "is the surviving record".into() });
        }
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let (o, s, m) = (org.to_string(), survivor.to_string(), merged.to_string());
        let lock = format!(
            "SELECT id FROM patients WHERE organization_id = $1 AND id IN ($2, $3) AND deleted_at IS NULL {}",
            tx.for_update()
        );
        let live =
            tx.fetch_all(AssertSqlSafe(lock), args([o.as_str().into(), s.as_str().into(), m.as_str().into()])).await?;
        if live.len() != 2 {
            return Err(StoreError::NotFound);
        }
        let moved = tx
            .fetch_all(
                "UPDATE appointments SET patient_id = $3, version = version + 1, updated_at = $4
                 WHERE organization_id = $1 AND patient_id = $2 RETURNING id",
                args([o.as_str().into(), m.as_str().into(), s.as_str().into(), now.into()]),
            )
            .await?;
        let visits = moved.iter().map(|r| r.parsed::<AppointmentId>("id")).collect::<Result<Vec<_>, _>>()?;
        let syncs: Vec<_> = visits.iter().map(|v| sync_job(org, *v, &format!("merge:{m}"), now)).collect();
        self.enqueue_jobs_in(&mut tx, &syncs).await?;
        for table in MOVED {
            let sql = format!("UPDATE {table} SET patient_id = $3 WHERE organization_id = $1 AND patient_id = $2");
            tx.execute(AssertSqlSafe(sql), args([o.as_str().into(), m.as_str().into(), s.as_str().into()])).await?;
        }
        self.merge_conversations_in(&mut tx, org, survivor, merged).await?;
        tx.execute(
            "UPDATE patient_identifiers SET patient_id = $3 WHERE organization_id = $1 AND patient_id = $2",
            args([o.as_str().into(), m.as_str().into(), s.as_str().into()]),
        )
        .await?;
        tx.execute(
            "INSERT INTO patient_codes (patient_id, organization_id, kind, code)
             SELECT $3, organization_id, kind, code FROM patient_codes WHERE organization_id = $1 AND patient_id = $2
             ON CONFLICT (patient_id, kind, code) DO NOTHING",
            args([o.as_str().into(), m.as_str().into(), s.as_str().into()]),
        )
        .await?;
        tx.execute(
            "UPDATE patients SET deleted_at = $3, merged_into = $4, version = version + 1, updated_at = $3
             WHERE organization_id = $1 AND id = $2",
            args([o.as_str().into(), m.as_str().into(), now.into(), s.as_str().into()]),
        )
        .await?;
        let mut event = NewAuditEvent::new(Some(org), ActorKind::System, "patient.merge", Outcome::Success);
        event.resource_type = Some("patient".into());
        event.resource_id = Some(m.clone());
        event.patient_id = Some(survivor);
        event.reason = Some(format!("merged into {s} with {} visit(s)", visits.len()));
        self.append_in(&mut tx, &event).await?;
        tx.commit().await
    }

    /// The live record `id` names: itself, or the survivor it was merged
    /// into (through several merges); NotFound when deleted otherwise.
    pub async fn resolve_patient(&self, org: OrganizationId, id: PatientId) -> Result<PatientId, StoreError> {
        let mut current = id;
        for _ in 0..MAX_HOPS {
            let row = self
                .db
                .fetch_optional(
                    "SELECT deleted_at, merged_into FROM patients WHERE organization_id = $1 AND id = $2",
                    args([org.to_string().into(), current.to_string().into()]),
                )
                .await?
                .ok_or(StoreError::NotFound)?;
            if row.opt_int("deleted_at")?.is_none() {
                return Ok(current);
            }
            match row.opt_parsed::<PatientId>("merged_into")? {
                Some(next) => current = next,
                None => return Err(StoreError::NotFound),
            }
        }
        Err(StoreError::NotFound)
    }
}
