//! The consent ledger: every grant and revocation is a new row; the latest
//! entry per channel and purpose is the patient's current choice.

use rapport_domain::{Channel, Consent, ConsentId, ConsentStatus, OrganizationId, PatientId, Purpose};

use super::db::{Row, Tx, args};
use super::delivery::suppress_in;
use super::{Store, StoreError};

/// The ledger's source for a patient's own keyword by text.
pub const KEYWORD_SOURCE: &str = "sms-keyword";

pub(super) fn consent_from_row(r: &Row) -> Result<Consent, StoreError> {
    Ok(Consent {
        id: r.parsed("id")?,
        organization_id: r.parsed("organization_id")?,
        patient_id: r.parsed("patient_id")?,
        channel: r.parsed("channel")?,
        purpose: r.parsed("purpose")?,
        status: r.parsed("status")?,
        source: r.text("source")?,
        evidence: r.opt_text("evidence")?,
        recorded_at: r.timestamp("recorded_at")?,
    })
}

impl Store {
    /// Appends `consent` (its id and time are set here) for a live patient.
    pub async fn record_consent(&self, consent: &Consent) -> Result<Consent, StoreError> {
        let org = consent.organization_id;
        let mut tx = self.db.begin().await?;
        tx.fetch_optional(
            "SELECT id FROM patients WHERE organization_id = $1 AND id = $2 AND deleted_at IS NULL",
            args([org.to_string().into(), consent.patient_id.to_string().into()]),
        )
        .await?
        .ok_or(StoreError::NotFound)?;
        let id = ConsentId::generate();
        tx.execute(
            "INSERT INTO consents (id, organization_id, patient_id, channel, purpose, status, source, evidence, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            args([
                id.to_string().into(),
                org.to_string().into(),
                consent.patient_id.to_string().into(),
                consent.channel.as_str().into(),
                consent.purpose.as_str().into(),
                consent.status.as_str().into(),
                consent.source.clone().into(),
                consent.evidence.clone().into(),
                self.clock.now().into(),
            ]),
        )
        .await?;
        tx.commit().await?;
        let row = self
            .db
            .fetch_optional("SELECT * FROM consents WHERE id = $1", args([id.to_string().into()]))
            .await?
            .ok_or(StoreError::NotFound)?;
        consent_from_row(&row)
    }

    /// One entry of the ledger.
    pub async fn consent(&self, org: OrganizationId, id: ConsentId) -> Result<Consent, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT * FROM consents WHERE organization_id = $1 AND id = $2",
                args([org.to_string().into(), id.to_string().into()]),
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        consent_from_row(&row)
    }

    /// The whole ledger of one patient, oldest first.
    pub async fn consent_history(&self, org: OrganizationId, patient: PatientId) -> Result<Vec<Consent>, StoreError> {
        self.get_patient(org, patient).await?;
        let rows = self
            .db
            .fetch_all(
                "SELECT * FROM consents WHERE organization_id = $1 AND patient_id = $2 ORDER BY id",
                args([org.to_string().into(), patient.to_string().into()]),
            )
            .await?;
        rows.iter().map(consent_from_row).collect()
    }

    /// The current choice per channel and purpose (latest entry of each).
    pub async fn current_consents(&self, org: OrganizationId, patient: PatientId) -> Result<Vec<Consent>, StoreError> {
        let history = self.consent_history(org, patient).await?;
        Ok(rapport_domain::consent::current(&history).into_iter().cloned().collect())
    }

    /// Puts `number` on `sender`'s suppression list, inside the caller's transaction.
    pub async fn suppress_sms_in(
        &self,
        tx: &mut Tx,
        org: OrganizationId,
        sender: &str,
        number: &str,
    ) -> Result<(), StoreError> {
        suppress_in(tx, org, sender, number, self.clock.now()).await
    }

    /// Takes `number` off `sender`'s suppression list, inside the caller's transaction.
    pub async fn lift_sms_suppression_in(
        &self,
        tx: &mut Tx,
        org: OrganizationId,
        sender: &str,
        number: &str,
    ) -> Result<(), StoreError> {
        tx.execute(
            "DELETE FROM sms_suppressions WHERE organization_id = $1 AND sender = $2 AND address = $3",
            args([org.to_string().into(), sender.into(), number.into()]),
        )
        .await
        .map(drop)
    }

    /// Appends a keyword's entries (`sms-keyword`, the provider's message
    /// id as evidence) to the ledger of every live patient with `number`:
    /// texts `status` for each of `purposes`. How many patients it reached.
    pub async fn keyword_consents_in(
        &self,
        tx: &mut Tx,
        org: OrganizationId,
        number: &str,
        status: ConsentStatus,
        purposes: &[Purpose],
        evidence: &str,
    ) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let patients = tx
            .fetch_all(
                "SELECT DISTINCT c.patient_id FROM patient_contacts c JOIN patients p ON p.id = c.patient_id
                 WHERE c.organization_id = $1 AND c.value = $2 AND p.deleted_at IS NULL ORDER BY c.patient_id",
                args([org.to_string().into(), number.into()]),
            )
            .await?;
        for row in &patients {
            let patient: PatientId = row.parsed("patient_id")?;
            for purpose in purposes {
                tx.execute(
                    "INSERT INTO consents (id, organization_id, patient_id, channel, purpose, status, source, evidence, recorded_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    args([
                        ConsentId::generate().to_string().into(),
                        org.to_string().into(),
                        patient.to_string().into(),
                        Channel::Sms.as_str().into(),
                        purpose.as_str().into(),
                        status.as_str().into(),
                        KEYWORD_SOURCE.into(),
                        evidence.into(),
                        now.into(),
                    ]),
                )
                .await?;
            }
        }
        Ok(patients.len())
    }
}
