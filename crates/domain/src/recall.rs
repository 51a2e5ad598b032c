//! Recall: bringing patients back for care that recurs (a cleaning every 6
//! months, a physical every 12). A rule names a visit type and an
//! interval; a patient whose last fulfilled visit of that type is older
//! than the interval, and who has no visit ahead, is due, and gets the
//! rule's attempts (e.g. at once, then 14 and 28 days later). Booking any
//! visit stops the rest. Pure: when a patient is due, and the attempts.

use jiff::{Span, Timestamp, ToSpan};

use crate::ids::{AppointmentId, OrganizationId, PatientId, RecallRuleId};
use crate::message::template::TemplateKind;
use crate::value::TimeZoneName;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecallRuleError {
    #[error("must be 1 to 36 months")]
    Interval,
    #[error("must hold 1 to 5 attempts, 0 to 90 days after the patient is due, each on its own day")]
    Attempts,
    #[error("must not be empty")]
    VisitType,
}

/// What a recall rule says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecallPlan {
    pub visit_type: String,
    pub interval_months: i64,
    /// Days after the patient is due (or after the rule first finds them, if later).
    pub attempts: Vec<i64>,
    pub template: TemplateKind,
}

impl RecallPlan {
    pub fn new(
        visit_type: &str,
        interval_months: i64,
        mut attempts: Vec<i64>,
        template: TemplateKind,
    ) -> Result<Self, RecallRuleError> {
        let visit_type = visit_type.trim();
        if visit_type.is_empty() {
            return Err(RecallRuleError::VisitType);
        }
        if !(1..=36).contains(&interval_months) {
            return Err(RecallRuleError::Interval);
        }
        let count = attempts.len();
        attempts.sort_unstable();
        attempts.dedup();
        if attempts.is_empty() || count > 5 || attempts.len() != count || attempts.iter().any(|d| !(0..=90).contains(d))
        {
            return Err(RecallRuleError::Attempts);
        }
        Ok(Self { visit_type: visit_type.to_owned(), interval_months, attempts, template })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecallRule {
    pub id: RecallRuleId,
    pub organization_id: OrganizationId,
    pub plan: RecallPlan,
    pub created_at: Timestamp,
}

/// A patient's last fulfilled visit of the rule's type, with no visit ahead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecallCandidate {
    pub patient_id: PatientId,
    pub last_visit: AppointmentId,
    pub last_end: Timestamp,
}

/// One attempt to plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecallAttempt {
    /// Once per rule, patient, last visit and attempt.
    pub key: String,
    pub due_at: Timestamp,
}

/// The end of a visit at or before which a patient is due now: `interval`
/// months before `now`, on the calendar of `zone`.
pub fn due_cutoff(plan: &RecallPlan, zone: &TimeZoneName, now: Timestamp) -> Option<Timestamp> {
    let months: Span = plan.interval_months.months();
    now.to_zoned(zone.tz()).checked_sub(months).ok().map(|z| z.timestamp())
}

/// The keys of a patient's recall messages start with this, whatever the rule.
pub fn patient_prefix(patient: PatientId) -> String {
    format!("recall:{patient}:")
}

/// The attempts for `candidate`: counted from the day they fell due, or
/// from `now` if that is later (a long-overdue patient is not sent every
/// attempt at once). Planning by key keeps the first plan's times.
pub fn attempts(
    rule: &RecallRule,
    candidate: &RecallCandidate,
    zone: &TimeZoneName,
    now: Timestamp,
) -> Vec<RecallAttempt> {
    let months: Span = rule.plan.interval_months.months();
    let Ok(due) = candidate.last_end.to_zoned(zone.tz()).checked_add(months) else { return Vec::new() };
    let start = if due.timestamp() > now { due } else { now.to_zoned(zone.tz()) };
    rule.plan
        .attempts
        .iter()
        .enumerate()
        .filter_map(|(n, days)| {
            let at = start.checked_add(days.days()).ok()?;
            Some(RecallAttempt {
                key: format!("{}{}:{}:{n}", patient_prefix(candidate.patient_id), rule.id, candidate.last_visit),
                due_at: at.timestamp(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("valid in the test")
    }

    fn rule(attempts: Vec<i64>) -> RecallRule {
        let kind = TemplateKind::parse("recall_due").expect("valid");
        RecallRule {
            id: RecallRuleId::generate(),
            organization_id: OrganizationId::generate(),
            plan: RecallPlan::new("hygiene", 6, attempts, kind).expect("valid"),
            created_at: Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_patient_falls_due_months_after_the_last_visit_and_gets_the_attempts_from_then_or_now() {
        let zone = TimeZoneName::parse("America/Chicago").expect("valid");
        let rule = rule(vec![0, 14, 28]);
        // 09:00 in Chicago, six months back on its calendar (CDT then, CST now).
        assert_eq!(due_cutoff(&rule.plan, &zone, at("2026-11-22T15:00:00Z")), Some(at("2026-05-22T14:00:00Z")));
        let candidate = RecallCandidate {
            patient_id: PatientId::generate(),
            last_visit: AppointmentId::generate(),
            last_end: at("2026-06-01T15:00:00Z"),
        };
        let ahead = attempts(&rule, &candidate, &zone, at("2026-11-22T15:00:00Z"));
        let days: Vec<Timestamp> = ahead.iter().map(|a| a.due_at).collect();
        // 10:00 CDT on 1 June: 10:00 CST on 1 December, then every 14 days.
        assert_eq!(days, [at("2026-12-01T16:00:00Z"), at("2026-12-15T16:00:00Z"), at("2026-12-29T16:00:00Z")]);
        assert!(ahead[0].key.starts_with(&patient_prefix(candidate.patient_id)));
        let overdue = attempts(&rule, &candidate, &zone, at("2027-03-01T15:00:00Z"));
        assert_eq!(overdue[0].due_at, at("2027-03-01T15:00:00Z"), "long overdue: from now, not all at once");
        assert_eq!(overdue[0].key, ahead[0].key, "the same attempt, whenever it is found");
    }

    #[test]
    fn a_rule_names_a_type_a_sane_interval_and_distinct_attempts() {
        let kind = TemplateKind::parse("recall_due").expect("valid");
        assert_eq!(RecallPlan::new(" ", 6, vec![0], kind.clone()), Err(RecallRuleError::VisitType));
        assert_eq!(RecallPlan::new("hygiene", 0, vec![0], kind.clone()), Err(RecallRuleError::Interval));
        assert_eq!(RecallPlan::new("hygiene", 6, vec![0, 0], kind.clone()), Err(RecallRuleError::Attempts));
        assert_eq!(RecallPlan::new("hygiene", 6, vec![], kind.clone()), Err(RecallRuleError::Attempts));
        assert_eq!(RecallPlan::new("hygiene", 6, vec![91], kind), Err(RecallRuleError::Attempts));
    }
}
