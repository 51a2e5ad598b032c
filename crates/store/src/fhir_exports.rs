//! FHIR bulk exports: a request's row (running, done or failed) and the
//! NDJSON file of each resource type it wrote, kept in the database so any
//! process can answer the status and serve the files.

use jiff::Timestamp;
use rapport_domain::OrganizationId;

use super::db::args;
use super::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportStatus {
    Running,
    Done,
    Failed,
}

impl ExportStatus {
    fn as_str(self) -> &'static str {
        match self {
            ExportStatus::Running => "running",
            ExportStatus::Done => "done",
            ExportStatus::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "running" => Ok(ExportStatus::Running),
            "done" => Ok(ExportStatus::Done),
            "failed" => Ok(ExportStatus::Failed),
            _ => Err(StoreError::Corrupt("an export's status")),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FhirExport {
    pub id: String,
    pub request: String,
    pub status: ExportStatus,
    pub error: Option<String>,
    pub requested_at: Timestamp,
    /// Each file's resource type and how many resources it holds.
    pub files: Vec<(String, i64)>,
}

impl Store {
    /// Records a new export, running.
    pub async fn start_fhir_export(&self, org: OrganizationId, id: &str, request: &str) -> Result<(), StoreError> {
        self.db
            .execute(
                "INSERT INTO fhir_exports (id, organization_id, request, status, requested_at) VALUES ($1, $2, $3, $4, $5)",
                args([
                    id.into(),
                    org.to_string().into(),
                    request.into(),
                    ExportStatus::Running.as_str().into(),
                    self.clock.now().into(),
                ]),
            )
            .await
            .map(drop)
    }

    /// Ends a running export: its files, or why it failed, in one transaction.
    pub async fn finish_fhir_export(
        &self,
        org: OrganizationId,
        id: &str,
        outcome: Result<Vec<(String, i64, String)>, String>,
    ) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        let (status, error) = match outcome {
            Ok(files) => {
                for (kind, count, ndjson) in files {
                    tx.execute(
                        "INSERT INTO fhir_export_files (export_id, resource_type, count, ndjson) VALUES ($1, $2, $3, $4)",
                        args([id.into(), kind.into(), count.into(), ndjson.into()]),
                    )
                    .await?;
                }
                (ExportStatus::Done, None)
            }
            Err(why) => (ExportStatus::Failed, Some(why)),
        };
        tx.execute(
            "UPDATE fhir_exports SET status = $3, error = $4, finished_at = $5
             WHERE organization_id = $1 AND id = $2 AND status = 'running'",
            args([org.to_string().into(), id.into(), status.as_str().into(), error.into(), self.clock.now().into()]),
        )
        .await?;
        tx.commit().await
    }

    pub async fn fhir_export(&self, org: OrganizationId, id: &str) -> Result<FhirExport, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT * FROM fhir_exports WHERE organization_id = $1 AND id = $2",
                args([org.to_string().into(), id.into()]),
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        let files = self
            .db
            .fetch_all(
                "SELECT resource_type, count FROM fhir_export_files WHERE export_id = $1 ORDER BY resource_type",
                args([id.into()]),
            )
            .await?
            .iter()
            .map(|r| Ok((r.text("resource_type")?, r.int("count")?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(FhirExport {
            id: row.text("id")?,
            request: row.text("request")?,
            status: ExportStatus::parse(&row.text("status")?)?,
            error: row.opt_text("error")?,
            requested_at: row.timestamp("requested_at")?,
            files,
        })
    }

    /// One file of a finished export.
    pub async fn fhir_export_file(&self, org: OrganizationId, id: &str, kind: &str) -> Result<String, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT f.ndjson FROM fhir_export_files f JOIN fhir_exports e ON e.id = f.export_id
                 WHERE e.organization_id = $1 AND e.id = $2 AND f.resource_type = $3",
                args([org.to_string().into(), id.into(), kind.into()]),
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        row.text("ndjson")
    }

    /// Deletes an export and its files (the client is done with them, or gave up).
    pub async fn delete_fhir_export(&self, org: OrganizationId, id: &str) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        let found = tx
            .fetch_optional(
                "SELECT id FROM fhir_exports WHERE organization_id = $1 AND id = $2",
                args([org.to_string().into(), id.into()]),
            )
            .await?;
        if found.is_none() {
            return Err(StoreError::NotFound);
        }
        tx.execute("DELETE FROM fhir_export_files WHERE export_id = $1", args([id.into()])).await?;
        tx.execute("DELETE FROM fhir_exports WHERE id = $1", args([id.into()])).await?;
        tx.commit().await
    }
}
