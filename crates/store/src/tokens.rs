//! Integrations' API tokens: stored as digests, scoped, revocable, with the
//! time each was last used.

use rapport_domain::{ApiToken, ApiTokenId, Capability, OrganizationId, StaffUserId};

use super::db::{Row, args};
use super::{Store, StoreError};

/// A token to store; the secret itself is never stored.
#[derive(Debug, Clone)]
pub struct NewApiToken {
    pub organization_id: OrganizationId,
    pub name: String,
    pub prefix: String,
    pub token_digest: String,
    pub scopes: Vec<Capability>,
    pub created_by: Option<StaffUserId>,
}

fn token_from_row(r: &Row) -> Result<ApiToken, StoreError> {
    let scopes = r
        .text("scopes")?
        .split_whitespace()
        .map(|s| s.parse().map_err(|_| StoreError::Corrupt("bad token scope")))
        .collect::<Result<_, _>>()?;
    Ok(ApiToken {
        id: r.parsed("id")?,
        organization_id: r.parsed("organization_id")?,
        name: r.text("name")?,
        prefix: r.text("prefix")?,
        scopes,
        created_by: r.opt_parsed("created_by")?,
        created_at: r.timestamp("created_at")?,
        last_used_at: r.opt_int("last_used_at")?.map(super::db::from_micros).transpose()?,
        revoked_at: r.opt_int("revoked_at")?.map(super::db::from_micros).transpose()?,
    })
}

impl Store {
    pub async fn create_api_token(&self, new: &NewApiToken) -> Result<ApiToken, StoreError> {
        self.create_token_until(new, None).await
    }

    /// A token that stops working at `expires_at` (a SMART access token):
    /// never listed with the organization's tokens.
    pub async fn create_expiring_api_token(
        &self,
        new: &NewApiToken,
        expires_at: jiff::Timestamp,
    ) -> Result<ApiToken, StoreError> {
        self.create_token_until(new, Some(expires_at)).await
    }

    async fn create_token_until(
        &self,
        new: &NewApiToken,
        expires_at: Option<jiff::Timestamp>,
    ) -> Result<ApiToken, StoreError> {
        let id = ApiTokenId::generate();
        let scopes: Vec<&str> = new.scopes.iter().map(|c| c.as_str()).collect();
        self.db
            .execute(
                "INSERT INTO api_tokens (id, organization_id, name, token_hash, prefix, scopes, created_by, created_at,
                     expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                args([
                    id.to_string().into(),
                    new.organization_id.to_string().into(),
                    new.name.as_str().into(),
                    new.token_digest.as_str().into(),
                    new.prefix.as_str().into(),
                    scopes.join(" ").into(),
                    new.created_by.map(|u| u.to_string()).into(),
                    self.clock.now().into(),
                    expires_at.map(super::db::micros).into(),
                ]),
            )
            .await?;
        self.api_token(new.organization_id, id).await
    }

    pub async fn api_token(&self, org: OrganizationId, id: ApiTokenId) -> Result<ApiToken, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT * FROM api_tokens WHERE organization_id = $1 AND id = $2",
                args([org.to_string().into(), id.to_string().into()]),
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        token_from_row(&row)
    }

    /// The live (unrevoked, unexpired) token whose secret has this digest.
    pub async fn api_token_by_digest(&self, digest: &str) -> Result<Option<ApiToken>, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT * FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL
                   AND (expires_at IS NULL OR expires_at > $2)",
                args([digest.into(), self.clock.now().into()]),
            )
            .await?;
        row.as_ref().map(token_from_row).transpose()
    }

    pub async fn api_tokens(&self, org: OrganizationId) -> Result<Vec<ApiToken>, StoreError> {
        let rows = self
            .db
            .fetch_all(
                "SELECT * FROM api_tokens WHERE organization_id = $1 AND expires_at IS NULL ORDER BY id",
                args([org.to_string().into()]),
            )
            .await?;
        rows.iter().map(token_from_row).collect()
    }

    /// Revokes a token at once; revoking twice is harmless.
    pub async fn revoke_api_token(&self, org: OrganizationId, id: ApiTokenId) -> Result<ApiToken, StoreError> {
        self.db
            .execute(
                "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $3) WHERE organization_id = $1 AND id = $2",
                args([org.to_string().into(), id.to_string().into(), self.clock.now().into()]),
            )
            .await?;
        self.api_token(org, id).await
    }

    pub async fn touch_api_token(&self, id: ApiTokenId) -> Result<(), StoreError> {
        self.db
            .execute(
                "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1",
                args([id.to_string().into(), self.clock.now().into()]),
            )
            .await
            .map(drop)
    }
}
