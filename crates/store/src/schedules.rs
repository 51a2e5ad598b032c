//! Schedules (when a provider or a location's own diary can be booked) and
//! the visits that make their slots busy. Slots themselves are computed in
//! the domain (`Schedule::slots`), never stored.

use jiff::Timestamp;
use rapport_domain::{ExternalId, LocationId, OrganizationId, ProviderId, Schedule, ScheduleDetails, ScheduleId};

use super::codec::{hours_from_text, hours_to_text};
use super::db::{Arg, Row, Tx, args, from_micros, page_filters};
use super::versioned::{self, Target, Versioned};
use super::{Page, PageRequest, Store, StoreError, paginate};

/// The visit states that hold a slot.
const HOLDS_A_SLOT: &str = "('pending', 'booked', 'arrived', 'checked-in', 'fulfilled')";

#[derive(Debug, Clone, Default)]
pub struct ScheduleQuery {
    pub location_id: Option<LocationId>,
    pub provider_id: Option<ProviderId>,
    pub active: Option<bool>,
    pub source: Option<ExternalId>,
}

fn schedule_from_row(r: &Row) -> Result<Schedule, StoreError> {
    let source = match (r.opt_text("source_system")?, r.opt_text("source_id")?) {
        (Some(system), Some(value)) => Some(ExternalId { system, value }),
        _ => None,
    };
    let instant = |col| r.opt_int(col)?.map(from_micros).transpose();
    Ok(Schedule {
        id: r.parsed("id")?,
        organization_id: r.parsed("organization_id")?,
        version: r.int("version")?,
        created_at: r.timestamp("created_at")?,
        updated_at: r.timestamp("updated_at")?,
        details: ScheduleDetails {
            location_id: r.parsed("location_id")?,
            provider_id: r.opt_parsed("provider_id")?,
            hours: hours_from_text(&r.text("hours")?)?,
            slot_minutes: r.int("slot_minutes")?,
            horizon_start: instant("horizon_start")?,
            horizon_end: instant("horizon_end")?,
            active: r.int("active")? != 0,
            service_type: r.opt_text("service_type")?,
            comment: r.opt_text("comment")?,
            source,
        },
    })
}

/// The columns a write sets, in this order, after id and organization.
fn values(d: &ScheduleDetails) -> Vec<Arg> {
    vec![
        d.location_id.to_string().into(),
        d.provider_id.map(|p| p.to_string()).into(),
        hours_to_text(&d.hours).into(),
        d.slot_minutes.into(),
        d.horizon_start.map(super::db::micros).into(),
        d.horizon_end.map(super::db::micros).into(),
        i64::from(d.active).into(),
        d.service_type.clone().into(),
        d.comment.clone().into(),
        d.source.as_ref().map(|s| s.system.clone()).into(),
        d.source.as_ref().map(|s| s.value.clone()).into(),
    ]
}

