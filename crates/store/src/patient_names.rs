//! How lists show patients (the inbox, the outbox): each one's name and
//! birth date, read for a whole page of ids in one query instead of one
//! record at a time.

use std::collections::HashMap;

use rapport_domain::{OrganizationId, PatientId};

use super::db::args;
use super::{Store, StoreError};

/// A patient as a list shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientName {
    /// The preferred name if they gave one, else the given name.
    pub first: String,
    pub family: String,
    pub birth_date: Option<String>,
}

impl PatientName {
    pub fn full(&self) -> String {
        format!("{} {}", self.first, self.family)
    }
}

impl Store {
    /// The names of those of `ids` the organization has (deleted and merged
    /// records too: a list's history keeps its names).
    pub async fn patient_names(
        &self,
        org: OrganizationId,
        ids: &[PatientId],
    ) -> Result<HashMap<PatientId, PatientName>, StoreError> {
        let mut ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        ids.sort();
        ids.dedup();
        let values: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut tx = self.db.begin().await?;
        let rows = tx
            .fetch_where_in(
                "SELECT id, given_name, preferred_name, family_name, birth_date FROM patients WHERE organization_id = $1",
                "id",
                args([org.to_string().into()]),
                &values,
            )
            .await?;
        tx.commit().await?;
        rows.iter()
            .map(|r| {
                let given = r.text("given_name")?;
                let name = PatientName {
                    first: r.opt_text("preferred_name")?.unwrap_or(given),
                    family: r.text("family_name")?,
                    birth_date: r.opt_text("birth_date")?,
                };
                Ok((r.parsed("id")?, name))
            })
            .collect()
    }
}
