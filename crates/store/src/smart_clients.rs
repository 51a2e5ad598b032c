//! SMART Backend Services clients: registered with their public keys and
//! the system scopes they may have, revocable; and the replay guard, each
//! assertion's `jti` taken once per client while it could still be used.

use jiff::Timestamp;
use rapport_domain::{OrganizationId, StaffUserId};

use super::db::{Row, args, from_micros};
use super::{Store, StoreError};

#[derive(Debug, Clone, PartialEq)]
pub struct SmartClient {
    /// The client id it signs its assertions as (`iss`, `sub`).
    pub id: String,
    pub organization_id: OrganizationId,
    pub name: String,
    pub jwks: serde_json::Value,
    /// The system scopes it may be granted, space-separated.
    pub scope: String,
    pub created_by: Option<StaffUserId>,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

fn client_from_row(r: &Row) -> Result<SmartClient, StoreError> {
    Ok(SmartClient {
        id: r.text("id")?,
        organization_id: r.parsed("organization_id")?,
        name: r.text("name")?,
        jwks: serde_json::from_str(&r.text("jwks")?).map_err(|_| StoreError::Corrupt("a client's JWKS"))?,
        scope: r.text("scope")?,
        created_by: r.opt_parsed("created_by")?,
        created_at: r.timestamp("created_at")?,
        revoked_at: r.opt_int("revoked_at")?.map(from_micros).transpose()?,
    })
}

impl Store {
    pub async fn register_smart_client(&self, client: &SmartClient) -> Result<SmartClient, StoreError> {
        self.db
            .execute(
                "INSERT INTO smart_clients (id, organization_id, name, jwks, scope, created_by, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                args([
                    client.id.clone().into(),
                    client.organization_id.to_string().into(),
                    client.name.clone().into(),
                    client.jwks.to_string().into(),
                    client.scope.clone().into(),
                    client.created_by.map(|u| u.to_string()).into(),
                    self.clock.now().into(),
                ]),
            )
            .await?;
        self.smart_client(&client.id).await?.ok_or(StoreError::NotFound)
    }

    /// A client by its id, whichever organization it belongs to (a token
    /// request names no organization), revoked or not.
    pub async fn smart_client(&self, id: &str) -> Result<Option<SmartClient>, StoreError> {
        let row = self.db.fetch_optional("SELECT * FROM smart_clients WHERE id = $1", args([id.into()])).await?;
        row.as_ref().map(client_from_row).transpose()
    }

    pub async fn smart_clients(&self, org: OrganizationId) -> Result<Vec<SmartClient>, StoreError> {
        let rows = self
            .db
            .fetch_all(
                "SELECT * FROM smart_clients WHERE organization_id = $1 ORDER BY id",
                args([org.to_string().into()]),
            )
            .await?;
        rows.iter().map(client_from_row).collect()
    }

    /// Revokes a client and every access token it holds, at once.
    pub async fn revoke_smart_client(&self, org: OrganizationId, id: &str) -> Result<SmartClient, StoreError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let changed = tx
            .execute(
                "UPDATE smart_clients SET revoked_at = COALESCE(revoked_at, $3) WHERE organization_id = $1 AND id = $2",
                args([org.to_string().into(), id.into(), now.into()]),
            )
            .await?;
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        tx.execute(
            "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $3) WHERE organization_id = $1 AND name = $2",
            args([org.to_string().into(), smart_token_name(id).into(), now.into()]),
        )
        .await?;
        tx.commit().await?;
        self.smart_client(id).await?.ok_or(StoreError::NotFound)
    }

    /// Takes an assertion's `jti` for the client: `false` if it was taken
    /// before (a replay). Forgets those expired for longer than the clock
    /// skew an assertion is forgiven, so none is forgotten while usable.
    pub async fn take_assertion(&self, client: &str, jti: &str, expires_at: Timestamp) -> Result<bool, StoreError> {
        let forgotten = self.clock.now() - jiff::SignedDuration::from_mins(10);
        let mut tx = self.db.begin().await?;
        tx.execute("DELETE FROM smart_assertions WHERE expires_at < $1", args([forgotten.into()])).await?;
        let taken = tx
            .execute(
                "INSERT INTO smart_assertions (client_id, jti, expires_at) VALUES ($1, $2, $3)
                 ON CONFLICT (client_id, jti) DO NOTHING",
                args([client.into(), jti.into(), expires_at.into()]),
            )
            .await?;
        tx.commit().await?;
        Ok(taken == 1)
    }

    /// Deletes a client's access tokens that have expired (each token
    /// request makes one; they are kept no longer than needed).
    pub async fn forget_expired_smart_tokens(&self, org: OrganizationId, client: &str) -> Result<(), StoreError> {
        self.db
            .execute(
                "DELETE FROM api_tokens WHERE organization_id = $1 AND name = $2 AND expires_at < $3",
                args([org.to_string().into(), smart_token_name(client).into(), self.clock.now().into()]),
            )
            .await
            .map(drop)
    }
}

/// The name of the access tokens a client is given.
pub fn smart_token_name(client: &str) -> String {
    format!("smart:{client}")
}
