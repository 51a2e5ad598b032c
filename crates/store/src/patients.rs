//! Patients: the registry's records with their contact points, identifiers,
//! codes (conditions and tags) and caregivers; search; bulk upsert by an
//! external id for imports and feeds.

use std::collections::HashMap;

use rapport_domain::patient::name_search_key;
use rapport_domain::{
    BirthDate, Caregiver, Email, ExternalId, OrganizationId, Patient, PatientDetails, PatientEmail, PatientId,
    PatientPhone, PhoneKind, QuietHours, TimeZoneName,
};
use sqlx::AssertSqlSafe;

use super::codec::{
    address_from_text, address_to_text, channels_from_text, channels_to_text, hhmm, map_from_text, map_to_text,
};
use super::db::{Arg, Row, Tx, args, insert_rows, placeholders};
use super::versioned::{self, Target, Versioned};
use super::{Store, StoreError, UpsertOutcome};

/// One record of a bulk upsert, matched on `key`.
#[derive(Debug, Clone)]
pub struct PatientUpsert {
    pub key: ExternalId,
    pub details: PatientDetails,
}

const PATIENT_COLUMNS: &str = "patients (id, organization_id, given_name, family_name, given_key, family_key, preferred_name, \
     birth_date, sex, gender_identity, language, time_zone, address, channel_order, quiet_start, quiet_end, attributes, \
     version, created_at, updated_at)";
const CONTACT_COLUMNS: &str = "patient_contacts (patient_id, organization_id, system, position, value, kind)";
const IDENTIFIER_COLUMNS: &str = "patient_identifiers (organization_id, system, value, patient_id)";
const CODE_COLUMNS: &str = "patient_codes (patient_id, organization_id, kind, code)";
const CAREGIVER_COLUMNS: &str = "patient_caregivers (patient_id, caregiver_id, relationship)";

pub(super) fn zone(text: &str) -> Result<TimeZoneName, StoreError> {
    TimeZoneName::parse(text).map_err(|_| StoreError::Corrupt("bad time zone"))
}

/// The values of the patient columns that come from `details` (3rd to 17th).
fn detail_values(d: &PatientDetails) -> Vec<Arg> {
    vec![
        d.given_name.clone().into(),
        d.family_name.clone().into(),
        name_search_key(&d.given_name).into(),
        name_search_key(&d.family_name).into(),
        d.preferred_name.clone().into(),
        d.birth_date.map(|b| b.to_string()).into(),
        d.sex.as_str().into(),
        d.gender_identity.clone().into(),
        d.language.as_ref().map(|l| l.as_str().to_owned()).into(),
        d.time_zone.as_ref().map(|z| z.as_str().to_owned()).into(),
        address_to_text(&d.address).into(),
        channels_to_text(&d.channel_order).into(),
        d.quiet_hours.map(|q| hhmm(q.start)).into(),
        d.quiet_hours.map(|q| hhmm(q.end)).into(),
        map_to_text(&d.attributes).into(),
    ]
}

const DETAIL_SETS: &str = "given_name = $1, family_name = $2, given_key = $3, family_key = $4, preferred_name = $5, \
     birth_date = $6, sex = $7, gender_identity = $8, language = $9, time_zone = $10, address = $11, \
     channel_order = $12, quiet_start = $13, quiet_end = $14, attributes = $15";

fn patient_row(id: PatientId, org: OrganizationId, d: &PatientDetails, now: jiff::Timestamp) -> Vec<Arg> {
    let mut row: Vec<Arg> = vec![id.to_string().into(), org.to_string().into()];
    row.extend(detail_values(d));
    row.extend([1_i64.into(), now.into(), now.into()]);
    row
}

fn contact_rows(org: OrganizationId, id: PatientId, d: &PatientDetails) -> Vec<Vec<Arg>> {
    let phones = d.phones.iter().enumerate().map(|(i, p)| {
        vec![
            id.to_string().into(),
            org.to_string().into(),
            "phone".into(),
            (i as i64).into(),
            p.number.as_str().into(),
            p.kind.as_str().into(),
        ]
    });
    let emails = d.emails.iter().enumerate().map(|(i, e)| {
        vec![
            id.to_string().into(),
            org.to_string().into(),
            "email".into(),
            (i as i64).into(),
            e.address.as_str().into(),
            Arg::Text(None),
        ]
    });
    phones.chain(emails).collect()
}

