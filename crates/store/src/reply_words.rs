//! An organization's own reply words, added to the standard ones
//! (`ReplyWords::standard`): "vale" for confirm, say. Checked in the domain
//! when written (never a keyword, never another answer's word), kept one
//! answer a column, one word a line.

use rapport_domain::{Answer, OrganizationId, ReplyWords};

use super::db::args;
use super::{Store, StoreError};

/// The words an organization added, per answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnReplyWords {
    pub confirm: Vec<String>,
    pub cancel: Vec<String>,
    pub reschedule: Vec<String>,
}

impl OwnReplyWords {
    pub fn of(&self, answer: Answer) -> &[String] {
        match answer {
            Answer::Confirm => &self.confirm,
            Answer::Cancel => &self.cancel,
            Answer::Reschedule => &self.reschedule,
        }
    }

    /// The standard words with these; `(answer, index, why)` for the first refused.
    pub fn words(&self) -> Result<ReplyWords, (Answer, usize, rapport_domain::answer::ReplyWordsError)> {
        let mut words = ReplyWords::standard();
        for answer in Answer::ALL {
            words = words.with(answer, self.of(answer)).map_err(|(i, why)| (answer, i, why))?;
        }
        Ok(words)
    }
}

impl Store {
    /// The organization's own words (none until written).
    pub async fn own_reply_words(&self, org: OrganizationId) -> Result<OwnReplyWords, StoreError> {
        let row = self
            .db
            .fetch_optional("SELECT * FROM reply_words WHERE organization_id = $1", args([org.to_string().into()]))
            .await?;
        let Some(row) = row else { return Ok(OwnReplyWords::default()) };
        let lines = |column: &str| -> Result<Vec<String>, StoreError> {
            Ok(row.text(column)?.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect())
        };
        Ok(OwnReplyWords { confirm: lines("confirm")?, cancel: lines("cancel")?, reschedule: lines("reschedule")? })
    }

    /// The words the organization's texts are read with.
    pub async fn reply_words(&self, org: OrganizationId) -> Result<ReplyWords, StoreError> {
        self.own_reply_words(org).await?.words().map_err(|_| StoreError::Corrupt("bad reply words"))
    }

    /// Replaces the organization's own words (checked by the caller with `OwnReplyWords::words`).
    pub async fn set_reply_words(&self, org: OrganizationId, own: &OwnReplyWords) -> Result<(), StoreError> {
        self.db
            .execute(
                "INSERT INTO reply_words (organization_id, confirm, cancel, reschedule, updated_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (organization_id) DO UPDATE SET confirm = excluded.confirm, cancel = excluded.cancel,
                     reschedule = excluded.reschedule, updated_at = excluded.updated_at",
                args([
                    org.to_string().into(),
                    own.confirm.join("\n").into(),
                    own.cancel.join("\n").into(),
                    own.reschedule.join("\n").into(),
                    self.clock.now().into(),
                ]),
            )
            .await
            .map(drop)
    }
}
