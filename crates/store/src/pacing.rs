//! Senders' rate limits, shared by every process: each limited sender has
//! one `send_rates` row (the GCRA's next arrival time and the UTC day's
//! count), locked by the transaction that commits a batch's hand-overs.
//! Places go by priority (replies, then timely messages, then bulk), then
//! by due time; a message without a place stays planned until its next
//! one, and its trace says why.

use std::collections::HashMap;

use jiff::Timestamp;
use rapport_domain::message::caps::FrequencyCap;
use rapport_domain::message::pace::{Bucket, SenderLimit, Wait, admit};
use rapport_domain::{Channel, Message, MessageId};
use sqlx::AssertSqlSafe;

use super::db::{Arg, Tx, args, placeholders};
use super::{Store, StoreError};

/// What commit re-checks under lock before a hand-over is taken.
#[derive(Debug, Clone, PartialEq)]
pub struct SendRules {
    /// The care-text cap, per patient.
    pub care_cap: FrequencyCap,
    /// The limited senders, by the channel they carry.
    pub senders: Vec<SenderLimit>,
    /// The SMS sender whose suppression list a text is checked against
    /// again at commit (any sender's when `None`, as when deciding).
    pub sms_sender: Option<String>,
    /// The channels whose hand-off is the log channel's outbox row: written
    /// in the commit itself, the message `sent` at once.
    pub outboxed: Vec<Channel>,
}

impl Default for SendRules {
    fn default() -> Self {
        Self { care_cap: FrequencyCap::CARE_TEXTS, senders: Vec::new(), sms_sender: None, outboxed: Vec::new() }
    }
}

impl Store {
    /// Gives each hand-over of `begins` (a message and its channel) a place
    /// at its sender, in priority then due order; those without one are
    /// put off (until when, and why). The senders' rows are locked until
    /// the transaction ends.
    pub(super) async fn take_places(
        &self,
        tx: &mut Tx,
        begins: &[(&Message, Channel)],
        senders: &[SenderLimit],
        now: Timestamp,
    ) -> Result<HashMap<MessageId, (Timestamp, String)>, StoreError> {
        let mut put_off = HashMap::new();
        let mut limited: Vec<(&Message, &SenderLimit)> =
            begins.iter().filter_map(|(m, c)| senders.iter().find(|s| s.channel == *c).map(|s| (*m, s))).collect();
        if limited.is_empty() {
            return Ok(put_off);
        }
        limited.sort_by_key(|(m, _)| (m.plan.priority, m.plan.due_at, m.id));
        let mut names: Vec<&str> = limited.iter().map(|(_, s)| s.bucket.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let fresh = Bucket::fresh(now);
        for name in &names {
            tx.execute(
                "INSERT INTO send_rates (bucket, next_at, day, sent) VALUES ($1, $2, $3, 0)
                 ON CONFLICT (bucket) DO NOTHING",
                args([(*name).into(), now.into(), fresh.day.to_string().into()]),
            )
            .await?;
        }
        let sql = format!(
            "SELECT bucket, next_at, day, sent FROM send_rates WHERE bucket IN ({}) ORDER BY bucket {}",
            placeholders(1, names.len()),
            self.db.for_update()
        );
        let mut buckets: HashMap<String, Bucket> = HashMap::new();
        let values: Vec<Arg> = names.iter().map(|n| Arg::from(*n)).collect();
        for row in tx.fetch_all(AssertSqlSafe(sql), values).await? {
            let day = row.text("day")?.parse().map_err(|_| StoreError::Corrupt("bad send_rates day"))?;
            let bucket = Bucket { next_at: row.timestamp("next_at")?, day, sent: row.int("sent")?.max(0) as u64 };
            buckets.insert(row.text("bucket")?, bucket);
        }
        for (message, sender) in limited {
            let bucket = buckets.entry(sender.bucket.clone()).or_insert(fresh);
            match admit(bucket, &sender.limit, message.plan.priority, now) {
                Ok(()) => {}
                Err(Wait::Rate(until)) => {
                    let why =
                        format!("the sender {} is at its rate ({} priority)", sender.bucket, message.plan.priority);
                    put_off.insert(message.id, (until, why));
                }
                Err(Wait::Daily(until)) => {
                    let why = format!(
                        "the sender {} used today's share of its daily cap for {} messages",
                        sender.bucket, message.plan.priority
                    );
                    put_off.insert(message.id, (until, why));
                }
            }
        }
        for (name, bucket) in buckets {
            tx.execute(
                "UPDATE send_rates SET next_at = $2, day = $3, sent = $4 WHERE bucket = $1",
                args([name.into(), bucket.next_at.into(), bucket.day.to_string().into(), (bucket.sent as i64).into()]),
            )
            .await?;
        }
        Ok(put_off)
    }
}
