//! The EHR feeds' code tables: per feed (`hl7:{sending application}`), what
//! its location, provider and visit type codes mean in Rapport. A code the
//! feed sent that Rapport could not place is kept with no target: the
//! mapping task staff see and fill.

use std::str::FromStr;

use jiff::Timestamp;
use rapport_domain::contact::UnknownWord;
use rapport_domain::{LocationId, OrganizationId, ProviderId};

use super::db::{Row, args};
use super::{Store, StoreError};

/// What a code stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    /// A location's id.
    Location,
    /// A provider's id.
    Provider,
    /// A visit type's name (what reminder rules and recalls match).
    VisitType,
}

impl CodeKind {
    pub const ALL: [CodeKind; 3] = [CodeKind::Location, CodeKind::Provider, CodeKind::VisitType];

    pub fn as_str(self) -> &'static str {
        match self {
            CodeKind::Location => "location",
            CodeKind::Provider => "provider",
            CodeKind::VisitType => "visit_type",
        }
    }
}

impl FromStr for CodeKind {
    type Err = UnknownWord;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CodeKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or(UnknownWord("location, provider or visit_type"))
    }
}

/// One code of one feed.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeMapping {
    pub system: String,
    pub kind: CodeKind,
    pub code: String,
    /// The feed's text beside the code, when it sent one.
    pub display: String,
    /// What it means here; `None` while it waits for staff.
    pub target: Option<String>,
    pub first_seen_at: Timestamp,
    pub updated_at: Timestamp,
}

fn mapping_from_row(r: &Row) -> Result<CodeMapping, StoreError> {
    Ok(CodeMapping {
        system: r.text("system")?,
        kind: r.parsed("kind")?,
        code: r.text("code")?,
        display: r.text("display")?,
        target: r.opt_text("target")?,
        first_seen_at: r.timestamp("first_seen_at")?,
        updated_at: r.timestamp("updated_at")?,
    })
}

/// The longest visit type name a mapping may give.
const MAX_VISIT_TYPE: usize = 100;

impl Store {
    /// What `code` of `system` means, if staff said so.
    pub async fn code_target(
        &self,
        org: OrganizationId,
        system: &str,
        kind: CodeKind,
        code: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT target FROM code_mappings WHERE organization_id = $1 AND system = $2 AND kind = $3 AND code = $4",
                args([org.to_string().into(), system.into(), kind.as_str().into(), code.into()]),
            )
            .await?;
        Ok(row.map(|r| r.opt_text("target")).transpose()?.flatten())
    }

    /// Keeps a code Rapport could not place, with no target, unless it is
    /// kept already: the mapping task.
    pub async fn note_unmapped_code(
        &self,
        org: OrganizationId,
        system: &str,
        kind: CodeKind,
        code: &str,
        display: &str,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        self.db
            .execute(
                "INSERT INTO code_mappings (organization_id, system, kind, code, display, target, first_seen_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, NULL, $6, $6)
                 ON CONFLICT (organization_id, system, kind, code) DO NOTHING",
                args([
                    org.to_string().into(),
                    system.into(),
                    kind.as_str().into(),
                    code.into(),
                    display.into(),
                    now.into(),
                ]),
            )
            .await
            .map(drop)
    }

    /// Says what a code means (or, with `None`, that it is not known yet).
    /// A location or provider target must name one of this organization's.
    pub async fn map_code(
        &self,
        org: OrganizationId,
        system: &str,
        kind: CodeKind,
        code: &str,
        target: Option<&str>,
    ) -> Result<CodeMapping, StoreError> {
        let invalid = |reason: &str| StoreError::Invalid { field: "target".into(), reason: reason.into() };
        if let Some(target) = target {
            match kind {
                CodeKind::Location => {
                    let id = target.parse::<LocationId>().map_err(|_| invalid("is not a location id"))?;
                    self.get_location(org, id)
                        .await
                        .map_err(|_| StoreError::UnknownReference { field: "target".into() })?;
                }
                CodeKind::Provider => {
                    let id = target.parse::<ProviderId>().map_err(|_| invalid("is not a provider id"))?;
                    self.get_provider(org, id)
                        .await
                        .map_err(|_| StoreError::UnknownReference { field: "target".into() })?;
                }
                CodeKind::VisitType if target.trim().is_empty() || target.chars().count() > MAX_VISIT_TYPE => {
                    return Err(invalid("must be a visit type of 1 to 100 characters"));
                }
                CodeKind::VisitType => {}
            }
        }
        let now = self.clock.now();
        let key = || -> Vec<super::db::Arg> {
            vec![org.to_string().into(), system.into(), kind.as_str().into(), code.into()]
        };
        let mut values = key();
        values.extend([target.map(|t| t.trim().to_owned()).into(), now.into()]);
        self.db
            .execute(
                "INSERT INTO code_mappings (organization_id, system, kind, code, display, target, first_seen_at, updated_at)
                 VALUES ($1, $2, $3, $4, '', $5, $6, $6)
                 ON CONFLICT (organization_id, system, kind, code) DO UPDATE SET target = $5, updated_at = $6",
                values,
            )
            .await?;
        let row = self
            .db
            .fetch_optional(
                "SELECT * FROM code_mappings WHERE organization_id = $1 AND system = $2 AND kind = $3 AND code = $4",
                key(),
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        mapping_from_row(&row)
    }

    /// The organization's code tables, by feed, kind and code; with
    /// `unmapped`, only the codes waiting for staff.
    pub async fn code_mappings(
        &self,
        org: OrganizationId,
        kind: Option<CodeKind>,
        unmapped: bool,
    ) -> Result<Vec<CodeMapping>, StoreError> {
        let rows = self
            .db
            .fetch_all(
                "SELECT * FROM code_mappings WHERE organization_id = $1 AND ($2 IS NULL OR kind = $2)
                   AND ($3 = 0 OR target IS NULL)
                 ORDER BY system, kind, code LIMIT 5000",
                args([org.to_string().into(), kind.map(|k| k.as_str()).into(), i64::from(unmapped).into()]),
            )
            .await?;
        rows.iter().map(mapping_from_row).collect()
    }
}
