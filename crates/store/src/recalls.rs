//! Recall rules, the patients a rule finds due (`recall_candidates`), and
//! cancelling a patient's planned attempts once they book. The scan that
//! plans the attempts is the engine's (`recall.rs`).

use jiff::Timestamp;
use rapport_domain::message::template::TemplateKind;
use rapport_domain::recall::{RecallCandidate, RecallPlan, RecallRule, patient_prefix};
use rapport_domain::{MessageId, MessageState, OrganizationId, PatientId, RecallRuleId};

use super::db::{Row, Tx, args};
use super::{Store, StoreError};

fn rule_from_row(r: &Row) -> Result<RecallRule, StoreError> {
    let corrupt = || StoreError::Corrupt("bad recall rule");
    let attempts = r
        .text("attempts")?
        .split(',')
        .map(|d| d.parse::<i64>().map_err(|_| corrupt()))
        .collect::<Result<Vec<_>, _>>()?;
    let template = TemplateKind::parse(&r.text("template")?).map_err(|_| corrupt())?;
    Ok(RecallRule {
        id: r.parsed("id")?,
        organization_id: r.parsed("organization_id")?,
        plan: RecallPlan::new(&r.text("visit_type")?, r.int("interval_months")?, attempts, template)
            .map_err(|_| corrupt())?,
        created_at: r.timestamp("created_at")?,
    })
}

impl Store {
    /// Saves a rule; a second for the same visit type is a conflict.
    pub async fn create_recall_rule(&self, org: OrganizationId, plan: &RecallPlan) -> Result<RecallRule, StoreError> {
        let id = RecallRuleId::generate();
        let attempts: Vec<String> = plan.attempts.iter().map(i64::to_string).collect();
        self.db
            .execute(
                "INSERT INTO recall_rules (id, organization_id, visit_type, interval_months, attempts, template, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                args([
                    id.to_string().into(),
                    org.to_string().into(),
                    plan.visit_type.as_str().into(),
                    plan.interval_months.into(),
                    attempts.join(",").into(),
                    plan.template.as_str().into(),
                    self.clock.now().into(),
                ]),
            )
            .await?;
        let row = self
            .db
            .fetch_optional("SELECT * FROM recall_rules WHERE id = $1", args([id.to_string().into()]))
            .await?
            .ok_or(StoreError::NotFound)?;
        rule_from_row(&row)
    }

    /// The organization's rules (every organization's with `None`), oldest first.
    pub async fn recall_rules(&self, org: Option<OrganizationId>) -> Result<Vec<RecallRule>, StoreError> {
        let rows = self
            .db
            .fetch_all(
                "SELECT * FROM recall_rules WHERE ($1 IS NULL OR organization_id = $1) ORDER BY id",
                args([org.map(|o| o.to_string()).into()]),
            )
            .await?;
        rows.iter().map(rule_from_row).collect()
    }

    /// Removes a rule; attempts already planned stay (booking still stops them).
    pub async fn delete_recall_rule(&self, org: OrganizationId, id: RecallRuleId) -> Result<(), StoreError> {
        let gone = self
            .db
            .execute(
                "DELETE FROM recall_rules WHERE organization_id = $1 AND id = $2",
                args([org.to_string().into(), id.to_string().into()]),
            )
            .await?;
        if gone == 1 { Ok(()) } else { Err(StoreError::NotFound) }
    }

    /// Live patients whose last fulfilled visit of the rule's type ended at
    /// or before `cutoff`, with no visit ahead of `now`.
    pub async fn recall_candidates(
        &self,
        rule: &RecallRule,
        cutoff: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<RecallCandidate>, StoreError> {
        let rows = self
            .db
            .fetch_all(
                "SELECT a.patient_id, a.id, a.end_at FROM appointments a
                 JOIN patients p ON p.id = a.patient_id AND p.deleted_at IS NULL
                 WHERE a.organization_id = $1 AND a.visit_type = $2 AND a.status = 'fulfilled' AND a.end_at <= $3
                   AND a.end_at = (SELECT MAX(b.end_at) FROM appointments b WHERE b.organization_id = $1
                        AND b.patient_id = a.patient_id AND b.visit_type = $2 AND b.status = 'fulfilled')
                   AND NOT EXISTS (SELECT 1 FROM appointments f WHERE f.organization_id = $1
                        AND f.patient_id = a.patient_id AND f.start_at > $4
                        AND f.status IN ('proposed', 'pending', 'booked'))
                 ORDER BY a.patient_id, a.id",
                args([
                    rule.organization_id.to_string().into(),
                    rule.plan.visit_type.as_str().into(),
                    cutoff.into(),
                    now.into(),
                ]),
            )
            .await?;
        let mut candidates: Vec<RecallCandidate> = Vec::with_capacity(rows.len());
        for r in rows {
            let patient_id: PatientId = r.parsed("patient_id")?;
            // Two visits ending at the same instant: the first is the last visit.
            if candidates.last().is_some_and(|c| c.patient_id == patient_id) {
                continue;
            }
            candidates.push(RecallCandidate {
                patient_id,
                last_visit: r.parsed("id")?,
                last_end: r.timestamp("end_at")?,
            });
        }
        Ok(candidates)
    }

    /// Cancels the patient's recall attempts still planned: they booked.
    pub async fn cancel_recalls_in(
        &self,
        tx: &mut Tx,
        org: OrganizationId,
        patient: PatientId,
    ) -> Result<usize, StoreError> {
        let rows = tx
            .fetch_all(
                "SELECT id FROM messages WHERE organization_id = $1 AND patient_id = $2 AND state = 'planned'
                   AND idempotency_key LIKE $3",
                args([
                    org.to_string().into(),
                    patient.to_string().into(),
                    format!("{}%", patient_prefix(patient)).into(),
                ]),
            )
            .await?;
        let mut cancelled = 0;
        for row in rows {
            let id: MessageId = row.parsed("id")?;
            if self.close_in(tx, org, id, MessageState::Cancelled, "the patient booked a visit").await? {
                cancelled += 1;
            }
        }
        Ok(cancelled)
    }
}
