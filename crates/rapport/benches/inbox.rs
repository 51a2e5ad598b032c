//! The inbox benchmark (issue: two-way texting): `BENCH_CONNECTIONS` (200)
//! staff consoles hold the live stream (`/inbox/events`, Server-Sent
//! Events over real TCP, each with its own staff session) while Twilio's
//! inbound webhooks arrive at `BENCH_RATE` (100) texts a second, signed as
//! Twilio signs them, each from a new number (an unmatched conversation).
//! Figures: the webhook's own response time (p50, p99), and from the
//! webhook's arrival to its event reaching a console (every delivery, p50
//! and p99) and reaching every console (per text, the last of them).
//!
//! On SQLite one server holds the streams and takes the webhooks. On
//! PostgreSQL two servers (two stores, two pools, in one OS process) share
//! the database: the webhooks go to the first, the consoles listen on the
//! second, so every event crosses LISTEN/NOTIFY.
//!
//! Run: `cargo bench -p rapport --bench inbox`. Knobs:
//! `BENCH_BACKENDS`, `BENCH_CONNECTIONS`, `BENCH_RATE`, `BENCH_TEXTS` (1000),
//! `RAPPORT_BENCH_POSTGRES_URL`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::SignedDuration;
use rapport::app::App;
use rapport::auth::{password, secret};
use rapport::channels::twilio::TwilioSettings;
use rapport::channels::twilio::signature;
use rapport::clock::Clock;
use rapport::config::{Config, Secret, SmsProvider};
use rapport::store::{ConversationQuery, DbOptions, NewSession, NewStaffUser, PageRequest, Store};
use rapport_domain::{Email, OrganizationId, Role};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

mod common;
use common::{env_u64, percentile};

const TOKEN: &str = "bench-twilio-token";

/// A Rapport HTTP server on a free port; its address.
async fn server(store: &Store, public_url: Option<String>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let public_url = public_url.unwrap_or_else(|| format!("http://{address}"));
    let twilio = TwilioSettings {
        base_url: "http://127.0.0.1:9".into(),
        account_sid: "AC-bench".into(),
        auth_token: Secret::new(TOKEN),
        from: Some("+13125550000".into()),
        messaging_service_sid: None,
        callback_base: Some(public_url.clone()),
        timeout: std::time::Duration::from_secs(5),
    };
    let config = Config {
        requests_per_minute: 10_000_000,
        max_body_bytes: 64 * 1024,
        public_url: Some(public_url),
        sms: SmsProvider::Twilio(twilio),
        sms_answer_keywords: true,
        ..Config::default()
    };
    let app = App::build(&config, store.clone()).await.expect("the app");
    tokio::spawn(rapport::server::serve(listener, None, app.state, app.http, std::future::pending()));
    address
}

/// A staff session's cookie, opened directly in the store.
async fn session(store: &Store, org: OrganizationId, n: u64) -> String {
    let user = store
        .create_staff_user(&NewStaffUser {
            organization_id: org,
            email: Email::parse(&format!("staff{n}@bench.example")).expect("email"),
            display_name: format!("Staff {n}"),
            role: Role::FrontDesk,
            password_hash: password::hash("not used in the benchmark"),
        })
        .await
        .expect("staff");
    let token = secret::random_token("rps_");
    store
        .create_session(&NewSession {
            user_id: user.id,
            organization_id: org,
            token_digest: secret::digest(&token),
            mfa_pending: false,
            client_address: None,
            user_agent: None,
            expires_at: store.clock().now() + SignedDuration::from_hours(12),
        })
        .await
        .expect("session");
    format!("__Host-rapport_session={token}")
}

/// When each console heard each conversation's event.
type Heard = Arc<Mutex<Vec<(String, Instant)>>>;

