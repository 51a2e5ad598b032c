//! The inbox's JSON: a conversation, its thread (texts in, messages out,
//! staff's notes, oldest first), and what staff send to it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::messages::MessageView;
use super::timeline::TextView;
use rapport_store::{Conversation, ConversationNote};

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationView {
    pub id: String,
    /// Null while unmatched (an unknown number, or one several patients share).
    pub patient_id: Option<String>,
    /// The number that last wrote: replies go to it.
    pub number: String,
    /// open or closed.
    pub status: String,
    pub assigned_to: Option<String>,
    pub team_id: Option<String>,
    /// Set when a text read as "stop texting me": a person should decide
    /// whether it revokes consent. Cleared on closing.
    pub possible_revocation_at: Option<String>,
    pub last_text_at: Option<String>,
    pub last_activity_at: String,
    /// Texts the signed-in staff member has not read (null for API tokens).
    pub unread: Option<i64>,
    pub version: i64,
}

impl From<&Conversation> for ConversationView {
    fn from(c: &Conversation) -> Self {
        Self {
            id: c.id.to_string(),
            patient_id: c.patient_id.map(|p| p.to_string()),
            number: c.number.clone(),
            status: c.status.as_str().into(),
            assigned_to: c.assigned_to.map(|u| u.to_string()),
            team_id: c.team_id.map(|t| t.to_string()),
            possible_revocation_at: c.revocation_flag_at.map(|t| t.to_string()),
            last_text_at: c.last_text_at.map(|t| t.to_string()),
            last_activity_at: c.last_activity_at.to_string(),
            unread: c.unread,
            version: c.version,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NoteView {
    pub id: String,
    pub author_id: String,
    pub body: String,
    pub created_at: String,
}

impl From<&ConversationNote> for NoteView {
    fn from(n: &ConversationNote) -> Self {
        Self {
            id: n.id.to_string(),
            author_id: n.author_id.to_string(),
            body: n.body.clone(),
            created_at: n.created_at.to_string(),
        }
    }
}

/// One entry of a thread: exactly one of `text`, `message`, `note` is set.
#[derive(Debug, Serialize, ToSchema)]
pub struct ThreadEntry {
    pub at: String,
    /// text (from the patient), message (to the patient, any channel) or note (staff only).
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<TextView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<MessageView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<NoteView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ThreadView {
    pub conversation: ConversationView,
    /// While unmatched: the patients whose phone is this number, for staff
    /// to pick from (empty for an unknown number, or once linked).
    pub candidates: Vec<String>,
    /// Oldest first: the newest 200 of each kind.
    pub entries: Vec<ThreadEntry>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignInput {
    /// A staff member of the organization; null to unassign.
    pub user_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamAssignInput {
    /// A team of the organization; null for none.
    pub team_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkInput {
    pub patient_id: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteInput {
    /// 1 to 4,000 characters; patients never see it.
    pub body: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyInput {
    /// 1 to 1,600 characters, sent by text to the number that wrote.
    pub body: String,
    /// Not before (RFC 3339): send later. Default now; the patient's
    /// sending hours still apply (a reply at night waits for the morning).
    pub send_at: Option<String>,
    /// The client's key for this reply (a retried request sends it once);
    /// default a fresh one.
    pub key: Option<String>,
}
