//! A web push service (RFC 8030) for the tests and the demo. It hands out
//! subscriptions as a browser would (an endpoint, a P-256 key, an auth
//! secret), and for each push it checks the VAPID authorization (RFC 8292:
//! an ES256 JWT for its own origin, not expired, signed by the key given),
//! requires `TTL` and `Content-Encoding: aes128gcm`, and decrypts the
//! payload with the subscription's private key (RFC 8291): what it records
//! is what a browser would show. Fault modes: 500, 429 with `Retry-After`;
//! a subscription the "browser" dropped answers 410 Gone.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State as AxumState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use tokio::net::TcpListener;

use super::AbortOnDrop;
use rapport_store::clock::Clock;

/// How the next push fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushFault {
    ServerError,
    RateLimited { retry_after_secs: u64 },
}

/// A subscription as a browser gives it to the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimSubscription {
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
}

/// A push the service accepted, decrypted.
#[derive(Debug, Clone, PartialEq)]
pub struct SimPush {
    pub endpoint: String,
    pub payload: serde_json::Value,
    pub ttl: u64,
    pub urgency: Option<String>,
    /// The VAPID public key that signed the request (`k=`).
    pub vapid_key: String,
}

struct Subscriber {
    secret: p256::SecretKey,
    auth: web_push_native::Auth,
}

#[derive(Default)]
struct State {
    subscribers: HashMap<String, Subscriber>,
    dropped: HashSet<String>,
    received: Vec<SimPush>,
    faults: VecDeque<PushFault>,
    refused: usize,
}

/// A running push service; it stops when dropped.
#[derive(Clone)]
pub struct PushSimulator {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    _task: Arc<AbortOnDrop>,
}

impl PushSimulator {
    /// Starts on a free loopback port; VAPID expiry is read against `clock`.
    pub async fn start(clock: Clock) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let service = Service { origin: format!("http://{addr}"), state: state.clone(), clock };
        let app = Router::new().route("/push/{id}", post(receive)).with_state(service);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, state, _task: Arc::new(AbortOnDrop(task)) })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new subscription, with fresh keys.
    pub fn subscribe(&self) -> SimSubscription {
        let secret = loop {
            let bytes = rapport_secret::random_bytes::<32>();
            if let Ok(secret) = p256::SecretKey::from_slice(&bytes) {
                break secret;
            }
        };
        let auth = rapport_secret::random_bytes::<16>();
        let id = rapport_secret::hex(&rapport_secret::random_bytes::<12>());
        let endpoint = format!("http://{}/push/{id}", self.addr);
        let p256dh = URL_SAFE_NO_PAD.encode(secret.public_key().to_encoded_point(false).as_bytes());
        let subscription = SimSubscription { endpoint, p256dh, auth: URL_SAFE_NO_PAD.encode(auth) };
        let subscriber = Subscriber { secret, auth: web_push_native::Auth::clone_from_slice(&auth) };
        self.state().subscribers.insert(id, subscriber);
        subscription
    }

    /// The browser dropped the subscription: its pushes answer 410 Gone.
    pub fn unsubscribe(&self, subscription: &SimSubscription) {
        if let Some(id) = subscription.endpoint.rsplit('/').next() {
            self.state().dropped.insert(id.to_owned());
        }
    }

    /// Fails the next push with `fault` (faults queue up).
    pub fn push_fault(&self, fault: PushFault) {
        self.state().faults.push_back(fault);
    }

    /// What it accepted, oldest first.
    pub fn received(&self) -> Vec<SimPush> {
        self.state().received.clone()
    }

    /// Pushes refused for a bad authorization, encoding or payload.
    pub fn refused(&self) -> usize {
        self.state().refused
    }
}

#[derive(Clone)]
struct Service {
    origin: String,
    state: Arc<Mutex<State>>,
    clock: Clock,
}

impl Service {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Checks `Authorization: vapid t=<jwt>, k=<key>`; the key, if genuine.
    fn vapid(&self, headers: &HeaderMap) -> Option<String> {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let params = value.strip_prefix("vapid ")?;
        let field = |name: &str| params.split(',').map(str::trim).find_map(|p| p.strip_prefix(name).map(str::to_owned));
        let (token, key) = (field("t=")?, field("k=")?);
        let (signing_input, signature) = token.rsplit_once('.')?;
        let (header, claims) = signing_input.split_once('.')?;
        let header: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
        let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).ok()?).ok()?;
        let verifying = VerifyingKey::from_sec1_bytes(&URL_SAFE_NO_PAD.decode(&key).ok()?).ok()?;
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).ok()?).ok()?;
        verifying.verify(signing_input.as_bytes(), &signature).ok()?;
        let now = self.clock.now().as_second();
        let exp = claims["exp"].as_i64()?;
        let fresh = exp > now && exp <= now + 24 * 3600;
        let ours = claims["aud"].as_str() == Some(self.origin.as_str());
        let named = claims["sub"].as_str().is_some_and(|s| s.starts_with("mailto:") || s.starts_with("https:"));
        (header["alg"] == "ES256" && fresh && ours && named).then_some(key)
    }
}

fn answer(status: StatusCode, extra: &[(&'static str, String)]) -> Response {
    let mut response = status.into_response();
    for (name, value) in extra {
        if let Ok(value) = value.parse() {
            response.headers_mut().insert(*name, value);
        }
    }
    response
}

async fn receive(
    AxumState(service): AxumState<Service>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let refuse = |status: StatusCode| {
        service.state().refused += 1;
        answer(status, &[])
    };
    let Some(key) = service.vapid(&headers) else { return refuse(StatusCode::FORBIDDEN) };
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let Some(ttl) = text("ttl").and_then(|t| t.parse::<u64>().ok()) else { return refuse(StatusCode::BAD_REQUEST) };
    if text("content-encoding").as_deref() != Some("aes128gcm") {
        return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
    let mut state = service.state();
    if state.dropped.contains(&id) {
        return answer(StatusCode::GONE, &[]);
    }
    match state.faults.pop_front() {
        Some(PushFault::ServerError) => return answer(StatusCode::INTERNAL_SERVER_ERROR, &[]),
        Some(PushFault::RateLimited { retry_after_secs }) => {
            return answer(StatusCode::TOO_MANY_REQUESTS, &[("retry-after", retry_after_secs.to_string())]);
        }
        None => {}
    }
    let Some(subscriber) = state.subscribers.get(&id) else { return answer(StatusCode::NOT_FOUND, &[]) };
    let Ok(plain) = web_push_native::decrypt(body.to_vec(), &subscriber.secret, &subscriber.auth) else {
        state.refused += 1;
        return answer(StatusCode::BAD_REQUEST, &[]);
    };
    let payload = serde_json::from_slice(&plain).unwrap_or(serde_json::Value::Null);
    let endpoint = format!("{}/push/{id}", service.origin);
    state.received.push(SimPush { endpoint, payload, ttl, urgency: text("urgency"), vapid_key: key });
    let location = format!("{}/message/{}", service.origin, state.received.len());
    answer(StatusCode::CREATED, &[("location", location)])
}
