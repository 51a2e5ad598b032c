//! The first messaging slice over HTTP, on both backends: a message planned
//! through the API reaches the log channel's outbox once, in the patient's
//! channel and hours, or is held, cancelled or suppressed with its reason.

use axum::http::StatusCode;
use jiff::SignedDuration;
use rapport::engine::dispatch::MessageSender;
use rapport::jobs::BatchReport;
use rapport_domain::Role;
use serde_json::{Value, json};

use crate::support::app::{TestApp, on_each_backend_app};
use crate::support::browser::{Browser, staff};
use crate::support::test_now;

async fn dispatch(app: &TestApp) -> BatchReport {
    let worker = crate::support::worker("test-dispatcher", 20);
    MessageSender::new(app.store.clone()).dispatch_batch(&worker).await.expect("batch")
}

/// An organization, a Chicago patient with a mobile and an email, and a front-desk browser.
async fn setup(app: &TestApp) -> (String, String, Browser) {
    let (org, _) = app.organization("Practice").await;
    let patient = json!({"given_name": "Ann", "family_name": "Lee", "time_zone": "America/Chicago",
        "phones": [{"number": "(312) 555-0101", "type": "mobile"}], "emails": ["ann@example.org"]});
    let created = app.post(&format!("/api/v1/organizations/{org}/patients"), patient).await;
    let desk = Browser::open(app, &staff(app, &org, "desk@practice.example", Role::FrontDesk).await).await;
    (org, created.body["id"].as_str().expect("id").to_owned(), desk)
}

fn plan(patient: &str, key: &str, class: &str) -> Value {
    json!({"patient_id": patient, "class": class, "idempotency_key": key, "body": "See you tomorrow at 10:30."})
}

async fn outbox(app: &TestApp, desk: &Browser, org: &str) -> Vec<Value> {
    let reply = desk.send(app, "GET", &format!("/api/v1/organizations/{org}/outbox"), None).await;
    reply.body["items"].as_array().expect("items").clone()
}

#[tokio::test]
async fn a_planned_message_reaches_the_outbox_once_in_the_patients_channel() {
    on_each_backend_app(|app| async move {
        let (org, patient, desk) = setup(&app).await;
        let path = format!("/api/v1/organizations/{org}/messages");
        let first = desk.send(&app, "POST", &path, Some(&plan(&patient, "visit-42:reminder-1d", "care"))).await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
        let again = desk.send(&app, "POST", &path, Some(&plan(&patient, "visit-42:reminder-1d", "care"))).await;
        assert_eq!((again.status, &again.body["id"]), (StatusCode::OK, &first.body["id"]), "planned once");
        assert_eq!(dispatch(&app).await.done, 1);
        assert_eq!(dispatch(&app).await, BatchReport::default(), "nothing left to send");
        let sent = outbox(&app, &desk, &org).await;
        assert_eq!(sent.len(), 1);
        assert_eq!((sent[0]["channel"].as_str(), sent[0]["address"].as_str()), (Some("sms"), Some("+13125550101")));
        let id = first.body["id"].as_str().expect("id");
        let read = desk.send(&app, "GET", &format!("{path}/{id}"), None).await;
        assert_eq!((read.body["state"].as_str(), read.body["channel"].as_str()), (Some("sent"), Some("sms")));
        let trace: Vec<&str> = read.body["trace"].as_array().expect("trace").iter().filter_map(Value::as_str).collect();
        assert!(trace.iter().any(|l| l.ends_with("sms: chosen")), "{trace:?}");
        assert!(trace.iter().any(|l| l.contains(" sent by sms through log (log-")), "{trace:?}");
        let cancel = desk.send(&app, "POST", &format!("{path}/{id}/cancel"), None).await;
        assert_eq!(cancel.status, StatusCode::CONFLICT, "a sent message cannot be cancelled");
    })
    .await;
}

