//! Message templates over HTTP, on both backends: an organization writes its
//! own (linted, versioned, one per kind and language), previews the words a
//! patient would get, and a templated message is composed at hand-off in the
//! patient's language, with the visit as it stands then.

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

struct Practice {
    org: String,
    desk: Browser,
    marketer: Browser,
    /// A Spanish reader in Chicago with a mobile.
    lupe: String,
    /// Her visit at Lakeshore (Chicago), Tuesday 24 November at 10:30.
    visit: String,
}

async fn setup(app: &TestApp) -> Practice {
    let (org, location) = app.organization("Riverbend Health").await;
    let patient = json!({"given_name": "Guadalupe", "family_name": "Hernandez", "preferred_name": "Lupe",
        "language": "es-MX", "time_zone": "America/Chicago", "phones": [{"number": "(312) 555-0101", "type": "mobile"}]});
    let lupe = app.post(&format!("/api/v1/organizations/{org}/patients"), patient).await;
    let lupe = lupe.body["id"].as_str().expect("id").to_owned();
    let visit = json!({"patient_id": lupe, "location_id": location, "start": "2026-11-24T16:30:00Z",
        "duration_minutes": 30, "visit_type": "follow-up"});
    let visit = app.post(&format!("/api/v1/organizations/{org}/appointments"), visit).await;
    assert_eq!(visit.status, StatusCode::CREATED, "{}", visit.body);
    let desk = Browser::open(app, &staff(app, &org, "desk@riverbend.example", Role::FrontDesk).await).await;
    let marketer = Browser::open(app, &staff(app, &org, "words@riverbend.example", Role::Marketer).await).await;
    Practice { org, desk, marketer, lupe, visit: visit.body["id"].as_str().expect("id").to_owned() }
}

async fn reopen(app: &TestApp, org: &str, who: &str) -> Browser {
    let role = if who.starts_with("words") { Role::Marketer } else { Role::FrontDesk };
    Browser::open(app, &staff(app, org, &format!("{who}@riverbend.example"), role).await).await
}

fn reminder(p: &Practice, key: &str) -> Value {
    json!({"patient_id": p.lupe, "class": "care", "idempotency_key": key, "template": "appointment_reminder",
        "appointment_id": p.visit})
}

fn lines(message: &Value) -> Vec<String> {
    message["trace"].as_array().expect("trace").iter().filter_map(Value::as_str).map(str::to_owned).collect()
}

