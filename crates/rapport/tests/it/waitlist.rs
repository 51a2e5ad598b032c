//! The waitlist on both backends (issue 5): a cancelled visit's slot is
//! offered by text to the waiting patients it suits; of two YES sent at
//! the same moment one books and the other is told the time is gone; a
//! round nobody answers closes; a slot staff re-booked meanwhile is never
//! booked twice.

use axum::http::StatusCode;
use rapport::engine::dispatch::MessageSender;
use rapport::engine::reminders::ReminderPlanner;
use rapport::store::PageRequest;
use rapport_domain::OrganizationId;
use serde_json::{Value, json};

use crate::sms::signed_form;
use crate::support::app::{TWILIO_TOKEN, TestApp, on_each_backend_app};

struct Clinic {
    org: String,
    location: String,
    provider: String,
}

async fn clinic(app: &TestApp) -> Clinic {
    let (org, location) = app.organization("Riverbend Health").await;
    let provider = json!({"given_name": "Mei", "family_name": "Lee", "title": "Dr", "location_ids": [location]});
    let provider = app.post(&format!("/api/v1/organizations/{org}/providers"), provider).await;
    assert_eq!(provider.status, StatusCode::CREATED, "{}", provider.body);
    Clinic { org, location, provider: provider.body["id"].as_str().expect("id").to_owned() }
}

