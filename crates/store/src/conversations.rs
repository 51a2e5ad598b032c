//! The shared inbox's conversations: one per patient across channels, or
//! one per number Rapport cannot attribute (unknown, or shared by several
//! patients) until staff link it to a patient. Every text joins its
//! conversation when it is settled, in the same transaction; a text staff
//! must read (or that reads as "stop texting me") opens it. Staff assign,
//! close and reopen it, under its version.

use std::str::FromStr;

use jiff::Timestamp;
use rapport_domain::contact::UnknownWord;
use rapport_domain::{ConversationId, InboundTextId, OrganizationId, PatientId, StaffUserId, TeamId};

use super::db::{Arg, Row, Tx, args, micros};
use super::patient_search::Prefix;
use super::staff::is_live_staff_in;
use super::{Page, PageRequest, Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationStatus {
    Open,
    Closed,
}

impl ConversationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationStatus::Open => "open",
            ConversationStatus::Closed => "closed",
        }
    }
}

impl FromStr for ConversationStatus {
    type Err = UnknownWord;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "open" => Ok(ConversationStatus::Open),
            "closed" => Ok(ConversationStatus::Closed),
            _ => Err(UnknownWord("open or closed")),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    pub id: ConversationId,
    /// `None` while unmatched.
    pub patient_id: Option<PatientId>,
    /// The number that last wrote: replies go to it.
    pub number: String,
    pub status: ConversationStatus,
    pub assigned_to: Option<StaffUserId>,
    pub team_id: Option<TeamId>,
    /// When a text read as "stop texting me"; cleared on closing.
    pub revocation_flag_at: Option<Timestamp>,
    pub last_text_at: Option<Timestamp>,
    pub last_activity_at: Timestamp,
    pub created_at: Timestamp,
    pub version: i64,
    /// Texts the viewer has not read (`None` without a staff viewer).
    pub unread: Option<i64>,
}

fn conversation_from_row(r: &Row) -> Result<Conversation, StoreError> {
    Ok(Conversation {
        id: r.parsed("id")?,
        patient_id: r.opt_parsed("patient_id")?,
        number: r.text("number")?,
        status: r.parsed("status")?,
        assigned_to: r.opt_parsed("assigned_to")?,
        team_id: r.opt_parsed("team_id")?,
        revocation_flag_at: r.opt_int("revocation_flag_at")?.map(super::db::from_micros).transpose()?,
        last_text_at: r.opt_int("last_text_at")?.map(super::db::from_micros).transpose()?,
        last_activity_at: r.timestamp("last_activity_at")?,
        created_at: r.timestamp("created_at")?,
        version: r.int("version")?,
        unread: r.opt_int("unread")?,
    })
}

/// Who a listed conversation is assigned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignedFilter {
    To(StaffUserId),
    Nobody,
}

/// Which team a listed conversation is assigned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamFilter {
    Is(TeamId),
    /// Any team this staff member belongs to.
    Of(StaffUserId),
}

/// Which conversations to list (all of them by default), most recent activity first.
#[derive(Debug, Clone, Default)]
pub struct ConversationQuery {
    pub status: Option<ConversationStatus>,
    pub assigned: Option<AssignedFilter>,
    pub team: Option<TeamFilter>,
    /// Words that must each match: a name the linked patient's starts
    /// with, digits of the number, or words of a text, message or note.
    pub search: Option<String>,
    /// Only those no patient is linked to.
    pub unmatched: bool,
    pub patient: Option<PatientId>,
    /// Only those flagged as a possible revocation.
    pub flagged: bool,
}

/// What staff do to a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationChange {
    Assign(Option<StaffUserId>),
    AssignTeam(Option<TeamId>),
    Close,
    Reopen,
}

/// How a settled text joins its conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Joining<'a> {
    pub text: InboundTextId,
    pub from: &'a str,
    pub patient: Option<PatientId>,
    /// Staff must read it: the conversation opens.
    pub opens: bool,
    /// It reads as a revocation: flagged for a person, and open.
    pub revocation: bool,
}

/// The unread count for `viewer` ($2; '' for none), as a column.
const UNREAD: &str = "(SELECT COUNT(*) FROM inbound_texts t WHERE t.conversation_id = c.id AND t.received_at >
        COALESCE((SELECT r.read_at FROM conversation_reads r WHERE r.conversation_id = c.id AND r.staff_id = $2), 0))
    AS unread";

