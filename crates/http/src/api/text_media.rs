//! Rapport's copy of an MMS attachment (`/texts/{id}/media/{position}`),
//! kept when `[sms] fetch_media` is on. The bytes are the patient's, not
//! ours: they are served sandboxed, never sniffed, never cached, and only
//! pictures, sound, video and PDFs open in the browser; anything else
//! downloads.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use rapport_domain::InboundTextId;

use crate::AppState;
use crate::access::{Allowed, need};
use crate::error::{ApiError, Problem};
use crate::extract::path_id;

/// An attachment's bytes, as the patient sent them.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/texts/{id}/media/{position}", tag = "inbox",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Text id"),
        ("position" = usize, Path, description = "The attachment's place in the text's list, from 0")),
    responses((status = 200, description = "The attachment's bytes, in its content type"),
        (status = 404, body = Problem, description = "No such text, or no copy of this attachment")))]
pub async fn read(
    State(state): State<AppState>,
    access: Allowed<need::ReadMessages>,
    Path((_, id, position)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let text: InboundTextId = path_id(&id)?;
    let position: usize = position.parse().map_err(|_| ApiError::NotFound)?;
    let (content_type, bytes) = state.store.text_media(access.org(), text, position).await?;
    let opens =
        ["image/", "audio/", "video/"].iter().any(|p| content_type.starts_with(p)) || content_type == "application/pdf";
    let disposition = if opens { "inline" } else { "attachment" };
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    let typed = HeaderValue::from_str(&content_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, typed);
    headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static(disposition));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox; default-src 'none'"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok(response)
}
