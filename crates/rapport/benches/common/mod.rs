//! What the benchmarks share: knobs from the environment, percentiles, an
//! organization to work in, and
//! running one measurement on each backend (a throwaway PostgreSQL database
//! per run).

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use rapport::store::Store;
use rapport_domain::{LanguageTag, Organization, OrganizationId, TimeZoneName};

#[allow(dead_code, reason = "not every benchmark has knobs")]
pub fn env_u64(key: &str, default: u64) -> u64 {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A new organization, "Bench Health" in Chicago, created at the store's now.
#[allow(dead_code, reason = "not every benchmark creates its own organization")]
pub async fn new_organization(store: &Store) -> OrganizationId {
    let now = store.clock().now();
    let org = Organization {
        id: OrganizationId::generate(),
        name: "Bench Health".into(),
        time_zone: TimeZoneName::parse("America/Chicago").expect("zone"),
        default_language: LanguageTag::parse("en").expect("language"),
        sending_window: None,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    store.create_organization(&org).await.expect("organization").id
}

/// The `p` quantile of sorted samples, in milliseconds.
#[allow(dead_code, reason = "not every benchmark reports percentiles")]
pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

/// Runs `run(backend, url, dir)` on each backend of `BENCH_BACKENDS`
/// (`sqlite,postgres`) and returns every figure line.
pub fn on_each_backend<F, Fut>(prefix: &str, run: F) -> Vec<String>
where
    F: Fn(&'static str, String, &Path) -> Fut,
    Fut: Future<Output = Vec<String>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let dir = tempfile::tempdir().expect("temp dir");
    let mut figures = Vec::new();
    for backend in backends.split(',') {
        match backend.trim() {
            "sqlite" => {
                let url = format!("sqlite://{}", dir.path().join("bench.db").display());
                figures.extend(runtime.block_on(run("sqlite", url, dir.path())));
            }
            "postgres" => {
                let admin_url = std::env::var("RAPPORT_BENCH_POSTGRES_URL")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
                let name = format!("{prefix}_{}", std::process::id());
                let url = format!("{}/{name}", admin_url.rsplit_once('/').expect("url has a database").0);
                runtime.block_on(async {
                    let admin = Store::open_admin(&admin_url).await.expect("reach PostgreSQL");
                    admin.create_database(&name).await.expect("create bench database");
                    figures.extend(run("postgres", url, dir.path()).await);
                    admin.drop_database(&name).await.expect("drop bench database");
                });
            }
            other => panic!("unknown backend {other:?} in BENCH_BACKENDS"),
        }
    }
    figures
}
