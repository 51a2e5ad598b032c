//! The waitlist's tables (domain `waitlist`): entries, a freed slot's
//! offer, its rounds and recipients, and the steps of taking it. The
//! engine's `waitlist.rs` composes them: it opens an offer, sends its
//! rounds and takes a YES, each in one transaction, the offer's row locked
//! where two processes or two patients could meet.

use std::str::FromStr;

use jiff::Timestamp;
use jiff::civil::{Date, Time};
use rapport_domain::contact::UnknownWord;
use rapport_domain::waitlist::{Criteria, parse_day};
use rapport_domain::{
    Appointment, AppointmentDetails, AppointmentId, MessageId, MessageState, OrganizationId, PatientId, PhoneE164,
    SlotOfferId, TimeZoneName, WaitlistEntryId,
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

/// A due offer, as its lock found it.
#[derive(Debug, Clone, PartialEq)]
pub enum DueOffer {
    /// Another process moved it first: nothing to do.
    Moved,
    /// The visit whose time it offers is gone: it closes.
    VisitGone,
    /// Its round is up; the cancelled visit whose time it offers.
    Due(Box<Appointment>),
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

    /// Creates the offer of `freed`'s time, its first round closing at
    /// `closes`, inside the caller's transaction: once per visit (`None`
    /// when it was offered before).
    pub async fn create_offer_in(
        &self,
        tx: &mut Tx,
        org: OrganizationId,
        freed: &Appointment,
        closes: Timestamp,
    ) -> Result<Option<SlotOfferId>, StoreError> {
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
                    self.clock.now().into(),
                ]),
            )
            .await?;
        Ok((created == 1).then_some(id))
    }

    /// The waiting entries of live patients other than `except` that
    /// `offer` has not gone to yet, oldest first.
    pub async fn entries_not_offered_in(
        &self,
        tx: &mut Tx,
        org: OrganizationId,
        offer: SlotOfferId,
        except: PatientId,
    ) -> Result<Vec<WaitlistEntry>, StoreError> {
        let rows = tx
            .fetch_all(
                "SELECT w.* FROM waitlist_entries w JOIN patients p ON p.id = w.patient_id AND p.deleted_at IS NULL
                 WHERE w.organization_id = $1 AND w.state = 'waiting' AND w.patient_id <> $2
                   AND NOT EXISTS (SELECT 1 FROM offer_recipients r WHERE r.offer_id = $3 AND r.entry_id = w.id)
                 ORDER BY w.created_at, w.id",
                args([org.to_string().into(), except.to_string().into(), offer.to_string().into()]),
            )
            .await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// Starts `offer`'s next round, closing at `closes`; its number.
    pub async fn next_round_number_in(
        &self,
        tx: &mut Tx,
        org: OrganizationId,
        offer: SlotOfferId,
        closes: Timestamp,
    ) -> Result<i64, StoreError> {
        tx.fetch_optional(
            "UPDATE slot_offers SET round = round + 1, closes_at = $3, updated_at = $4
             WHERE organization_id = $1 AND id = $2 RETURNING round",
            args([org.to_string().into(), offer.to_string().into(), closes.into(), self.clock.now().into()]),
        )
        .await?
        .ok_or(StoreError::NotFound)?
        .int("round")
    }

    /// Records that round `round` of `offer` went to `entry` by the
    /// message planned under `key`.
    pub async fn add_recipient_in(
        &self,
        tx: &mut Tx,
        org: OrganizationId,
        offer: SlotOfferId,
        entry: &WaitlistEntry,
        round: i64,
        key: &str,
    ) -> Result<(), StoreError> {
        tx.execute(
            "INSERT INTO offer_recipients (offer_id, entry_id, patient_id, message_id, round)
             SELECT $1, $2, $3, id, $4 FROM messages WHERE organization_id = $5 AND idempotency_key = $6",
            args([
                offer.to_string().into(),
                entry.id.to_string().into(),
                entry.patient_id.to_string().into(),
                round.into(),
                org.to_string().into(),
                key.into(),
            ]),
        )
        .await?;
        Ok(())
    }

    /// The open offers whose round's time is up, oldest first (100 at most).
    pub async fn due_rounds(&self) -> Result<Vec<(SlotOfferId, OrganizationId)>, StoreError> {
        let due = self
            .db
            .fetch_all(
                "SELECT id, organization_id FROM slot_offers WHERE state = 'open' AND closes_at <= $1
                 ORDER BY closes_at LIMIT 100",
                args([self.clock.now().into()]),
            )
            .await?;
        due.iter().map(|row| Ok((row.parsed("id")?, row.parsed("organization_id")?))).collect()
    }

    /// Locks a due offer for its next round, inside the caller's
    /// transaction: what stands (another process may have moved it first).
    pub async fn lock_due_offer_in(&self, tx: &mut Tx, offer: SlotOfferId) -> Result<DueOffer, StoreError> {
        let now = self.clock.now();
        let lock = format!("SELECT * FROM slot_offers WHERE id = $1 {}", tx.for_update());
        let Some(row) = tx.fetch_optional(sqlx::AssertSqlSafe(lock), args([offer.to_string().into()])).await? else {
            return Ok(DueOffer::Moved);
        };
        if row.text("state")? != "open" || row.timestamp("closes_at")? > now {
            return Ok(DueOffer::Moved);
        }
        let org: OrganizationId = row.parsed("organization_id")?;
        let freed: AppointmentId = row.parsed("appointment_id")?;
        Ok(match self.appointment_in(tx, org, freed).await? {
            Some(visit) => DueOffer::Due(Box::new(visit)),
            None => DueOffer::VisitGone,
        })
    }

    /// The offers texted to `number` that are still open or were taken
    /// since `since` (a late YES gets told), newest first.
    pub async fn offers_sent_to(
        &self,
        org: OrganizationId,
        number: &PhoneE164,
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
                args([org.to_string().into(), number.as_str().into(), since.into()]),
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
        let freed = self.appointment_in(tx, org, freed_id).await?;
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
