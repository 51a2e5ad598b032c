//! The organization's own reply words (`/reply-words`): words patients use
//! that the standard ones miss, per answer. Never a keyword (STOP, CANCEL,
//! HELP …) nor another answer's word: 422 naming the word's place.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use rapport_domain::Answer;
use rapport_domain::answer::normalize;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::access::{Allowed, need};
use crate::error::{ApiError, Problem};
use crate::extract::JsonBody;
use rapport_store::OwnReplyWords;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyWordsInput {
    #[serde(default)]
    pub confirm: Vec<String>,
    #[serde(default)]
    pub cancel: Vec<String>,
    #[serde(default)]
    pub reschedule: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReplyWordsView {
    /// The organization's own words, per answer.
    pub own: AnswerWords,
    /// Every word a text is read with (the standard ones and the own).
    pub all: AnswerWords,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AnswerWords {
    pub confirm: Vec<String>,
    pub cancel: Vec<String>,
    pub reschedule: Vec<String>,
}

fn view(own: &OwnReplyWords) -> Result<ReplyWordsView, ApiError> {
    let all = own.words().map_err(|_| ApiError::Internal("stored reply words no longer check".into()))?;
    Ok(ReplyWordsView {
        own: AnswerWords {
            confirm: own.confirm.clone(),
            cancel: own.cancel.clone(),
            reschedule: own.reschedule.clone(),
        },
        all: AnswerWords { confirm: all.confirm, cancel: all.cancel, reschedule: all.reschedule },
    })
}

#[utoipa::path(get, path = "/api/v1/organizations/{org}/reply-words", tag = "reminders",
    params(("org" = String, Path, description = "Organization id")),
    responses((status = 200, body = ReplyWordsView)))]
pub async fn read(
    State(state): State<AppState>,
    access: Allowed<need::ReadOrganization>,
) -> Result<Response, ApiError> {
    let own = state.store.own_reply_words(access.org()).await?;
    Ok(axum::Json(view(&own)?).into_response())
}

/// Replace the organization's own words.
#[utoipa::path(put, path = "/api/v1/organizations/{org}/reply-words", tag = "reminders",
    params(("org" = String, Path, description = "Organization id")), request_body = ReplyWordsInput,
    responses((status = 200, body = ReplyWordsView), (status = 422, body = Problem)))]
pub async fn replace(
    State(state): State<AppState>,
    access: Allowed<need::WriteOrganization>,
    JsonBody(input): JsonBody<ReplyWordsInput>,
) -> Result<Response, ApiError> {
    let clean = |words: Vec<String>| {
        let mut words: Vec<String> = words.iter().map(|w| normalize(w)).collect();
        words.dedup();
        words
    };
    let own = OwnReplyWords {
        confirm: clean(input.confirm),
        cancel: clean(input.cancel),
        reschedule: clean(input.reschedule),
    };
    if let Err((answer, i, why)) = own.words() {
        let field = match answer {
            Answer::Confirm => "confirm",
            Answer::Cancel => "cancel",
            Answer::Reschedule => "reschedule",
        };
        return Err(ApiError::field(format!("{field}[{i}]"), why.to_string()));
    }
    state.store.set_reply_words(access.org(), &own).await?;
    Ok(axum::Json(view(&own)?).into_response())
}
