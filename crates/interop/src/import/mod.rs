//! Imports: CSV files of patients and appointments, and FHIR R4 resources
//! (`fhir`: bulk NDJSON, Bundles, a Synthea export). CSV columns are found by header
//! (with common aliases); each bad row is reported with its line, column and
//! reason, and the rest go on. Rows land in batches, one transaction each;
//! with `strict`, any bad row stops the import before anything is written.

mod appointments;
mod batch;
pub mod fhir;
mod patients;
mod table;

pub use appointments::import_appointments;
pub use fhir::{FhirReport, ResourceError, TAKEN, TypeCount, import_fhir};
pub use patients::import_patients;
pub use table::RowError;

use rapport_store::StoreError;

/// Rows per transaction. Each commit writes every page its rows touched to
/// the WAL, and the name, phone and email indexes take rows in random order:
/// a larger batch touches each page once for more rows (1,000 → 5,000 took
/// SQLite's import from ~12,000 to ~18,000 rows/s; 10,000 gained nothing).
pub const BATCH_ROWS: usize = 5000;

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ImportReport {
    pub created: u64,
    pub updated: u64,
    pub failed: Vec<RowError>,
}

impl ImportReport {
    /// Rows read: each one was created, updated or failed.
    pub fn rows(&self) -> u64 {
        self.created + self.updated + self.failed.len() as u64
    }
}

/// Why an import stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the header is not usable: {0}")]
    Header(String),
    #[error("reading the file failed: {0}")]
    Read(String),
    #[error("strict import stopped: {} bad row(s), nothing was written", .0.len())]
    Strict(Vec<RowError>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Options shared by both imports.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The identifier system of the `mrn` column.
    pub id_system: String,
    /// The system named as the source of imported appointments' ids.
    pub source_system: String,
    pub strict: bool,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self { id_system: "mrn".into(), source_system: "csv".into(), strict: false }
    }
}
