//! Staff passwords: Argon2id with OWASP's parameters (19 MiB, 2 passes,
//! 1 lane), stored as PHC strings. Unknown accounts are checked against a
//! dummy hash so that they take as long as a wrong password.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

use super::secret::random_bytes;

/// Why a password was refused; names the rule, never the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    #[error("must be at least 12 characters")]
    TooShort,
    #[error("must be at most 256 characters")]
    TooLong,
    #[error("must not contain the account's email address")]
    ContainsEmail,
}

/// NIST SP 800-63B: length is what matters; no composition rules.
pub fn check_strength(password: &str, email: &str) -> Result<(), WeakPassword> {
    let length = password.chars().count();
    if length < 12 {
        return Err(WeakPassword::TooShort);
    }
    if length > 256 {
        return Err(WeakPassword::TooLong);
    }
    let local = email.split('@').next().unwrap_or(email).to_lowercase();
    if local.len() >= 4 && password.to_lowercase().contains(&local) {
        return Err(WeakPassword::ContainsEmail);
    }
    Ok(())
}

fn hasher() -> Argon2<'static> {
    let params =
        Params::new(Params::DEFAULT_M_COST, Params::DEFAULT_T_COST, Params::DEFAULT_P_COST, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The PHC string of `password` with a fresh random salt.
pub fn hash(password: &str) -> String {
    let salt = random_bytes::<16>();
    match hasher().hash_password_with_salt(password.as_bytes(), &salt) {
        Ok(hash) => hash.to_string(),
        // Only a password beyond Argon2's 4 GiB limit fails; check_strength caps far below.
        Err(_) => String::new(),
    }
}

/// True when `password` matches `phc`; a malformed hash never matches.
pub fn verify(password: &str, phc: &str) -> bool {
    hasher().verify_password(password.as_bytes(), phc).is_ok()
}

/// Spends the time of one verification against a hash that matches nothing,
/// for a login whose account does not exist.
pub fn verify_nothing(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("a password no account has, for timing only"));
    let _ = verify(password, dummy);
}

/// At most this many Argon2 computations at once: each takes 19 MiB and
/// ~20 ms of a core, so a burst of sign-ins queues instead of exhausting
/// memory.
const CONCURRENT_HASHES: usize = 4;

/// Runs `work` on the blocking pool (20 ms of Argon2 must not stall the
/// async workers serving other requests), a few at a time.
async fn off_thread<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    static PERMITS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(CONCURRENT_HASHES);
    let _permit = PERMITS.acquire().await.ok()?;
    tokio::task::spawn_blocking(work).await.ok()
}

/// [`verify`], off the async workers.
pub async fn verify_off_thread(password: &str, phc: &str) -> bool {
    let (password, phc) = (password.to_owned(), phc.to_owned());
    off_thread(move || verify(&password, &phc)).await.unwrap_or(false)
}

/// [`verify_nothing`], off the async workers.
pub async fn verify_nothing_off_thread(password: &str) {
    let password = password.to_owned();
    off_thread(move || verify_nothing(&password)).await;
}

/// [`hash`], off the async workers.
pub async fn hash_off_thread(password: &str) -> String {
    let password = password.to_owned();
    off_thread(move || hash(&password)).await.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_salted_argon2id_and_verify() {
        let a = hash("correct horse battery staple");
        let b = hash("correct horse battery staple");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert!(verify("correct horse battery staple", &a));
        assert!(!verify("correct horse battery stapler", &a));
        assert!(!verify("anything", "not a phc string"));
    }

    #[test]
    fn strength_rules_name_the_rule() {
        assert_eq!(check_strength("short", "ann@example.org"), Err(WeakPassword::TooShort));
        assert_eq!(check_strength(&"x".repeat(257), "ann@example.org"), Err(WeakPassword::TooLong));
        assert_eq!(check_strength("my-name-is-annlee-ok", "annlee@example.org"), Err(WeakPassword::ContainsEmail));
        assert_eq!(check_strength("twelve chars", "ann@example.org"), Ok(()));
    }
}
