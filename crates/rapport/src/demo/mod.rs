//! `serve --demo`: fills an empty database with a deterministic, realistic
//! practice (three locations in three US zones, ten providers, 2,000
//! patients, ~5,000 appointments around today). The same date gives the
//! same data; the names, phones and emails are invented (phones use the
//! 555-01xx range reserved for fiction).

use jiff::{SignedDuration, Timestamp};
use rapport_domain::waitlist::Criteria;
use rapport_domain::{
    Address, AppointmentDetails, AppointmentId, AppointmentStatus, Channel, Consent, ConsentId, ConsentStatus, Email,
    ExternalId, LanguageTag, Location, LocationId, Npi, OpeningHours, Organization, OrganizationId, PatientDetails,
    PatientEmail, PatientPhone, PhoneE164, PhoneKind, Provider, ProviderId, Purpose, Sex, TimeZoneName,
};

use crate::store::{AppointmentUpsert, PatientUpsert, Store, StoreError, UpsertOutcome};

mod inbox;
mod messages;
mod staff;

pub use staff::{ADMIN_TOTP_SECRET, DemoLogin, INTEGRATION_TOKEN, admin_code, logins};

pub const PATIENTS: usize = 2000;
pub const APPOINTMENTS: usize = 5000;

/// SplitMix64: small, fast, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const GIVEN_F: &[&str] = &[
    "Emma",
    "Olivia",
    "Ava",
    "Sophia",
    "Mia",
    "Charlotte",
    "Amelia",
    "Harper",
    "Grace",
    "Chloe",
    "Maria",
    "Sofia",
    "Valentina",
    "Camila",
    "Lucía",
    "Isabella",
    "Ana",
    "Guadalupe",
    "Mei",
    "Linh",
    "Aaliyah",
    "Zoe",
    "Ruth",
    "Dorothy",
];
const GIVEN_M: &[&str] = &[
    "Liam", "Noah", "James", "William", "Benjamin", "Lucas", "Henry", "Samuel", "David", "Joseph", "José", "Luis",
    "Carlos", "Mateo", "Diego", "Juan", "Miguel", "Wei", "Minh", "Jamal", "Elijah", "Frank", "George", "Walter",
];
const FAMILY: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "Wilson",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Martin",
    "Jackson",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Walker",
    "Young",
    "Allen",
    "King",
    "García",
    "Rodríguez",
    "Martínez",
    "Hernández",
    "López",
    "González",
    "Pérez",
    "Sánchez",
    "Ramírez",
    "Torres",
    "Flores",
    "Rivera",
    "Núñez",
    "Nguyen",
    "Tran",
    "Chen",
    "Wang",
    "Li",
    "Kim",
    "Park",
    "Patel",
    "Shah",
    "O'Brien",
];
const VISIT_TYPES: &[(&str, i64)] = &[
    ("annual-physical", 45),
    ("follow-up", 20),
    ("new-patient", 60),
    ("sick-visit", 20),
    ("vaccination", 15),
    ("lab-work", 15),
    ("telehealth", 20),
    ("wellness-check", 30),
];

struct Site {
    name: &'static str,
    zone: &'static str,
    city: &'static str,
    state: &'static str,
    area: &'static str,
}

const SITES: [Site; 3] = [
    Site { name: "Riverbend Downtown", zone: "America/New_York", city: "Albany", state: "NY", area: "518" },
    Site { name: "Riverbend Lakeshore", zone: "America/Chicago", city: "Evanston", state: "IL", area: "847" },
    Site { name: "Riverbend Desert Clinic", zone: "America/Phoenix", city: "Tempe", state: "AZ", area: "480" },
];

/// What the demo created, printed on start.
#[derive(Debug)]
pub struct DemoSummary {
    pub organization: Organization,
    pub patients: usize,
    pub appointments: usize,
    /// Reminders planned for the next two days' visits (the dispatcher sends them).
    pub reminders: usize,
    /// Patients on the waitlist: cancelling a visit offers them its time.
    pub waiting: usize,
}

