//! `rapport import fhir PATH`: FHIR R4 resources from bulk-data NDJSON,
//! Bundles (transaction, collection …) or a directory of them, such as a
//! Synthea export. Taken, in this order so references resolve: Location
//! (a location), Organization (a location too, unless its sites came as
//! Locations), Practitioner (a provider), Patient (a registry record,
//! keyed by its `MR` identifier), then Encounter and Appointment (visits,
//! keyed by their identifier as source; a visit whose location is not a
//! site, such as a video visit at the patient's home, takes the first site
//! of its service provider). Each is idempotent: a location or
//! provider is found again through the code table (`fhir:Location`,
//! `fhir:Practitioner`), a patient by its key, a visit by its source, so a
//! second import updates and creates nothing. Other types (clinical
//! records) are counted as skipped, as is a Location that is a kind of
//! place (`mode: kind`) rather than a site, and an Organization whose
//! sites came as Locations.
//! A resource Rapport cannot take is reported (file, line or entry, type,
//! id, the element at fault) and the rest go on; new sites and providers
//! (`registry`), patients and visits land in batches, one transaction each.

pub mod map;
mod read;
mod registry;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use rapport_domain::{AppointmentDetails, LocationId, OrganizationId, PatientId, ProviderId};

use super::ImportError;
use rapport_store::{AppointmentUpsert, PatientUpsert, Store, StoreError, UpsertOutcome};
use read::{Found, read_path};

/// The resource types an import takes; the others are counted as skipped.
pub const TAKEN: [&str; 6] = ["Location", "Organization", "Practitioner", "Patient", "Encounter", "Appointment"];

/// Patients or visits per transaction.
const BATCH: usize = 1000;

/// What an import did, per resource type.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FhirReport {
    pub counts: BTreeMap<String, TypeCount>,
    pub failed: Vec<ResourceError>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TypeCount {
    pub read: u64,
    pub created: u64,
    pub updated: u64,
    /// Of a type Rapport does not take.
    pub skipped: u64,
    pub failed: u64,
}

/// One resource that was not taken, and why (naming elements, never values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceError {
    pub file: String,
    /// Its line (NDJSON) or entry (Bundle), from 1.
    pub place: u64,
    pub resource_type: String,
    pub id: String,
    pub reason: String,
}

impl fmt::Display for ResourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.resource_type.as_str() {
            "" => write!(f, "{}:{}: {}", self.file, self.place, self.reason),
            kind => write!(f, "{}:{}: {kind}/{}: {}", self.file, self.place, self.id, self.reason),
        }
    }
}

/// Rapport's records by every name a reference may use: `Type/id`, a
/// Bundle's `fullUrl`, `Type?identifier=system|value`.
#[derive(Default)]
struct Names {
    locations: HashMap<String, LocationId>,
    providers: HashMap<String, ProviderId>,
    patients: HashMap<String, PatientId>,
}

fn names_of(found: &Found, key: &rapport_domain::ExternalId) -> Vec<String> {
    let mut names = vec![format!("{}?identifier={}", found.resource_type, map::key_text(key))];
    if let Some(id) = found.resource.get("id").and_then(serde_json::Value::as_str) {
        names.push(format!("{}/{id}", found.resource_type));
    }
    names.extend(found.full_url.clone());
    names
}

impl FhirReport {
    fn count(&mut self, kind: &str) -> &mut TypeCount {
        self.counts.entry(kind.to_owned()).or_default()
    }

    fn fail(&mut self, error: ResourceError) {
        if !error.resource_type.is_empty() {
            self.count(&error.resource_type).failed += 1;
        }
        self.failed.push(error);
    }

    /// Resources taken so far (created or updated).
    pub fn taken(&self) -> u64 {
        self.counts.values().map(|c| c.created + c.updated).sum()
    }
}