fn identifier_rows(org: OrganizationId, id: PatientId, ids: &[ExternalId]) -> Vec<Vec<Arg>> {
    ids.iter()
        .map(|x| vec![org.to_string().into(), x.system.clone().into(), x.value.clone().into(), id.to_string().into()])
        .collect()
}

fn code_rows(org: OrganizationId, id: PatientId, d: &PatientDetails) -> Vec<Vec<Arg>> {
    let conditions = d.conditions.iter().map(|c| ("condition", c.as_str().to_owned()));
    let tags = d.tags.iter().map(|t| ("tag", t.clone()));
    conditions
        .chain(tags)
        .map(|(kind, code)| vec![id.to_string().into(), org.to_string().into(), kind.into(), code.into()])
        .collect()
}

fn caregiver_rows(id: PatientId, d: &PatientDetails) -> Vec<Vec<Arg>> {
    d.caregivers
        .iter()
        .map(|c| vec![id.to_string().into(), c.patient_id.to_string().into(), c.relationship.clone().into()])
        .collect()
}

/// Children of one patient, read back in one query per table for a page.
#[derive(Default)]
struct Children {
    phones: Vec<PatientPhone>,
    emails: Vec<PatientEmail>,
    external_ids: Vec<ExternalId>,
    conditions: Vec<rapport_domain::Icd10Code>,
    tags: Vec<String>,
    caregivers: Vec<Caregiver>,
}

fn patient_from_row(r: &Row, children: Children) -> Result<Patient, StoreError> {
    let quiet_hours = match (r.opt_text("quiet_start")?, r.opt_text("quiet_end")?) {
        (Some(s), Some(e)) => Some(QuietHours::parse(&s, &e).map_err(|_| StoreError::Corrupt("bad quiet hours"))?),
        _ => None,
    };
    let birth_date = r
        .opt_text("birth_date")?
        .map(|b| b.parse().map(BirthDate::from_date).map_err(|_| StoreError::Corrupt("bad birth date")))
        .transpose()?;
    Ok(Patient {
        id: r.parsed("id")?,
        organization_id: r.parsed("organization_id")?,
        version: r.int("version")?,
        created_at: r.timestamp("created_at")?,
        updated_at: r.timestamp("updated_at")?,
        details: PatientDetails {
            given_name: r.text("given_name")?,
            family_name: r.text("family_name")?,
            preferred_name: r.opt_text("preferred_name")?,
            birth_date,
            sex: r.parsed("sex")?,
            gender_identity: r.opt_text("gender_identity")?,
            language: r
                .opt_text("language")?
                .map(|l| rapport_domain::LanguageTag::parse(&l).map_err(|_| StoreError::Corrupt("bad language")))
                .transpose()?,
            time_zone: r.opt_text("time_zone")?.map(|z| zone(&z)).transpose()?,
            address: address_from_text(&r.text("address")?)?,
            phones: children.phones,
            emails: children.emails,
            channel_order: channels_from_text(&r.text("channel_order")?)?,
            quiet_hours,
            conditions: children.conditions,
            tags: children.tags,
            attributes: map_from_text(&r.text("attributes")?)?,
            external_ids: children.external_ids,
            caregivers: children.caregivers,
        },
    })
}

impl Store {
    pub async fn create_patient(&self, org: OrganizationId, details: &PatientDetails) -> Result<Patient, StoreError> {
        let id = PatientId::generate();
        let mut tx = self.db.begin().await?;
        check_caregivers(&mut tx, org, id, details).await?;
        insert_rows(&mut tx, PATIENT_COLUMNS, vec![patient_row(id, org, details, self.clock.now())]).await?;
        insert_children(&mut tx, org, id, details).await?;
        tx.commit().await?;
        self.get_patient(org, id).await
    }

