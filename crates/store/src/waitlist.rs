//! The waitlist (domain `waitlist`): entries, a freed slot's offer and its
//! rounds, and taking it. A slot is offered once per cancelled visit
//! (`open_offer_in`, from the reminder sync); each round texts up to `BATCH`
//! waiting patients it suits, oldest entry first, and closes after
//! `ROUND` (`close_rounds`, from the planner), when the next round goes out
//! or, with nobody left or no time, the offer closes. The first YES takes
//! it: the engine's `waitlist::take_offer` composes the steps here
//! (`lock_offer_in`, `book_offer_in` …) in one transaction with the offer's
//! row locked, so of two YES at once one books and the other is told the
//! time is gone.

use std::str::FromStr;

use jiff::Timestamp;
use jiff::civil::{Date, Time};
use rapport_domain::contact::UnknownWord;
use rapport_domain::message::pace::Priority;
use rapport_domain::message::template::{ShippedKind, TemplateKind};
use rapport_domain::waitlist::{BATCH, Criteria, parse_day, round_closes};
use rapport_domain::{
    Appointment, AppointmentDetails, AppointmentId, Channel, MessageClass, MessageId, MessagePlan, MessageState,
    OrganizationId, PatientId, SlotOfferId, TimeZoneName, WaitlistEntryId,
};

use super::appointments::appointment_from_row;
use super::db::{Arg, Row, Tx, args};
use super::job_kinds::sync_job;
use super::{Store, StoreError};

/// Where an entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryState {
    Waiting,
    /// It took an offered slot.
    Booked,
    Removed,
}

impl EntryState {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryState::Waiting => "waiting",
            EntryState::Booked => "booked",
            EntryState::Removed => "removed",
        }
    }
}

impl FromStr for EntryState {
    type Err = UnknownWord;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [EntryState::Waiting, EntryState::Booked, EntryState::Removed]
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or(UnknownWord("waiting, booked or removed"))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct WaitlistEntry {
    pub id: WaitlistEntryId,
    pub patient_id: PatientId,
    pub criteria: Criteria,
    pub state: EntryState,
    /// The visit it booked.
    pub appointment_id: Option<AppointmentId>,
    pub created_at: Timestamp,
}

/// A freed slot's offer, with who it went to.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotOffer {
    pub id: SlotOfferId,
    /// The cancelled visit whose time is offered.
    pub appointment_id: AppointmentId,
    pub start_at: Timestamp,
    /// open, taken or closed.
    pub state: String,
    pub round: i64,
    pub closes_at: Timestamp,
    pub taken_by: Option<WaitlistEntryId>,
    /// The visit booked for the taker.
    pub booked_id: Option<AppointmentId>,
    /// (entry, patient, round, outcome: taken, too_late or none).
    pub recipients: Vec<(WaitlistEntryId, PatientId, i64, Option<String>)>,
}

/// A live offer texted to a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferSent {
    pub offer_id: SlotOfferId,
    pub entry_id: WaitlistEntryId,
    pub patient_id: PatientId,
    pub sent_at: Timestamp,
}

/// An offer's row, locked for a YES, with the visit whose time it offers.
#[derive(Debug, Clone, PartialEq)]
pub struct LockedOffer {
    /// open, taken or closed.
    pub state: String,
    pub start_at: Timestamp,
    /// The cancelled visit (gone if it was deleted).
    pub freed: Option<Appointment>,
}

/// What became of a recipient's YES.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferOutcome {
    Taken,
    TooLate,
}

impl OfferOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            OfferOutcome::Taken => "taken",
            OfferOutcome::TooLate => "too_late",
        }
    }
}

/// What a YES did.
#[derive(Debug, Clone, PartialEq)]
pub enum OfferTaken {
    Booked(Box<Appointment>),
    /// Someone was first, the offer closed, or the time was booked meanwhile.
    Gone,
}

fn date(text: Option<String>) -> Result<Option<Date>, StoreError> {
    text.map(|t| t.parse().map_err(|_| StoreError::Corrupt("bad waitlist date"))).transpose()
}

fn time(text: Option<String>) -> Result<Option<Time>, StoreError> {
    text.map(|t| rapport_domain::value::parse_hhmm(&t).map_err(|_| StoreError::Corrupt("bad waitlist time")))
        .transpose()
}

