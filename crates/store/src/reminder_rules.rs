//! Reminder rules (one per organization and scope: location, visit type,
//! both, or neither), versioned like every record staff edit. Every change
//! re-plans the reminders of the organization's booked visits ahead: it
//! enqueues their sync jobs in its own transaction.

use rapport_domain::message::template::TemplateKind;
use rapport_domain::reminder::{Before, ReminderOffset, ReminderRule, ReminderSchedule};
use rapport_domain::{LocationId, OrganizationId, ReminderRuleId};

use super::db::{Row, Tx, args};
use super::job_kinds::sync_job;
use super::versioned::{self, Target, Versioned};
use super::{Store, StoreError};

/// What a rule says, as written (its id, version and times are the store's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReminderRule {
    pub location_id: Option<LocationId>,
    pub visit_type: Option<String>,
    pub schedule: ReminderSchedule,
}

/// `3d:appointment_reminder` items joined by commas; with a channel,
/// `2h:appointment_reminder:sms`.
fn offsets_text(offsets: &[ReminderOffset]) -> String {
    let item = |o: &ReminderOffset| match o.channel {
        Some(channel) => format!("{}:{}:{}", o.before.key(), o.template, channel.as_str()),
        None => format!("{}:{}", o.before.key(), o.template),
    };
    offsets.iter().map(item).collect::<Vec<_>>().join(",")
}

fn parse_offsets(text: &str) -> Result<Vec<ReminderOffset>, StoreError> {
    let corrupt = || StoreError::Corrupt("bad reminder rule");
    text.split(',')
        .filter(|item| !item.is_empty())
        .map(|item| {
            let mut parts = item.split(':');
            let (before, template) = (parts.next().ok_or_else(corrupt)?, parts.next().ok_or_else(corrupt)?);
            Ok(ReminderOffset {
                before: Before::parse(before).map_err(|_| corrupt())?,
                template: TemplateKind::parse(template).map_err(|_| corrupt())?,
                channel: parts.next().map(str::parse).transpose().map_err(|_| corrupt())?,
            })
        })
        .collect()
}

/// An organization's rules, oldest first.
const RULES: &str = "SELECT * FROM reminder_rules WHERE organization_id = $1 ORDER BY id";

fn rule_from_row(r: &Row) -> Result<ReminderRule, StoreError> {
    let corrupt = || StoreError::Corrupt("bad reminder rule");
    let offsets = parse_offsets(&r.text("offsets")?)?;
    let confirmation = TemplateKind::parse(&r.text("confirmation")?).map_err(|_| corrupt())?;
    let after_confirmation =
        r.opt_text("after_confirmation")?.map(|k| TemplateKind::parse(&k)).transpose().map_err(|_| corrupt())?;
    Ok(ReminderRule {
        id: r.parsed("id")?,
        organization_id: r.parsed("organization_id")?,
        location_id: r.opt_parsed("location_id")?,
        visit_type: r.opt_text("visit_type")?,
        schedule: ReminderSchedule {
            preparation: parse_offsets(&r.text("preparation")?)?,
            after_visit: parse_offsets(&r.opt_text("after_visit")?.unwrap_or_default())?.pop(),
            after_no_show: r
                .opt_text("after_no_show")?
                .map(|k| TemplateKind::parse(&k))
                .transpose()
                .map_err(|_| corrupt())?,
            ..ReminderSchedule::new(offsets, confirmation, after_confirmation).map_err(|_| corrupt())?
        },
        version: r.int("version")?,
        created_at: r.timestamp("created_at")?,
        updated_at: r.timestamp("updated_at")?,
    })
}