    /// A live patient; the id of a record merged into another (ADT A40)
    /// gives the survivor.
    pub async fn get_patient(&self, org: OrganizationId, id: PatientId) -> Result<Patient, StoreError> {
        let live = |id: PatientId| {
            self.db.fetch_optional(
                "SELECT * FROM patients WHERE organization_id = $1 AND id = $2 AND deleted_at IS NULL",
                args([org.to_string().into(), id.to_string().into()]),
            )
        };
        let row = match live(id).await? {
            Some(row) => row,
            None => live(self.resolve_patient(org, id).await?).await?.ok_or(StoreError::NotFound)?,
        };
        self.hydrate(vec![row]).await?.pop().ok_or(StoreError::NotFound)
    }

    /// Replaces the details of a patient read at version `expected`.
    pub async fn update_patient(
        &self,
        org: OrganizationId,
        id: PatientId,
        expected: i64,
        details: &PatientDetails,
    ) -> Result<Patient, StoreError> {
        let mut tx = self.db.begin().await?;
        check_caregivers(&mut tx, org, id, details).await?;
        let target = Target { table: Versioned::Patients, tenant: org.to_string(), id: id.to_string(), expected };
        versioned::update(&mut tx, target, DETAIL_SETS, detail_values(details), self.clock.now()).await?;
        delete_children(&mut tx, id).await?;
        insert_children(&mut tx, org, id, details).await?;
        tx.commit().await?;
        self.get_patient(org, id).await
    }

    /// Soft delete: the patient leaves lists and lookups; history stays for
    /// the audit trail, and the external ids stay reserved.
    pub async fn delete_patient(
        &self,
        org: OrganizationId,
        id: PatientId,
        expected: Option<i64>,
    ) -> Result<(), StoreError> {
        let current = self.get_patient(org, id).await?;
        let mut tx = self.db.begin().await?;
        let target = Target {
            table: Versioned::Patients,
            tenant: org.to_string(),
            id: id.to_string(),
            expected: expected.unwrap_or(current.version),
        };
        let now = self.clock.now();
        versioned::update(&mut tx, target, "deleted_at = $1", args([now.into()]), now).await?;
        tx.commit().await
    }

