//! Appointments: who is seen, where, when, and in what state. The zone of an
//! appointment is its location's, resolved at write time.

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;
use rapport_domain::{
    Appointment, AppointmentDetails, AppointmentId, AppointmentStatus, ExternalId, LocationId, OrganizationId,
    TimeZoneName,
};
use sqlx::AssertSqlSafe;

use super::NewJob;
use super::db::{Arg, Row, Tx, args, insert_rows, page_filters};
use super::job_kinds::sync_job;
use super::versioned::{self, Target, Versioned};
use super::{Page, PageRequest, Store, StoreError, paginate};

#[derive(Debug, Clone, Default)]
pub struct AppointmentQuery {
    pub patient_id: Option<rapport_domain::PatientId>,
    pub provider_id: Option<rapport_domain::ProviderId>,
    pub location_id: Option<rapport_domain::LocationId>,
    pub status: Option<AppointmentStatus>,
    /// Starts at or after.
    pub from: Option<Timestamp>,
    /// Starts before.
    pub to: Option<Timestamp>,
    /// Changed at or after (a client's sync cursor).
    pub updated_since: Option<Timestamp>,
}

/// One record of a bulk upsert; `details.source` is the key.
#[derive(Debug, Clone)]
pub struct AppointmentUpsert {
    pub details: AppointmentDetails,
}

pub(super) fn appointment_from_row(r: &Row) -> Result<Appointment, StoreError> {
    let source = match (r.opt_text("source_system")?, r.opt_text("source_id")?) {
        (Some(system), Some(value)) => Some(ExternalId { system, value }),
        _ => None,
    };
    Ok(Appointment {
        id: r.parsed("id")?,
        organization_id: r.parsed("organization_id")?,
        time_zone: super::patients::zone(&r.text("time_zone")?)?,
        version: r.int("version")?,
        created_at: r.timestamp("created_at")?,
        updated_at: r.timestamp("updated_at")?,
        details: AppointmentDetails {
            patient_id: r.parsed("patient_id")?,
            provider_id: r.opt_parsed("provider_id")?,
            location_id: r.parsed("location_id")?,
            start: r.timestamp("start_at")?,
            end: r.timestamp("end_at")?,
            visit_type: r.text("visit_type")?,
            status: r.parsed("status")?,
            source,
        },
    })
}

/// The columns an appointment's details fill, in `DETAIL_SETS` order.
fn detail_values(d: &AppointmentDetails, zone: &TimeZoneName) -> Vec<Arg> {
    vec![
        d.patient_id.to_string().into(),
        d.provider_id.map(|p| p.to_string()).into(),
        d.location_id.to_string().into(),
        d.start.into(),
        d.end.into(),
        zone.as_str().into(),
        d.visit_type.clone().into(),
        d.status.as_str().into(),
        d.source.as_ref().map(|s| s.system.clone()).into(),
        d.source.as_ref().map(|s| s.value.clone()).into(),
    ]
}

const DETAIL_SETS: &str = "patient_id = $1, provider_id = $2, location_id = $3, start_at = $4, end_at = $5, \
     time_zone = $6, visit_type = $7, status = $8, source_system = $9, source_id = $10";

impl Store {
    pub async fn create_appointment(
        &self,
        org: OrganizationId,
        d: &AppointmentDetails,
    ) -> Result<Appointment, StoreError> {
        let id = AppointmentId::generate();
        let mut tx = self.db.begin().await?;
        let zone = one_zone(&mut tx, org, d).await?;
        let now = self.clock.now();
        insert(&mut tx, org, id, d, &zone, now).await?;
        self.enqueue_jobs_in(&mut tx, &[sync_job(org, id, "v1", now)]).await?;
        tx.commit().await?;
        self.get_appointment(org, id).await
    }

