//! `/inbox/events`: the inbox's live stream (Server-Sent Events). A console
//! opens it once and hears, for its organization only, which conversation
//! changed and how (`text`, `message`, `changed`); it then loads what it
//! shows through the API, so the stream carries ids and nothing a patient
//! said. The first event is `ready`; `lagged` means events were missed and
//! the console should reload its list. A comment every 15 seconds keeps
//! proxies from closing an idle stream. The caller is checked again every
//! `AuthSettings::stream_recheck`: a session signed out, expired or idle
//! past its limit (the stream itself is no activity), a disabled account or
//! a revoked token ends the stream.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use rapport_domain::OrganizationId;
use tokio::sync::broadcast::error::RecvError;

use crate::AppState;
use crate::access::{Allowed, Principal, need};
use crate::error::{ApiError, Problem};
use rapport_engine::auth::signin::session_is_live;
use rapport_store::{InboxEventKind, InboxSubscription};

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
    let listener = Listener {
        state: state.clone(),
        principal: access.grant.principal.clone(),
        org: access.org(),
        _live: Live::counted(),
    };
    let every = state.auth.stream_recheck.unsigned_abs().max(Duration::from_millis(10));
    let mut recheck = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stream = futures_util::StreamExt::chain(ready, live(subscription, listener, recheck));
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// Who listens, to check again now and then.
struct Listener {
    state: AppState,
    principal: Principal,
    org: OrganizationId,
    _live: Live,
}

/// One live connection, counted in `rapport_inbox_live_connections` while it lasts.
struct Live;

impl Live {
    fn counted() -> Self {
        metrics::gauge!("rapport_inbox_live_connections").increment(1.0);
        Live
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        metrics::gauge!("rapport_inbox_live_connections").decrement(1.0);
    }
}

impl Listener {
    /// Whether the caller may still listen; a failure to tell ends the stream too.
    async fn allowed(&self) -> bool {
        let store = &self.state.store;
        let live = match &self.principal {
            Principal::Staff { session, .. } => session_is_live(store, &self.state.auth, session.id).await,
            Principal::Token(token) => store.api_token(self.org, token.id).await.map(|t| t.revoked_at.is_none()),
        };
        live.unwrap_or(false)
    }
}

fn live(
    subscription: InboxSubscription,
    listener: Listener,
    recheck: tokio::time::Interval,
) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold(
        (subscription, listener, recheck),
        move |(mut subscription, listener, mut recheck)| async move {
            let org = listener.org;
            loop {
                let received = tokio::select! {
                    received = subscription.events.recv() => Some(received),
                    _ = subscription.ending.wait_for(|ending| *ending) => return None,
                    _ = recheck.tick() => None,
                };
                let Some(received) = received else {
                    if listener.allowed().await {
                        continue;
                    }
                    tracing::info!(organization = %org, "a live stream ended: its caller may no longer listen");
                    return None;
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
                return Some((Ok(event), (subscription, listener, recheck)));
            }
        },
    )
}

fn kind_name(kind: InboxEventKind) -> &'static str {
    match kind {
        InboxEventKind::Text => "text",
        InboxEventKind::Message => "message",
        InboxEventKind::Changed => "changed",
    }
}
