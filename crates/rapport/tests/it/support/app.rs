//! The app under test, in-process: Rapport's router built the way `serve`
//! builds it (`rapport::app::App`) over a fresh database on either backend,
//! with a manual clock, requests sent with `oneshot`, and each
//! organization's integration token at hand; and the same app on a real
//! port for what must come over TCP (the providers' webhooks).

use std::sync::Mutex;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use rapport::app::App;
use rapport::auth::{TOKEN_PREFIX, secret};
use rapport::channels::twilio::TwilioSettings;
use rapport::clock::{Clock, ManualClock};
use rapport::config::{Config, SmsProvider};
use rapport::http::{AppState, HttpSettings, build_app};
use rapport::store::{DbOptions, NewApiToken, Store};
use rapport_domain::Role;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{TestDb, seed_organization, test_now};

pub struct TestApp {
    router: Router,
    pub store: Store,
    pub clock: ManualClock,
    /// Each organization's integration token, used for requests to its paths.
    tokens: Mutex<Vec<(String, String)>>,
    /// The client address requests come from, as a TCP server would see it.
    pub peer: Option<std::net::SocketAddr>,
    _db: TestDb,
}

pub struct Reply {
    pub status: StatusCode,
    pub etag: Option<String>,
    pub content_type: Option<String>,
    pub headers: axum::http::HeaderMap,
    /// The body as JSON, or as text when it is not JSON.
    pub body: Value,
    /// The body's bytes as they came.
    pub bytes: Vec<u8>,
}

/// The auth token the test apps verify Twilio's webhooks with: the simulator's.
pub const TWILIO_TOKEN: &str = rapport::simulators::twilio::AUTH_TOKEN;
/// The public URL the test apps' webhooks are signed over.
pub const PUBLIC_URL: &str = "http://rapport.test";

/// The configuration the test apps are built from, as `serve` would read
/// it: Twilio as the SMS provider (its webhooks verified with the
/// simulator's token over `public_url`), Rapport answering keywords.
pub fn config(public_url: &str) -> Config {
    let twilio = TwilioSettings {
        base_url: "http://127.0.0.1:9".into(),
        account_sid: rapport::simulators::twilio::ACCOUNT_SID.into(),
        auth_token: rapport::config::Secret::new(TWILIO_TOKEN),
        from: Some("+13125550000".into()),
        messaging_service_sid: None,
        callback_base: Some(public_url.into()),
        timeout: std::time::Duration::from_secs(5),
    };
    Config {
        public_url: Some(public_url.into()),
        sms: SmsProvider::Twilio(twilio),
        sms_answer_keywords: true,
        ..Config::default()
    }
}

/// Twilio's webhooks verified with the simulator's token over `public_url`.
pub fn twilio_hooks(
    public_url: &str,
    answer_keywords: bool,
    after_hours_reply: bool,
) -> std::sync::Arc<rapport::http::hooks::TwilioHooks> {
    std::sync::Arc::new(rapport::http::hooks::TwilioHooks {
        auth_token: rapport::config::Secret::new(TWILIO_TOKEN),
        public_url: public_url.into(),
        answer_keywords,
        after_hours_reply,
    })
}

/// Runs `test` with an app on SQLite, then on PostgreSQL when there is one.
pub async fn on_each_backend_app<F, Fut>(test: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    test(TestApp::new().await).await;
    if let Some(admin) = crate::support::postgres_url() {
        let settings = HttpSettings { max_body_bytes: 16 * 1024, hsts: false };
        test(TestApp::on_database(TestDb::postgres(&admin).await, settings, |state| state).await).await;
    }
}

/// An API token of `org` with every scope the integration role allows.
pub async fn integration_token(store: &Store, org: rapport_domain::OrganizationId) -> String {
    let secret_text = secret::random_token(TOKEN_PREFIX);
    let new = NewApiToken {
        organization_id: org,
        name: "tests".into(),
        prefix: secret_text[..8].to_owned(),
        token_digest: secret::digest(&secret_text),
        scopes: Role::Integration.capabilities().to_vec(),
        created_by: None,
    };
    store.create_api_token(&new).await.expect("token");
    secret_text
}

