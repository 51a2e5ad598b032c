//! One-click unsubscribe links (RFC 8058): `{public_url}/unsubscribe/{token}`
//! where the token is the message's id and an HMAC-SHA256 of it under a key
//! this deployment generated for itself (`deployment_keys`). A link names
//! one message, hence its patient, channel and purpose; it cannot be forged
//! for another, and it carries no patient data.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use rapport_domain::MessageId;
use sha2::Sha256;

use crate::store::{Store, StoreError};

/// The key's name in `deployment_keys`.
const KEY_NAME: &str = "unsubscribe-links";

#[derive(Clone)]
pub struct UnsubscribeLinks {
    base_url: String,
    key: Vec<u8>,
}

impl std::fmt::Debug for UnsubscribeLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnsubscribeLinks").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

impl UnsubscribeLinks {
    /// Links under `base_url` (the public URL), with this deployment's key.
    pub async fn load(store: &Store, base_url: &str) -> Result<Self, StoreError> {
        let key = store.deployment_key(KEY_NAME).await?;
        Ok(Self { base_url: base_url.trim_end_matches('/').to_owned(), key })
    }

    fn mac(&self, id: MessageId) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else { return String::new() };
        mac.update(id.to_string().as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    pub fn token(&self, id: MessageId) -> String {
        format!("{id}.{}", self.mac(id))
    }

    pub fn link(&self, id: MessageId) -> String {
        format!("{}/unsubscribe/{}", self.base_url, self.token(id))
    }

    /// The message a token names, if the token is genuine.
    pub fn verify(&self, token: &str) -> Option<MessageId> {
        let (id, mac) = token.split_once('.')?;
        let id: MessageId = id.parse().ok()?;
        crate::auth::secret::constant_time_eq(self.mac(id).as_bytes(), mac.as_bytes()).then_some(id)
    }
}