fn zone(name: &str) -> Result<TimeZoneName, StoreError> {
    TimeZoneName::parse(name).map_err(|_| StoreError::Corrupt("demo zone"))
}

/// Fills the database when it has no organization yet; `None` when it had data.
pub async fn seed(store: &Store) -> Result<Option<DemoSummary>, StoreError> {
    if !store.list_organizations(&crate::store::PageRequest::first(1)).await?.items.is_empty() {
        return Ok(None);
    }
    let now = store.clock().now();
    let mut rng = Rng(20_261_122);
    let org = store
        .create_organization(&Organization {
            id: OrganizationId::generate(),
            name: "Riverbend Health Partners".into(),
            time_zone: zone("America/New_York")?,
            default_language: LanguageTag::parse("en").map_err(|_| StoreError::Corrupt("demo language"))?,
            sending_window: None,
            version: 1,
            created_at: now,
            updated_at: now,
        })
        .await?;
    let mut locations = Vec::new();
    for (i, site) in SITES.iter().enumerate() {
        let phone = PhoneE164::parse(&format!("+1{}555010{i}", site.area)).ok();
        let location = Location {
            id: LocationId::generate(),
            organization_id: org.id,
            name: site.name.into(),
            address: Address {
                line: Some(format!("{} Main Street", 100 + i * 10)),
                city: Some(site.city.into()),
                state: Some(site.state.into()),
                postal_code: None,
                country: Some("US".into()),
            },
            phone,
            time_zone: zone(site.zone)?,
            opening_hours: OpeningHours::weekdays_8_to_5(),
            version: 1,
            created_at: now,
            updated_at: now,
        };
        locations.push(store.create_location(&location).await?);
    }
    let mut providers = Vec::new();
    for i in 0..10 {
        let female = i % 2 == 0;
        let given = if female { rng.pick(GIVEN_F) } else { rng.pick(GIVEN_M) };
        let provider = Provider {
            id: ProviderId::generate(),
            organization_id: org.id,
            given_name: (*given).into(),
            family_name: (*rng.pick(FAMILY)).into(),
            title: Some(if i % 4 == 3 { "NP" } else { "Dr" }.into()),
            npi: Npi::with_check_digit(&format!("1{:08}", 10_000_000 + i * 7919)),
            location_ids: vec![locations[i % locations.len()].id],
            version: 1,
            created_at: now,
            updated_at: now,
        };
        providers.push(store.create_provider(&provider).await?);
    }
    let patient_ids = seed_patients(store, org.id, &mut rng).await?;
    seed_consents(store, org.id, &patient_ids, &mut rng).await?;
    let visits = seed_appointments(store, org.id, &patient_ids, &locations, &providers, now, &mut rng).await?;
    let reminders = messages::seed(store, &org, &visits).await?;
    let waiting = seed_waitlist(store, org.id, &patient_ids, &locations, &mut rng).await?;
    staff::seed(store, org.id).await?;
    inbox::seed(store, org.id, &patient_ids).await?;
    Ok(Some(DemoSummary {
        organization: org,
        patients: patient_ids.len(),
        appointments: visits.len(),
        reminders,
        waiting,
    }))
}

/// Forty patients waiting for an earlier visit: most at one location, some
/// only in the mornings, some with no preference.
async fn seed_waitlist(
    store: &Store,
    org: OrganizationId,
    patients: &[(rapport_domain::PatientId, usize)],
    locations: &[Location],
    rng: &mut Rng,
) -> Result<usize, StoreError> {
    let mut waiting = 0;
    for (patient, _) in patients.iter().step_by(patients.len() / 40).take(40) {
        let location = rng.pick(locations).id;
        let criteria = match rng.below(3) {
            0 => Criteria { location_id: Some(location), ..Criteria::default() },
            1 => Criteria {
                location_id: Some(location),
                until: Some(jiff::civil::Time::constant(12, 0, 0, 0)),
                ..Criteria::default()
            },
            _ => Criteria::default(),
        };
        store.add_to_waitlist(org, *patient, &criteria).await?;
        waiting += 1;
    }
    Ok(waiting)
}