#[tokio::test]
async fn at_night_a_message_waits_for_the_patients_morning_and_a_cancelled_one_never_goes() {
    on_each_backend_app(|app| async move {
        // 23:00 in Chicago.
        app.clock.set(test_now() + SignedDuration::from_hours(14));
        let (org, patient, desk) = setup(&app).await;
        let path = format!("/api/v1/organizations/{org}/messages");
        let night = desk.send(&app, "POST", &path, Some(&plan(&patient, "night", "transactional"))).await;
        let cancelled = desk.send(&app, "POST", &path, Some(&plan(&patient, "cancelled", "transactional"))).await;
        let id = cancelled.body["id"].as_str().expect("id");
        assert_eq!(desk.send(&app, "POST", &format!("{path}/{id}/cancel"), None).await.status, StatusCode::OK);
        let report = dispatch(&app).await;
        assert_eq!((report.deferred, report.done), (1, 1), "the night one waits; the cancelled one is closed");
        assert!(outbox(&app, &desk, &org).await.is_empty());
        let waiting = desk.send(&app, "GET", &format!("{path}/{}", night.body["id"].as_str().expect("id")), None).await;
        let trace = waiting.body["trace"].to_string();
        assert!(trace.contains("deferred to 2026-11-23T14:00:00Z"), "08:00 CST is 14:00 UTC: {trace}");
        app.clock.set("2026-11-23T14:00:00Z".parse().expect("time"));
        assert_eq!(dispatch(&app).await.done, 1);
        let morning = Browser::open(&app, &staff(&app, &org, "early@practice.example", Role::FrontDesk).await).await;
        let sent = outbox(&app, &morning, &org).await;
        assert_eq!(sent.len(), 1, "only the night one, in the morning");
        assert_eq!(sent[0]["message_id"], night.body["id"]);
    })
    .await;
}

#[tokio::test]
async fn a_revoked_consent_is_checked_at_send_time_and_care_texts_are_capped() {
    on_each_backend_app(|app| async move {
        let (org, patient, desk) = setup(&app).await;
        let path = format!("/api/v1/organizations/{org}/messages");
        let marketing = desk.send(&app, "POST", &path, Some(&plan(&patient, "newsletter", "marketing"))).await;
        desk.send(&app, "POST", &path, Some(&plan(&patient, "reminder-a", "care"))).await;
        desk.send(&app, "POST", &path, Some(&plan(&patient, "reminder-b", "care"))).await;
        let report = dispatch(&app).await;
        assert_eq!((report.done, report.deferred), (2, 1), "marketing closed, one care text sent, one capped");
        let id = marketing.body["id"].as_str().expect("id");
        let closed = desk.send(&app, "GET", &format!("{path}/{id}"), None).await;
        assert_eq!(closed.body["state"], "suppressed");
        assert_eq!(closed.body["reason"], "no channel can carry it");
        let trace = closed.body["trace"].to_string();
        assert!(trace.contains("sms: skipped, no marketing consent"), "{trace}");
        assert_eq!(outbox(&app, &desk, &org).await.len(), 1);

        // Planned before the patient revoked SMS: at send time, email carries it.
        let later = desk.send(&app, "POST", &path, Some(&plan(&patient, "lab-ready", "transactional"))).await;
        let consents = format!("/api/v1/organizations/{org}/patients/{patient}/consents");
        let revoke = json!({"channel": "sms", "purpose": "transactional", "status": "revoked"});
        assert_eq!(desk.send(&app, "POST", &consents, Some(&revoke)).await.status, StatusCode::CREATED);
        dispatch(&app).await;
        let sent = desk.send(&app, "GET", &format!("{path}/{}", later.body["id"].as_str().expect("id")), None).await;
        assert_eq!(sent.body["channel"], "email");
        assert!(sent.body["trace"].to_string().contains("sms: skipped, consent revoked"));
    })
    .await;
}

#[tokio::test]
async fn the_linter_explains_what_a_text_breaks_before_it_is_sent() {
    let app = TestApp::new().await;
    let (org, _, desk) = setup(&app).await;
    let path = format!("/api/v1/organizations/{org}/messages/lint");
    let good = json!({"channel": "sms", "class": "care",
        "body": "Practice: see you Tue at 9:30 AM. Call 312-555-0100 to change. Reply STOP to opt out."});
    let reply = desk.send(&app, "POST", &path, Some(&good)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["sendable"], true, "{}", reply.body);
    assert_eq!(reply.body["findings"][0]["rule"], "sms.segments");
    let bad = json!({"channel": "sms", "class": "care", "body": "Your biopsy is Tuesday, reply CANCEL to cancel."});
    let reply = desk.send(&app, "POST", &path, Some(&bad)).await;
    assert_eq!(reply.body["sendable"], false);
    let rules: Vec<&str> =
        reply.body["findings"].as_array().expect("findings").iter().filter_map(|f| f["rule"].as_str()).collect();
    for rule in ["sms.cancel_keyword", "care.practice", "care.opt_out", "phi.unsecured"] {
        assert!(rules.contains(&rule), "{rule} in {rules:?}");
    }
    let invalid = desk.send(&app, "POST", &path, Some(&json!({"channel": "fax", "class": "care", "body": "x"}))).await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(invalid.body["errors"][0]["field"], "channel", "{}", invalid.body);
}