    /// Creates or updates patients matched on `key` (an MRN), in one
    /// transaction: the whole batch lands or none of it. An update overwrites
    /// names, birth date, sex, language, zone and address, replaces phones and
    /// emails when the record has any, and leaves consents, conditions, tags,
    /// attributes and caregivers as they were. A deleted patient is restored.
    pub async fn upsert_patients(
        &self,
        org: OrganizationId,
        records: &[PatientUpsert],
    ) -> Result<Vec<UpsertOutcome<PatientId>>, StoreError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let mut known = existing_keys(&mut tx, org, records).await?;
        let mut outcomes = Vec::with_capacity(records.len());
        let mut new_rows: Vec<(PatientId, &PatientUpsert)> = Vec::new();
        let mut updates: Vec<(PatientId, &PatientUpsert)> = Vec::new();
        for record in records {
            let key = (record.key.system.clone(), record.key.value.clone());
            match known.get(&key) {
                Some(&id) => {
                    updates.push((id, record));
                    outcomes.push(UpsertOutcome::Updated(id));
                }
                None => {
                    let id = PatientId::generate();
                    known.insert(key, id);
                    new_rows.push((id, record));
                    outcomes.push(UpsertOutcome::Created(id));
                }
            }
        }
        // A key repeated within the batch: the first occurrence is inserted,
        // later ones update it, in order, as if they had come one by one.
        let patients = new_rows.iter().map(|(id, r)| patient_row(*id, org, &r.details, now)).collect();
        insert_rows(&mut tx, PATIENT_COLUMNS, patients).await?;
        let mut contacts = Vec::new();
        let mut identifiers = Vec::new();
        let mut codes = Vec::new();
        for (id, r) in &new_rows {
            contacts.extend(contact_rows(org, *id, &r.details));
            let mut ids = vec![r.key.clone()];
            ids.extend(r.details.external_ids.iter().filter(|x| **x != r.key).cloned());
            identifiers.extend(identifier_rows(org, *id, &ids));
            codes.extend(code_rows(org, *id, &r.details));
        }
        insert_rows(&mut tx, CONTACT_COLUMNS, contacts).await?;
        insert_rows(&mut tx, IDENTIFIER_COLUMNS, identifiers).await?;
        insert_rows(&mut tx, CODE_COLUMNS, codes).await?;
        for (id, record) in updates {
            update_demographics(&mut tx, org, id, &record.details, now).await?;
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    /// The live patient holding external id `system|value`, if any.
    pub async fn find_patient_by_external_id(
        &self,
        org: OrganizationId,
        system: &str,
        value: &str,
    ) -> Result<Option<PatientId>, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT i.patient_id FROM patient_identifiers i JOIN patients p ON p.id = i.patient_id \
                 WHERE i.organization_id = $1 AND i.system = $2 AND i.value = $3 AND p.deleted_at IS NULL",
                args([org.to_string().into(), system.into(), value.into()]),
            )
            .await?;
        row.map(|r| r.parsed("patient_id")).transpose()
    }

    /// Loads the children of `rows` in one round trip: the four child tables
    /// as one `UNION ALL` of (patient, kind, a, b, c, n) rows.
    pub(super) async fn hydrate(&self, rows: Vec<Row>) -> Result<Vec<Patient>, StoreError> {
        self.hydrate_with(rows, false).await
    }

    /// Like `hydrate`, with the contacts only (identifiers, codes and
    /// caregivers left empty): what messaging a patient needs.
    pub(super) async fn hydrate_contacts(&self, rows: Vec<Row>) -> Result<Vec<Patient>, StoreError> {
        self.hydrate_with(rows, true).await
    }

    async fn hydrate_with(&self, rows: Vec<Row>, contacts_only: bool) -> Result<Vec<Patient>, StoreError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = rows.iter().map(|r| r.text("id")).collect::<Result<_, _>>()?;
        let mut children: HashMap<String, Children> = ids.iter().map(|id| (id.clone(), Children::default())).collect();
        let list = placeholders(1, ids.len());
        let contacts = format!(
            "SELECT patient_id, system AS kind, value AS a, kind AS b, position AS n FROM patient_contacts \
               WHERE patient_id IN ({list})"
        );
        let sql = if contacts_only {
            format!("{contacts} ORDER BY 1, 2, 5, 3")
        } else {
            format!(
                "{contacts} \
                 UNION ALL SELECT patient_id, 'identifier', value, system, 0 FROM patient_identifiers \
                   WHERE patient_id IN ({list}) \
                 UNION ALL SELECT patient_id, kind, code, NULL, 0 FROM patient_codes WHERE patient_id IN ({list}) \
                 UNION ALL SELECT patient_id, 'caregiver', caregiver_id, relationship, 0 FROM patient_caregivers \
                   WHERE patient_id IN ({list}) \
                 ORDER BY 1, 2, 5, 3"
            )
        };
        let args = ids.iter().map(|i| Arg::from(i.clone())).collect();
        for r in self.db.fetch_all(AssertSqlSafe(sql), args).await? {
            let Some(c) = children.get_mut(&r.text("patient_id")?) else { continue };
            add_child(c, &r)?;
        }
        rows.iter().zip(&ids).map(|(row, id)| patient_from_row(row, children.remove(id).unwrap_or_default())).collect()
    }
}

/// One row of `hydrate`'s union into the patient's children.
fn add_child(c: &mut Children, r: &Row) -> Result<(), StoreError> {
    match r.text("kind")?.as_str() {
        "phone" => c.phones.push(PatientPhone {
            number: r.parsed("a")?,
            kind: r.opt_parsed::<PhoneKind>("b")?.unwrap_or(PhoneKind::Unknown),
        }),
        "email" => c
            .emails
            .push(PatientEmail { address: Email::parse(&r.text("a")?).map_err(|_| StoreError::Corrupt("bad email"))? }),
        "identifier" => c.external_ids.push(ExternalId { system: r.text("b")?, value: r.text("a")? }),
        "condition" => c
            .conditions
            .push(rapport_domain::Icd10Code::parse(&r.text("a")?).map_err(|_| StoreError::Corrupt("bad ICD-10"))?),
        "tag" => c.tags.push(r.text("a")?),
        "caregiver" => c.caregivers.push(Caregiver { patient_id: r.parsed("a")?, relationship: r.text("b")? }),
        _ => return Err(StoreError::Corrupt("unknown child row kind")),
    }
    Ok(())
}

