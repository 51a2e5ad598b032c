//! The inbox's live events: "this conversation changed", fanned out to
//! every open console. On SQLite one process owns the file, so a local
//! broadcast is the whole fan-out. On PostgreSQL several processes may
//! serve one database: an event goes out as `NOTIFY rapport_inbox`, and
//! each process LISTENs (from its first subscriber on) and rebroadcasts
//! what it hears, its own events included, so every console hears every
//! process. An event names ids only, never what was said.

use rapport_domain::{ConversationId, OrganizationId};
use serde::{Deserialize, Serialize};
use tokio::sync::{OnceCell, broadcast, watch};

use super::db::{Db, args};
use super::{Store, StoreError};

const CHANNEL: &str = "rapport_inbox";

/// How many events a slow console may fall behind before it misses some
/// (it is told, and reloads).
const BACKLOG: usize = 1024;

/// What happened in a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InboxEventKind {
    /// A text came in.
    Text,
    /// Staff sent or planned a reply, or a message's state moved.
    Message,
    /// Assigned, closed, reopened, linked, or a note added.
    Changed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxEvent {
    pub organization_id: OrganizationId,
    pub conversation_id: ConversationId,
    pub kind: InboxEventKind,
}

/// An event as a notification carries it.
#[derive(Serialize, Deserialize)]
struct Wire {
    organization_id: String,
    conversation_id: String,
    kind: InboxEventKind,
}

impl InboxEvent {
    fn payload(&self) -> String {
        let wire = Wire {
            organization_id: self.organization_id.to_string(),
            conversation_id: self.conversation_id.to_string(),
            kind: self.kind,
        };
        serde_json::to_string(&wire).expect("an event serializes")
    }

    fn from_payload(payload: &str) -> Option<Self> {
        let wire: Wire = serde_json::from_str(payload).ok()?;
        Some(Self {
            organization_id: wire.organization_id.parse().ok()?,
            conversation_id: wire.conversation_id.parse().ok()?,
            kind: wire.kind,
        })
    }
}

/// The process's end of the fan-out.
#[derive(Debug)]
pub struct InboxEvents {
    local: broadcast::Sender<InboxEvent>,
    listening: OnceCell<()>,
    /// Turns true when the process stops, so open streams end and the
    /// server can drain.
    ending: watch::Sender<bool>,
}

impl Default for InboxEvents {
    fn default() -> Self {
        Self { local: broadcast::channel(BACKLOG).0, listening: OnceCell::new(), ending: watch::channel(false).0 }
    }
}

/// A subscriber's end: the events, and word that the process is stopping.
#[derive(Debug)]
pub struct InboxSubscription {
    pub events: broadcast::Receiver<InboxEvent>,
    pub ending: watch::Receiver<bool>,
}

impl Store {
    /// Tells every console (of every process) that a conversation changed.
    /// Best effort: the change is committed already, and a console that
    /// misses an event still shows it on its next load.
    pub async fn publish(&self, event: InboxEvent) {
        match &self.db {
            Db::Sqlite(_) => {
                // No subscriber is no error: nobody is looking.
                let _ = self.events.local.send(event);
            }
            Db::Postgres(_) => {
                let sent =
                    self.db.execute("SELECT pg_notify($1, $2)", args([CHANNEL.into(), event.payload().into()])).await;
                if let Err(error) = sent {
                    tracing::warn!(conversation = %event.conversation_id, %error, "an inbox event was not announced");
                }
            }
        }
    }

    /// Ends every subscription (the process is stopping): a live stream
    /// would otherwise keep the server from draining.
    pub fn end_subscriptions(&self) {
        self.events.ending.send_replace(true);
    }

    /// Every inbox event from now on, of every organization (the caller
    /// keeps its own).
    pub async fn subscribe(&self) -> Result<InboxSubscription, StoreError> {
        if let Db::Postgres(pool) = &self.db {
            let pool = pool.clone();
            let local = self.events.local.clone();
            self.events
                .listening
                .get_or_try_init(|| async move {
                    let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await?;
                    listener.listen(CHANNEL).await?;
                    tokio::spawn(rebroadcast(listener, pool, local));
                    Ok::<(), StoreError>(())
                })
                .await?;
        }
        Ok(InboxSubscription { events: self.events.local.subscribe(), ending: self.events.ending.subscribe() })
    }
}

/// Hands what PostgreSQL delivers on the channel to this process's
/// subscribers, until the pool closes. The listener reconnects by itself
/// after a lost connection (events sent meanwhile are missed).
async fn rebroadcast(
    mut listener: sqlx::postgres::PgListener,
    pool: sqlx::PgPool,
    local: broadcast::Sender<InboxEvent>,
) {
    while !pool.is_closed() {
        match listener.recv().await {
            Ok(notification) => match InboxEvent::from_payload(notification.payload()) {
                Some(event) => {
                    let _ = local.send(event);
                }
                None => tracing::warn!("ignored a notification on the inbox channel that is not an inbox event"),
            },
            Err(sqlx::Error::PoolClosed) => break,
            Err(error) => {
                tracing::warn!(%error, "the inbox listener lost its connection; reconnecting");
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
        }
    }
}
