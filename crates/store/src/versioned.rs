//! Optimistic concurrency, shared by every versioned table: an update names
//! the version it read, and loses (412 at the API) if someone wrote since.

use sqlx::AssertSqlSafe;

use super::StoreError;
use super::db::{Arg, Tx, args};

/// Tables with `organization_id`, `id`, `version`, `updated_at` columns.
#[derive(Debug, Clone, Copy)]
pub enum Versioned {
    Organizations,
    Locations,
    Providers,
    Patients,
    Appointments,
    Templates,
    ReminderRules,
    Schedules,
    FhirRecords,
}

impl Versioned {
    fn table(self) -> &'static str {
        match self {
            Versioned::Organizations => "organizations",
            Versioned::Locations => "locations",
            Versioned::Providers => "providers",
            Versioned::Patients => "patients",
            Versioned::Appointments => "appointments",
            Versioned::Templates => "message_templates",
            Versioned::ReminderRules => "reminder_rules",
            Versioned::Schedules => "schedules",
            Versioned::FhirRecords => "fhir_records",
        }
    }

    /// Organizations are their own tenant.
    fn tenant_column(self) -> &'static str {
        match self {
            Versioned::Organizations => "id",
            _ => "organization_id",
        }
    }

    fn live_filter(self) -> &'static str {
        match self {
            Versioned::Patients => " AND deleted_at IS NULL",
            _ => "",
        }
    }
}

/// The row an update is for, and the version the caller read.
pub struct Target {
    pub table: Versioned,
    pub tenant: String,
    pub id: String,
    pub expected: i64,
}

/// Runs `UPDATE table SET <sets>, version = version + 1 …` for the target row
/// at its expected version. `sets` uses `$1..$n` for `values`; the update
/// time, tenant, id and version follow them. Returns the new version.
pub async fn update(
    tx: &mut Tx,
    target: Target,
    sets: &str,
    mut values: Vec<Arg>,
    now: jiff::Timestamp,
) -> Result<i64, StoreError> {
    let Target { table, tenant, id, expected } = target;
    let n = values.len();
    let sql = format!(
        "UPDATE {t} SET {sets}, version = version + 1, updated_at = ${a} WHERE {tc} = ${b} AND id = ${c} AND version = ${d}{live}",
        t = table.table(),
        tc = table.tenant_column(),
        live = table.live_filter(),
        a = n + 1,
        b = n + 2,
        c = n + 3,
        d = n + 4,
    );
    values.extend([now.into(), tenant.clone().into(), id.clone().into(), expected.into()]);
    if tx.execute(AssertSqlSafe(sql), values).await? == 1 {
        return Ok(expected + 1);
    }
    let current = format!(
        "SELECT version FROM {t} WHERE {tc} = $1 AND id = $2{live}",
        t = table.table(),
        tc = table.tenant_column(),
        live = table.live_filter()
    );
    match tx.fetch_optional(AssertSqlSafe(current), args([tenant.into(), id.into()])).await? {
        Some(row) => Err(StoreError::StaleVersion { expected, actual: row.int("version")? }),
        None => Err(StoreError::NotFound),
    }
}
