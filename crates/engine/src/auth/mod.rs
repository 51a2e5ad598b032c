//! Staff identity: password hashing, one-time codes, bearer secrets, and
//! the sign-in flow over the store (throttling, MFA, sessions, tokens).
//! HTTP handlers call in here; nothing here knows HTTP.

pub mod mfa;
pub mod password;
pub mod recovery;
pub mod reset;
pub mod signin;
pub mod smart;
pub mod totp;

pub use rapport_secret as secret;

pub use signin::{AuthSettings, ClientInfo, SignIn, SignInError, SignedInSession};

use rapport_domain::ApiToken;

use rapport_store::{Store, StoreError};

/// Prefix of API tokens (`rpt_…`); session secrets start `rps_`.
pub const TOKEN_PREFIX: &str = "rpt_";

/// The live token whose secret is `secret`; marks it used (once a minute at most).
pub async fn token_for(store: &Store, secret: &str) -> Result<Option<ApiToken>, StoreError> {
    if !secret.starts_with(TOKEN_PREFIX) || secret.len() > 128 {
        return Ok(None);
    }
    let Some(token) = store.api_token_by_digest(&secret::digest(secret)).await? else { return Ok(None) };
    let now = store.clock().now();
    if token.last_used_at.is_none_or(|at| now.duration_since(at) >= jiff::SignedDuration::from_mins(1)) {
        store.touch_api_token(token.id).await?;
    }
    Ok(Some(token))
}
