//! `rapport import appointments FILE.csv`: one row per visit, upserted by
//! its source id.
//!
//! Columns: `id` (the source system's visit id), `mrn` (the patient's),
//! `location` (a location id or its exact name), `start`, `visit_type` are
//! required; `end` or `duration_minutes` (default 30), `provider_npi` or
//! `provider_id`, `status` (FHIR; default `booked`) are optional. `start`
//! and `end` are RFC 3339 with an offset, or a local `YYYY-MM-DD HH:MM` in
//! the location's zone (a time in a DST gap moves forward, an ambiguous one
//! takes the earlier instant). Aliases: `appointment_id`, `visit_id`,
//! `patient_mrn`, `location_name`, `npi`, `type`, `appointment_type`,
//! `duration`.

use std::collections::HashMap;
use std::io::Read;

use jiff::Timestamp;
use jiff::civil::DateTime;
use rapport_domain::{
    AppointmentDetails, AppointmentStatus, ExternalId, Location, OrganizationId, Provider, ProviderId,
};

use super::batch::Batcher;
use super::table::{ColumnSpec, Table, TableRow};
use super::{BATCH_ROWS, ImportError, ImportOptions, ImportReport, RowError};
use rapport_store::{AppointmentUpsert, Page, PageRequest, Store, StoreError};

const SPEC: ColumnSpec = ColumnSpec {
    required: &["id", "mrn", "location", "start", "visit_type"],
    optional: &["end", "duration_minutes", "provider_npi", "provider_id", "status"],
    aliases: &[
        ("appointment_id", "id"),
        ("visit_id", "id"),
        ("source_id", "id"),
        ("patient_mrn", "mrn"),
        ("location_name", "location"),
        ("location_id", "location"),
        ("npi", "provider_npi"),
        ("type", "visit_type"),
        ("appointment_type", "visit_type"),
        ("duration", "duration_minutes"),
    ],
};

/// The organization's locations and providers, looked up by the file's words.
struct Directory {
    locations: Vec<Location>,
    providers: Vec<Provider>,
}

impl Directory {
    async fn load(store: &Store, org: OrganizationId) -> Result<Self, StoreError> {
        let locations = all_pages(async |page| store.list_locations(org, page).await).await?;
        let providers = all_pages(async |page| store.list_providers(org, page).await).await?;
        Ok(Self { locations, providers })
    }

    fn location(&self, word: &str) -> Option<&Location> {
        self.locations.iter().find(|l| l.id.to_string() == word || l.name.eq_ignore_ascii_case(word))
    }

    fn provider_by_npi(&self, npi: &str) -> Option<ProviderId> {
        self.providers.iter().find(|p| p.npi.as_ref().is_some_and(|n| n.as_str() == npi)).map(|p| p.id)
    }

    fn provider_by_id(&self, id: &str) -> Option<ProviderId> {
        self.providers.iter().find(|p| p.id.to_string() == id).map(|p| p.id)
    }
}

/// Every item of a paged list.
async fn all_pages<T>(fetch: impl AsyncFn(&PageRequest) -> Result<Page<T>, StoreError>) -> Result<Vec<T>, StoreError> {
    let mut items = Vec::new();
    let mut page = PageRequest::first(PageRequest::MAX_LIMIT);
    loop {
        let result = fetch(&page).await?;
        items.extend(result.items);
        match result.next_cursor {
            Some(cursor) => page.after = Some(cursor),
            None => return Ok(items),
        }
    }
}

/// Imports appointments from `input` into `org`.
pub async fn import_appointments(
    store: &Store,
    org: OrganizationId,
    input: impl Read,
    options: &ImportOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportReport, ImportError> {
    let mut table = Table::open(input, &SPEC)?;
    let directory = Directory::load(store, org).await?;
    let mut patients: HashMap<String, Option<rapport_domain::PatientId>> = HashMap::new();
    let write = async |records: &[AppointmentUpsert]| store.upsert_appointments(org, records).await;
    let mut batcher = Batcher::new(options.strict, BATCH_ROWS);
    while let Some(row) = table.next_row() {
        let row = match row {
            Ok(row) => row,
            Err(error) => {
                batcher.fail(error);
                continue;
            }
        };
        let mrn = row.get("mrn").unwrap_or_default().to_owned();
        if !patients.contains_key(&mrn) {
            let found = store.find_patient_by_external_id(org, &options.id_system, &mrn).await?;
            patients.insert(mrn.clone(), found);
        }
        let patient = patients.get(&mrn).copied().flatten();
        match parse_row(&row, &directory, patient, &options.source_system) {
            Ok(record) => batcher.push(row.line, record, &write, progress).await?,
            Err(error) => batcher.fail(error),
        }
    }
    batcher.finish(&write, progress).await
}

fn parse_row(
    row: &TableRow<'_>,
    directory: &Directory,
    patient: Option<rapport_domain::PatientId>,
    source_system: &str,
) -> Result<AppointmentUpsert, RowError> {
    let required = |column: &str| row.get(column).ok_or_else(|| row.error(column, "is required"));
    let source = ExternalId::parse(source_system, required("id")?).map_err(|e| row.error("id", e))?;
    required("mrn")?;
    let patient_id = patient.ok_or_else(|| row.error("mrn", "names no patient of this organization"))?;
    let location = directory
        .location(required("location")?)
        .ok_or_else(|| row.error("location", "names no location of this organization"))?;
    let tz = location.time_zone.tz();
    let start = instant(required("start")?, &tz).map_err(|e| row.error("start", e))?;
    let end = match (row.get("end"), row.get("duration_minutes")) {
        (Some(end), _) => instant(end, &tz).map_err(|e| row.error("end", e))?,
        (None, minutes) => {
            let minutes: i64 = minutes
                .unwrap_or("30")
                .parse()
                .ok()
                .filter(|m| (1..=1440).contains(m))
                .ok_or_else(|| row.error("duration_minutes", "must be a whole number from 1 to 1440"))?;
            start + jiff::SignedDuration::from_mins(minutes)
        }
    };
    let provider_id = match (row.get("provider_npi"), row.get("provider_id")) {
        (Some(npi), _) => Some(
            directory
                .provider_by_npi(npi)
                .ok_or_else(|| row.error("provider_npi", "names no provider of this organization"))?,
        ),
        (None, Some(id)) => Some(
            directory
                .provider_by_id(id)
                .ok_or_else(|| row.error("provider_id", "names no provider of this organization"))?,
        ),
        (None, None) => None,
    };
    let status =
        row.get("status").unwrap_or("booked").parse::<AppointmentStatus>().map_err(|e| row.error("status", e))?;
    let visit_type = required("visit_type")?.to_owned();
    let details = AppointmentDetails {
        patient_id,
        provider_id,
        location_id: location.id,
        start,
        end,
        visit_type,
        status,
        source: Some(source),
    };
    details.check_span().map_err(|e| row.error("end", e))?;
    Ok(AppointmentUpsert { details })
}

/// RFC 3339, or local wall-clock time in `tz`.
fn instant(raw: &str, tz: &jiff::tz::TimeZone) -> Result<Timestamp, &'static str> {
    if let Ok(t) = raw.parse::<Timestamp>() {
        return Ok(t);
    }
    let local: DateTime = raw.replacen(' ', "T", 1).parse().map_err(|_| "is not RFC 3339 nor YYYY-MM-DD HH:MM")?;
    local.to_zoned(tz.clone()).map(|z| z.timestamp()).map_err(|_| "is not a time that exists in the location's zone")
}
