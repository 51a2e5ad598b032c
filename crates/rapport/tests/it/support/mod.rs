//! The test harness, in one place: fresh stores on each backend (here),
//! the app under test in-process or on a port (`app`), a staff member's
//! browser session (`browser`), and a real Chromium over WebDriver
//! (`webdriver`).

pub mod app;
pub mod browser;
pub mod webdriver;

use std::future::Future;

use jiff::Timestamp;
use rapport::clock::{Clock, ManualClock};
use rapport::store::{DbOptions, Store};
use rapport_domain::{
    Address, LanguageTag, Location, LocationId, OpeningHours, Organization, OrganizationId, PatientDetails,
    TimeZoneName,
};

/// The PostgreSQL server to test against: `RAPPORT_TEST_POSTGRES_URL`, or
/// under CI the local one, which must then be there.
pub fn postgres_url() -> Option<String> {
    match std::env::var("RAPPORT_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            Some("postgres://postgres@127.0.0.1:5432/postgres".to_owned())
        }
        _ => None,
    }
}

/// A database that exists for one test and is dropped after it.
pub enum TestDb {
    /// Holds the directory until the test ends.
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl TestDb {
    pub fn sqlite() -> (Self, String) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("rapport.db").display());
        (TestDb::Sqlite(dir), url)
    }

    pub async fn postgres(admin_url: &str) -> (Self, String) {
        let name = format!("rapport_test_{}", uuid::Uuid::now_v7().simple());
        let admin = Store::open_admin(admin_url).await.expect("reach PostgreSQL");
        admin.create_database(&name).await.expect("create test database");
        admin.close().await;
        let url = replace_database(admin_url, &name);
        (TestDb::Postgres { admin_url: admin_url.to_owned(), name }, url)
    }
}

fn replace_database(url: &str, name: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("postgres url has a database");
    format!("{base}/{name}")
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { admin_url, name } = self {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs outside async; a short-lived runtime on its own thread does the work.
            let done = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                rt.block_on(async {
                    if let Ok(admin) = Store::open_admin(&admin_url).await {
                        let _ = admin.drop_database(&name).await;
                        admin.close().await;
                    }
                });
            });
            let _ = done.join();
        }
    }
}

/// A fixed instant, so tests do not depend on the day they run.
pub fn test_now() -> Timestamp {
    "2026-11-22T15:00:00Z".parse().expect("timestamp")
}

/// Runs `test` once against SQLite and once against PostgreSQL (when there is one).
pub async fn on_each_backend<F, Fut>(test: F)
where
    F: Fn(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    on_each_backend_full(|store, _, _| test(store)).await;
}

/// Like [`on_each_backend`], also passing the database's URL, for tests
/// that reach around the store (to tamper with rows, say).
pub async fn on_each_backend_url<F, Fut>(test: F)
where
    F: Fn(Store, String) -> Fut,
    Fut: Future<Output = ()>,
{
    on_each_backend_full(|store, url, _| test(store, url)).await;
}

/// Like [`on_each_backend`], with the URL and the hand on the store's clock.
pub async fn on_each_backend_full<F, Fut>(test: F)
where
    F: Fn(Store, String, ManualClock) -> Fut,
    Fut: Future<Output = ()>,
{
    let (db, url) = TestDb::sqlite();
    let (clock, hand) = Clock::manual(test_now());
    let store = Store::open(&url, &DbOptions::default(), clock).await.expect("open sqlite");
    test(store.clone(), url, hand).await;
    store.close().await;
    drop(db);
    if let Some(admin) = postgres_url() {
        let (db, url) = TestDb::postgres(&admin).await;
        let (clock, hand) = Clock::manual(test_now());
        let store = Store::open(&url, &DbOptions::default(), clock).await.expect("open postgres");
        test(store.clone(), url, hand).await;
        store.close().await;
        drop(db);
    }
}

pub fn zone(name: &str) -> TimeZoneName {
    TimeZoneName::parse(name).expect("zone")
}

pub async fn seed_organization(store: &Store, name: &str) -> Organization {
    let org = Organization {
        id: OrganizationId::generate(),
        name: name.to_owned(),
        time_zone: zone("America/New_York"),
        default_language: LanguageTag::parse("en").expect("lang"),
        sending_window: None,
        version: 0,
        created_at: test_now(),
        updated_at: test_now(),
    };
    store.create_organization(&org).await.expect("create organization")
}

pub async fn seed_location(store: &Store, org: OrganizationId, zone_name: &str) -> Location {
    let location = Location {
        id: LocationId::generate(),
        organization_id: org,
        name: "Main Street Clinic".into(),
        address: Address { city: Some("Springfield".into()), state: Some("IL".into()), ..Address::default() },
        phone: None,
        time_zone: zone(zone_name),
        opening_hours: OpeningHours::weekdays_8_to_5(),
        version: 0,
        created_at: test_now(),
        updated_at: test_now(),
    };
    store.create_location(&location).await.expect("create location")
}

pub fn patient_details(given: &str, family: &str) -> PatientDetails {
    PatientDetails::new(given.into(), family.into())
}

/// A dispatcher's worker settings for the tests: `batch` jobs at a time,
/// two-minute leases, the default retries.
pub fn worker(owner: &str, batch: usize) -> rapport::jobs::WorkerSettings {
    rapport::jobs::WorkerSettings {
        owner: owner.into(),
        batch,
        lease_for: jiff::SignedDuration::from_mins(2),
        retry: rapport::jobs::RetryPolicy::default(),
    }
}