#[tokio::test]
async fn an_organization_writes_its_own_templates_and_the_linter_reads_them() {
    on_each_backend_app(|app| async move {
        let p = setup(&app).await;
        let path = format!("/api/v1/organizations/{}/templates", p.org);
        let words = json!({"kind": "appointment_reminder", "language": "es", "class": "care",
            "text": "{{organization.name}}: {{patient.first_name}}, su cita es el {{appointment.when}}. Responda STOP para no recibir textos.",
            "email_subject": "Cita: {{appointment.date}}"});
        let created = p.marketer.send(&app, "POST", &path, Some(&words)).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        assert_eq!(created.body["needs_appointment"], true);
        let sms = &created.body["lint"][0];
        assert_eq!((sms["channel"].as_str(), sms["sendable"].as_bool()), (Some("sms"), Some(true)), "{sms}");
        let call = &created.body["lint"][1];
        assert_eq!(call["channel"], "voice");
        assert!(call["findings"].to_string().contains("voice.reply"), "the text, spoken, asks for a reply: {call}");
        let again = p.marketer.send(&app, "POST", &path, Some(&words)).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "one template per kind and language");
        let front_desk = p.desk.send(&app, "POST", &path, Some(&words)).await;
        assert_eq!(front_desk.status, StatusCode::FORBIDDEN, "the front desk does not write templates");

        let broken = json!({"kind": "Reminder!", "language": "es", "class": "care",
            "text": "Hola {{patient.ssn}}", "email_body": "Hola {{patient.first_name"});
        let refused = p.marketer.send(&app, "POST", &path, Some(&broken)).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        let fields: Vec<&str> =
            refused.body["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
        assert_eq!(fields, ["kind", "text", "email_body"], "{}", refused.body);
        assert!(refused.body.to_string().contains("unknown variable {{patient.ssn}}"), "{}", refused.body);

        // A care text that breaks the exemption's terms is saved, with the linter's errors.
        let bare = json!({"kind": "recall_due", "language": "en", "class": "care",
            "text": "Time for your colonoscopy, {{patient.first_name}}."});
        let saved = p.marketer.send(&app, "POST", &path, Some(&bare)).await;
        assert_eq!(saved.status, StatusCode::CREATED);
        let rules: Vec<&str> = saved.body["lint"][0]["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter(|f| f["severity"] == "error")
            .filter_map(|f| f["rule"].as_str())
            .collect();
        assert_eq!(rules, ["care.practice", "care.opt_out", "phi.unsecured"], "{}", saved.body);
        assert_eq!(saved.body["lint"][0]["sendable"], false);

        let id = saved.body["id"].as_str().expect("id");
        let one = format!("{path}/{id}");
        let fixed = json!({"kind": "recall_due", "language": "en", "class": "care",
            "text": "{{organization.name}}: {{patient.first_name}}, you are due a visit. Reply STOP to opt out.",
            "voice_text": "Hello, this is {{organization.name}}: you are due a visit."});
        let unconditional = p.marketer.send(&app, "PUT", &one, Some(&fixed)).await;
        assert_eq!(unconditional.status, StatusCode::PRECONDITION_REQUIRED);
        let etag = saved.etag.clone().expect("etag");
        let changed = p.marketer.send_with(&app, "PUT", &one, Some(&fixed), &[("if-match", &etag)]).await;
        assert_eq!((changed.status, changed.body["version"].as_i64()), (StatusCode::OK, Some(2)), "{}", changed.body);
        assert_eq!(changed.body["lint"][0]["sendable"], true, "{}", changed.body);
        assert_eq!(changed.body["voice_text"], "Hello, this is {{organization.name}}: you are due a visit.");
        assert_eq!(changed.body["lint"][1]["findings"].as_array().map(|f| f.iter().any(|f| f["severity"] != "info")), Some(false));
        let stale = p.marketer.send_with(&app, "PUT", &one, Some(&fixed), &[("if-match", &etag)]).await;
        assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);

        let listed = p.desk.send(&app, "GET", &format!("{path}?kind=recall_due"), None).await;
        let kinds: Vec<&str> =
            listed.body["items"].as_array().expect("items").iter().filter_map(|t| t["kind"].as_str()).collect();
        assert_eq!(kinds, ["recall_due"]);
        let shipped = p.desk.send(&app, "GET", &format!("{path}/shipped"), None).await;
        let reminders = shipped.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|t| t["kind"] == "appointment_reminder")
            .map(|t| (t["language"].as_str().unwrap_or(""), t["lint"][0]["sendable"].as_bool()))
            .collect::<Vec<_>>();
        assert_eq!(reminders, [("en", Some(true)), ("es", Some(true))]);

        assert_eq!(p.marketer.send(&app, "DELETE", &one, None).await.status, StatusCode::NO_CONTENT);
        assert_eq!(p.desk.send(&app, "GET", &one, None).await.status, StatusCode::NOT_FOUND);
        assert_eq!(p.marketer.send(&app, "DELETE", &one, None).await.status, StatusCode::NOT_FOUND);
    })
    .await;
}

