//! Web push (RFC 8030) to the subscriptions patients' browsers and apps
//! gave: the payload encrypted to the subscription's keys (RFC 8291,
//! `aes128gcm`), the request signed with this deployment's VAPID key
//! (RFC 8292: an ES256 JWT for the push service's origin, and the public
//! key). A message's address is its subscription's id.
//!
//! Answers: 201 accepted; 404 or 410 the subscription is gone (the message
//! is undeliverable, the subscription never used again); 429 and 5xx
//! retried (honouring `Retry-After`); 413 and other 4xx refused. A push
//! service cannot be asked what it holds, so an answer that broke off
//! leaves the message in doubt, never resent.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use std::sync::Arc;

use rapport_domain::{MessageId, OrganizationId, PushSubscriptionId};

use super::{BoxFuture, Found, Handoff, Outcome, Provider, Starts, in_groups};

/// A subscription as a push needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscriber {
    pub id: PushSubscriptionId,
    pub organization_id: OrganizationId,
    /// The push service's URL for this subscription (https).
    pub endpoint: String,
    /// The subscriber's P-256 public key and 16-byte secret, base64url.
    pub p256dh: String,
    pub auth: String,
}

/// What web push reads, passed in by the engine (the store's
/// subscriptions and clock, `crate::channel_store`): the channel keeps
/// nothing.
pub trait Subscribers: Send + Sync {
    fn now(&self) -> Timestamp;
    /// The live subscriptions among `ids` (a gone one is absent).
    fn by_ids<'a>(&'a self, ids: &'a [PushSubscriptionId]) -> BoxFuture<'a, Result<Vec<Subscriber>, String>>;
}

/// How the push channel is set up.
#[derive(Debug, Clone, PartialEq)]
pub struct WebPushSettings {
    /// Who runs this deployment, for push services (`mailto:it@example.org` or an https URL).
    pub subject: String,
    pub timeout: Duration,
    /// How long a push service keeps a message for an offline device.
    pub ttl: Duration,
}

/// This deployment's VAPID key pair (RFC 8292), made on first use.
#[derive(Clone)]
pub struct Vapid {
    key: SigningKey,
    public: String,
}

impl std::fmt::Debug for Vapid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vapid").field("public", &self.public).finish_non_exhaustive()
    }
}

impl Vapid {
    /// The key from its secret bytes (a P-256 scalar), kept by the deployment.
    pub fn from_secret(secret: &[u8]) -> Result<Self, &'static str> {
        let key = SigningKey::from_slice(secret).map_err(|_| "the VAPID key is not a P-256 key")?;
        let point = key.verifying_key().to_encoded_point(false);
        Ok(Self { key, public: URL_SAFE_NO_PAD.encode(point.as_bytes()) })
    }

    /// The public key browsers subscribe with (`applicationServerKey`), base64url.
    pub fn public_key(&self) -> &str {
        &self.public
    }

    /// The `Authorization` header for a request to `endpoint`: a JWT for
    /// its origin, valid 12 hours from `now`, naming `subject`.
    pub fn authorization(&self, endpoint: &str, subject: &str, now: Timestamp) -> Option<String> {
        let origin = origin(endpoint)?;
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({"aud": origin, "exp": now.as_second() + 12 * 3600, "sub": subject});
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signing_input = format!("{header}.{claims}");
        let signature: Signature = self.key.sign(signing_input.as_bytes());
        let jwt = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()));
        Some(format!("vapid t={jwt}, k={}", self.public))
    }
}

/// A push's `Topic` (at most 32 characters of the URL-safe Base64
/// alphabet): its message's id without the hyphens.
fn topic(id: MessageId) -> String {
    id.to_string().replace('-', "")
}

/// `https://push.example.net` of `https://push.example.net/wpush/abc`.
pub fn origin(endpoint: &str) -> Option<String> {
    let (scheme, rest) = endpoint.split_once("://")?;
    let host = rest.split('/').next().filter(|h| !h.is_empty())?;
    Some(format!("{scheme}://{host}"))
}

/// Checks a subscription's keys as a browser gives them: `p256dh` a P-256
/// public key (uncompressed point), `auth` 16 bytes, both base64url.
pub fn check_keys(p256dh: &str, auth: &str) -> Result<(), &'static str> {
    decode_keys(p256dh, auth).map(drop)
}

fn decode_keys(p256dh: &str, auth: &str) -> Result<(p256::PublicKey, web_push_native::Auth), &'static str> {
    let decode = |text: &str| URL_SAFE_NO_PAD.decode(text.trim_end_matches('='));
    let point = decode(p256dh).map_err(|_| "p256dh is not base64url")?;
    let public = p256::PublicKey::from_sec1_bytes(&point).map_err(|_| "p256dh is not a P-256 public key")?;
    let secret = decode(auth).map_err(|_| "auth is not base64url")?;
    if secret.len() != 16 {
        return Err("auth is not 16 bytes");
    }
    Ok((public, web_push_native::Auth::clone_from_slice(&secret)))
}

pub struct WebPush {
    subscribers: Arc<dyn Subscribers>,
    settings: WebPushSettings,
    vapid: Vapid,
    client: reqwest::Client,
}

impl WebPush {
    pub fn with_subscribers(
        subscribers: Arc<dyn Subscribers>,
        settings: WebPushSettings,
        vapid: Vapid,
    ) -> anyhow::Result<Self> {
        crate::tls::install_crypto_provider();
        let client = reqwest::Client::builder().timeout(settings.timeout).build()?;
        Ok(Self { subscribers, settings, vapid, client })
    }

