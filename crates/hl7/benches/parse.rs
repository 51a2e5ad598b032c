//! HL7 v2 parse throughput, measured as `../shared/peers/hl7_parse.sh`
//! measures python-hl7 and @medplum/hl7, for side-by-side figures: the 23
//! public samples (tests/fixtures), prepared once (a leading BOM stripped,
//! LF and CRLF turned into CR); one pass parses every message and reads
//! MSH-9.1 and MSH-10, adding their lengths to a checksum (276, as for the
//! peers); 1 s of warm-up, then passes for `BENCH_SECONDS` (10) per round,
//! `BENCH_ROUNDS` (3) rounds; the median round with min–max.
//!
//! Run: `cargo bench -p rapport-hl7 --bench parse`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rapport_hl7::parse;
use rapport_hl7::segments::Msh;

fn env(key: &str, default: u64) -> u64 {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn prepared() -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/microsoft-fhir-converter");
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the fixtures")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "hl7"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|path| {
            let text = String::from_utf8(std::fs::read(path).expect("readable")).expect("UTF-8");
            let text = text.strip_prefix('\u{feff}').unwrap_or(&text).replace("\r\n", "\r").replace('\n', "\r");
            text.into_bytes()
        })
        .collect()
}

fn pass(messages: &[Vec<u8>]) -> usize {
    let mut checksum = 0;
    for bytes in messages {
        let parsed = parse(bytes);
        let message = parsed.message.expect("a message");
        let msh = Msh::of(&message).expect("MSH");
        checksum += msh.message_type().len() + msh.control_id().len();
    }
    checksum
}

fn main() {
    let messages = prepared();
    let bytes: usize = messages.iter().map(Vec::len).sum();
    let seconds = env("BENCH_SECONDS", 10);
    let rounds = env("BENCH_ROUNDS", 3);
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_secs(1) {
        assert_eq!(pass(&messages), 276, "the peers' checksum");
    }
    let mut rates: Vec<(f64, f64)> = Vec::new();
    for _ in 0..rounds {
        let started = Instant::now();
        let mut passes = 0u64;
        while started.elapsed() < Duration::from_secs(seconds) {
            assert_eq!(pass(&messages), 276);
            passes += 1;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let per_second = passes as f64 / elapsed;
        rates.push((per_second * messages.len() as f64, per_second * bytes as f64 / 1e6));
        eprintln!("round: {:.0} messages/s", rates.last().map_or(0.0, |r| r.0));
    }
    rates.sort_by(|a, b| a.0.total_cmp(&b.0));
    let median = rates[rates.len() / 2];
    let (low, high) = (rates[0], rates[rates.len() - 1]);
    println!("== figures (rapport-hl7 parse) ==");
    println!(
        "rapport-hl7 parse: {} messages, {bytes} bytes prepared: {:.0} messages/s ({:.0}–{:.0}), {:.1} MB/s ({:.1}–{:.1}), median of {rounds} rounds of {seconds} s",
        messages.len(),
        median.0,
        low.0,
        high.0,
        median.1,
        low.1,
        high.1
    );
}
