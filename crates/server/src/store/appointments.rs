//! Appointments: who is seen, where, when, and in what state. The zone of an
//! appointment is its location's, resolved at write time.

use std::collections::HashMap;

use jiff::Timestamp;
use rapport_domain::{
    Appointment, AppointmentDetails, AppointmentId, AppointmentStatus, ExternalId, OrganizationId, TimeZoneName,
};
use sqlx::AssertSqlSafe;

use super::db::{Arg, Row, Tx, args};
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
}

/// One record of a bulk upsert; `details.source` is the key.
#[derive(Debug, Clone)]
pub struct AppointmentUpsert {
    pub details: AppointmentDetails,
}

fn appointment_from_row(r: &Row) -> Result<Appointment, StoreError> {
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
        let zone = check_references(&mut tx, org, d).await?;
        insert(&mut tx, org, id, d, &zone, self.clock.now()).await?;
        tx.commit().await?;
        self.get_appointment(org, id).await
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
        let zone = check_references(&mut tx, org, d).await?;
        let target = Target { table: Versioned::Appointments, tenant: org.to_string(), id: id.to_string(), expected };
        versioned::update(&mut tx, target, DETAIL_SETS, detail_values(d, &zone), self.clock.now()).await?;
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
        let deleted = self
            .db
            .execute(
                "DELETE FROM appointments WHERE organization_id = $1 AND id = $2 AND version = $3",
                args([org.to_string().into(), id.to_string().into(), version.into()]),
            )
            .await?;
        if deleted == 1 { Ok(()) } else { Err(StoreError::StaleVersion { expected: version, actual: current.version }) }
    }

    pub async fn list_appointments(
        &self,
        org: OrganizationId,
        query: &AppointmentQuery,
        page: &PageRequest,
    ) -> Result<Page<Appointment>, StoreError> {
        let mut sql = String::from("SELECT * FROM appointments WHERE organization_id = $1");
        let mut values: Vec<Arg> = vec![org.to_string().into()];
        let filters: [(&str, Option<Arg>); 7] = [
            ("patient_id =", query.patient_id.map(|p| p.to_string().into())),
            ("provider_id =", query.provider_id.map(|p| p.to_string().into())),
            ("location_id =", query.location_id.map(|l| l.to_string().into())),
            ("status =", query.status.map(|s| s.as_str().into())),
            ("start_at >=", query.from.map(Arg::from)),
            ("start_at <", query.to.map(Arg::from)),
            ("id >", page.after.clone().map(Arg::from)),
        ];
        for (condition, value) in filters {
            if let Some(value) = value {
                values.push(value);
                sql.push_str(&format!(" AND {condition} ${}", values.len()));
            }
        }
        values.push(((page.limit() + 1) as i64).into());
        sql.push_str(&format!(" ORDER BY id LIMIT ${}", values.len()));
        let rows = self.db.fetch_all(AssertSqlSafe(sql), values).await?;
        let items = rows.iter().map(appointment_from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(paginate(items, page.limit(), |a| a.id.to_string()))
    }

    /// Creates or updates appointments keyed on their source id, all in one
    /// transaction. An unchanged record keeps its version, so a feed that
    /// sends the same visit again does not look like a reschedule.
    pub async fn upsert_appointments(
        &self,
        org: OrganizationId,
        records: &[AppointmentUpsert],
    ) -> Result<Vec<super::UpsertOutcome<AppointmentId>>, StoreError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let mut zones: HashMap<String, TimeZoneName> = HashMap::new();
        let mut outcomes = Vec::with_capacity(records.len());
        for (i, record) in records.iter().enumerate() {
            let d = &record.details;
            let source = d.source.as_ref().ok_or(StoreError::UnknownReference { field: format!("[{i}].source") })?;
            let zone = match zones.get(&d.location_id.to_string()) {
                Some(z) if d.provider_id.is_none() => z.clone(),
                _ => {
                    let z = check_references(&mut tx, org, d).await?;
                    zones.insert(d.location_id.to_string(), z.clone());
                    z
                }
            };
            let existing = tx
                .fetch_optional(
                    "SELECT * FROM appointments WHERE organization_id = $1 AND source_system = $2 AND source_id = $3",
                    args([org.to_string().into(), source.system.clone().into(), source.value.clone().into()]),
                )
                .await?;
            match existing {
                None => {
                    let id = AppointmentId::generate();
                    insert(&mut tx, org, id, d, &zone, now).await?;
                    outcomes.push(super::UpsertOutcome::Created(id));
                }
                Some(row) => {
                    let current = appointment_from_row(&row)?;
                    if current.details != *d {
                        let target = Target {
                            table: Versioned::Appointments,
                            tenant: org.to_string(),
                            id: current.id.to_string(),
                            expected: current.version,
                        };
                        versioned::update(&mut tx, target, DETAIL_SETS, detail_values(d, &zone), now).await?;
                    }
                    outcomes.push(super::UpsertOutcome::Updated(current.id));
                }
            }
        }
        tx.commit().await?;
        Ok(outcomes)
    }
}

async fn insert(
    tx: &mut Tx,
    org: OrganizationId,
    id: AppointmentId,
    d: &AppointmentDetails,
    zone: &TimeZoneName,
    now: Timestamp,
) -> Result<(), StoreError> {
    let mut values: Vec<Arg> = vec![id.to_string().into(), org.to_string().into()];
    values.extend(detail_values(d, zone));
    values.extend([now.into(), now.into()]);
    tx.execute(
        "INSERT INTO appointments (id, organization_id, patient_id, provider_id, location_id, start_at, end_at, time_zone, \
         visit_type, status, source_system, source_id, version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, $13, $14)",
        values,
    )
    .await?;
    Ok(())
}

/// The patient, location and provider must be this organization's; returns
/// the location's zone.
async fn check_references(
    tx: &mut Tx,
    org: OrganizationId,
    d: &AppointmentDetails,
) -> Result<TimeZoneName, StoreError> {
    let unknown = |field: &str| StoreError::UnknownReference { field: field.to_owned() };
    tx.fetch_optional(
        "SELECT id FROM patients WHERE organization_id = $1 AND id = $2 AND deleted_at IS NULL",
        args([org.to_string().into(), d.patient_id.to_string().into()]),
    )
    .await?
    .ok_or_else(|| unknown("patient_id"))?;
    if let Some(provider) = d.provider_id {
        tx.fetch_optional(
            "SELECT id FROM providers WHERE organization_id = $1 AND id = $2",
            args([org.to_string().into(), provider.to_string().into()]),
        )
        .await?
        .ok_or_else(|| unknown("provider_id"))?;
    }
    let location = tx
        .fetch_optional(
            "SELECT time_zone FROM locations WHERE organization_id = $1 AND id = $2",
            args([org.to_string().into(), d.location_id.to_string().into()]),
        )
        .await?
        .ok_or_else(|| unknown("location_id"))?;
    super::patients::zone(&location.text("time_zone")?)
}
