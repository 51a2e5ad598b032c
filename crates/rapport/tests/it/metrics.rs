//! `GET /metrics`: Prometheus's text format with what the process counted
//! and what the database holds, open to a direct loopback client (or to
//! the configured token), never carrying patient data.

use axum::http::StatusCode;
use rapport::http::HttpSettings;
use rapport::http::prometheus::MetricsAccess;
use rapport_domain::{Channel, MessageId, OrganizationId};
use serde_json::json;

use crate::support::app::TestApp;

const LOOPBACK: &str = "127.0.0.1:40000";
const PHONE: &str = "+13125550177";

/// The value of the sample whose line starts with `name` (its labels included).
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines().find(|l| l.starts_with(name)).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_provider_outcomes_acks_and_what_waits_without_patient_data() {
    let mut app = TestApp::new().await;
    let (org, _) = app.organization("Metrics Practice").await;
    let patient = json!({"given_name": "Zelda", "family_name": "Quint", "phones": [{"number": PHONE, "type": "mobile"}],
        "time_zone": "America/Chicago"});
    let created = app.post(&format!("/api/v1/organizations/{org}/patients"), patient).await;
    let patient_id = created.body["id"].as_str().expect("id").to_owned();
    let plan = json!({"patient_id": patient_id, "class": "transactional", "body": "Zelda, your results are in.",
        "idempotency_key": "metrics-1"});
    let planned = app.post(&format!("/api/v1/organizations/{org}/messages"), plan).await;
    let id: MessageId = planned.body["id"].as_str().expect("id").parse().expect("id");
    let org_id: OrganizationId = org.parse().expect("org");
    let message = app.store.message(org_id, id).await.expect("message");
    assert!(crate::sms::begin_handoff(&app, &message, Channel::Sms, PHONE).await);
    assert!(app.store.record_in_doubt(org_id, id, "the answer was lost").await.expect("doubt"));
    rapport::ehr::ack::ack(None, rapport::ehr::ack::AckCode::Rejected, Some("not HL7"), app.clock.now());
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);

    // No peer address (not a direct loopback client): refused.
    assert_eq!(app.get("/metrics").await.status, StatusCode::FORBIDDEN);
    app.peer = Some(LOOPBACK.parse().expect("address"));
    let proxied = app.send_raw("GET", "/metrics", None, &[("x-forwarded-for", "203.0.113.9")]).await;
    assert_eq!(proxied.status, StatusCode::FORBIDDEN, "through a proxy is not loopback");
    let reply = app.get("/metrics").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.content_type.as_deref(), Some("text/plain; version=0.0.4; charset=utf-8"));
    let text = String::from_utf8(reply.bytes).expect("text");
    let healthz = r#"rapport_http_requests_total{method="GET",route="/healthz",status="200"}"#;
    assert!(sample(&text, healthz).is_some_and(|n| n >= 1.0), "{text}");
    let in_doubt = r#"rapport_messages_unsettled{state="in_doubt",channel="sms"}"#;
    assert!(sample(&text, in_doubt).is_some_and(|n| n >= 1.0), "{text}");
    assert!(sample(&text, "rapport_messages_in_doubt ").is_some_and(|n| n >= 1.0), "{text}");
    assert!(sample(&text, r#"rapport_jobs_due{kind="message.send"}"#).is_some(), "{text}");
    assert!(sample(&text, r#"rapport_jobs_oldest_due_seconds{kind="message.send"}"#).is_some(), "{text}");
    assert!(sample(&text, r#"rapport_mllp_messages_total{type="other",ack="AR"}"#).is_some_and(|n| n >= 1.0));
    assert!(text.contains("rapport_http_request_seconds_bucket"), "latency is a histogram");
    for private in [PHONE, "Zelda", "Quint", patient_id.as_str(), org.as_str()] {
        assert!(!text.contains(private), "{private} in the metrics");
    }
}

#[tokio::test]
async fn with_a_token_only_its_bearer_reads_the_metrics() {
    let settings = HttpSettings::default();
    let mut app = TestApp::with_state(settings, |mut state| {
        state.metrics = Some(MetricsAccess::new(Some(rapport::config::Secret::new("scrape-me"))));
        state
    })
    .await;
    app.peer = Some(LOOPBACK.parse().expect("address"));
    assert_eq!(app.get("/metrics").await.status, StatusCode::UNAUTHORIZED, "loopback is not enough");
    let wrong = app.send_raw("GET", "/metrics", None, &[("authorization", "Bearer scrape-you")]).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let right = app.send_raw("GET", "/metrics", None, &[("authorization", "Bearer scrape-me")]).await;
    assert_eq!(right.status, StatusCode::OK);
    let off = TestApp::with_state(HttpSettings::default(), |mut state| {
        state.metrics = None;
        state
    })
    .await;
    assert_eq!(off.get("/metrics").await.status, StatusCode::NOT_FOUND);
}
