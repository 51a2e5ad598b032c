//! SMS through a Twilio-compatible REST API (Twilio's `2010-04-01` Messages
//! resource), and the `X-Twilio-Signature` that signs its webhooks.
//!
//! How each answer is read:
//! - 200/201 with a `sid`: accepted. Any other 2xx, or a body we cannot
//!   read: in doubt (it may exist).
//! - 429 and 500/503: refused before it was taken; retry (after
//!   `Retry-After` when given). 502/504: a gateway may have forwarded it: in
//!   doubt.
//! - 400 with Twilio's code: 21610 (the recipient texted STOP to this
//!   sender) is an opt-out; 21211, 21612, 21614 (invalid, unroutable, not a
//!   mobile number) make the address undeliverable; other codes fail the
//!   message. 401/403: our credentials are refused: retry (an operator can
//!   fix them) until the job gives up.
//! - No connection: retry. A timeout or a connection cut after the request
//!   left: in doubt, then a lookup (the list of messages to that number,
//!   matched on body and time) decides; a match already recorded as another
//!   of our messages' (two identical texts within a minute) is not this one.

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use jiff::SignedDuration;
use serde::Deserialize;
use sha1::Sha1;

use super::{BoxFuture, Found, Handoff, Outcome, Provider, ProviderRef};
use rapport_secret::Secret;

/// Where and as whom to send.
#[derive(Debug, Clone, PartialEq)]
pub struct TwilioSettings {
    /// `https://api.twilio.com`, or a simulator's address.
    pub base_url: String,
    pub account_sid: String,
    pub auth_token: Secret,
    /// The sender number (E.164); or
    pub from: Option<String>,
    /// a messaging service, which picks the sender.
    pub messaging_service_sid: Option<String>,
    /// Rapport's public base URL, for the status callback of each message.
    pub callback_base: Option<String>,
    /// How long a request may take before its outcome is in doubt.
    pub timeout: Duration,
}

pub struct TwilioSms {
    settings: TwilioSettings,
    client: reqwest::Client,
}

/// Twilio's error body.
#[derive(Debug, Deserialize)]
struct ApiError {
    code: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct MessageResource {
    sid: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    date_created: Option<String>,
}

#[derive(Debug, Deserialize)]
struct MessageList {
    messages: Vec<MessageResource>,
}

impl TwilioSms {
    pub fn new(settings: TwilioSettings) -> anyhow::Result<Self> {
        crate::tls::install_crypto_provider();
        let client = reqwest::Client::builder().timeout(settings.timeout).build()?;
        Ok(Self { settings, client })
    }

    fn messages_url(&self) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.settings.base_url.trim_end_matches('/'),
            self.settings.account_sid
        )
    }

    /// The status callback registered with a message.
    pub fn status_callback(base: &str, handoff: &Handoff) -> String {
        format!(
            "{}/hooks/twilio/{}/messages/{}/status",
            base.trim_end_matches('/'),
            handoff.organization_id,
            handoff.message_id
        )
    }

    async fn post(&self, handoff: &Handoff) -> Outcome {
        let body = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("To", &handoff.to).append_pair("Body", &handoff.body);
            for url in &handoff.media {
                form.append_pair("MediaUrl", url);
            }
            if let Some(service) = &self.settings.messaging_service_sid {
                form.append_pair("MessagingServiceSid", service);
            } else if let Some(from) = &self.settings.from {
                form.append_pair("From", from);
            }
            if let Some(base) = &self.settings.callback_base {
                form.append_pair("StatusCallback", &Self::status_callback(base, handoff));
            }
            form.finish()
        };
        create(&self.client, &self.settings, &self.messages_url(), body).await
    }

    async fn find(&self, handoff: &Handoff) -> Found {
        let list: MessageList = match list_to(&self.client, &self.settings, &self.messages_url(), &handoff.to).await {
            Ok(list) => list,
            Err(unknown) => return unknown,
        };
        // Created at or after the hand-off began (a minute's slack for clocks).
        let since = handoff.sending_at - SignedDuration::from_mins(1);
        let provider_refs: Vec<ProviderRef> = list
            .messages
            .into_iter()
            .filter(|m| {
                m.body.as_deref() == Some(handoff.body.as_str())
                    && m.date_created.as_deref().and_then(parse_date).is_some_and(|at| at >= since)
            })
            .map(|m| m.sid.into())
            .collect();
        if provider_refs.is_empty() { Found::No } else { Found::Yes { provider_refs } }
    }
}

