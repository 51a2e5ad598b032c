//! Staff identity: password hashing, one-time codes, bearer secrets, and
//! the sign-in flow over the store (throttling, MFA, sessions, tokens).
//! HTTP handlers call in here; nothing here knows HTTP.

pub mod password;
pub mod secret;
pub mod totp;
