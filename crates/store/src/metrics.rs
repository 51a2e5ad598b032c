//! What reminders did, per day and location, for the analytics to come:
//! visits, reminded, confirmed, cancelled by the patient, no-shows, freed
//! slots offered and taken from the waitlist, recall attempts sent and the
//! patients who booked after one. A visit counts on the local day it starts
//! (its location's zone); a recall attempt on the local day it was sent.

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use rapport_domain::{LocationId, OrganizationId};

use super::db::args;
use super::{Store, StoreError};

/// One day at one location.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayMetrics {
    pub appointments: i64,
    /// Visits with at least one reminder or confirmation handed over.
    pub reminded: i64,
    pub confirmed: i64,
    pub cancelled_by_patient: i64,
    pub no_shows: i64,
    /// Cancelled visits whose slot was offered to the waitlist, and taken.
    pub offers_sent: i64,
    pub offers_taken: i64,
    pub recalls_sent: i64,
    /// Patients sent a recall that day who booked a visit afterwards.
    pub recall_bookings: i64,
}

fn local_date(at: Timestamp, zone: &str) -> Date {
    jiff::tz::TimeZone::get(zone)
        .map_or_else(|_| at.to_zoned(jiff::tz::TimeZone::UTC).date(), |tz| at.to_zoned(tz).date())
}

impl Store {
    /// The metrics of the local days `from` to `to` (inclusive), by day then location.
    pub async fn reminder_metrics(
        &self,
        org: OrganizationId,
        from: Date,
        to: Date,
    ) -> Result<BTreeMap<(Date, LocationId), DayMetrics>, StoreError> {
        // Local days span UTC-14 to UTC+14: read a day more on each side, keep the local ones.
        let lower = from.to_zoned(jiff::tz::TimeZone::UTC).map_err(|_| StoreError::Corrupt("date"))?.timestamp()
            - SignedDuration::from_hours(24);
        let upper = to.to_zoned(jiff::tz::TimeZone::UTC).map_err(|_| StoreError::Corrupt("date"))?.timestamp()
            + SignedDuration::from_hours(48);
        let range = args([org.to_string().into(), lower.into(), upper.into()]);
        let visits = self
            .db
            .fetch_all(
                "SELECT a.location_id, a.start_at, a.time_zone, a.status,
                    CAST(CASE WHEN EXISTS (SELECT 1 FROM messages m WHERE m.organization_id = a.organization_id
                        AND m.appointment_id = a.id AND m.idempotency_key LIKE 'visit:%'
                        AND m.state IN ('sent', 'delivered', 'read')) THEN 1 ELSE 0 END AS BIGINT) AS reminded,
                    CAST(CASE WHEN EXISTS (SELECT 1 FROM visit_answers v WHERE v.organization_id = a.organization_id
                        AND v.appointment_id = a.id AND v.answer = 'confirm') THEN 1 ELSE 0 END AS BIGINT) AS confirmed,
                    CAST(CASE WHEN EXISTS (SELECT 1 FROM visit_answers v WHERE v.organization_id = a.organization_id
                        AND v.appointment_id = a.id AND v.answer = 'cancel') THEN 1 ELSE 0 END AS BIGINT) AS patient_cancelled,
                    (SELECT o.state FROM slot_offers o WHERE o.organization_id = a.organization_id
                        AND o.appointment_id = a.id) AS offer
                 FROM appointments a
                 WHERE a.organization_id = $1 AND a.start_at >= $2 AND a.start_at < $3",
                range.clone(),
            )
            .await?;
        let mut days: BTreeMap<(Date, LocationId), DayMetrics> = BTreeMap::new();
        let flag = |r: &super::db::Row, name: &str| r.int(name);
        for r in &visits {
            let date = local_date(r.timestamp("start_at")?, &r.text("time_zone")?);
            if date < from || date > to {
                continue;
            }
            let day = days.entry((date, r.parsed("location_id")?)).or_default();
            day.appointments += 1;
            day.reminded += flag(r, "reminded")?;
            day.confirmed += flag(r, "confirmed")?;
            day.cancelled_by_patient += flag(r, "patient_cancelled")?;
            day.no_shows += i64::from(r.text("status")? == "noshow");
            let offer = r.opt_text("offer")?;
            day.offers_sent += i64::from(offer.is_some());
            day.offers_taken += i64::from(offer.as_deref() == Some("taken"));
        }
        let recalls = self
            .db
            .fetch_all(
                "SELECT a.location_id, a.time_zone, m.sent_at,
                    CAST(CASE WHEN EXISTS (SELECT 1 FROM appointments b WHERE b.organization_id = m.organization_id
                        AND b.patient_id = m.patient_id AND b.created_at >= m.sent_at) THEN 1 ELSE 0 END AS BIGINT) AS booked
                 FROM messages m JOIN appointments a ON a.organization_id = m.organization_id AND a.id = m.appointment_id
                 WHERE m.organization_id = $1 AND m.idempotency_key LIKE 'recall:%'
                   AND m.state IN ('sent', 'delivered', 'read') AND m.sent_at >= $2 AND m.sent_at < $3",
                range,
            )
            .await?;
        for r in &recalls {
            let date = local_date(r.timestamp("sent_at")?, &r.text("time_zone")?);
            if date < from || date > to {
                continue;
            }
            let day = days.entry((date, r.parsed("location_id")?)).or_default();
            day.recalls_sent += 1;
            day.recall_bookings += flag(r, "booked")?;
        }
        Ok(days)
    }
}
