//! Web push against the push service simulator, on both backends: a
//! subscription recorded through the API, a message that reaches it
//! encrypted to its keys (the simulator decrypts it) under a VAPID
//! signature it verifies, a subscription the browser dropped never used
//! again, and the service's refusals retried.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use jiff::SignedDuration;
use rapport::channels::Providers;
use rapport::channels::webpush::{Vapid, WebPush, WebPushSettings};
use rapport::engine::dispatch::MessageSender;
use rapport::jobs::BatchReport;
use rapport::simulators::push::{PushFault, PushSimulator, SimSubscription};
use rapport_domain::message::pace::Priority;
use rapport_domain::{MessageClass, MessageId, MessagePlan, MessageState, OrganizationId, Role};
use serde_json::{Value, json};

use crate::support::app::{TestApp, on_each_backend_app};
use crate::support::browser::{Browser, staff};

struct Setup {
    org: OrganizationId,
    patient: String,
    desk: Browser,
    sim: PushSimulator,
    sender: MessageSender,
}

async fn setup(app: &TestApp) -> Setup {
    let (org, _) = app.organization("Practice").await;
    let patient = json!({"given_name": "Ann", "family_name": "Lee", "time_zone": "America/Chicago",
        "phones": [{"number": "(312) 555-0101", "type": "mobile"}], "channel_order": ["push", "sms"]});
    let created = app.post(&format!("/api/v1/organizations/{org}/patients"), patient).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let desk = Browser::open(app, &staff(app, &org, "desk@practice.example", Role::FrontDesk).await).await;
    let sim = PushSimulator::start(app.store.clock().clone()).await.expect("push service");
    let settings = WebPushSettings {
        subject: "mailto:it@practice.example".into(),
        timeout: Duration::from_secs(2),
        ttl: Duration::from_secs(3600),
    };
    let vapid = Vapid::load(&app.store).await.expect("vapid");
    let mut providers = Providers::log_only(&app.store);
    providers.push = Arc::new(WebPush::new(app.store.clone(), settings, vapid).expect("web push"));
    let sender = MessageSender::with_providers(app.store.clone(), providers);
    let patient = created.body["id"].as_str().expect("id").to_owned();
    Setup { org: org.parse().expect("org"), patient, desk, sim, sender }
}

fn path(s: &Setup) -> String {
    format!("/api/v1/organizations/{}/patients/{}/push-subscriptions", s.org, s.patient)
}