#[tokio::test]
async fn a_preview_shows_the_words_a_patient_would_get() {
    on_each_backend_app(|app| async move {
        let p = setup(&app).await;
        let path = format!("/api/v1/organizations/{}/templates/preview", p.org);
        let ask = json!({"template": "appointment_reminder", "patient_id": p.lupe, "appointment_id": p.visit});
        let shown = p.desk.send(&app, "POST", &path, Some(&ask)).await;
        assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
        assert_eq!((shown.body["source"].as_str(), shown.body["language"].as_str()), (Some("shipped"), Some("es")));
        assert_eq!(shown.body["channel"], "sms", "her first channel with an address");
        let body = shown.body["body"].as_str().expect("body");
        assert!(body.contains("martes 24 de noviembre a las 10:30 a. m. en Lakeshore"), "{body}");
        assert_eq!(shown.body["lint"]["sendable"], true, "{}", shown.body);

        let by_email = json!({"template": "appointment_reminder", "patient_id": p.lupe, "appointment_id": p.visit,
            "channel": "email"});
        let email = p.desk.send(&app, "POST", &path, Some(&by_email)).await;
        assert_eq!(email.body["subject"], "Su cita del martes 24 de noviembre");

        let no_visit = json!({"template": "appointment_reminder", "patient_id": p.lupe});
        let refused = p.desk.send(&app, "POST", &path, Some(&no_visit)).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(refused.body["errors"][0]["field"], "appointment_id");
        let unknown = json!({"template": "birthday_wishes", "patient_id": p.lupe});
        let refused = p.desk.send(&app, "POST", &path, Some(&unknown)).await;
        assert_eq!(refused.body["errors"][0]["field"], "template", "{}", refused.body);
        let marketer = p.marketer.send(&app, "POST", &path, Some(&ask)).await;
        assert_eq!(marketer.status, StatusCode::FORBIDDEN, "a marketer does not read a patient's words");
    })
    .await;
}

#[tokio::test]
async fn a_templated_message_is_composed_at_hand_off_with_the_visit_as_it_stands() {
    on_each_backend_app(|app| async move {
        let p = setup(&app).await;
        let messages = format!("/api/v1/organizations/{}/messages", p.org);

        let mut bad = reminder(&p, "no-visit");
        bad.as_object_mut().expect("object").remove("appointment_id");
        let refused = p.desk.send(&app, "POST", &messages, Some(&bad)).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(refused.body["errors"][0]["field"], "appointment_id", "{}", refused.body);
        let mut both = reminder(&p, "both");
        both["body"] = json!("Hello");
        let refused = p.desk.send(&app, "POST", &messages, Some(&both)).await;
        assert_eq!(refused.body["errors"][0]["field"], "body", "{}", refused.body);
        let mut unknown = reminder(&p, "unknown");
        unknown["template"] = json!("birthday_wishes");
        let refused = p.desk.send(&app, "POST", &messages, Some(&unknown)).await;
        assert_eq!(refused.body["errors"][0]["field"], "template", "{}", refused.body);

        // Planned for an hour from now; the visit moves to 11:15 meanwhile.
        let mut plan = reminder(&p, "visit:reminder");
        plan["due_at"] = json!((test_now() + SignedDuration::from_hours(1)).to_string());
        let planned = p.desk.send(&app, "POST", &messages, Some(&plan)).await;
        assert_eq!(planned.status, StatusCode::CREATED, "{}", planned.body);
        assert_eq!((planned.body["body"].as_str(), planned.body["language"].as_str()), (Some(""), None));
        let visit_path = format!("/api/v1/organizations/{}/appointments/{}", p.org, p.visit);
        let visit = app.get(&visit_path).await;
        let mut moved = visit.body.clone();
        let moved_fields = moved.as_object_mut().expect("object");
        moved_fields.retain(|k, _| ["patient_id", "location_id", "visit_type", "status"].contains(&k.as_str()));
        moved["start"] = json!("2026-11-24T17:15:00Z");
        moved["duration_minutes"] = json!(30);
        let etag = visit.etag.clone().expect("etag");
        let updated = app.send("PUT", &visit_path, Some(&moved.to_string()), &[("if-match", &etag)]).await;
        assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);

        app.clock.set(test_now() + SignedDuration::from_hours(1));
        assert_eq!(dispatch(&app).await.done, 1);
        // Sessions end after a while idle: a fresh one after the clock moved.
        let p = Practice { desk: reopen(&app, &p.org, "desk2").await, marketer: reopen(&app, &p.org, "words2").await, ..p };
        let id = planned.body["id"].as_str().expect("id");
        let sent = p.desk.send(&app, "GET", &format!("{messages}/{id}"), None).await;
        assert_eq!((sent.body["state"].as_str(), sent.body["language"].as_str()), (Some("sent"), Some("es")));
        let body = sent.body["body"].as_str().expect("body");
        assert!(body.contains("martes 24 de noviembre a las 11:15 a. m."), "the visit as it stands: {body}");
        let trace = lines(&sent.body);
        assert!(
            trace.iter().any(|l| l.ends_with("composed from the shipped template of kind appointment_reminder in es")),
            "{trace:?}"
        );
        let outbox = p.desk.send(&app, "GET", &format!("/api/v1/organizations/{}/outbox", p.org), None).await;
        assert_eq!(outbox.body["items"][0]["body"].as_str(), Some(body), "the words kept are the words sent");

        // The organization's own Spanish words win from now on.
        let words = json!({"kind": "appointment_reminder", "language": "es", "class": "care",
            "text": "{{organization.name}}: {{patient.first_name}}, le esperamos el {{appointment.when}}. Responda STOP para no recibir textos."});
        let own = p.marketer.send(&app, "POST", &format!("/api/v1/organizations/{}/templates", p.org), Some(&words)).await;
        assert_eq!(own.status, StatusCode::CREATED);
        app.clock.set(test_now() + SignedDuration::from_hours(30));
        let p = Practice { desk: reopen(&app, &p.org, "desk3").await, ..p };
        let next = p.desk.send(&app, "POST", &messages, Some(&reminder(&p, "visit:reminder-2"))).await;
        dispatch(&app).await;
        let id = next.body["id"].as_str().expect("id");
        let sent = p.desk.send(&app, "GET", &format!("{messages}/{id}"), None).await;
        assert_eq!(sent.body["state"], "sent", "{}", sent.body);
        assert!(sent.body["body"].as_str().expect("body").starts_with("Riverbend Health: Lupe, le esperamos el martes"));
        let own_id = own.body["id"].as_str().expect("id");
        assert!(lines(&sent.body).iter().any(|l| l.contains(&format!("the organization's template {own_id}"))));

        // The messages of one purpose, kind, visit or state.
        let count = |query: &'static str| {
            let (desk, path) = (&p.desk, format!("{messages}?{query}"));
            let app = &app;
            async move { desk.send(app, "GET", &path, None).await.body["items"].as_array().map(Vec::len) }
        };
        assert_eq!(count("template=appointment_reminder&state=sent").await, Some(2));
        assert_eq!(count("class=care").await, Some(2));
        assert_eq!(count("class=marketing").await, Some(0));
        let visit_query = format!("{messages}?appointment={}&state=planned", p.visit);
        assert_eq!(p.desk.send(&app, "GET", &visit_query, None).await.body["items"].as_array().map(Vec::len), Some(0));
        let bad = p.desk.send(&app, "GET", &format!("{messages}?state=lost"), None).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    })
    .await;
}

