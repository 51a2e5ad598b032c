//! Random secrets and their digests: session and API tokens, recovery codes,
//! CSRF tokens. High-entropy secrets are stored as SHA-256 digests (a slow
//! hash adds nothing to 256 random bits); comparisons are constant-time.
//! And `Secret`, a configured value that never prints.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `N` random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The OS generator failing is not something a server can continue past.
    getrandom::fill(&mut bytes).expect("the operating system's random generator failed");
    bytes
}

/// A new bearer secret: `prefix` then 32 random bytes in URL-safe base64.
pub fn random_token(prefix: &str) -> String {
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(random_bytes::<32>()))
}

/// The lowercase hex SHA-256 of `text`: how a secret is stored and looked up.
pub fn digest(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

pub fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

/// Equality whose time does not depend on where the inputs first differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// The CSRF token of a session: derived from the session's secret, so it
/// needs no storage and cannot be computed without the cookie.
pub fn csrf_token(session_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(format!("rapport-csrf:{session_token}").as_bytes()))
}

/// A value that must not be printed: shown as `[redacted]` in `Debug`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_url_safe() {
        let (a, b) = (random_token("rpt_"), random_token("rpt_"));
        assert_ne!(a, b);
        assert!(a.starts_with("rpt_") && a.len() == 4 + 43, "{a}");
        assert!(a[4..].bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }

    #[test]
    fn digests_are_sha256_hex() {
        assert_eq!(digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert_ne!(csrf_token("a"), csrf_token("b"));
    }
}