impl Store {
    pub async fn create_schedule(&self, s: &Schedule) -> Result<Schedule, StoreError> {
        let mut tx = self.db.begin().await?;
        check_referents(&mut tx, s.organization_id, &s.details).await?;
        let mut bound = vec![s.id.to_string().into(), s.organization_id.to_string().into()];
        bound.extend(values(&s.details));
        bound.push(self.clock.now().into());
        tx.execute(
            "INSERT INTO schedules (id, organization_id, location_id, provider_id, hours, slot_minutes, horizon_start,
                 horizon_end, active, service_type, comment, source_system, source_id, version, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1, $14, $14)",
            bound,
        )
        .await?;
        tx.commit().await?;
        self.get_schedule(s.organization_id, s.id).await
    }

    pub async fn get_schedule(&self, org: OrganizationId, id: ScheduleId) -> Result<Schedule, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT * FROM schedules WHERE organization_id = $1 AND id = $2",
                args([org.to_string().into(), id.to_string().into()]),
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        schedule_from_row(&row)
    }

    /// Writes the schedule at the version the caller read (the source is
    /// kept: a schedule is found again by the id it came with).
    pub async fn update_schedule(&self, s: &Schedule, expected: i64) -> Result<Schedule, StoreError> {
        let mut tx = self.db.begin().await?;
        check_referents(&mut tx, s.organization_id, &s.details).await?;
        let target = Target {
            table: Versioned::Schedules,
            tenant: s.organization_id.to_string(),
            id: s.id.to_string(),
            expected,
        };
        versioned::update(
            &mut tx,
            target,
            "location_id = $1, provider_id = $2, hours = $3, slot_minutes = $4, horizon_start = $5, horizon_end = $6,
             active = $7, service_type = $8, comment = $9",
            values(&s.details).into_iter().take(9).collect(),
            self.clock.now(),
        )
        .await?;
        tx.commit().await?;
        self.get_schedule(s.organization_id, s.id).await
    }

    pub async fn search_schedules(
        &self,
        org: OrganizationId,
        query: &ScheduleQuery,
        page: &PageRequest,
    ) -> Result<Page<Schedule>, StoreError> {
        let mut sql = "SELECT * FROM schedules WHERE organization_id = $1".to_owned();
        let mut bound = vec![org.to_string().into()];
        let source = query.source.as_ref();
        page_filters(
            &mut sql,
            &mut bound,
            [
                ("location_id =", query.location_id.map(|l| l.to_string().into())),
                ("provider_id =", query.provider_id.map(|p| p.to_string().into())),
                ("active =", query.active.map(|a| i64::from(a).into())),
                ("source_system =", source.map(|s| s.system.clone().into())),
                ("source_id =", source.map(|s| s.value.clone().into())),
                ("id >", page.after.clone().map(Arg::from)),
            ],
            page.limit(),
        );
        let rows = self.db.fetch_all(sqlx::AssertSqlSafe(sql), bound).await?;
        let items = rows.iter().map(schedule_from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(paginate(items, page.limit(), |s| s.id.to_string()))
    }

    /// The (start, end) of every visit that holds one of the schedule's
    /// slots and overlaps `[from, to)`: the provider's visits anywhere (one
    /// person is in one place), or, for a location's own diary, the visits
    /// there with no provider.
    pub async fn booked_spans(
        &self,
        org: OrganizationId,
        schedule: &ScheduleDetails,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<(Timestamp, Timestamp)>, StoreError> {
        let whose = match schedule.provider_id {
            Some(provider) => ("provider_id = $4", provider.to_string()),
            None => ("location_id = $4 AND provider_id IS NULL", schedule.location_id.to_string()),
        };
        let sql = format!(
            "SELECT start_at, end_at FROM appointments
             WHERE organization_id = $1 AND start_at < $3 AND end_at > $2 AND {} AND status IN {HOLDS_A_SLOT}
             ORDER BY start_at",
            whose.0
        );
        let rows = self
            .db
            .fetch_all(sqlx::AssertSqlSafe(sql), args([org.to_string().into(), from.into(), to.into(), whose.1.into()]))
            .await?;
        rows.iter().map(|r| Ok((r.timestamp("start_at")?, r.timestamp("end_at")?))).collect()
    }
}

/// The location and provider must be the organization's own.
async fn check_referents(tx: &mut Tx, org: OrganizationId, d: &ScheduleDetails) -> Result<(), StoreError> {
    let location = super::ids_in(tx, "locations", "", org, &[d.location_id.to_string()]).await?;
    if location.is_empty() {
        return Err(StoreError::UnknownReference { field: "location_id".into() });
    }
    if let Some(provider) = d.provider_id {
        let found = super::ids_in(tx, "providers", "", org, &[provider.to_string()]).await?;
        if found.is_empty() {
            return Err(StoreError::UnknownReference { field: "provider_id".into() });
        }
    }
    Ok(())
}
