//! The registry's side of a FHIR import: sites (from Locations and
//! Organizations) and providers (from Practitioners). One already known
//! through the code table is updated at once; new ones wait and are
//! written together, a batch with their code-table entries in one
//! transaction (one at a time only when a batch is refused for its data,
//! so the bad one is named). Names are given in the resources' order once
//! written, so the first site of an organization still stands for it.

use std::collections::HashSet;

use rapport_domain::{ExternalId, Location, LocationId, OrganizationId, Provider, ProviderId, TimeZoneName};

use super::read::Found;
use super::{BATCH, FhirReport, count_of, is_data_error, map, names_of};
use rapport_store::{CodeKind, Mapped, Store, StoreError};

/// One resource's outcome, in order: known (updated), new (waiting), or
/// refused (why).
enum Placed<Id> {
    Known(Id),
    New(Id),
    Failed(String),
}

/// Records of one kind taken from resources, waiting to be written.
pub struct Taking<'f, T, Id> {
    /// Each resource's outcome, in order.
    placed: Vec<(&'f Found, ExternalId, Placed<Id>)>,
    /// The new records, each with its code-table entry.
    new: Vec<(T, Mapped<'static>)>,
    /// The code-table entries (system, code) of the new ones.
    codes: HashSet<(&'static str, String)>,
    /// Resources with the code of a new one: taken again, as updates, once it is written.
    repeats: Vec<&'f Found>,
}

impl<T, Id> Default for Taking<'_, T, Id> {
    fn default() -> Self {
        Self { placed: Vec::new(), new: Vec::new(), codes: HashSet::new(), repeats: Vec::new() }
    }
}

impl<'f, T, Id: Copy> Taking<'f, T, Id> {
    /// A resource's key, what it maps to and its code under `system`,
    /// unless it was refused (recorded) or repeats a new one's (kept for later).
    fn admit<F>(
        &mut self,
        f: &'f Found,
        system: &'static str,
        mapped: Result<(ExternalId, F), String>,
    ) -> Option<(ExternalId, F, String)> {
        match mapped {
            Err(why) => {
                self.placed.push((f, ExternalId { system: String::new(), value: String::new() }, Placed::Failed(why)));
                None
            }
            Ok((key, fields)) => {
                let code = map::key_text(&key);
                if self.codes.contains(&(system, code.clone())) {
                    self.repeats.push(f);
                    return None;
                }
                Some((key, fields, code))
            }
        }
    }
}

/// A site, updated now if the code table of `system` knows it, else made
/// ready to be created.
pub async fn take_place<'f>(
    store: &Store,
    org: OrganizationId,
    f: &'f Found,
    place: Result<(ExternalId, map::LocationFields, &'static str), String>,
    default_zone: &TimeZoneName,
    taking: &mut Taking<'f, Location, LocationId>,
) -> Result<(), StoreError> {
    let (system, place) = match place {
        Ok((key, fields, system)) => (system, Ok((key, fields))),
        Err(why) => ("", Err(why)),
    };
    let Some((key, fields, code)) = taking.admit(f, system, place) else { return Ok(()) };
    let known = store.code_target(org, system, CodeKind::Location, &code).await?;
    let zone = fields.time_zone.clone().unwrap_or_else(|| default_zone.clone());
    let mut location = fields.into_location(org, zone, store.clock().now());
    if let Some(current) = known.and_then(|id| id.parse::<LocationId>().ok())
        && let Ok(stored) = store.get_location(org, current).await
    {
        location.id = stored.id;
        location.opening_hours = stored.opening_hours;
        store.update_location(&location, stored.version).await?;
        taking.placed.push((f, key, Placed::Known(stored.id)));
        return Ok(());
    }
    taking.placed.push((f, key, Placed::New(location.id)));
    taking.codes.insert((system, code.clone()));
    taking.new.push((location, Mapped { system, code }));
    Ok(())
}

/// A provider, updated now if the code table knows it, else made ready to be created.
pub async fn take_practitioner<'f>(
    store: &Store,
    org: OrganizationId,
    f: &'f Found,
    taking: &mut Taking<'f, Provider, ProviderId>,
) -> Result<(), StoreError> {
    let Some((key, fields, code)) = taking.admit(f, PRACTITIONERS, map::practitioner(&f.resource)) else {
        return Ok(());
    };
    let known = store.code_target(org, PRACTITIONERS, CodeKind::Provider, &code).await?;
    let mut provider = fields.into_provider(org, store.clock().now());
    if let Some(current) = known.and_then(|id| id.parse::<ProviderId>().ok())
        && let Ok(stored) = store.get_provider(org, current).await
    {
        provider.id = stored.id;
        provider.location_ids = stored.location_ids;
        store.update_provider(&provider, stored.version).await?;
        taking.placed.push((f, key, Placed::Known(stored.id)));
        return Ok(());
    }
    taking.placed.push((f, key, Placed::New(provider.id)));
    taking.codes.insert((PRACTITIONERS, code.clone()));
    taking.new.push((provider, Mapped { system: PRACTITIONERS, code }));
    Ok(())
}

