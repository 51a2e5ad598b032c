//! Storage: the Store API over SQLite or PostgreSQL, with the same behaviour
//! on both. Every function is scoped by organization; a row of another tenant
//! is "not found", never visible.

mod after_hours;
mod answers;
mod appointments;
mod audit;
mod canned_replies;
pub mod clock;
mod code_mappings;
mod codec;
mod communications;
mod composing;
mod consents;
mod conversation_thread;
mod conversations;
pub mod db;
mod delivery;
mod dispatch;
mod error;
mod fhir_exports;
mod fhir_records;
mod gauges;
mod hl7_log;
mod inbound;
mod inbox_events;
mod job_kinds;
mod jobs;
mod messages;
mod metrics;
pub mod migrate;
mod organizations;
mod pacing;
mod patient_merge;
mod patient_names;
mod patient_search;
mod patients;
mod push;
mod recalls;
mod registry_batch;
mod reminder_rules;
mod reminders;
mod reply_words;
mod schedules;
mod sessions;
mod smart_clients;
mod staff;
mod tasks;
mod teams;
mod templates;
mod text_media;
mod throttle;
mod tokens;
mod versioned;
mod waitlist;
mod write_backs;

pub use answers::{Answered, NewAnswer, VisitAnswer, WriteBack};
pub use appointments::{AppointmentQuery, AppointmentUpsert};
pub use audit::{AuditQuery, ChainReport};
pub use canned_replies::CannedReply;
pub use code_mappings::{CodeKind, CodeMapping};
pub use communications::Said;
pub use composing::ComposeFacts;
pub use conversation_thread::{ConversationNote, THREAD_LIMIT};
pub use conversations::{
    AssignedFilter, Conversation, ConversationChange, ConversationQuery, ConversationStatus, Joining, TeamFilter,
};
pub use db::{Backend, Db, DbOptions, Tx};
pub use delivery::{DeliveryReport, ReportOutcome, Settle};
pub use dispatch::{DispatchFacts, Progress};
pub use error::StoreError;
pub use fhir_exports::{ExportStatus, FhirExport};
pub use fhir_records::{FhirRecord, FhirRecordQuery};
pub use gauges::DeliveryGauges;
pub use hl7_log::{Hl7Entry, Hl7Status};
pub use inbound::{InboundText, Media, ReceivedText, TextOutcome};
pub use inbox_events::{InboxEvent, InboxEventKind, InboxSubscription};
pub use job_kinds::{BadPayload, JobKind, JobWork};
pub use jobs::{Job, JobResult, JobState, NewJob};
pub use messages::{MessageQuery, OutboxEntry};
pub use metrics::DayMetrics;
pub use pacing::SendRules;
pub use patient_names::PatientName;
pub use patient_search::PatientQuery;
pub use patients::PatientUpsert;
pub use push::PushSubscription;
pub use registry_batch::Mapped;
pub use reminder_rules::NewReminderRule;
pub use reminders::ReminderSync;
pub use reply_words::OwnReplyWords;
pub use schedules::ScheduleQuery;
pub use sessions::NewSession;
pub use smart_clients::{SmartClient, smart_token_name};
pub use staff::{Credentials, NewStaffUser};
pub use tasks::{NewTask, StaffTask, TaskKind, TaskQuery};
pub use teams::Team;
pub use text_media::FetchedMedia;
pub use throttle::ThrottleRule;
pub use tokens::NewApiToken;
pub use waitlist::{DueOffer, EntryState, LockedOffer, OfferOutcome, OfferSent, OfferTaken, SlotOffer, WaitlistEntry};

use std::collections::{HashMap, HashSet};

use rapport_domain::OrganizationId;

use crate::clock::Clock;

/// The application's handle on its database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    clock: Clock,
    events: std::sync::Arc<inbox_events::InboxEvents>,
}

/// One page of a list, and the cursor of the next page if there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// What a bulk upsert did with one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpsertOutcome<Id> {
    Created(Id),
    Updated(Id),
}

/// Where a page starts and how long it is. The cursor is the last id seen:
/// it carries no patient data, so it is safe in URLs and logs.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub after: Option<String>,
    pub limit: usize,
}

