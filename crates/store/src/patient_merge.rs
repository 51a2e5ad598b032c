//! Merging two records of one patient (HL7 ADT A40): in one transaction,
//! the merged record's visits (each a new version, its reminder sync
//! enqueued), messages, consents, texts, answers, tasks, waitlist entries,
//! push subscriptions and the inbox conversation move to the survivor, as
//! do its identifiers (an old MRN finds the survivor), its conditions and
//! tags, the phones and emails the survivor lacks (after its own, so the
//! survivor's order stands), its caregivers, and its place as someone
//! else's caregiver; the merged
//! record is deleted softly and names the survivor, so its id keeps
//! resolving. The audit trail is never rewritten: its events keep the id
//! they were written with.

use rapport_domain::{ActorKind, AppointmentId, NewAuditEvent, OrganizationId, Outcome, PatientId};
use sqlx::AssertSqlSafe;

use super::db::{Tx, args};
use super::job_kinds::sync_job;
use super::{Store, StoreError};

/// Tables whose rows simply move to the survivor.
const MOVED: [&str; 8] = [
    "messages",
    "consents",
    "inbound_texts",
    "visit_answers",
    "staff_tasks",
    "waitlist_entries",
    "push_subscriptions",
    "fhir_records",
];

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
        merge_contacts_in(&mut tx, &o, &s, &m).await?;
        tx.execute(
            "INSERT INTO patient_caregivers (patient_id, caregiver_id, relationship)
             SELECT $2, caregiver_id, relationship FROM patient_caregivers WHERE patient_id = $1 AND caregiver_id <> $2
             ON CONFLICT (patient_id, caregiver_id) DO NOTHING",
            args([m.as_str().into(), s.as_str().into()]),
        )
        .await?;
        tx.execute(
            "INSERT INTO patient_caregivers (patient_id, caregiver_id, relationship)
             SELECT patient_id, $2, relationship FROM patient_caregivers WHERE caregiver_id = $1 AND patient_id <> $2
             ON CONFLICT (patient_id, caregiver_id) DO NOTHING",
            args([m.as_str().into(), s.as_str().into()]),
        )
        .await?;
        tx.execute("DELETE FROM patient_caregivers WHERE caregiver_id = $1", args([m.as_str().into()])).await?;
        tx.execute(
            "UPDATE patients SET version = version + 1, updated_at = $3 WHERE organization_id = $1 AND id = $2",
            args([o.as_str().into(), s.as_str().into(), now.into()]),
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

/// Copies the merged record's phones and emails that the survivor lacks,
/// after the survivor's own of each system, in the merged record's order.
async fn merge_contacts_in(tx: &mut Tx, org: &str, survivor: &str, merged: &str) -> Result<(), StoreError> {
    let rows = tx
        .fetch_all(
            "SELECT patient_id, system, position, value, kind FROM patient_contacts
             WHERE organization_id = $1 AND patient_id IN ($2, $3) ORDER BY system, position",
            args([org.into(), survivor.into(), merged.into()]),
        )
        .await?;
    let mut held: Vec<(String, String)> = Vec::new();
    let mut next: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    for row in rows.iter().filter(|r| r.text("patient_id").is_ok_and(|p| p == survivor)) {
        let system = row.text("system")?;
        let after = next.entry(system.clone()).or_insert(0);
        *after = (*after).max(row.int("position")? + 1);
        held.push((system, row.text("value")?));
    }
    for row in rows.iter().filter(|r| r.text("patient_id").is_ok_and(|p| p == merged)) {
        let (system, value) = (row.text("system")?, row.text("value")?);
        if held.contains(&(system.clone(), value.clone())) {
            continue;
        }
        let position = next.entry(system.clone()).or_insert(0);
        tx.execute(
            "INSERT INTO patient_contacts (patient_id, organization_id, system, position, value, kind)
             VALUES ($1, $2, $3, $4, $5, $6)",
            args([
                survivor.into(),
                org.into(),
                system.as_str().into(),
                (*position).into(),
                value.as_str().into(),
                row.opt_text("kind")?.into(),
            ]),
        )
        .await?;
        *position += 1;
        held.push((system, value));
    }
    Ok(())
}
