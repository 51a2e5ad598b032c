//! The trust benchmark (issue: trust). What guarding every request costs, on
//! SQLite and PostgreSQL: a patient read through the store alone versus the
//! same read through the HTTP router with an API token (token lookup,
//! policy, audit event appended and committed), one at a time and with 8
//! concurrent clients; a staff sign-in (Argon2id, throttle counters, session,
//! audit); refused sign-ins of unknown accounts against wrong passwords of
//! real ones (they must take alike: no enumeration by timing); and `audit
//! verify` over the trail those requests left.
//!
//! Run: `cargo bench -p rapport --bench trust`. Knobs: `BENCH_BACKENDS`
//! (`sqlite,postgres`), `BENCH_QUERIES` (2000), `BENCH_SECONDS` (5, for the
//! concurrent run), `RAPPORT_BENCH_POSTGRES_URL`.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use rapport::app::App;
use rapport::auth::{TOKEN_PREFIX, password, secret};
use rapport::clock::Clock;
use rapport::config::Config;
use rapport::store::{DbOptions, NewApiToken, NewStaffUser, Store};
use rapport_domain::{Email, OrganizationId, PatientDetails, PatientId, Role};
use tower::ServiceExt;

mod common;
use common::{env_u64, percentile};

fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    (percentile(&samples, 0.5), percentile(&samples, 0.99))
}

async fn setup(store: &Store) -> (OrganizationId, Vec<PatientId>, String) {
    let org = common::new_organization(store).await;
    let mut patients = Vec::new();
    for i in 0..200 {
        let details = PatientDetails::new(format!("Given{i}"), format!("Family{i}"));
        patients.push(store.create_patient(org, &details).await.expect("patient").id);
    }
    let token = secret::random_token(TOKEN_PREFIX);
    store
        .create_api_token(&NewApiToken {
            organization_id: org,
            name: "bench".into(),
            prefix: token[..8].to_owned(),
            token_digest: secret::digest(&token),
            scopes: Role::Integration.capabilities().to_vec(),
            created_by: None,
        })
        .await
        .expect("token");
    store
        .create_staff_user(&NewStaffUser {
            organization_id: org,
            email: Email::parse("bench@bench.example").expect("email"),
            display_name: "Bench".into(),
            role: Role::FrontDesk,
            password_hash: password::hash("a bench passphrase"),
        })
        .await
        .expect("user");
    (org, patients, token)
}

async fn call(app: &axum::Router, request: Request<Body>) -> StatusCode {
    let response = app.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let _ = response.into_body().collect().await;
    status
}

fn read(org: OrganizationId, patient: PatientId, token: &str) -> Request<Body> {
    Request::get(format!("/api/v1/organizations/{org}/patients/{patient}"))
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request")
}

async fn run_backend(name: &str, url: &str) -> Vec<String> {
    let queries = env_u64("BENCH_QUERIES", 2000) as usize;
    let seconds = env_u64("BENCH_SECONDS", 5);
    let store = Store::open(url, &DbOptions::default(), Clock::system()).await.expect("open");
    let (org, patients, token) = setup(&store).await;
    let app = App::build(&Config::default(), store.clone()).await.expect("the app").router();
    let mut lines = Vec::new();
    let mut report = |line: String| {
        eprintln!("{line}");
        lines.push(line);
    };

    let mut store_only = Vec::with_capacity(queries);
    for i in 0..queries {
        let started = Instant::now();
        store.get_patient(org, patients[i % patients.len()]).await.expect("read");
        store_only.push(started.elapsed());
    }
    let (p50, p99) = percentiles(store_only);
    report(format!("trust {name}: patient read, store only: p50 {p50:.2} ms, p99 {p99:.2} ms"));

    let mut guarded = Vec::with_capacity(queries);
    for i in 0..queries {
        let started = Instant::now();
        let status = call(&app, read(org, patients[i % patients.len()], &token)).await;
        guarded.push(started.elapsed());
        assert_eq!(status, StatusCode::OK);
    }
    let (p50, p99) = percentiles(guarded);
    report(format!("trust {name}: patient read via HTTP, token + audit event: p50 {p50:.2} ms, p99 {p99:.2} ms"));

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let clients: Vec<_> = (0..8)
        .map(|c| {
            let (app, token, patients) = (app.clone(), token.clone(), patients.clone());
            tokio::spawn(async move {
                let mut done = 0u64;
                while Instant::now() < deadline {
                    let status = call(&app, read(org, patients[(done as usize + c) % patients.len()], &token)).await;
                    assert_eq!(status, StatusCode::OK);
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut total = 0;
    for client in clients {
        total += client.await.expect("client");
    }
    report(format!(
        "trust {name}: guarded patient reads, 8 concurrent clients: {:.0} requests/s (each one audited)",
        total as f64 / seconds as f64
    ));

    let mut sign_ins = Vec::new();
    for _ in 0..30 {
        let body = r#"{"email":"bench@bench.example","password":"a bench passphrase"}"#;
        let request = Request::post("/api/v1/auth/login")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .expect("request");
        let started = Instant::now();
        assert_eq!(call(&app, request).await, StatusCode::OK);
        sign_ins.push(started.elapsed());
    }
    let (p50, p99) = percentiles(sign_ins);
    report(format!("trust {name}: staff sign-in (Argon2id, session, audit): p50 {p50:.1} ms, p99 {p99:.1} ms"));

    // No account enumeration by timing: unknown accounts are checked against a dummy hash.
    for i in 0..30 {
        let email = Email::parse(&format!("guessed{i}@bench.example")).expect("email");
        let new = NewStaffUser {
            organization_id: org,
            email,
            display_name: "Guessed".into(),
            role: Role::FrontDesk,
            password_hash: password::hash("the real passphrase"),
        };
        store.create_staff_user(&new).await.expect("user");
    }
    // Interleaved, so both kinds meet the same machine.
    let (mut unknown, mut wrong) = (Vec::new(), Vec::new());
    for i in 0..60 {
        for (prefix, samples) in [("nobody", &mut unknown), ("guessed", &mut wrong)] {
            let body = format!(r#"{{"email":"{prefix}{}@bench.example","password":"a wrong passphrase"}}"#, i % 30);
            let request = Request::post("/api/v1/auth/login")
                .header("content-type", "application/json")
                .body(Body::from(body))
                .expect("request");
            let started = Instant::now();
            let status = call(&app, request).await;
            if status == StatusCode::UNAUTHORIZED {
                samples.push(started.elapsed());
            }
        }
    }
    let ((unknown, _), (wrong, _)) = (percentiles(unknown), percentiles(wrong));
    report(format!("trust {name}: refused sign-in p50: unknown account {unknown:.1} ms, wrong password {wrong:.1} ms"));

    let started = Instant::now();
    let chains = store.verify_audit().await.expect("verify");
    let events: i64 = chains.iter().map(|c| c.events).sum();
    assert!(chains.iter().all(|c| c.problems.is_empty()));
    let rate = events as f64 / started.elapsed().as_secs_f64();
    report(format!("trust {name}: audit verify: {events} events at {rate:.0} events/s"));
    store.close().await;
    lines
}

fn main() {
    let figures =
        common::on_each_backend("rapport_trust_bench", |name, url, _| async move { run_backend(name, &url).await });
    println!("== figures (rapport trust) ==");
    for line in figures {
        println!("{line}");
    }
}
