//! The dispatch benchmark (issue: messaging engine). Throughput from due
//! message to hand-off: lease, re-read state, patient, consents, opt-outs
//! and undeliverable addresses, route, hours, commit `sending` with the
//! trace, hand over, commit the answers and the jobs' ends. Two targets:
//! the log channel's outbox, and the Twilio simulator over HTTP (in this
//! process, accepting at once). On each backend with one and with three
//! concurrent workers (in one process). Each provider records its
//! hand-offs' start before they go (16 requests at a time to the
//! simulator); the log channel's hand-off commits with the decisions.
//!
//! By default each message is templated (the shipped appointment reminder,
//! composed at hand-off from the patient, the visit, its location and
//! provider); `BENCH_WORDS=plain` plans fixed words instead.
//!
//! Run: `cargo bench -p rapport --bench dispatch`. Knobs:
//! `BENCH_BACKENDS`, `BENCH_TARGETS` (`log,twilio`), `BENCH_MESSAGES`
//! (20000), `BENCH_BATCH` (jobs leased at a time, 100), `BENCH_WORDS`
//! (`templated`, `plain`), `RAPPORT_BENCH_POSTGRES_URL`.

use std::time::Instant;

use jiff::SignedDuration;
use rapport_domain::message::template::TemplateKind;
use rapport_domain::{
    Address, AppointmentDetails, AppointmentStatus, LanguageTag, Location, LocationId, MessageClass, MessagePlan,
    OpeningHours, OrganizationId, PatientDetails, PatientPhone, PhoneE164, PhoneKind, TimeZoneName,
};
use std::sync::Arc;

use rapport::channels::Providers;
use rapport::channels::twilio::{TwilioSettings, TwilioSms};
use rapport::clock::Clock;
use rapport::config::Secret;
use rapport::engine::dispatch::MessageSender;
use rapport::jobs::{RetryPolicy, WorkerSettings};
use rapport::simulators::twilio::TwilioSimulator;
use rapport::store::{DbOptions, Store};

mod common;
use common::env_u64;

/// A weekday at 10:00 in Chicago: inside everyone's sending hours.
fn daytime() -> jiff::Timestamp {
    "2026-11-18T16:00:00Z".parse().expect("time")
}

async fn fill(store: &Store, messages: u64) -> OrganizationId {
    let templated = std::env::var("BENCH_WORDS").map_or(true, |w| w != "plain");
    let org = common::new_organization(store).await;
    let location = store
        .create_location(&Location {
            id: LocationId::generate(),
            organization_id: org,
            name: "Lakeshore".into(),
            address: Address { line: Some("1 Lake St".into()), city: Some("Chicago".into()), ..Address::default() },
            phone: None,
            time_zone: TimeZoneName::parse("America/Chicago").expect("zone"),
            opening_hours: OpeningHours::weekdays_8_to_5(),
            version: 0,
            created_at: daytime(),
            updated_at: daytime(),
        })
        .await
        .expect("location");
    let patients = (messages / 10).max(1);
    let mut ids = Vec::new();
    let mut visits = Vec::new();
    for i in 0..patients {
        let mut details = PatientDetails::new(format!("Given{i}"), format!("Family{i}"));
        details.time_zone = Some(TimeZoneName::parse("America/Chicago").expect("zone"));
        if i % 3 == 0 {
            details.language = Some(LanguageTag::parse("es").expect("language"));
        }
        let number = PhoneE164::parse(&format!("+1312555{:04}", i % 10_000)).expect("phone");
        details.phones = vec![PatientPhone { number, kind: PhoneKind::Mobile }];
        let patient = store.create_patient(org, &details).await.expect("patient").id;
        ids.push(patient);
        if templated {
            let start = daytime() + SignedDuration::from_hours(24 + (i % 48) as i64);
            let visit = AppointmentDetails {
                patient_id: patient,
                provider_id: None,
                location_id: location.id,
                start,
                end: start + SignedDuration::from_mins(30),
                visit_type: "follow-up".into(),
                status: AppointmentStatus::Booked,
                source: None,
            };
            visits.push(store.create_appointment(org, &visit).await.expect("appointment").id);
        }
    }
    let kind = TemplateKind::parse("appointment_reminder").expect("kind");
    for m in 0..messages {
        let who = (m % patients) as usize;
        let plan = MessagePlan {
            patient_id: ids[who],
            class: MessageClass::Transactional,
            idempotency_key: format!("bench-{m}"),
            subject: None,
            body: if templated { String::new() } else { "Your lab results are ready in the portal.".into() },
            template: templated.then(|| kind.clone()),
            appointment_id: visits.get(who).copied(),
            priority: rapport_domain::message::pace::Priority::Timely,
            media: Vec::new(),
            channel: None,
            to: None,
            due_at: daytime(),
            expires_at: None,
        };
        store.plan_message(org, &plan).await.expect("plan");
    }
    org
}

