//! Patients' answers to their reminders, on both backends (issue 5): a text
//! reply through the signed inbound webhook, placed on the one open visit
//! or handed to staff (never guessed); the asks stop once confirmed; a
//! cancellation cancels the visit and raises a staff task; a text delivered
//! twice is taken once; an email's answer page shows on GET and answers
//! only on POST, refusing forged and expired links.

use axum::http::StatusCode;
use rapport::engine::dispatch::MessageSender;
use rapport::engine::reminders::ReminderPlanner;
use rapport::links::PatientLinks;
use rapport::store::{AuditQuery, MessageQuery, PageRequest};
use rapport_domain::{Answer, OrganizationId, Role};
use serde_json::{Value, json};

use crate::sms::signed_form;
use crate::support::app::{PUBLIC_URL, TWILIO_TOKEN, TestApp, on_each_backend_app};
use crate::support::browser::{Browser, staff};

const SENDER: &str = "+13125550000";
const SHARED: &str = "+13125550101";

struct Practice {
    org: String,
    location: String,
}

async fn practice(app: &TestApp) -> Practice {
    let (org, location) = app.organization("Riverbend Health").await;
    Practice { org, location }
}

async fn patient(app: &TestApp, p: &Practice, given: &str, phone: &str) -> String {
    let body = json!({"given_name": given, "family_name": "Lee", "time_zone": "America/Chicago",
        "phones": [{"number": phone, "type": "mobile"}]});
    let created = app.post(&format!("/api/v1/organizations/{}/patients", p.org), body).await;
    created.body["id"].as_str().expect("id").to_owned()
}

async fn book(app: &TestApp, p: &Practice, patient: &str, start: &str) -> String {
    let visit = json!({"patient_id": patient, "location_id": p.location, "start": start,
        "duration_minutes": 30, "visit_type": "follow-up"});
    let created = app.post(&format!("/api/v1/organizations/{}/appointments", p.org), visit).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    created.body["id"].as_str().expect("id").to_owned()
}

/// Runs the planner and the dispatcher (log channel) until both are idle.
async fn settle(app: &TestApp) {
    let worker = crate::support::worker("answers", 50);
    for _ in 0..5 {
        let planned = ReminderPlanner::new(app.store.clone()).plan_batch(&worker).await.expect("planner");
        let sent = MessageSender::new(app.store.clone()).dispatch_batch(&worker).await.expect("dispatch");
        if planned == Default::default() && sent == Default::default() {
            return;
        }
    }
}