/// The organization id in `path`, if it has one.
fn org_in(path: &str) -> Option<&str> {
    path.strip_prefix("/api/v1/organizations/").map(|rest| rest.split(['/', '?']).next().unwrap_or(rest))
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with_settings(HttpSettings { max_body_bytes: 16 * 1024, hsts: false }).await
    }

    async fn with_settings(settings: HttpSettings) -> Self {
        Self::with_state(settings, |state| state).await
    }

    /// An app whose state the test adjusts (limits, settings).
    pub async fn with_state(settings: HttpSettings, adjust: impl FnOnce(AppState) -> AppState) -> Self {
        Self::on_database(TestDb::sqlite(), settings, adjust).await
    }

    async fn on_database(
        (db, url): (TestDb, String),
        settings: HttpSettings,
        adjust: impl FnOnce(AppState) -> AppState,
    ) -> Self {
        let (clock, hand) = Clock::manual(test_now());
        let store = Store::open(&url, &DbOptions::default(), clock).await.expect("open");
        let app = App::build(&config(PUBLIC_URL), store.clone()).await.expect("the app");
        let router = build_app(adjust(app.state), &settings);
        Self { router, store, clock: hand, tokens: Mutex::new(Vec::new()), peer: None, _db: db }
    }

    /// The integration token used for `path`: its organization's, or the first one's.
    pub fn token_for(&self, path: &str) -> Option<String> {
        let tokens = self.tokens.lock().expect("lock");
        let own = org_in(path).and_then(|org| tokens.iter().find(|(o, _)| o == org));
        own.or(tokens.first()).map(|(_, token)| token.clone())
    }

    /// The integration token of organization `org` (made by [`organization`](Self::organization)).
    pub fn token_of(&self, org: &str) -> String {
        let tokens = self.tokens.lock().expect("lock");
        tokens.iter().find(|(o, _)| o == org).map(|(_, t)| t.clone()).expect("the organization's token")
    }

    /// Sends as the integration token of the path's organization.
    pub async fn send(&self, method: &str, path: &str, body: Option<&str>, headers: &[(&str, &str)]) -> Reply {
        let bearer = self.token_for(path).map(|t| format!("Bearer {t}"));
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if let Some(bearer) = &bearer
            && !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("authorization") || *name == "cookie")
        {
            all.push(("authorization", bearer));
        }
        self.send_raw(method, path, body, &all).await
    }

    /// Sends exactly the given headers: no credential unless they hold one.
    pub async fn send_raw(&self, method: &str, path: &str, body: Option<&str>, headers: &[(&str, &str)]) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut request = request.body(body.map(|b| Body::from(b.to_owned())).unwrap_or_default()).expect("request");
        if let Some(peer) = self.peer {
            request.extensions_mut().insert(axum::extract::ConnectInfo(rapport::http::listener::PeerAddr(peer)));
        }
        let response = self.router.clone().oneshot(request).await.expect("response");
        let status = response.status();
        let text = |name| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let (etag, content_type) = (text(header::ETAG), text(header::CONTENT_TYPE));
        let headers = response.headers().clone();
        let bytes = if content_type.as_deref() == Some("text/event-stream") {
            // A live stream never ends: its body here is its first frame.
            let frame = response.into_body().frame().await.expect("a first event").expect("frame");
            frame.into_data().unwrap_or_default()
        } else {
            response.into_body().collect().await.expect("body").to_bytes()
        };
        let body =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        Reply { status, etag, content_type, headers, body, bytes: bytes.to_vec() }
    }

    /// Opens a live stream (Server-Sent Events) with the given credentials:
    /// the status and the body, to read event by event.
    pub async fn stream(&self, path: &str, headers: &[(&str, &str)]) -> (StatusCode, Body) {
        let mut request = Request::builder().uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Body::empty()).expect("request");
        let response = self.router.clone().oneshot(request).await.expect("response");
        (response.status(), response.into_body())
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send("POST", path, Some(&body.to_string()), &[]).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None, &[]).await
    }

    /// An organization with one Chicago location and an integration token
    /// for its paths; returns their ids.
    pub async fn organization(&self, name: &str) -> (String, String) {
        let org = seed_organization(&self.store, name).await;
        let token = integration_token(&self.store, org.id).await;
        let org_id = org.id.to_string();
        self.tokens.lock().expect("lock").push((org_id.clone(), token));
        let location = self
            .post(
                &format!("/api/v1/organizations/{org_id}/locations"),
                json!({"name": "Lakeshore", "time_zone": "America/Chicago", "phone": "(847) 555-0100"}),
            )
            .await;
        assert_eq!(location.status, StatusCode::CREATED, "{}", location.body);
        (org_id, location.body["id"].as_str().expect("id").to_owned())
    }

    pub async fn patient_count(&self, org: &str) -> usize {
        let list = self.get(&format!("/api/v1/organizations/{org}/patients?limit=200")).await;
        list.body["items"].as_array().map_or(0, Vec::len)
    }
}

/// Rapport on a real port, answering Twilio's webhooks under `public_url`.
pub async fn serve_hooks(app: &TestApp) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let public_url = format!("http://{}", listener.local_addr().expect("addr"));
    let built = App::build(&config(&public_url), app.store.clone()).await.expect("the app");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let settings = HttpSettings { max_body_bytes: 16 * 1024, hsts: false };
    tokio::spawn(rapport::server::serve(listener, None, built.state, settings, async {
        let _ = stopped.await;
    }));
    (public_url, stop)
}