fn entry_from_row(r: &Row) -> Result<WaitlistEntry, StoreError> {
    let days = r.text("days")?;
    Ok(WaitlistEntry {
        id: r.parsed("id")?,
        patient_id: r.parsed("patient_id")?,
        criteria: Criteria {
            provider_id: r.opt_parsed("provider_id")?,
            location_id: r.opt_parsed("location_id")?,
            visit_type: r.opt_text("visit_type")?,
            earliest: date(r.opt_text("earliest")?)?,
            latest: date(r.opt_text("latest")?)?,
            days: days.split(',').filter(|d| !d.is_empty()).filter_map(parse_day).collect(),
            from: time(r.opt_text("from_time")?)?,
            until: time(r.opt_text("until_time")?)?,
        },
        state: r.parsed("state")?,
        appointment_id: r.opt_parsed("appointment_id")?,
        created_at: r.timestamp("created_at")?,
    })
}

fn hhmm(t: Option<Time>) -> Arg {
    t.map(super::codec::hhmm).into()
}

fn kind(shipped: ShippedKind) -> TemplateKind {
    shipped.into()
}

impl Store {
    /// Puts a live patient of `org` on the waitlist.
    pub async fn add_to_waitlist(
        &self,
        org: OrganizationId,
        patient: PatientId,
        c: &Criteria,
    ) -> Result<WaitlistEntry, StoreError> {
        let id = WaitlistEntryId::generate();
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let known = |table: &str, id: Option<String>, field: &str| {
            let sql = format!("SELECT id FROM {table} WHERE organization_id = $1 AND id = $2");
            (sql, id, field.to_owned())
        };
        let checks = [
            known("patients", Some(patient.to_string()), "patient_id"),
            known("providers", c.provider_id.map(|p| p.to_string()), "provider_id"),
            known("locations", c.location_id.map(|l| l.to_string()), "location_id"),
        ];
        for (sql, id, field) in checks {
            let Some(id) = id else { continue };
            let found = tx.fetch_optional(sqlx::AssertSqlSafe(sql), args([org.to_string().into(), id.into()])).await?;
            found.ok_or(StoreError::UnknownReference { field })?;
        }
        let days: Vec<&str> = c.days.iter().map(|d| rapport_domain::waitlist::day_name(*d)).collect();
        tx.execute(
            "INSERT INTO waitlist_entries (id, organization_id, patient_id, provider_id, location_id, visit_type, earliest,
                 latest, days, from_time, until_time, state, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'waiting', $12, $12)",
            vec![
                id.to_string().into(),
                org.to_string().into(),
                patient.to_string().into(),
                c.provider_id.map(|p| p.to_string()).into(),
                c.location_id.map(|l| l.to_string()).into(),
                c.visit_type.clone().into(),
                c.earliest.map(|d| d.to_string()).into(),
                c.latest.map(|d| d.to_string()).into(),
                days.join(",").into(),
                hhmm(c.from),
                hhmm(c.until),
                now.into(),
            ],
        )
        .await?;
        tx.commit().await?;
        self.waitlist_entry(org, id).await
    }

    pub async fn waitlist_entry(&self, org: OrganizationId, id: WaitlistEntryId) -> Result<WaitlistEntry, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT * FROM waitlist_entries WHERE organization_id = $1 AND id = $2",
                args([org.to_string().into(), id.to_string().into()]),
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        entry_from_row(&row)
    }

    /// The organization's entries in `state` (all with `None`), oldest first.
    pub async fn waitlist(
        &self,
        org: OrganizationId,
        state: Option<EntryState>,
    ) -> Result<Vec<WaitlistEntry>, StoreError> {
        let rows = self
            .db
            .fetch_all(
                "SELECT * FROM waitlist_entries WHERE organization_id = $1 AND ($2 IS NULL OR state = $2)
                 ORDER BY created_at, id LIMIT 1000",
                args([org.to_string().into(), state.map(EntryState::as_str).into()]),
            )
            .await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// Takes a waiting entry off the list.
    pub async fn remove_from_waitlist(&self, org: OrganizationId, id: WaitlistEntryId) -> Result<(), StoreError> {
        let changed = self
            .db
            .execute(
                "UPDATE waitlist_entries SET state = 'removed', updated_at = $3
                 WHERE organization_id = $1 AND id = $2 AND state = 'waiting'",
                args([org.to_string().into(), id.to_string().into(), self.clock.now().into()]),
            )
            .await?;
        if changed == 1 {
            return Ok(());
        }
        self.waitlist_entry(org, id).await.map(drop)
    }

    /// Offers the slot of `freed` (a cancelled visit still far enough
    /// ahead) to the waitlist, within the reminder sync's transaction: once
    /// per visit; the first round goes now.
    pub async fn open_offer_in(
        &self,
        tx: &mut Tx,
        org: OrganizationId,
        freed: &Appointment,
    ) -> Result<Option<SlotOfferId>, StoreError> {
        let now = self.clock.now();
        let Some(closes) = round_closes(freed.details.start, now) else { return Ok(None) };
        let id = SlotOfferId::generate();
        let created = tx
            .execute(
                "INSERT INTO slot_offers (id, organization_id, appointment_id, start_at, state, round, closes_at,
                     created_at, updated_at)
                 VALUES ($1, $2, $3, $4, 'open', 0, $5, $6, $6)
                 ON CONFLICT (organization_id, appointment_id) DO NOTHING",
                args([
                    id.to_string().into(),
                    org.to_string().into(),
                    freed.id.to_string().into(),
                    freed.details.start.into(),
                    closes.into(),
                    now.into(),
                ]),
            )
            .await?;
        if created == 0 {
            return Ok(None);
        }
        self.next_round_in(tx, org, id, freed, now).await?;
        Ok(Some(id))
    }

    /// Texts the next batch the slot suits, or closes the offer when
    /// nobody is left or it is too late.
    async fn next_round_in(
        &self,
        tx: &mut Tx,
        org: OrganizationId,
        offer: SlotOfferId,
        freed: &Appointment,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let rows = tx
            .fetch_all(
                "SELECT w.* FROM waitlist_entries w JOIN patients p ON p.id = w.patient_id AND p.deleted_at IS NULL
                 WHERE w.organization_id = $1 AND w.state = 'waiting' AND w.patient_id <> $2
                   AND NOT EXISTS (SELECT 1 FROM offer_recipients r WHERE r.offer_id = $3 AND r.entry_id = w.id)
                 ORDER BY w.created_at, w.id",
                args([org.to_string().into(), freed.details.patient_id.to_string().into(), offer.to_string().into()]),
            )
            .await?;
        let mut batch: Vec<WaitlistEntry> = Vec::new();
        for row in &rows {
            let entry = entry_from_row(row)?;
            // One offer per patient per slot, whatever their entries.
            if entry.criteria.suits(freed) && !batch.iter().any(|b| b.patient_id == entry.patient_id) {
                batch.push(entry);
            }
            if batch.len() == BATCH {
                break;
            }
        }
        let closes = round_closes(freed.details.start, now);
        let (Some(closes), false) = (closes, batch.is_empty()) else {
            let close =
                "UPDATE slot_offers SET state = 'closed', updated_at = $3 WHERE organization_id = $1 AND id = $2";
            tx.execute(close, args([org.to_string().into(), offer.to_string().into(), now.into()])).await?;
            return Ok(());
        };
        let round = tx
            .fetch_optional(
                "UPDATE slot_offers SET round = round + 1, closes_at = $3, updated_at = $4
                 WHERE organization_id = $1 AND id = $2 RETURNING round",
                args([org.to_string().into(), offer.to_string().into(), closes.into(), now.into()]),
            )
            .await?
            .ok_or(StoreError::NotFound)?
            .int("round")?;
        for entry in batch {
            let plan = MessagePlan {
                patient_id: entry.patient_id,
                class: MessageClass::Transactional,
                idempotency_key: format!("offer:{offer}:{}", entry.id),
                subject: None,
                body: String::new(),
                template: Some(kind(ShippedKind::WaitlistOffer)),
                appointment_id: Some(freed.id),
                priority: Priority::Timely,
                media: Vec::new(),
                channel: Some(Channel::Sms),
                to: None,
                due_at: now,
                expires_at: Some(closes),
            };
            self.plan_in(tx, org, &plan, true).await?;
            tx.execute(
                "INSERT INTO offer_recipients (offer_id, entry_id, patient_id, message_id, round)
                 SELECT $1, $2, $3, id, $4 FROM messages WHERE organization_id = $5 AND idempotency_key = $6",
                args([
                    offer.to_string().into(),
                    entry.id.to_string().into(),
                    entry.patient_id.to_string().into(),
                    round.into(),
                    org.to_string().into(),
                    plan.idempotency_key.as_str().into(),
                ]),
            )
            .await?;
        }
        Ok(())
    }

    /// Rounds whose time is up: the next batch, or the offer closes.
    /// Returns how many offers moved.
    pub async fn close_rounds(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let due = self
            .db
            .fetch_all(
                "SELECT id, organization_id, appointment_id FROM slot_offers WHERE state = 'open' AND closes_at <= $1
                 ORDER BY closes_at LIMIT 100",
                args([now.into()]),
            )
            .await?;
        let mut moved = 0;
        for row in due {
            let (offer, org): (SlotOfferId, OrganizationId) = (row.parsed("id")?, row.parsed("organization_id")?);
            let mut tx = self.db.begin().await?;
            let lock = format!("SELECT state, closes_at FROM slot_offers WHERE id = $1 {}", tx.for_update());
            let current = tx.fetch_optional(sqlx::AssertSqlSafe(lock), args([offer.to_string().into()])).await?;
            // Another process moved it first.
            if current.is_none_or(|c| {
                c.text("state").is_ok_and(|s| s != "open") || c.timestamp("closes_at").is_ok_and(|t| t > now)
            }) {
                continue;
            }
            let freed_id: AppointmentId = row.parsed("appointment_id")?;
            let freed = tx
                .fetch_optional(
                    "SELECT * FROM appointments WHERE organization_id = $1 AND id = $2",
                    args([org.to_string().into(), freed_id.to_string().into()]),
                )
                .await?;
            match freed {
                Some(freed) => self.next_round_in(&mut tx, org, offer, &appointment_from_row(&freed)?, now).await?,
                None => {
                    let close = "UPDATE slot_offers SET state = 'closed', updated_at = $2 WHERE id = $1";
                    tx.execute(close, args([offer.to_string().into(), now.into()])).await?;
                }
            }
            tx.commit().await?;
            moved += 1;
        }
        Ok(moved)
    }

    /// The offers texted to `number` that are still open or were taken
    /// since `since` (a late YES gets told), newest first.
    pub async fn offers_sent_to(
        &self,
        org: OrganizationId,
        number: &str,
        since: Timestamp,
    ) -> Result<Vec<OfferSent>, StoreError> {
        let rows = self
            .db
            .fetch_all(
                "SELECT r.offer_id, r.entry_id, r.patient_id, m.sent_at FROM offer_recipients r
                 JOIN messages m ON m.id = r.message_id
                 JOIN slot_offers o ON o.id = r.offer_id
                 WHERE o.organization_id = $1 AND m.address = $2 AND m.channel = 'sms'
                   AND m.state IN ('sent', 'delivered', 'read') AND m.sent_at >= $3 AND r.outcome IS NULL
                 ORDER BY m.sent_at DESC, m.id DESC",
                args([org.to_string().into(), number.into(), since.into()]),
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(OfferSent {
                    offer_id: r.parsed("offer_id")?,
                    entry_id: r.parsed("entry_id")?,
                    patient_id: r.parsed("patient_id")?,
                    sent_at: r.timestamp("sent_at")?,
                })
            })
            .collect()
    }

    /// Locks an offer's row for a YES (inside the caller's transaction, so
    /// of two YES at once the second waits for the first) and reads the
    /// cancelled visit whose time it offers.
    pub async fn lock_offer_in(
        &self,
        tx: &mut Tx,
        org: OrganizationId,
        offer: SlotOfferId,
    ) -> Result<LockedOffer, StoreError> {
        let lock = format!("SELECT * FROM slot_offers WHERE organization_id = $1 AND id = $2 {}", tx.for_update());
        let row = tx
            .fetch_optional(sqlx::AssertSqlSafe(lock), args([org.to_string().into(), offer.to_string().into()]))
            .await?
            .ok_or(StoreError::NotFound)?;
        let freed_id: AppointmentId = row.parsed("appointment_id")?;
        let freed = tx
            .fetch_optional(
                "SELECT * FROM appointments WHERE organization_id = $1 AND id = $2",
                args([org.to_string().into(), freed_id.to_string().into()]),
            )
            .await?
            .map(|r| appointment_from_row(&r))
            .transpose()?;
        Ok(LockedOffer { state: row.text("state")?, start_at: row.timestamp("start_at")?, freed })
    }

    /// Books `details` for the entry that took the offer: the visit (with
    /// its reminder sync job), the offer taken by the entry, the entry
    /// booked, all inside the caller's transaction. Returns the new visit.
    pub async fn book_offer_in(
        &self,
        tx: &mut Tx,
        org: OrganizationId,
        sent: &OfferSent,
        details: &AppointmentDetails,
        time_zone: &TimeZoneName,
    ) -> Result<Appointment, StoreError> {
        let now = self.clock.now();
        let id = AppointmentId::generate();
        super::appointments::insert(tx, org, id, details, time_zone, now).await?;
        self.enqueue_jobs_in(tx, &[sync_job(org, id, "v1", now)]).await?;
        tx.execute(
            "UPDATE slot_offers SET state = 'taken', taken_by = $3, booked_id = $4, updated_at = $5
             WHERE organization_id = $1 AND id = $2",
            args([
                org.to_string().into(),
                sent.offer_id.to_string().into(),
                sent.entry_id.to_string().into(),
                id.to_string().into(),
                now.into(),
            ]),
        )
        .await?;
        tx.execute(
            "UPDATE waitlist_entries SET state = 'booked', appointment_id = $3, updated_at = $4
             WHERE organization_id = $1 AND id = $2",
            args([org.to_string().into(), sent.entry_id.to_string().into(), id.to_string().into(), now.into()]),
        )
        .await?;
        let row = tx
            .fetch_optional("SELECT * FROM appointments WHERE id = $1", args([id.to_string().into()]))
            .await?
            .ok_or(StoreError::NotFound)?;
        appointment_from_row(&row)
    }

    /// Closes an offer nobody can take any more, inside the caller's transaction.
    pub async fn close_offer_in(&self, tx: &mut Tx, offer: SlotOfferId) -> Result<(), StoreError> {
        let close = "UPDATE slot_offers SET state = 'closed', updated_at = $2 WHERE id = $1";
        tx.execute(close, args([offer.to_string().into(), self.clock.now().into()])).await?;
        Ok(())
    }

    /// What became of one recipient's YES, inside the caller's transaction.
    pub async fn record_offer_outcome_in(
        &self,
        tx: &mut Tx,
        sent: &OfferSent,
        outcome: OfferOutcome,
    ) -> Result<(), StoreError> {
        tx.execute(
            "UPDATE offer_recipients SET outcome = $3 WHERE offer_id = $1 AND entry_id = $2",
            args([sent.offer_id.to_string().into(), sent.entry_id.to_string().into(), outcome.as_str().into()]),
        )
        .await?;
        Ok(())
    }

    /// Whether a live visit with the freed slot's provider overlaps it
    /// (staff re-booked the time): then nobody takes it from the waitlist.
    pub async fn slot_taken_in(
        &self,
        tx: &mut Tx,
        org: OrganizationId,
        freed: &Appointment,
    ) -> Result<bool, StoreError> {
        let Some(provider) = freed.details.provider_id else { return Ok(false) };
        let clash = tx
            .fetch_optional(
                "SELECT id FROM appointments WHERE organization_id = $1 AND provider_id = $2 AND id <> $3
                   AND status IN ('proposed', 'pending', 'booked', 'arrived', 'checked-in')
                   AND start_at < $4 AND end_at > $5 LIMIT 1",
                args([
                    org.to_string().into(),
                    provider.to_string().into(),
                    freed.id.to_string().into(),
                    freed.details.end.into(),
                    freed.details.start.into(),
                ]),
            )
            .await?;
        Ok(clash.is_some())
    }

    /// Cancels an offer's texts not yet sent: the slot is taken.
    pub async fn cancel_offer_messages(&self, org: OrganizationId, offer: SlotOfferId) -> Result<(), StoreError> {
        let rows = self
            .db
            .fetch_all(
                "SELECT id FROM messages WHERE organization_id = $1 AND state = 'planned' AND idempotency_key LIKE $2",
                args([org.to_string().into(), format!("offer:{offer}:%").into()]),
            )
            .await?;
        for row in rows {
            let id: MessageId = row.parsed("id")?;
            self.close_message(org, id, MessageState::Cancelled, "the slot was taken").await?;
        }
        Ok(())
    }

    /// The organization's offers, newest first, with who they went to.
    pub async fn slot_offers(&self, org: OrganizationId) -> Result<Vec<SlotOffer>, StoreError> {
        let rows = self
            .db
            .fetch_all(
                "SELECT * FROM slot_offers WHERE organization_id = $1 ORDER BY created_at DESC, id DESC LIMIT 200",
                args([org.to_string().into()]),
            )
            .await?;
        let mut offers = Vec::with_capacity(rows.len());
        for r in rows {
            let id: SlotOfferId = r.parsed("id")?;
            let recipients = self
                .db
                .fetch_all(
                    "SELECT entry_id, patient_id, round, outcome FROM offer_recipients WHERE offer_id = $1
                     ORDER BY round, entry_id",
                    args([id.to_string().into()]),
                )
                .await?
                .iter()
                .map(|x| Ok((x.parsed("entry_id")?, x.parsed("patient_id")?, x.int("round")?, x.opt_text("outcome")?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            offers.push(SlotOffer {
                id,
                appointment_id: r.parsed("appointment_id")?,
                start_at: r.timestamp("start_at")?,
                state: r.text("state")?,
                round: r.int("round")?,
                closes_at: r.timestamp("closes_at")?,
                taken_by: r.opt_parsed("taken_by")?,
                booked_id: r.opt_parsed("booked_id")?,
                recipients,
            });
        }
        Ok(offers)
    }
}
