//! The registry benchmark (issue: foundation). On SQLite and PostgreSQL:
//! CSV import of 100,000 patients (rows/s), patient search latency with
//! 1,000,000 patients in the store (p50/p99 by phone, by external id, by name
//! prefix), the same searches through the FHIR API (`GET /fhir/Patient?…`
//! in process: the guard with its token check and audit event, the search,
//! the Bundle as JSON), and the idle resident memory of a `rapport serve`
//! process over that store. Prints a `== figures` block like the peer
//! benchmarks.
//!
//! Run: `cargo bench -p rapport --bench registry`. Knobs (environment):
//! `BENCH_BACKENDS` (`sqlite,postgres`), `BENCH_IMPORT_ROWS` (100000),
//! `BENCH_STORE_PATIENTS` (1000000), `BENCH_QUERIES` (2000 per kind),
//! `RAPPORT_BENCH_POSTGRES_URL` (the server whose maintenance database to
//! use; default the local one).

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use rapport::app::App;
use rapport::auth::{TOKEN_PREFIX, secret};
use rapport::clock::Clock;
use rapport::config::Config;
use rapport::import::{ImportOptions, import_patients};
use rapport::store::{DbOptions, NewApiToken, PageRequest, PatientQuery, Store};
use rapport_domain::{OrganizationId, PhoneE164, Role};
use tower::ServiceExt;

mod common;
use common::{env_u64, new_organization, percentile};

const COMMON: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
];
const SYLLABLES: &[&str] = &[
    "ba", "ber", "cal", "dor", "en", "fal", "gar", "hol", "in", "jen", "kor", "lan", "mor", "nel", "or", "pel", "quin",
    "ros", "sal", "tor", "ul", "van", "wes", "yor", "zan",
];
const GIVEN: &[&str] = &[
    "Ana", "Ben", "Carla", "David", "Elena", "Frank", "Grace", "Hugo", "Iris", "Jamal", "Kim", "Luis", "Maria", "Noah",
    "Olivia", "Pedro", "Quinn", "Rosa", "Sam", "Tina", "Uma", "Victor", "Wen", "Ximena", "Yusuf", "Zoe",
];

/// Deterministic patient number `n`: (mrn, given, family, phone).
fn person(n: u64) -> (String, &'static str, String, String) {
    let h = n.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17);
    let family = if h % 10 < 3 {
        COMMON[(h / 10 % COMMON.len() as u64) as usize].to_owned()
    } else {
        let s = |k: u64| SYLLABLES[((h >> (8 * k)) % SYLLABLES.len() as u64) as usize];
        let word = format!("{}{}{}", s(1), s(2), s(3));
        let mut chars = word.chars();
        chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or(word)
    };
    let given = GIVEN[(h >> 40) as usize % GIVEN.len()];
    // 555-01xx style fictional numbers spread over area codes 201..989.
    let area = 201 + (n / 10_000) % 700;
    let phone = format!("+1{area}555{:04}", n % 10_000);
    (format!("B{n:08}"), given, family, phone)
}

fn write_csv(path: &Path, from: u64, count: u64) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "mrn,given_name,family_name,birth_date,sex,phone,email,language,time_zone")?;
    for n in from..from + count {
        let (mrn, given, family, phone) = person(n);
        let year = 1930 + n % 90;
        let month = 1 + n % 12;
        let day = 1 + n % 28;
        let sex = if n % 2 == 0 { "female" } else { "male" };
        let lang = if n % 5 == 0 { "es" } else { "en" };
        writeln!(
            out,
            "{mrn},{given},{family},{year}-{month:02}-{day:02},{sex},{phone},p{n}@example.com,{lang},America/Chicago"
        )?;
    }
    out.flush()
}

/// Imports `count` rows starting at `from` through the CSV import; rows/s.
async fn import(store: &Store, org: OrganizationId, dir: &Path, from: u64, count: u64) -> f64 {
    let csv = dir.join(format!("patients-{from}.csv"));
    write_csv(&csv, from, count).expect("write csv");
    let file = std::io::BufReader::new(std::fs::File::open(&csv).expect("open csv"));
    let started = Instant::now();
    let report = import_patients(store, org, file, &ImportOptions::default(), &mut |_| {}).await.expect("import");
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!((report.created, report.failed.len()), (count, 0), "import must land every row");
    std::fs::remove_file(&csv).ok();
    count as f64 / seconds
}

async fn search_latencies(
    store: &Store,
    org: OrganizationId,
    total: u64,
    queries: u64,
) -> Vec<(&'static str, f64, f64)> {
    let mut results = Vec::new();
    for kind in ["phone", "external id", "name prefix"] {
        let mut times = Vec::with_capacity(queries as usize);
        for q in 0..queries {
            let n = (q.wrapping_mul(2_654_435_761) ^ 0x5bd1e995) % total;
            let (mrn, _, family, phone) = person(n);
            let query = match kind {
                "phone" => PatientQuery { phone: PhoneE164::parse(&phone).ok(), ..Default::default() },
                "external id" => PatientQuery { identifier: Some((Some("mrn".into()), mrn)), ..Default::default() },
                _ => PatientQuery { name: Some(family.chars().take(4).collect()), ..Default::default() },
            };
            let started = Instant::now();
            let page = store.search_patients(org, &query, &PageRequest::first(20)).await.expect("search");
            times.push(started.elapsed());
            assert!(!page.items.is_empty(), "a {kind} search found nothing");
        }
        times.sort();
        results.push((kind, percentile(&times, 0.5), percentile(&times, 0.99)));
    }
    results
}

