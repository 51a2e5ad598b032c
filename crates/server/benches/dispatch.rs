//! The dispatch benchmark (issue: messaging engine). Throughput from due
//! message to hand-off, through the log channel (which commits the outbox
//! row with the `sent` state): lease, re-check state, patient and consent,
//! route, hours, hand-off, trace. On SQLite with one worker, on PostgreSQL
//! with one and with three concurrent workers (in one process).
//!
//! Run: `cargo bench -p rapport-server --bench dispatch`. Knobs:
//! `BENCH_BACKENDS`, `BENCH_MESSAGES` (20000), `RAPPORT_BENCH_POSTGRES_URL`.

use std::time::Instant;

use jiff::SignedDuration;
use rapport_domain::{
    LanguageTag, MessageClass, MessagePlan, Organization, OrganizationId, PatientDetails, PatientPhone, PhoneE164,
    PhoneKind, TimeZoneName,
};
use rapport_server::clock::Clock;
use rapport_server::engine::dispatch::MessageSender;
use rapport_server::jobs::{RetryPolicy, WorkerSettings};
use rapport_server::store::{DbOptions, Store};

mod common;
use common::env_u64;

/// A weekday at 10:00 in Chicago: inside everyone's sending hours.
fn daytime() -> jiff::Timestamp {
    "2026-11-18T16:00:00Z".parse().expect("time")
}

async fn fill(store: &Store, messages: u64) -> OrganizationId {
    let org = Organization {
        id: OrganizationId::generate(),
        name: "Bench Health".into(),
        time_zone: TimeZoneName::parse("America/Chicago").expect("zone"),
        default_language: LanguageTag::parse("en").expect("language"),
        version: 1,
        created_at: daytime(),
        updated_at: daytime(),
    };
    let org = store.create_organization(&org).await.expect("organization").id;
    let patients = (messages / 10).max(1);
    let mut ids = Vec::new();
    for i in 0..patients {
        let mut details = PatientDetails::new(format!("Given{i}"), format!("Family{i}"));
        details.time_zone = Some(TimeZoneName::parse("America/Chicago").expect("zone"));
        let number = PhoneE164::parse(&format!("+1312555{:04}", i % 10_000)).expect("phone");
        details.phones = vec![PatientPhone { number, kind: PhoneKind::Mobile }];
        ids.push(store.create_patient(org, &details).await.expect("patient").id);
    }
    for m in 0..messages {
        let plan = MessagePlan {
            patient_id: ids[(m % patients) as usize],
            class: MessageClass::Transactional,
            idempotency_key: format!("bench-{m}"),
            subject: None,
            body: "Your lab results are ready in the portal.".into(),
            due_at: daytime(),
            expires_at: None,
        };
        store.plan_message(org, &plan).await.expect("plan");
    }
    org
}

async fn drain(store: &Store, workers: usize) -> u64 {
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let settings = WorkerSettings {
                    owner: format!("bench-{w}"),
                    batch: 100,
                    lease_for: SignedDuration::from_mins(5),
                    retry: RetryPolicy::default(),
                };
                let sender = MessageSender::new(store.clone());
                let mut done = 0;
                loop {
                    let report = sender.dispatch_batch(&settings).await.expect("batch");
                    if report == Default::default() {
                        return done;
                    }
                    done += report.done as u64;
                }
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await.expect("worker");
    }
    total
}

async fn run_backend(name: &'static str, url: String) -> Vec<String> {
    let messages = env_u64("BENCH_MESSAGES", 20_000);
    let worker_counts: &[usize] = if name == "sqlite" { &[1] } else { &[1, 3] };
    let mut lines = Vec::new();
    for (round, &workers) in worker_counts.iter().enumerate() {
        let (clock, _) = Clock::manual(daytime());
        let store = Store::open(&url, &DbOptions::default(), clock).await.expect("open");
        eprintln!("[{name}] planning {messages} messages (round {round}) …");
        fill(&store, messages).await;
        let started = Instant::now();
        let sent = drain(&store, workers).await;
        let rate = sent as f64 / started.elapsed().as_secs_f64();
        assert_eq!(sent, messages, "every message sent once");
        let line = format!(
            "dispatch {name}: {messages} due messages to the log channel, {workers} worker(s): {rate:.0} messages/s"
        );
        eprintln!("{line}");
        lines.push(line);
        store.close().await;
    }
    lines
}

fn main() {
    let figures = common::on_each_backend("rapport_dispatch_bench", |name, url, _| run_backend(name, url));
    println!("== figures (rapport dispatch) ==");
    for line in figures {
        println!("{line}");
    }
}
