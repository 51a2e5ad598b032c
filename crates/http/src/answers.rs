//! A visit's answer pages, opened from a reminder email without signing in:
//!
//! - `GET /answer/{token}` shows the visit (its time and place, as the email
//!   said them) and one button; a GET never answers (mail scanners and link
//!   previews follow links).
//! - `POST /answer/{token}` (the button) gives the answer (`store/answers.rs`):
//!   the token (`rapport_engine::links`) is checked first, a forged one is 403 and
//!   changes nothing, an expired one (the visit has started) answers nothing.
//!   Pressing it again changes nothing more.
//!
//! The pages speak the message's language (English or Spanish).

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use rapport_domain::message::wording;
use rapport_domain::{Answer, Channel, LanguageTag, Message};

use super::AppState;
use super::error::ApiError;
use rapport_engine::links::AnswerToken;
use rapport_store::{Answered, NewAnswer};

/// The page's words in one language.
struct Words {
    lang: &'static str,
    title: &'static str,
    invalid: &'static str,
    closed: &'static str,
    ask: [&'static str; 3],
    button: [&'static str; 3],
    done: [&'static str; 3],
}

const ENGLISH: Words = Words {
    lang: "en",
    title: "Your visit",
    invalid: "This link is not valid.",
    closed: "This visit can no longer be answered here: it has changed, been cancelled or begun. Please call us.",
    ask: ["Confirm your visit on", "Cancel your visit on", "Ask for another time instead of your visit on"],
    button: ["Confirm my visit", "Cancel my visit", "Ask for another time"],
    done: [
        "Thank you. Your visit is confirmed.",
        "Your visit is cancelled. To book again, please call us.",
        "Thank you. We will contact you to find a new time.",
    ],
};

const SPANISH: Words = Words {
    lang: "es",
    title: "Su cita",
    invalid: "Este enlace no es válido.",
    closed: "Ya no se puede responder aquí a esta cita: cambió, fue anulada o ya empezó. Por favor, llámenos.",
    ask: ["¿Confirma su cita del", "¿Anula su cita del", "¿Pide otra hora en lugar de su cita del"],
    button: ["Confirmar mi cita", "Anular mi cita", "Pedir otra hora"],
    done: [
        "Gracias. Su cita queda confirmada.",
        "Su cita fue anulada. Para otra cita, llámenos.",
        "Gracias. Le contactaremos para buscar otra hora.",
    ],
};

fn words(language: Option<&LanguageTag>) -> &'static Words {
    match language.map(LanguageTag::primary) {
        Some("es") => &SPANISH,
        _ => &ENGLISH,
    }
}

fn index(answer: Answer) -> usize {
    match answer {
        Answer::Confirm => 0,
        Answer::Cancel => 1,
        Answer::Reschedule => 2,
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn page(w: &Words, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{}</title></head><body>{body}</body></html>",
        w.lang, w.title
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], html).into_response()
}

/// The token's message, if the token is genuine and the message still exists.
async fn verified(state: &AppState, token: &str) -> Result<Option<(AnswerToken, Message)>, ApiError> {
    let Some(named) = state.links.as_ref().and_then(|l| l.verify_answer(token)) else { return Ok(None) };
    let message = state.store.messages_by_ids(&[named.message_id]).await?.pop();
    Ok(message.map(|m| (named, m)))
}

#[utoipa::path(get, path = "/answer/{token}", tag = "answers", security(()),
    params(("token" = String, Path)),
    responses((status = 200, description = "The visit and one button that answers (a GET alone never does), or why the link does not work")))]
pub async fn answer_page(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response, ApiError> {
    let Some((named, message)) = verified(&state, &token).await? else {
        return Ok(page(&ENGLISH, &format!("<p>{}</p>", ENGLISH.invalid)));
    };
    let w = words(message.language.as_ref());
    let org = message.organization_id;
    let visit = match message.plan.appointment_id {
        Some(id) => state.store.get_appointment(org, id).await.ok(),
        None => None,
    };
    let now = state.store.clock().now();
    let open = visit.as_ref().filter(|v| {
        named.expires_at > now && rapport_domain::reminder::answerable(&message.plan.idempotency_key, v, now)
    });
    let Some(visit) = open else { return Ok(page(w, &format!("<p>{}</p>", w.closed))) };
    let language = LanguageTag::parse(w.lang).expect("a page language is a tag");
    let when = wording::when(&visit.local_start(), &language);
    let place = state.store.get_location(org, visit.details.location_id).await?.name;
    let i = index(named.answer);
    let action = format!("/answer/{}", escape(&token));
    Ok(page(
        w,
        &format!(
            "<h1>{}</h1><p>{} {}, {}?</p><form method=\"post\" action=\"{action}\">\
             <button type=\"submit\">{}</button></form>",
            w.title,
            w.ask[i],
            escape(&when),
            escape(&place),
            w.button[i]
        ),
    ))
}

#[utoipa::path(post, path = "/answer/{token}", tag = "answers", security(()),
    params(("token" = String, Path)),
    responses((status = 200, description = "Answered (or already), or the visit no longer takes answers"),
        (status = 403, description = "The link is not genuine", body = super::error::Problem)))]
pub async fn answer(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response, ApiError> {
    let (named, message) = verified(&state, &token).await?.ok_or(ApiError::Forbidden)?;
    let w = words(message.language.as_ref());
    if named.expires_at <= state.store.clock().now() {
        return Ok(page(w, &format!("<p>{}</p>", w.closed)));
    }
    let given = NewAnswer { message_id: message.id, answer: named.answer, channel: Channel::Email, inbound_id: None };
    let org = message.organization_id;
    let said = match rapport_engine::answers::answer_visit(&state.store, org, &given).await? {
        Answered::Closed => w.closed,
        Answered::Applied(_) | Answered::Already(_) => w.done[index(named.answer)],
    };
    tracing::info!(organization = %org, message = %message.id, answer = named.answer.as_str(), "a patient answered by link");
    Ok(page(w, &format!("<p>{said}</p>")))
}