/// Imports every resource under `path` into `org`; `progress` hears how
/// many resources were taken so far.
pub async fn import_fhir(
    store: &Store,
    org: OrganizationId,
    path: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<FhirReport, ImportError> {
    let (found, unreadable) = read_path(path)?;
    let mut report = FhirReport::default();
    for error in unreadable {
        report.fail(error);
    }
    let mut by_type: BTreeMap<String, Vec<Found>> = BTreeMap::new();
    for f in found {
        report.count(&f.resource_type).read += 1;
        by_type.entry(f.resource_type.clone()).or_default().push(f);
    }
    let mut take = |kind: &str| by_type.remove(kind).unwrap_or_default();
    let (locations, organizations) = (take("Location"), take("Organization"));
    let (practitioners, patients) = (take("Practitioner"), take("Patient"));
    let mut visits = take("Encounter");
    visits.extend(take("Appointment"));
    for (kind, rest) in by_type {
        report.count(&kind).skipped += rest.len() as u64;
    }
    let mut names = Names::default();
    let default_zone = store.get_organization(org).await?.time_zone;
    let place_of = |f: &Found| match f.resource_type.as_str() {
        "Organization" => map::organization(&f.resource).map(|(key, fields)| (key, fields, "fhir:Organization")),
        _ => map::location(&f.resource).map(|(key, fields)| (key, fields, "fhir:Location")),
    };
    // Organizations' names that their Locations brought.
    let mut sited = std::collections::HashSet::new();
    let mut sites = registry::Taking::default();
    for f in &locations {
        // A `kind` of place (a patient's home, an ambulance) is not a site.
        if f.resource.get("mode").and_then(serde_json::Value::as_str) == Some("kind") {
            report.count("Location").skipped += 1;
            continue;
        }
        let place = place_of(f);
        if place.is_ok() {
            sited.extend(map::managing_organization(&f.resource));
        }
        registry::take_place(store, org, f, place, &default_zone, &mut sites).await?;
    }
    for f in &organizations {
        let place = place_of(f);
        // An organization whose sites came as Locations is known by them already.
        if let Ok((key, ..)) = &place
            && names_of(f, key).iter().any(|n| sited.contains(n))
        {
            report.count("Organization").skipped += 1;
            continue;
        }
        registry::take_place(store, org, f, place, &default_zone, &mut sites).await?;
    }
    let (mut taken, mut again) = registry::finish(store, org, sites, &mut report).await?;
    while !again.is_empty() {
        let mut sites = registry::Taking::default();
        for f in again {
            registry::take_place(store, org, f, place_of(f), &default_zone, &mut sites).await?;
        }
        let (more, repeats) = registry::finish(store, org, sites, &mut report).await?;
        taken.extend(more);
        again = repeats;
    }
    names.locations.extend(registry::names(&taken));
    // The organization's first site stands for it, for visits whose place is not a site.
    for (f, _, id) in taken.iter().filter(|(f, ..)| f.resource_type == "Location") {
        for name in map::managing_organization(&f.resource) {
            names.locations.entry(name).or_insert(*id);
        }
    }
    let mut providers = registry::Taking::default();
    for f in &practitioners {
        registry::take_practitioner(store, org, f, &mut providers).await?;
    }
    let (mut taken, mut again) = registry::finish(store, org, providers, &mut report).await?;
    while !again.is_empty() {
        let mut providers = registry::Taking::default();
        for f in again {
            registry::take_practitioner(store, org, f, &mut providers).await?;
        }
        let (more, repeats) = registry::finish(store, org, providers, &mut report).await?;
        taken.extend(more);
        again = repeats;
    }
    names.providers.extend(registry::names(&taken));
    progress(report.taken());
    let today = store.clock().latest_today();
    let mut ready = Vec::new();
    for f in &patients {
        match map::patient(&f.resource, today) {
            Ok((key, details)) => ready.push((f, PatientUpsert { key, details })),
            Err(reason) => report.fail(f.error(reason)),
        }
    }
    for batch in ready.chunks(BATCH) {
        let records: Vec<PatientUpsert> = batch.iter().map(|(_, r)| r.clone()).collect();
        let write = async |records: &[PatientUpsert]| store.upsert_patients(org, records).await;
        for ((f, record), outcome) in batch.iter().zip(land(&write, &records).await?) {
            match outcome {
                Ok(outcome) => {
                    let (created, id) = match outcome {
                        UpsertOutcome::Created(id) => (true, id),
                        UpsertOutcome::Updated(id) => (false, id),
                    };
                    *count_of(&mut report, f, created) += 1;
                    names.patients.extend(names_of(f, &record.key).into_iter().map(|n| (n, id)));
                }
                Err(reason) => report.fail(f.error(reason)),
            }
        }
        progress(report.taken());
    }
    let only_location = match locations.is_empty() {
        true => sole_location(store, org).await?,
        false => None,
    };
    let mut ready = Vec::new();
    for f in &visits {
        match visit(f, &names, only_location) {
            Ok(record) => ready.push((f, record)),
            Err(reason) => report.fail(f.error(reason)),
        }
    }
    for batch in ready.chunks(BATCH) {
        let records: Vec<AppointmentUpsert> = batch.iter().map(|(_, r)| r.clone()).collect();
        let write = async |records: &[AppointmentUpsert]| store.upsert_appointments(org, records).await;
        for ((f, _), outcome) in batch.iter().zip(land(&write, &records).await?) {
            match outcome {
                Ok(outcome) => *count_of(&mut report, f, matches!(outcome, UpsertOutcome::Created(_))) += 1,
                Err(reason) => report.fail(f.error(reason)),
            }
        }
        progress(report.taken());
    }
    Ok(report)
}

fn count_of<'a>(report: &'a mut FhirReport, f: &Found, created: bool) -> &'a mut u64 {
    let count = report.count(&f.resource_type);
    if created { &mut count.created } else { &mut count.updated }
}

