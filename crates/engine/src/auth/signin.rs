//! Signing in: throttling per account and per client address, the password,
//! the second factor, then a new session. Every failure answers the same
//! way whether or not the account exists, after the same amount of work.

use jiff::{SignedDuration, Timestamp};
use rapport_domain::{ActorKind, Email, NewAuditEvent, Outcome, SessionId, SessionInfo, StaffUser};

use super::secret::{csrf_token, digest, random_token};
use super::{password, recovery, totp};
use rapport_store::{Credentials, NewSession, Store, StoreError, ThrottleRule};

/// Session lifetimes and sign-in throttling.
#[derive(Debug, Clone, Copy)]
pub struct AuthSettings {
    /// A session unused this long ends (HIPAA's automatic logoff).
    pub session_idle: SignedDuration,
    /// A session ends this long after sign-in, used or not.
    pub session_absolute: SignedDuration,
    /// Failures that lock one sign-in name.
    pub per_account: ThrottleRule,
    /// Failures that lock one client address (guessing across many names).
    pub per_address: ThrottleRule,
    /// Write password-reset links to the log (development, until email exists).
    pub log_reset_links: bool,
    /// How often a live stream checks that its caller may still listen
    /// (the session not ended, expired or idle; the token not revoked).
    pub stream_recheck: SignedDuration,
}

impl Default for AuthSettings {
    fn default() -> Self {
        let quarter_hour = SignedDuration::from_mins(15);
        Self {
            session_idle: quarter_hour,
            session_absolute: SignedDuration::from_hours(12),
            per_account: ThrottleRule { max_failures: 5, window: quarter_hour, lockout: quarter_hour },
            per_address: ThrottleRule { max_failures: 20, window: quarter_hour, lockout: quarter_hour },
            log_reset_links: false,
            stream_recheck: SignedDuration::from_secs(30),
        }
    }
}

/// Where a request came from, for throttling, sessions and the audit trail.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub address: Option<String>,
    pub user_agent: Option<String>,
}