async fn text(app: &TestApp, p: &Practice, from: &str, body: &str, sid: &str) {
    let path = format!("/hooks/twilio/{}/inbound", p.org);
    let form = [("From", from), ("To", SENDER), ("Body", body), ("MessageSid", sid)];
    let (body, signature) = signed_form(&path, &form, TWILIO_TOKEN);
    let reply = app.send_raw("POST", &path, Some(&body), &[("x-twilio-signature", &signature)]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

async fn get(app: &TestApp, path: &str) -> Value {
    let reply = app.send("GET", path, None, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    reply.body
}

/// The visit's messages, oldest first: (state, the key's tail, id).
async fn messages_of(app: &TestApp, p: &Practice, visit: &str) -> Vec<(String, String, String)> {
    let query = MessageQuery { appointment: Some(visit.parse().expect("visit")), ..MessageQuery::default() };
    let org: OrganizationId = p.org.parse().expect("org");
    let page = app.store.messages(org, &query, &PageRequest::first(50)).await.expect("messages");
    let mut items: Vec<(String, String, String)> = page
        .items
        .iter()
        .map(|m| {
            let key = &m.plan.idempotency_key;
            let tail = key.split(':').skip(2).collect::<Vec<_>>().join(":");
            let tail = if key.starts_with("reply:") { "reply".to_owned() } else { tail };
            (m.state.as_str().to_owned(), tail, m.id.to_string())
        })
        .collect();
    items.sort_by(|a, b| a.2.cmp(&b.2));
    items
}

async fn outbox_bodies(app: &TestApp, p: &Practice) -> Vec<(String, String)> {
    let org: OrganizationId = p.org.parse().expect("org");
    let page = app.store.outbox(org, &PageRequest::first(50)).await.expect("outbox");
    page.items.into_iter().map(|e| (e.address, e.body)).collect()
}

async fn tasks(app: &TestApp, p: &Practice) -> Vec<(String, Value)> {
    let listed = get(app, &format!("/api/v1/organizations/{}/tasks?state=open", p.org)).await;
    listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|t| (t["kind"].as_str().expect("kind").to_owned(), t.clone()))
        .collect()
}

/// Ann's visit on Friday 27 November, 10:00 in Chicago, and its 3-day
/// reminder sent on the 24th (the clock left there): (practice, Ann, visit).
async fn reminded_three_days_ahead(app: &TestApp) -> (Practice, String, String) {
    let p = practice(app).await;
    let ann = patient(app, &p, "Ann", "(312) 555-0101").await;
    let visit = book(app, &p, &ann, "2026-11-27T16:00:00Z").await;
    settle(app).await;
    app.clock.set("2026-11-24T16:00:00Z".parse().expect("time"));
    settle(app).await;
    (p, ann, visit)
}

#[tokio::test]
async fn a_text_confirms_the_visit_once_and_the_asks_give_way_to_a_plain_reminder() {
    on_each_backend_app(|app| async move {
        let (p, ann, visit) = reminded_three_days_ahead(&app).await;
        let sent = outbox_bodies(&app, &p).await;
        assert_eq!(sent.len(), 1);
        assert!(sent[0].1.contains("Reply 1 to confirm, 2 if you can't come, 3 to change it"), "{}", sent[0].1);

        text(&app, &p, SHARED, " Yes 👍 ", "SM-a1").await;
        text(&app, &p, SHARED, " Yes 👍 ", "SM-a1").await; // the webhook, delivered again
        let answers = get(&app, &format!("/api/v1/organizations/{}/appointments/{visit}/answers", p.org)).await;
        let answers = answers["items"].as_array().expect("items");
        assert_eq!(answers.len(), 1, "one text, one answer: {answers:?}");
        assert_eq!((answers[0]["answer"].as_str(), answers[0]["channel"].as_str()), (Some("confirm"), Some("sms")));
        let read = get(&app, &format!("/api/v1/organizations/{}/appointments/{visit}", p.org)).await;
        assert_eq!(
            (read["status"].as_str(), read["version"].as_i64()),
            (Some("booked"), Some(1)),
            "confirming changes no visit"
        );

        settle(&app).await;
        let after: Vec<(String, String)> =
            messages_of(&app, &p, &visit).await.into_iter().map(|(state, tail, _)| (state, tail)).collect();
        let expected = [("sent", "v1:3d"), ("cancelled", "v1:1d"), ("sent", "reply"), ("planned", "v1:1d:seen")];
        assert_eq!(after, expected.map(|(a, b)| (a.to_owned(), b.to_owned())));
        let sent = outbox_bodies(&app, &p).await;
        let ack = sent.iter().find(|(_, b)| b.contains("is confirmed")).expect("acknowledged");
        assert_eq!(ack.0, "+13125550101", "back to the number that wrote");
        assert_eq!(sent.len(), 2, "one acknowledgement for the text delivered twice");

        // The day before, the plain reminder asks nothing.
        app.clock.set("2026-11-26T16:00:00Z".parse().expect("time"));
        settle(&app).await;
        let sent = outbox_bodies(&app, &p).await;
        let plain = sent.iter().find(|(_, b)| b.contains("see you")).expect("the plain reminder");
        assert!(!plain.1.contains("Reply 1"), "{}", plain.1);

        let org: OrganizationId = p.org.parse().expect("org");
        let query = AuditQuery { action: Some("appointment.confirm".into()), ..AuditQuery::default() };
        let audited = app.store.audit_events(org, &query, &PageRequest::first(5)).await.expect("audit");
        assert_eq!(audited.items.len(), 1);
        assert_eq!(audited.items[0].event.actor_id.as_deref(), Some(ann.as_str()));
        let texts = app.store.patient_texts(org, ann.parse().expect("patient")).await.expect("texts");
        assert_eq!(texts.len(), 1);
        assert_eq!(texts[0].outcome.map(|o| o.as_str()), Some("answered"));
        let desk = Browser::open(&app, &staff(&app, &p.org, "desk@riverbend.example", Role::FrontDesk).await).await;
        let timeline =
            desk.send(&app, "GET", &format!("/api/v1/organizations/{}/patients/{ann}/timeline", p.org), None).await;
        assert_eq!(timeline.status, StatusCode::OK, "{}", timeline.body);
        let kinds: Vec<(&str, &str)> = timeline.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| (i["kind"].as_str().unwrap_or_default(), i["summary"].as_str().unwrap_or_default()))
            .collect();
        assert!(kinds.contains(&("answer", "confirm by sms")), "{kinds:?}");
        assert!(kinds.contains(&("text", "answered")), "{kinds:?}");
        assert!(kinds.contains(&("message", "sent by sms: answer_confirmed")), "{kinds:?}");
        assert!(tasks(&app, &p).await.is_empty(), "a confirmation needs nobody");
        let metrics =
            get(&app, &format!("/api/v1/organizations/{}/metrics/reminders?from=2026-11-27&to=2026-11-27", p.org))
                .await;
        let day = &metrics["items"][0];
        assert_eq!(
            (day["date"].as_str(), day["location_id"].as_str()),
            (Some("2026-11-27"), Some(p.location.as_str()))
        );
        assert_eq!(
            (day["appointments"].as_i64(), day["reminded"].as_i64(), day["confirmed"].as_i64()),
            (Some(1), Some(1), Some(1))
        );
    })
    .await;
}

#[tokio::test]
async fn a_text_cancelling_the_visit_cancels_it_and_tells_staff() {
    on_each_backend_app(|app| async move {
        let p = practice(&app).await;
        let ann = patient(&app, &p, "Ann", "(312) 555-0101").await;
        let visit = book(&app, &p, &ann, "2026-11-23T20:00:00Z").await;
        settle(&app).await; // booked inside the window: the confirmation goes now
        text(&app, &p, SHARED, "2", "SM-c1").await;
        let read = get(&app, &format!("/api/v1/organizations/{}/appointments/{visit}", p.org)).await;
        assert_eq!((read["status"].as_str(), read["version"].as_i64()), (Some("cancelled"), Some(2)));
        let open = tasks(&app, &p).await;
        assert_eq!(open.len(), 1);
        assert_eq!(
            (open[0].0.as_str(), open[0].1["appointment_id"].as_str()),
            ("visit_cancelled", Some(visit.as_str()))
        );
        settle(&app).await;
        let after = messages_of(&app, &p, &visit).await;
        assert!(after.iter().any(|(state, tail, _)| state == "cancelled" && tail == "v1:1d"), "{after:?}");
        let sent = outbox_bodies(&app, &p).await;
        assert!(sent.iter().any(|(_, b)| b.contains("is cancelled")), "{sent:?}");
        let metrics =
            get(&app, &format!("/api/v1/organizations/{}/metrics/reminders?from=2026-11-23&to=2026-11-23", p.org))
                .await;
        assert_eq!(metrics["items"][0]["cancelled_by_patient"], 1);
        let too_long = app
            .send(
                "GET",
                &format!("/api/v1/organizations/{}/metrics/reminders?from=2026-01-01&to=2026-12-31", p.org),
                None,
                &[],
            )
            .await;
        assert_eq!(too_long.status, StatusCode::BAD_REQUEST);

        // Staff take it.
        let id = open[0].1["id"].as_str().expect("id");
        let done = app.send("POST", &format!("/api/v1/organizations/{}/tasks/{id}/done", p.org), None, &[]).await;
        assert_eq!(done.status, StatusCode::OK);
        assert!(done.body["done_by"].as_str().is_some_and(|by| by.starts_with("token:")));
        assert!(tasks(&app, &p).await.is_empty());

        // A late "1" answers nothing: the visit is cancelled.
        text(&app, &p, SHARED, "1", "SM-c2").await;
        let read = get(&app, &format!("/api/v1/organizations/{}/appointments/{visit}", p.org)).await;
        assert_eq!(read["status"].as_str(), Some("cancelled"));
        assert_eq!(tasks(&app, &p).await[0].0, "reply_unclear", "staff see the late answer");
    })
    .await;
}

#[tokio::test]
async fn an_answer_from_a_shared_phone_or_free_text_goes_to_staff_and_is_never_guessed() {
    on_each_backend_app(|app| async move {
        let p = practice(&app).await;
        let ann = patient(&app, &p, "Ann", "(312) 555-0101").await;
        let ben = patient(&app, &p, "Ben", "(312) 555-0101").await;
        let ann_visit = book(&app, &p, &ann, "2026-11-23T20:00:00Z").await;
        let ben_visit = book(&app, &p, &ben, "2026-11-23T21:00:00Z").await;
        settle(&app).await;
        assert_eq!(outbox_bodies(&app, &p).await.len(), 2, "each booking confirmed");

        text(&app, &p, SHARED, "yes", "SM-s1").await;
        for visit in [&ann_visit, &ben_visit] {
            let answers = get(&app, &format!("/api/v1/organizations/{}/appointments/{visit}/answers", p.org)).await;
            assert!(answers["items"].as_array().expect("items").is_empty(), "nobody's visit was guessed");
        }
        let open = tasks(&app, &p).await;
        assert_eq!(open.len(), 1);
        assert_eq!((open[0].0.as_str(), open[0].1["patient_id"].is_null()), ("reply_unclear", true));
        settle(&app).await;
        let sent = outbox_bodies(&app, &p).await;
        assert!(sent.iter().any(|(_, b)| b.contains("could not tell which visit")), "{sent:?}");

        text(&app, &p, SHARED, "running 10 minutes late, sorry", "SM-s2").await;
        let open = tasks(&app, &p).await;
        assert_eq!(open.iter().map(|t| t.0.as_str()).collect::<Vec<_>>(), ["reply_unclear", "reply_to_read"]);
        settle(&app).await;
        assert_eq!(outbox_bodies(&app, &p).await.len(), 3, "free text is for a person to answer");
    })
    .await;
}

#[tokio::test]
async fn an_email_answer_page_shows_on_get_and_answers_only_on_post() {
    on_each_backend_app(|app| async move {
        let p = practice(&app).await;
        let body = json!({"given_name": "Rosa", "family_name": "Diaz", "language": "es", "time_zone": "America/Chicago",
            "emails": ["rosa@example.org"], "channel_order": ["email"]});
        let rosa = app.post(&format!("/api/v1/organizations/{}/patients", p.org), body).await;
        let rosa = rosa.body["id"].as_str().expect("id").to_owned();
        let visit = book(&app, &p, &rosa, "2026-11-23T20:00:00Z").await;
        settle(&app).await;
        let sent = messages_of(&app, &p, &visit).await;
        let confirmation = sent.iter().find(|m| m.0 == "sent").expect("the booking confirmation went");
        let message = confirmation.2.parse().expect("message id");

        let links = PatientLinks::load(&app.store, PUBLIC_URL).await.expect("links");
        let start = "2026-11-23T20:00:00Z".parse().expect("time");
        let link = links.answer_link(message, Answer::Cancel, start);
        let path = link.strip_prefix(PUBLIC_URL).expect("under the public URL").to_owned();
        let page = app.send_raw("GET", &path, None, &[]).await;
        assert_eq!(page.status, StatusCode::OK);
        let html = page.body.as_str().unwrap_or_default().to_owned();
        assert!(html.contains("Anular mi cita") && html.contains("lunes 23 de noviembre"), "{html}");
        let read = get(&app, &format!("/api/v1/organizations/{}/appointments/{visit}", p.org)).await;
        assert_eq!(read["status"].as_str(), Some("booked"), "a GET never answers");

        let forged = path.replace(".cancel.", ".confirm.");
        assert_eq!(app.send_raw("POST", &forged, None, &[]).await.status, StatusCode::FORBIDDEN);
        let answered = app.send_raw("POST", &path, None, &[]).await;
        assert_eq!(answered.status, StatusCode::OK);
        assert!(
            answered.body.as_str().unwrap_or_default().contains("Su cita fue anulada"),
            "{}",
            answered.body.as_str().unwrap_or_default()
        );
        let read = get(&app, &format!("/api/v1/organizations/{}/appointments/{visit}", p.org)).await;
        assert_eq!(read["status"].as_str(), Some("cancelled"));
        let again = app.send_raw("POST", &path, None, &[]).await;
        assert_eq!(again.status, StatusCode::OK, "pressing twice changes nothing more");
        let answers = get(&app, &format!("/api/v1/organizations/{}/appointments/{visit}/answers", p.org)).await;
        assert_eq!(answers["items"].as_array().expect("items").len(), 1);

        // A link to confirm, opened after the visit began, answers nothing.
        let late = links.answer_link(message, Answer::Confirm, start);
        app.clock.set("2026-11-23T20:05:00Z".parse().expect("time"));
        let late = app.send_raw("POST", late.strip_prefix(PUBLIC_URL).expect("path"), None, &[]).await;
        assert!(
            late.body.as_str().unwrap_or_default().contains("Ya no se puede responder"),
            "{}",
            late.body.as_str().unwrap_or_default()
        );
    })
    .await;
}

#[tokio::test]
async fn an_organizations_own_reply_words_are_read_but_never_a_keyword() {
    on_each_backend_app(|app| async move {
        let p = practice(&app).await;
        let ann = patient(&app, &p, "Ann", "(312) 555-0101").await;
        let visit = book(&app, &p, &ann, "2026-11-23T20:00:00Z").await;
        settle(&app).await;
        let path = format!("/api/v1/organizations/{}/reply-words", p.org);
        let keyword =
            app.send("PUT", &path, Some(&json!({"confirm": ["Vale"], "cancel": ["Stop"]}).to_string()), &[]).await;
        assert_eq!(keyword.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(keyword.body["errors"][0]["field"], "cancel[0]");
        let taken = app.send("PUT", &path, Some(&json!({"cancel": ["OK"]}).to_string()), &[]).await;
        assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY, "ok already confirms");
        let saved = app.send("PUT", &path, Some(&json!({"confirm": [" Vale! "]}).to_string()), &[]).await;
        assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
        assert_eq!(saved.body["own"]["confirm"], json!(["vale"]));
        assert!(saved.body["all"]["confirm"].as_array().expect("all").iter().any(|w| w == "yes"));

        text(&app, &p, SHARED, "VALE", "SM-w1").await;
        let answers = get(&app, &format!("/api/v1/organizations/{}/appointments/{visit}/answers", p.org)).await;
        assert_eq!(answers["items"][0]["answer"], "confirm");
    })
    .await;
}

#[tokio::test]
async fn answers_to_visits_from_an_ehr_wait_to_be_written_back() {
    on_each_backend_app(|app| async move {
        let p = practice(&app).await;
        let ann = patient(&app, &p, "Ann", "(312) 555-0101").await;
        let visit = json!({"patient_id": ann, "location_id": p.location, "start": "2026-11-23T20:00:00Z",
            "duration_minutes": 30, "visit_type": "follow-up", "source": {"system": "urn:ehr:epic", "value": "SIU-4431"}});
        let created = app.post(&format!("/api/v1/organizations/{}/appointments", p.org), visit).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let own = book(&app, &p, &ann, "2026-11-24T20:00:00Z").await;
        settle(&app).await;
        text(&app, &p, SHARED, "1", "SM-e1").await; // unclear: two visits wait
        let org: OrganizationId = p.org.parse().expect("org");
        assert!(app.store.answers_to_write_back(org, 10).await.expect("hook").is_empty());

        // Ann's own visit is cancelled by staff; the EHR's visit is then the one asked.
        let current = app.store.get_appointment(org, own.parse().expect("id")).await.expect("visit");
        let mut details = current.details.clone();
        details.status = rapport_domain::AppointmentStatus::Cancelled;
        app.store.update_appointment(org, current.id, current.version, &details).await.expect("cancel");
        text(&app, &p, SHARED, "1", "SM-e2").await;
        let waiting = app.store.answers_to_write_back(org, 10).await.expect("hook");
        assert_eq!(waiting.len(), 1);
        assert_eq!((waiting[0].source.value.as_str(), waiting[0].answer.answer), ("SIU-4431", Answer::Confirm));
        app.store.mark_written_back(org, &[waiting[0].answer.id]).await.expect("mark");
        assert!(app.store.answers_to_write_back(org, 10).await.expect("hook").is_empty());
    })
    .await;
}

#[tokio::test]
async fn an_ask_the_sync_has_not_caught_up_with_is_refused_once_the_patient_confirmed() {
    on_each_backend_app(|app| async move {
        let (p, _, visit) = reminded_three_days_ahead(&app).await;
        text(&app, &p, SHARED, "1", "SM-r1").await;
        // The planner has not run since: the dispatcher alone meets the day-before ask.
        app.clock.set("2026-11-26T16:00:00Z".parse().expect("time"));
        let worker = crate::support::worker("dispatcher-only", 50);
        MessageSender::new(app.store.clone()).dispatch_batch(&worker).await.expect("dispatch");
        let org: OrganizationId = p.org.parse().expect("org");
        let query = MessageQuery { appointment: Some(visit.parse().expect("visit")), ..MessageQuery::default() };
        let messages = app.store.messages(org, &query, &PageRequest::first(10)).await.expect("messages").items;
        let ask = messages.iter().find(|m| m.plan.idempotency_key.ends_with(":v1:1d")).expect("the day-before ask");
        assert_eq!(ask.state.as_str(), "suppressed");
        assert_eq!(ask.reason.as_deref(), Some("the patient confirmed the visit after this reminder was planned"));
    })
    .await;
}