async fn patient(app: &TestApp, c: &Clinic, given: &str, phone: &str) -> String {
    let body = json!({"given_name": given, "family_name": "Diaz", "time_zone": "America/Chicago",
        "phones": [{"number": phone, "type": "mobile"}]});
    app.post(&format!("/api/v1/organizations/{}/patients", c.org), body).await.body["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

async fn book(app: &TestApp, c: &Clinic, patient: &str, start: &str) -> (String, String) {
    let visit = json!({"patient_id": patient, "location_id": c.location, "provider_id": c.provider, "start": start,
        "duration_minutes": 30, "visit_type": "follow-up"});
    let created = app.post(&format!("/api/v1/organizations/{}/appointments", c.org), visit).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    (created.body["id"].as_str().expect("id").to_owned(), created.etag.expect("etag"))
}

async fn cancel(app: &TestApp, c: &Clinic, patient: &str, id: &str, etag: &str, start: &str) {
    let visit = json!({"patient_id": patient, "location_id": c.location, "provider_id": c.provider, "start": start,
        "duration_minutes": 30, "visit_type": "follow-up", "status": "cancelled"});
    let path = format!("/api/v1/organizations/{}/appointments/{id}", c.org);
    let reply = app.send("PUT", &path, Some(&visit.to_string()), &[("if-match", etag)]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

async fn wait(app: &TestApp, c: &Clinic, patient: &str, criteria: Value) -> String {
    let mut body = criteria;
    body["patient_id"] = json!(patient);
    let added = app.post(&format!("/api/v1/organizations/{}/waitlist", c.org), body).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    added.body["id"].as_str().expect("id").to_owned()
}

async fn settle(app: &TestApp) {
    let worker = crate::support::worker("waitlist", 50);
    for _ in 0..5 {
        let planned = ReminderPlanner::new(app.store.clone()).plan_batch(&worker).await.expect("planner");
        let sent = MessageSender::new(app.store.clone()).dispatch_batch(&worker).await.expect("dispatch");
        if planned == Default::default() && sent == Default::default() {
            return;
        }
    }
}

async fn text(app: &TestApp, c: &Clinic, from: &str, body: &str, sid: &str) -> StatusCode {
    let path = format!("/hooks/twilio/{}/inbound", c.org);
    let form = [("From", from), ("To", "+13125550000"), ("Body", body), ("MessageSid", sid)];
    let (body, signature) = signed_form(&path, &form, TWILIO_TOKEN);
    app.send_raw("POST", &path, Some(&body), &[("x-twilio-signature", &signature)]).await.status
}

async fn sent_to(app: &TestApp, c: &Clinic, number: &str) -> Vec<String> {
    let org: OrganizationId = c.org.parse().expect("org");
    let page = app.store.outbox(org, &PageRequest::first(100)).await.expect("outbox");
    page.items.into_iter().filter(|e| e.address == number).map(|e| e.body).collect()
}

async fn offers(app: &TestApp, c: &Clinic) -> Value {
    let listed = app.send("GET", &format!("/api/v1/organizations/{}/offers", c.org), None, &[]).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    listed.body["items"].clone()
}

#[tokio::test]
async fn a_freed_slot_goes_to_the_first_yes_and_never_twice() {
    on_each_backend_app(|app| async move {
        let c = clinic(&app).await;
        let ann = patient(&app, &c, "Ann", "(312) 555-0101").await;
        let ben = patient(&app, &c, "Ben", "(312) 555-0102").await;
        let cara = patient(&app, &c, "Cara", "(312) 555-0103").await;
        let dan = patient(&app, &c, "Dan", "(312) 555-0104").await;
        let bad = app
            .post(
                &format!("/api/v1/organizations/{}/waitlist", c.org),
                json!({"patient_id": ben, "days": ["someday"], "from": "25:00"}),
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        let ben_entry = wait(
            &app,
            &c,
            &ben,
            json!({"provider_id": c.provider, "days": ["tue", "thu"], "from": "08:00", "until": "12:00"}),
        )
        .await;
        let cara_entry =
            wait(&app, &c, &cara, json!({"visit_type": "follow-up", "earliest": "2026-11-23", "latest": "2026-11-30"}))
                .await;
        wait(&app, &c, &dan, json!({"days": ["mon"]})).await; // never a Tuesday

        // Ann's Tuesday 24 November, 10:30 in Chicago, cancelled two days ahead.
        let start = "2026-11-24T16:30:00Z";
        let (visit, etag) = book(&app, &c, &ann, start).await;
        settle(&app).await;
        cancel(&app, &c, &ann, &visit, &etag, start).await;
        settle(&app).await;
        let listed = offers(&app, &c).await;
        assert_eq!(listed.as_array().expect("offers").len(), 1);
        assert_eq!(listed[0]["state"], "open");
        let offered: Vec<&str> = listed[0]["recipients"]
            .as_array()
            .expect("recipients")
            .iter()
            .map(|r| r["patient_id"].as_str().expect("id"))
            .collect();
        assert_eq!(offered, [ben.as_str(), cara.as_str()], "oldest entry first; Dan waits for a Monday; Ann freed it");
        let offer = sent_to(&app, &c, "+13125550102").await;
        assert!(
            offer[0].contains("a visit opened Tuesday, November 24 at 10:30 AM with Dr Mei Lee. Reply YES"),
            "{offer:?}"
        );
        assert!(sent_to(&app, &c, "+13125550104").await.is_empty());

        // Ben and Cara answer at the same moment.
        let (b, cara_status) =
            tokio::join!(text(&app, &c, "+13125550102", "YES", "SM-b"), text(&app, &c, "+13125550103", "Yes!", "SM-c"));
        assert_eq!((b, cara_status), (StatusCode::OK, StatusCode::OK));
        let listed = offers(&app, &c).await;
        assert_eq!(listed[0]["state"], "taken");
        let taker = listed[0]["taken_by"].as_str().expect("taken").to_owned();
        assert!(taker == ben_entry || taker == cara_entry);
        let outcomes: Vec<&str> =
            listed[0]["recipients"].as_array().expect("r").iter().filter_map(|r| r["outcome"].as_str()).collect();
        assert_eq!(
            {
                let mut o = outcomes.clone();
                o.sort_unstable();
                o
            },
            ["taken", "too_late"]
        );

        let booked = app
            .send(
                "GET",
                &format!(
                    "/api/v1/organizations/{}/appointments?status=booked&from={start}&to=2026-11-24T17:00:00Z",
                    c.org
                ),
                None,
                &[],
            )
            .await;
        let booked = booked.body["items"].as_array().expect("items").clone();
        assert_eq!(booked.len(), 1, "one booking for one slot: {booked:?}");
        assert_eq!(booked[0]["id"], listed[0]["booked_appointment_id"]);
        let (winner, loser) =
            if taker == ben_entry { ("+13125550102", "+13125550103") } else { ("+13125550103", "+13125550102") };
        settle(&app).await;
        assert!(
            sent_to(&app, &c, winner)
                .await
                .iter()
                .any(|b| b.contains("it is yours. You are booked Tuesday, November 24 at 10:30 AM"))
        );
        assert!(sent_to(&app, &c, loser).await.iter().any(|b| b.contains("that time was just taken")));
        let waiting =
            app.send("GET", &format!("/api/v1/organizations/{}/waitlist?state=waiting", c.org), None, &[]).await;
        assert_eq!(waiting.body["items"].as_array().expect("items").len(), 2, "the other two still wait");
        let path = format!("/api/v1/organizations/{}/metrics/reminders?from=2026-11-24&to=2026-11-24", c.org);
        let day = app.send("GET", &path, None, &[]).await.body["items"][0].clone();
        assert_eq!(
            (day["appointments"].as_i64(), day["offers_sent"].as_i64(), day["offers_taken"].as_i64()),
            (Some(2), Some(1), Some(1))
        );
    })
    .await;
}

#[tokio::test]
async fn an_unanswered_offer_closes_and_a_slot_booked_meanwhile_is_not_booked_twice() {
    on_each_backend_app(|app| async move {
        let c = clinic(&app).await;
        let ann = patient(&app, &c, "Ann", "(312) 555-0101").await;
        let ben = patient(&app, &c, "Ben", "(312) 555-0102").await;
        let eve = patient(&app, &c, "Eve", "(312) 555-0105").await;
        wait(&app, &c, &ben, json!({})).await;

        let start = "2026-11-24T16:30:00Z";
        let (visit, etag) = book(&app, &c, &ann, start).await;
        cancel(&app, &c, &ann, &visit, &etag, start).await;
        settle(&app).await;
        // Staff give the time to Eve by phone before Ben answers.
        book(&app, &c, &eve, start).await;
        assert_eq!(text(&app, &c, "+13125550102", "yes", "SM-1").await, StatusCode::OK);
        let listed = offers(&app, &c).await;
        assert_eq!(listed[0]["state"], "closed", "{listed}");
        let booked = app
            .send(
                "GET",
                &format!("/api/v1/organizations/{}/appointments?status=booked&patient_id={ben}", c.org),
                None,
                &[],
            )
            .await;
        assert!(booked.body["items"].as_array().expect("items").is_empty(), "Ben is not booked over Eve");
        settle(&app).await;
        assert!(sent_to(&app, &c, "+13125550102").await.iter().any(|b| b.contains("that time was just taken")));

        // A second cancellation nobody answers: its round closes after two hours.
        let (visit, etag) = book(&app, &c, &ann, "2026-11-26T16:30:00Z").await;
        cancel(&app, &c, &ann, &visit, &etag, "2026-11-26T16:30:00Z").await;
        settle(&app).await;
        assert_eq!(offers(&app, &c).await[0]["state"], "open");
        app.clock.set("2026-11-22T17:01:00Z".parse().expect("time"));
        settle(&app).await;
        assert_eq!(offers(&app, &c).await[0]["state"], "closed", "nobody else waits");
    })
    .await;
}
