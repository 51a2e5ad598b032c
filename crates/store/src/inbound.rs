//! Texts patients send in. Each is kept once (its provider reference is
//! unique, so a webhook delivered twice is one text) and then settled: the
//! engine (`answers::settle_text`) records its outcome here
//! (`settle_text_in`) in one transaction with everything it causes. Until
//! settled its outcome is empty, so a webhook retried after a failure
//! finishes the work.

use std::str::FromStr;

use jiff::Timestamp;
use rapport_domain::answer::Asked;
use rapport_domain::contact::UnknownWord;
use rapport_domain::{
    Answer, AppointmentId, ConversationId, InboundTextId, OrganizationId, PatientId, PhoneE164, ProviderRef,
};
use serde::{Deserialize, Serialize};

use super::answers::LATEST_ANSWER;
use super::appointments::appointment_from_row;
use super::db::{Row, Tx, args};
use super::{Store, StoreError};

/// A text as the provider delivered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundText {
    /// The provider's id for it (a Twilio MessageSid).
    pub provider_ref: ProviderRef,
    pub from: String,
    pub to: String,
    pub body: String,
    /// MMS attachments: the provider's links (fetched later when configured).
    pub media: Vec<Media>,
}

/// One attachment of a text, as the provider hosts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Media {
    pub url: String,
    pub content_type: Option<String>,
    /// Rapport keeps a copy (`text_media`), fetched with `[sms] fetch_media`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stored: bool,
}

/// What became of a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextOutcome {
    /// It answered a visit.
    Answered,
    /// An answer staff must place (several visits, a shared phone).
    Unclear,
    /// Not an answer, or nothing was asked: staff read it.
    ToRead,
    /// An opt-out or opt-in keyword.
    Keyword,
}

impl TextOutcome {
    pub const ALL: [TextOutcome; 4] =
        [TextOutcome::Answered, TextOutcome::Unclear, TextOutcome::ToRead, TextOutcome::Keyword];

    pub fn as_str(self) -> &'static str {
        match self {
            TextOutcome::Answered => "answered",
            TextOutcome::Unclear => "unclear",
            TextOutcome::ToRead => "to_read",
            TextOutcome::Keyword => "keyword",
        }
    }
}

impl FromStr for TextOutcome {
    type Err = UnknownWord;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TextOutcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or(UnknownWord("answered, unclear, to_read or keyword"))
    }
}

/// A kept text.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedText {
    pub id: InboundTextId,
    pub from: String,
    pub body: String,
    pub received_at: Timestamp,
    pub patient_id: Option<PatientId>,
    pub appointment_id: Option<AppointmentId>,
    /// `None` until settled.
    pub outcome: Option<TextOutcome>,
    /// Set once settled.
    pub conversation_id: Option<ConversationId>,
    pub media: Vec<Media>,
}

pub(super) fn text_from_row(r: &Row) -> Result<ReceivedText, StoreError> {
    let media = match r.opt_text("media")? {
        Some(json) => serde_json::from_str(&json).map_err(|_| StoreError::Corrupt("a text's media list"))?,
        None => Vec::new(),
    };
    Ok(ReceivedText {
        id: r.parsed("id")?,
        from: r.text("from_address")?,
        body: r.text("body")?,
        received_at: r.timestamp("received_at")?,
        patient_id: r.opt_parsed("patient_id")?,
        appointment_id: r.opt_parsed("appointment_id")?,
        outcome: r.opt_parsed("outcome")?,
        conversation_id: r.opt_parsed("conversation_id")?,
        media,
    })
}

impl Store {
    /// Records what became of a text (its outcome, the patient who wrote,
    /// the visit it answered), inside the caller's transaction.
    pub async fn settle_text_in(
        &self,
        tx: &mut Tx,
        org: OrganizationId,
        text: InboundTextId,
        outcome: TextOutcome,
        patient: Option<PatientId>,
        visit: Option<AppointmentId>,
    ) -> Result<(), StoreError> {
        tx.execute(
            "UPDATE inbound_texts SET outcome = $3, patient_id = $4, appointment_id = $5
             WHERE organization_id = $1 AND id = $2",
            args([
                org.to_string().into(),
                text.to_string().into(),
                outcome.as_str().into(),
                patient.map(|p| p.to_string()).into(),
                visit.map(|v| v.to_string()).into(),
            ]),
        )
        .await?;
        Ok(())
    }