pub const PRACTITIONERS: &str = "fhir:Practitioner";

/// How new records of one kind are written together.
pub(super) trait Create: Sized {
    type Id: Copy + PartialEq;
    fn id(&self) -> Self::Id;
    async fn create_batch(
        store: &Store,
        org: OrganizationId,
        new: &[(Self, Mapped<'static>)],
    ) -> Result<(), StoreError>;
}

impl Create for Location {
    type Id = LocationId;
    fn id(&self) -> LocationId {
        self.id
    }
    async fn create_batch(
        store: &Store,
        org: OrganizationId,
        new: &[(Self, Mapped<'static>)],
    ) -> Result<(), StoreError> {
        store.create_mapped_locations(org, new).await
    }
}

impl Create for Provider {
    type Id = ProviderId;
    fn id(&self) -> ProviderId {
        self.id
    }
    async fn create_batch(
        store: &Store,
        org: OrganizationId,
        new: &[(Self, Mapped<'static>)],
    ) -> Result<(), StoreError> {
        store.create_mapped_providers(org, new).await
    }
}

/// A record taken: its resource, its key and the id it has.
pub type Taken<'f, Id> = (&'f Found, ExternalId, Id);

/// Writes the new records in batches (one alone when a batch is refused
/// for its data: a refused one is reported), counts every record, and
/// returns those taken in the resources' order, and the repeats of a code
/// seen earlier in the import, to be taken again (as updates).
pub async fn finish<'f, T: Create>(
    store: &Store,
    org: OrganizationId,
    taking: Taking<'f, T, T::Id>,
    report: &mut FhirReport,
) -> Result<(Vec<Taken<'f, T::Id>>, Vec<&'f Found>), StoreError> {
    let mut refused: Vec<(T::Id, String)> = Vec::new();
    for batch in taking.new.chunks(BATCH) {
        match T::create_batch(store, org, batch).await {
            Ok(()) => {}
            Err(error) if is_data_error(&error) => {
                for one in batch {
                    match T::create_batch(store, org, std::slice::from_ref(one)).await {
                        Ok(()) => {}
                        Err(error) if is_data_error(&error) => refused.push((one.0.id(), error.to_string())),
                        Err(error) => return Err(error),
                    }
                }
            }
            Err(error) => return Err(error),
        }
    }
    let mut taken = Vec::with_capacity(taking.placed.len());
    for (f, key, placed) in taking.placed {
        let why = match &placed {
            Placed::New(id) => refused.iter().find(|(r, _)| r == id).map(|(_, why)| why.clone()),
            Placed::Failed(why) => Some(why.clone()),
            Placed::Known(_) => None,
        };
        match (why, placed) {
            (Some(why), _) => report.fail(f.error(why)),
            (None, Placed::New(id)) => {
                *count_of(report, f, true) += 1;
                taken.push((f, key, id));
            }
            (None, Placed::Known(id)) => {
                *count_of(report, f, false) += 1;
                taken.push((f, key, id));
            }
            (None, Placed::Failed(_)) => {}
        }
    }
    Ok((taken, taking.repeats))
}

/// Every name the records taken go by, to their ids.
pub fn names<Id: Copy>(taken: &[Taken<'_, Id>]) -> Vec<(String, Id)> {
    taken.iter().flat_map(|(f, key, id)| names_of(f, key).into_iter().map(move |n| (n, *id))).collect()
}
