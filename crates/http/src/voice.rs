//! The TwiML of Rapport's calls, fetched by Twilio when the patient
//! answers, and the keypad's answer; both signed like every Twilio webhook
//! (rule `Signed`).
//!
//! - `POST /hooks/twilio/{org}/messages/{id}/voice`: the message's words,
//!   spoken in its language, then "press 1 to hear this again"; a
//!   reminder's call asks for an answer instead (1 confirm, 2 cancel,
//!   3 reschedule, 9 hear it again).
//! - `POST /hooks/twilio/{org}/messages/{id}/keypad`: the key's answer is
//!   given to the visit (as a text's would be, `store/answers.rs`) and the
//!   call says what it did; the repeat key speaks the words again; anything
//!   else says goodbye. The key pressed goes to the trace.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use rapport_domain::reminder::key_prefix;
use rapport_domain::{Answer, Channel, LanguageTag, Message, MessageId, OrganizationId};

use super::AppState;
use super::error::ApiError;
use super::hooks::{field, verified};
use rapport_engine::channels::voice::{Spoken, again_key, keypad_url, twiml, twiml_answered, twiml_goodbye};
use rapport_store::{Answered, NewAnswer};

fn xml(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/xml")], body).into_response()
}

/// The message and the language to speak it in (its own, else the organization's).
async fn spoken(state: &AppState, org: OrganizationId, id: MessageId) -> Result<(Message, LanguageTag), ApiError> {
    let message = state.store.message(org, id).await?;
    let language = match &message.language {
        Some(language) => language.clone(),
        None => state.store.get_organization(org).await?.default_language,
    };
    Ok((message, language))
}

/// Where the call's keypad answer goes, under the public URL Twilio was given.
fn keypad(state: &AppState, org: OrganizationId, id: MessageId) -> String {
    let base = state.twilio_hooks.as_ref().map_or("", |h| h.public_url.as_str());
    keypad_url(base, org, id)
}

/// Whether the call is a visit's reminder, which takes answers by keypad.
fn takes_answers(message: &Message) -> bool {
    message.plan.appointment_id.is_some_and(|id| message.plan.idempotency_key.starts_with(&key_prefix(id)))
}

fn ids(org: &str, id: &str) -> Result<(OrganizationId, MessageId), ApiError> {
    Ok((org.parse().map_err(|_| ApiError::NotFound)?, id.parse().map_err(|_| ApiError::NotFound)?))
}

#[utoipa::path(post, path = "/hooks/twilio/{org}/messages/{id}/voice", tag = "hooks", security(()),
    params(("org" = String, Path), ("id" = String, Path)),
    request_body(content_type = "application/x-www-form-urlencoded", description = "Twilio's call request"),
    responses((status = 200, description = "TwiML: the words and the keypad prompt"),
        (status = 403, description = "The signature does not match", body = super::error::Problem),
        (status = 404, description = "No such message, or Twilio is not configured", body = super::error::Problem)))]
pub async fn twilio_voice(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let path = format!("/hooks/twilio/{org}/messages/{id}/voice");
    verified(&state, &headers, &path, &body)?;
    let (org, id) = ids(&org, &id)?;
    let (message, language) = spoken(&state, org, id).await?;
    Ok(xml(twiml(&message.plan.body, &language, &keypad(&state, org, id), takes_answers(&message))))
}

#[utoipa::path(post, path = "/hooks/twilio/{org}/messages/{id}/keypad", tag = "hooks", security(()),
    params(("org" = String, Path), ("id" = String, Path)),
    request_body(content_type = "application/x-www-form-urlencoded", description = "Twilio's gather result (Digits)"),
    responses((status = 200, description = "TwiML: the words again, or goodbye"),
        (status = 403, description = "The signature does not match", body = super::error::Problem),
        (status = 404, description = "No such message, or Twilio is not configured", body = super::error::Problem)))]
pub async fn twilio_keypad(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let path = format!("/hooks/twilio/{org}/messages/{id}/keypad");
    let params = verified(&state, &headers, &path, &body)?;
    let (org, id) = ids(&org, &id)?;
    let (message, language) = spoken(&state, org, id).await?;
    // One key, a digit, * or #: nothing else reaches the trace.
    let digits = field(&params, "Digits").unwrap_or_default();
    let key = digits.chars().next().filter(|c| c.is_ascii_digit() || *c == '*' || *c == '#');
    let answers = takes_answers(&message);
    let answer = key.filter(|_| answers).and_then(Answer::from_digit);
    match (key, answer) {
        (_, Some(answer)) => {
            state
                .store
                .note_message(org, id, &format!("keypad: {}, answered {}", answer.digit(), answer.as_str()))
                .await?;
            let given = NewAnswer { message_id: id, answer, channel: Channel::Voice, inbound_id: None };
            let spoken = match (rapport_engine::answers::answer_visit(&state.store, org, &given).await?, answer) {
                (Answered::Closed, _) => Spoken::Closed,
                (_, Answer::Confirm) => Spoken::Confirmed,
                (_, Answer::Cancel) => Spoken::Cancelled,
                (_, Answer::Reschedule) => Spoken::Reschedule,
            };
            Ok(xml(twiml_answered(spoken, &language)))
        }
        (Some(k), None) if k == again_key(answers) => {
            state.store.note_message(org, id, &format!("keypad: {k}, heard the message again")).await?;
            Ok(xml(twiml(&message.plan.body, &language, &keypad(&state, org, id), answers)))
        }
        (Some(other), None) => {
            state.store.note_message(org, id, &format!("keypad: {other}, the call ended")).await?;
            Ok(xml(twiml_goodbye(&language)))
        }
        (None, None) => Ok(xml(twiml_goodbye(&language))),
    }
}
