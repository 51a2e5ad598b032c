//! What the database holds now, for `/metrics`: unsettled messages by state
//! and channel, and due jobs by kind with the age of the oldest. Every
//! combination is reported, zero included, so a gauge never keeps a stale
//! value for one that emptied.

use std::collections::HashMap;

use jiff::Timestamp;
use rapport_domain::{Channel, MessageState};

use super::db::{args, from_micros};
use super::{JobKind, Store, StoreError};

/// The states a message waits in before it settles.
const UNSETTLED: [MessageState; 3] = [MessageState::Planned, MessageState::Sending, MessageState::InDoubt];

#[derive(Debug, Default)]
pub struct DeliveryGauges {
    /// `(state, channel or "none", count)` for each unsettled state and channel.
    pub messages: Vec<(String, String, i64)>,
    pub in_doubt: i64,
    /// `(kind, jobs due, seconds the oldest has waited)` for each job kind.
    pub jobs: Vec<(String, i64, f64)>,
}

impl Store {
    /// The gauges as of `now`.
    pub async fn delivery_gauges(&self, now: Timestamp) -> Result<DeliveryGauges, StoreError> {
        let rows = self
            .db
            .fetch_all(
                "SELECT state, channel, COUNT(*) AS n FROM messages
                 WHERE state IN ('planned', 'sending', 'in_doubt') GROUP BY state, channel",
                Vec::new(),
            )
            .await?;
        let mut counts: HashMap<(String, String), i64> = HashMap::new();
        for row in rows {
            let channel = row.opt_text("channel")?.unwrap_or_else(|| "none".into());
            counts.insert((row.text("state")?, channel), row.int("n")?);
        }
        let mut gauges = DeliveryGauges::default();
        let channels = std::iter::once("none").chain(Channel::ALL.iter().map(|c| c.as_str()));
        for channel in channels {
            for state in UNSETTLED {
                let key = (state.as_str().to_owned(), channel.to_owned());
                let count = counts.get(&key).copied().unwrap_or(0);
                if state == MessageState::InDoubt {
                    gauges.in_doubt += count;
                }
                gauges.messages.push((key.0, key.1, count));
            }
        }
        let rows = self
            .db
            .fetch_all(
                "SELECT kind, COUNT(*) AS n, MIN(run_at) AS oldest FROM jobs
                 WHERE state = 'queued' AND run_at <= $1 GROUP BY kind",
                args([now.into()]),
            )
            .await?;
        let mut due: HashMap<String, (i64, f64)> = HashMap::new();
        for row in rows {
            let oldest = row.opt_int("oldest")?.map(from_micros).transpose()?.unwrap_or(now);
            let waited = now.duration_since(oldest).as_secs_f64().max(0.0);
            due.insert(row.text("kind")?, (row.int("n")?, waited));
        }
        for kind in JobKind::ALL {
            let (count, waited) = due.get(kind.as_str()).copied().unwrap_or((0, 0.0));
            gauges.jobs.push((kind.as_str().to_owned(), count, waited));
        }
        Ok(gauges)
    }
}
