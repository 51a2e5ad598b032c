//! The reminder planner on both backends (issue 5, first part): every write
//! of a visit enqueues a sync; the sync plans the visit's reminders keyed by
//! its version, cancels those a reschedule or a cancellation made stale, and
//! sends a confirmation instead of reminders already past; the dispatcher
//! refuses a reminder that no longer fits its visit.

use axum::http::StatusCode;
use rapport::engine::dispatch::MessageSender;
use rapport::engine::reminders::ReminderPlanner;
use rapport::jobs::BatchReport;
use rapport_domain::Role;
use serde_json::{Value, json};

use crate::support::app::{TestApp, on_each_backend_app};
use crate::support::browser::{Browser, staff};

struct Practice {
    org: String,
    location: String,
    patient: String,
}

async fn setup(app: &TestApp) -> Practice {
    let (org, location) = app.organization("Riverbend Health").await;
    let patient = json!({"given_name": "Ann", "family_name": "Lee", "time_zone": "America/Chicago",
        "phones": [{"number": "(312) 555-0101", "type": "mobile"}]});
    let created = app.post(&format!("/api/v1/organizations/{org}/patients"), patient).await;
    Practice { org, location, patient: created.body["id"].as_str().expect("id").to_owned() }
}

async fn book(app: &TestApp, p: &Practice, start: &str) -> (String, String) {
    let visit = json!({"patient_id": p.patient, "location_id": p.location, "start": start,
        "duration_minutes": 30, "visit_type": "follow-up"});
    let created = app.post(&format!("/api/v1/organizations/{}/appointments", p.org), visit).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    (created.body["id"].as_str().expect("id").to_owned(), created.etag.expect("etag"))
}

async fn change(app: &TestApp, p: &Practice, id: &str, etag: &str, start: &str, status: &str) -> String {
    let visit = json!({"patient_id": p.patient, "location_id": p.location, "start": start,
        "duration_minutes": 30, "visit_type": "follow-up", "status": status});
    let path = format!("/api/v1/organizations/{}/appointments/{id}", p.org);
    let updated = app.send("PUT", &path, Some(&visit.to_string()), &[("if-match", etag)]).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    updated.etag.expect("etag")
}

async fn plan(app: &TestApp) -> BatchReport {
    let worker = crate::support::worker("planner", 50);
    ReminderPlanner::new(app.store.clone()).plan_batch(&worker).await.expect("planner")
}

/// The visit's messages, oldest first: (state, key's last part, due_at, reason).
async fn messages_of(app: &TestApp, p: &Practice, visit: &str) -> Vec<(String, String, String, String)> {
    let desk =
        Browser::open(app, &staff(app, &p.org, &format!("d{}@r.example", rand_tag()), Role::FrontDesk).await).await;
    let path = format!("/api/v1/organizations/{}/messages?appointment={visit}", p.org);
    let listed = desk.send(app, "GET", &path, None).await;
    let text = |m: &Value, k: &str| m[k].as_str().unwrap_or_default().to_owned();
    let mut items: Vec<(String, String, String, String)> = listed.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|m| {
            let key = text(m, "idempotency_key");
            let tail = key.rsplit(':').take(2).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join(":");
            (text(m, "state"), tail, text(m, "due_at"), text(m, "reason"))
        })
        .collect();
    items.reverse();
    items
}

fn rand_tag() -> String {
    rapport_domain::MessageId::generate().to_string()
}

