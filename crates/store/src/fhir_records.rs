//! FHIR resources kept as they were sent, not acted on (see migration
//! 0024): each one's body, the patient it is about, its first identifier
//! (a conditional create finds the newest with it) and, for an organization, its name.

use jiff::Timestamp;
use rapport_domain::{ExternalId, OrganizationId, PatientId};

use super::db::{Arg, Row, args};
use super::versioned::{self, Target, Versioned};
use super::{Page, PageRequest, Store, StoreError, paginate};

/// One kept resource.
#[derive(Debug, Clone, PartialEq)]
pub struct FhirRecord {
    pub id: String,
    pub resource_type: String,
    pub patient_id: Option<PatientId>,
    pub identifier: Option<ExternalId>,
    pub name: Option<String>,
    /// The resource as sent, without `id` and `meta`.
    pub body: serde_json::Value,
    pub version: i64,
    pub updated_at: Timestamp,
}

/// What a search of kept resources of one type narrows by.
#[derive(Debug, Clone, Default)]
pub struct FhirRecordQuery {
    pub patient_id: Option<PatientId>,
    /// An empty system matches the value under any system.
    pub identifier: Option<ExternalId>,
    /// The start of the name (any case).
    pub name: Option<String>,
}

fn record_from_row(r: &Row) -> Result<FhirRecord, StoreError> {
    let identifier = match (r.opt_text("identifier_system")?, r.opt_text("identifier_value")?) {
        (Some(system), Some(value)) => Some(ExternalId { system, value }),
        _ => None,
    };
    Ok(FhirRecord {
        id: r.text("id")?,
        resource_type: r.text("resource_type")?,
        patient_id: r.opt_parsed("patient_id")?,
        identifier,
        name: r.opt_text("name")?,
        body: serde_json::from_str(&r.text("body")?).map_err(|_| StoreError::Corrupt("a kept resource's body"))?,
        version: r.int("version")?,
        updated_at: r.timestamp("updated_at")?,
    })
}

impl Store {
    /// Keeps a new resource. A patient must be the organization's (else
    /// `UnknownReference { field: "patient_id" }`). Two may share an
    /// identifier, as FHIR allows.
    pub async fn keep_fhir_record(&self, org: OrganizationId, record: &FhirRecord) -> Result<FhirRecord, StoreError> {
        let mut tx = self.db.begin().await?;
        if let Some(patient) = record.patient_id {
            let found =
                super::ids_in(&mut tx, "patients", "AND deleted_at IS NULL", org, &[patient.to_string()]).await?;
            if found.is_empty() {
                return Err(StoreError::UnknownReference { field: "patient_id".into() });
            }
        }
        let key = record.identifier.as_ref();
        tx.execute(
            "INSERT INTO fhir_records (id, organization_id, resource_type, patient_id, identifier_system,
                 identifier_value, name, body, version, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9)",
            args([
                record.id.clone().into(),
                org.to_string().into(),
                record.resource_type.clone().into(),
                record.patient_id.map(|p| p.to_string()).into(),
                key.map(|k| k.system.clone()).into(),
                key.map(|k| k.value.clone()).into(),
                record.name.as_deref().map(str::to_lowercase).into(),
                record.body.to_string().into(),
                self.clock.now().into(),
            ]),
        )
        .await?;
        tx.commit().await?;
        self.fhir_record(org, &record.resource_type, &record.id).await
    }

    pub async fn fhir_record(&self, org: OrganizationId, kind: &str, id: &str) -> Result<FhirRecord, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT * FROM fhir_records WHERE organization_id = $1 AND resource_type = $2 AND id = $3",
                args([org.to_string().into(), kind.into(), id.into()]),
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        record_from_row(&row)
    }

    /// Replaces a kept resource's body (and name) at the version the caller
    /// read; its patient and identifier stay.
    pub async fn replace_fhir_record(
        &self,
        org: OrganizationId,
        record: &FhirRecord,
        expected: i64,
    ) -> Result<FhirRecord, StoreError> {
        let mut tx = self.db.begin().await?;
        let target = Target { table: Versioned::FhirRecords, tenant: org.to_string(), id: record.id.clone(), expected };
        versioned::update(
            &mut tx,
            target,
            "body = $1, name = $2",
            args([record.body.to_string().into(), record.name.as_deref().map(str::to_lowercase).into()]),
            self.clock.now(),
        )
        .await?;
        tx.commit().await?;
        self.fhir_record(org, &record.resource_type, &record.id).await
    }

    /// Kept resources of one type, newest first.
    pub async fn search_fhir_records(
        &self,
        org: OrganizationId,
        kind: &str,
        query: &FhirRecordQuery,
        page: &PageRequest,
    ) -> Result<Page<FhirRecord>, StoreError> {
        let mut sql = "SELECT * FROM fhir_records WHERE organization_id = $1 AND resource_type = $2".to_owned();
        let mut bound: Vec<Arg> = vec![org.to_string().into(), kind.into()];
        if let Some(name) = &query.name {
            bound.push(name.to_lowercase().into());
            sql.push_str(&format!(" AND substr(name, 1, length(${0})) = ${0}", bound.len()));
        }
        let key = query.identifier.as_ref();
        let filters: [(&str, Option<Arg>); 4] = [
            ("patient_id =", query.patient_id.map(|p| p.to_string().into())),
            ("identifier_system =", key.filter(|k| !k.system.is_empty()).map(|k| k.system.clone().into())),
            ("identifier_value =", key.map(|k| k.value.clone().into())),
            ("id <", page.after.clone().map(Arg::from)),
        ];
        for (condition, value) in filters {
            if let Some(value) = value {
                bound.push(value);
                sql.push_str(&format!(" AND {condition} ${}", bound.len()));
            }
        }
        bound.push(((page.limit() + 1) as i64).into());
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", bound.len()));
        let rows = self.db.fetch_all(sqlx::AssertSqlSafe(sql), bound).await?;
        let items = rows.iter().map(record_from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(paginate(items, page.limit(), |r| r.id.clone()))
    }
}
