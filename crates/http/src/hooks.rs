//! Provider webhooks: requests a provider makes to Rapport, authenticated
//! by the provider's signature rather than by a session or token (their
//! rule in the policy table is `Signed`). Twilio's:
//!
//! - `POST /hooks/twilio/{org}/messages/{id}/status`: a status callback.
//!   It moves the message forward only (callbacks come late, twice, out of
//!   order) and marks the address undeliverable on a permanent failure.
//!   Calls report here too (`CallStatus`: completed is delivered; busy,
//!   no answer, failed is failed). A call's words and keypad are `voice.rs`.
//! - `POST /hooks/twilio/{org}/inbound`: a text from a patient. The
//!   compliance keywords come first (`rapport_domain::keywords`, or the
//!   carrier's own `OptOutType`): an opt-out puts the number on the
//!   sender's suppression list at once, START lifts it, HELP is answered;
//!   any other text is kept and read as an answer to a reminder. Every
//!   text joins its conversation and tells the open consoles; all of it is
//!   `rapport_engine::inbound::receive`, which this handler only feeds. A
//!   text delivered twice (same MessageSid) is taken once. With
//!   `answer_keywords`, the keyword's one answer is the webhook's TwiML
//!   `<Message>`.
//!
//! A request whose `X-Twilio-Signature` does not match, computed over
//! `public_url` and the path, is refused with 403 and changes nothing.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rapport_domain::{MessageId, MessageState, OrganizationId};

use rapport_domain::keywords::Keyword;

use super::AppState;
use super::error::ApiError;
use rapport_engine::channels::twilio::signature_matches;
use rapport_engine::inbound::{self, Answering, Incoming};
use rapport_secret::Secret;
use rapport_store::{DeliveryReport, InboundText, InboxEvent, InboxEventKind, Media, ReportOutcome};

/// What verifying Twilio's webhooks takes.
#[derive(Debug, Clone)]
pub struct TwilioHooks {
    pub auth_token: Secret,
    /// The base URL Twilio was given (`Config::public_url`): the signature covers it.
    pub public_url: String,
    /// Rapport answers STOP, START and HELP itself (`Config::sms_answer_keywords`).
    pub answer_keywords: bool,
    /// Rapport answers a text that opens a conversation after hours (`Config::sms_after_hours_reply`).
    pub after_hours_reply: bool,
}

/// Error codes that say the number itself cannot receive texts.
const UNDELIVERABLE_CODES: [&str; 5] = ["21211", "21612", "21614", "30005", "30006"];

/// The form's fields, once the signature over `path` is verified.
pub(super) fn verified(
    state: &AppState,
    headers: &HeaderMap,
    path: &str,
    body: &Bytes,
) -> Result<Vec<(String, String)>, ApiError> {
    let hooks: &Arc<TwilioHooks> = state.twilio_hooks.as_ref().ok_or(ApiError::NotFound)?;
    let params: Vec<(String, String)> =
        form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let given = headers.get("x-twilio-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let url = format!("{}{path}", hooks.public_url);
    if !signature_matches(hooks.auth_token.expose(), &url, &params, given) {
        tracing::warn!(route = "twilio webhook", "refused a webhook whose signature does not match");
        return Err(ApiError::Forbidden);
    }
    Ok(params)
}

pub(super) fn field<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Twilio's message status as Rapport's state; `None` for the steps before `sent`.
fn reported_state(status: &str, error_code: Option<&str>) -> Option<MessageState> {
    match status {
        "sent" => Some(MessageState::Sent),
        "delivered" => Some(MessageState::Delivered),
        "read" => Some(MessageState::Read),
        "undelivered" | "failed" if error_code.is_some_and(|c| UNDELIVERABLE_CODES.contains(&c)) => {
            Some(MessageState::Undeliverable)
        }
        "undelivered" | "failed" | "canceled" => Some(MessageState::Failed),
        _ => None,
    }
}

/// A call's status as Rapport's state: answered and ended is delivered;
/// busy, unanswered, failed or canceled is failed; the steps before, nothing.
fn call_state(status: &str) -> Option<MessageState> {
    match status {
        "completed" => Some(MessageState::Delivered),
        "busy" | "no-answer" | "failed" | "canceled" => Some(MessageState::Failed),
        _ => None,
    }
}

#[utoipa::path(post, path = "/hooks/twilio/{org}/messages/{id}/status", tag = "hooks", security(()),
    params(("org" = String, Path), ("id" = String, Path)),
    request_body(content_type = "application/x-www-form-urlencoded", description = "Twilio's status callback"),
    responses((status = 204, description = "Applied, or already known"),
        (status = 403, description = "The signature does not match", body = super::error::Problem),
        (status = 404, description = "No such message, or Twilio is not configured", body = super::error::Problem)))]
