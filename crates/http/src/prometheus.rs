//! `GET /metrics`: what the process counted (HTTP requests by route
//! template and status, provider calls and their outcomes, MLLP messages by
//! type and ACK code, the inbox's live connections) and what the database
//! holds now (unsettled messages by state and channel, due jobs by kind and
//! the age of the oldest), in Prometheus's text format. Labels are route
//! templates, states, kinds and provider names: never patient data.
//!
//! Open to a bearer token (`[metrics] token`) when one is set, otherwise to
//! a direct loopback client only (a request through a proxy, which names a
//! forwarded client, is refused).

use std::sync::{Arc, OnceLock};

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use rapport_secret::{Secret, constant_time_eq};

use crate::AppState;
use crate::error::ApiError;
use crate::listener::PeerAddr;

/// Seconds, for the latency histograms' buckets.
const BUCKETS: [f64; 12] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Who may read the metrics, and the recorder to render.
#[derive(Clone)]
pub struct MetricsAccess {
    pub handle: PrometheusHandle,
    /// The bearer token; `None`: loopback clients only.
    pub token: Option<Arc<Secret>>,
}

impl MetricsAccess {
    /// The process's recorder (installed on first use) behind `token`.
    pub fn new(token: Option<Secret>) -> Self {
        Self { handle: recorder(), token: token.map(Arc::new) }
    }
}

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's one recorder: every `metrics::counter!` lands in it.
fn recorder() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder =
                PrometheusBuilder::new().set_buckets(&BUCKETS).expect("the buckets are not empty").build_recorder();
            let handle = recorder.handle();
            // Another recorder already installed (a test harness): ours renders what it has.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Whether the request may read the metrics.
fn allowed(access: &MetricsAccess, parts: &Parts) -> Result<(), ApiError> {
    if let Some(token) = &access.token {
        let given = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let bearer = given.and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
        return if constant_time_eq(bearer.as_bytes(), token.expose().as_bytes()) {
            Ok(())
        } else {
            Err(ApiError::Unauthenticated)
        };
    }
    let peer = parts.extensions.get::<axum::extract::ConnectInfo<PeerAddr>>().map(|c| c.0.0.ip());
    let forwarded = parts.headers.contains_key("x-forwarded-for") || parts.headers.contains_key(header::FORWARDED);
    if peer.is_some_and(|ip| ip.is_loopback()) && !forwarded { Ok(()) } else { Err(ApiError::Forbidden) }
}

/// The metrics, in Prometheus's text format.
#[utoipa::path(get, path = "/metrics", tag = "health", security(()), responses(
    (status = 200, content_type = "text/plain", description = "Prometheus text format 0.0.4"),
    (status = 401, body = crate::error::Problem, description = "A token is set and this is not it"),
    (status = 403, body = crate::error::Problem, description = "No token is set and this is not a direct loopback client"),
    (status = 404, body = crate::error::Problem, description = "Metrics are off")))]
pub async fn serve(State(state): State<AppState>, parts: Parts) -> Result<Response, ApiError> {
    let access = state.metrics.as_ref().ok_or(ApiError::NotFound)?;
    allowed(access, &parts)?;
    let now = state.store.clock().now();
    let gauges = state.store.delivery_gauges(now).await?;
    for (state, channel, count) in &gauges.messages {
        metrics::gauge!("rapport_messages_unsettled", "state" => state.clone(), "channel" => channel.clone())
            .set(*count as f64);
    }
    metrics::gauge!("rapport_messages_in_doubt").set(gauges.in_doubt as f64);
    for (kind, due, oldest) in &gauges.jobs {
        metrics::gauge!("rapport_jobs_due", "kind" => kind.clone()).set(*due as f64);
        metrics::gauge!("rapport_jobs_oldest_due_seconds", "kind" => kind.clone()).set(*oldest);
    }
    let text = access.handle.render();
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response())
}
