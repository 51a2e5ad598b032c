//! The dispatcher's batch reads and writes: everything it needs to decide
//! on a batch of messages is read in a handful of queries, its decisions
//! commit in one transaction, and the providers' answers with the jobs'
//! ends in another. A batch costs three commits, whatever its size, plus
//! the providers' short progress commits; hand-offs to the log channel's
//! outbox are written, sent and done in the decisions' own commit.

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;
use rapport_domain::message::template::TemplateKind;
use rapport_domain::{
    AppointmentId, Channel, Consent, Message, MessageClass, MessageId, MessageState, Organization, OrganizationId,
    Patient, PatientId, ProviderRef, PushSubscriptionId,
};
use sqlx::AssertSqlSafe;

use super::ComposeFacts;
use super::db::{Arg, Row, Tx, placeholders, tuples};
use super::delivery::{Move, mark_undeliverable_in, move_in, suppress_in};
use super::messages::{message_from_row, notes_in};
use super::organizations::organization_from_row;
use super::pacing::SendRules;
use super::{JobResult, JobState, Store, StoreError};
use rapport_domain::JobId;
use rapport_domain::message::caps::FrequencyCap;
use rapport_domain::message::handoff::{Decided, Handed, Taken};
use rapport_domain::message::routing::address_for;

/// What deciding on a batch of messages needs besides the messages.
#[derive(Debug, Default)]
pub struct DispatchFacts {
    /// Live patients by id (a deleted one is absent), with their contacts
    /// (their identifiers, codes and caregivers are not read).
    pub patients: HashMap<PatientId, Patient>,
    /// Each patient's current consents.
    pub consents: HashMap<PatientId, Vec<Consent>>,
    /// `(organization, channel, address)` known not to receive.
    pub undeliverable: HashSet<(OrganizationId, Channel, String)>,
    /// Each patient's live push subscriptions, newest first.
    pub push: HashMap<PatientId, Vec<PushSubscriptionId>>,
    /// `(organization, number)` on the SMS sender's suppression list.
    pub suppressed: HashSet<(OrganizationId, String)>,
    /// When each patient's care texts were handed over, since the window's start.
    pub care_sends: HashMap<PatientId, Vec<Timestamp>>,
    /// The messages' organizations (their zone, name and default language).
    pub organizations: HashMap<OrganizationId, Organization>,
    /// What composing the templated messages needs.
    pub compose: ComposeFacts,
}

/// Runs a batch `UPDATE … RETURNING id` whose `$1` is `now` and whose
/// other parameters are `values`; the ids it moved.
async fn moved(tx: &mut Tx, sql: String, now: Timestamp, values: Vec<Arg>) -> Result<HashSet<MessageId>, StoreError> {
    let mut all = vec![Arg::from(now)];
    all.extend(values);
    let rows = tx.fetch_all(AssertSqlSafe(sql), all).await?;
    rows.iter().map(|r| r.parsed("id")).collect()
}

/// Why a text decided on is closed at commit instead of handed over.
const STOPPED_SINCE: &str = "the number opted out (STOP) after the decision";

/// The texts among the hand-overs whose number a STOP suppressed since their
/// facts were read: read again inside the commit's transaction, so a STOP
/// recorded while the batch was being decided still wins.
async fn stopped_since(
    tx: &mut Tx,
    decisions: &[(&Message, JobId, Decided, Vec<String>)],
    sms_sender: Option<&str>,
) -> Result<HashSet<MessageId>, StoreError> {
    let texts: Vec<(&Message, &str)> = decisions
        .iter()
        .filter_map(|(m, _, d, _)| match d {
            Decided::Begin { channel: Channel::Sms, address, .. } => Some((*m, address.as_str())),
            _ => None,
        })
        .collect();
    let mut stopped = HashSet::new();
    if texts.is_empty() {
        return Ok(stopped);
    }
    let numbers: Vec<String> = texts.iter().map(|(_, number)| (*number).to_owned()).collect();
    let (sql, values) = suppressed_query(sms_sender, numbers);
    let suppressed = suppressed_of(&tx.fetch_all(sql, values).await?)?;
    for (message, number) in texts {
        if suppressed.contains(&(message.organization_id, number.to_owned())) {
            stopped.insert(message.id);
        }
    }
    Ok(stopped)
}

