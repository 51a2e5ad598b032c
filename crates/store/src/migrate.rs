//! Schema migrations, one list per backend, embedded in the binary and run in
//! order, each in its own transaction. On PostgreSQL an advisory lock makes
//! several processes starting at once apply each migration exactly once.

use jiff::Timestamp;

use super::StoreError;
use super::db::{Backend, Db, args};

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "registry",
        sqlite: include_str!("migrations/sqlite/0001_registry.sql"),
        postgres: include_str!("migrations/postgres/0001_registry.sql"),
    },
    Migration {
        version: 2,
        name: "name_search",
        sqlite: include_str!("migrations/sqlite/0002_name_search.sql"),
        postgres: include_str!("migrations/postgres/0002_name_search.sql"),
    },
    Migration {
        version: 3,
        name: "trust",
        sqlite: include_str!("migrations/sqlite/0003_trust.sql"),
        postgres: include_str!("migrations/postgres/0003_trust.sql"),
    },
    Migration {
        version: 4,
        name: "jobs",
        sqlite: include_str!("migrations/sqlite/0004_jobs.sql"),
        postgres: include_str!("migrations/postgres/0004_jobs.sql"),
    },
    Migration {
        version: 5,
        name: "messages",
        sqlite: include_str!("migrations/sqlite/0005_messages.sql"),
        postgres: include_str!("migrations/postgres/0005_messages.sql"),
    },
    Migration {
        version: 6,
        name: "delivery",
        sqlite: include_str!("migrations/sqlite/0006_delivery.sql"),
        postgres: include_str!("migrations/postgres/0006_delivery.sql"),
    },
    Migration {
        version: 7,
        name: "templates",
        sqlite: include_str!("migrations/sqlite/0007_templates.sql"),
        postgres: include_str!("migrations/postgres/0007_templates.sql"),
    },
    Migration {
        version: 8,
        name: "pacing",
        sqlite: include_str!("migrations/sqlite/0008_pacing.sql"),
        postgres: include_str!("migrations/postgres/0008_pacing.sql"),
    },
    Migration {
        version: 9,
        name: "media",
        sqlite: include_str!("migrations/sqlite/0009_media.sql"),
        postgres: include_str!("migrations/postgres/0009_media.sql"),
    },
    Migration {
        version: 10,
        name: "push",
        sqlite: include_str!("migrations/sqlite/0010_push.sql"),
        postgres: include_str!("migrations/postgres/0010_push.sql"),
    },
    Migration {
        version: 11,
        name: "sending_window",
        sqlite: include_str!("migrations/sqlite/0011_sending_window.sql"),
        postgres: include_str!("migrations/postgres/0011_sending_window.sql"),
    },
    Migration {
        version: 12,
        name: "voice_text",
        sqlite: include_str!("migrations/sqlite/0012_voice_text.sql"),
        postgres: include_str!("migrations/postgres/0012_voice_text.sql"),
    },
    Migration {
        version: 13,
        name: "reminder_rules",
        sqlite: include_str!("migrations/sqlite/0013_reminder_rules.sql"),
        postgres: include_str!("migrations/postgres/0013_reminder_rules.sql"),
    },
    Migration {
        version: 14,
        name: "answers",
        sqlite: include_str!("migrations/sqlite/0014_answers.sql"),
        postgres: include_str!("migrations/postgres/0014_answers.sql"),
    },
    Migration {
        version: 15,
        name: "recall",
        sqlite: include_str!("migrations/sqlite/0015_recall.sql"),
        postgres: include_str!("migrations/postgres/0015_recall.sql"),
    },
    Migration {
        version: 16,
        name: "waitlist",
        sqlite: include_str!("migrations/sqlite/0016_waitlist.sql"),
        postgres: include_str!("migrations/postgres/0016_waitlist.sql"),
    },
    Migration {
        version: 17,
        name: "hl7",
        sqlite: include_str!("migrations/sqlite/0017_hl7.sql"),
        postgres: include_str!("migrations/postgres/0017_hl7.sql"),
    },
    Migration {
        version: 18,
        name: "code_mappings",
        sqlite: include_str!("migrations/sqlite/0018_code_mappings.sql"),
        postgres: include_str!("migrations/postgres/0018_code_mappings.sql"),
    },
    Migration {
        version: 19,
        name: "write_back",
        sqlite: include_str!("migrations/sqlite/0019_write_back.sql"),
        postgres: include_str!("migrations/postgres/0019_write_back.sql"),
    },
    Migration {
        version: 20,
        name: "patient_merge",
        sqlite: include_str!("migrations/sqlite/0020_patient_merge.sql"),
        postgres: include_str!("migrations/postgres/0020_patient_merge.sql"),
    },
    Migration {
        version: 21,
        name: "inbox",
        sqlite: include_str!("migrations/sqlite/0021_inbox.sql"),
        postgres: include_str!("migrations/postgres/0021_inbox.sql"),
    },
    Migration {
        version: 22,
        name: "fhir_export",
        sqlite: include_str!("migrations/sqlite/0022_fhir_export.sql"),
        postgres: include_str!("migrations/postgres/0022_fhir_export.sql"),
    },
    Migration {
        version: 23,
        name: "schedules",
        sqlite: include_str!("migrations/sqlite/0023_schedules.sql"),
        postgres: include_str!("migrations/postgres/0023_schedules.sql"),
    },
    Migration {
        version: 24,
        name: "fhir_records",
        sqlite: include_str!("migrations/sqlite/0024_fhir_records.sql"),
        postgres: include_str!("migrations/postgres/0024_fhir_records.sql"),
    },
    Migration {
        version: 25,
        name: "smart",
        sqlite: include_str!("migrations/sqlite/0025_smart.sql"),
        postgres: include_str!("migrations/postgres/0025_smart.sql"),
    },
    Migration {
        version: 26,
        name: "handoff_start",
        sqlite: include_str!("migrations/sqlite/0026_handoff_start.sql"),
        postgres: include_str!("migrations/postgres/0026_handoff_start.sql"),
    },
    Migration {
        version: 27,
        name: "done_jobs",
        sqlite: include_str!("migrations/sqlite/0027_done_jobs.sql"),
        postgres: include_str!("migrations/postgres/0027_done_jobs.sql"),
    },
    Migration {
        version: 28,
        name: "lease_indexes",
        sqlite: include_str!("migrations/sqlite/0028_lease_indexes.sql"),
        postgres: include_str!("migrations/postgres/0028_lease_indexes.sql"),
    },
];

