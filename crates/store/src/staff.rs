//! Staff accounts: identity, role, password and second factor. The secrets
//! are read only through [`Credentials`], by the sign-in code.

use jiff::Timestamp;
use rapport_domain::{Email, OrganizationId, Role, StaffUser, StaffUserId};

use super::db::{Arg, Row, Tx, args};
use super::{Store, StoreError};

/// What signing in checks against; never leaves the auth code.
#[derive(Clone)]
pub struct Credentials {
    pub password_hash: String,
    /// The base32 TOTP secret once enrolment is confirmed.
    pub mfa_secret: Option<String>,
    /// A secret handed out for enrolment, not yet confirmed with a code.
    pub mfa_pending_secret: Option<String>,
    /// The last time step whose code was accepted (a code works once).
    pub mfa_last_step: Option<i64>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials([redacted])")
    }
}

/// A new account's fields.
#[derive(Debug, Clone)]
pub struct NewStaffUser {
    pub organization_id: OrganizationId,
    pub email: Email,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
}

fn user_from_row(r: &Row) -> Result<StaffUser, StoreError> {
    Ok(StaffUser {
        id: r.parsed("id")?,
        organization_id: r.parsed("organization_id")?,
        email: Email::parse(&r.text("email")?).map_err(|_| StoreError::Corrupt("bad staff email"))?,
        display_name: r.text("display_name")?,
        role: r.parsed("role")?,
        mfa_enrolled: r.opt_text("mfa_secret")?.is_some(),
        disabled_at: r.opt_int("disabled_at")?.map(super::db::from_micros).transpose()?,
        version: r.int("version")?,
        created_at: r.timestamp("created_at")?,
    })
}

fn credentials_from_row(r: &Row) -> Result<Credentials, StoreError> {
    Ok(Credentials {
        password_hash: r.text("password_hash")?,
        mfa_secret: r.opt_text("mfa_secret")?,
        mfa_pending_secret: r.opt_text("mfa_pending_secret")?,
        mfa_last_step: r.opt_int("mfa_last_step")?,
    })
}