impl Store {
    /// Puts a settled text in its patient's (or its number's) conversation,
    /// creating that if it is the first.
    pub async fn join_conversation_in(
        &self,
        tx: &mut Tx,
        org: OrganizationId,
        joining: Joining<'_>,
    ) -> Result<ConversationId, StoreError> {
        let now = self.clock.now();
        let existing = match joining.patient {
            Some(patient) => {
                tx.fetch_optional(
                    "SELECT id FROM conversations WHERE organization_id = $1 AND patient_id = $2",
                    args([org.to_string().into(), patient.to_string().into()]),
                )
                .await?
            }
            None => {
                tx.fetch_optional(
                    "SELECT id FROM conversations WHERE organization_id = $1 AND patient_id IS NULL AND number = $2",
                    args([org.to_string().into(), joining.from.into()]),
                )
                .await?
            }
        };
        let opens = joining.opens || joining.revocation;
        let id = match existing {
            Some(row) => {
                let id: ConversationId = row.parsed("id")?;
                tx.execute(
                    "UPDATE conversations SET number = $3, last_text_at = $4, last_activity_at = $4,
                         status = CASE WHEN $5 = 1 THEN 'open' ELSE status END,
                         revocation_flag_at = CASE WHEN $6 = 1 THEN $4 ELSE revocation_flag_at END,
                         version = version + 1
                     WHERE organization_id = $1 AND id = $2",
                    args([
                        org.to_string().into(),
                        id.to_string().into(),
                        joining.from.into(),
                        now.into(),
                        i64::from(opens).into(),
                        i64::from(joining.revocation).into(),
                    ]),
                )
                .await?;
                id
            }
            None => {
                let id = ConversationId::generate();
                let status = if opens { ConversationStatus::Open } else { ConversationStatus::Closed };
                tx.execute(
                    "INSERT INTO conversations (id, organization_id, patient_id, number, status, revocation_flag_at,
                         last_text_at, last_activity_at, created_at, version)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $7, 1)",
                    args([
                        id.to_string().into(),
                        org.to_string().into(),
                        joining.patient.map(|p| p.to_string()).into(),
                        joining.from.into(),
                        status.as_str().into(),
                        joining.revocation.then(|| micros(now)).into(),
                        now.into(),
                    ]),
                )
                .await?;
                id
            }
        };
        tx.execute(
            "UPDATE inbound_texts SET conversation_id = $3 WHERE organization_id = $1 AND id = $2",
            args([org.to_string().into(), joining.text.to_string().into(), id.to_string().into()]),
        )
        .await?;
        Ok(id)
    }

    /// Conversations, most recent activity first; `viewer`'s unread counts.
    pub async fn conversations(
        &self,
        org: OrganizationId,
        query: &ConversationQuery,
        viewer: Option<StaffUserId>,
        page: &PageRequest,
    ) -> Result<Page<Conversation>, StoreError> {
        let mut sql = format!("SELECT c.*, {UNREAD} FROM conversations c WHERE c.organization_id = $1");
        let mut values: Vec<Arg> =
            vec![org.to_string().into(), viewer.map(|v| v.to_string()).unwrap_or_default().into()];
        let mut filter = |clause: &str, value: Option<Arg>| {
            match value {
                Some(value) => {
                    values.push(value);
                    sql.push_str(&format!(" AND {clause} ${}", values.len()));
                }
                None => sql.push_str(&format!(" AND {clause}")),
            };
        };
        if let Some(status) = query.status {
            filter("c.status =", Some(status.as_str().into()));
        }
        match query.assigned {
            Some(AssignedFilter::To(user)) => filter("c.assigned_to =", Some(user.to_string().into())),
            Some(AssignedFilter::Nobody) => filter("c.assigned_to IS NULL", None),
            None => {}
        }
        if query.unmatched {
            filter("c.patient_id IS NULL", None);
        }
        if let Some(patient) = query.patient {
            filter("c.patient_id =", Some(patient.to_string().into()));
        }
        if query.flagged {
            filter("c.revocation_flag_at IS NOT NULL", None);
        }
        match query.team {
            Some(TeamFilter::Is(team)) => filter("c.team_id =", Some(team.to_string().into())),
            Some(TeamFilter::Of(user)) => {
                filter(
                    "c.team_id IN (SELECT team_id FROM team_members WHERE staff_id =",
                    Some(user.to_string().into()),
                );
                sql.push(')');
            }
            None => {}
        }
        for word in query.search.iter().flat_map(|q| q.split_whitespace()) {
            let clause = search_clause(word, &mut values);
            sql.push_str(&format!(" AND {clause}"));
        }
        if let Some(after) = &page.after {
            let (at, id) = parse_cursor(after)?;
            values.push(at.into());
            values.push(id.into());
            let (a, i) = (values.len() - 1, values.len());
            sql.push_str(&format!(" AND (c.last_activity_at < ${a} OR (c.last_activity_at = ${a} AND c.id < ${i}))"));
        }
        values.push(((page.limit() + 1) as i64).into());
        sql.push_str(&format!(" ORDER BY c.last_activity_at DESC, c.id DESC LIMIT ${}", values.len()));
        let rows = self.db.fetch_all(sqlx::AssertSqlSafe(sql), values).await?;
        let mut items = rows.iter().map(conversation_from_row).collect::<Result<Vec<_>, _>>()?;
        if viewer.is_none() {
            items.iter_mut().for_each(|c| c.unread = None);
        }
        let limit = page.limit();
        let next_cursor = (items.len() > limit).then(|| {
            items.truncate(limit);
            items.last().map(|c| format!("{}.{}", micros(c.last_activity_at), c.id))
        });
        Ok(Page { items, next_cursor: next_cursor.flatten() })
    }

    pub async fn conversation(
        &self,
        org: OrganizationId,
        id: ConversationId,
        viewer: Option<StaffUserId>,
    ) -> Result<Conversation, StoreError> {
        let row = self
            .db
            .fetch_optional(
                sqlx::AssertSqlSafe(format!(
                    "SELECT c.*, {UNREAD} FROM conversations c WHERE c.organization_id = $1 AND c.id = $3"
                )),
                args([
                    org.to_string().into(),
                    viewer.map(|v| v.to_string()).unwrap_or_default().into(),
                    id.to_string().into(),
                ]),
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        let mut conversation = conversation_from_row(&row)?;
        if viewer.is_none() {
            conversation.unread = None;
        }
        Ok(conversation)
    }

    /// Assigns, closes or reopens a conversation; `expected` is the version
    /// the caller saw (`None`: whatever it is now).
    pub async fn change_conversation(
        &self,
        org: OrganizationId,
        id: ConversationId,
        expected: Option<i64>,
        change: ConversationChange,
    ) -> Result<Conversation, StoreError> {
        let mut tx = self.db.begin().await?;
        let version = self.conversation_version_in(&mut tx, org, id, expected).await?;
        let (set, value): (&str, Arg) = match change {
            ConversationChange::Assign(Some(user)) => {
                if !is_live_staff_in(&mut tx, org, user).await? {
                    return Err(StoreError::UnknownReference { field: "user_id".into() });
                }
                ("assigned_to = $5", user.to_string().into())
            }
            ConversationChange::Assign(None) => ("assigned_to = $5", Option::<String>::None.into()),
            ConversationChange::AssignTeam(Some(team)) => {
                let known = tx
                    .fetch_optional(
                        "SELECT id FROM teams WHERE organization_id = $1 AND id = $2",
                        args([org.to_string().into(), team.to_string().into()]),
                    )
                    .await?;
                if known.is_none() {
                    return Err(StoreError::UnknownReference { field: "team_id".into() });
                }
                ("team_id = $5", team.to_string().into())
            }
            ConversationChange::AssignTeam(None) => ("team_id = $5", Option::<String>::None.into()),
            ConversationChange::Close => ("status = $5, revocation_flag_at = NULL", "closed".into()),
            ConversationChange::Reopen => ("status = $5", "open".into()),
        };
        tx.execute(
            sqlx::AssertSqlSafe(format!(
                "UPDATE conversations SET {set}, last_activity_at = $4, version = version + 1
                 WHERE organization_id = $1 AND id = $2 AND version = $3"
            )),
            vec![org.to_string().into(), id.to_string().into(), version.into(), self.clock.now().into(), value],
        )
        .await?;
        tx.commit().await?;
        self.conversation(org, id, None).await
    }

    /// The conversation's version, locked until `tx` ends, checked against `expected`.
    pub(super) async fn conversation_version_in(
        &self,
        tx: &mut Tx,
        org: OrganizationId,
        id: ConversationId,
        expected: Option<i64>,
    ) -> Result<i64, StoreError> {
        let row = tx
            .fetch_optional(
                sqlx::AssertSqlSafe(format!(
                    "SELECT version FROM conversations WHERE organization_id = $1 AND id = $2 {}",
                    tx.for_update()
                )),
                args([org.to_string().into(), id.to_string().into()]),
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        let actual = row.int("version")?;
        match expected {
            Some(expected) if expected != actual => Err(StoreError::StaleVersion { expected, actual }),
            _ => Ok(actual),
        }
    }

    /// Marks the conversation read by `viewer` up to now.
    pub async fn mark_conversation_read(
        &self,
        org: OrganizationId,
        id: ConversationId,
        viewer: StaffUserId,
    ) -> Result<(), StoreError> {
        let written = self
            .db
            .execute(
                "INSERT INTO conversation_reads (conversation_id, staff_id, read_at)
                 SELECT id, $3, $4 FROM conversations WHERE organization_id = $1 AND id = $2
                 ON CONFLICT (conversation_id, staff_id) DO UPDATE SET read_at = excluded.read_at",
                args([
                    org.to_string().into(),
                    id.to_string().into(),
                    viewer.to_string().into(),
                    self.clock.now().into(),
                ]),
            )
            .await?;
        if written == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Records that staff sent something in the conversation (a reply).
    pub async fn touch_conversation(&self, org: OrganizationId, id: ConversationId) -> Result<(), StoreError> {
        self.db
            .execute(
                "UPDATE conversations SET last_activity_at = $3, version = version + 1
                 WHERE organization_id = $1 AND id = $2",
                args([org.to_string().into(), id.to_string().into(), self.clock.now().into()]),
            )
            .await
            .map(drop)
    }
}

/// One search word's condition on conversation `c`, its values pushed on
/// `values`: the linked patient's family or given name starts with it, the
/// number holds its digits (three or more, the word a phone number's
/// characters only), or a text, message or note of the thread holds it
/// (ASCII letters in any case). The word itself never reaches a log: it
/// is a bound value.
fn search_clause(word: &str, values: &mut Vec<Arg>) -> String {
    let mut bind = |value: Arg| {
        values.push(value);
        format!("${}", values.len())
    };
    let prefix = Prefix::new(word);
    let (lo, hi) = (bind(prefix.low.into()), bind(prefix.high.into()));
    let mut any = vec![format!(
        "EXISTS (SELECT 1 FROM patients p WHERE p.organization_id = c.organization_id AND p.id = c.patient_id
             AND ((p.family_key >= {lo} AND p.family_key < {hi}) OR (p.given_key >= {lo} AND p.given_key < {hi})))"
    )];
    let digits: String = word.chars().filter(char::is_ascii_digit).collect();
    if digits.len() >= 3 && word.chars().all(|c| c.is_ascii_digit() || "+-(). ".contains(c)) {
        let number = bind(format!("%{digits}%").into());
        any.push(format!("c.number LIKE {number}"));
    }
    let escaped: String = word
        .to_lowercase()
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    let like = bind(format!("%{escaped}%").into());
    any.push(format!(
        "EXISTS (SELECT 1 FROM inbound_texts t WHERE t.conversation_id = c.id AND LOWER(t.body) LIKE {like} ESCAPE '\\')"
    ));
    any.push(format!(
        "EXISTS (SELECT 1 FROM conversation_notes n WHERE n.conversation_id = c.id AND LOWER(n.body) LIKE {like} ESCAPE '\\')"
    ));
    any.push(format!(
        "EXISTS (SELECT 1 FROM messages m WHERE m.organization_id = c.organization_id AND m.patient_id = c.patient_id
             AND LOWER(m.body) LIKE {like} ESCAPE '\\')"
    ));
    format!("({})", any.join(" OR "))
}

/// `micros.id`, as the list writes it.
fn parse_cursor(cursor: &str) -> Result<(i64, String), StoreError> {
    let invalid = || StoreError::Invalid { field: "after".into(), reason: "is not a cursor this list gave".into() };
    let (at, id) = cursor.split_once('.').ok_or_else(invalid)?;
    let at: i64 = at.parse().map_err(|_| invalid())?;
    let id: ConversationId = id.parse().map_err(|_| invalid())?;
    Ok((at, id.to_string()))
}
