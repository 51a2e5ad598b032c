//! The consent ledger: every grant and revocation is a new row; the latest
//! entry per channel and purpose is the patient's current choice.

use rapport_domain::{Consent, ConsentId, OrganizationId, PatientId};

use super::db::{Row, args};
use super::{Store, StoreError};

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
}
