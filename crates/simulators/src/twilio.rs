//! A Twilio-compatible SMS provider on a local port, for the tests and the
//! demo: the Messages resource (create and list, HTTP Basic auth with the
//! account SID and auth token), status callbacks signed with
//! `X-Twilio-Signature`, and inbound messages posted to a webhook the same
//! way. It speaks HTTP/1.1 itself (keep-alive, as Twilio's API does), so
//! that it can fail the way real networks do:
//!
//! - [`Fault::ServerError`]: 500, the message not created;
//! - [`Fault::RateLimited`]: 429 with `Retry-After`, not created;
//! - [`Fault::Slow`]: the message created, the answer held back (beyond the
//!   client's timeout);
//! - [`Fault::DropAfterAccept`]: the message created, the connection closed
//!   without an answer.
//!
//! Numbers on its lists answer as Twilio does: `unsubscribed` (texted STOP:
//! error 21610), `landlines` (21614), `unknown` (accepted, then the status
//! callback reports `undelivered` with 30005). The Calls resource is
//! `calls.rs`.

mod calls;
mod media;

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub use self::calls::SimCall;
use super::AbortOnDrop;
use rapport_engine::channels::twilio::signature;
use rapport_store::clock::Clock;

/// The simulator's account and auth token (public: it is a test double).
pub const ACCOUNT_SID: &str = "AC00000000000000000000000000000000";
pub const AUTH_TOKEN: &str = "simulated-auth-token";

/// A failure to inject into the next create request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    ServerError,
    RateLimited { retry_after_secs: u64 },
    Slow(Duration),
    DropAfterAccept,
}

/// A message the simulator accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimMessage {
    pub sid: String,
    pub to: String,
    pub from: String,
    pub body: String,
    /// The `MediaUrl`s sent with it (an MMS).
    pub media: Vec<String>,
    pub status_callback: Option<String>,
    pub date_created: String,
}

#[derive(Default)]
struct State {
    messages: Vec<SimMessage>,
    calls: Vec<SimCall>,
    /// Keys the patient at a number presses at the next call's prompt.
    keypad: HashMap<String, String>,
    faults: VecDeque<Fault>,
    unsubscribed: HashSet<String>,
    landlines: HashSet<String>,
    unknown: HashSet<String>,
    requests: usize,
    /// Status callbacks are posted after each create unless turned off.
    quiet: bool,
    /// Media the simulator hosts, by path: content type and bytes.
    media: HashMap<String, (String, Vec<u8>)>,
    /// Media requests still to fail (500) before one succeeds.
    media_faults: usize,
    /// Media requests received (the credentials right or wrong).
    media_requests: usize,
}

/// A running simulator; it stops when dropped.
#[derive(Clone)]
pub struct TwilioSimulator {
    pub account_sid: String,
    pub auth_token: String,
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    clock: Clock,
    client: reqwest::Client,
    /// The accept loop, stopped when the last handle the test holds goes.
    /// The loop's own copy has none: it must not keep itself alive.
    task: Option<Arc<AbortOnDrop>>,
}