/// What the person typed.
#[derive(Debug, Clone)]
pub struct SignIn {
    pub email: String,
    pub password: String,
    /// A 6-digit code from the authenticator app.
    pub code: Option<String>,
    /// One of the recovery codes, instead of `code`.
    pub recovery_code: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Unknown account, wrong password or disabled account: one answer for all.
    #[error("the email or password is wrong")]
    InvalidCredentials,
    /// The password was right; the account's second factor is needed.
    #[error("a one-time code is required")]
    MfaRequired,
    #[error("the one-time code is wrong or used")]
    InvalidCode,
    #[error("too many failed attempts")]
    Throttled { retry_after: SignedDuration },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new session: the cookie's secret is shown here once and stored as a digest.
#[derive(Debug, Clone)]
pub struct SignedInSession {
    pub user: StaffUser,
    pub session: SessionInfo,
    pub token: String,
    pub csrf_token: String,
}

fn account_key(email: &str) -> String {
    format!("account:{}", digest(&email.trim().to_lowercase()))
}

pub async fn sign_in(
    store: &Store,
    settings: &AuthSettings,
    request: &SignIn,
    client: &ClientInfo,
) -> Result<SignedInSession, SignInError> {
    let now = store.clock().now();
    let account = account_key(&request.email);
    let address = client.address.as_ref().map(|a| format!("address:{a}"));
    for key in std::iter::once(&account).chain(address.as_ref()) {
        if let Some(until) = store.login_locked_until(key).await? {
            return Err(SignInError::Throttled { retry_after: until.duration_since(now) });
        }
    }
    let found = match Email::parse(&request.email) {
        Ok(email) => store.staff_sign_in(&email).await?,
        Err(_) => None,
    };
    let Some((user, credentials)) = found else {
        password::verify_nothing_off_thread(&request.password).await;
        fail(store, settings, &account, address.as_deref(), None, client, "unknown account").await?;
        return Err(SignInError::InvalidCredentials);
    };
    let password_ok = password::verify_off_thread(&request.password, &credentials.password_hash).await;
    if !password_ok || !user.is_active() {
        let why = if password_ok { "account disabled" } else { "wrong password" };
        fail(store, settings, &account, address.as_deref(), Some(&user), client, why).await?;
        return Err(SignInError::InvalidCredentials);
    }
    if user.mfa_enrolled {
        check_second_factor(store, settings, request, &user, &credentials, (&account, address.as_deref()), client)
            .await?;
    }
    let mfa_pending =
        !user.mfa_enrolled && (user.role.requires_mfa() || store.mfa_required_for_all(user.organization_id).await?);
    store.clear_login_failures(&account).await?;
    let token = random_token("rps_");
    let session = store
        .create_session(&NewSession {
            user_id: user.id,
            organization_id: user.organization_id,
            token_digest: digest(&token),
            mfa_pending,
            client_address: client.address.clone(),
            user_agent: client.user_agent.clone(),
            expires_at: now + settings.session_absolute,
        })
        .await?;
    let mut event = audit_event(Some(&user), client, Outcome::Success, None);
    event.resource_id = Some(session.id.to_string());
    store.append_audit(&event).await?;
    Ok(SignedInSession { csrf_token: csrf_token(&token), user, session, token })
}

async fn check_second_factor(
    store: &Store,
    settings: &AuthSettings,
    request: &SignIn,
    user: &StaffUser,
    credentials: &Credentials,
    (account, address): (&str, Option<&str>),
    client: &ClientInfo,
) -> Result<(), SignInError> {
    let accepted = if let Some(code) = &request.recovery_code {
        store.use_recovery_code(user.id, &recovery::digest_of(code)).await?
    } else if let Some(code) = &request.code {
        let secret = credentials.mfa_secret.as_deref().and_then(totp::base32_decode).unwrap_or_default();
        match totp::verify(&secret, code, store.clock().now(), credentials.mfa_last_step) {
            Some(step) => store.use_mfa_step(user.id, step).await?,
            None => false,
        }
    } else {
        return Err(SignInError::MfaRequired);
    };
    if accepted {
        return Ok(());
    }
    fail(store, settings, account, address, Some(user), client, "wrong one-time code").await?;
    Err(SignInError::InvalidCode)
}

/// Counts the failure against both keys and writes it to the trail.
async fn fail(
    store: &Store,
    settings: &AuthSettings,
    account: &str,
    address: Option<&str>,
    user: Option<&StaffUser>,
    client: &ClientInfo,
    why: &str,
) -> Result<(), StoreError> {
    store.record_login_failure(account, settings.per_account).await?;
    if let Some(address) = address {
        store.record_login_failure(address, settings.per_address).await?;
    }
    store.append_audit(&audit_event(user, client, Outcome::Denied, Some(why))).await.map(drop)
}

fn audit_event(user: Option<&StaffUser>, client: &ClientInfo, outcome: Outcome, why: Option<&str>) -> NewAuditEvent {
    let kind = if user.is_some() { ActorKind::User } else { ActorKind::Anonymous };
    let mut event = NewAuditEvent::new(user.map(|u| u.organization_id), kind, "auth.login", outcome);
    event.actor_id = user.map(|u| u.id.to_string());
    event.resource_type = Some("session".into());
    event.reason = why.map(str::to_owned);
    event.client_address = client.address.clone();
    event.user_agent = client.user_agent.clone();
    event
}

/// The session's user, if the session is live: expired ones (idle or
/// absolute) and those of a disabled account are ended on sight.
async fn live_user(
    store: &Store,
    settings: &AuthSettings,
    session: &SessionInfo,
) -> Result<Option<StaffUser>, StoreError> {
    let now: Timestamp = store.clock().now();
    if now >= session.expires_at || now.duration_since(session.last_seen_at) >= settings.session_idle {
        store.end_session(session.id).await?;
        return Ok(None);
    }
    let (user, _) = store.staff_credentials(session.user_id).await?;
    if !user.is_active() {
        store.end_session(session.id).await?;
        return Ok(None);
    }
    Ok(Some(user))
}

/// Whether session `id` is still live (without counting this as activity):
/// a live stream asks, now and then, on behalf of the session that opened it.
pub async fn session_is_live(store: &Store, settings: &AuthSettings, id: SessionId) -> Result<bool, StoreError> {
    let Some(session) = store.session(id).await? else { return Ok(false) };
    Ok(live_user(store, settings, &session).await?.is_some())
}

/// The live session whose cookie secret is `token`: expired ones (idle or
/// absolute) are ended on sight, and a disabled account has none.
pub async fn session_for(
    store: &Store,
    settings: &AuthSettings,
    token: &str,
) -> Result<Option<(StaffUser, SessionInfo)>, StoreError> {
    let Some(session) = store.session_by_digest(&digest(token)).await? else { return Ok(None) };
    let Some(user) = live_user(store, settings, &session).await? else { return Ok(None) };
    let now: Timestamp = store.clock().now();
    // One write a minute at most keeps the idle clock right to the minute.
    if now.duration_since(session.last_seen_at) >= SignedDuration::from_mins(1) {
        store.touch_session(session.id).await?;
    }
    Ok(Some((user, session)))
}