impl Store {
    pub async fn create_staff_user(&self, new: &NewStaffUser) -> Result<StaffUser, StoreError> {
        let now = self.clock.now();
        let id = StaffUserId::generate();
        self.db
            .execute(
                "INSERT INTO staff_users (id, organization_id, email, display_name, role, password_hash, version,
                     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7)",
                args([
                    id.to_string().into(),
                    new.organization_id.to_string().into(),
                    new.email.as_str().to_lowercase().into(),
                    new.display_name.as_str().into(),
                    new.role.as_str().into(),
                    new.password_hash.as_str().into(),
                    now.into(),
                ]),
            )
            .await?;
        self.staff_user(new.organization_id, id).await
    }

    pub async fn staff_user(&self, org: OrganizationId, id: StaffUserId) -> Result<StaffUser, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT * FROM staff_users WHERE organization_id = $1 AND id = $2",
                args([org.to_string().into(), id.to_string().into()]),
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        user_from_row(&row)
    }

    pub async fn staff_users(&self, org: OrganizationId) -> Result<Vec<StaffUser>, StoreError> {
        let rows = self
            .db
            .fetch_all(
                "SELECT * FROM staff_users WHERE organization_id = $1 ORDER BY id",
                args([org.to_string().into()]),
            )
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    /// The account signing in with `email` (any organization, any case), with its secrets.
    pub async fn staff_sign_in(&self, email: &Email) -> Result<Option<(StaffUser, Credentials)>, StoreError> {
        let row = self
            .db
            .fetch_optional("SELECT * FROM staff_users WHERE email = $1", args([email.as_str().to_lowercase().into()]))
            .await?;
        row.map(|r| Ok((user_from_row(&r)?, credentials_from_row(&r)?))).transpose()
    }

    pub async fn staff_credentials(&self, id: StaffUserId) -> Result<(StaffUser, Credentials), StoreError> {
        let row = self
            .db
            .fetch_optional("SELECT * FROM staff_users WHERE id = $1", args([id.to_string().into()]))
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok((user_from_row(&row)?, credentials_from_row(&row)?))
    }

    /// Disables (or re-enables) an account; disabling also ends its sessions.
    pub async fn set_staff_disabled(
        &self,
        org: OrganizationId,
        id: StaffUserId,
        disabled: bool,
    ) -> Result<StaffUser, StoreError> {
        let now = self.clock.now();
        let disabled_at: Option<i64> = disabled.then(|| super::db::micros(now));
        self.update_staff(org, id, "disabled_at = $3", vec![disabled_at.into()]).await?;
        if disabled {
            self.end_sessions_of(id).await?;
        }
        self.staff_user(org, id).await
    }

    pub async fn set_staff_role(
        &self,
        org: OrganizationId,
        id: StaffUserId,
        role: Role,
    ) -> Result<StaffUser, StoreError> {
        self.update_staff(org, id, "role = $3", vec![role.as_str().into()]).await?;
        self.staff_user(org, id).await
    }

    pub async fn set_staff_password(&self, id: StaffUserId, password_hash: &str) -> Result<(), StoreError> {
        let (user, _) = self.staff_credentials(id).await?;
        self.update_staff(user.organization_id, id, "password_hash = $3", vec![password_hash.into()]).await
    }

    /// Stores a secret awaiting confirmation; the enrolled one, if any, stays.
    pub async fn begin_mfa_enrolment(&self, id: StaffUserId, secret: &str) -> Result<(), StoreError> {
        let (user, _) = self.staff_credentials(id).await?;
        self.update_staff(user.organization_id, id, "mfa_pending_secret = $3", vec![secret.into()]).await
    }

    /// Makes the pending secret the enrolled one, with a fresh set of
    /// recovery codes (digests) replacing any earlier set.
    pub async fn confirm_mfa_enrolment(
        &self,
        id: StaffUserId,
        step: i64,
        recovery_code_digests: &[String],
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let changed = tx
            .execute(
                "UPDATE staff_users SET mfa_secret = mfa_pending_secret, mfa_pending_secret = NULL,
                     mfa_last_step = $2, version = version + 1, updated_at = $3
                 WHERE id = $1 AND mfa_pending_secret IS NOT NULL",
                args([id.to_string().into(), step.into(), now.into()]),
            )
            .await?;
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        tx.execute("DELETE FROM recovery_codes WHERE user_id = $1", args([id.to_string().into()])).await?;
        let rows: Vec<Vec<Arg>> = recovery_code_digests
            .iter()
            .map(|digest| vec![id.to_string().into(), digest.as_str().into(), Arg::Int(None)])
            .collect();
        super::db::insert_rows(&mut tx, "recovery_codes (user_id, code_hash, used_at)", rows).await?;
        tx.commit().await
    }

    /// Removes the second factor and its recovery codes (recovery by an administrator).
    pub async fn reset_mfa(&self, id: StaffUserId) -> Result<(), StoreError> {
        self.staff_credentials(id).await?;
        let mut tx = self.db.begin().await?;
        tx.execute(
            "UPDATE staff_users SET mfa_secret = NULL, mfa_pending_secret = NULL, mfa_last_step = NULL,
                 version = version + 1, updated_at = $2 WHERE id = $1",
            args([id.to_string().into(), self.clock.now().into()]),
        )
        .await?;
        tx.execute("DELETE FROM recovery_codes WHERE user_id = $1", args([id.to_string().into()])).await?;
        tx.commit().await?;
        self.end_sessions_of(id).await.map(drop)
    }

    /// Records that the code of `step` was used; false if that step or a
    /// later one already was (a replayed code), atomically.
    pub async fn use_mfa_step(&self, id: StaffUserId, step: i64) -> Result<bool, StoreError> {
        let changed = self
            .db
            .execute(
                "UPDATE staff_users SET mfa_last_step = $2
                 WHERE id = $1 AND (mfa_last_step IS NULL OR mfa_last_step < $2)",
                args([id.to_string().into(), step.into()]),
            )
            .await?;
        Ok(changed == 1)
    }

    /// Spends a recovery code; false if it is unknown or spent already.
    pub async fn use_recovery_code(&self, id: StaffUserId, digest: &str) -> Result<bool, StoreError> {
        let changed = self
            .db
            .execute(
                "UPDATE recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
                args([id.to_string().into(), digest.into(), self.clock.now().into()]),
            )
            .await?;
        Ok(changed == 1)
    }

    pub async fn unused_recovery_codes(&self, id: StaffUserId) -> Result<i64, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
                args([id.to_string().into()]),
            )
            .await?;
        row.map_or(Ok(0), |r| r.int("n"))
    }

    /// Whether every staff member of `org` must use a second factor.
    pub async fn mfa_required_for_all(&self, org: OrganizationId) -> Result<bool, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT mfa_required_for_all FROM organization_security WHERE organization_id = $1",
                args([org.to_string().into()]),
            )
            .await?;
        Ok(row.map(|r| r.int("mfa_required_for_all")).transpose()?.unwrap_or(0) != 0)
    }

    pub async fn set_mfa_required_for_all(&self, org: OrganizationId, required: bool) -> Result<(), StoreError> {
        self.db
            .execute(
                "INSERT INTO organization_security (organization_id, mfa_required_for_all, updated_at)
                 VALUES ($1, $2, $3)
                 ON CONFLICT (organization_id) DO UPDATE SET mfa_required_for_all = $2, updated_at = $3",
                args([org.to_string().into(), i64::from(required).into(), self.clock.now().into()]),
            )
            .await
            .map(drop)
    }

    /// `SET {assignment}` (which uses `$3` onward) on one account of `org`.
    async fn update_staff(
        &self,
        org: OrganizationId,
        id: StaffUserId,
        assignment: &'static str,
        values: Vec<Arg>,
    ) -> Result<(), StoreError> {
        let now: Timestamp = self.clock.now();
        let at = values.len() + 3;
        let sql = format!(
            "UPDATE staff_users SET {assignment}, version = version + 1, updated_at = ${at}
             WHERE organization_id = $1 AND id = $2"
        );
        let mut all = args([org.to_string().into(), id.to_string().into()]);
        all.extend(values);
        all.push(now.into());
        match self.db.execute(sqlx::AssertSqlSafe(sql), all).await? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }
}

/// Whether `user` is a staff member of `org` who is not disabled: who can
/// be assigned a conversation or belong to a team.
pub(super) async fn is_live_staff_in(tx: &mut Tx, org: OrganizationId, user: StaffUserId) -> Result<bool, StoreError> {
    let row = tx
        .fetch_optional(
            "SELECT id FROM staff_users WHERE organization_id = $1 AND id = $2 AND disabled_at IS NULL",
            args([org.to_string().into(), user.to_string().into()]),
        )
        .await?;
    Ok(row.is_some())
}