/// One console: opens the stream, says when it is ready, then notes the
/// conversation id of every `inbox` event with the instant it arrived.
async fn console(
    address: SocketAddr,
    org: OrganizationId,
    cookie: String,
    heard: Heard,
    ready: tokio::sync::mpsc::Sender<()>,
) {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let request = format!(
        "GET /api/v1/organizations/{org}/inbox/events HTTP/1.1\r\nHost: {address}\r\nCookie: {cookie}\r\nAccept: text/event-stream\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("request");
    let mut buffer = vec![0u8; 16 * 1024];
    let mut pending = String::new();
    let mut told = false;
    loop {
        let n = stream.read(&mut buffer).await.expect("read");
        if n == 0 {
            return;
        }
        let at = Instant::now();
        pending.push_str(&String::from_utf8_lossy(&buffer[..n]));
        if !told && pending.contains("event: ready") {
            assert!(pending.starts_with("HTTP/1.1 200"), "{pending}");
            told = true;
            ready.send(()).await.expect("ready");
        }
        // Events end with a blank line; chunk-size lines between them are skipped.
        while let Some(start) = pending.find("\"conversation_id\":\"") {
            let rest = &pending[start + 19..];
            let Some(end) = rest.find('"') else { break };
            heard.lock().expect("lock").push((rest[..end].to_owned(), at));
            pending = rest[end..].to_owned();
        }
        if pending.len() > 4096 {
            pending = pending[pending.len() - 1024..].to_owned();
        }
    }
}

async fn run_backend(name: &'static str, url: String) -> Vec<String> {
    let connections = env_u64("BENCH_CONNECTIONS", 200);
    let rate = env_u64("BENCH_RATE", 100).max(1);
    let texts = env_u64("BENCH_TEXTS", 1000);
    rapport::tls::install_crypto_provider();
    let options = DbOptions::default();
    let hooks_store = Store::open(&url, &options, Clock::system()).await.expect("open");
    let org = common::new_organization(&hooks_store).await;
    let two = name == "postgres";
    let consoles_store = match two {
        true => Store::open(&url, &options, Clock::system()).await.expect("second server's store"),
        false => hooks_store.clone(),
    };
    let hooks_address = server(&hooks_store, None).await;
    let consoles_address = if two { server(&consoles_store, None).await } else { hooks_address };

    eprintln!("[{name}] opening {connections} live streams …");
    let heard: Vec<Heard> = (0..connections).map(|_| Heard::default()).collect();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(connections as usize);
    for (n, heard) in heard.iter().enumerate() {
        let cookie = session(&consoles_store, org, n as u64).await;
        tokio::spawn(console(consoles_address, org, cookie, heard.clone(), ready_tx.clone()));
    }
    for _ in 0..connections {
        ready_rx.recv().await.expect("a stream opened");
    }

    eprintln!("[{name}] {texts} texts at {rate}/s …");
    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build().expect("client");
    let hook_url = format!("http://{hooks_address}/hooks/twilio/{org}/inbound");
    let sent_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let webhook_times: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    let mut tasks = Vec::with_capacity(texts as usize);
    let started = Instant::now();
    for i in 0..texts {
        tick.tick().await;
        let number = format!("+1312{:07}", 5_000_000 + i);
        let params: Vec<(String, String)> = [
            ("AccountSid", "ACbench".to_owned()),
            ("Body", "Is there parking near the clinic?".to_owned()),
            ("From", number.clone()),
            ("MessageSid", format!("SMbench{i:08}")),
            ("NumMedia", "0".to_owned()),
            ("To", "+13125550000".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let signed = signature(TOKEN, &hook_url, &params);
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &params {
            form.append_pair(k, v);
        }
        let body = form.finish();
        let (client, hook_url, sent_at, webhook_times) =
            (client.clone(), hook_url.clone(), sent_at.clone(), webhook_times.clone());
        tasks.push(tokio::spawn(async move {
            let at = Instant::now();
            sent_at.lock().expect("lock").insert(number, at);
            let reply = client
                .post(&hook_url)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("x-twilio-signature", signed)
                .body(body)
                .send()
                .await
                .expect("webhook");
            assert_eq!(reply.status(), 200);
            webhook_times.lock().expect("lock").push(at.elapsed());
        }));
    }
    for task in tasks {
        task.await.expect("a webhook");
    }
    let offered = texts as f64 / started.elapsed().as_secs_f64();
    // Let the last events arrive.
    let expected = (texts * connections) as usize;
    for _ in 0..200 {
        if heard.iter().map(|h| h.lock().expect("lock").len()).sum::<usize>() >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Conversation id → its number, so each event finds its webhook's instant.
    let mut number_of: HashMap<String, String> = HashMap::new();
    let query = ConversationQuery { unmatched: true, ..ConversationQuery::default() };
    let mut page = PageRequest::first(200);
    loop {
        let listed = hooks_store.conversations(org, &query, None, &page).await.expect("conversations");
        for c in &listed.items {
            number_of.insert(c.id.to_string(), c.number.clone());
        }
        match listed.next_cursor {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    let sent_at = sent_at.lock().expect("lock").clone();
    let mut deliveries = Vec::with_capacity(expected);
    let mut last: HashMap<String, Duration> = HashMap::new();
    let mut missing = 0usize;
    for h in &heard {
        let h = h.lock().expect("lock");
        let mut seen = 0;
        for (conversation, at) in h.iter() {
            let Some(sent) = number_of.get(conversation).and_then(|n| sent_at.get(n)) else { continue };
            seen += 1;
            let latency = at.saturating_duration_since(*sent);
            deliveries.push(latency);
            let slot = last.entry(conversation.clone()).or_default();
            *slot = (*slot).max(latency);
        }
        missing += texts as usize - seen.min(texts as usize);
    }
    deliveries.sort();
    let mut everyone: Vec<Duration> = last.into_values().collect();
    everyone.sort();
    let mut webhook = webhook_times.lock().expect("lock").clone();
    webhook.sort();
    let servers = if two { "two servers over LISTEN/NOTIFY" } else { "one server" };
    let lines = vec![format!(
        "inbox {name} ({servers}): {connections} live streams, {texts} texts at {offered:.0}/s: webhook p50 {:.1} ms, \
             p99 {:.1} ms; to a console p50 {:.1} ms, p99 {:.1} ms; to every console p50 {:.1} ms, p99 {:.1} ms; \
             {missing} deliveries missed",
        percentile(&webhook, 0.5),
        percentile(&webhook, 0.99),
        percentile(&deliveries, 0.5),
        percentile(&deliveries, 0.99),
        percentile(&everyone, 0.5),
        percentile(&everyone, 0.99),
    )];
    eprintln!("{}", lines[0]);
    hooks_store.end_subscriptions();
    consoles_store.end_subscriptions();
    lines
}

fn main() {
    let figures = common::on_each_backend("rapport_inbox_bench", |name, url, _| run_backend(name, url));
    println!("== figures (rapport inbox) ==");
    for line in figures {
        println!("{line}");
    }
}
