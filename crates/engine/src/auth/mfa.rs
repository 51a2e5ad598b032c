//! MFA enrolment: a secret handed out, then confirmed with a first code,
//! which also yields the recovery codes.

use rapport_domain::StaffUser;

use super::{recovery, secret, totp};
use rapport_store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum EnrolmentError {
    #[error("a second factor is enrolled already; an administrator can reset it")]
    AlreadyEnrolled,
    #[error("no enrolment was started")]
    NotStarted,
    #[error("the one-time code is wrong")]
    WrongCode,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A secret for the authenticator app, and its provisioning URI.
#[derive(Debug, Clone)]
pub struct Enrolment {
    pub secret: String,
    pub otpauth_uri: String,
}

pub async fn start(store: &Store, user: &StaffUser, issuer: &str) -> Result<Enrolment, EnrolmentError> {
    if user.mfa_enrolled {
        return Err(EnrolmentError::AlreadyEnrolled);
    }
    let secret = totp::base32_encode(&secret::random_bytes::<20>());
    store.begin_mfa_enrolment(user.id, &secret).await?;
    let otpauth_uri = totp::otpauth_uri(issuer, user.email.as_str(), &secret);
    Ok(Enrolment { secret, otpauth_uri })
}

/// Confirms with a code of the pending secret; returns the recovery codes.
pub async fn confirm(store: &Store, user: &StaffUser, code: &str) -> Result<Vec<String>, EnrolmentError> {
    if user.mfa_enrolled {
        return Err(EnrolmentError::AlreadyEnrolled);
    }
    let (_, credentials) = store.staff_credentials(user.id).await?;
    let pending = credentials.mfa_pending_secret.ok_or(EnrolmentError::NotStarted)?;
    let secret = totp::base32_decode(&pending).unwrap_or_default();
    let step = totp::verify(&secret, code, store.clock().now(), None).ok_or(EnrolmentError::WrongCode)?;
    let codes = recovery::generate();
    let digests: Vec<String> = codes.iter().map(|c| recovery::digest_of(c)).collect();
    store.confirm_mfa_enrolment(user.id, step, &digests).await?;
    Ok(codes)
}