/// Writes a batch in one transaction; if the store refuses it for its data,
/// each record alone, so each bad one is named and the good ones land.
async fn land<T: Clone, Id>(
    write: &impl AsyncFn(&[T]) -> Result<Vec<UpsertOutcome<Id>>, StoreError>,
    records: &[T],
) -> Result<Vec<Result<UpsertOutcome<Id>, String>>, StoreError> {
    match write(records).await {
        Ok(outcomes) => Ok(outcomes.into_iter().map(Ok).collect()),
        Err(error) if is_data_error(&error) => {
            let mut each = Vec::with_capacity(records.len());
            for record in records {
                match write(std::slice::from_ref(record)).await {
                    Ok(mut outcome) => each.push(outcome.pop().ok_or_else(|| "nothing was written".to_owned())),
                    Err(error) if is_data_error(&error) => each.push(Err(error.to_string())),
                    Err(error) => return Err(error),
                }
            }
            Ok(each)
        }
        Err(error) => Err(error),
    }
}

fn is_data_error(error: &StoreError) -> bool {
    matches!(error, StoreError::Conflict { .. } | StoreError::UnknownReference { .. } | StoreError::Invalid { .. })
}

/// The organization's only location, for visits that name none when the
/// import brings no locations.
async fn sole_location(store: &Store, org: OrganizationId) -> Result<Option<LocationId>, StoreError> {
    let page = store.list_locations(org, &rapport_store::PageRequest::first(2)).await?;
    Ok(match page.items.as_slice() {
        [only] => Some(only.id),
        _ => None,
    })
}

fn visit(f: &Found, names: &Names, only_location: Option<LocationId>) -> Result<AppointmentUpsert, String> {
    let fields = match f.resource_type.as_str() {
        "Encounter" => map::encounter(&f.resource)?,
        _ => map::appointment(&f.resource)?,
    };
    let kind = &f.resource_type;
    let patient_id = *names
        .patients
        .get(&fields.patient)
        .ok_or_else(|| format!("the Patient {kind} names was not taken in this import"))?;
    let named = |reference: &Option<String>| reference.as_ref().and_then(|r| names.locations.get(r).copied());
    let location_id = named(&fields.location)
        .or_else(|| named(&fields.service_provider))
        .or(only_location)
        .ok_or_else(|| format!("{kind} names no location this import took"))?;
    Ok(AppointmentUpsert {
        details: AppointmentDetails {
            patient_id,
            provider_id: fields.practitioner.as_ref().and_then(|p| names.providers.get(p).copied()),
            location_id,
            start: fields.start,
            end: fields.end,
            visit_type: fields.visit_type,
            status: fields.status,
            source: Some(fields.source),
        },
    })
}