    async fn push(&self, handoff: &Handoff, subscription: Option<&Subscriber>) -> Outcome {
        let Some(subscription) = subscription.filter(|s| s.organization_id == handoff.organization_id) else {
            return Outcome::Refused { reason: "the push subscription is gone".into(), undeliverable: true };
        };
        let Ok((public, auth)) = decode_keys(&subscription.p256dh, &subscription.auth) else {
            return Outcome::Refused { reason: "the subscription's keys are not usable".into(), undeliverable: true };
        };
        let payload = serde_json::json!({
            "title": handoff.subject.clone().unwrap_or_else(|| "New message".into()),
            "body": handoff.body,
            "message_id": handoff.message_id.to_string(),
            // The service worker shows it under this tag: a device that got a resend shows one.
            "tag": handoff.message_id.to_string(),
        });
        let Ok(body) = web_push_native::encrypt(payload.to_string().into_bytes(), &public, &auth) else {
            return Outcome::Refused { reason: "the payload could not be encrypted".into(), undeliverable: false };
        };
        let now = self.subscribers.now();
        let Some(authorization) = self.vapid.authorization(&subscription.endpoint, &self.settings.subject, now) else {
            return Outcome::Refused { reason: "the endpoint is not a URL".into(), undeliverable: true };
        };
        let request = self
            .client
            .post(&subscription.endpoint)
            .header("TTL", self.settings.ttl.as_secs().to_string())
            .header("Urgency", "normal")
            // A resend replaces a copy still pending at the push service (RFC 8030 §5.4).
            .header("Topic", topic(handoff.message_id))
            .header("Content-Encoding", "aes128gcm")
            .header("Content-Type", "application/octet-stream")
            .header("Authorization", authorization)
            .body(body);
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) if error.is_connect() => {
                return Outcome::Retry { reason: "the push service could not be reached".into(), after: None };
            }
            Err(_) => return Outcome::InDoubt { reason: "the push service did not answer in time".into() },
        };
        let status = response.status().as_u16();
        let retry_after = super::retry_after(response.headers());
        let location = response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
        match status {
            200..=299 => Outcome::Accepted {
                provider_ref: location.unwrap_or_else(|| format!("push-{}", handoff.message_id)).into(),
            },
            404 | 410 => {
                Outcome::Refused { reason: format!("the subscription is gone ({status})"), undeliverable: true }
            }
            429 | 500..=599 => {
                Outcome::Retry { reason: format!("the push service answered {status}"), after: retry_after }
            }
            _ => Outcome::Refused { reason: format!("the push service refused it ({status})"), undeliverable: false },
        }
    }
}

impl Provider for WebPush {
    fn name(&self) -> &'static str {
        "webpush"
    }

    fn send<'a>(&'a self, handoff: &'a Handoff) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let deadline = Instant::now() + self.settings.timeout;
            let mut outcomes = self.send_many(std::slice::from_ref(handoff), deadline, &super::NoRecord).await;
            outcomes.pop().unwrap_or(Outcome::NotAttempted)
        })
    }

    /// The subscriptions in one read, then 16 pushes at a time, each
    /// group's starts recorded first.
    fn send_many<'a>(
        &'a self,
        handoffs: &'a [Handoff],
        deadline: Instant,
        starts: &'a dyn Starts,
    ) -> BoxFuture<'a, Vec<Outcome>> {
        Box::pin(async move {
            let ids: Vec<PushSubscriptionId> = handoffs.iter().filter_map(|h| h.to.parse().ok()).collect();
            let subscriptions: HashMap<String, Subscriber> = match self.subscribers.by_ids(&ids).await {
                Ok(found) => found.into_iter().map(|s| (s.id.to_string(), s)).collect(),
                Err(error) => {
                    let reason = format!("the subscriptions could not be read: {error}");
                    return handoffs.iter().map(|_| Outcome::Retry { reason: reason.clone(), after: None }).collect();
                }
            };
            in_groups(handoffs, deadline, starts, |h: &'a Handoff| self.push(h, subscriptions.get(&h.to))).await
        })
    }

    /// Push services keep no list to ask, but a resend is harmless: it
    /// replaces a pending copy (`Topic`), and a device that got both shows
    /// one (`tag`). So a push whose answer was lost is sent again.
    fn lookup<'a>(&'a self, _handoff: &'a Handoff) -> BoxFuture<'a, Found> {
        Box::pin(async { Found::No })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_and_keys() {
        assert_eq!(origin("https://push.example.net/wpush/v2/abc").as_deref(), Some("https://push.example.net"));
        assert_eq!(origin("http://127.0.0.1:4000/push/1").as_deref(), Some("http://127.0.0.1:4000"));
        assert_eq!(origin("not a url"), None);
        // A point from RFC 8291's example (section 5).
        let ua_public = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
        assert_eq!(check_keys(ua_public, "BTBZMqHH6r4Tts7J_aSIgg"), Ok(()));
        assert_eq!(check_keys(ua_public, "BTBZMqHH6r4Tts7J"), Err("auth is not 16 bytes"));
        assert_eq!(check_keys("AAAA", "BTBZMqHH6r4Tts7J_aSIgg"), Err("p256dh is not a P-256 public key"));
        assert_eq!(check_keys("*", "BTBZMqHH6r4Tts7J_aSIgg"), Err("p256dh is not base64url"));
    }
}