/// Any advisory lock key will do, as long as it is always this one.
const PG_MIGRATION_LOCK: i64 = 0x0052_4150_504f_5254;

/// Applies every migration not yet applied; returns how many ran.
pub async fn run(db: &Db) -> Result<usize, StoreError> {
    let ledger = "CREATE TABLE IF NOT EXISTS rapport_migrations (
        version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";
    db.execute(ledger, vec![]).await?;
    let mut applied = 0;
    for migration in MIGRATIONS {
        let mut tx = db.begin().await?;
        if db.backend() == Backend::Postgres {
            tx.execute("SELECT pg_advisory_xact_lock($1)", args([PG_MIGRATION_LOCK.into()])).await?;
        }
        let done = tx
            .fetch_optional(
                "SELECT version FROM rapport_migrations WHERE version = $1",
                args([migration.version.into()]),
            )
            .await?
            .is_some();
        if done {
            continue;
        }
        let script = match db.backend() {
            Backend::Sqlite => migration.sqlite,
            Backend::Postgres => migration.postgres,
        };
        tx.execute_script(script).await?;
        tx.execute(
            "INSERT INTO rapport_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            args([migration.version.into(), migration.name.into(), Timestamp::now().into()]),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(version = migration.version, name = migration.name, "migration applied");
        applied += 1;
    }
    Ok(applied)
}