pub async fn twilio_status(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let path = format!("/hooks/twilio/{org}/messages/{id}/status");
    let params = verified(&state, &headers, &path, &body)?;
    let org: OrganizationId = org.parse().map_err(|_| ApiError::NotFound)?;
    let message_id: MessageId = id.parse().map_err(|_| ApiError::NotFound)?;
    let error_code = field(&params, "ErrorCode");
    let (sid, reported) = match (field(&params, "MessageSid"), field(&params, "MessageStatus")) {
        (Some(sid), Some(status)) => (sid, reported_state(status, error_code)),
        _ => match (field(&params, "CallSid"), field(&params, "CallStatus")) {
            (Some(sid), Some(status)) => (sid, call_state(status)),
            _ => {
                let needs = "a status callback needs MessageSid and MessageStatus, or CallSid and CallStatus";
                return Err(ApiError::InvalidQuery(needs.into()));
            }
        },
    };
    let Some(reported) = reported else { return Ok(StatusCode::NO_CONTENT) };
    let report = DeliveryReport {
        message_id,
        provider_ref: sid.into(),
        state: reported,
        reason: error_code.map(|c| format!("provider error {c}")),
    };
    match state.store.apply_delivery_report(org, &report).await? {
        ReportOutcome::Applied(_) => {
            // Consoles showing the patient's thread see the new state.
            if let Some(conversation) = state.store.conversation_of_message(org, message_id).await? {
                let event =
                    InboxEvent { organization_id: org, conversation_id: conversation, kind: InboxEventKind::Message };
                state.store.publish(event).await;
            }
            Ok(StatusCode::NO_CONTENT)
        }
        ReportOutcome::Unchanged => Ok(StatusCode::NO_CONTENT),
        ReportOutcome::Unknown => Err(ApiError::NotFound),
    }
}

#[utoipa::path(post, path = "/hooks/twilio/{org}/inbound", tag = "hooks", security(()),
    params(("org" = String, Path)),
    request_body(content_type = "application/x-www-form-urlencoded", description = "Twilio's incoming message"),
    responses((status = 200, description = "TwiML: empty, or the answer to STOP, START or HELP when Rapport answers keywords"),
        (status = 403, description = "The signature does not match", body = super::error::Problem),
        (status = 404, description = "Twilio is not configured", body = super::error::Problem)))]
