//! Encryption at rest for the embedded database (SQLCipher). Each build runs
//! the test that fits it: with `--features sqlcipher` (as CI runs it), the
//! file is unreadable without the key; without it, a configured key is
//! refused at start instead of being ignored in silence.

use rapport::clock::Clock;
use rapport::store::{DbOptions, Store};

use crate::support::{TestDb, test_now};

fn keyed(key: &str) -> DbOptions {
    DbOptions { sqlite_key: Some(key.to_owned()), ..DbOptions::default() }
}

#[cfg(not(feature = "sqlcipher"))]
#[tokio::test]
async fn a_database_key_without_sqlcipher_is_refused_not_ignored() {
    let (_db, url) = TestDb::sqlite();
    let (clock, _) = Clock::manual(test_now());
    let error = Store::open(&url, &keyed("a key that would be ignored"), clock).await.expect_err("refused");
    assert!(error.to_string().contains("--features sqlcipher"), "{error}");
}

#[cfg(feature = "sqlcipher")]
#[tokio::test]
async fn the_sqlite_file_is_encrypted_and_opens_only_with_its_key() {
    use crate::support::{patient_details, seed_organization};
    let (_db, url) = TestDb::sqlite();
    let path = url.trim_start_matches("sqlite://").to_owned();
    let (clock, _) = Clock::manual(test_now());
    let store = Store::open(&url, &keyed("it's a secret key"), clock.clone()).await.expect("open encrypted");
    let org = seed_organization(&store, "Lakeside").await;
    store.create_patient(org.id, &patient_details("Zebulon", "Quaintance")).await.expect("patient");
    let snapshot = format!("{path}.copy");
    store.snapshot_into(&snapshot).await.expect("snapshot");
    store.close().await;
    for file in [&path, &snapshot] {
        let bytes = std::fs::read(file).expect("read the file");
        assert!(!bytes.starts_with(b"SQLite format 3"), "{file} has a plain SQLite header");
        assert!(!bytes.windows(8).any(|w| w == b"Quaintan"), "{file} holds the name in clear");
    }
    let wrong = Store::open(&url, &keyed("not the key"), clock.clone()).await.expect_err("wrong key");
    assert!(wrong.to_string().contains("the database key is wrong"), "{wrong}");
    let reopened = Store::open(&url, &keyed("it's a secret key"), clock.clone()).await.expect("reopen");
    assert_eq!(reopened.get_organization(org.id).await.expect("read").name, "Lakeside");
    reopened.close().await;
    let copy = Store::open(&format!("sqlite://{snapshot}"), &keyed("it's a secret key"), clock).await.expect("copy");
    assert_eq!(copy.get_organization(org.id).await.expect("read").name, "Lakeside", "a snapshot keeps the key");
    copy.close().await;
}
