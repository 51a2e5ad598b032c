//! The crash test for delivery: real `rapport dispatch` processes (one on
//! SQLite, three on PostgreSQL) send emails to a real SMTP server (aiosmtpd
//! from PyPI, checking each DKIM signature with dkimpy) and texts to the
//! Twilio simulator, and are SIGKILLed at random while they send, then
//! restarted, while the test cancels messages and records STOPs. Then,
//! from the server's and the simulator's own records: every message was
//! received at most once; a sent one exactly once; one in doubt is an email
//! (texts are settled by a lookup), at most one per kill (an SMTP session
//! has one email in flight); none cancelled or stopped went.
//!
//! The SMTP server needs a Python with aiosmtpd and dkimpy, named by
//! `RAPPORT_TEST_PYTHON` (`.ci/run` makes one); under CI it is mandatory.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use rapport::clock::Clock;
use rapport::simulators::twilio::TwilioSimulator;
use rapport::store::{DbOptions, Store};
use rapport_domain::{Channel, Email, MessageClass, MessageId, MessagePlan, MessageState, OrganizationId};
use rapport_domain::{PatientDetails, PatientEmail, PatientPhone, PhoneE164, PhoneKind, TimeZoneName};

use crate::history::Rng;
use crate::history_processes::Dispatchers;
use crate::sms::SENDER;
use crate::support::{TestDb, postgres_url};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// aiosmtpd in its own process, killed when dropped.
struct SmtpSink {
    child: Child,
    port: u16,
    record: PathBuf,
}

impl SmtpSink {
    fn start(python: &str, dir: &Path) -> Self {
        let (port_file, record) = (dir.join("smtp.port"), dir.join("smtp.record"));
        let child = Command::new(python)
            .arg(format!("{FIXTURES}/smtp_sink.py"))
            .args([&port_file, &record])
            .arg(format!("{FIXTURES}/dkim/test-only-rsa.pub.b64"))
            .stdout(Stdio::null())
            .spawn()
            .expect("start the SMTP server");
        let until = Instant::now() + Duration::from_secs(20);
        let port = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                break text.trim().parse().expect("a port");
            }
            assert!(Instant::now() < until, "the SMTP server did not start");
            std::thread::sleep(Duration::from_millis(50));
        };
        Self { child, port, record }
    }

    /// Each email the server took, by our message id, and whether its DKIM signature verified.
    fn received(&self) -> Vec<(MessageId, bool)> {
        let text = std::fs::read_to_string(&self.record).unwrap_or_default();
        text.lines()
            .map(|line| {
                let (id, verdict) = line.split_once(' ').expect("a record line");
                let id = id.trim_start_matches('<').split('@').next().expect("a Message-ID");
                (id.parse().expect("our message id"), verdict == "pass")
            })
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A zone where it is now about midday, so every message may go at once.
fn midday_zone() -> TimeZoneName {
    let hour = Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).hour() as i32;
    // `Etc/GMT-N` is N hours ahead of UTC.
    let ahead = (12 - hour).clamp(-12, 14);
    let name = if ahead > 0 { format!("Etc/GMT-{ahead}") } else { format!("Etc/GMT+{}", -ahead) };
    TimeZoneName::parse(&name).expect("zone")
}

fn config_text(url: &str, sim: &TwilioSimulator, smtp_port: u16) -> String {
    format!(
        "database_url = {url:?}\nlog = \"info\"\nmax_connections = 4\n\
         [sms]\nprovider = \"twilio\"\nbase_url = {:?}\naccount_sid = {:?}\nauth_token = {:?}\nfrom = {SENDER:?}\n\
         timeout_seconds = 1\n\
         [email]\nprovider = \"smtp\"\nhost = \"127.0.0.1\"\nport = {smtp_port}\nsecurity = \"none\"\n\
         from = \"Crash Test <crash@rapport.example>\"\ntimeout_seconds = 1\ndkim_selector = \"s1\"\n\
         dkim_key_file = \"{FIXTURES}/dkim/test-only-rsa.pem\"\n\
         [dispatcher]\nbatch = 20\nlease_seconds = 3\nreconcile_seconds = 1\nretry_base_seconds = 1\n",
        sim.base_url(),
        sim.account_sid,
        sim.auth_token
    )
}