impl TwilioSimulator {
    /// Starts on a free loopback port; its dates come from `clock`.
    pub async fn start(clock: Clock) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        rapport_engine::tls::install_crypto_provider();
        let client =
            reqwest::Client::builder().timeout(Duration::from_secs(10)).build().map_err(std::io::Error::other)?;
        let mut sim = Self {
            account_sid: ACCOUNT_SID.into(),
            auth_token: AUTH_TOKEN.into(),
            addr,
            state,
            clock,
            client,
            task: None,
        };
        let server = sim.clone();
        sim.task = Some(Arc::new(AbortOnDrop(tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let server = server.clone();
                tokio::spawn(async move { server.serve(stream).await });
            }
        }))));
        Ok(sim)
    }

    /// The base URL to configure as the provider's.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Fails the next create request with `fault` (faults queue up).
    pub fn push_fault(&self, fault: Fault) {
        self.state().faults.push_back(fault);
    }

    /// Forgets the faults not yet used.
    pub fn clear_faults(&self) {
        self.state().faults.clear();
    }

    pub fn unsubscribe(&self, number: &str) {
        self.state().unsubscribed.insert(number.into());
    }

    pub fn mark_landline(&self, number: &str) {
        self.state().landlines.insert(number.into());
    }

    pub fn mark_unknown(&self, number: &str) {
        self.state().unknown.insert(number.into());
    }

    /// Turns the automatic status callbacks off (a test then posts its own with [`report`](Self::report)).
    pub fn stop_reporting(&self) {
        self.state().quiet = true;
    }

    /// Every message created so far, oldest first.
    pub fn messages(&self) -> Vec<SimMessage> {
        self.state().messages.clone()
    }

    /// Create requests received so far, refused ones included.
    pub fn requests(&self) -> usize {
        self.state().requests
    }

    /// Posts an inbound text to `url` (Rapport's inbound webhook), signed
    /// as Twilio signs it; returns the HTTP status.
    pub async fn send_inbound(&self, url: &str, from: &str, to: &str, body: &str) -> reqwest::Result<u16> {
        let sid = new_sid("SM");
        let params = vec![
            ("AccountSid".to_owned(), self.account_sid.clone()),
            ("Body".into(), body.into()),
            ("From".into(), from.into()),
            ("MessageSid".into(), sid.clone()),
            ("NumMedia".into(), "0".into()),
            ("SmsSid".into(), sid),
            ("To".into(), to.into()),
        ];
        self.post_signed(url, &params).await
    }

    /// Posts a status callback for `message` (also done on its own after each create).
    pub async fn report(&self, message: &SimMessage, status: &str, error_code: Option<&str>) -> reqwest::Result<u16> {
        let Some(url) = &message.status_callback else { return Ok(0) };
        let mut params = vec![
            ("AccountSid".to_owned(), self.account_sid.clone()),
            ("ApiVersion".into(), "2010-04-01".into()),
            ("From".into(), message.from.clone()),
            ("MessageSid".into(), message.sid.clone()),
            ("MessageStatus".into(), status.into()),
            ("SmsSid".into(), message.sid.clone()),
            ("SmsStatus".into(), status.into()),
            ("To".into(), message.to.clone()),
        ];
        if let Some(code) = error_code {
            params.push(("ErrorCode".into(), code.into()));
        }
        self.post_signed(url, &params).await
    }

    async fn post_signed(&self, url: &str, params: &[(String, String)]) -> reqwest::Result<u16> {
        Ok(self.signed(url, params).send().await?.status().as_u16())
    }

    /// A POST of `params` as a form to `url`, signed as Twilio signs its webhooks.
    fn signed(&self, url: &str, params: &[(String, String)]) -> reqwest::RequestBuilder {
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            form.append_pair(k, v);
        }
        self.client
            .post(url)
            .header("x-twilio-signature", signature(&self.auth_token, url, params))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.finish())
    }

    /// Serves one connection: requests one after another (keep-alive), until
    /// the client closes it or a fault drops it.
    async fn serve(&self, mut stream: TcpStream) {
        let mut buffer = Vec::new();
        while let Some(request) = read_request(&mut stream, &mut buffer).await {
            let Some(answer) = self.answer(&request).await else { return };
            if stream.write_all(answer.to_bytes().as_slice()).await.is_err() {
                return;
            }
        }
    }

    /// The answer to one request; `None` to drop the connection without one.
    async fn answer(&self, request: &Request) -> Option<Answer> {
        let prefix = format!("/2010-04-01/Accounts/{}/Messages.json", self.account_sid);
        let calls = format!("/2010-04-01/Accounts/{}/Calls.json", self.account_sid);
        let (path, query) = request.target.split_once('?').unwrap_or((&request.target, ""));
        let media = format!("/2010-04-01/Accounts/{}/Messages/", self.account_sid);
        if path.starts_with(&media) && path.contains("/Media/") {
            self.state().media_requests += 1;
        }
        let answer = if !self.authorized(request) {
            Answer::json(401, r#"{"code":20003,"message":"Authenticate","status":401}"#)
        } else if path.starts_with(&media) && path.contains("/Media/") {
            self.media(&request.method, path)
        } else if path == calls && request.method == "GET" {
            self.list_calls(query)
        } else if path == calls && request.method == "POST" {
            self.create_call(&request.body).await?
        } else if path != prefix {
            Answer::json(404, r#"{"code":20404,"message":"The requested resource was not found","status":404}"#)
        } else if request.method == "GET" {
            self.list(query)
        } else if request.method == "POST" {
            // None: DropAfterAccept, close without a word.
            self.create(&request.body).await?
        } else {
            Answer::json(405, r#"{"code":20004,"message":"Method not allowed","status":405}"#)
        };
        Some(answer)
    }

    fn authorized(&self, request: &Request) -> bool {
        let expected =
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", self.account_sid, self.auth_token));
        request.authorization.as_deref() == Some(&format!("Basic {expected}"))
    }

    fn list(&self, query: &str) -> Answer {
        let to = form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "To").map(|(_, v)| v.into_owned());
        let state = self.state();
        let messages: Vec<serde_json::Value> =
            state.messages.iter().rev().filter(|m| to.as_deref().is_none_or(|to| m.to == to)).map(resource).collect();
        Answer::json(200, &serde_json::json!({ "messages": messages, "page": 0 }).to_string())
    }

    /// Creates a message, or fails as the next fault says; `None` drops the connection.
    async fn create(&self, body: &str) -> Option<Answer> {
        let form: Vec<(String, String)> =
            form_urlencoded::parse(body.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let (fault, message) = {
            let mut state = self.state();
            let fault = match take_fault(&mut state) {
                Ok(fault) => fault,
                Err(refusal) => return Some(refusal),
            };
            let (Some(to), Some(text)) = (field("To"), field("Body")) else {
                return Some(Answer::json(
                    400,
                    r#"{"code":21604,"message":"A 'To' and a 'Body' are required","status":400}"#,
                ));
            };
            if !is_e164(&to) {
                return Some(Answer::json(400, r#"{"code":21211,"message":"Invalid 'To' Phone Number","status":400}"#));
            }
            if state.unsubscribed.contains(&to) {
                return Some(Answer::json(
                    400,
                    r#"{"code":21610,"message":"Attempt to send to unsubscribed recipient","status":400}"#,
                ));
            }
            if state.landlines.contains(&to) {
                return Some(Answer::json(
                    400,
                    r#"{"code":21614,"message":"'To' number is not a valid mobile number","status":400}"#,
                ));
            }
            let at = self.clock.now().to_zoned(jiff::tz::TimeZone::UTC);
            let message = SimMessage {
                sid: new_sid("SM"),
                to,
                from: field("From").or_else(|| field("MessagingServiceSid")).unwrap_or_default(),
                body: text,
                media: form.iter().filter(|(k, _)| k == "MediaUrl").map(|(_, v)| v.clone()).collect(),
                status_callback: field("StatusCallback"),
                date_created: jiff::fmt::rfc2822::to_string(&at).unwrap_or_default(),
            };
            state.messages.push(message.clone());
            (fault, message)
        };
        self.report_later(&message);
        match fault {
            Some(Fault::DropAfterAccept) => None,
            Some(Fault::Slow(wait)) => {
                tokio::time::sleep(wait).await;
                Some(Answer::json(201, &resource(&message).to_string()))
            }
            _ => Some(Answer::json(201, &resource(&message).to_string())),
        }
    }

    /// Reports `sent` then `delivered` (or `undelivered` for unknown numbers), as the carrier would.
    fn report_later(&self, message: &SimMessage) {
        if message.status_callback.is_none() {
            return;
        }
        let (unknown, quiet) = {
            let state = self.state();
            (state.unknown.contains(&message.to), state.quiet)
        };
        if quiet {
            return;
        }
        let (sim, message) = (self.clone(), message.clone());
        tokio::spawn(async move {
            let _ = sim.report(&message, "sent", None).await;
            if unknown {
                let _ = sim.report(&message, "undelivered", Some("30005")).await;
            } else {
                let _ = sim.report(&message, "delivered", None).await;
            }
        });
    }
}

/// Counts a create request and takes the next fault: a refusal to answer
/// at once (500, 429), or the fault that acts after the create (slow, dropped).
fn take_fault(state: &mut State) -> Result<Option<Fault>, Answer> {
    state.requests += 1;
    match state.faults.pop_front() {
        Some(Fault::ServerError) => Err(Answer::json(500, r#"{"code":20500,"status":500}"#)),
        Some(Fault::RateLimited { retry_after_secs }) => {
            let mut answer = Answer::json(429, r#"{"code":20429,"message":"Too Many Requests","status":429}"#);
            answer.extra = format!("Retry-After: {retry_after_secs}\r\n");
            Err(answer)
        }
        other => Ok(other),
    }
}

fn resource(m: &SimMessage) -> serde_json::Value {
    serde_json::json!({
        "sid": m.sid, "to": m.to, "from": m.from, "body": m.body, "status": "queued",
        "date_created": m.date_created, "num_segments": "1", "num_media": m.media.len().to_string(),
        "api_version": "2010-04-01",
    })
}

fn is_e164(number: &str) -> bool {
    let digits = number.strip_prefix('+').unwrap_or("");
    (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

fn new_sid(prefix: &str) -> String {
    format!("{prefix}{}", rapport_secret::hex(&rapport_secret::random_bytes::<16>()))
}

struct Request {
    method: String,
    target: String,
    authorization: Option<String>,
    body: String,
}

/// Reads one request; `buffer` carries bytes already read past the last one.
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Request> {
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if buffer.len() > 64 * 1024 {
            return None;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, target) = (first.next()?.to_owned(), first.next()?.to_owned());
    let mut length = 0;
    let mut authorization = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().ok()?,
            "authorization" => authorization = Some(value.trim().to_owned()),
            _ => {}
        }
    }
    while buffer.len() < head_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buffer[head_end..head_end + length]).into_owned();
    buffer.drain(..head_end + length);
    Some(Request { method, target, authorization, body })
}

struct Answer {
    status: u16,
    content_type: String,
    body: Vec<u8>,
    extra: String,
}

impl Answer {
    fn json(status: u16, body: &str) -> Self {
        Self { status, content_type: "application/json".into(), body: body.as_bytes().to_vec(), extra: String::new() }
    }

    fn bytes(content_type: &str, body: Vec<u8>) -> Self {
        Self { status: 200, content_type: content_type.into(), body, extra: String::new() }
    }

    fn to_bytes(&self) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            201 => "Created",
            204 => "No Content",
            400 => "Bad Request",
            401 => "Unauthorized",
            404 => "Not Found",
            429 => "Too Many Requests",
            500 => "Internal Server Error",
            _ => "Status",
        };
        let mut bytes = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}\r\n",
            self.status,
            self.content_type,
            self.body.len(),
            self.extra,
        )
        .into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}