async fn seed_patients(
    store: &Store,
    org: OrganizationId,
    rng: &mut Rng,
) -> Result<Vec<(rapport_domain::PatientId, usize)>, StoreError> {
    let today = store.clock().today_in(&jiff::tz::TimeZone::UTC);
    let mut records = Vec::with_capacity(PATIENTS);
    let mut sites = Vec::with_capacity(PATIENTS);
    let mut family_phone: Option<(String, PhoneE164)> = None;
    for n in 0..PATIENTS {
        let site = rng.below(SITES.len());
        let sex = if rng.chance(52) { Sex::Female } else { Sex::Male };
        let given = if sex == Sex::Female { rng.pick(GIVEN_F) } else { rng.pick(GIVEN_M) };
        // Every twelfth patient joins the previous one's family and shares its phone.
        let shares = n % 12 == 11 && family_phone.is_some();
        let family = match (&family_phone, shares) {
            (Some((family, _)), true) => family.clone(),
            _ => (*rng.pick(FAMILY)).to_owned(),
        };
        let spanish = family.contains(['á', 'é', 'í', 'ó', 'ú', 'ñ']) || family.ends_with("ez");
        let language = if spanish && rng.chance(70) {
            "es"
        } else if rng.chance(3) {
            "vi"
        } else {
            "en"
        };
        let age_days = i64::try_from(rng.below(95 * 365)).unwrap_or(0);
        let birth = today.checked_sub(jiff::Span::new().days(age_days + 1)).unwrap_or(today);
        let phone = match (&family_phone, shares) {
            (Some((_, p)), true) => p.clone(),
            _ => PhoneE164::parse(&format!("+1{}555{:04}", SITES[site].area, 100 + n % 9800))
                .map_err(|_| StoreError::Corrupt("demo phone"))?,
        };
        family_phone = Some((family.clone(), phone.clone()));
        let kind = if rng.chance(85) { PhoneKind::Mobile } else { PhoneKind::Landline };
        let ascii = rapport_domain::patient::name_search_key(&format!("{given}.{family}")).replace(['\'', ' '], "");
        let emails = if rng.chance(82) {
            vec![PatientEmail {
                address: Email::parse(&format!("{ascii}{n}@example.com"))
                    .map_err(|_| StoreError::Corrupt("demo email"))?,
            }]
        } else {
            Vec::new()
        };
        let key = ExternalId { system: "mrn".into(), value: format!("RB{:06}", n + 1) };
        let details = PatientDetails {
            birth_date: Some(rapport_domain::BirthDate::from_date(birth)),
            sex,
            language: LanguageTag::parse(language).ok(),
            time_zone: Some(zone(SITES[site].zone)?),
            address: Address {
                city: Some(SITES[site].city.into()),
                state: Some(SITES[site].state.into()),
                ..Address::default()
            },
            phones: vec![PatientPhone { number: phone, kind }],
            emails,
            channel_order: if kind == PhoneKind::Mobile {
                vec![Channel::Sms, Channel::Email]
            } else {
                vec![Channel::Email, Channel::Voice]
            },
            external_ids: vec![key.clone()],
            ..PatientDetails::new((*given).into(), family)
        };
        records.push(PatientUpsert { key, details });
        sites.push(site);
    }
    let mut ids = Vec::with_capacity(PATIENTS);
    for (chunk, chunk_sites) in records.chunks(1000).zip(sites.chunks(1000)) {
        for (outcome, site) in store.upsert_patients(org, chunk).await?.into_iter().zip(chunk_sites) {
            let (UpsertOutcome::Created(id) | UpsertOutcome::Updated(id)) = outcome;
            ids.push((id, *site));
        }
    }
    Ok(ids)
}

