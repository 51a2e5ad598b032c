//! The signed links a message carries to its patient, under a key this
//! deployment generated for itself (`deployment_keys`). Each names one
//! message (hence its patient and visit), cannot be forged for another,
//! and carries no patient data.
//!
//! - One-click unsubscribe (RFC 8058): `{public_url}/unsubscribe/{id}.{mac}`.
//! - A visit's answer pages: `{public_url}/answer/{id}.{answer}.{expiry}.{mac}`,
//!   where the answer is confirm, cancel or reschedule and the expiry the
//!   visit's start (Unix seconds); the MAC covers all three, under its own
//!   label, so an unsubscribe token is never an answer token.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use jiff::Timestamp;
use rapport_domain::{Answer, MessageId};
use sha2::Sha256;

use rapport_store::{Store, StoreError};

/// The key's name in `deployment_keys` (it signed unsubscribe links first).
const KEY_NAME: &str = "unsubscribe-links";

#[derive(Clone)]
pub struct PatientLinks {
    base_url: String,
    key: Vec<u8>,
}

impl std::fmt::Debug for PatientLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PatientLinks").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

/// What a genuine answer token names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerToken {
    pub message_id: MessageId,
    pub answer: Answer,
    pub expires_at: Timestamp,
}

impl PatientLinks {
    /// Links under `base_url` (the public URL), with this deployment's key.
    pub async fn load(store: &Store, base_url: &str) -> Result<Self, StoreError> {
        let key = store.deployment_key(KEY_NAME).await?;
        Ok(Self { base_url: base_url.trim_end_matches('/').to_owned(), key })
    }

    fn mac(&self, signed: &str) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else { return String::new() };
        mac.update(signed.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    fn genuine(&self, signed: &str, mac: &str) -> bool {
        crate::auth::secret::constant_time_eq(self.mac(signed).as_bytes(), mac.as_bytes())
    }

    pub fn token(&self, id: MessageId) -> String {
        format!("{id}.{}", self.mac(&id.to_string()))
    }

    /// The message's one-click unsubscribe page.
    pub fn link(&self, id: MessageId) -> String {
        format!("{}/unsubscribe/{}", self.base_url, self.token(id))
    }

    /// The message an unsubscribe token names, if the token is genuine.
    pub fn verify(&self, token: &str) -> Option<MessageId> {
        let (id, mac) = token.split_once('.')?;
        let id: MessageId = id.parse().ok()?;
        self.genuine(&id.to_string(), mac).then_some(id)
    }

    fn answer_signed(id: MessageId, answer: Answer, expires: i64) -> String {
        format!("answer:{id}:{}:{expires}", answer.as_str())
    }

    /// The page where the patient gives `answer` to the visit message `id`
    /// is about; it stops working at `expires_at`.
    pub fn answer_link(&self, id: MessageId, answer: Answer, expires_at: Timestamp) -> String {
        let expires = expires_at.as_second();
        let mac = self.mac(&Self::answer_signed(id, answer, expires));
        format!("{}/answer/{id}.{}.{expires}.{mac}", self.base_url, answer.as_str())
    }

    /// What an answer token names, if it is genuine (expiry not checked).
    pub fn verify_answer(&self, token: &str) -> Option<AnswerToken> {
        let mut parts = token.split('.');
        let (id, answer, expires, mac) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let message_id: MessageId = id.parse().ok()?;
        let answer: Answer = answer.parse().ok()?;
        let expires: i64 = expires.parse().ok()?;
        let expires_at = Timestamp::from_second(expires).ok()?;
        self.genuine(&Self::answer_signed(message_id, answer, expires), mac).then_some(AnswerToken {
            message_id,
            answer,
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links() -> PatientLinks {
        PatientLinks { base_url: "https://r.example".into(), key: b"a key of this deployment's own".to_vec() }
    }

    #[test]
    fn an_answer_token_names_its_message_answer_and_expiry_and_resists_tampering() {
        let links = links();
        let id = MessageId::generate();
        let expires = Timestamp::from_second(1_800_000_000).expect("valid");
        let link = links.answer_link(id, Answer::Cancel, expires);
        let token = link.strip_prefix("https://r.example/answer/").expect("under the public URL");
        let named = links.verify_answer(token).expect("genuine");
        assert_eq!((named.message_id, named.answer, named.expires_at), (id, Answer::Cancel, expires));
        let swapped = token.replace(".cancel.", ".confirm.");
        assert_eq!(links.verify_answer(&swapped), None, "the answer is signed");
        let later = token.replace(".1800000000.", ".1900000000.");
        assert_eq!(links.verify_answer(&later), None, "the expiry is signed");
        let other = PatientLinks { key: b"another deployment".to_vec(), ..links.clone() };
        assert_eq!(other.verify_answer(token), None);
        assert_eq!(links.verify(token), None, "an answer token is no unsubscribe token");
        assert_eq!(links.verify_answer(&links.token(id)), None, "nor the other way round");
    }
}