async fn insert_children(
    tx: &mut Tx,
    org: OrganizationId,
    id: PatientId,
    d: &PatientDetails,
) -> Result<(), StoreError> {
    insert_rows(tx, CONTACT_COLUMNS, contact_rows(org, id, d)).await?;
    insert_rows(tx, IDENTIFIER_COLUMNS, identifier_rows(org, id, &d.external_ids)).await?;
    insert_rows(tx, CODE_COLUMNS, code_rows(org, id, d)).await?;
    insert_rows(tx, CAREGIVER_COLUMNS, caregiver_rows(id, d)).await
}

async fn delete_children(tx: &mut Tx, id: PatientId) -> Result<(), StoreError> {
    for table in ["patient_contacts", "patient_identifiers", "patient_codes", "patient_caregivers"] {
        let sql = format!("DELETE FROM {table} WHERE patient_id = $1");
        tx.execute(AssertSqlSafe(sql), args([id.to_string().into()])).await?;
    }
    Ok(())
}

/// Caregivers must be other live patients of the same organization.
async fn check_caregivers(
    tx: &mut Tx,
    org: OrganizationId,
    id: PatientId,
    d: &PatientDetails,
) -> Result<(), StoreError> {
    for (i, caregiver) in d.caregivers.iter().enumerate() {
        let found = tx
            .fetch_optional(
                "SELECT id FROM patients WHERE organization_id = $1 AND id = $2 AND deleted_at IS NULL",
                args([org.to_string().into(), caregiver.patient_id.to_string().into()]),
            )
            .await?;
        if found.is_none() || caregiver.patient_id == id {
            return Err(StoreError::UnknownReference { field: format!("caregivers[{i}].patient_id") });
        }
    }
    Ok(())
}

async fn existing_keys(
    tx: &mut Tx,
    org: OrganizationId,
    records: &[PatientUpsert],
) -> Result<HashMap<(String, String), PatientId>, StoreError> {
    let mut known = HashMap::new();
    for (system, values) in super::values_by_system(records.iter().map(|r| &r.key)) {
        let select = "SELECT system, value, patient_id FROM patient_identifiers \
                      WHERE organization_id = $1 AND system = $2";
        let args = vec![org.to_string().into(), system.into()];
        for row in tx.fetch_where_in(select, "value", args, &values).await? {
            known.insert((row.text("system")?, row.text("value")?), row.parsed("patient_id")?);
        }
    }
    Ok(known)
}

async fn update_demographics(
    tx: &mut Tx,
    org: OrganizationId,
    id: PatientId,
    d: &PatientDetails,
    now: jiff::Timestamp,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE patients SET given_name = $1, family_name = $2, given_key = $3, family_key = $4, birth_date = $5, \
         sex = $6, language = $7, time_zone = $8, address = $9, deleted_at = NULL, version = version + 1, updated_at = $10 \
         WHERE organization_id = $11 AND id = $12",
        args([
            d.given_name.clone().into(),
            d.family_name.clone().into(),
            name_search_key(&d.given_name).into(),
            name_search_key(&d.family_name).into(),
            d.birth_date.map(|b| b.to_string()).into(),
            d.sex.as_str().into(),
            d.language.as_ref().map(|l| l.as_str().to_owned()).into(),
            d.time_zone.as_ref().map(|z| z.as_str().to_owned()).into(),
            address_to_text(&d.address).into(),
            now.into(),
            org.to_string().into(),
            id.to_string().into(),
        ]),
    )
    .await?;
    if !d.phones.is_empty() || !d.emails.is_empty() {
        tx.execute("DELETE FROM patient_contacts WHERE patient_id = $1", args([id.to_string().into()])).await?;
        insert_rows(tx, CONTACT_COLUMNS, contact_rows(org, id, d)).await?;
    }
    Ok(())
}