    /// Keeps a text; the one kept before under the same provider reference
    /// if it came already.
    pub async fn receive_text(&self, org: OrganizationId, text: &InboundText) -> Result<ReceivedText, StoreError> {
        self.db
            .execute(
                "INSERT INTO inbound_texts (id, organization_id, provider_ref, from_address, to_address, body, received_at,
                     media)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (organization_id, provider_ref) DO NOTHING",
                args([
                    InboundTextId::generate().to_string().into(),
                    org.to_string().into(),
                    text.provider_ref.as_str().into(),
                    text.from.as_str().into(),
                    text.to.as_str().into(),
                    text.body.as_str().into(),
                    self.clock.now().into(),
                    (!text.media.is_empty())
                        .then(|| serde_json::to_string(&text.media).expect("media serialize"))
                        .into(),
                ]),
            )
            .await?;
        let row = self
            .db
            .fetch_optional(
                "SELECT * FROM inbound_texts WHERE organization_id = $1 AND provider_ref = $2",
                args([org.to_string().into(), text.provider_ref.as_str().into()]),
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        text_from_row(&row)
    }

    /// The visits still ahead that reminders texted to `number` since
    /// `since` asked about, newest reminder first, each with the patient's
    /// latest answer to the visit as it stands.
    pub async fn asked_visits(
        &self,
        org: OrganizationId,
        number: &PhoneE164,
        since: Timestamp,
    ) -> Result<Vec<Asked>, StoreError> {
        let rows = self
            .db
            .fetch_all(
                sqlx::AssertSqlSafe(format!(
                    "SELECT a.*, m.id AS message_id, m.idempotency_key AS message_key, {LATEST_ANSWER} AS answered
                     FROM messages m JOIN appointments a ON a.organization_id = m.organization_id AND a.id = m.appointment_id
                     WHERE m.organization_id = $1
                       AND m.patient_id IN (SELECT patient_id FROM patient_contacts WHERE organization_id = $1 AND value = $2)
                       AND m.channel = 'sms' AND m.address = $2 AND m.state IN ('sent', 'delivered', 'read')
                       AND m.idempotency_key LIKE 'visit:%' AND m.sent_at >= $3 AND a.start_at > $4
                     ORDER BY m.sent_at DESC, m.id DESC"
                )),
                args([org.to_string().into(), number.as_str().into(), since.into(), self.clock.now().into()]),
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Asked {
                    appointment: appointment_from_row(r)?,
                    message_id: r.parsed("message_id")?,
                    key: r.text("message_key")?,
                    answered: r.opt_parsed::<Answer>("answered")?,
                })
            })
            .collect()
    }

    /// The live patients with `number` among their phones.
    pub async fn patients_with_phone(
        &self,
        org: OrganizationId,
        number: &PhoneE164,
    ) -> Result<Vec<PatientId>, StoreError> {
        let rows = self
            .db
            .fetch_all(
                "SELECT DISTINCT c.patient_id FROM patient_contacts c JOIN patients p ON p.id = c.patient_id
                 WHERE c.organization_id = $1 AND c.value = $2 AND p.deleted_at IS NULL ORDER BY c.patient_id",
                args([org.to_string().into(), number.as_str().into()]),
            )
            .await?;
        rows.iter().map(|r| r.parsed("patient_id")).collect()
    }

    /// The text the provider delivered under `provider_ref`, if it came.
    pub async fn inbound_text(
        &self,
        org: OrganizationId,
        provider_ref: &ProviderRef,
    ) -> Result<Option<ReceivedText>, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT * FROM inbound_texts WHERE organization_id = $1 AND provider_ref = $2",
                args([org.to_string().into(), provider_ref.as_str().into()]),
            )
            .await?;
        row.as_ref().map(text_from_row).transpose()
    }

    /// A patient's texts, newest first (their timeline).
    pub async fn patient_texts(
        &self,
        org: OrganizationId,
        patient: PatientId,
    ) -> Result<Vec<ReceivedText>, StoreError> {
        let rows = self
            .db
            .fetch_all(
                "SELECT * FROM inbound_texts WHERE organization_id = $1 AND patient_id = $2
                 ORDER BY received_at DESC, id DESC LIMIT 200",
                args([org.to_string().into(), patient.to_string().into()]),
            )
            .await?;
        rows.iter().map(text_from_row).collect()
    }
}