pub async fn twilio_inbound(
    State(state): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let path = format!("/hooks/twilio/{org}/inbound");
    let params = verified(&state, &headers, &path, &body)?;
    let org: OrganizationId = org.parse().map_err(|_| ApiError::NotFound)?;
    let (Some(from), Some(to)) = (field(&params, "From"), field(&params, "To")) else {
        return Err(ApiError::InvalidQuery("an inbound message needs From and To".into()));
    };
    // With a messaging service, the service is the sender the patient opted out of.
    let sender = field(&params, "MessagingServiceSid").unwrap_or(to);
    let body = field(&params, "Body").unwrap_or_default();
    let Some(sid) = field(&params, "MessageSid").or_else(|| field(&params, "SmsSid")) else {
        return Err(ApiError::InvalidQuery("an inbound message needs MessageSid".into()));
    };
    let text = InboundText {
        provider_ref: sid.into(),
        from: from.to_owned(),
        to: to.to_owned(),
        body: body.to_owned(),
        media: media_of(&params),
    };
    // The carrier's own reading (Twilio's Advanced Opt-Out) comes before ours.
    let carrier_keyword = match field(&params, "OptOutType").map(str::to_ascii_uppercase).as_deref() {
        Some("STOP") => Some(Keyword::OptOut),
        Some("START") => Some(Keyword::OptIn),
        Some("HELP") => Some(Keyword::Help),
        _ => None,
    };
    let incoming = Incoming { text, sender: sender.to_owned(), carrier_keyword };
    let answering = state
        .twilio_hooks
        .as_ref()
        .map(|h| Answering { keywords: h.answer_keywords, after_hours: h.after_hours_reply })
        .unwrap_or_default();
    let received = inbound::receive(&state.store, org, &incoming, answering).await?;
    Ok(([(header::CONTENT_TYPE, "text/xml")], twiml(received.reply.as_deref())).into_response())
}

/// The webhook's answer: empty, or one message back to the sender.
fn twiml(message: Option<&str>) -> String {
    let head = r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#;
    match message {
        None => format!("{head}</Response>"),
        Some(words) => {
            let escaped = words
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
                .replace('\'', "&apos;");
            format!("{head}<Message>{escaped}</Message></Response>")
        }
    }
}

/// An MMS's attachments: `MediaUrl{n}` and `MediaContentType{n}` for n below `NumMedia`.
fn media_of(params: &[(String, String)]) -> Vec<Media> {
    let count: usize = field(params, "NumMedia").and_then(|n| n.parse().ok()).unwrap_or(0);
    (0..count.min(10))
        .filter_map(|i| {
            let url = field(params, &format!("MediaUrl{i}"))?;
            let content_type = field(params, &format!("MediaContentType{i}")).map(str::to_owned);
            Some(Media { url: url.to_owned(), content_type, stored: false })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyword_answer_is_one_escaped_twiml_message() {
        assert_eq!(twiml(None), r#"<?xml version="1.0" encoding="UTF-8"?><Response></Response>"#);
        let answer = twiml(Some("Lee & Sons <clinic>: \"hi\""));
        assert!(
            answer.ends_with("<Response><Message>Lee &amp; Sons &lt;clinic&gt;: &quot;hi&quot;</Message></Response>")
        );
    }

    #[test]
    fn media_links_are_read_up_to_num_media() {
        let params: Vec<(String, String)> = [
            ("NumMedia", "2"),
            ("MediaUrl0", "https://api.twilio.com/m/0"),
            ("MediaContentType0", "image/jpeg"),
            ("MediaUrl1", "https://api.twilio.com/m/1"),
            ("MediaUrl2", "https://api.twilio.com/m/2"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let media = media_of(&params);
        assert_eq!(media.len(), 2);
        assert_eq!(media[0].content_type.as_deref(), Some("image/jpeg"));
        assert_eq!(media[1].url, "https://api.twilio.com/m/1");
        assert_eq!(media[1].content_type, None);
    }

    #[test]
    fn twilio_statuses_map_to_states() {
        assert_eq!(reported_state("queued", None), None);
        assert_eq!(reported_state("sent", None), Some(MessageState::Sent));
        assert_eq!(reported_state("delivered", None), Some(MessageState::Delivered));
        assert_eq!(reported_state("read", None), Some(MessageState::Read));
        assert_eq!(reported_state("undelivered", Some("30005")), Some(MessageState::Undeliverable));
        assert_eq!(reported_state("undelivered", Some("30003")), Some(MessageState::Failed));
        assert_eq!(reported_state("failed", None), Some(MessageState::Failed));
        assert_eq!(call_state("ringing"), None);
        assert_eq!(call_state("completed"), Some(MessageState::Delivered));
        assert_eq!(call_state("no-answer"), Some(MessageState::Failed));
    }
}