/// Which of `numbers` are on `sms_sender`'s suppression list (any sender's
/// when `None`): the query, read by the facts and again at commit.
fn suppressed_query(sms_sender: Option<&str>, numbers: Vec<String>) -> (AssertSqlSafe<String>, Vec<Arg>) {
    let sql = format!(
        "SELECT organization_id, address FROM sms_suppressions WHERE ($1 IS NULL OR sender = $1)
           AND address IN ({})",
        placeholders(2, numbers.len())
    );
    let mut values = vec![Arg::from(sms_sender.map(str::to_owned))];
    values.extend(text_args(numbers));
    (AssertSqlSafe(sql), values)
}

/// The `(organization, number)` pairs a `suppressed_query` found.
fn suppressed_of(rows: &[Row]) -> Result<HashSet<(OrganizationId, String)>, StoreError> {
    rows.iter().map(|row| Ok((row.parsed("organization_id")?, row.text("address")?))).collect()
}

/// Where a hand-over's commit leaves its message.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Begin {
    /// `sending`: a provider is called after the commit.
    Sending,
    /// `sent`: its hand-off is the log channel's outbox row, written in this
    /// transaction, so it is started and taken at once.
    Outboxed,
}

/// `planned → sending` (or `sent`) for each row of `values` (id,
/// organization, channel, address, subject, body, language), in one
/// statement; the ids it moved (those still planned).
async fn begin_in(tx: &mut Tx, values: Vec<Arg>, now: Timestamp, to: Begin) -> Result<HashSet<MessageId>, StoreError> {
    if values.is_empty() {
        return Ok(HashSet::new());
    }
    let set = match to {
        Begin::Sending => "state = 'sending'",
        Begin::Outboxed => "state = 'sent', handed_at = $1, sent_at = $1, provider_ref = 'log-' || messages.id",
    };
    let sql = format!(
        "UPDATE messages SET {set}, channel = v.column3, address = v.column4, subject = v.column5,
             body = v.column6, language = v.column7, sending_at = $1, updated_at = $1
         FROM (VALUES {}) AS v
         WHERE messages.id = v.column1 AND messages.organization_id = v.column2 AND messages.state = 'planned'
         RETURNING messages.id AS id",
        tuples(2, values.len() / 7, 7)
    );
    moved(tx, sql, now, values).await
}