/// Creates a resource (a message, a call) by posting `body` as a form to
/// `url`, and reads the answer by the table above.
pub(super) async fn create(client: &reqwest::Client, settings: &TwilioSettings, url: &str, body: String) -> Outcome {
    let response = client
        .post(url)
        .basic_auth(&settings.account_sid, Some(settings.auth_token.expose()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await;
    let response = match response {
        Ok(response) => response,
        Err(error) if error.is_connect() => {
            return Outcome::Retry { reason: "could not connect to the provider".into(), after: None };
        }
        Err(error) if error.is_timeout() => {
            return Outcome::InDoubt { reason: "no answer from the provider in time".into() };
        }
        Err(_) => return Outcome::InDoubt { reason: "the connection to the provider broke".into() },
    };
    let status = response.status().as_u16();
    let retry_after = super::retry_after(response.headers());
    let Ok(text) = response.text().await else {
        return Outcome::InDoubt { reason: format!("the provider's answer ({status}) broke off") };
    };
    read_answer(status, retry_after, &text)
}

/// The newest (up to 100) resources at `url` (a list) sent to `to`; a
/// lookup that could not be made is `Found::Unknown`.
pub(super) async fn list_to<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    settings: &TwilioSettings,
    url: &str,
    to: &str,
) -> Result<T, Found> {
    let query =
        form_urlencoded::Serializer::new(String::new()).append_pair("To", to).append_pair("PageSize", "100").finish();
    let response = client
        .get(format!("{url}?{query}"))
        .basic_auth(&settings.account_sid, Some(settings.auth_token.expose()))
        .send()
        .await;
    match response {
        Ok(response) if response.status().is_success() => {
            response.json::<T>().await.map_err(|_| Found::Unknown("the provider's list could not be read".into()))
        }
        Ok(response) => Err(Found::Unknown(format!("the provider answered {}", response.status().as_u16()))),
        Err(_) => Err(Found::Unknown("the provider could not be reached".into())),
    }
}

/// Twilio writes dates as RFC 2822 (`Wed, 18 Nov 2026 16:00:00 +0000`).
pub(super) fn parse_date(text: &str) -> Option<jiff::Timestamp> {
    jiff::fmt::rfc2822::parse(text).ok().map(|z| z.timestamp())
}

/// Reads the answer to a send (see the module's table).
pub(super) fn read_answer(status: u16, retry_after: Option<SignedDuration>, text: &str) -> Outcome {
    match status {
        200 | 201 => match serde_json::from_str::<MessageResource>(text) {
            Ok(m) => Outcome::Accepted { provider_ref: m.sid.into() },
            Err(_) => Outcome::InDoubt { reason: format!("the provider accepted ({status}) without a readable id") },
        },
        429 => Outcome::Retry { reason: "the provider is rate-limiting (429)".into(), after: retry_after },
        502 | 504 => Outcome::InDoubt { reason: format!("a gateway failed ({status}) after the request left") },
        500..=599 => Outcome::Retry { reason: format!("the provider failed ({status})"), after: retry_after },
        401 | 403 => Outcome::Retry { reason: format!("the provider refused our credentials ({status})"), after: None },
        400..=499 => {
            let code = serde_json::from_str::<ApiError>(text).ok().and_then(|e| e.code);
            match code {
                Some(21610) => Outcome::OptedOut,
                Some(code @ (21211 | 21612 | 21614)) => Outcome::Refused {
                    reason: format!("the number cannot receive texts ({code})"),
                    undeliverable: true,
                },
                Some(code) => {
                    Outcome::Refused { reason: format!("refused by the provider ({code})"), undeliverable: false }
                }
                None => {
                    Outcome::Refused { reason: format!("refused by the provider ({status})"), undeliverable: false }
                }
            }
        }
        _ => Outcome::InDoubt { reason: format!("an unexpected answer ({status})") },
    }
}

impl Provider for TwilioSms {
    fn name(&self) -> &'static str {
        "twilio"
    }

    fn sender(&self) -> Option<&str> {
        self.settings.from.as_deref().or(self.settings.messaging_service_sid.as_deref())
    }

    fn send<'a>(&'a self, handoff: &'a Handoff) -> BoxFuture<'a, Outcome> {
        Box::pin(self.post(handoff))
    }

    fn lookup<'a>(&'a self, handoff: &'a Handoff) -> BoxFuture<'a, Found> {
        Box::pin(self.find(handoff))
    }
}

/// `X-Twilio-Signature` of a webhook: Base64 of HMAC-SHA1 keyed by the auth
/// token, over the full URL followed by each POST parameter's name and
/// value, sorted by name.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()) else { return String::new() };
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether `given` is the signature of this webhook, compared in constant time.
pub fn signature_matches(auth_token: &str, url: &str, params: &[(String, String)], given: &str) -> bool {
    crate::auth::secret::constant_time_eq(signature(auth_token, url, params).as_bytes(), given.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_twilios_documented_example() {
        // Twilio's security documentation: this URL, these parameters and
        // the token 12345 sign to this value.
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675310"),
            ("Digits", "1234"),
            ("From", "+14158675310"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        assert_eq!(signature("12345", url, &params), "GvWf1cFY/Q7PnoempGyD5oXAezc=");
        assert!(signature_matches("12345", url, &params, "GvWf1cFY/Q7PnoempGyD5oXAezc="));
        assert!(!signature_matches("12346", url, &params, "GvWf1cFY/Q7PnoempGyD5oXAezc="));
    }

    #[test]
    fn answers_are_read_as_the_table_says() {
        let accepted = read_answer(201, None, r#"{"sid":"SM123","status":"queued"}"#);
        assert_eq!(accepted, Outcome::Accepted { provider_ref: "SM123".into() });
        assert!(matches!(read_answer(201, None, "<html>"), Outcome::InDoubt { .. }));
        let wait = Some(SignedDuration::from_secs(7));
        assert!(
            matches!(read_answer(429, wait, ""), Outcome::Retry { after: Some(a), .. } if a == SignedDuration::from_secs(7))
        );
        assert!(matches!(read_answer(503, None, ""), Outcome::Retry { .. }));
        assert!(matches!(read_answer(504, None, ""), Outcome::InDoubt { .. }));
        assert_eq!(read_answer(400, None, r#"{"code":21610,"message":"unsubscribed"}"#), Outcome::OptedOut);
        assert!(matches!(read_answer(400, None, r#"{"code":21614}"#), Outcome::Refused { undeliverable: true, .. }));
        assert!(matches!(read_answer(400, None, r#"{"code":30007}"#), Outcome::Refused { undeliverable: false, .. }));
        assert!(matches!(read_answer(401, None, ""), Outcome::Retry { .. }));
    }

    #[test]
    fn twilio_dates_parse() {
        let at = parse_date("Wed, 18 Nov 2026 16:00:00 +0000").expect("date");
        assert_eq!(at.to_string(), "2026-11-18T16:00:00Z");
    }
}
