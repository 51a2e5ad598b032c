//! `rapport import patients FILE.csv`: one row per patient, upserted by MRN.
//!
//! Columns (by header, any order): `mrn`, `given_name`, `family_name` are
//! required; `birth_date` (YYYY-MM-DD), `sex`, `phone`, `phone_type`,
//! `email`, `language`, `time_zone`, `preferred_name`, `address_line`,
//! `city`, `state`, `postal_code` are optional. Aliases: `first_name`,
//! `last_name`, `dob`, `date_of_birth`, `gender`, `mobile`, `cell`,
//! `phone_number`, `email_address`, `zip`, `tz`, `lang`.

use std::io::Read;

use jiff::civil::Date;
use rapport_domain::patient::parse_name;
use rapport_domain::{
    Address, BirthDate, Email, ExternalId, LanguageTag, OrganizationId, PatientDetails, PatientEmail, PatientPhone,
    PhoneE164, PhoneKind, Sex, TimeZoneName,
};

use super::batch::Batcher;
use super::table::{ColumnSpec, Table, TableRow};
use super::{BATCH_ROWS, ImportError, ImportOptions, ImportReport, RowError};
use rapport_store::{PatientUpsert, Store};

const SPEC: ColumnSpec = ColumnSpec {
    required: &["mrn", "given_name", "family_name"],
    optional: &[
        "birth_date",
        "sex",
        "phone",
        "phone_type",
        "email",
        "language",
        "time_zone",
        "preferred_name",
        "address_line",
        "city",
        "state",
        "postal_code",
    ],
    aliases: &[
        ("first_name", "given_name"),
        ("last_name", "family_name"),
        ("surname", "family_name"),
        ("dob", "birth_date"),
        ("date_of_birth", "birth_date"),
        ("gender", "sex"),
        ("mobile", "phone"),
        ("cell", "phone"),
        ("phone_number", "phone"),
        ("email_address", "email"),
        ("zip", "postal_code"),
        ("zip_code", "postal_code"),
        ("tz", "time_zone"),
        ("lang", "language"),
        ("medical_record_number", "mrn"),
    ],
};

/// Imports patients from `input` into `org`; `progress` hears the row count.
pub async fn import_patients(
    store: &Store,
    org: OrganizationId,
    input: impl Read,
    options: &ImportOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportReport, ImportError> {
    let mut table = Table::open(input, &SPEC)?;
    let today = store.clock().latest_today();
    let write = async |records: &[PatientUpsert]| store.upsert_patients(org, records).await;
    let mut batcher = Batcher::new(options.strict, BATCH_ROWS);
    while let Some(row) = table.next_row() {
        match row.and_then(|r| parse_row(&r, today, &options.id_system).map(|p| (r.line, p))) {
            Ok((line, record)) => batcher.push(line, record, &write, progress).await?,
            Err(error) => batcher.fail(error),
        }
    }
    batcher.finish(&write, progress).await
}

fn parse_row(row: &TableRow<'_>, today: Date, id_system: &str) -> Result<PatientUpsert, RowError> {
    let required = |column: &str| row.get(column).ok_or_else(|| row.error(column, "is required"));
    let key = ExternalId::parse(id_system, required("mrn")?).map_err(|e| row.error("mrn", e))?;
    let given_name = parse_name(required("given_name")?).map_err(|e| row.error("given_name", e))?;
    let family_name = parse_name(required("family_name")?).map_err(|e| row.error("family_name", e))?;
    let optional = |column: &'static str| row.get(column);
    let birth_date = optional("birth_date")
        .map(|b| BirthDate::parse(b, today))
        .transpose()
        .map_err(|e| row.error("birth_date", e))?;
    let sex = optional("sex").unwrap_or("unknown").parse::<Sex>().map_err(|e| row.error("sex", e))?;
    let kind =
        optional("phone_type").unwrap_or("unknown").parse::<PhoneKind>().map_err(|e| row.error("phone_type", e))?;
    let phones = optional("phone")
        .map(|p| PhoneE164::parse(p).map(|number| PatientPhone { number, kind }))
        .transpose()
        .map_err(|e| row.error("phone", e))?;
    let emails = optional("email")
        .map(|e| Email::parse(e).map(|address| PatientEmail { address }))
        .transpose()
        .map_err(|e| row.error("email", e))?;
    let language = optional("language").map(LanguageTag::parse).transpose().map_err(|e| row.error("language", e))?;
    let time_zone =
        optional("time_zone").map(TimeZoneName::parse).transpose().map_err(|e| row.error("time_zone", e))?;
    let preferred_name =
        optional("preferred_name").map(parse_name).transpose().map_err(|e| row.error("preferred_name", e))?;
    let address = Address {
        line: optional("address_line").map(str::to_owned),
        city: optional("city").map(str::to_owned),
        state: optional("state").map(str::to_owned),
        postal_code: optional("postal_code").map(str::to_owned),
        country: None,
    };
    let details = PatientDetails {
        preferred_name,
        birth_date,
        sex,
        language,
        time_zone,
        address,
        phones: phones.into_iter().collect(),
        emails: emails.into_iter().collect(),
        external_ids: vec![key.clone()],
        ..PatientDetails::new(given_name, family_name)
    };
    Ok(PatientUpsert { key, details })
}