/// The log channel's outbox rows of the hand-overs in `sent`, in the
/// caller's transaction.
async fn outbox_in(
    tx: &mut Tx,
    decisions: &[(&Message, JobId, Decided, Vec<String>)],
    sent: &HashSet<MessageId>,
    now: Timestamp,
) -> Result<(), StoreError> {
    let rows: Vec<Vec<Arg>> = decisions
        .iter()
        .filter(|(m, _, _, _)| sent.contains(&m.id))
        .filter_map(|(m, _, d, _)| match d {
            Decided::Begin { channel, address, words } => {
                let entry = super::OutboxEntry {
                    message_id: m.id,
                    channel: *channel,
                    address: address.clone(),
                    subject: words.subject.clone(),
                    body: words.body.clone(),
                    created_at: now,
                };
                Some(super::messages::outbox_args(m.organization_id, &entry))
            }
            _ => None,
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let into = super::messages::OUTBOX_COLUMNS;
    super::db::insert_rows_then(tx, into, rows, "ON CONFLICT (message_id) DO NOTHING").await
}

fn text_args(values: impl IntoIterator<Item = String>) -> Vec<Arg> {
    values.into_iter().map(Arg::from).collect()
}

/// `sending | in_doubt → sent` for each of `sent` (organization, message,
/// the provider's reference, the trace line), in one statement.
async fn sent_in(
    tx: &mut Tx,
    sent: &[(OrganizationId, MessageId, &ProviderRef, &str)],
    now: Timestamp,
) -> Result<(), StoreError> {
    if sent.is_empty() {
        return Ok(());
    }
    let mut values = Vec::with_capacity(sent.len() * 3);
    for (org, id, provider_ref, _) in sent {
        values.extend([id.to_string().into(), org.to_string().into(), provider_ref.as_str().into()]);
    }
    let sql = format!(
        "UPDATE messages SET state = 'sent', provider_ref = v.column3, sent_at = $1, updated_at = $1, reason = NULL
         FROM (VALUES {}) AS v
         WHERE messages.id = v.column1 AND messages.organization_id = v.column2
           AND messages.state IN ('sending', 'in_doubt')
         RETURNING messages.id AS id",
        tuples(2, sent.len(), 3)
    );
    let moved = moved(tx, sql, now, values).await?;
    let lines: Vec<(MessageId, &str)> =
        sent.iter().filter(|(_, id, _, _)| moved.contains(id)).map(|(_, id, _, line)| (*id, *line)).collect();
    notes_in(tx, &lines, now).await
}

/// Hand-offs on their way, as a provider reports them: the next few
/// crossing their point of no return, those the provider took since its
/// last report, and those it did not take (not started after all).
#[derive(Debug, Default)]
pub struct Progress<'a> {
    pub started: Vec<(OrganizationId, MessageId)>,
    pub sent: Vec<(OrganizationId, MessageId, &'a ProviderRef, &'a str)>,
    pub not_taken: Vec<(OrganizationId, MessageId)>,
}

impl Store {
    /// Records a provider's progress in one short commit, so that a crash
    /// leaves in doubt only what was in flight at that instant.
    pub async fn record_progress(&self, progress: &Progress<'_>) -> Result<(), StoreError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        sent_in(&mut tx, &progress.sent, now).await?;
        super::delivery::record_started_in(&mut tx, &progress.not_taken, None).await?;
        super::delivery::record_started_in(&mut tx, &progress.started, Some(now)).await?;
        tx.commit().await
    }

    /// The messages of `ids` (any organization: the caller checks its jobs').
    pub async fn messages_by_ids(&self, ids: &[MessageId]) -> Result<Vec<Message>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT * FROM messages WHERE id IN ({})", placeholders(1, ids.len()));
        let rows = self.db.fetch_all(AssertSqlSafe(sql), text_args(ids.iter().map(|i| i.to_string()))).await?;
        rows.iter().map(message_from_row).collect()
    }

    /// Reads what deciding on `messages` needs: their patients, consents,
    /// which of the patients' addresses on `channels` are undeliverable or
    /// suppressed by `sms_sender` (by any sender when it is `None`), recent
    /// care sends since `care_since`, and
    /// the organizations' zones.
    pub async fn dispatch_facts(
        &self,
        messages: &[&Message],
        channels: &[Channel],
        sms_sender: Option<&str>,
        care_since: Timestamp,
    ) -> Result<DispatchFacts, StoreError> {
        let mut facts = DispatchFacts::default();
        if messages.is_empty() {
            return Ok(facts);
        }
        let patient_ids: Vec<String> =
            messages.iter().map(|m| m.plan.patient_id.to_string()).collect::<HashSet<_>>().into_iter().collect();
        let list = placeholders(1, patient_ids.len());
        let sql = format!("SELECT * FROM patients WHERE id IN ({list}) AND deleted_at IS NULL");
        let rows = self.db.fetch_all(AssertSqlSafe(sql), text_args(patient_ids.clone())).await?;
        for patient in self.hydrate_contacts(rows).await? {
            facts.patients.insert(patient.id, patient);
        }
        // Only patients whose channel order names push can take it (it is not in the default order).
        let pushed: Vec<String> = facts
            .patients
            .values()
            .filter(|p| channels.contains(&Channel::Push) && p.details.channel_order.contains(&Channel::Push))
            .map(|p| p.id.to_string())
            .collect();
        if !pushed.is_empty() {
            for subscription in self.live_push_subscriptions(&pushed).await? {
                facts.push.entry(subscription.patient_id).or_default().push(subscription.id);
            }
        }
        let sql = format!("SELECT * FROM consents WHERE patient_id IN ({list}) ORDER BY id");
        let mut ledgers: HashMap<PatientId, Vec<Consent>> = HashMap::new();
        for row in self.db.fetch_all(AssertSqlSafe(sql), text_args(patient_ids.clone())).await? {
            let consent = super::consents::consent_from_row(&row)?;
            ledgers.entry(consent.patient_id).or_default().push(consent);
        }
        for (patient, ledger) in ledgers {
            facts.consents.insert(patient, rapport_domain::consent::current(&ledger).into_iter().cloned().collect());
        }
        let care: Vec<String> = messages
            .iter()
            .filter(|m| m.plan.class == MessageClass::Care)
            .map(|m| m.plan.patient_id.to_string())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if !care.is_empty() {
            let list = placeholders(2, care.len());
            let sql = format!(
                "SELECT patient_id, sent_at AS at FROM messages WHERE patient_id IN ({list}) AND class = 'care'
                   AND channel = 'sms' AND sent_at IS NOT NULL AND sent_at >= $1
                 UNION ALL
                 SELECT patient_id, sending_at AS at FROM messages WHERE patient_id IN ({list}) AND class = 'care'
                   AND channel = 'sms' AND state IN ('sending', 'in_doubt') AND sending_at >= $1"
            );
            let mut values = vec![Arg::from(care_since)];
            values.extend(text_args(care));
            for row in self.db.fetch_all(AssertSqlSafe(sql), values).await? {
                facts.care_sends.entry(row.parsed("patient_id")?).or_default().push(row.timestamp("at")?);
            }
        }
        let addresses: Vec<String> = facts
            .patients
            .values()
            .flat_map(|p| channels.iter().filter_map(|&c| address_for(&p.details, c)))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if !addresses.is_empty() {
            let list = placeholders(1, addresses.len());
            let sql = format!(
                "SELECT organization_id, channel, address FROM undeliverable_addresses WHERE address IN ({list})"
            );
            for row in self.db.fetch_all(AssertSqlSafe(sql), text_args(addresses.clone())).await? {
                facts.undeliverable.insert((
                    row.parsed("organization_id")?,
                    row.parsed("channel")?,
                    row.text("address")?,
                ));
            }
            // A provider that names no sender (the log channel) honours a
            // STOP sent to any of the organization's numbers.
            let (sql, values) = suppressed_query(sms_sender, addresses);
            facts.suppressed = suppressed_of(&self.db.fetch_all(sql, values).await?)?;
        }
        let orgs: HashSet<OrganizationId> = messages.iter().map(|m| m.organization_id).collect();
        let sql = format!("SELECT * FROM organizations WHERE id IN ({})", placeholders(1, orgs.len()));
        for row in self.db.fetch_all(AssertSqlSafe(sql), text_args(orgs.iter().map(|o| o.to_string()))).await? {
            let organization = organization_from_row(&row)?;
            facts.organizations.insert(organization.id, organization);
        }
        let kinds: HashSet<&TemplateKind> = messages.iter().filter_map(|m| m.plan.template.as_ref()).collect();
        let visits: HashSet<AppointmentId> =
            messages.iter().filter(|m| m.plan.template.is_some()).filter_map(|m| m.plan.appointment_id).collect();
        if !kinds.is_empty() {
            facts.compose = self.compose_facts(&orgs, &kinds, &visits).await?;
        }
        Ok(facts)
    }

    /// Commits the dispatcher's decisions, each with its trace, and the ends
    /// of the jobs that need no hand-off, in one transaction. Care texts are
    /// checked against the care cap again here, with their patients locked,
    /// so that dispatchers deciding at once cannot together exceed it; and
    /// each hand-over takes a place at its sender, if the sender is limited
    /// (`pacing.rs`), or waits for one. For each
    /// decision, what became of it (a message no longer planned, because it
    /// was cancelled or taken meanwhile, is left alone); for each job of
    /// `jobs`, and then of each hand-over the cap or a sender put off, its state now
    /// (`None`: the lease was lost).
    pub async fn commit_decisions(
        &self,
        owner: &str,
        decisions: &[(&Message, JobId, Decided, Vec<String>)],
        jobs: &[(JobId, JobResult)],
        rules: &SendRules,
    ) -> Result<(Vec<Taken>, Vec<Option<JobState>>), StoreError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let capped = self.recheck_care_cap(&mut tx, decisions, rules.care_cap, now).await?;
        let care = "at most 1 care text a day and 3 a week";
        let mut put_off: HashMap<MessageId, (Timestamp, String)> =
            capped.into_iter().map(|(id, until)| (id, (until, care.to_owned()))).collect();
        let stopped = stopped_since(&mut tx, decisions, rules.sms_sender.as_deref()).await?;
        let placing: Vec<(&Message, Channel)> = decisions
            .iter()
            .filter(|(m, _, _, _)| !put_off.contains_key(&m.id) && !stopped.contains(&m.id))
            .filter_map(|(m, _, d, _)| match d {
                Decided::Begin { channel, .. } => Some((*m, *channel)),
                _ => None,
            })
            .collect();
        put_off.extend(self.take_places(&mut tx, &placing, &rules.senders, now).await?);
        let mut jobs = jobs.to_vec();
        let (mut begins, mut outboxed, mut closes) = (Vec::new(), Vec::new(), Vec::new());
        for (message, job, decided, _) in decisions {
            if let Some((until, _)) = put_off.get(&message.id) {
                jobs.push((*job, JobResult::Later { until: *until }));
                continue;
            }
            let (id, org) = (message.id.to_string(), message.organization_id.to_string());
            match decided {
                Decided::Begin { .. } if stopped.contains(&message.id) => {
                    closes.extend([id.into(), org.into(), STOPPED_SINCE.into()]);
                }
                Decided::Begin { channel, address, words } => {
                    let into = if rules.outboxed.contains(channel) { &mut outboxed } else { &mut begins };
                    into.extend([
                        id.into(),
                        org.into(),
                        channel.as_str().into(),
                        address.as_str().into(),
                        words.subject.clone().into(),
                        words.body.as_str().into(),
                        words.language.as_ref().map(|l| l.as_str().to_owned()).into(),
                    ]);
                }
                Decided::Close { reason } => closes.extend([id.into(), org.into(), reason.as_str().into()]),
                Decided::Defer { .. } => {}
            }
        }
        // Each move only from `planned`: one statement for all the hand-overs, one for all the closes.
        let mut took = begin_in(&mut tx, begins, now, Begin::Sending).await?;
        let sent = begin_in(&mut tx, outboxed, now, Begin::Outboxed).await?;
        outbox_in(&mut tx, decisions, &sent, now).await?;
        took.extend(sent.iter().copied());
        if !closes.is_empty() {
            let sql = format!(
                "UPDATE messages SET state = 'suppressed', reason = v.column3, updated_at = $1
                 FROM (VALUES {}) AS v
                 WHERE messages.id = v.column1 AND messages.organization_id = v.column2 AND messages.state = 'planned'
                 RETURNING messages.id AS id",
                tuples(2, closes.len() / 3, 3)
            );
            took.extend(moved(&mut tx, sql, now, closes).await?);
        }
        let mut flags = Vec::with_capacity(decisions.len());
        let mut lines: Vec<(MessageId, &str)> = Vec::new();
        let extra: Vec<String> = decisions
            .iter()
            .map(|(m, _, d, _)| match (d, put_off.get(&m.id)) {
                (_, Some((until, why))) => format!("deferred to {until}: {why}"),
                (Decided::Begin { .. }, None) if stopped.contains(&m.id) => format!("suppressed: {STOPPED_SINCE}"),
                (Decided::Close { reason }, None) => format!("suppressed: {reason}"),
                (Decided::Begin { channel, .. }, None) if sent.contains(&m.id) => {
                    format!("sent by {} through log (log-{})", channel.as_str(), m.id)
                }
                _ => String::new(),
            })
            .collect();
        for ((message, job, decided, trace), extra) in decisions.iter().zip(&extra) {
            let taken = match (decided, put_off.get(&message.id)) {
                (_, Some((until, _))) => Taken::Deferred(*until),
                // Closed instead of handed over: nothing to send.
                (Decided::Begin { .. }, None) if stopped.contains(&message.id) => Taken::Lost,
                (Decided::Defer { .. }, None) => Taken::Yes,
                _ if sent.contains(&message.id) => Taken::Sent,
                _ if took.contains(&message.id) => Taken::Yes,
                _ => Taken::Lost,
            };
            match taken {
                Taken::Yes => lines.extend(trace.iter().map(|l| (message.id, l.as_str()))),
                Taken::Sent => {
                    lines.extend(trace.iter().map(|l| (message.id, l.as_str())));
                    jobs.push((*job, JobResult::Done));
                }
                Taken::Deferred(_) | Taken::Lost => {}
            }
            if (taken != Taken::Lost || took.contains(&message.id)) && !extra.is_empty() {
                lines.push((message.id, extra.as_str()));
            }
            flags.push(taken);
        }
        notes_in(&mut tx, &lines, now).await?;
        let recorded = self.finish_jobs_in(&mut tx, owner, &jobs).await?;
        tx.commit().await?;
        Ok((flags, recorded))
    }

    /// The care texts among `decisions`' hand-overs that the cap puts off,
    /// with the moment each may go: their patients are locked and their
    /// recent care sends read inside the transaction.
    async fn recheck_care_cap(
        &self,
        tx: &mut Tx,
        decisions: &[(&Message, JobId, Decided, Vec<String>)],
        cap: FrequencyCap,
        now: Timestamp,
    ) -> Result<HashMap<MessageId, Timestamp>, StoreError> {
        let capped: Vec<&Message> = decisions
            .iter()
            .filter(|(m, _, d, _)| {
                m.plan.class == MessageClass::Care && matches!(d, Decided::Begin { channel: Channel::Sms, .. })
            })
            .map(|(m, _, _, _)| *m)
            .collect();
        let mut put_off = HashMap::new();
        if capped.is_empty() {
            return Ok(put_off);
        }
        let patients: Vec<String> =
            capped.iter().map(|m| m.plan.patient_id.to_string()).collect::<HashSet<_>>().into_iter().collect();
        let list = placeholders(1, patients.len());
        let lock = format!("SELECT id FROM patients WHERE id IN ({list}) ORDER BY id {}", self.db.for_update());
        tx.fetch_all(AssertSqlSafe(lock), text_args(patients.clone())).await?;
        let since = now - jiff::SignedDuration::from_hours(24 * 7);
        let list = placeholders(2, patients.len());
        let sql = format!(
            "SELECT patient_id, COALESCE(sent_at, sending_at) AS at FROM messages
             WHERE patient_id IN ({list}) AND class = 'care' AND channel = 'sms'
               AND state IN ('sending', 'in_doubt', 'sent', 'delivered', 'read', 'failed', 'undeliverable')
               AND COALESCE(sent_at, sending_at) >= $1"
        );
        let mut values = vec![Arg::from(since)];
        values.extend(text_args(patients));
        let mut sends: HashMap<PatientId, Vec<Timestamp>> = HashMap::new();
        for row in tx.fetch_all(AssertSqlSafe(sql), values).await? {
            sends.entry(row.parsed("patient_id")?).or_default().push(row.timestamp("at")?);
        }
        for message in capped {
            let sent = sends.entry(message.plan.patient_id).or_default();
            sent.sort();
            let next = cap.next_allowed(sent, now);
            if next > now {
                put_off.insert(message.id, next);
            } else {
                sent.push(now);
            }
        }
        Ok(put_off)
    }

    /// Records the providers' answers for messages in `sending`, with the
    /// ends of their jobs, in one transaction.
    pub async fn record_handoffs(
        &self,
        owner: &str,
        answers: &[(&Message, Handed)],
        jobs: &[(JobId, JobResult)],
    ) -> Result<Vec<Option<JobState>>, StoreError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        // The common answer, "sent", in one statement for the batch.
        let sent: Vec<(OrganizationId, MessageId, &ProviderRef, &str)> = answers
            .iter()
            .filter_map(|(m, h)| match h {
                Handed::Sent { provider_ref, line } => Some((m.organization_id, m.id, provider_ref, line.as_str())),
                _ => None,
            })
            .collect();
        sent_in(&mut tx, &sent, now).await?;
        for (message, handed) in answers {
            let (org, id) = (message.organization_id, message.id);
            match handed {
                Handed::Sent { .. } => {}
                Handed::InDoubt { reason } => {
                    move_in(&mut tx, org, id, Move::in_doubt(reason), now).await?;
                }
                Handed::BackToPlanned { why } => {
                    move_in(&mut tx, org, id, Move::back_to_planned(why), now).await?;
                }
                Handed::Refused { state, reason } => {
                    if move_in(&mut tx, org, id, Move::ended(*state, reason), now).await?
                        && *state == MessageState::Undeliverable
                    {
                        mark_undeliverable_in(&mut tx, org, id, reason, now).await?;
                    }
                }
                Handed::OptedOut { sender, address, reason } => {
                    if let Some(sender) = sender {
                        suppress_in(&mut tx, org, sender, address, now).await?;
                    }
                    move_in(&mut tx, org, id, Move::ended(MessageState::Suppressed, reason), now).await?;
                }
            }
        }
        let recorded = self.finish_jobs_in(&mut tx, owner, jobs).await?;
        tx.commit().await?;
        Ok(recorded)
    }
}
