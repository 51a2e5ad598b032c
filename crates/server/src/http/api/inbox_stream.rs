//! `/inbox/events`: the inbox's live stream (Server-Sent Events). A console
//! opens it once and hears, for its organization only, which conversation
//! changed and how (`text`, `message`, `changed`); it then loads what it
//! shows through the API, so the stream carries ids and nothing a patient
//! said. The first event is `ready`; `lagged` means events were missed and
//! the console should reload its list. A comment every 15 seconds keeps
//! proxies from closing an idle stream.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use rapport_domain::OrganizationId;
use tokio::sync::broadcast::error::RecvError;

use crate::http::AppState;
use crate::http::access::{Allowed, need};
use crate::http::error::{ApiError, Problem};
use crate::store::{InboxEventKind, InboxSubscription};

const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The live stream of the organization's inbox events.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/inbox/events", tag = "inbox",
    params(("org" = String, Path, description = "Organization id")),
    responses((status = 200, content_type = "text/event-stream",
        description = "Events `ready`, then `inbox` with data {\"conversation_id\", \"kind\": text|message|changed}, and `lagged` when some were missed"),
        (status = 403, body = Problem)))]
pub async fn events(
    State(state): State<AppState>,
    access: Allowed<need::ReadMessages>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let subscription = state.store.subscribe().await?;
    let ready = futures_util::stream::once(async { Ok(Event::default().event("ready").data("{}")) });
    let stream = futures_util::StreamExt::chain(ready, live(subscription, access.org()));
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

fn live(subscription: InboxSubscription, org: OrganizationId) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold(subscription, move |mut subscription| async move {
        loop {
            let received = tokio::select! {
                received = subscription.events.recv() => received,
                _ = subscription.ending.wait_for(|ending| *ending) => return None,
            };
            let event = match received {
                Ok(event) if event.organization_id == org => Event::default().event("inbox").data(
                    serde_json::json!({ "conversation_id": event.conversation_id.to_string(), "kind": kind_name(event.kind) })
                        .to_string(),
                ),
                Ok(_) => continue,
                Err(RecvError::Lagged(missed)) => Event::default().event("lagged").data(format!("{{\"missed\":{missed}}}")),
                Err(RecvError::Closed) => return None,
            };
            return Some((Ok(event), subscription));
        }
    })
}

fn kind_name(kind: InboxEventKind) -> &'static str {
    match kind {
        InboxEventKind::Text => "text",
        InboxEventKind::Message => "message",
        InboxEventKind::Changed => "changed",
    }
}