#[tokio::test]
async fn a_visits_reminders_follow_its_reschedule_and_cancellation() {
    on_each_backend_app(|app| async move {
        let p = setup(&app).await;
        // Friday 27 November, 10:00 in Chicago.
        let (visit, etag) = book(&app, &p, "2026-11-27T16:00:00Z").await;
        assert_eq!(plan(&app).await.done, 1);
        let planned = messages_of(&app, &p, &visit).await;
        assert_eq!(
            planned.iter().map(|m| (m.0.as_str(), m.1.as_str(), m.2.as_str())).collect::<Vec<_>>(),
            [("planned", "v1:3d", "2026-11-24T16:00:00Z"), ("planned", "v1:1d", "2026-11-26T16:00:00Z")]
        );
        assert_eq!(plan(&app).await, BatchReport::default(), "one sync per change");

        // Moved to Saturday 28 November, 11:00.
        let etag = change(&app, &p, &visit, &etag, "2026-11-28T17:00:00Z", "booked").await;
        assert_eq!(plan(&app).await.done, 1);
        let after = messages_of(&app, &p, &visit).await;
        let summary: Vec<(&str, &str)> = after.iter().map(|m| (m.0.as_str(), m.1.as_str())).collect();
        assert_eq!(
            summary,
            [("cancelled", "v1:3d"), ("cancelled", "v1:1d"), ("planned", "v2:3d"), ("planned", "v2:1d")]
        );
        assert_eq!(after[0].3, "the visit changed (now version 2)");
        assert_eq!(after[3].2, "2026-11-27T17:00:00Z");

        change(&app, &p, &visit, &etag, "2026-11-28T17:00:00Z", "cancelled").await;
        assert_eq!(plan(&app).await.done, 1);
        let cancelled = messages_of(&app, &p, &visit).await;
        assert!(cancelled.iter().all(|m| m.0 == "cancelled"), "{cancelled:?}");
        assert_eq!(cancelled[3].3, "the visit is cancelled");
    })
    .await;
}

#[tokio::test]
async fn booked_inside_the_window_the_patient_gets_a_confirmation_now() {
    on_each_backend_app(|app| async move {
        let p = setup(&app).await;
        // Tomorrow, Monday 23 November at 14:00 in Chicago: 3 days before is past.
        let (visit, _) = book(&app, &p, "2026-11-23T20:00:00Z").await;
        plan(&app).await;
        let planned = messages_of(&app, &p, &visit).await;
        let summary: Vec<(&str, &str)> = planned.iter().map(|m| (m.0.as_str(), m.1.as_str())).collect();
        assert_eq!(summary, [("planned", "v1:1d"), ("planned", "v1:booked")]);
        let worker = crate::support::worker("dispatcher", 20);
        let report = MessageSender::new(app.store.clone()).dispatch_batch(&worker).await.expect("dispatch");
        assert_eq!(report.done, 1, "the confirmation goes now; the reminder waits for its day");
        let outbox = app.store.outbox(p.org.parse().expect("org"), &rapport::store::PageRequest::first(5)).await;
        let body = outbox.expect("outbox").items[0].body.clone();
        assert!(body.contains("you are booked Monday, November 23 at 2:00 PM"), "{body}");
    })
    .await;
}

#[tokio::test]
async fn a_reminder_the_sync_has_not_caught_up_with_is_refused_at_send_time() {
    on_each_backend_app(|app| async move {
        let p = setup(&app).await;
        let (visit, etag) = book(&app, &p, "2026-11-27T16:00:00Z").await;
        plan(&app).await;
        // Rescheduled, and the planner has not run yet when the first reminder falls due.
        change(&app, &p, &visit, &etag, "2026-11-30T16:00:00Z", "booked").await;
        app.clock.set("2026-11-24T16:00:00Z".parse().expect("time"));
        let worker = crate::support::worker("dispatcher", 20);
        let report = MessageSender::new(app.store.clone()).dispatch_batch(&worker).await.expect("dispatch");
        assert_eq!(report.done, 1);
        let stale = messages_of(&app, &p, &visit).await;
        assert_eq!((stale[0].0.as_str(), stale[0].1.as_str()), ("suppressed", "v1:3d"));
        assert_eq!(stale[0].3, "the visit changed after this reminder was planned");
        let outbox = app.store.outbox(p.org.parse().expect("org"), &rapport::store::PageRequest::first(5)).await;
        assert!(outbox.expect("outbox").items.is_empty(), "never the old time's reminder");
    })
    .await;
}

