//! The recall scan: the patients due under every rule get their attempts
//! planned as bulk care messages keyed per rule, patient, last visit and
//! attempt, so scanning again (in any process) plans nothing twice; a
//! booking cancels the attempts still planned (the reminder sync).

use jiff::SignedDuration;
use rapport_domain::message::pace::Priority;
use rapport_domain::recall::{RecallCandidate, RecallRule, attempts, due_cutoff};
use rapport_domain::{MessageClass, MessagePlan};
use rapport_store::{Store, StoreError};

/// How long an attempt may wait (for the patient's hours, the care cap).
const ATTEMPT_LIFETIME: SignedDuration = SignedDuration::from_hours(24 * 7);

/// What a scan did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecallScan {
    /// Patients found due.
    pub due: usize,
    /// Attempts newly planned.
    pub planned: usize,
}

/// Finds the patients due under every rule and plans their attempts.
pub async fn scan_recalls(store: &Store) -> Result<RecallScan, StoreError> {
    let now = store.clock().now();
    let mut scan = RecallScan::default();
    for rule in store.recall_rules(None).await? {
        let zone = store.get_organization(rule.organization_id).await?.time_zone;
        let Some(cutoff) = due_cutoff(&rule.plan, &zone, now) else { continue };
        for candidate in store.recall_candidates(&rule, cutoff, now).await? {
            scan.due += 1;
            for plan in attempt_plans(&rule, &candidate, &zone, now) {
                match store.plan_message(rule.organization_id, &plan).await {
                    Ok((_, true)) => scan.planned += 1,
                    Ok((_, false)) | Err(StoreError::UnknownReference { .. }) => {}
                    Err(other) => return Err(other),
                }
            }
        }
    }
    Ok(scan)
}

/// A due patient's attempts as messages: the rule's template, about the
/// last visit, each for a week at most.
fn attempt_plans(
    rule: &RecallRule,
    candidate: &RecallCandidate,
    zone: &rapport_domain::TimeZoneName,
    now: jiff::Timestamp,
) -> Vec<MessagePlan> {
    attempts(rule, candidate, zone, now)
        .into_iter()
        .map(|attempt| MessagePlan {
            patient_id: candidate.patient_id,
            class: MessageClass::Care,
            idempotency_key: attempt.key,
            subject: None,
            body: String::new(),
            template: Some(rule.plan.template.clone()),
            appointment_id: Some(candidate.last_visit),
            priority: Priority::Bulk,
            media: Vec::new(),
            channel: None,
            to: None,
            due_at: attempt.due_at,
            expires_at: Some(attempt.due_at + ATTEMPT_LIFETIME),
        })
        .collect()
}
