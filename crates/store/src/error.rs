//! The store's one error type. Backend error codes are mapped here, once:
//! callers see not-found, conflict (with the constraint), a stale version, or
//! an internal failure whose text never holds row values.

use sqlx::error::{DatabaseError, ErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness or reference rule refused the write; names the rule.
    #[error("conflict with {constraint}")]
    Conflict { constraint: String },
    /// A reference to a record that does not exist in this organization
    /// (unknown, deleted, or another tenant's: the caller cannot tell which).
    #[error("{field} does not name a record of this organization")]
    UnknownReference { field: String },
    /// A value the records refuse, though it is well formed (a message
    /// whose template needs an appointment it does not name); names the field.
    #[error("{field} {reason}")]
    Invalid { field: String, reason: String },
    /// Optimistic concurrency: the record changed since the caller read it.
    #[error("version {expected} is stale; the record is at version {actual}")]
    StaleVersion { expected: i64, actual: i64 },
    /// A row that validation would have refused: written around the store.
    #[error("stored data is corrupt: {0}")]
    Corrupt(&'static str),
    #[error("database error: {0}")]
    Database(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) => match db.kind() {
                ErrorKind::UniqueViolation | ErrorKind::ForeignKeyViolation | ErrorKind::CheckViolation => {
                    StoreError::Conflict { constraint: constraint_name(db.as_ref()) }
                }
                // PostgreSQL's messages can quote row values, so only its code
                // is kept; SQLite's name the statement's problem, never a value.
                _ => match db.try_downcast_ref::<sqlx::sqlite::SqliteError>() {
                    Some(sqlite) => StoreError::Database(format!("SQLite: {}", sqlite.message())),
                    None => StoreError::Database(format!("PostgreSQL error code {}", db.code().unwrap_or_default())),
                },
            },
            other => StoreError::Database(other.to_string()),
        }
    }
}

/// PostgreSQL names the constraint; SQLite says `UNIQUE constraint failed:
/// table.col, …` (column names only, no values), which is what we keep.
fn constraint_name(db: &dyn DatabaseError) -> String {
    if let Some(name) = db.constraint() {
        return name.to_owned();
    }
    let message = db.message();
    match db.kind() {
        ErrorKind::UniqueViolation => message.strip_prefix("UNIQUE constraint failed: ").unwrap_or("unique").to_owned(),
        ErrorKind::ForeignKeyViolation => "foreign_key".to_owned(),
        _ => "check".to_owned(),
    }
}