struct Sent {
    id: MessageId,
    person: usize,
    channel: Channel,
    cancelled: bool,
}

/// Plans message `n` for a random person on a channel picked at random.
async fn plan(
    store: &Store,
    org: OrganizationId,
    people: &[(rapport_domain::PatientId, String)],
    rng: &mut Rng,
    all: &mut Vec<Sent>,
) {
    let n = all.len();
    let person = rng.below(people.len() as u64) as usize;
    let channel = if rng.chance(60) { Channel::Email } else { Channel::Sms };
    let plan = MessagePlan {
        patient_id: people[person].0,
        class: MessageClass::Transactional,
        idempotency_key: format!("crash-{n}"),
        subject: Some("Your results".into()),
        body: format!("Crash c{n}: your results are ready."),
        template: None,
        appointment_id: None,
        priority: rapport_domain::message::pace::Priority::Timely,
        media: Vec::new(),
        channel: Some(channel),
        to: None,
        due_at: Timestamp::now(),
        expires_at: None,
    };
    let (message, _) = store.plan_message(org, &plan).await.expect("plan");
    all.push(Sent { id: message.id, person, channel, cancelled: false });
}

async fn people(store: &Store, org: OrganizationId, count: usize) -> Vec<(rapport_domain::PatientId, String)> {
    let mut people = Vec::new();
    for i in 0..count {
        let number = format!("+1312555{:04}", 3000 + i);
        let mut details = PatientDetails::new(format!("C{i}"), "Crash".into());
        details.time_zone = Some(midday_zone());
        details.phones =
            vec![PatientPhone { number: PhoneE164::parse(&number).expect("phone"), kind: PhoneKind::Mobile }];
        details.emails = vec![PatientEmail { address: Email::parse(&format!("c{i}@example.org")).expect("email") }];
        people.push((store.create_patient(org, &details).await.expect("patient").id, number));
    }
    people
}

async fn unsettled(store: &Store, org: OrganizationId, all: &[Sent]) -> usize {
    let mut count = 0;
    for sent in all {
        let state = store.message(org, sent.id).await.expect("message").state;
        count += usize::from(matches!(state, MessageState::Planned | MessageState::Sending));
        count += usize::from(state == MessageState::InDoubt && sent.channel == Channel::Sms);
    }
    count
}

async fn run(python: &str, url: String, processes: usize, seed: u64) {
    let mut rng = Rng::new(seed);
    let store = Store::open(&url, &DbOptions::default(), Clock::system()).await.expect("open");
    let org = crate::support::seed_organization(&store, "Crash").await.id;
    let people = people(&store, org, 20).await;
    let sim = TwilioSimulator::start(Clock::system()).await.expect("simulator");
    sim.stop_reporting();
    let dir = tempfile::tempdir().expect("dir");
    let sink = SmtpSink::start(python, dir.path());
    let config = dir.path().join("rapport.toml");
    std::fs::write(&config, config_text(&url, &sim, sink.port)).expect("config");
    let mut dispatchers = Dispatchers { config, logs: dir.path().to_owned(), children: Vec::new(), started: 0 };
    let mut all = Vec::new();
    for _ in 0..300 {
        plan(&store, org, &people, &mut rng, &mut all).await;
    }
    let mut stops: HashMap<usize, Timestamp> = HashMap::new();
    let mut kills = 0;
    dispatchers.start(processes);
    let chaos_until = Instant::now() + Duration::from_secs(8);
    while Instant::now() < chaos_until {
        tokio::time::sleep(Duration::from_millis(100 + rng.below(300))).await;
        match rng.below(100) {
            0..=49 => {
                dispatchers.kill_and_restart(rng.below(processes as u64) as usize);
                kills += 1;
            }
            50..=64 => {
                let n = rng.below(all.len() as u64) as usize;
                all[n].cancelled |=
                    store.close_message(org, all[n].id, MessageState::Cancelled, "cancelled").await.expect("cancel");
            }
            65..=69 => {
                let person = rng.below(people.len() as u64) as usize;
                store.suppress_sms(org, SENDER, &people[person].1).await.expect("stop");
                stops.entry(person).or_insert(Timestamp::now());
            }
            _ => {
                for _ in 0..5 {
                    plan(&store, org, &people, &mut rng, &mut all).await;
                }
            }
        }
    }
    let drain_until = Instant::now() + Duration::from_secs(90);
    while unsettled(&store, org, &all).await > 0 && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    dispatchers.stop();
    let problems = check(&store, org, &all, &stops, &sink.received(), &sim.messages(), kills).await;
    eprintln!(
        "crash seed {seed} ({}, {processes} processes): {} messages, {kills} kills, {} emails and {} texts received",
        store.backend().name(),
        all.len(),
        sink.received().len(),
        sim.messages().len()
    );
    assert!(problems.is_empty(), "seed {seed} on {}: {problems:#?}", store.backend().name());
    assert!(kills > 0 && !sink.received().is_empty(), "the test killed dispatchers while they sent");
    crate::history_processes::assert_logs_clean(dir.path(), &people.iter().map(|p| p.1.as_str()).collect::<Vec<_>>());
    store.close().await;
}

