//! MMS media kept by Rapport (`[sms] fetch_media`): the texts whose media
//! wait to be fetched become `text.media` jobs (once each, by a scan of a
//! partial index); a fetch keeps what it got and marks the text's links
//! stored, in one transaction; staff read a copy by text and position.

use rapport_domain::message::pace::Priority;
use rapport_domain::{InboundTextId, OrganizationId};

use super::db::{Arg, args};
use super::inbound::Media;
use super::jobs::NewJob;
use super::{JobKind, JobWork, Store, StoreError};

/// One attachment as fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedMedia {
    /// Its place in the text's list, from 0.
    pub position: usize,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl Store {
    /// Enqueues a fetch for up to `limit` texts whose media wait (any
    /// organization: the provider's account is the deployment's).
    pub async fn queue_media_fetches(&self, limit: usize) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let prefix = format!("{}:", JobKind::Media.as_str());
        let mut tx = self.db.begin().await?;
        let rows = tx
            .fetch_all(
                "SELECT t.id, t.organization_id FROM inbound_texts t
                 WHERE t.media IS NOT NULL AND t.media_fetched_at IS NULL
                   AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.idempotency_key = $1 || t.id)
                 ORDER BY t.received_at LIMIT $2",
                args([prefix.as_str().into(), (limit as i64).into()]),
            )
            .await?;
        let jobs = rows
            .iter()
            .map(|r| {
                let id: InboundTextId = r.parsed("id")?;
                Ok(NewJob {
                    organization_id: Some(r.parsed("organization_id")?),
                    kind: JobKind::Media.as_str().into(),
                    payload: JobWork::Media { text_id: id }.payload(),
                    idempotency_key: format!("{prefix}{id}"),
                    run_at: now,
                    max_attempts: 8,
                    rank: Priority::Bulk.rank(),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.enqueue_jobs_in(&mut tx, &jobs).await?;
        tx.commit().await?;
        Ok(jobs.len())
    }

    /// The text's media links, if they still wait to be fetched.
    pub async fn media_to_fetch(&self, org: OrganizationId, text: InboundTextId) -> Result<Vec<Media>, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT media FROM inbound_texts WHERE organization_id = $1 AND id = $2 AND media_fetched_at IS NULL",
                args([org.to_string().into(), text.to_string().into()]),
            )
            .await?;
        match row.and_then(|r| r.opt_text("media").transpose()) {
            Some(json) => serde_json::from_str(&json?).map_err(|_| StoreError::Corrupt("a text's media list")),
            None => Ok(Vec::new()),
        }
    }

    /// Keeps what a fetch got and marks the text done (the links it got marked stored).
    pub async fn keep_text_media(
        &self,
        org: OrganizationId,
        text: InboundTextId,
        fetched: Vec<FetchedMedia>,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        let mut media = self.media_to_fetch(org, text).await?;
        let mut tx = self.db.begin().await?;
        for item in fetched {
            if let Some(link) = media.get_mut(item.position) {
                link.stored = true;
            }
            tx.execute(
                "INSERT INTO text_media (text_id, position, organization_id, content_type, bytes, fetched_at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (text_id, position) DO NOTHING",
                vec![
                    text.to_string().into(),
                    (item.position as i64).into(),
                    org.to_string().into(),
                    item.content_type.into(),
                    Arg::Bytes(item.bytes),
                    now.into(),
                ],
            )
            .await?;
        }
        let json = serde_json::to_string(&media).map_err(|_| StoreError::Corrupt("a text's media list"))?;
        tx.execute(
            "UPDATE inbound_texts SET media = $3, media_fetched_at = $4
             WHERE organization_id = $1 AND id = $2 AND media_fetched_at IS NULL",
            args([org.to_string().into(), text.to_string().into(), json.into(), now.into()]),
        )
        .await?;
        tx.commit().await
    }

    /// Rapport's copy of a text's attachment: its content type and bytes.
    pub async fn text_media(
        &self,
        org: OrganizationId,
        text: InboundTextId,
        position: usize,
    ) -> Result<(String, Vec<u8>), StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT content_type, bytes FROM text_media WHERE organization_id = $1 AND text_id = $2 AND position = $3",
                args([org.to_string().into(), text.to_string().into(), (position as i64).into()]),
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok((row.text("content_type")?, row.bytes("bytes")?))
    }
}
