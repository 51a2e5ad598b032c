//! Web push subscriptions: what a patient's browser or app gave when it
//! subscribed (the push service's endpoint and the keys RFC 8291 encrypts
//! to). Subscribing the same endpoint again refreshes its keys. A
//! subscription the push service reported gone is in
//! `undeliverable_addresses` (channel `push`, its id as the address) and is
//! no longer live.

use jiff::Timestamp;
use rapport_domain::{OrganizationId, PatientId, PushSubscriptionId};
use sqlx::AssertSqlSafe;

use super::db::{Arg, Row, args, placeholders};
use super::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushSubscription {
    pub id: PushSubscriptionId,
    pub organization_id: OrganizationId,
    pub patient_id: PatientId,
    /// The push service's URL for this subscription (https).
    pub endpoint: String,
    /// The subscriber's P-256 public key, base64url (uncompressed point).
    pub p256dh: String,
    /// The subscriber's 16-byte authentication secret, base64url.
    pub auth: String,
    pub created_at: Timestamp,
}

fn subscription_from_row(r: &Row) -> Result<PushSubscription, StoreError> {
    Ok(PushSubscription {
        id: r.parsed("id")?,
        organization_id: r.parsed("organization_id")?,
        patient_id: r.parsed("patient_id")?,
        endpoint: r.text("endpoint")?,
        p256dh: r.text("p256dh")?,
        auth: r.text("auth")?,
        created_at: r.timestamp("created_at")?,
    })
}

/// Live: not reported gone by the push service.
const LIVE: &str = "NOT EXISTS (SELECT 1 FROM undeliverable_addresses u WHERE u.organization_id = s.organization_id
    AND u.channel = 'push' AND u.address = s.id)";

impl Store {
    /// Records a live patient's subscription; the same endpoint again takes
    /// the new keys (and patient) and keeps its id.
    pub async fn add_push_subscription(
        &self,
        org: OrganizationId,
        patient: PatientId,
        endpoint: &str,
        p256dh: &str,
        auth: &str,
    ) -> Result<PushSubscription, StoreError> {
        let mut tx = self.db.begin().await?;
        tx.fetch_optional(
            "SELECT id FROM patients WHERE organization_id = $1 AND id = $2 AND deleted_at IS NULL",
            args([org.to_string().into(), patient.to_string().into()]),
        )
        .await?
        .ok_or(StoreError::NotFound)?;
        tx.execute(
            "INSERT INTO push_subscriptions (id, organization_id, patient_id, endpoint, p256dh, auth, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (organization_id, endpoint)
             DO UPDATE SET patient_id = excluded.patient_id, p256dh = excluded.p256dh, auth = excluded.auth",
            args([
                PushSubscriptionId::generate().to_string().into(),
                org.to_string().into(),
                patient.to_string().into(),
                endpoint.into(),
                p256dh.into(),
                auth.into(),
                self.clock.now().into(),
            ]),
        )
        .await?;
        let row = tx
            .fetch_optional(
                "SELECT * FROM push_subscriptions WHERE organization_id = $1 AND endpoint = $2",
                args([org.to_string().into(), endpoint.into()]),
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        subscription_from_row(&row)
    }

    /// A patient's live subscriptions, newest first.
    pub async fn push_subscriptions(
        &self,
        org: OrganizationId,
        patient: PatientId,
    ) -> Result<Vec<PushSubscription>, StoreError> {
        let sql = format!(
            "SELECT s.* FROM push_subscriptions s WHERE s.organization_id = $1 AND s.patient_id = $2 AND {LIVE}
             ORDER BY s.id DESC"
        );
        let rows =
            self.db.fetch_all(AssertSqlSafe(sql), args([org.to_string().into(), patient.to_string().into()])).await?;
        rows.iter().map(subscription_from_row).collect()
    }

    /// The live subscriptions of `patients`, newest first (the dispatcher's batch read).
    pub(super) async fn live_push_subscriptions(
        &self,
        patients: &[String],
    ) -> Result<Vec<PushSubscription>, StoreError> {
        if patients.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT s.* FROM push_subscriptions s WHERE s.patient_id IN ({}) AND {LIVE} ORDER BY s.id DESC",
            placeholders(1, patients.len())
        );
        let rows =
            self.db.fetch_all(AssertSqlSafe(sql), patients.iter().map(|p| Arg::from(p.as_str())).collect()).await?;
        rows.iter().map(subscription_from_row).collect()
    }

    /// The subscriptions of `ids` (any organization: the caller checks).
    pub async fn push_subscriptions_by_ids(
        &self,
        ids: &[PushSubscriptionId],
    ) -> Result<Vec<PushSubscription>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT * FROM push_subscriptions WHERE id IN ({})", placeholders(1, ids.len()));
        let rows =
            self.db.fetch_all(AssertSqlSafe(sql), ids.iter().map(|i| Arg::from(i.to_string())).collect()).await?;
        rows.iter().map(subscription_from_row).collect()
    }
}