/// Where the texts go: the log channel's outbox, or the Twilio simulator over HTTP.
#[derive(Clone)]
enum Target {
    Log,
    Twilio(TwilioSimulator),
}

fn sender(store: &Store, target: &Target) -> MessageSender {
    match target {
        Target::Log => MessageSender::new(store.clone()),
        Target::Twilio(sim) => {
            let mut providers = Providers::log_only(store);
            let settings = TwilioSettings {
                base_url: sim.base_url(),
                account_sid: sim.account_sid.clone(),
                auth_token: Secret::new(sim.auth_token.clone()),
                from: Some("+13125550000".into()),
                messaging_service_sid: None,
                callback_base: None,
                timeout: std::time::Duration::from_secs(10),
            };
            providers.sms = Arc::new(TwilioSms::new(settings).expect("client"));
            MessageSender::with_providers(store.clone(), providers)
        }
    }
}

async fn drain(store: &Store, workers: usize, target: &Target) -> u64 {
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let store = store.clone();
            let target = target.clone();
            tokio::spawn(async move {
                let settings = WorkerSettings {
                    owner: format!("bench-{w}"),
                    batch: env_u64("BENCH_BATCH", 100) as usize,
                    lease_for: SignedDuration::from_mins(5),
                    retry: RetryPolicy::default(),
                };
                let sender = sender(&store, &target);
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
    let batch = env_u64("BENCH_BATCH", 100);
    let worker_counts: &[usize] = &[1, 3];
    let targets = std::env::var("BENCH_TARGETS").unwrap_or_else(|_| "log,twilio".into());
    let mut lines = Vec::new();
    for target_name in targets.split(',') {
        for (round, &workers) in worker_counts.iter().enumerate() {
            let (clock, _) = Clock::manual(daytime());
            let store = Store::open(&url, &DbOptions::default(), clock.clone()).await.expect("open");
            let (target, to) = match target_name.trim() {
                "log" => (Target::Log, "the log channel"),
                "twilio" => {
                    let sim = TwilioSimulator::start(clock).await.expect("simulator");
                    sim.stop_reporting();
                    (Target::Twilio(sim), "the Twilio simulator over HTTP")
                }
                other => panic!("unknown target {other:?} in BENCH_TARGETS"),
            };
            eprintln!("[{name}] planning {messages} messages ({target_name}, round {round}) …");
            fill(&store, messages).await;
            // As after an import: the planner's statistics catch up with the bulk load.
            store.refresh_statistics().await.expect("statistics");
            let started = Instant::now();
            let sent = drain(&store, workers, &target).await;
            let rate = sent as f64 / started.elapsed().as_secs_f64();
            assert_eq!(sent, messages, "every message sent once");
            if let Target::Twilio(sim) = &target {
                assert_eq!(sim.messages().len() as u64, messages, "every text at the provider once");
            }
            let words = std::env::var("BENCH_WORDS").unwrap_or_else(|_| "templated".into());
            let line = format!(
                "dispatch {name}: {messages} due {words} messages to {to}, {workers} worker(s), batch {batch}: {rate:.0} messages/s"
            );
            eprintln!("{line}");
            lines.push(line);
            store.close().await;
        }
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