/// The same searches as FHIR requests through the whole HTTP stack, in
/// process (no socket): p50 and p99 per kind.
async fn fhir_latencies(store: &Store, org: OrganizationId, total: u64, queries: u64) -> Vec<(&'static str, f64, f64)> {
    let token = secret::random_token(TOKEN_PREFIX);
    let new = NewApiToken {
        organization_id: org,
        name: "bench".into(),
        prefix: token[..8].to_owned(),
        token_digest: secret::digest(&token),
        scopes: Role::Integration.capabilities().to_vec(),
        created_by: None,
    };
    store.create_api_token(&new).await.expect("token");
    let app = App::build(&Config::default(), store.clone()).await.expect("the app").router();
    let bearer = format!("Bearer {token}");
    let mut results = Vec::new();
    for kind in ["phone", "external id", "name prefix"] {
        let mut times = Vec::with_capacity(queries as usize);
        for q in 0..queries {
            let n = (q.wrapping_mul(2_654_435_761) ^ 0x5bd1e995) % total;
            let (mrn, _, family, phone) = person(n);
            let query = match kind {
                "phone" => format!("phone={}", phone.replace('+', "%2B")),
                "external id" => format!("identifier=mrn%7C{mrn}"),
                _ => format!("family={}", family.chars().take(4).collect::<String>()),
            };
            let request = Request::get(format!("/fhir/Patient?{query}&_count=20"))
                .header(header::AUTHORIZATION, &bearer)
                .body(Body::empty())
                .expect("request");
            let started = Instant::now();
            let response = app.clone().oneshot(request).await.expect("response");
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
            times.push(started.elapsed());
            assert_eq!(status, StatusCode::OK, "a FHIR {kind} search failed");
            assert!(body.windows(10).any(|w| w == b"\"resource\""), "a FHIR {kind} search found nothing");
        }
        times.sort();
        results.push((kind, percentile(&times, 0.5), percentile(&times, 0.99)));
    }
    results
}

/// Starts `rapport serve` over `url`, sends a few searches, lets it settle, reads VmRSS.
fn idle_rss_mb(url: &str, org: OrganizationId) -> f64 {
    let exe = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release/rapport");
    let mut child = std::process::Command::new(&exe)
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", url])
        .env("RAPPORT_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start target/release/rapport (cargo bench builds it)");
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    let address = loop {
        line.clear();
        std::io::BufRead::read_line(&mut stdout, &mut line).expect("read");
        if let Some(rest) = line.trim().split("http://").nth(1).filter(|_| line.contains("is running")) {
            break rest.trim_end_matches('/').to_owned();
        }
    };
    for path in [
        format!("/api/v1/organizations/{org}/patients?name=smi"),
        format!("/api/v1/organizations/{org}/patients?phone=%2B12015550001"),
    ] {
        let mut stream = std::net::TcpStream::connect(&address).expect("connect");
        write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("send");
        let mut sink = Vec::new();
        std::io::Read::read_to_end(&mut stream, &mut sink).expect("read");
    }
    std::thread::sleep(Duration::from_secs(2));
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).expect("proc status");
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    child.kill().ok();
    child.wait().ok();
    kb / 1024.0
}

async fn run_backend(name: &str, url: &str, dir: &Path) -> Vec<String> {
    let import_rows = env_u64("BENCH_IMPORT_ROWS", 100_000);
    let total = env_u64("BENCH_STORE_PATIENTS", 1_000_000).max(import_rows);
    let queries = env_u64("BENCH_QUERIES", 2000);
    let store = Store::open(url, &DbOptions::default(), Clock::system()).await.expect("open");
    let org = new_organization(&store).await;
    eprintln!("[{name}] importing {import_rows} patients from CSV …");
    let rate = import(&store, org, dir, 0, import_rows).await;
    let mut lines = vec![format!("registry {name}: csv import {import_rows} patients: {rate:.0} rows/s")];
    eprintln!("{}", lines[0]);
    let mut from = import_rows;
    while from < total {
        let count = (total - from).min(250_000);
        eprintln!("[{name}] filling: {from} of {total} …");
        import(&store, org, dir, from, count).await;
        from += count;
    }
    // The steady state: statistics fresh (as `rapport import` leaves them) and,
    // on PostgreSQL, the visibility map set (as autovacuum leaves it).
    store.refresh_statistics().await.expect("statistics");
    if url.starts_with("postgres") {
        let admin = Store::open_admin(url).await.expect("connect");
        admin.vacuum().await.expect("vacuum");
        admin.close().await;
    }
    eprintln!("[{name}] searching ({queries} queries per kind) …");
    for (kind, p50, p99) in search_latencies(&store, org, total, queries).await {
        let line = format!("registry {name}: search by {kind} with {total} patients: p50 {p50:.2} ms, p99 {p99:.2} ms");
        eprintln!("{line}");
        lines.push(line);
    }
    for (kind, p50, p99) in fhir_latencies(&store, org, total, queries).await {
        let line = format!(
            "registry {name}: FHIR Patient search by {kind} with {total} patients: p50 {p50:.2} ms, p99 {p99:.2} ms"
        );
        eprintln!("{line}");
        lines.push(line);
    }
    let rss_line = |rss: f64| format!("registry {name}: idle RSS of rapport serve with {total} patients: {rss:.1} MB");
    store.close().await;
    let rss = idle_rss_mb(url, org);
    eprintln!("{}", rss_line(rss));
    lines.push(rss_line(rss));
    lines
}

fn main() {
    let figures = common::on_each_backend("rapport_bench", |name, url, dir| {
        let dir = dir.to_owned();
        async move { run_backend(name, &url, &dir).await }
    });
    println!("== figures (rapport registry) ==");
    for line in figures {
        println!("{line}");
    }
}
