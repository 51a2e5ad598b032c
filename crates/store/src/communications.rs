//! What passed between the practice and its patients, both ways, as one
//! list (FHIR's Communication): the messages Rapport planned or sent and
//! the texts patients sent, and what was said elsewhere and kept as sent
//! (a FHIR Communication created here), newest first. All have
//! time-ordered ids, so one cursor (the last id listed) pages through them
//! together.

use rapport_domain::{InboundTextId, Message, OrganizationId, PatientId};

use super::db::args;
use super::inbound::{ReceivedText, text_from_row};
use super::{FhirRecord, FhirRecordQuery, MessageQuery, Page, PageRequest, Store, StoreError};

/// One thing said: by the practice, or by a patient.
#[derive(Debug, Clone, PartialEq)]
pub enum Said {
    Message(Box<Message>),
    Text(ReceivedText),
    /// Said elsewhere, kept as sent.
    Kept(FhirRecord),
}

impl Said {
    pub fn id(&self) -> String {
        match self {
            Said::Message(m) => m.id.to_string(),
            Said::Text(t) => t.id.to_string(),
            Said::Kept(r) => r.id.clone(),
        }
    }
}

impl Store {
    /// A text a patient sent, by its id.
    pub async fn text_by_id(&self, org: OrganizationId, id: InboundTextId) -> Result<ReceivedText, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT * FROM inbound_texts WHERE organization_id = $1 AND id = $2",
                args([org.to_string().into(), id.to_string().into()]),
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        text_from_row(&row)
    }

    /// Messages, texts and kept Communications, newest first, of one patient or all.
    pub async fn communications(
        &self,
        org: OrganizationId,
        patient: Option<PatientId>,
        page: &PageRequest,
    ) -> Result<Page<Said>, StoreError> {
        let limit = page.limit();
        let query = MessageQuery { patient, ..MessageQuery::default() };
        let messages = self.messages(org, &query, page).await?;
        let rows = self
            .db
            .fetch_all(
                "SELECT * FROM inbound_texts WHERE organization_id = $1 AND ($2 IS NULL OR patient_id = $2)
                   AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4",
                args([
                    org.to_string().into(),
                    patient.map(|p| p.to_string()).into(),
                    page.after.clone().into(),
                    ((limit + 1) as i64).into(),
                ]),
            )
            .await?;
        let elsewhere = FhirRecordQuery { patient_id: patient, ..FhirRecordQuery::default() };
        let kept = self.search_fhir_records(org, "Communication", &elsewhere, page).await?;
        // More beyond this page if any source had more than it listed.
        let more = messages.next_cursor.is_some() || rows.len() > limit || kept.next_cursor.is_some();
        let mut items: Vec<Said> = messages.items.into_iter().map(|m| Said::Message(Box::new(m))).collect();
        for row in &rows {
            items.push(Said::Text(text_from_row(row)?));
        }
        items.extend(kept.items.into_iter().map(Said::Kept));
        items.sort_by_key(|said| std::cmp::Reverse(said.id()));
        let more = more || items.len() > limit;
        items.truncate(limit);
        let next_cursor = if more { items.last().map(Said::id) } else { None };
        Ok(Page { items, next_cursor })
    }
}
