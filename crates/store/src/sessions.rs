//! Staff sessions: one row per signed-in browser, found by the digest of
//! its cookie's secret. Idle and absolute limits are enforced by the caller
//! with the times kept here. Also the single-use password-reset links,
//! which open the way to a new session.

use jiff::Timestamp;
use rapport_domain::{OrganizationId, SessionId, SessionInfo, StaffUserId};

use super::db::{Row, args};
use super::{Store, StoreError};

/// A session to open.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub user_id: StaffUserId,
    pub organization_id: OrganizationId,
    pub token_digest: String,
    pub mfa_pending: bool,
    pub client_address: Option<String>,
    pub user_agent: Option<String>,
    pub expires_at: Timestamp,
}

fn session_from_row(r: &Row) -> Result<SessionInfo, StoreError> {
    Ok(SessionInfo {
        id: r.parsed("id")?,
        user_id: r.parsed("user_id")?,
        organization_id: r.parsed("organization_id")?,
        mfa_pending: r.int("mfa_pending")? != 0,
        client_address: r.opt_text("client_address")?,
        user_agent: r.opt_text("user_agent")?,
        created_at: r.timestamp("created_at")?,
        last_seen_at: r.timestamp("last_seen_at")?,
        expires_at: r.timestamp("expires_at")?,
    })
}

impl Store {
    pub async fn create_session(&self, new: &NewSession) -> Result<SessionInfo, StoreError> {
        let id = SessionId::generate();
        self.db
            .execute(
                "INSERT INTO sessions (id, token_hash, user_id, organization_id, mfa_pending, client_address,
                     user_agent, created_at, last_seen_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)",
                args([
                    id.to_string().into(),
                    new.token_digest.as_str().into(),
                    new.user_id.to_string().into(),
                    new.organization_id.to_string().into(),
                    i64::from(new.mfa_pending).into(),
                    new.client_address.clone().into(),
                    new.user_agent.clone().into(),
                    self.clock.now().into(),
                    new.expires_at.into(),
                ]),
            )
            .await?;
        let row = self
            .db
            .fetch_optional("SELECT * FROM sessions WHERE id = $1", args([id.to_string().into()]))
            .await?
            .ok_or(StoreError::NotFound)?;
        session_from_row(&row)
    }

    pub async fn session(&self, id: SessionId) -> Result<Option<SessionInfo>, StoreError> {
        let row = self.db.fetch_optional("SELECT * FROM sessions WHERE id = $1", args([id.to_string().into()])).await?;
        row.as_ref().map(session_from_row).transpose()
    }

    pub async fn session_by_digest(&self, digest: &str) -> Result<Option<SessionInfo>, StoreError> {
        let row = self.db.fetch_optional("SELECT * FROM sessions WHERE token_hash = $1", args([digest.into()])).await?;
        row.as_ref().map(session_from_row).transpose()
    }

    /// Marks activity (the idle limit counts from here).
    pub async fn touch_session(&self, id: SessionId) -> Result<(), StoreError> {
        self.db
            .execute(
                "UPDATE sessions SET last_seen_at = $2 WHERE id = $1",
                args([id.to_string().into(), self.clock.now().into()]),
            )
            .await
            .map(drop)
    }

    /// The second factor is now enrolled: the session may do what its role allows.
    pub async fn complete_session_mfa(&self, id: SessionId) -> Result<(), StoreError> {
        self.db
            .execute("UPDATE sessions SET mfa_pending = 0 WHERE id = $1", args([id.to_string().into()]))
            .await
            .map(drop)
    }

    pub async fn end_session(&self, id: SessionId) -> Result<(), StoreError> {
        self.db.execute("DELETE FROM sessions WHERE id = $1", args([id.to_string().into()])).await.map(drop)
    }

    /// Signs a user out everywhere; returns how many sessions ended.
    pub async fn end_sessions_of(&self, user: StaffUserId) -> Result<u64, StoreError> {
        self.db.execute("DELETE FROM sessions WHERE user_id = $1", args([user.to_string().into()])).await
    }

    /// A user's live sessions, newest first.
    pub async fn sessions_of(&self, user: StaffUserId) -> Result<Vec<SessionInfo>, StoreError> {
        let rows = self
            .db
            .fetch_all(
                "SELECT * FROM sessions WHERE user_id = $1 AND expires_at > $2 ORDER BY id DESC",
                args([user.to_string().into(), self.clock.now().into()]),
            )
            .await?;
        rows.iter().map(session_from_row).collect()
    }
}

impl Store {
    /// Stores a password-reset link's digest, good until `expires_at`.
    pub async fn create_password_reset(
        &self,
        user: StaffUserId,
        digest: &str,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.db
            .execute(
                "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                args([digest.into(), user.to_string().into(), self.clock.now().into(), expires_at.into()]),
            )
            .await
            .map(drop)
    }

    /// The account an unused, unexpired reset link is for (without spending it).
    pub async fn password_reset_user(&self, digest: &str) -> Result<Option<StaffUserId>, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT user_id FROM password_resets WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
                args([digest.into(), self.clock.now().into()]),
            )
            .await?;
        row.map(|r| r.parsed("user_id")).transpose()
    }

    /// Spends a reset link: the account it was for, if it is unused and
    /// unexpired. One statement, so two uses of one link cannot both win.
    pub async fn use_password_reset(&self, digest: &str) -> Result<Option<StaffUserId>, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "UPDATE password_resets SET used_at = $2
                 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING user_id",
                args([digest.into(), self.clock.now().into()]),
            )
            .await?;
        row.map(|r| r.parsed("user_id")).transpose()
    }
}
