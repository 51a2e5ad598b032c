//! What a conversation holds besides the patient's messages: the texts
//! that joined it and staff's notes (which patients never see), and
//! linking an unmatched conversation to its patient, which moves all of it
//! into the patient's own conversation if they have one.

use jiff::Timestamp;
use rapport_domain::{ConversationId, ConversationNoteId, MessageId, OrganizationId, PatientId, StaffUserId};

use super::conversations::{Conversation, ConversationStatus};
use super::db::{Row, Tx, args};
use super::inbound::{ReceivedText, text_from_row};
use super::{Store, StoreError};

/// How many of each kind a thread shows (the newest).
pub const THREAD_LIMIT: i64 = 200;

#[derive(Debug, Clone, PartialEq)]
pub struct ConversationNote {
    pub id: ConversationNoteId,
    pub author_id: StaffUserId,
    pub body: String,
    pub created_at: Timestamp,
}

fn note_from_row(r: &Row) -> Result<ConversationNote, StoreError> {
    Ok(ConversationNote {
        id: r.parsed("id")?,
        author_id: r.parsed("author_id")?,
        body: r.text("body")?,
        created_at: r.timestamp("created_at")?,
    })
}

impl Store {
    /// The conversation a message belongs in (its patient's), if there is one.
    pub async fn conversation_of_message(
        &self,
        org: OrganizationId,
        message: MessageId,
    ) -> Result<Option<ConversationId>, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT c.id FROM messages m
                 JOIN conversations c ON c.organization_id = m.organization_id AND c.patient_id = m.patient_id
                 WHERE m.organization_id = $1 AND m.id = $2",
                args([org.to_string().into(), message.to_string().into()]),
            )
            .await?;
        row.map(|r| r.parsed("id")).transpose()
    }

    /// The conversation's texts, newest first.
    pub async fn conversation_texts(
        &self,
        org: OrganizationId,
        id: ConversationId,
    ) -> Result<Vec<ReceivedText>, StoreError> {
        let rows = self
            .db
            .fetch_all(
                "SELECT * FROM inbound_texts WHERE organization_id = $1 AND conversation_id = $2
                 ORDER BY received_at DESC, id DESC LIMIT $3",
                args([org.to_string().into(), id.to_string().into(), THREAD_LIMIT.into()]),
            )
            .await?;
        rows.iter().map(text_from_row).collect()
    }

    /// The conversation's notes, newest first.
    pub async fn conversation_notes(
        &self,
        org: OrganizationId,
        id: ConversationId,
    ) -> Result<Vec<ConversationNote>, StoreError> {
        let rows = self
            .db
            .fetch_all(
                "SELECT * FROM conversation_notes WHERE organization_id = $1 AND conversation_id = $2
                 ORDER BY created_at DESC, id DESC LIMIT $3",
                args([org.to_string().into(), id.to_string().into(), THREAD_LIMIT.into()]),
            )
            .await?;
        rows.iter().map(note_from_row).collect()
    }

    /// Adds a note by `author` (a staff member of the organization).
    pub async fn add_conversation_note(
        &self,
        org: OrganizationId,
        id: ConversationId,
        author: StaffUserId,
        body: &str,
    ) -> Result<ConversationNote, StoreError> {
        let note = ConversationNote {
            id: ConversationNoteId::generate(),
            author_id: author,
            body: body.to_owned(),
            created_at: self.clock.now(),
        };
        let mut tx = self.db.begin().await?;
        self.conversation_version_in(&mut tx, org, id, None).await?;
        tx.execute(
            "INSERT INTO conversation_notes (id, organization_id, conversation_id, author_id, body, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            args([
                note.id.to_string().into(),
                org.to_string().into(),
                id.to_string().into(),
                author.to_string().into(),
                body.into(),
                note.created_at.into(),
            ]),
        )
        .await?;
        tx.execute(
            "UPDATE conversations SET last_activity_at = $3, version = version + 1
             WHERE organization_id = $1 AND id = $2",
            args([org.to_string().into(), id.to_string().into(), note.created_at.into()]),
        )
        .await?;
        tx.commit().await?;
        Ok(note)
    }

    /// Links an unmatched conversation to `patient`: its texts become the
    /// patient's. When the patient already has a conversation, everything
    /// moves there and this one is gone; the one that remains is returned.
    pub async fn link_conversation(
        &self,
        org: OrganizationId,
        id: ConversationId,
        patient: PatientId,
        expected: Option<i64>,
    ) -> Result<Conversation, StoreError> {
        let mut tx = self.db.begin().await?;
        self.conversation_version_in(&mut tx, org, id, expected).await?;
        let this = tx
            .fetch_optional(
                "SELECT * FROM conversations WHERE organization_id = $1 AND id = $2",
                args([org.to_string().into(), id.to_string().into()]),
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        if this.opt_text("patient_id")?.is_some() {
            return Err(StoreError::Invalid {
                field: "patient_id".into(),
                reason: "cannot change: the conversation is already linked to a patient".into(),
            });
        }
        let live = tx
            .fetch_optional(
                "SELECT id FROM patients WHERE organization_id = $1 AND id = $2 AND deleted_at IS NULL",
                args([org.to_string().into(), patient.to_string().into()]),
            )
            .await?;
        if live.is_none() {
            return Err(StoreError::UnknownReference { field: "patient_id".into() });
        }
        let theirs = tx
            .fetch_optional(
                "SELECT id FROM conversations WHERE organization_id = $1 AND patient_id = $2",
                args([org.to_string().into(), patient.to_string().into()]),
            )
            .await?;
        let now = self.clock.now();
        let survivor: ConversationId = match theirs {
            None => {
                tx.execute(
                    "UPDATE conversations SET patient_id = $3, last_activity_at = $4, version = version + 1
                     WHERE organization_id = $1 AND id = $2",
                    args([org.to_string().into(), id.to_string().into(), patient.to_string().into(), now.into()]),
                )
                .await?;
                id
            }
            Some(row) => {
                let into: ConversationId = row.parsed("id")?;
                self.fold_conversation_in(&mut tx, org, &this, into).await?;
                into
            }
        };
        tx.execute(
            "UPDATE inbound_texts SET patient_id = $3
             WHERE organization_id = $1 AND conversation_id = $2 AND patient_id IS NULL",
            args([org.to_string().into(), survivor.to_string().into(), patient.to_string().into()]),
        )
        .await?;
        tx.commit().await?;
        self.conversation(org, survivor, None).await
    }

    /// Moves everything of conversation `from` (a row of it) into `into`
    /// and deletes it: texts, notes, an open status, a possible-revocation
    /// flag and its number if it wrote last carry over; who read it does not.
    pub(super) async fn fold_conversation_in(
        &self,
        tx: &mut Tx,
        org: OrganizationId,
        from: &Row,
        into: ConversationId,
    ) -> Result<(), StoreError> {
        let id: ConversationId = from.parsed("id")?;
        let now = self.clock.now();
        let moves = args([org.to_string().into(), id.to_string().into(), into.to_string().into()]);
        tx.execute(
            "UPDATE inbound_texts SET conversation_id = $3 WHERE organization_id = $1 AND conversation_id = $2",
            moves.clone(),
        )
        .await?;
        tx.execute(
            "UPDATE conversation_notes SET conversation_id = $3
             WHERE organization_id = $1 AND conversation_id = $2",
            moves,
        )
        .await?;
        tx.execute("DELETE FROM conversation_reads WHERE conversation_id = $1", args([id.to_string().into()])).await?;
        let open = from.parsed::<ConversationStatus>("status")? == ConversationStatus::Open;
        tx.execute(
            "UPDATE conversations SET last_activity_at = $4, version = version + 1,
                 number = CASE WHEN last_text_at IS NULL OR last_text_at < $7 THEN $3 ELSE number END,
                 status = CASE WHEN $5 = 1 THEN 'open' ELSE status END,
                 revocation_flag_at = COALESCE(revocation_flag_at, $6),
                 last_text_at = CASE WHEN last_text_at IS NULL OR last_text_at < $7 THEN $7 ELSE last_text_at END
             WHERE organization_id = $1 AND id = $2",
            args([
                org.to_string().into(),
                into.to_string().into(),
                from.text("number")?.into(),
                now.into(),
                i64::from(open).into(),
                from.opt_int("revocation_flag_at")?.into(),
                from.opt_int("last_text_at")?.into(),
            ]),
        )
        .await?;
        tx.execute(
            "DELETE FROM conversations WHERE organization_id = $1 AND id = $2",
            args([org.to_string().into(), id.to_string().into()]),
        )
        .await
        .map(drop)
    }

    /// On a patient merge: the merged record's conversation becomes the
    /// survivor's, or folds into it.
    pub(super) async fn merge_conversations_in(
        &self,
        tx: &mut Tx,
        org: OrganizationId,
        survivor: PatientId,
        merged: PatientId,
    ) -> Result<(), StoreError> {
        let of = |patient: PatientId| args([org.to_string().into(), patient.to_string().into()]);
        let sql = "SELECT * FROM conversations WHERE organization_id = $1 AND patient_id = $2";
        let Some(theirs) = tx.fetch_optional(sql, of(merged)).await? else { return Ok(()) };
        match tx.fetch_optional(sql, of(survivor)).await? {
            Some(ours) => self.fold_conversation_in(tx, org, &theirs, ours.parsed("id")?).await,
            None => tx
                .execute(
                    "UPDATE conversations SET patient_id = $3, version = version + 1
                     WHERE organization_id = $1 AND patient_id = $2",
                    args([org.to_string().into(), merged.to_string().into(), survivor.to_string().into()]),
                )
                .await
                .map(drop),
        }
    }
}
