//! New sites and providers an import brings, written together: each with
//! its code-table entry (so the next import finds it again), a batch in one
//! transaction, the rows multi-row inserts. What was known already is
//! updated one by one, as before (`organizations.rs`).

use rapport_domain::{Location, OrganizationId, Provider};

use super::code_mappings::CodeKind;
use super::codec::{address_to_text, hours_to_text, list_to_text};
use super::db::{Arg, insert_rows};
use super::{Store, StoreError};

/// A new record's code-table entry: the feed's system and the code.
pub struct Mapped<'a> {
    pub system: &'a str,
    pub code: String,
}

impl Store {
    /// Creates new locations, each mapped under its code, in one transaction.
    pub async fn create_mapped_locations(
        &self,
        org: OrganizationId,
        new: &[(Location, Mapped<'_>)],
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        let rows = new
            .iter()
            .map(|(l, _)| {
                vec![
                    l.id.to_string().into(),
                    org.to_string().into(),
                    l.name.clone().into(),
                    address_to_text(&l.address).into(),
                    l.phone.as_ref().map(|p| p.to_string()).into(),
                    l.time_zone.as_str().into(),
                    hours_to_text(&l.opening_hours).into(),
                    1_i64.into(),
                    now.into(),
                    now.into(),
                ]
            })
            .collect();
        let mappings = new.iter().map(|(l, m)| mapping(org, m, CodeKind::Location, l.id.to_string(), now)).collect();
        let mut tx = self.db.begin().await?;
        insert_rows(&mut tx, "locations", rows).await?;
        insert_rows(&mut tx, "code_mappings", mappings).await?;
        tx.commit().await
    }

    /// Creates new providers (at no location yet), each mapped under its
    /// code, in one transaction.
    pub async fn create_mapped_providers(
        &self,
        org: OrganizationId,
        new: &[(Provider, Mapped<'_>)],
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        let rows = new
            .iter()
            .map(|(p, _)| {
                vec![
                    p.id.to_string().into(),
                    org.to_string().into(),
                    p.given_name.clone().into(),
                    p.family_name.clone().into(),
                    p.title.clone().into(),
                    p.npi.as_ref().map(|n| n.as_str().to_owned()).into(),
                    list_to_text(p.location_ids.iter().map(ToString::to_string)).into(),
                    1_i64.into(),
                    now.into(),
                    now.into(),
                ]
            })
            .collect();
        let mappings = new.iter().map(|(p, m)| mapping(org, m, CodeKind::Provider, p.id.to_string(), now)).collect();
        let mut tx = self.db.begin().await?;
        insert_rows(&mut tx, "providers", rows).await?;
        insert_rows(&mut tx, "code_mappings", mappings).await?;
        tx.commit().await
    }
}

/// A `code_mappings` row, in the table's column order.
fn mapping(org: OrganizationId, m: &Mapped<'_>, kind: CodeKind, target: String, now: jiff::Timestamp) -> Vec<Arg> {
    vec![
        org.to_string().into(),
        m.system.into(),
        kind.as_str().into(),
        m.code.clone().into(),
        "".into(),
        target.into(),
        now.into(),
        now.into(),
    ]
}