    /// The visit a source system knows as `source`, if any.
    pub async fn find_appointment_by_source(
        &self,
        org: OrganizationId,
        source: &ExternalId,
    ) -> Result<Option<AppointmentId>, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT id FROM appointments WHERE organization_id = $1 AND source_system = $2 AND source_id = $3",
                args([org.to_string().into(), source.system.as_str().into(), source.value.as_str().into()]),
            )
            .await?;
        row.map(|r| r.parsed("id")).transpose()
    }

    pub async fn get_appointment(&self, org: OrganizationId, id: AppointmentId) -> Result<Appointment, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT * FROM appointments WHERE organization_id = $1 AND id = $2",
                args([org.to_string().into(), id.to_string().into()]),
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        appointment_from_row(&row)
    }

    pub async fn update_appointment(
        &self,
        org: OrganizationId,
        id: AppointmentId,
        expected: i64,
        d: &AppointmentDetails,
    ) -> Result<Appointment, StoreError> {
        let mut tx = self.db.begin().await?;
        let zone = one_zone(&mut tx, org, d).await?;
        let target = Target { table: Versioned::Appointments, tenant: org.to_string(), id: id.to_string(), expected };
        let now = self.clock.now();
        let version = versioned::update(&mut tx, target, DETAIL_SETS, detail_values(d, &zone), now).await?;
        self.enqueue_jobs_in(&mut tx, &[sync_job(org, id, &format!("v{version}"), now)]).await?;
        tx.commit().await?;
        self.get_appointment(org, id).await
    }

    pub async fn delete_appointment(
        &self,
        org: OrganizationId,
        id: AppointmentId,
        expected: Option<i64>,
    ) -> Result<(), StoreError> {
        let current = self.get_appointment(org, id).await?;
        let version = expected.unwrap_or(current.version);
        let mut tx = self.db.begin().await?;
        let deleted = tx
            .execute(
                "DELETE FROM appointments WHERE organization_id = $1 AND id = $2 AND version = $3",
                args([org.to_string().into(), id.to_string().into(), version.into()]),
            )
            .await?;
        if deleted != 1 {
            return Err(StoreError::StaleVersion { expected: version, actual: current.version });
        }
        self.enqueue_jobs_in(&mut tx, &[sync_job(org, id, "deleted", self.clock.now())]).await?;
        tx.commit().await
    }

    pub async fn list_appointments(
        &self,
        org: OrganizationId,
        query: &AppointmentQuery,
        page: &PageRequest,
    ) -> Result<Page<Appointment>, StoreError> {
        let mut sql = String::from("SELECT * FROM appointments WHERE organization_id = $1");
        let mut values: Vec<Arg> = vec![org.to_string().into()];
        let filters: [(&str, Option<Arg>); 8] = [
            ("patient_id =", query.patient_id.map(|p| p.to_string().into())),
            ("provider_id =", query.provider_id.map(|p| p.to_string().into())),
            ("location_id =", query.location_id.map(|l| l.to_string().into())),
            ("status =", query.status.map(|s| s.as_str().into())),
            ("start_at >=", query.from.map(Arg::from)),
            ("start_at <", query.to.map(Arg::from)),
            ("updated_at >=", query.updated_since.map(Arg::from)),
            ("id >", page.after.clone().map(Arg::from)),
        ];
        page_filters(&mut sql, &mut values, filters, page.limit());
        let rows = self.db.fetch_all(AssertSqlSafe(sql), values).await?;
        let items = rows.iter().map(appointment_from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(paginate(items, page.limit(), |a| a.id.to_string()))
    }

    /// Creates or updates appointments keyed on their source id, all in one
    /// transaction. An unchanged record keeps its version, so a feed that
    /// sends the same visit again does not look like a reschedule. A key
    /// repeated within the batch is applied in order, as if sent one by one.
    pub async fn upsert_appointments(
        &self,
        org: OrganizationId,
        records: &[AppointmentUpsert],
    ) -> Result<Vec<super::UpsertOutcome<AppointmentId>>, StoreError> {
        let now = self.clock.now();
        let mut keys = Vec::with_capacity(records.len());
        for (i, record) in records.iter().enumerate() {
            let source = record.details.source.as_ref();
            keys.push(source.ok_or(StoreError::UnknownReference { field: format!("[{i}].source") })?);
        }
        let mut tx = self.db.begin().await?;
        let details: Vec<&AppointmentDetails> = records.iter().map(|r| &r.details).collect();
        let zones = check_references(&mut tx, org, &details, |i, name| format!("[{i}].{name}")).await?;
        let mut current = existing_by_source(&mut tx, org, &keys).await?;
        let mut outcomes = Vec::with_capacity(records.len());
        let mut new_rows: Vec<(AppointmentId, &AppointmentDetails)> = Vec::new();
        let mut syncs: Vec<NewJob> = Vec::new();
        // Keys created earlier in this batch, by position in `new_rows`.
        let mut queued: HashMap<(String, String), usize> = HashMap::new();
        for (record, key) in records.iter().zip(&keys) {
            let d = &record.details;
            let zone = zones.get(&d.location_id).ok_or(StoreError::Corrupt("location zone missing"))?;
            let key = (key.system.clone(), key.value.clone());
            if let Some(&at) = queued.get(&key) {
                new_rows[at].1 = d;
                outcomes.push(super::UpsertOutcome::Updated(new_rows[at].0));
                continue;
            }
            match current.get_mut(&key) {
                None => {
                    let id = AppointmentId::generate();
                    queued.insert(key, new_rows.len());
                    new_rows.push((id, d));
                    outcomes.push(super::UpsertOutcome::Created(id));
                }
                Some(existing) => {
                    if existing.details != *d {
                        syncs.push(sync_job(org, existing.id, &format!("v{}", existing.version + 1), now));
                        let target = Target {
                            table: Versioned::Appointments,
                            tenant: org.to_string(),
                            id: existing.id.to_string(),
                            expected: existing.version,
                        };
                        existing.version =
                            versioned::update(&mut tx, target, DETAIL_SETS, detail_values(d, zone), now).await?;
                        existing.details = d.clone();
                    }
                    outcomes.push(super::UpsertOutcome::Updated(existing.id));
                }
            }
        }
        let rows = new_rows
            .iter()
            .map(|(id, d)| {
                let zone = zones.get(&d.location_id).ok_or(StoreError::Corrupt("location zone missing"))?;
                Ok(row_values(org, *id, d, zone, now))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        insert_rows(&mut tx, APPOINTMENT_COLUMNS, rows).await?;
        syncs.extend(new_rows.iter().map(|(id, _)| sync_job(org, *id, "v1", now)));
        self.enqueue_jobs_in(&mut tx, &syncs).await?;
        tx.commit().await?;
        Ok(outcomes)
    }
}

const APPOINTMENT_COLUMNS: &str = "appointments (id, organization_id, patient_id, provider_id, location_id, start_at, \
     end_at, time_zone, visit_type, status, source_system, source_id, version, created_at, updated_at)";

fn row_values(
    org: OrganizationId,
    id: AppointmentId,
    d: &AppointmentDetails,
    zone: &TimeZoneName,
    now: Timestamp,
) -> Vec<Arg> {
    let mut values: Vec<Arg> = vec![id.to_string().into(), org.to_string().into()];
    values.extend(detail_values(d, zone));
    values.extend([1_i64.into(), now.into(), now.into()]);
    values
}

/// Checks that every record's patient, provider and location are this
/// organization's, with one query per kind whatever the number of records;
/// returns the zone of each location. `field` names a failing field of the
/// record at an index (`patient_id` alone, `[3].patient_id` in a batch).
async fn check_references(
    tx: &mut Tx,
    org: OrganizationId,
    records: &[&AppointmentDetails],
    field: impl Fn(usize, &str) -> String,
) -> Result<HashMap<LocationId, TimeZoneName>, StoreError> {
    let patients: Vec<String> = distinct(records.iter().map(|d| d.patient_id.to_string()));
    let providers: Vec<String> = distinct(records.iter().filter_map(|d| d.provider_id.map(|p| p.to_string())));
    let locations: Vec<String> = distinct(records.iter().map(|d| d.location_id.to_string()));
    let live_patients = super::ids_in(tx, "patients", "AND deleted_at IS NULL", org, &patients).await?;
    let known_providers = super::ids_in(tx, "providers", "", org, &providers).await?;
    let mut zones = HashMap::new();
    let locations: Vec<&str> = locations.iter().map(String::as_str).collect();
    let select = "SELECT id, time_zone FROM locations WHERE organization_id = $1";
    for row in tx.fetch_where_in(select, "id", vec![org.to_string().into()], &locations).await? {
        zones.insert(row.parsed::<LocationId>("id")?, super::patients::zone(&row.text("time_zone")?)?);
    }
    for (i, d) in records.iter().enumerate() {
        let unknown = |name: &str| StoreError::UnknownReference { field: field(i, name) };
        if !live_patients.contains(&d.patient_id.to_string()) {
            return Err(unknown("patient_id"));
        }
        if d.provider_id.is_some_and(|p| !known_providers.contains(&p.to_string())) {
            return Err(unknown("provider_id"));
        }
        if !zones.contains_key(&d.location_id) {
            return Err(unknown("location_id"));
        }
    }
    Ok(zones)
}

fn distinct(items: impl Iterator<Item = String>) -> Vec<String> {
    let set: HashSet<String> = items.collect();
    set.into_iter().collect()
}

/// The stored appointments holding any of `keys`, by (system, value).
async fn existing_by_source(
    tx: &mut Tx,
    org: OrganizationId,
    keys: &[&ExternalId],
) -> Result<HashMap<(String, String), Appointment>, StoreError> {
    let mut found = HashMap::new();
    for (system, values) in super::values_by_system(keys.iter().copied()) {
        let select = "SELECT * FROM appointments WHERE organization_id = $1 AND source_system = $2";
        let args = vec![org.to_string().into(), system.into()];
        for row in tx.fetch_where_in(select, "source_id", args, &values).await? {
            let appointment = appointment_from_row(&row)?;
            if let Some(source) = &appointment.details.source {
                found.insert((source.system.clone(), source.value.clone()), appointment);
            }
        }
    }
    Ok(found)
}

pub(super) async fn insert(
    tx: &mut Tx,
    org: OrganizationId,
    id: AppointmentId,
    d: &AppointmentDetails,
    zone: &TimeZoneName,
    now: Timestamp,
) -> Result<(), StoreError> {
    insert_rows(tx, APPOINTMENT_COLUMNS, vec![row_values(org, id, d, zone, now)]).await
}

/// [`check_references`] for one record; returns its location's zone.
async fn one_zone(tx: &mut Tx, org: OrganizationId, d: &AppointmentDetails) -> Result<TimeZoneName, StoreError> {
    let mut zones = check_references(tx, org, &[d], |_, name| name.to_owned()).await?;
    zones.remove(&d.location_id).ok_or(StoreError::Corrupt("location zone missing"))
}