#[tokio::test]
async fn a_deleted_visit_keeps_its_messages_and_its_unsent_reminder_is_suppressed() {
    on_each_backend_app(|app| async move {
        let p = setup(&app).await;
        let messages = format!("/api/v1/organizations/{}/messages", p.org);
        let mut plan = reminder(&p, "deleted-visit");
        plan["due_at"] = json!((test_now() + SignedDuration::from_hours(1)).to_string());
        let planned = p.desk.send(&app, "POST", &messages, Some(&plan)).await;
        assert_eq!(planned.status, StatusCode::CREATED, "{}", planned.body);
        let visit = format!("/api/v1/organizations/{}/appointments/{}", p.org, p.visit);
        let deleted = app.send("DELETE", &visit, None, &[]).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT, "a reminder does not pin its visit: {}", deleted.body);
        app.clock.set(test_now() + SignedDuration::from_hours(1));
        assert_eq!(dispatch(&app).await.done, 1);
        let desk = reopen(&app, &p.org, "desk4").await;
        let id = planned.body["id"].as_str().expect("id");
        let message = desk.send(&app, "GET", &format!("{messages}/{id}"), None).await;
        assert_eq!(message.body["state"], "suppressed");
        assert_eq!(message.body["reason"], "the appointment it is about is gone");
    })
    .await;
}
