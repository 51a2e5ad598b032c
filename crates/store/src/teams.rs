//! Teams: named groups of the organization's staff (front desk, billing,
//! nurses) a conversation can be assigned to as well as to a person.
//! A team's name and members are written together, under its version.

use jiff::Timestamp;
use rapport_domain::{OrganizationId, StaffUserId, TeamId};

use super::db::{Arg, Row, Tx, args, insert_rows};
use super::staff::is_live_staff_in;
use super::{Store, StoreError};

#[derive(Debug, Clone, PartialEq)]
pub struct Team {
    pub id: TeamId,
    pub name: String,
    /// In id order.
    pub members: Vec<StaffUserId>,
    pub created_at: Timestamp,
    pub version: i64,
}

fn team_from_row(r: &Row, members: Vec<StaffUserId>) -> Result<Team, StoreError> {
    Ok(Team {
        id: r.parsed("id")?,
        name: r.text("name")?,
        members,
        created_at: r.timestamp("created_at")?,
        version: r.int("version")?,
    })
}

impl Store {
    /// Adds a team; a name the organization has already is a conflict, a
    /// member who is not a live staff member of it an unknown reference.
    pub async fn create_team(
        &self,
        org: OrganizationId,
        name: &str,
        members: &[StaffUserId],
    ) -> Result<Team, StoreError> {
        let id = TeamId::generate();
        let mut tx = self.db.begin().await?;
        tx.execute(
            "INSERT INTO teams (id, organization_id, name, created_at, version) VALUES ($1, $2, $3, $4, 1)",
            args([id.to_string().into(), org.to_string().into(), name.into(), self.clock.now().into()]),
        )
        .await?;
        write_members(&mut tx, org, id, members).await?;
        tx.commit().await?;
        self.team(org, id).await
    }

    /// Renames a team and replaces its members; `expected` is the version
    /// the caller saw (`None`: whatever it is now).
    pub async fn update_team(
        &self,
        org: OrganizationId,
        id: TeamId,
        expected: Option<i64>,
        name: &str,
        members: &[StaffUserId],
    ) -> Result<Team, StoreError> {
        let mut tx = self.db.begin().await?;
        let row = tx
            .fetch_optional(
                sqlx::AssertSqlSafe(format!(
                    "SELECT version FROM teams WHERE organization_id = $1 AND id = $2 {}",
                    tx.for_update()
                )),
                args([org.to_string().into(), id.to_string().into()]),
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        let actual = row.int("version")?;
        if let Some(expected) = expected.filter(|e| *e != actual) {
            return Err(StoreError::StaleVersion { expected, actual });
        }
        tx.execute(
            "UPDATE teams SET name = $3, version = version + 1 WHERE organization_id = $1 AND id = $2",
            args([org.to_string().into(), id.to_string().into(), name.into()]),
        )
        .await?;
        tx.execute("DELETE FROM team_members WHERE team_id = $1", args([id.to_string().into()])).await?;
        write_members(&mut tx, org, id, members).await?;
        tx.commit().await?;
        self.team(org, id).await
    }

    pub async fn team(&self, org: OrganizationId, id: TeamId) -> Result<Team, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT * FROM teams WHERE organization_id = $1 AND id = $2",
                args([org.to_string().into(), id.to_string().into()]),
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        let members = self
            .db
            .fetch_all(
                "SELECT staff_id FROM team_members WHERE team_id = $1 ORDER BY staff_id",
                args([id.to_string().into()]),
            )
            .await?
            .iter()
            .map(|r| r.parsed("staff_id"))
            .collect::<Result<Vec<_>, _>>()?;
        team_from_row(&row, members)
    }

    /// Every team of the organization, by name, with its members.
    pub async fn teams(&self, org: OrganizationId) -> Result<Vec<Team>, StoreError> {
        let rows = self
            .db
            .fetch_all(
                "SELECT * FROM teams WHERE organization_id = $1 ORDER BY name LIMIT 500",
                args([org.to_string().into()]),
            )
            .await?;
        let memberships = self
            .db
            .fetch_all(
                "SELECT m.team_id, m.staff_id FROM team_members m JOIN teams t ON t.id = m.team_id
                 WHERE t.organization_id = $1 ORDER BY m.staff_id",
                args([org.to_string().into()]),
            )
            .await?;
        rows.iter()
            .map(|row| {
                let id = row.text("id")?;
                let members = memberships
                    .iter()
                    .filter(|m| m.text("team_id").is_ok_and(|t| t == id))
                    .map(|m| m.parsed("staff_id"))
                    .collect::<Result<Vec<_>, _>>()?;
                team_from_row(row, members)
            })
            .collect()
    }
}

/// Writes a team's members, each checked to be a live staff member of `org`.
async fn write_members(
    tx: &mut Tx,
    org: OrganizationId,
    team: TeamId,
    members: &[StaffUserId],
) -> Result<(), StoreError> {
    let mut members = members.to_vec();
    members.sort();
    members.dedup();
    for member in &members {
        if !is_live_staff_in(tx, org, *member).await? {
            return Err(StoreError::UnknownReference { field: "member_ids".into() });
        }
    }
    let rows: Vec<Vec<Arg>> = members.iter().map(|m| vec![team.to_string().into(), m.to_string().into()]).collect();
    insert_rows(tx, "team_members (team_id, staff_id)", rows).await
}
