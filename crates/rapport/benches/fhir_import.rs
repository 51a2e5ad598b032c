//! The FHIR import benchmark (issue: EHR integration): `import_fhir`, the
//! code behind `rapport import fhir`, on the Synthea fixtures, into an empty
//! organization on each backend: the 1,000-patient bulk sample (patients,
//! practitioners, locations) and the 10-patient one (with 1,215 encounters).
//! Figures: resources read and taken per second, wall time.
//!
//! Run: `cargo bench -p rapport --bench fhir_import`. Knobs:
//! `BENCH_BACKENDS`, `RAPPORT_BENCH_POSTGRES_URL`.

use std::path::PathBuf;
use std::time::Instant;

use rapport::clock::Clock;
use rapport::import::import_fhir;
use rapport::store::{DbOptions, Store};

mod common;

async fn run_backend(name: &'static str, url: String) -> Vec<String> {
    let store = Store::open(&url, &DbOptions::default(), Clock::system()).await.expect("open");
    let mut lines = Vec::new();
    for sample in ["bulk-1000", "bulk-10"] {
        let org = common::new_organization(&store).await;
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/synthea").join(sample);
        let started = Instant::now();
        let report = import_fhir(&store, org, &path, &mut |_| {}).await.expect("import");
        let seconds = started.elapsed().as_secs_f64();
        assert!(report.failed.is_empty(), "{:?}", report.failed);
        let read: u64 = report.counts.values().map(|c| c.read).sum();
        let taken = report.taken();
        let line = format!(
            "fhir import {name}: synthea {sample}: {read} resources read, {taken} taken in {seconds:.2} s: \
             {:.0} taken/s ({:.0} read/s)",
            taken as f64 / seconds,
            read as f64 / seconds
        );
        eprintln!("{line}");
        lines.push(line);
    }
    store.close().await;
    lines
}

fn main() {
    let figures = common::on_each_backend("rapport_fhir_import_bench", |name, url, _| run_backend(name, url));
    println!("== figures (rapport fhir import) ==");
    for line in figures {
        println!("{line}");
    }
}