impl PageRequest {
    pub const MAX_LIMIT: usize = 200;

    pub fn first(limit: usize) -> Self {
        Self { after: None, limit }
    }

    fn limit(&self) -> usize {
        self.limit.clamp(1, Self::MAX_LIMIT)
    }
}

impl Store {
    /// Opens the database at `url` and brings its schema up to date.
    pub async fn open(url: &str, options: &DbOptions, clock: Clock) -> Result<Self, StoreError> {
        let db = Db::connect(url, options).await?;
        migrate::run(&db).await?;
        Ok(Self { db, clock, events: std::sync::Arc::default() })
    }

    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    /// A transaction for a flow the engine composes from the store's `…_in`
    /// steps; it rolls back unless committed.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        self.db.begin().await
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// True when the database answers.
    pub async fn ping(&self) -> bool {
        self.db.fetch_optional("SELECT 1 AS one", vec![]).await.is_ok()
    }

    pub async fn close(&self) {
        self.db.close().await;
    }

    /// A consistent copy of the embedded database at `path` (SQLite only).
    pub async fn snapshot_into(&self, path: &str) -> Result<(), StoreError> {
        self.db.snapshot_into(path).await
    }

    /// Refreshes the query planner's statistics after a bulk change (an
    /// import); see [`Db::refresh_statistics`].
    pub async fn refresh_statistics(&self) -> Result<(), StoreError> {
        self.db.refresh_statistics().await
    }
}

/// Which of `ids` name rows of `table` in `org` (with an extra filter).
async fn ids_in(
    tx: &mut db::Tx,
    table: &'static str,
    filter: &'static str,
    org: OrganizationId,
    ids: &[String],
) -> Result<HashSet<String>, StoreError> {
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let select = format!("SELECT id FROM {table} WHERE organization_id = $1 {filter}");
    let rows = tx.fetch_where_in(&select, "id", vec![org.to_string().into()], &ids).await?;
    rows.iter().map(|row| row.text("id")).collect()
}

/// External ids grouped by system, for one batch lookup per system.
fn values_by_system<'a>(keys: impl Iterator<Item = &'a rapport_domain::ExternalId>) -> HashMap<&'a str, Vec<&'a str>> {
    let mut by_system: HashMap<&str, Vec<&str>> = HashMap::new();
    for key in keys {
        by_system.entry(key.system.as_str()).or_default().push(key.value.as_str());
    }
    by_system
}

/// Cuts `rows` (fetched with `limit + 1`) to a page, with the next cursor.
fn paginate<T>(mut items: Vec<T>, limit: usize, id_of: impl Fn(&T) -> String) -> Page<T> {
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(id_of)
    } else {
        None
    };
    Page { items, next_cursor }
}

/// Server-level operations for tooling and tests: creating and dropping
/// whole PostgreSQL databases. Not used by the application itself.
pub struct Admin(sqlx::PgPool);

impl Store {
    /// Connects to a PostgreSQL server's maintenance database.
    pub async fn open_admin(url: &str) -> Result<Admin, StoreError> {
        let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(url).await?;
        Ok(Admin(pool))
    }
}

impl Admin {
    /// `name` must be a plain identifier (letters, digits, underscore).
    pub async fn create_database(&self, name: &str) -> Result<(), StoreError> {
        Self::check_name(name)?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&self.0).await?;
        Ok(())
    }

    /// `VACUUM ANALYZE` of the connected database, as autovacuum does after
    /// a bulk load (benchmarks use it to measure the steady state).
    pub async fn vacuum(&self) -> Result<(), StoreError> {
        sqlx::raw_sql("VACUUM ANALYZE").execute(&self.0).await?;
        Ok(())
    }

    pub async fn drop_database(&self, name: &str) -> Result<(), StoreError> {
        Self::check_name(name)?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
            .execute(&self.0)
            .await?;
        Ok(())
    }

    fn check_name(name: &str) -> Result<(), StoreError> {
        if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            Ok(())
        } else {
            Err(StoreError::Corrupt("database name must be a plain identifier"))
        }
    }

    pub async fn close(&self) {
        self.0.close().await;
    }
}
