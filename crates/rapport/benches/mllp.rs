//! The MLLP benchmark (issue: EHR integration): SIU S12 bookings sent to
//! Rapport's MLLP listener over real TCP, each acknowledged only after it is
//! kept in the integration log (committed), applied (the patient and the
//! visit upserted, its reminder sync enqueued) and settled. Two figures per
//! backend: one connection sending a message at a time, as an interface
//! engine's single outbound channel does (messages/s, and the latency of
//! one, p50 and p99); and `BENCH_CONNECTIONS` connections at once
//! (messages/s). Every ACK is checked to be AA.
//!
//! Run: `cargo bench -p rapport --bench mllp`. Knobs:
//! `BENCH_BACKENDS`, `BENCH_MESSAGES` (2000 per figure), `BENCH_CONNECTIONS`
//! (4), `RAPPORT_BENCH_POSTGRES_URL`.

use std::time::Instant;

use rapport::clock::Clock;
use rapport::ehr::mllp::{MllpSettings, serve};
use rapport::store::{DbOptions, Store};
use rapport_domain::{Address, Location, LocationId, OpeningHours, OrganizationId, TimeZoneName};
use rapport_hl7::mllp::{Decoder, Frame, frame};
use rapport_hl7::parse;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

mod common;
use common::{env_u64, percentile};

/// Booking `i`: its own control id, patient and visit, on a weekday of
/// January 2027 between 08:00 and 16:30.
fn booking(run: &str, i: u64) -> String {
    let day = 4 + (i / 18) % 20;
    let minutes = 8 * 60 + (i % 18) * 30;
    let (h, m) = (minutes / 60, minutes % 60);
    let end = minutes + 30;
    format!(
        "MSH|^~\\&|EPIC|RIVER|RAPPORT|RIVER|20261122090000||SIU^S12^SIU_S12|{run}{i}|P|2.5.1\r\
         SCH|P{run}{i}|F{run}{i}||||||CHECKUP^Annual checkup|30|m|^^^202701{day:02}{h:02}{m:02}00^202701{day:02}{:02}{:02}00\r\
         PID|1||MRN{run}{i}^^^RIVER^MR||Family{i}^Given{i}||19800402|F|||||^PRN^CP^^^312^{:07}\r\
         AIS|1||CHK^Checkup\r",
        end / 60,
        end % 60,
        5_000_000 + i % 1_000_000,
    )
}

/// One MLLP connection: sends a message and waits for its ACK.
struct Connection {
    stream: TcpStream,
    decoder: Decoder,
    buffer: Vec<u8>,
}

impl Connection {
    async fn open(address: std::net::SocketAddr) -> Self {
        let stream = TcpStream::connect(address).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Self { stream, decoder: Decoder::new(1 << 20), buffer: vec![0; 8192] }
    }

    async fn exchange(&mut self, message: &str) {
        self.stream.write_all(&frame(message.as_bytes())).await.expect("write");
        loop {
            if let Some(Frame::Message(bytes)) = self.decoder.next_frame() {
                let ack = parse(&bytes).message.expect("an ACK");
                let msa = ack.segment("MSA").expect("MSA");
                assert_eq!(msa.text(1, 1), "AA", "{}", String::from_utf8_lossy(&bytes));
                return;
            }
            let n = self.stream.read(&mut self.buffer).await.expect("read");
            assert!(n > 0, "the listener closed the connection");
            self.decoder.push(&self.buffer[..n]);
        }
    }
}

async fn practice(store: &Store) -> OrganizationId {
    let org = common::new_organization(store).await;
    let now = store.clock().now();
    store
        .create_location(&Location {
            id: LocationId::generate(),
            organization_id: org,
            name: "Lakeshore".into(),
            address: Address { city: Some("Chicago".into()), ..Address::default() },
            phone: None,
            time_zone: TimeZoneName::parse("America/Chicago").expect("zone"),
            opening_hours: OpeningHours::weekdays_8_to_5(),
            version: 0,
            created_at: now,
            updated_at: now,
        })
        .await
        .expect("location");
    org
}

async fn run_backend(name: &'static str, url: String) -> Vec<String> {
    let messages = env_u64("BENCH_MESSAGES", 2000);
    let connections = env_u64("BENCH_CONNECTIONS", 4).max(1);
    let store = Store::open(&url, &DbOptions::default(), Clock::system()).await.expect("open");
    let org = practice(&store).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(serve(listener, store.clone(), org, MllpSettings::default(), stopped));

    eprintln!("[{name}] {messages} bookings over one connection …");
    let mut one = Connection::open(address).await;
    let mut latencies = Vec::with_capacity(messages as usize);
    let started = Instant::now();
    for i in 0..messages {
        let message = booking("A", i);
        let sent = Instant::now();
        one.exchange(&message).await;
        latencies.push(sent.elapsed());
    }
    let rate = messages as f64 / started.elapsed().as_secs_f64();
    latencies.sort();
    let mut lines = vec![format!(
        "mllp {name}: one connection, {messages} SIU S12 kept, applied and acknowledged: {rate:.0} msg/s, \
         p50 {:.2} ms, p99 {:.2} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    )];
    eprintln!("{}", lines[0]);

    eprintln!("[{name}] {messages} bookings over {connections} connections …");
    let per = messages / connections;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..connections {
        tasks.push(tokio::spawn(async move {
            let mut connection = Connection::open(address).await;
            for i in 0..per {
                connection.exchange(&booking(&format!("C{c}-"), i)).await;
            }
        }));
    }
    for task in tasks {
        task.await.expect("a connection");
    }
    let rate = (per * connections) as f64 / started.elapsed().as_secs_f64();
    let line = format!("mllp {name}: {connections} connections, {} SIU S12: {rate:.0} msg/s", per * connections);
    eprintln!("{line}");
    lines.push(line);
    let _ = stop.send(true);
    store.close().await;
    lines
}

fn main() {
    let figures = common::on_each_backend("rapport_mllp_bench", |name, url, _| run_backend(name, url));
    println!("== figures (rapport mllp) ==");
    for line in figures {
        println!("{line}");
    }
}