#[tokio::test]
async fn a_rule_change_re_plans_the_visits_ahead_the_most_specific_rule_winning() {
    on_each_backend_app(|app| async move {
        let p = setup(&app).await;
        let (visit, _) = book(&app, &p, "2026-11-27T16:00:00Z").await;
        plan(&app).await;
        let rules = format!("/api/v1/organizations/{}/reminder-rules", p.org);
        let bad =
            json!({"offsets": [{"before": "3w"}, {"before": "2h", "template": "No Such Kind", "channel": "fax"}]});
        let refused = app.post(&rules, bad).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        let fields: Vec<&str> =
            refused.body["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
        assert_eq!(fields, ["offsets[0].before", "offsets[1].template", "offsets[1].channel"]);

        // Follow-ups get one text, 2 hours before; everything else 2 days before.
        let follow_ups = json!({"visit_type": "follow-up", "offsets": [{"before": "2h", "channel": "sms"}]});
        let created = app.post(&rules, follow_ups.clone()).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        assert_eq!(app.post(&rules, follow_ups).await.status, StatusCode::CONFLICT, "one rule per scope");
        let everyone = app.post(&rules, json!({"offsets": [{"before": "2d"}]})).await;
        assert_eq!(everyone.status, StatusCode::CREATED);
        let report = plan(&app).await;
        assert_eq!(report.done, 2, "a sync of the visit per rule written");
        let after = messages_of(&app, &p, &visit).await;
        let summary: Vec<(&str, &str)> = after.iter().map(|m| (m.0.as_str(), m.1.as_str())).collect();
        assert_eq!(summary, [("cancelled", "v1:3d"), ("cancelled", "v1:1d"), ("planned", "v1:2h")]);
        assert_eq!(after[0].3, "the visit's reminder schedule changed");
        assert_eq!(after[2].2, "2026-11-27T14:00:00Z");
        assert_eq!(created.body["offsets"][0]["channel"], "sms");
        let org = p.org.parse().expect("org");
        let query = rapport::store::MessageQuery {
            appointment: Some(visit.parse().expect("visit")),
            state: Some(rapport_domain::MessageState::Planned),
            ..Default::default()
        };
        let planned = app.store.messages(org, &query, &rapport::store::PageRequest::first(5)).await.expect("q");
        assert_eq!(planned.items[0].plan.channel, Some(rapport_domain::Channel::Sms), "the rule's channel pins it");

        // Without the follow-up rule, the organization's own applies.
        let id = created.body["id"].as_str().expect("id");
        assert_eq!(app.send("DELETE", &format!("{rules}/{id}"), None, &[]).await.status, StatusCode::NO_CONTENT);
        plan(&app).await;
        let last = messages_of(&app, &p, &visit).await;
        assert_eq!(
            (last[3].0.as_str(), last[3].1.as_str(), last[3].2.as_str()),
            ("planned", "v1:2d", "2026-11-25T16:00:00Z")
        );
    })
    .await;
}

#[tokio::test]
async fn a_visit_type_gets_its_preparation_ahead_and_a_follow_up_once_fulfilled() {
    on_each_backend_app(|app| async move {
        let p = setup(&app).await;
        let rules = format!("/api/v1/organizations/{}/reminder-rules", p.org);
        let rule = json!({"visit_type": "follow-up", "offsets": [{"before": "1d"}],
            "preparation": [{"before": "2d"}], "after_visit": {"after": "2h"}});
        let created = app.post(&rules, rule).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        assert_eq!(created.body["preparation"][0]["template"], "visit_preparation");
        assert_eq!(created.body["after_visit"]["template"], "visit_follow_up");
        let bad = app
            .post(&rules, json!({"visit_type": "x", "offsets": [{"before": "1d"}], "after_visit": {"after": "soon"}}))
            .await;
        assert_eq!(bad.body["errors"][0]["field"], "after_visit.before");

        // Friday 27 November, 10:00 in Chicago.
        let (visit, etag) = book(&app, &p, "2026-11-27T16:00:00Z").await;
        plan(&app).await;
        let planned: Vec<(String, String)> =
            messages_of(&app, &p, &visit).await.into_iter().map(|m| (m.1, m.2)).collect();
        assert_eq!(
            planned,
            [
                ("v1:prep-2d".to_owned(), "2026-11-25T16:00:00Z".to_owned()),
                ("v1:1d".into(), "2026-11-26T16:00:00Z".into())
            ]
        );

        app.clock.set("2026-11-27T16:35:00Z".parse().expect("time"));
        change(&app, &p, &visit, &etag, "2026-11-27T16:00:00Z", "fulfilled").await;
        plan(&app).await;
        let after = messages_of(&app, &p, &visit).await;
        let last = after.last().expect("a message");
        assert_eq!((last.0.as_str(), last.2.as_str()), ("planned", "2026-11-27T18:30:00Z"));
        assert!(last.1.ends_with(":after"), "keyed once per visit, whatever its version: {}", last.1);
        assert_eq!(after.iter().filter(|m| m.0 == "planned").count(), 1, "the reminders ahead are gone: {after:?}");
        let worker = crate::support::worker("dispatcher", 20);
        app.clock.set("2026-11-27T18:30:00Z".parse().expect("time"));
        MessageSender::new(app.store.clone()).dispatch_batch(&worker).await.expect("dispatch");
        let outbox = app.store.outbox(p.org.parse().expect("org"), &rapport::store::PageRequest::first(5)).await;
        let body = outbox.expect("outbox").items[0].body.clone();
        assert!(body.contains("thank you for your visit, Ann"), "{body}");
    })
    .await;
}

#[tokio::test]
async fn a_no_show_gets_a_message_to_book_again_and_a_task_for_staff_once() {
    on_each_backend_app(|app| async move {
        let p = setup(&app).await;
        let (visit, etag) = book(&app, &p, "2026-11-23T16:00:00Z").await;
        plan(&app).await;
        app.clock.set("2026-11-23T16:45:00Z".parse().expect("time"));
        let etag = change(&app, &p, &visit, &etag, "2026-11-23T16:00:00Z", "noshow").await;
        plan(&app).await;
        // Touched again (a note in the EHR): no second message, no second task.
        change(&app, &p, &visit, &etag, "2026-11-23T16:00:00Z", "noshow").await;
        plan(&app).await;
        let missed: Vec<_> =
            messages_of(&app, &p, &visit).await.into_iter().filter(|m| m.1.ends_with(":missed")).collect();
        assert_eq!(missed.len(), 1, "{missed:?}");
        let tasks = app.send("GET", &format!("/api/v1/organizations/{}/tasks?kind=no_show", p.org), None, &[]).await;
        let items = tasks.body["items"].as_array().expect("items");
        assert_eq!(items.len(), 1, "{}", tasks.body);
        assert_eq!(items[0]["appointment_id"].as_str(), Some(visit.as_str()));
        let worker = crate::support::worker("dispatcher", 20);
        MessageSender::new(app.store.clone()).dispatch_batch(&worker).await.expect("dispatch");
        let outbox = app.store.outbox(p.org.parse().expect("org"), &rapport::store::PageRequest::first(5)).await;
        let bodies: Vec<String> = outbox.expect("outbox").items.into_iter().map(|e| e.body).collect();
        assert!(bodies.iter().any(|b| b.contains("we missed you")), "{bodies:?}");
        let path = format!("/api/v1/organizations/{}/metrics/reminders?from=2026-11-23&to=2026-11-23", p.org);
        assert_eq!(app.send("GET", &path, None, &[]).await.body["items"][0]["no_shows"], 1);
    })
    .await;
}

#[tokio::test]
async fn a_patient_due_a_recall_gets_its_attempts_once_until_they_book() {
    on_each_backend_app(|app| async move {
        let p = setup(&app).await;
        let rules = format!("/api/v1/organizations/{}/recall-rules", p.org);
        let bad = app.post(&rules, json!({"visit_type": "hygiene", "interval_months": 0})).await;
        assert_eq!(bad.body["errors"][0]["field"], "interval_months");
        let rule = app.post(&rules, json!({"visit_type": "hygiene", "interval_months": 6, "attempts": [0, 14]})).await;
        assert_eq!(rule.status, StatusCode::CREATED, "{}", rule.body);
        assert_eq!(app.post(&rules, json!({"visit_type": "hygiene", "interval_months": 12})).await.status, StatusCode::CONFLICT);

        // Ann's last cleaning was in April; another patient's in October (not due).
        let visit = |patient: &str, start: &str, status: &str| {
            json!({"patient_id": patient, "location_id": p.location, "start": start,
                "duration_minutes": 45, "visit_type": "hygiene", "status": status})
        };
        let visits = format!("/api/v1/organizations/{}/appointments", p.org);
        app.post(&visits, visit(&p.patient, "2025-10-01T15:00:00Z", "fulfilled")).await;
        let april = app.post(&visits, visit(&p.patient, "2026-04-20T15:00:00Z", "fulfilled")).await;
        let other = json!({"given_name": "Ben", "family_name": "Ruiz", "phones": [{"number": "(312) 555-0102", "type": "mobile"}]});
        let ben = app.post(&format!("/api/v1/organizations/{}/patients", p.org), other).await;
        app.post(&visits, visit(ben.body["id"].as_str().expect("id"), "2026-10-05T15:00:00Z", "fulfilled")).await;

        let planner = ReminderPlanner::new(app.store.clone());
        let scan = planner.scan_recalls_if_due().await.expect("scan").expect("the first scan runs");
        assert_eq!((scan.due, scan.planned), (1, 2));
        assert_eq!(planner.scan_recalls_if_due().await.expect("scan"), None, "not again within ten minutes");
        app.clock.set("2026-11-22T15:20:00Z".parse().expect("time"));
        let again = planner.scan_recalls_if_due().await.expect("scan").expect("ran");
        assert_eq!((again.due, again.planned), (1, 0), "found again, planned nothing twice");
        let april = april.body["id"].as_str().expect("id").to_owned();
        let attempts = messages_of(&app, &p, &april).await;
        assert_eq!(
            attempts.iter().map(|m| (m.0.as_str(), m.2.as_str())).collect::<Vec<_>>(),
            [("planned", "2026-11-22T15:00:00Z"), ("planned", "2026-12-06T15:00:00Z")],
            "from the first scan: due since October, so from now"
        );

        let worker = crate::support::worker("dispatcher", 20);
        MessageSender::new(app.store.clone()).dispatch_batch(&worker).await.expect("dispatch");
        let outbox = app.store.outbox(p.org.parse().expect("org"), &rapport::store::PageRequest::first(5)).await;
        let body = outbox.expect("outbox").items[0].body.clone();
        assert!(body.contains("Ann, it is time for your next visit"), "{body}");

        // She books: the attempt still planned is cancelled.
        book(&app, &p, "2026-12-10T16:00:00Z").await;
        plan(&app).await;
        let after = messages_of(&app, &p, &april).await;
        assert_eq!((after[1].0.as_str(), after[1].3.as_str()), ("cancelled", "the patient booked a visit"));
        let path = format!("/api/v1/organizations/{}/metrics/reminders?from=2026-11-22&to=2026-11-22", p.org);
        let day = app.send("GET", &path, None, &[]).await.body["items"][0].clone();
        assert_eq!((day["recalls_sent"].as_i64(), day["recall_bookings"].as_i64()), (Some(1), Some(1)));
    })
    .await;
}
