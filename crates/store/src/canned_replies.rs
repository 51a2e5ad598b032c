//! The organization's canned replies, one per title.

use jiff::Timestamp;
use rapport_domain::message::canned::CannedWords;
use rapport_domain::message::template::TemplateText;
use rapport_domain::{CannedReplyId, OrganizationId};

use super::db::{Row, args};
use super::{Store, StoreError};

#[derive(Debug, Clone, PartialEq)]
pub struct CannedReply {
    pub id: CannedReplyId,
    pub words: CannedWords,
    pub created_at: Timestamp,
}

fn canned_from_row(r: &Row) -> Result<CannedReply, StoreError> {
    let text = TemplateText::parse(&r.text("body")?).map_err(|_| StoreError::Corrupt("a canned reply's words"))?;
    Ok(CannedReply {
        id: r.parsed("id")?,
        words: CannedWords { title: r.text("title")?, text },
        created_at: r.timestamp("created_at")?,
    })
}

impl Store {
    /// Adds a canned reply; a title the organization has already is a conflict.
    pub async fn create_canned_reply(
        &self,
        org: OrganizationId,
        words: &CannedWords,
    ) -> Result<CannedReply, StoreError> {
        let reply = CannedReply { id: CannedReplyId::generate(), words: words.clone(), created_at: self.clock.now() };
        self.db
            .execute(
                "INSERT INTO canned_replies (id, organization_id, title, body, created_at) VALUES ($1, $2, $3, $4, $5)",
                args([
                    reply.id.to_string().into(),
                    org.to_string().into(),
                    words.title.as_str().into(),
                    words.text.as_str().into(),
                    reply.created_at.into(),
                ]),
            )
            .await?;
        Ok(reply)
    }

    /// Every canned reply of the organization, by title.
    pub async fn canned_replies(&self, org: OrganizationId) -> Result<Vec<CannedReply>, StoreError> {
        let rows = self
            .db
            .fetch_all(
                "SELECT * FROM canned_replies WHERE organization_id = $1 ORDER BY title LIMIT 500",
                args([org.to_string().into()]),
            )
            .await?;
        rows.iter().map(canned_from_row).collect()
    }

    pub async fn delete_canned_reply(&self, org: OrganizationId, id: CannedReplyId) -> Result<(), StoreError> {
        let deleted = self
            .db
            .execute(
                "DELETE FROM canned_replies WHERE organization_id = $1 AND id = $2",
                args([org.to_string().into(), id.to_string().into()]),
            )
            .await?;
        if deleted == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