/// Everything wrong with how the history ended.
async fn check(
    store: &Store,
    org: OrganizationId,
    all: &[Sent],
    stops: &HashMap<usize, Timestamp>,
    emails: &[(MessageId, bool)],
    texts: &[rapport::simulators::twilio::SimMessage],
    kills: usize,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut received: HashMap<MessageId, usize> = HashMap::new();
    for (id, dkim) in emails {
        *received.entry(*id).or_default() += 1;
        if !dkim {
            problems.push(format!("{id}: its DKIM signature did not verify"));
        }
    }
    let ids: Vec<MessageId> = all.iter().map(|s| s.id).collect();
    for text in texts {
        let n: usize =
            text.body.trim_start_matches("Crash c").split(':').next().and_then(|n| n.parse().ok()).expect("ours");
        *received.entry(ids[n]).or_default() += 1;
    }
    let mut in_doubt = HashSet::new();
    for (n, sent) in all.iter().enumerate() {
        let message = store.message(org, sent.id).await.expect("message");
        let count = received.get(&sent.id).copied().unwrap_or(0);
        let what = format!("c{n} ({})", sent.channel.as_str());
        match message.state {
            _ if count > 1 => problems.push(format!("{what} was received {count} times")),
            MessageState::Sent if count != 1 => problems.push(format!("{what} is sent but was never received")),
            MessageState::InDoubt if sent.channel == Channel::Email => {
                in_doubt.insert((sent.id, count, message.reason.clone().unwrap_or_default()));
            }
            MessageState::Sent => {}
            state if count > 0 => problems.push(format!("{what} is {} yet was received", state.as_str())),
            MessageState::Cancelled | MessageState::Suppressed => {}
            state => problems.push(format!("{what} is still {} after the drain", state.as_str())),
        }
        if sent.cancelled && count > 0 {
            problems.push(format!("{what} was cancelled, yet received"));
        }
        if let (Some(stop), Channel::Sms, Some(at)) = (stops.get(&sent.person), sent.channel, message.sending_at)
            && count > 0
            && at > *stop
        {
            problems.push(format!("{what} was handed over after the patient's STOP"));
        }
    }
    if in_doubt.len() > kills {
        problems
            .push(format!("{} emails in doubt after {kills} kills (one in flight each): {in_doubt:?}", in_doubt.len()));
    }
    eprintln!("{} emails in doubt after {kills} kills", in_doubt.len());
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatchers_killed_while_sending_lose_nothing_that_had_not_left() {
    let Ok(python) = std::env::var("RAPPORT_TEST_PYTHON") else {
        assert!(std::env::var_os("CI").is_none(), "CI runs the crash test: set RAPPORT_TEST_PYTHON");
        eprintln!("skipped: RAPPORT_TEST_PYTHON (a Python with aiosmtpd and dkimpy) is not set");
        return;
    };
    let seed = std::env::var("RAPPORT_HISTORY_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(11);
    let (_db, url) = TestDb::sqlite();
    run(&python, url, 1, seed).await;
    if let Some(admin) = postgres_url() {
        let (_db, url) = TestDb::postgres(&admin).await;
        run(&python, url, 3, seed).await;
    }
}