#[tokio::test]
async fn a_message_takes_its_priority_from_its_class_unless_the_planner_gives_one() {
    on_each_backend_app(|app| async move {
        let (org, patient, desk) = setup(&app).await;
        let path = format!("/api/v1/organizations/{org}/messages");
        let care = desk.send(&app, "POST", &path, Some(&plan(&patient, "care", "care"))).await;
        assert_eq!(care.body["priority"], "timely");
        let newsletter = desk.send(&app, "POST", &path, Some(&plan(&patient, "news", "marketing"))).await;
        assert_eq!(newsletter.body["priority"], "bulk");
        let mut answer = plan(&patient, "answer", "transactional");
        answer["priority"] = json!("reply");
        assert_eq!(desk.send(&app, "POST", &path, Some(&answer)).await.body["priority"], "reply");
        answer["priority"] = json!("urgent");
        let refused = desk.send(&app, "POST", &path, Some(&answer)).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(refused.body["errors"][0]["field"], "priority");
    })
    .await;
}

#[tokio::test]
async fn trace_lines_written_at_once_by_several_writers_all_land_in_order() {
    on_each_backend_app(|app| async move {
        let (org, patient, desk) = setup(&app).await;
        let path = format!("/api/v1/organizations/{org}/messages");
        let planned = desk.send(&app, "POST", &path, Some(&plan(&patient, "busy-trace", "care"))).await;
        let id: rapport_domain::MessageId = planned.body["id"].as_str().expect("id").parse().expect("id");
        let org: rapport_domain::OrganizationId = org.parse().expect("org");
        let writers: Vec<_> = (0..8)
            .map(|w| {
                let store = app.store.clone();
                tokio::spawn(async move {
                    for n in 0..5 {
                        store.note_message(org, id, &format!("writer {w} line {n}")).await.expect("note");
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.await.expect("writer");
        }
        let trace = app.store.message_events(org, id).await.expect("trace");
        assert_eq!(trace.len(), 41, "the planning line and 40 notes");
        for w in 0..8 {
            let mine: Vec<&str> =
                trace.iter().map(|e| e.note.as_str()).filter(|n| n.starts_with(&format!("writer {w} "))).collect();
            let expected: Vec<String> = (0..5).map(|n| format!("writer {w} line {n}")).collect();
            assert_eq!(mine, expected, "each writer's lines in its order");
        }
    })
    .await;
}

#[tokio::test]
async fn an_organizations_narrower_hours_hold_its_messages_until_they_open() {
    on_each_backend_app(|app| async move {
        let (org, patient, desk) = setup(&app).await;
        let org_path = format!("/api/v1/organizations/{org}");
        let current = app.get(&org_path).await;
        let etag = current.etag.clone().expect("etag");
        let wider = json!({"name": "Practice", "time_zone": "America/Chicago",
            "sending_hours": {"start": "07:00", "end": "17:00"}});
        let refused = app.send("PUT", &org_path, Some(&wider.to_string()), &[("if-match", &etag)]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(refused.body["errors"][0]["field"], "sending_hours");
        let narrower = json!({"name": "Practice", "time_zone": "America/Chicago",
            "sending_hours": {"start": "10:00", "end": "17:00"}});
        let updated = app.send("PUT", &org_path, Some(&narrower.to_string()), &[("if-match", &etag)]).await;
        assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
        assert_eq!(updated.body["sending_hours"], json!({"start": "10:00", "end": "17:00"}));

        // 09:00 in Chicago: inside the federal window, before the practice's.
        let path = format!("{org_path}/messages");
        let planned = desk.send(&app, "POST", &path, Some(&plan(&patient, "early", "transactional"))).await;
        let report = dispatch(&app).await;
        assert_eq!(report.deferred, 1);
        let id = planned.body["id"].as_str().expect("id");
        let waiting = desk.send(&app, "GET", &format!("{path}/{id}"), None).await;
        assert!(waiting.body["trace"].to_string().contains("deferred to 2026-11-22T16:00:00Z"), "{}", waiting.body);
        app.clock.set("2026-11-22T16:00:00Z".parse().expect("time"));
        assert_eq!(dispatch(&app).await.done, 1);
    })
    .await;
}

/// Plans a message through the API and puts it in doubt, as a hand-off
/// whose answer was lost would.
async fn in_doubt(app: &TestApp, desk: &Browser, org: &str, patient: &str, key: &str) -> String {
    let path = format!("/api/v1/organizations/{org}/messages");
    let planned = desk.send(app, "POST", &path, Some(&plan(patient, key, "transactional"))).await;
    let id = planned.body["id"].as_str().expect("id").to_owned();
    let org_id: rapport_domain::OrganizationId = org.parse().expect("org");
    let message = app.store.message(org_id, id.parse().expect("id")).await.expect("message");
    assert!(crate::sms::begin_sending(app, &message).await);
    assert!(app.store.record_in_doubt(org_id, message.id, "the connection broke").await.expect("doubt"));
    id
}

#[tokio::test]
async fn staff_settle_a_message_in_doubt_and_only_an_administrator_sends_one_again() {
    on_each_backend_app(|app| async move {
        let (org, patient, desk) = setup(&app).await;
        let administrator = staff(&app, &org, "admin@practice.example", Role::Administrator).await;
        let admin = Browser::open(&app, &administrator).await;
        let path = format!("/api/v1/organizations/{org}/messages");
        let listed = desk.send(&app, "GET", &format!("{path}?state=in_doubt"), None).await;
        assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(0));
        let known = in_doubt(&app, &desk, &org, &patient, "known").await;
        let again = in_doubt(&app, &desk, &org, &patient, "again").await;
        let listed = desk.send(&app, "GET", &format!("{path}?state=in_doubt"), None).await;
        assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(2), "{}", listed.body);
        assert_eq!(listed.body["items"][0]["reason"], "the connection broke");

        let marked = desk.send(&app, "POST", &format!("{path}/{known}/mark-sent"), None).await;
        assert_eq!((marked.status, marked.body["state"].as_str()), (StatusCode::OK, Some("sent")), "{}", marked.body);
        let twice = desk.send(&app, "POST", &format!("{path}/{known}/mark-sent"), None).await;
        assert_eq!(twice.status, StatusCode::CONFLICT, "no longer in doubt");
        let refused = desk.send(&app, "POST", &format!("{path}/{again}/resend"), None).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "front desk may not risk a duplicate");
        let resent = admin.send(&app, "POST", &format!("{path}/{again}/resend"), None).await;
        assert_eq!(
            (resent.status, resent.body["state"].as_str()),
            (StatusCode::OK, Some("planned")),
            "{}",
            resent.body
        );
        dispatch(&app).await;
        let sent = outbox(&app, &desk, &org).await;
        assert_eq!(sent.len(), 1, "its job ran again at once, and only its: {sent:?}");
        assert_eq!(sent[0]["message_id"].as_str(), Some(again.as_str()));
        let read = desk.send(&app, "GET", &format!("{path}/{again}"), None).await;
        assert_eq!(read.body["state"], "sent");
        let trace = read.body["trace"].to_string();
        assert!(trace.contains("staff chose to send it again") && trace.contains("sent by sms through log"), "{trace}");
        let gone = admin.send(&app, "POST", &format!("{path}/01a25338-4976-76f4-8518-bd3c29f5986f/resend"), None).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND);

        let by_admin = administrator.id.to_string();
        for (action, admin_did_it) in [("message.mark_sent", false), ("message.resend", true)] {
            let events = admin
                .send(&app, "GET", &format!("/api/v1/organizations/{org}/audit-events?action={action}"), None)
                .await;
            let items = events.body["items"].as_array().expect("items").clone();
            let by_whom: Vec<bool> = items.iter().map(|e| e["actor_id"] == by_admin.as_str()).collect();
            assert!(by_whom.contains(&admin_did_it), "{action} is audited with who did it: {items:?}");
        }
    })
    .await;
}