impl Store {
    /// Saves a rule; a second rule for the same scope is a conflict; a
    /// location of another organization an unknown reference.
    pub async fn create_reminder_rule(
        &self,
        org: OrganizationId,
        rule: &NewReminderRule,
    ) -> Result<ReminderRule, StoreError> {
        let id = ReminderRuleId::generate();
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        check_rule_location(&mut tx, org, rule).await?;
        tx.execute(
            "INSERT INTO reminder_rules (id, organization_id, location_id, visit_type, offsets, confirmation,
                 after_confirmation, preparation, after_visit, after_no_show, version, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $11)",
            args([
                id.to_string().into(),
                org.to_string().into(),
                rule.location_id.map(|l| l.to_string()).into(),
                rule.visit_type.clone().into(),
                offsets_text(&rule.schedule.offsets).into(),
                rule.schedule.confirmation.as_str().into(),
                rule.schedule.after_confirmation.as_ref().map(|k| k.as_str().to_owned()).into(),
                offsets_text(&rule.schedule.preparation).into(),
                rule.schedule.after_visit.as_ref().map(|a| offsets_text(std::slice::from_ref(a))).into(),
                rule.schedule.after_no_show.as_ref().map(|k| k.as_str().to_owned()).into(),
                now.into(),
            ]),
        )
        .await?;
        self.replan_in(&mut tx, org, &format!("rule-{id}-v1")).await?;
        tx.commit().await?;
        self.reminder_rule(org, id).await
    }

    pub async fn reminder_rule(&self, org: OrganizationId, id: ReminderRuleId) -> Result<ReminderRule, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT * FROM reminder_rules WHERE organization_id = $1 AND id = $2",
                args([org.to_string().into(), id.to_string().into()]),
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        rule_from_row(&row)
    }

    /// The organization's rules, oldest first.
    pub async fn reminder_rules(&self, org: OrganizationId) -> Result<Vec<ReminderRule>, StoreError> {
        let rows = self.db.fetch_all(RULES, args([org.to_string().into()])).await?;
        rows.iter().map(rule_from_row).collect()
    }

    /// [`reminder_rules`](Store::reminder_rules) within the caller's transaction.
    pub async fn reminder_rules_in(&self, tx: &mut Tx, org: OrganizationId) -> Result<Vec<ReminderRule>, StoreError> {
        let rows = tx.fetch_all(RULES, args([org.to_string().into()])).await?;
        rows.iter().map(rule_from_row).collect()
    }

    /// Replaces a rule's scope and schedule at the version the caller read.
    pub async fn update_reminder_rule(
        &self,
        org: OrganizationId,
        id: ReminderRuleId,
        rule: &NewReminderRule,
        expected: i64,
    ) -> Result<ReminderRule, StoreError> {
        let mut tx = self.db.begin().await?;
        check_rule_location(&mut tx, org, rule).await?;
        let target = Target { table: Versioned::ReminderRules, tenant: org.to_string(), id: id.to_string(), expected };
        let values = args([
            rule.location_id.map(|l| l.to_string()).into(),
            rule.visit_type.clone().into(),
            offsets_text(&rule.schedule.offsets).into(),
            rule.schedule.confirmation.as_str().into(),
            rule.schedule.after_confirmation.as_ref().map(|k| k.as_str().to_owned()).into(),
            offsets_text(&rule.schedule.preparation).into(),
            rule.schedule.after_visit.as_ref().map(|a| offsets_text(std::slice::from_ref(a))).into(),
            rule.schedule.after_no_show.as_ref().map(|k| k.as_str().to_owned()).into(),
        ]);
        let sets = "location_id = $1, visit_type = $2, offsets = $3, confirmation = $4, after_confirmation = $5, \
                    preparation = $6, after_visit = $7, after_no_show = $8";
        let version = versioned::update(&mut tx, target, sets, values, self.clock.now()).await?;
        self.replan_in(&mut tx, org, &format!("rule-{id}-v{version}")).await?;
        tx.commit().await?;
        self.reminder_rule(org, id).await
    }

    pub async fn delete_reminder_rule(&self, org: OrganizationId, id: ReminderRuleId) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        let gone = tx
            .execute(
                "DELETE FROM reminder_rules WHERE organization_id = $1 AND id = $2",
                args([org.to_string().into(), id.to_string().into()]),
            )
            .await?;
        if gone != 1 {
            return Err(StoreError::NotFound);
        }
        self.replan_in(&mut tx, org, &format!("rule-{id}-deleted")).await?;
        tx.commit().await
    }

    /// Enqueues a sync of every booked visit of `org` still ahead, tagged
    /// with the change that asks for it.
    async fn replan_in(&self, tx: &mut Tx, org: OrganizationId, tag: &str) -> Result<(), StoreError> {
        let now = self.clock.now();
        let rows = tx
            .fetch_all(
                "SELECT id FROM appointments WHERE organization_id = $1 AND status = 'booked' AND start_at > $2",
                args([org.to_string().into(), now.into()]),
            )
            .await?;
        let jobs = rows
            .iter()
            .map(|r| Ok(sync_job(org, r.parsed("id")?, tag, now)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.enqueue_jobs_in(tx, &jobs).await
    }
}

/// A rule's location must be the organization's.
async fn check_rule_location(tx: &mut Tx, org: OrganizationId, rule: &NewReminderRule) -> Result<(), StoreError> {
    let Some(location) = rule.location_id else { return Ok(()) };
    tx.fetch_optional(
        "SELECT id FROM locations WHERE organization_id = $1 AND id = $2",
        args([org.to_string().into(), location.to_string().into()]),
    )
    .await?
    .ok_or(StoreError::UnknownReference { field: "location_id".into() })
    .map(drop)
}
