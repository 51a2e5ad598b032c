//! The reminders benchmark (issue: reminders). Two figures per backend:
//!
//! - planning: a feed of visits upserted in batches of 500 (the import and
//!   EHR path: each write enqueues its visit's sync), then the planner
//!   drains the syncs: visits planned per second, and the reminders planned;
//! - answers: each patient texts "1" to the reminder they got; the text is
//!   kept, placed on its visit and settled with the answer, the audit event
//!   and the acknowledgement (`engine::replies::take_text`): answers per
//!   second, and the latency of one (p50, p99).
//!
//! Run: `cargo bench -p rapport --bench reminders`. Knobs:
//! `BENCH_BACKENDS`, `BENCH_VISITS` (5000), `BENCH_ANSWERS` (1000),
//! `RAPPORT_BENCH_POSTGRES_URL`.

use std::time::{Duration, Instant};

use jiff::SignedDuration;
use rapport::clock::Clock;
use rapport::engine::dispatch::MessageSender;
use rapport::engine::reminders::ReminderPlanner;
use rapport::engine::replies::take_text;
use rapport::jobs::{RetryPolicy, WorkerSettings};
use rapport::store::{AppointmentUpsert, DbOptions, InboundText, Store};
use rapport_domain::{
    Address, AppointmentDetails, AppointmentStatus, ExternalId, Location, LocationId, OpeningHours, OrganizationId,
    PatientDetails, PatientId, PatientPhone, PhoneE164, PhoneKind, ReplyWords, TimeZoneName,
};

mod common;
use common::{env_u64, percentile};

/// Monday 16 November 2026, 10:00 in Chicago.
fn monday() -> jiff::Timestamp {
    "2026-11-16T16:00:00Z".parse().expect("time")
}

fn worker(batch: usize) -> WorkerSettings {
    WorkerSettings {
        owner: "bench".into(),
        batch,
        lease_for: SignedDuration::from_mins(5),
        retry: RetryPolicy::default(),
    }
}

fn number(i: u64) -> String {
    format!("+1312{:07}", 5_000_000 + i)
}

/// An organization, a location and one patient per visit.
async fn practice(store: &Store, visits: u64) -> (OrganizationId, LocationId, Vec<PatientId>) {
    let org = common::new_organization(store).await;
    let location = store
        .create_location(&Location {
            id: LocationId::generate(),
            organization_id: org,
            name: "Lakeshore".into(),
            address: Address { city: Some("Chicago".into()), ..Address::default() },
            phone: None,
            time_zone: TimeZoneName::parse("America/Chicago").expect("zone"),
            opening_hours: OpeningHours::weekdays_8_to_5(),
            version: 0,
            created_at: monday(),
            updated_at: monday(),
        })
        .await
        .expect("location")
        .id;
    let mut patients = Vec::new();
    for i in 0..visits {
        let mut details = PatientDetails::new(format!("Given{i}"), format!("Family{i}"));
        details.time_zone = Some(TimeZoneName::parse("America/Chicago").expect("zone"));
        details.phones =
            vec![PatientPhone { number: PhoneE164::parse(&number(i)).expect("phone"), kind: PhoneKind::Mobile }];
        patients.push(store.create_patient(org, &details).await.expect("patient").id);
    }
    (org, location, patients)
}

async fn run_backend(name: &'static str, url: String) -> Vec<String> {
    let visits = env_u64("BENCH_VISITS", 5000);
    let answers = env_u64("BENCH_ANSWERS", 1000).min(visits);
    let (clock, hand) = Clock::manual(monday());
    let store = Store::open(&url, &DbOptions::default(), clock).await.expect("open");
    eprintln!("[{name}] {visits} patients …");
    let (org, location, patients) = practice(&store, visits).await;
    // Thursday to Saturday, 09:00 to 16:30: the 3-day reminder is due from Monday on.
    let records: Vec<AppointmentUpsert> = patients
        .iter()
        .enumerate()
        .map(|(i, patient)| {
            let start = monday()
                + SignedDuration::from_hours(71 + (i % 48) as i64)
                + SignedDuration::from_mins(30 * (i % 2) as i64);
            AppointmentUpsert {
                details: AppointmentDetails {
                    patient_id: *patient,
                    provider_id: None,
                    location_id: location,
                    start,
                    end: start + SignedDuration::from_mins(30),
                    visit_type: "follow-up".into(),
                    status: AppointmentStatus::Booked,
                    source: Some(ExternalId { system: "urn:bench:ehr".into(), value: format!("visit-{i}") }),
                },
            }
        })
        .collect();
    for chunk in records.chunks(500) {
        store.upsert_appointments(org, chunk).await.expect("upsert");
    }
    store.refresh_statistics().await.expect("statistics");
    let planner = ReminderPlanner::new(store.clone());
    let started = Instant::now();
    let mut synced = 0;
    loop {
        let report = planner.plan_batch(&worker(100)).await.expect("plan");
        if report.done == 0 {
            break;
        }
        synced += report.done;
    }
    let planning = started.elapsed();
    assert_eq!(synced as u64, visits, "one sync per visit");
    let mut lines = vec![format!(
        "reminders {name}: {visits} visits upserted in batches of 500, synced by the planner: {:.0} visits/s ({:.1} s)",
        visits as f64 / planning.as_secs_f64(),
        planning.as_secs_f64()
    )];
    eprintln!("{}", lines[0]);

    // The reminders due go out (log channel), then patients answer.
    hand.set(monday() + SignedDuration::from_hours(47));
    let sender = MessageSender::new(store.clone());
    while sender.dispatch_batch(&worker(500)).await.expect("dispatch").done > 0 {}
    let words = ReplyWords::standard();
    let mut latencies: Vec<Duration> = Vec::with_capacity(answers as usize);
    let started = Instant::now();
    let mut answered = 0;
    for i in 0..answers {
        let text = InboundText {
            provider_ref: format!("SM{i}").into(),
            from: number(i),
            to: "+13125550000".into(),
            body: "1".into(),
            media: Vec::new(),
        };
        let one = Instant::now();
        let taken = take_text(&store, org, &text, &words, store.clock().now()).await.expect("take");
        latencies.push(one.elapsed());
        answered += u64::from(taken.answered.is_some());
    }
    let elapsed = started.elapsed();
    assert_eq!(answered, answers, "every answer placed on its visit");
    latencies.sort();
    let line = format!(
        "reminders {name}: {answers} text answers placed and settled: {:.0} answers/s, p50 {:.2} ms, p99 {:.2} ms",
        answers as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
    eprintln!("{line}");
    lines.push(line);
    store.close().await;
    lines
}

fn main() {
    let figures = common::on_each_backend("rapport_reminders_bench", |name, url, _| run_backend(name, url));
    println!("== figures (rapport reminders) ==");
    for line in figures {
        println!("{line}");
    }
}
