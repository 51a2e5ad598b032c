//! Password reset by a single-use link that expires in 30 minutes. Asking
//! answers the same whether or not the account exists; until the outbound
//! email channel exists, the link is written to the log when the operator
//! turns `log_password_reset_links` on (development), and administrators
//! otherwise set passwords with `rapport user set-password`.

use jiff::SignedDuration;
use rapport_domain::{ActorKind, Email, NewAuditEvent, Outcome, StaffUser};

use super::secret::{digest, random_token};
use super::{ClientInfo, password};
use rapport_store::{Store, StoreError, ThrottleRule};

pub const LINK_LIFETIME: SignedDuration = SignedDuration::from_mins(30);

/// At most three links per account in 15 minutes (the rest are not made).
const PER_ACCOUNT: ThrottleRule =
    ThrottleRule { max_failures: 3, window: SignedDuration::from_mins(15), lockout: SignedDuration::from_mins(15) };

#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    #[error("the link is unknown, used or expired")]
    BadLink,
    #[error("the new password {0}")]
    Weak(password::WeakPassword),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Makes a link for the active account with this email, if there is one
/// and it has not asked too often; returns the account and the secret.
pub async fn request(store: &Store, email: &str) -> Result<Option<(StaffUser, String)>, StoreError> {
    let Ok(email) = Email::parse(email) else { return Ok(None) };
    let key = format!("reset:{}", digest(&email.as_str().to_lowercase()));
    if store.login_locked_until(&key).await?.is_some() {
        return Ok(None);
    }
    store.record_login_failure(&key, PER_ACCOUNT).await?;
    let Some((user, _)) = store.staff_sign_in(&email).await? else { return Ok(None) };
    if !user.is_active() {
        return Ok(None);
    }
    let token = random_token("rpr_");
    store.create_password_reset(user.id, &digest(&token), store.clock().now() + LINK_LIFETIME).await?;
    store.append_audit(&event(&user, "auth.password_reset_request", None)).await?;
    Ok(Some((user, token)))
}

/// Sets the new password with a link's secret and ends every session.
pub async fn complete(store: &Store, token: &str, new_password: &str, client: &ClientInfo) -> Result<(), ResetError> {
    let Some(user_id) = store.password_reset_user(&digest(token)).await? else { return Err(ResetError::BadLink) };
    let (user, _) = store.staff_credentials(user_id).await?;
    // A weak password is refused before the link is spent, so it can be tried again.
    password::check_strength(new_password, user.email.as_str()).map_err(ResetError::Weak)?;
    if store.use_password_reset(&digest(token)).await? != Some(user.id) {
        return Err(ResetError::BadLink);
    }
    store.set_staff_password(user.id, &password::hash_off_thread(new_password).await).await?;
    store.end_sessions_of(user.id).await?;
    store.append_audit(&event(&user, "auth.password_reset", Some(client))).await?;
    Ok(())
}

fn event(user: &StaffUser, action: &str, client: Option<&ClientInfo>) -> NewAuditEvent {
    let mut event = NewAuditEvent::new(Some(user.organization_id), ActorKind::User, action, Outcome::Success);
    event.actor_id = Some(user.id.to_string());
    event.resource_type = Some("staff_user".into());
    event.resource_id = Some(user.id.to_string());
    event.client_address = client.and_then(|c| c.address.clone());
    event.user_agent = client.and_then(|c| c.user_agent.clone());
    event
}
