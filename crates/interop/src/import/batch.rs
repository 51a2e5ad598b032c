//! Batching parsed rows into transactions, shared by every import. A batch
//! the store refuses for its data (a conflict, an unknown reference) is
//! retried row by row, so each bad row is reported and the good ones land.

use super::{ImportError, ImportReport, RowError};
use rapport_store::{StoreError, UpsertOutcome};

pub struct Batcher<T> {
    pending: Vec<(u64, T)>,
    report: ImportReport,
    strict: bool,
    batch_rows: usize,
}

impl<T> Batcher<T> {
    pub fn new(strict: bool, batch_rows: usize) -> Self {
        Self { pending: Vec::new(), report: ImportReport::default(), strict, batch_rows }
    }

    pub fn fail(&mut self, error: RowError) {
        self.report.failed.push(error);
    }

    /// Queues a good row; writes the batch when it is full (never in strict
    /// mode, which writes everything at the end or nothing).
    pub async fn push<Id>(
        &mut self,
        line: u64,
        item: T,
        write: &impl AsyncFn(&[T]) -> Result<Vec<UpsertOutcome<Id>>, StoreError>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), ImportError> {
        self.pending.push((line, item));
        if !self.strict && self.pending.len() >= self.batch_rows {
            self.flush(write).await?;
            progress(self.report.rows());
        }
        Ok(())
    }

    pub async fn finish<Id>(
        mut self,
        write: &impl AsyncFn(&[T]) -> Result<Vec<UpsertOutcome<Id>>, StoreError>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<ImportReport, ImportError> {
        if self.strict && !self.report.failed.is_empty() {
            return Err(ImportError::Strict(self.report.failed));
        }
        if self.strict {
            // One transaction for the whole file: it all lands or none of it.
            let items: Vec<T> = self.pending.drain(..).map(|(_, item)| item).collect();
            let outcomes = write(&items).await?;
            self.count(&outcomes);
        } else {
            self.flush(write).await?;
        }
        progress(self.report.rows());
        Ok(self.report)
    }

    async fn flush<Id>(
        &mut self,
        write: &impl AsyncFn(&[T]) -> Result<Vec<UpsertOutcome<Id>>, StoreError>,
    ) -> Result<(), ImportError> {
        let batch: Vec<(u64, T)> = std::mem::take(&mut self.pending);
        let (lines, items): (Vec<u64>, Vec<T>) = batch.into_iter().unzip();
        match write(&items).await {
            Ok(outcomes) => self.count(&outcomes),
            Err(error) if is_data_error(&error) => {
                for (line, item) in lines.into_iter().zip(items) {
                    match write(std::slice::from_ref(&item)).await {
                        Ok(outcomes) => self.count(&outcomes),
                        Err(e) if is_data_error(&e) => {
                            self.report.failed.push(RowError { line, column: None, reason: e.to_string() })
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            Err(error) => return Err(error.into()),
        }
        Ok(())
    }

    fn count<Id>(&mut self, outcomes: &[UpsertOutcome<Id>]) {
        for outcome in outcomes {
            match outcome {
                UpsertOutcome::Created(_) => self.report.created += 1,
                UpsertOutcome::Updated(_) => self.report.updated += 1,
            }
        }
    }
}

fn is_data_error(error: &StoreError) -> bool {
    matches!(error, StoreError::Conflict { .. } | StoreError::UnknownReference { .. })
}
