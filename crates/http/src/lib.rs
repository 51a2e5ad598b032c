//! HTTP: the router, middleware, health checks and the OpenAPI document.
//! Handlers parse, call the store, and map; no SQL and no policy live here.

pub mod access;
pub mod answers;
pub mod api;
mod console;
mod contract;
pub mod error;
pub mod extract;
pub mod fhir;
pub mod guard;
pub mod hooks;
pub mod listener;
mod openapi;
pub mod prometheus;
mod query;
pub mod rate_limit;
pub mod server;
pub mod smart;
pub mod unsubscribe;
pub mod voice;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use error::{ApiError, InternalCause};
use rapport_engine::auth::AuthSettings;
use rapport_store::Store;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub auth: AuthSettings,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Arc<Vec<IpAddr>>,
    /// Requests per minute per client address.
    pub rate_limiter: Arc<rate_limit::RateLimiter>,
    /// Verifies Twilio's webhooks; `None` when Twilio is not the SMS provider.
    pub twilio_hooks: Option<Arc<hooks::TwilioHooks>>,
    /// Signs and verifies the links in messages (unsubscribe, answers); `None` without a public URL.
    pub links: Option<Arc<rapport_engine::links::PatientLinks>>,
    /// `/metrics`: who may read it; `None`: off.
    pub metrics: Option<prometheus::MetricsAccess>,
}

impl AppState {
    /// Default session and throttling settings, no trusted proxy, 600
    /// requests a minute per client address.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            auth: AuthSettings::default(),
            trusted_proxies: Arc::new(Vec::new()),
            rate_limiter: Arc::new(rate_limit::RateLimiter::new(600)),
            twilio_hooks: None,
            links: None,
            metrics: None,
        }
    }
}

/// HTTP settings that shape the router.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Largest request body accepted, in bytes; larger is a 413.
    pub max_body_bytes: usize,
    /// Served over TLS: answers carry `Strict-Transport-Security`.
    pub hsts: bool,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self { max_body_bytes: 1024 * 1024, hsts: false }
    }
}

/// The whole application as a `Router`, ready to serve or to test in-process.
pub fn build_app(state: AppState, settings: &HttpSettings) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(prometheus::serve))
        .route("/api/openapi.json", get(openapi::serve))
        .nest("/api/v1", api::routes())
        .nest("/fhir", fhir::routes())
        .route("/oauth/token", axum::routing::post(smart::token))
        .merge(console::routes())
        .route("/hooks/twilio/{org}/messages/{id}/status", axum::routing::post(hooks::twilio_status))
        .route("/hooks/twilio/{org}/inbound", axum::routing::post(hooks::twilio_inbound))
        .route("/hooks/twilio/{org}/messages/{id}/voice", axum::routing::post(voice::twilio_voice))
        .route("/hooks/twilio/{org}/messages/{id}/keypad", axum::routing::post(voice::twilio_keypad))
        .route("/unsubscribe/{token}", get(unsubscribe::confirm_page).post(unsubscribe::unsubscribe))
        .route("/answer/{token}", get(answers::answer_page).post(answers::answer))
        .fallback(|| async { ApiError::NotFound })
        .layer(DefaultBodyLimit::max(settings.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), guard::guard))
        .layer(middleware::from_fn(console::signed_out_to_sign_in))
        .layer(middleware::from_fn(fhir::outcomes))
        .layer(middleware::from_fn_with_state(settings.hsts, security_headers))
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "health", security(()), responses((status = 200, description = "The process is up")))]
async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "health", security(()), responses(
    (status = 200, description = "The database is reachable"),
    (status = 503, description = "The database is not reachable", body = error::Problem)))]
async fn readyz(State(state): State<AppState>) -> Response {
    if state.store.ping().await {
        (StatusCode::OK, "ready").into_response()
    } else {
        ApiError::Unavailable.into_response()
    }
}

/// Logs one line per request with the route *template* (never the raw URI,
/// whose path and query can hold patient data), and the cause of any 500.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "(unmatched)".to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    let micros = elapsed.as_micros();
    let labels = [("method", method.to_string()), ("route", route.clone()), ("status", status.to_string())];
    metrics::counter!("rapport_http_requests_total", &labels).increment(1);
    metrics::histogram!("rapport_http_request_seconds", "route" => route.clone()).record(elapsed.as_secs_f64());
    if let Some(InternalCause(cause)) = response.extensions().get::<InternalCause>() {
        tracing::error!(%method, %route, status, micros, cause = %cause, "request failed");
    } else {
        tracing::info!(%method, %route, status, micros, "request");
    }
    response
}

/// Headers that keep responses out of frames, caches and referrers, and
/// forbid any script: the API serves JSON only. Over TLS, HSTS too.
async fn security_headers(State(hsts): State<bool>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    // A page that loads its own script and style (the console) says so itself.
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"));
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    if hsts {
        headers
            .insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    }
    response
}