async fn subscribe(app: &TestApp, s: &Setup) -> SimSubscription {
    let subscription = s.sim.subscribe();
    let body =
        json!({"endpoint": subscription.endpoint, "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth}});
    let created = s.desk.send(app, "POST", &path(s), Some(&body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    subscription
}

async fn plan(app: &TestApp, s: &Setup, key: &str) -> MessageId {
    let plan = MessagePlan {
        patient_id: s.patient.parse().expect("patient"),
        class: MessageClass::Transactional,
        idempotency_key: key.into(),
        subject: Some("Lab results".into()),
        body: format!("Your results are ready in the portal ({key})."),
        template: None,
        appointment_id: None,
        priority: Priority::Timely,
        media: Vec::new(),
        channel: None,
        to: None,
        due_at: app.store.clock().now(),
        expires_at: None,
    };
    app.store.plan_message(s.org, &plan).await.expect("plan").0.id
}

async fn dispatch(s: &Setup) -> BatchReport {
    s.sender.dispatch_batch(&crate::support::worker("push-test", 20)).await.expect("batch")
}

async fn read(s: &Setup, app: &TestApp, id: MessageId) -> Value {
    s.desk.send(app, "GET", &format!("/api/v1/organizations/{}/messages/{id}", s.org), None).await.body
}

#[tokio::test]
async fn a_push_reaches_the_patients_browser_encrypted_and_signed() {
    on_each_backend_app(|app| async move {
        let s = setup(&app).await;
        let key = app.send_raw("GET", "/api/v1/push/vapid-key", None, &[]).await;
        assert_eq!(key.status, StatusCode::OK, "public: a browser asks for it before signing in");
        subscribe(&app, &s).await;
        let listed = s.desk.send(&app, "GET", &path(&s), None).await;
        assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(1));
        assert!(listed.body["items"][0].get("auth").is_none(), "the keys are not echoed");

        let id = plan(&app, &s, "results").await;
        assert_eq!(dispatch(&s).await.done, 1);
        let received = s.sim.received();
        assert_eq!((received.len(), s.sim.refused()), (1, 0), "accepted once, the signature verified");
        let push = &received[0];
        assert_eq!(push.payload["body"], "Your results are ready in the portal (results).", "decrypted");
        assert_eq!(push.payload["title"], "Lab results");
        assert_eq!(push.payload["message_id"], id.to_string());
        assert_eq!(push.vapid_key, key.body["public_key"].as_str().expect("key"), "signed with the published key");
        assert_eq!(push.ttl, 3600);
        let message = read(&s, &app, id).await;
        assert_eq!((message["state"].as_str(), message["channel"].as_str()), (Some("sent"), Some("push")));
        assert!(message["trace"].to_string().contains("push: chosen"), "{}", message["trace"]);

        // Someone else's signature: the service refuses it.
        let forged = reqwest::Client::new()
            .post(&push.endpoint)
            .header("TTL", "60")
            .header("Content-Encoding", "aes128gcm")
            .header("Authorization", format!("vapid t=e30.e30.AAAA, k={}", push.vapid_key))
            .body(vec![0u8; 100])
            .send()
            .await
            .expect("request");
        assert_eq!(forged.status().as_u16(), 403);
    })
    .await;
}

#[tokio::test]
async fn a_subscription_needs_a_push_service_url_and_browser_keys() {
    on_each_backend_app(|app| async move {
        let s = setup(&app).await;
        let good = s.sim.subscribe();
        let bad = json!({"endpoint": "ftp://push.example/1", "keys": {"p256dh": "AAAA", "auth": good.auth}});
        let refused = s.desk.send(&app, "POST", &path(&s), Some(&bad)).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        let fields: Vec<&str> =
            refused.body["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
        assert_eq!(fields, ["endpoint", "keys.p256dh"], "{}", refused.body);
        let short = json!({"endpoint": good.endpoint, "keys": {"p256dh": good.p256dh, "auth": "AAAA"}});
        let refused = s.desk.send(&app, "POST", &path(&s), Some(&short)).await;
        assert_eq!(refused.body["errors"][0]["field"], "keys.auth", "{}", refused.body);
        let nobody = format!("/api/v1/organizations/{}/patients/{}/push-subscriptions", s.org, MessageId::generate());
        let body = json!({"endpoint": good.endpoint, "keys": {"p256dh": good.p256dh, "auth": good.auth}});
        assert_eq!(s.desk.send(&app, "POST", &nobody, Some(&body)).await.status, StatusCode::NOT_FOUND);
    })
    .await;
}

#[tokio::test]
async fn a_dropped_subscription_is_never_used_again_and_the_next_channel_carries_on() {
    on_each_backend_app(|app| async move {
        let s = setup(&app).await;
        let subscription = subscribe(&app, &s).await;
        s.sim.unsubscribe(&subscription);
        let gone = plan(&app, &s, "gone").await;
        assert_eq!(dispatch(&s).await.done, 1);
        let message = read(&s, &app, gone).await;
        assert_eq!(message["state"], "undeliverable");
        assert_eq!(message["reason"], "the subscription is gone (410)");
        let listed = s.desk.send(&app, "GET", &path(&s), None).await;
        assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(0), "no longer live");

        let next = plan(&app, &s, "next").await;
        assert_eq!(dispatch(&s).await.done, 1);
        let message = read(&s, &app, next).await;
        assert_eq!(message["channel"], "sms");
        assert!(message["trace"].to_string().contains("push: skipped, no push subscription"), "{}", message["trace"]);
        assert!(s.sim.received().is_empty());
    })
    .await;
}

#[tokio::test]
async fn the_push_services_refusals_are_retried_and_the_message_goes_once() {
    on_each_backend_app(|app| async move {
        let s = setup(&app).await;
        subscribe(&app, &s).await;
        s.sim.push_fault(PushFault::RateLimited { retry_after_secs: 30 });
        s.sim.push_fault(PushFault::ServerError);
        let id = plan(&app, &s, "busy").await;
        assert_eq!(dispatch(&s).await.retried, 1);
        assert_eq!(read(&s, &app, id).await["state"], "planned");
        app.clock.set(app.store.clock().now() + SignedDuration::from_secs(29));
        assert_eq!(dispatch(&s).await, BatchReport::default(), "Retry-After is honoured (a floor under the backoff)");
        app.clock.set(app.store.clock().now() + SignedDuration::from_mins(5));
        assert_eq!(dispatch(&s).await.retried, 1, "then a 500");
        app.clock.set(app.store.clock().now() + SignedDuration::from_mins(5));
        assert_eq!(dispatch(&s).await.done, 1);
        assert_eq!(s.sim.received().len(), 1, "once");
        let message = app.store.message(s.org, id).await.expect("message");
        assert_eq!(message.state, MessageState::Sent);
    })
    .await;
}
