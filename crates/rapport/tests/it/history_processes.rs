//! The history checker across real processes: `rapport dispatch` processes
//! (one on SQLite, three on PostgreSQL) send through the Twilio simulator
//! while the test plans, cancels, texts STOP, injects provider faults and
//! kills dispatchers with SIGKILL at random moments, restarting them. The
//! processes run on the real clock, so patients in six zones are in or out
//! of their sending hours as the day has it. After a drain the history is
//! checked as in `history.rs`, and the processes' logs for patient data.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use rapport::clock::Clock;
use rapport::simulators::twilio::{Fault, TwilioSimulator};
use rapport::store::{DbOptions, Store};
use rapport_domain::{MessageState, OrganizationId};

use crate::history::{Planned, Rng, check, deferred, people, plan_random, summary};
use crate::sms::SENDER;
use crate::support::{TestDb, postgres_url};

const BIN: &str = env!("CARGO_BIN_EXE_rapport");

/// The dispatcher processes; all killed when dropped.
pub struct Dispatchers {
    pub config: std::path::PathBuf,
    pub logs: std::path::PathBuf,
    pub children: Vec<Child>,
    pub started: usize,
}

impl Dispatchers {
    fn spawn(&mut self) -> Child {
        self.started += 1;
        let log = std::fs::File::create(self.logs.join(format!("dispatcher-{}.log", self.started))).expect("log file");
        Command::new(BIN)
            .args(["dispatch", "--config"])
            .arg(&self.config)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start rapport dispatch")
    }

    pub fn start(&mut self, count: usize) {
        for _ in 0..count {
            let child = self.spawn();
            self.children.push(child);
        }
    }

    /// SIGKILL one, and start another in its place.
    pub fn kill_and_restart(&mut self, which: usize) {
        let mut victim = self.children.swap_remove(which);
        let _ = victim.kill();
        let _ = victim.wait();
        let child = self.spawn();
        self.children.push(child);
    }

    pub fn stop(&mut self) {
        for child in &mut self.children {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        }
        for child in &mut self.children {
            let _ = child.wait();
        }
        self.children.clear();
    }
}

impl Drop for Dispatchers {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn config_text(url: &str, sim: &TwilioSimulator) -> String {
    format!(
        "database_url = {url:?}\nlog = \"info\"\nmax_connections = 4\n\
         [sms]\nprovider = \"twilio\"\nbase_url = {:?}\naccount_sid = {:?}\nauth_token = {:?}\nfrom = {SENDER:?}\n\
         timeout_seconds = 1\n\
         [dispatcher]\nbatch = 5\nlease_seconds = 3\nreconcile_seconds = 1\nretry_base_seconds = 1\n",
        sim.base_url(),
        sim.account_sid,
        sim.auth_token
    )
}

/// Whether every message has settled: sent, closed, or waiting by policy
/// for a later moment (the patient's hours, a cap), not for a retry.
async fn settled(store: &Store, org: OrganizationId, planned: &[Planned]) -> bool {
    for plan in planned {
        let message = store.message(org, plan.id).await.expect("message");
        match message.state {
            MessageState::Sending | MessageState::InDoubt => return false,
            MessageState::Planned if !deferred(store, org, plan.id).await => return false,
            _ => {}
        }
    }
    true
}

async fn run(url: String, processes: usize, seed: u64) {
    let mut rng = Rng::new(seed);
    let store = Store::open(&url, &DbOptions::default(), Clock::system()).await.expect("open");
    let org: OrganizationId = crate::support::seed_organization(&store, "Processes").await.id;
    let people = people(&store, org, 24).await;
    let sim = TwilioSimulator::start(Clock::system()).await.expect("simulator");
    sim.stop_reporting();
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("rapport.toml");
    std::fs::write(&config, config_text(&url, &sim)).expect("config");
    let mut dispatchers = Dispatchers { config, logs: dir.path().to_owned(), children: Vec::new(), started: 0 };
    let mut planned: Vec<Planned> = Vec::new();
    let mut stops: HashMap<usize, Timestamp> = HashMap::new();
    let soon = |rng: &mut Rng| Timestamp::now() + SignedDuration::from_millis(rng.below(8_000) as i64);
    for _ in 0..120 {
        let due_at = soon(&mut rng);
        plan_random(&store, org, &people, &mut planned, &mut rng, 30, due_at).await;
    }
    dispatchers.start(processes);
    let chaos_until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < chaos_until {
        tokio::time::sleep(Duration::from_millis(100 + rng.below(400))).await;
        match rng.below(100) {
            0..=29 => {
                let which = rng.below(processes as u64) as usize;
                dispatchers.kill_and_restart(which);
            }
            30..=49 => {
                let n = rng.below(planned.len() as u64) as usize;
                let cancelled = store
                    .close_message(org, planned[n].id, MessageState::Cancelled, "cancelled")
                    .await
                    .expect("cancel");
                planned[n].cancelled |= cancelled;
            }
            50..=57 => {
                let person = rng.below(people.len() as u64) as usize;
                let now = Timestamp::now();
                store.suppress_sms(org, SENDER, &people[person].number).await.expect("stop");
                stops.entry(person).or_insert(now);
            }
            58..=79 => sim.push_fault(match rng.below(4) {
                0 => Fault::ServerError,
                1 => Fault::RateLimited { retry_after_secs: 1 },
                2 => Fault::Slow(Duration::from_millis(1_500)),
                _ => Fault::DropAfterAccept,
            }),
            _ => {
                for _ in 0..5 {
                    let due_at = soon(&mut rng);
                    plan_random(&store, org, &people, &mut planned, &mut rng, 30, due_at).await;
                }
            }
        }
    }
    sim.clear_faults();
    // The drain: the dispatchers, left alone, settle everything due (retries
    // wait a second, doubling; expired leases, three seconds).
    let drain_until = Instant::now() + Duration::from_secs(90);
    while !settled(&store, org, &planned).await && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    dispatchers.stop();
    let (states, doubts) = summary(&store, org, &planned).await;
    eprintln!(
        "processes seed {seed} ({}): {states:?}; {} at the provider, {doubts} in doubt on the way, {} dispatchers started",
        store.backend().name(),
        sim.messages().len(),
        dispatchers.started
    );
    let problems = check(&store, org, &people, &planned, &stops, &sim.messages()).await;
    assert!(problems.is_empty(), "seed {seed} on {} with {processes} processes: {problems:#?}", store.backend().name());
    assert!(!sim.messages().is_empty(), "the history sent something");
    assert!(dispatchers.started > processes, "dispatchers were killed and restarted");
    let numbers: Vec<&str> = people.iter().map(|p| p.number.as_str()).collect();
    assert_logs_clean(dir.path(), &numbers);
    store.close().await;
}

/// Fails on a message body or a patient's number in a process's log in `dir`.
pub fn assert_logs_clean(dir: &std::path::Path, numbers: &[&str]) {
    for entry in std::fs::read_dir(dir).expect("logs") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "log") {
            let text = std::fs::read_to_string(&path).expect("log");
            assert!(!text.contains("Reminder") && !text.contains("Crash c"), "a message body in {}", path.display());
            for number in numbers {
                assert!(!text.contains(number), "a patient's number in {}", path.display());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatcher_processes_killed_at_random_never_duplicate_and_lose_nothing() {
    let seed = std::env::var("RAPPORT_HISTORY_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(7);
    let (_db, url) = TestDb::sqlite();
    run(url, 1, seed).await;
    if let Some(admin) = postgres_url() {
        let (_db, url) = TestDb::postgres(&admin).await;
        run(url, 3, seed).await;
    }
}