/// About 4% of patients have replied STOP to texts; 10% opted in to the newsletter.
async fn seed_consents(
    store: &Store,
    org: OrganizationId,
    patients: &[(rapport_domain::PatientId, usize)],
    rng: &mut Rng,
) -> Result<(), StoreError> {
    for (patient, _) in patients {
        let choice = match rng.below(100) {
            0..4 => Some((Channel::Sms, Purpose::Transactional, ConsentStatus::Revoked, "sms-keyword")),
            4..14 => Some((Channel::Email, Purpose::Marketing, ConsentStatus::Granted, "portal")),
            _ => None,
        };
        if let Some((channel, purpose, status, source)) = choice {
            let consent = Consent {
                id: ConsentId::generate(),
                organization_id: org,
                patient_id: *patient,
                channel,
                purpose,
                status,
                source: source.into(),
                evidence: None,
                recorded_at: store.clock().now(),
            };
            store.record_consent(&consent).await?;
        }
    }
    Ok(())
}

async fn seed_appointments(
    store: &Store,
    org: OrganizationId,
    patients: &[(rapport_domain::PatientId, usize)],
    locations: &[Location],
    providers: &[Provider],
    now: Timestamp,
    rng: &mut Rng,
) -> Result<Vec<(AppointmentId, AppointmentUpsert)>, StoreError> {
    let mut records = Vec::with_capacity(APPOINTMENTS);
    for n in 0..APPOINTMENTS {
        let (patient, site) = *rng.pick(patients);
        let location = &locations[site];
        let provider =
            providers.iter().filter(|p| p.location_ids.contains(&location.id)).nth(rng.below(3)).or(providers.first());
        let (visit_type, minutes) = *rng.pick(VISIT_TYPES);
        // From 90 days ago to 60 days ahead, on a weekday, 08:00–16:30 local.
        let day_offset = i64::try_from(rng.below(150)).unwrap_or(0) - 90;
        let local_day = now.to_zoned(location.time_zone.tz()).date().checked_add(jiff::Span::new().days(day_offset));
        let Ok(mut day) = local_day else { continue };
        while day.weekday().to_monday_zero_offset() >= 5 {
            day = day.tomorrow().unwrap_or(day);
        }
        let slot = i8::try_from(rng.below(17)).unwrap_or(0);
        let time = jiff::civil::time(8 + slot / 2, (slot % 2) * 30, 0, 0);
        let Ok(start) = day.to_datetime(time).to_zoned(location.time_zone.tz()).map(|z| z.timestamp()) else {
            continue;
        };
        let past = start < now;
        let roll = rng.below(100);
        let status = match (past, roll) {
            (true, 0..80) => AppointmentStatus::Fulfilled,
            (true, 80..92) => AppointmentStatus::Noshow,
            (true, _) => AppointmentStatus::Cancelled,
            (false, 0..85) => AppointmentStatus::Booked,
            (false, 85..90) => AppointmentStatus::Pending,
            (false, _) => AppointmentStatus::Cancelled,
        };
        records.push(AppointmentUpsert {
            details: AppointmentDetails {
                patient_id: patient,
                provider_id: provider.map(|p| p.id),
                location_id: location.id,
                start,
                end: start + SignedDuration::from_mins(minutes),
                visit_type: visit_type.into(),
                status,
                source: Some(ExternalId { system: "demo".into(), value: format!("V{:06}", n + 1) }),
            },
        });
    }
    let mut ids = Vec::with_capacity(records.len());
    for chunk in records.chunks(1000) {
        ids.extend(store.upsert_appointments(org, chunk).await?.into_iter().map(|outcome| match outcome {
            UpsertOutcome::Created(id) | UpsertOutcome::Updated(id) => id,
        }));
    }
    Ok(ids.into_iter().zip(records).collect())
}
