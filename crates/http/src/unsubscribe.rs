//! One-click unsubscribe (RFC 8058), without signing in:
//!
//! - `GET /unsubscribe/{token}` shows a page with one button; a GET never
//!   unsubscribes (mail scanners follow links).
//! - `POST /unsubscribe/{token}` (what mail clients send, with the body
//!   `List-Unsubscribe=One-Click`, and what the button sends) records the
//!   patient's email consent for that message's purpose as revoked. The
//!   token (`crate::unsubscribe`) is checked first: a forged one is 403 and
//!   changes nothing. Repeating it changes nothing more.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rapport_domain::{Channel, Consent, ConsentId, ConsentStatus};

use super::AppState;
use super::error::ApiError;

fn page(body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Unsubscribe</title></head>\
         <body>{body}</body></html>"
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

#[utoipa::path(get, path = "/unsubscribe/{token}", tag = "unsubscribe", security(()),
    params(("token" = String, Path)),
    responses((status = 200, description = "A page with a button that unsubscribes (a GET alone never does)")))]
pub async fn confirm_page(Path(token): Path<String>) -> Response {
    let action = format!("/unsubscribe/{}", token.replace(['"', '<', '>', '&'], ""));
    page(&format!(
        "<p>Stop these emails?</p><form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
         <button type=\"submit\">Unsubscribe</button></form>"
    ))
}

#[utoipa::path(post, path = "/unsubscribe/{token}", tag = "unsubscribe", security(()),
    params(("token" = String, Path)),
    request_body(content_type = "application/x-www-form-urlencoded", description = "`List-Unsubscribe=One-Click`"),
    responses((status = 200, description = "Unsubscribed (or already)"),
        (status = 403, description = "The link is not genuine", body = super::error::Problem)))]
pub async fn unsubscribe(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response, ApiError> {
    let links = state.links.as_ref().ok_or(ApiError::Forbidden)?;
    let id = links.verify(&token).ok_or(ApiError::Forbidden)?;
    let Some(message) = state.store.messages_by_ids(&[id]).await?.pop() else { return Err(ApiError::Forbidden) };
    let (org, patient, purpose) = (message.organization_id, message.plan.patient_id, message.plan.class.purpose());
    let current = match state.store.current_consents(org, patient).await {
        Ok(current) => current,
        // The patient's record is gone: nothing left to send to.
        Err(rapport_store::StoreError::NotFound) => return Ok(page("<p>You will not get these emails.</p>")),
        Err(error) => return Err(error.into()),
    };
    let revoked = current
        .iter()
        .any(|c| c.channel == Channel::Email && c.purpose == purpose && c.status == ConsentStatus::Revoked);
    if !revoked {
        let consent = Consent {
            id: ConsentId::generate(),
            organization_id: org,
            patient_id: patient,
            channel: Channel::Email,
            purpose,
            status: ConsentStatus::Revoked,
            source: "list-unsubscribe".into(),
            evidence: Some(format!("message {id}")),
            recorded_at: state.store.clock().now(),
        };
        state.store.record_consent(&consent).await?;
        tracing::info!(organization = %org, message = %id, "a patient unsubscribed by link");
    }
    Ok((StatusCode::OK, page("<p>You are unsubscribed. You will not get these emails any more.</p>")).into_response())
}
