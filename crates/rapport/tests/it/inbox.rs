//! The shared inbox over HTTP, on both backends: texts from unknown and
//! shared numbers wait for staff to pick the patient; compliance keywords
//! are answered once, the carrier's opt-out is honoured, and "stop texting
//! me" is flagged for a person; MMS links are kept; staff assign, note,
//! close, reopen and reply (the reply reaches the provider); and every
//! change reaches the organization's live stream, across processes on
//! PostgreSQL.

use std::time::Duration;

use axum::body::Body;
use axum::http::StatusCode;
use http_body_util::BodyExt;
use rapport::simulators::twilio::TwilioSimulator;
use rapport::store::{DbOptions, InboxEvent, InboxEventKind, Store};
use rapport_domain::{OrganizationId, Role};
use serde_json::{Value, json};

use crate::sms::{SENDER, sender_for, signed_form};
use crate::support::app::{Reply, TWILIO_TOKEN, TestApp, on_each_backend_app};
use crate::support::browser::{Browser, staff};
use crate::support::on_each_backend_url;

const MOBILE: &str = "+13125550101";
const UNKNOWN: &str = "+13125550199";

/// A text from `from`, signed as Twilio signs it; the answer is TwiML.
pub(crate) async fn text(app: &TestApp, org: &str, from: &str, body: &str, sid: &str, extra: &[(&str, &str)]) -> Reply {
    let path = format!("/hooks/twilio/{org}/inbound");
    let mut params = vec![("From", from), ("To", SENDER), ("Body", body), ("MessageSid", sid)];
    params.extend_from_slice(extra);
    let (form, sig) = signed_form(&path, &params, TWILIO_TOKEN);
    let reply = app.send_raw("POST", &path, Some(&form), &[("x-twilio-signature", &sig)]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply
}

/// An app whose webhook answers keywords, and texts after hours, as told.
async fn answering(keywords: bool, after_hours: bool) -> TestApp {
    let settings = rapport::http::HttpSettings { max_body_bytes: 16 * 1024, hsts: false };
    TestApp::with_state(settings, |mut state| {
        state.twilio_hooks =
            Some(crate::support::app::twilio_hooks(crate::support::app::PUBLIC_URL, keywords, after_hours));
        state
    })
    .await
}

/// The message TwiML answers with, if any.
fn answered(reply: &Reply) -> Option<String> {
    let twiml = reply.body.as_str().expect("TwiML");
    assert!(twiml.contains("<Response>"), "{twiml}");
    let start = twiml.find("<Message>")? + "<Message>".len();
    Some(twiml[start..twiml.find("</Message>").expect("closed")].to_owned())
}

async fn patient(app: &TestApp, org: &str, given: &str, phone: &str) -> String {
    let body = json!({"given_name": given, "family_name": "Lee", "time_zone": "America/Chicago",
        "phones": [{"number": phone, "type": "mobile"}]});
    let created = app.post(&format!("/api/v1/organizations/{org}/patients"), body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    created.body["id"].as_str().expect("id").to_owned()
}

/// A front-desk staff member's session: the inbox is staff's.
async fn desk(app: &TestApp, org: &str) -> Browser {
    let user = staff(app, org, "desk@practice.example", Role::FrontDesk).await;
    Browser::open(app, &user).await
}

async fn get(app: &TestApp, desk: &Browser, path: &str) -> Reply {
    desk.send(app, "GET", path, None).await
}

async fn post(app: &TestApp, desk: &Browser, path: &str, body: Value) -> Reply {
    desk.send(app, "POST", path, Some(&body)).await
}

async fn conversations(app: &TestApp, desk: &Browser, org: &str, filter: &str) -> Vec<Value> {
    let list = get(app, desk, &format!("/api/v1/organizations/{org}/conversations?{filter}")).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    list.body["items"].as_array().expect("items").clone()
}

/// What the patient wrote in a conversation, oldest first.
async fn texts_in(app: &TestApp, desk: &Browser, org: &str, conversation: &str) -> Vec<String> {
    let thread = get(app, desk, &format!("/api/v1/organizations/{org}/conversations/{conversation}")).await;
    let entries = thread.body["entries"].as_array().expect("entries");
    entries.iter().filter_map(|e| e["text"]["body"].as_str().map(str::to_owned)).collect()
}

fn id_of(conversation: &Value) -> String {
    conversation["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn an_unknown_number_waits_unmatched_until_staff_link_it_then_a_reply_reaches_the_provider() {
    on_each_backend_app(|app| async move {
        let (org, _) = app.organization("Practice").await;
        let desk = desk(&app, &org).await;
        let ann = patient(&app, &org, "Ann", MOBILE).await;
        let base = format!("/api/v1/organizations/{org}/conversations");
        let first = text(&app, &org, UNKNOWN, "Hi, do you take walk-ins?", "SM1", &[]).await;
        assert_eq!(answered(&first), None, "free text gets no automatic answer");
        text(&app, &org, UNKNOWN, "Hi, do you take walk-ins?", "SM1", &[]).await;
        let unmatched = conversations(&app, &desk, &org, "unmatched=true").await;
        assert_eq!(unmatched.len(), 1, "a retried webhook creates nothing new");
        let stranger = &unmatched[0];
        assert_eq!((stranger["number"].as_str(), stranger["status"].as_str()), (Some(UNKNOWN), Some("open")));
        assert!(stranger["patient_id"].is_null());
        let thread = get(&app, &desk, &format!("{base}/{}", id_of(stranger))).await;
        assert_eq!(thread.body["entries"].as_array().map(Vec::len), Some(1), "{}", thread.body);
        assert_eq!(thread.body["entries"][0]["text"]["body"], "Hi, do you take walk-ins?");
        assert_eq!(thread.body["candidates"], json!([]), "nobody has this number");
        let refused = post(&app, &desk, &format!("{base}/{}/replies", id_of(stranger)), json!({"body": "Yes"})).await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);

        text(&app, &org, MOBILE, "Running ten minutes late", "SM2", &[]).await;
        let own = conversations(&app, &desk, &org, &format!("patient={ann}")).await;
        assert_eq!(own.len(), 1);
        let linked = post(&app, &desk, &format!("{base}/{}/link", id_of(stranger)), json!({"patient_id": ann})).await;
        assert_eq!(linked.status, StatusCode::OK, "{}", linked.body);
        assert_eq!(linked.body["id"], own[0]["id"], "the patient's conversation takes the stranger's");
        assert!(conversations(&app, &desk, &org, "unmatched=true").await.is_empty());
        let bodies = texts_in(&app, &desk, &org, &id_of(&own[0])).await;
        assert_eq!(bodies, ["Hi, do you take walk-ins?", "Running ten minutes late"]);
        assert_eq!(get(&app, &desk, &format!("{base}/{}", id_of(stranger))).await.status, StatusCode::NOT_FOUND);

        let reply = json!({"body": "Thanks for letting us know, see you soon.", "key": "k1"});
        let planned = post(&app, &desk, &format!("{base}/{}/replies", id_of(&own[0])), reply.clone()).await;
        assert_eq!(planned.status, StatusCode::ACCEPTED, "{}", planned.body);
        assert_eq!(planned.body["priority"], "reply", "first in line");
        let again = post(&app, &desk, &format!("{base}/{}/replies", id_of(&own[0])), reply).await;
        assert_eq!((again.status, &again.body["id"]), (StatusCode::OK, &planned.body["id"]), "one reply per key");

        let sim = TwilioSimulator::start(app.store.clock().clone()).await.expect("simulator");
        sim.stop_reporting();
        let sender = sender_for(&app.store, &sim, None);
        sender.dispatch_batch(&crate::support::worker("inbox", 10)).await.expect("dispatch");
        let sent = sim.messages();
        assert_eq!(sent.len(), 1);
        assert_eq!((sent[0].to.as_str(), sent[0].body.as_str()), (MOBILE, "Thanks for letting us know, see you soon."));
        let thread = get(&app, &desk, &format!("{base}/{}", id_of(&own[0]))).await;
        let out: Vec<&Value> =
            thread.body["entries"].as_array().expect("entries").iter().filter(|e| e["kind"] == "message").collect();
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0]["message"]["state"].as_str(), out[0]["message"]["channel"].as_str()),
            (Some("sent"), Some("sms"))
        );
    })
    .await;
}

#[tokio::test]
async fn a_sender_that_is_no_phone_number_waits_unmatched_with_no_candidates() {
    on_each_backend_app(|app| async move {
        let (org, _) = app.organization("Practice").await;
        let desk = desk(&app, &org).await;
        patient(&app, &org, "Ann", MOBILE).await;
        // A short code and an alphanumeric sender: kept, matched to nobody, left for staff.
        for (sid, from) in [("SM1", "72345"), ("SM2", "RIVERBEND")] {
            let reply = text(&app, &org, from, "YES", sid, &[]).await;
            assert_eq!(answered(&reply), None, "{from}: no answer is taken from it");
        }
        let unmatched = conversations(&app, &desk, &org, "unmatched=true").await;
        let mut numbers: Vec<&str> = unmatched.iter().filter_map(|c| c["number"].as_str()).collect();
        numbers.sort();
        assert_eq!(numbers, ["72345", "RIVERBEND"]);
        for conversation in &unmatched {
            let path = format!("/api/v1/organizations/{org}/conversations/{}", id_of(conversation));
            assert_eq!(get(&app, &desk, &path).await.body["candidates"], json!([]));
        }
    })
    .await;
}

#[tokio::test]
async fn a_number_two_patients_share_lists_both_for_staff_to_pick() {
    on_each_backend_app(|app| async move {
        let (org, _) = app.organization("Practice").await;
        let desk = desk(&app, &org).await;
        let mut family = vec![patient(&app, &org, "Ann", MOBILE).await, patient(&app, &org, "Al", MOBILE).await];
        text(&app, &org, MOBILE, "Is the appointment for me or my son?", "SM1", &[]).await;
        let unmatched = conversations(&app, &desk, &org, "unmatched=true").await;
        assert_eq!(unmatched.len(), 1, "a shared number is nobody's until staff pick");
        let base = format!("/api/v1/organizations/{org}/conversations/{}", id_of(&unmatched[0]));
        let mut candidates: Vec<String> =
            serde_json::from_value(get(&app, &desk, &base).await.body["candidates"].clone()).expect("ids");
        candidates.sort();
        family.sort();
        assert_eq!(candidates, family);
        let linked = post(&app, &desk, &format!("{base}/link"), json!({"patient_id": family[1]})).await;
        assert_eq!(linked.body["patient_id"].as_str(), Some(family[1].as_str()), "{}", linked.body);
        let unknown = post(&app, &desk, &format!("{base}/link"), json!({"patient_id": "not-an-id"})).await;
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", unknown.body);
    })
    .await;
}

#[tokio::test]
async fn keywords_are_answered_once_the_carriers_opt_out_counts_and_stop_in_other_words_is_flagged() {
    on_each_backend_app(|app| async move {
        let (org, _) = app.organization("Practice").await;
        let desk = desk(&app, &org).await;
        patient(&app, &org, "Ann", MOBILE).await;
        let org_id: OrganizationId = org.parse().expect("org");
        let suppressed = || async { app.store.is_sms_suppressed(org_id, SENDER, MOBILE).await.expect("query") };

        let help = answered(&text(&app, &org, MOBILE, "help", "SM1", &[]).await).expect("HELP is answered");
        assert!(help.starts_with("Practice: appointment messages. For help, call"), "{help}");
        assert!(help.contains("Reply STOP to opt out"), "{help}");
        let ayuda = answered(&text(&app, &org, MOBILE, "AYUDA", "SM2", &[]).await).expect("AYUDA is answered");
        assert!(ayuda.contains("llame al"), "{ayuda}");

        let stop = answered(&text(&app, &org, MOBILE, "Stop.", "SM3", &[]).await).expect("one confirmation");
        assert!(stop.contains("unsubscribed") && stop.contains("START"), "{stop}");
        assert!(suppressed().await);
        assert_eq!(answered(&text(&app, &org, MOBILE, "STOP", "SM3", &[]).await), None, "a replay answers nothing");
        assert_eq!(answered(&text(&app, &org, MOBILE, "unsubscribe", "SM4", &[]).await), None, "only one confirmation");
        let start = answered(&text(&app, &org, MOBILE, "start", "SM5", &[]).await).expect("START is answered");
        assert!(start.contains("resubscribed"), "{start}");
        assert!(!suppressed().await);

        let carrier = text(&app, &org, MOBILE, "please no more", "SM6", &[("OptOutType", "STOP")]).await;
        assert!(answered(&carrier).expect("confirmed").contains("unsubscribed"));
        assert!(suppressed().await, "the carrier's opt-out is honoured");
        text(&app, &org, MOBILE, "UNSTOP", "SM7", &[]).await;
        assert!(!suppressed().await);

        assert!(conversations(&app, &desk, &org, "flagged=true").await.is_empty(), "keywords flag nothing");
        let plea = text(&app, &org, MOBILE, "Please stop texting me, I moved", "SM8", &[]).await;
        assert_eq!(answered(&plea), None);
        assert!(!suppressed().await, "free text is no opt-out by itself");
        let flagged = conversations(&app, &desk, &org, "flagged=true").await;
        assert_eq!(flagged.len(), 1, "a person decides");
        assert_eq!(flagged[0]["status"], "open");
        assert!(flagged[0]["possible_revocation_at"].is_string());
        let base = format!("/api/v1/organizations/{org}/conversations/{}", id_of(&flagged[0]));
        let closed = post(&app, &desk, &format!("{base}/close"), json!({})).await;
        assert_eq!(closed.status, StatusCode::OK, "{}", closed.body);
        assert!(closed.body["possible_revocation_at"].is_null(), "closing settles the flag");
        assert!(conversations(&app, &desk, &org, "flagged=true").await.is_empty());
    })
    .await;
}

#[tokio::test]
async fn keywords_get_no_answer_when_the_provider_answers_them_itself() {
    let app = answering(false, false).await;
    let (org, _) = app.organization("Practice").await;
    assert_eq!(answered(&text(&app, &org, MOBILE, "STOP", "SM1", &[]).await), None);
    assert_eq!(answered(&text(&app, &org, MOBILE, "HELP", "SM2", &[]).await), None);
    let org_id: OrganizationId = org.parse().expect("org");
    assert!(app.store.is_sms_suppressed(org_id, SENDER, MOBILE).await.expect("query"), "STOP still counts");
}

#[tokio::test]
async fn a_text_while_every_location_is_closed_is_answered_once_per_closed_stretch() {
    let app = answering(true, true).await;
    // The location keeps weekdays 08:00 to 17:00 in Chicago; it is Sunday 09:00 there.
    let (org, _) = app.organization("Practice").await;
    patient(&app, &org, "Ann", MOBILE).await;
    let at = |local: &str| {
        let zoned: jiff::Zoned = format!("{local}[America/Chicago]").parse().expect("time");
        app.clock.set(zoned.timestamp());
    };
    let closed = answered(&text(&app, &org, MOBILE, "Can I get a refill?", "SM1", &[]).await).expect("answered");
    assert!(closed.starts_with("Practice: thanks for your text. We are closed now"), "{closed}");
    at("2026-11-22T22:00");
    assert_eq!(answered(&text(&app, &org, MOBILE, "Hello?", "SM2", &[]).await), None, "once per closed stretch");
    let help = answered(&text(&app, &org, MOBILE, "HELP", "SM3", &[]).await).expect("HELP");
    assert!(help.contains("appointment messages"), "a keyword gets its own answer: {help}");
    at("2026-11-23T10:00");
    assert_eq!(answered(&text(&app, &org, MOBILE, "Anyone there?", "SM4", &[]).await), None, "open: staff answer");
    at("2026-11-23T19:00");
    let again = answered(&text(&app, &org, MOBILE, "Still waiting", "SM5", &[]).await).expect("a new closed stretch");
    assert!(again.contains("closed now"), "{again}");
    let unknown = answered(&text(&app, &org, UNKNOWN, "Are you open Saturdays?", "SM6", &[]).await);
    assert!(unknown.is_some_and(|a| a.contains("closed now")), "a stranger's conversation is its own");
}

#[tokio::test]
async fn an_mms_keeps_its_media_links_with_its_text() {
    on_each_backend_app(|app| async move {
        let (org, _) = app.organization("Practice").await;
        let desk = desk(&app, &org).await;
        patient(&app, &org, "Ann", MOBILE).await;
        let media = [
            ("NumMedia", "1"),
            ("MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"),
            ("MediaContentType0", "image/jpeg"),
        ];
        text(&app, &org, MOBILE, "Here is my insurance card", "MM1", &media).await;
        let list = conversations(&app, &desk, &org, "").await;
        let thread = get(&app, &desk, &format!("/api/v1/organizations/{org}/conversations/{}", id_of(&list[0]))).await;
        let attached = &thread.body["entries"][0]["text"]["media"];
        assert_eq!(attached, &json!([{"url": media[1].1, "content_type": "image/jpeg", "stored": false}]));
    })
    .await;
}

#[tokio::test]
async fn staff_assign_note_read_close_and_reopen_under_the_version() {
    on_each_backend_app(|app| async move {
        let (org, _) = app.organization("Practice").await;
        patient(&app, &org, "Ann", MOBILE).await;
        let dana = staff(&app, &org, "dana@practice.example", Role::FrontDesk).await;
        let eli = staff(&app, &org, "eli@practice.example", Role::FrontDesk).await;
        let (as_dana, as_eli) = (Browser::open(&app, &dana).await, Browser::open(&app, &eli).await);
        text(&app, &org, MOBILE, "Can I bring my daughter along?", "SM1", &[]).await;
        let list_as = |browser: Browser, filter: &'static str| {
            let path = format!("/api/v1/organizations/{org}/conversations?{filter}");
            let app = &app;
            async move {
                let reply = browser.send(app, "GET", &path, None).await;
                assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
                reply.body["items"].as_array().expect("items").clone()
            }
        };
        let listed = list_as(as_dana.clone(), "").await;
        assert_eq!(listed[0]["unread"], 1);
        assert_eq!(list_as(as_dana.clone(), "assigned=none").await.len(), 1);
        assert!(list_as(as_dana.clone(), "assigned=me").await.is_empty());
        let base = format!("/api/v1/organizations/{org}/conversations/{}", id_of(&listed[0]));

        let read = as_dana.send(&app, "GET", &base, None).await;
        let tag = read.etag.clone().expect("etag");
        let assign = json!({"user_id": dana.id.to_string()});
        let assigned =
            as_dana.send_with(&app, "POST", &format!("{base}/assign"), Some(&assign), &[("if-match", &tag)]).await;
        assert_eq!(assigned.status, StatusCode::OK, "{}", assigned.body);
        let stale = as_eli
            .send_with(
                &app,
                "POST",
                &format!("{base}/assign"),
                Some(&json!({"user_id": eli.id.to_string()})),
                &[("if-match", &tag)],
            )
            .await;
        assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED, "{}", stale.body);
        let nobody = as_eli
            .send(
                &app,
                "POST",
                &format!("{base}/assign"),
                Some(&json!({"user_id": "0190d5d6-8bb4-7c5e-a2a6-3f0e3c1d2b4a"})),
            )
            .await;
        assert_eq!(nobody.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", nobody.body);
        assert_eq!(list_as(as_dana.clone(), "assigned=me").await.len(), 1);
        assert!(list_as(as_eli.clone(), "assigned=me").await.is_empty());

        let note =
            as_eli.send(&app, "POST", &format!("{base}/notes"), Some(&json!({"body": "Daughter is 7; fine."}))).await;
        assert_eq!(note.status, StatusCode::CREATED, "{}", note.body);
        assert_eq!(note.body["author_id"], eli.id.to_string());
        let empty = as_eli.send(&app, "POST", &format!("{base}/notes"), Some(&json!({"body": "  "}))).await;
        assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
        let thread = as_eli.send(&app, "GET", &base, None).await;
        let kinds: Vec<&str> =
            thread.body["entries"].as_array().expect("entries").iter().filter_map(|e| e["kind"].as_str()).collect();
        assert_eq!(kinds, ["text", "note"]);

        assert_eq!(as_dana.send(&app, "POST", &format!("{base}/read"), None).await.status, StatusCode::NO_CONTENT);
        assert_eq!(list_as(as_dana.clone(), "").await[0]["unread"], 0);
        assert_eq!(list_as(as_eli.clone(), "").await[0]["unread"], 1, "unread counts are per person");
        app.clock.set(app.clock.now() + jiff::SignedDuration::from_mins(1));
        text(&app, &org, MOBILE, "Thanks!", "SM2", &[]).await;
        assert_eq!(list_as(as_dana.clone(), "").await[0]["unread"], 1);

        let closed = as_dana.send(&app, "POST", &format!("{base}/close"), None).await;
        assert_eq!(closed.body["status"], "closed", "{}", closed.body);
        assert!(list_as(as_dana.clone(), "status=open").await.is_empty());
        let reopened = as_dana.send(&app, "POST", &format!("{base}/reopen"), None).await;
        assert_eq!(reopened.body["status"], "open", "{}", reopened.body);
        let bad =
            as_dana.send(&app, "GET", &format!("/api/v1/organizations/{org}/conversations?status=pending"), None).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    })
    .await;
}

/// The next event of a live stream, skipping keep-alive comments.
async fn next_event(body: &mut Body) -> (String, Value) {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .expect("an event within 10 s")
            .expect("the stream is open")
            .expect("a frame");
        let data = frame.into_data().unwrap_or_default();
        let text = String::from_utf8_lossy(&data).into_owned();
        let field = |name: &str| text.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_owned());
        if let Some(event) = field("event:") {
            let data = field("data:").unwrap_or_default();
            return (event, serde_json::from_str(&data).expect("JSON data"));
        }
    }
}

#[tokio::test]
async fn the_live_stream_tells_its_organization_of_every_change_and_nothing_else() {
    on_each_backend_app(|app| async move {
        let (org, _) = app.organization("Practice").await;
        let desk = desk(&app, &org).await;
        let (other, _) = app.organization("Elsewhere").await;
        patient(&app, &org, "Ann", MOBILE).await;
        let path = format!("/api/v1/organizations/{org}/inbox/events");
        let (status, mut live) = app.stream(&path, &[("cookie", &desk.cookie)]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(next_event(&mut live).await.0, "ready");
        text(&app, &other, UNKNOWN, "Wrong practice?", "SM0", &[]).await;
        text(&app, &org, MOBILE, "Is parking free?", "SM1", &[]).await;
        let (event, data) = next_event(&mut live).await;
        assert_eq!((event.as_str(), data["kind"].as_str()), ("inbox", Some("text")), "{data}");
        let conversation = data["conversation_id"].as_str().expect("id").to_owned();
        assert_eq!(
            id_of(&conversations(&app, &desk, &org, "").await[0]),
            conversation,
            "another practice's text is not heard"
        );
        assert!(!data.to_string().contains("parking"), "events carry ids, not words");

        let base = format!("/api/v1/organizations/{org}/conversations/{conversation}");
        post(&app, &desk, &format!("{base}/replies"), json!({"body": "Yes, it is."})).await;
        assert_eq!(next_event(&mut live).await.1["kind"], "message");
        post(&app, &desk, &format!("{base}/close"), json!({})).await;
        assert_eq!(next_event(&mut live).await.1["kind"], "changed");
        app.store.end_subscriptions();
        let ended = tokio::time::timeout(Duration::from_secs(10), live.frame()).await.expect("ends");
        assert!(ended.is_none(), "a stopping server ends its streams");
    })
    .await;
}

#[tokio::test]
async fn events_reach_every_process_on_the_same_database() {
    on_each_backend_url(|store, url| async move {
        let event = InboxEvent {
            organization_id: "0190d5d6-8bb4-7c5e-a2a6-3f0e3c1d2b4a".parse().expect("id"),
            conversation_id: "0190d5d6-8bb4-7c5e-a2a6-3f0e3c1d2b4b".parse().expect("id"),
            kind: InboxEventKind::Text,
        };
        let mut own = store.subscribe().await.expect("subscribe");
        store.publish(event.clone()).await;
        let heard = tokio::time::timeout(Duration::from_secs(10), own.events.recv()).await.expect("in time");
        assert_eq!(heard.expect("event"), event);
        // SQLite is one process's file; PostgreSQL may have several serving it.
        if url.starts_with("postgres") {
            let other = Store::open(&url, &DbOptions::default(), store.clock().clone()).await.expect("second process");
            let mut theirs = other.subscribe().await.expect("subscribe");
            store.publish(event.clone()).await;
            let heard = tokio::time::timeout(Duration::from_secs(10), theirs.events.recv()).await.expect("in time");
            assert_eq!(heard.expect("event"), event, "the other process hears it");
            other.publish(InboxEvent { kind: InboxEventKind::Changed, ..event.clone() }).await;
            for expected in [InboxEventKind::Text, InboxEventKind::Changed] {
                let heard = tokio::time::timeout(Duration::from_secs(10), own.events.recv()).await.expect("in time");
                assert_eq!(heard.expect("event").kind, expected, "the first hears its own and the other's");
            }
            other.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn merging_two_records_of_a_patient_merges_their_conversations() {
    on_each_backend_app(|app| async move {
        let (org, _) = app.organization("Practice").await;
        let desk = desk(&app, &org).await;
        let survivor = patient(&app, &org, "Ann", MOBILE).await;
        let merged = patient(&app, &org, "Annie", UNKNOWN).await;
        text(&app, &org, MOBILE, "See you Monday", "SM1", &[]).await;
        app.clock.set(app.clock.now() + jiff::SignedDuration::from_mins(1));
        text(&app, &org, UNKNOWN, "This is my new phone", "SM2", &[]).await;
        assert_eq!(conversations(&app, &desk, &org, "").await.len(), 2);
        let org_id: OrganizationId = org.parse().expect("org");
        let (s, m) = (survivor.parse().expect("id"), merged.parse().expect("id"));
        app.store.merge_patients(org_id, s, m).await.expect("merge");
        let left = conversations(&app, &desk, &org, "").await;
        assert_eq!(left.len(), 1, "one patient, one conversation");
        assert_eq!(
            (left[0]["patient_id"].as_str(), left[0]["number"].as_str()),
            (Some(survivor.as_str()), Some(UNKNOWN))
        );
        let bodies = texts_in(&app, &desk, &org, &id_of(&left[0])).await;
        assert_eq!(bodies, ["See you Monday", "This is my new phone"]);
    })
    .await;
}

#[tokio::test]
async fn canned_replies_are_the_practices_words_for_any_patient() {
    on_each_backend_app(|app| async move {
        let (org, _) = app.organization("Practice").await;
        let desk = desk(&app, &org).await;
        let base = format!("/api/v1/organizations/{org}/canned-replies");
        let parking =
            json!({"title": "Parking", "body": "Hi {{patient.first_name}}, parking at {{organization.name}} is free."});
        let created = app.post(&base, parking.clone()).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        assert_eq!(app.post(&base, parking).await.status, StatusCode::CONFLICT, "one per title");
        let visit = app.post(&base, json!({"title": "When", "body": "See you {{appointment.when}}"})).await;
        assert_eq!(visit.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", visit.body);
        assert!(visit.body.to_string().contains("appointment.when"), "{}", visit.body);
        let listed = get(&app, &desk, &base).await;
        assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(1), "{}", listed.body);
        assert_eq!(listed.body["items"][0]["title"], "Parking");
        let refused = post(&app, &desk, &base, json!({"title": "Mine", "body": "Hello"})).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "administrators write them");
        let id = created.body["id"].as_str().expect("id");
        assert_eq!(app.send("DELETE", &format!("{base}/{id}"), None, &[]).await.status, StatusCode::NO_CONTENT);
        assert_eq!(app.send("DELETE", &format!("{base}/{id}"), None, &[]).await.status, StatusCode::NOT_FOUND);
    })
    .await;
}

#[tokio::test]
async fn a_team_takes_conversations_its_members_list_as_theirs() {
    on_each_backend_app(|app| async move {
        let (org, _) = app.organization("Practice").await;
        patient(&app, &org, "Ann", MOBILE).await;
        let dana = staff(&app, &org, "dana@practice.example", Role::FrontDesk).await;
        let eli = staff(&app, &org, "eli@practice.example", Role::FrontDesk).await;
        let (as_dana, as_eli) = (Browser::open(&app, &dana).await, Browser::open(&app, &eli).await);
        let teams = format!("/api/v1/organizations/{org}/teams");
        let front = app.post(&teams, json!({"name": "Front desk", "member_ids": [dana.id.to_string()]})).await;
        assert_eq!(front.status, StatusCode::CREATED, "{}", front.body);
        let again = app.post(&teams, json!({"name": "Front desk", "member_ids": []})).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "one name per team: {}", again.body);
        let stranger = json!({"name": "Billing", "member_ids": ["0190d5d6-8bb4-7c5e-a2a6-3f0e3c1d2b4a"]});
        let refused = app.post(&teams, stranger).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
        let listed = get(&app, &as_dana, &teams).await;
        let count = listed.body["items"].as_array().map(Vec::len);
        assert_eq!(count, Some(1), "the refused one left nothing: {}", listed.body);

        text(&app, &org, MOBILE, "Can I bring my daughter along?", "SM1", &[]).await;
        let base = format!(
            "/api/v1/organizations/{org}/conversations/{}",
            id_of(&conversations(&app, &as_dana, &org, "").await[0])
        );
        let team = front.body["id"].as_str().expect("team id").to_owned();
        let taken = as_eli.send(&app, "POST", &format!("{base}/team"), Some(&json!({"team_id": team}))).await;
        assert_eq!(taken.status, StatusCode::OK, "{}", taken.body);
        assert_eq!(taken.body["team_id"], team.as_str());
        assert_eq!(taken.body["assigned_to"], Value::Null, "a team's, nobody's in person yet");
        assert_eq!(conversations(&app, &as_dana, &org, "team=mine").await.len(), 1);
        assert!(conversations(&app, &as_eli, &org, "team=mine").await.is_empty(), "Eli is not in it");
        assert_eq!(conversations(&app, &as_eli, &org, &format!("team={team}")).await.len(), 1);

        // Eli joins: the whole member list is written, under the version.
        let tag = front.etag.clone().expect("etag");
        let both = json!({"name": "Front desk", "member_ids": [dana.id.to_string(), eli.id.to_string()]});
        let path = format!("{teams}/{team}");
        let joined = app.send("PUT", &path, Some(&both.to_string()), &[("if-match", &tag)]).await;
        assert_eq!(joined.status, StatusCode::OK, "{}", joined.body);
        assert_eq!(joined.body["member_ids"].as_array().map(Vec::len), Some(2));
        let stale = app.send("PUT", &path, Some(&both.to_string()), &[("if-match", &tag)]).await;
        assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
        assert_eq!(conversations(&app, &as_eli, &org, "team=mine").await.len(), 1);

        let unknown = json!({"team_id": "0190d5d6-8bb4-7c5e-a2a6-3f0e3c1d2b4a"});
        let refused = as_eli.send(&app, "POST", &format!("{base}/team"), Some(&unknown)).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
        let none = as_eli.send(&app, "POST", &format!("{base}/team"), Some(&json!({"team_id": null}))).await;
        assert_eq!(none.body["team_id"], Value::Null, "{}", none.body);
        assert!(conversations(&app, &as_dana, &org, "team=mine").await.is_empty());
        let bad = get(&app, &as_dana, &format!("/api/v1/organizations/{org}/conversations?team=ours")).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    })
    .await;
}

#[tokio::test]
async fn a_search_finds_conversations_by_name_number_and_words_of_the_thread() {
    on_each_backend_app(|app| async move {
        let (org, _) = app.organization("Practice").await;
        let desk = desk(&app, &org).await;
        patient(&app, &org, "Ann", MOBILE).await;
        patient(&app, &org, "María", "+13125550102").await;
        text(&app, &org, MOBILE, "Can I bring my daughter along?", "SM1", &[]).await;
        text(&app, &org, "+13125550102", "Is PARKING free?", "SM2", &[]).await;
        text(&app, &org, UNKNOWN, "who is this? 100% curious", "SM3", &[]).await;
        let listed = conversations(&app, &desk, &org, "").await;
        let of = |number: &str| {
            let found = listed.iter().find(|c| c["number"] == number).expect("a conversation of the number");
            id_of(found)
        };
        let (ann, maria, unknown) = (of(MOBILE), of("+13125550102"), of(UNKNOWN));
        let note = json!({"body": "Call back tomorrow about the permit"});
        let noted = post(&app, &desk, &format!("/api/v1/organizations/{org}/conversations/{maria}/notes"), note).await;
        assert_eq!(noted.status, StatusCode::CREATED, "{}", noted.body);

        let found = |q: &'static str| {
            let (app, desk, org) = (&app, &desk, &org);
            async move {
                let mut ids: Vec<String> =
                    conversations(app, desk, org, &format!("q={q}")).await.iter().map(id_of).collect();
                ids.sort();
                ids
            }
        };
        let sorted = |mut ids: Vec<String>| {
            ids.sort();
            ids
        };
        assert_eq!(found("ann").await, [ann.as_str()], "a given name's start");
        assert_eq!(found("lee").await, sorted(vec![ann.clone(), maria.clone()]), "a family name");
        assert_eq!(found("maria").await, [maria.as_str()], "accents folded");
        assert_eq!(found("parking").await, [maria.as_str()], "a text's words, in any case");
        assert_eq!(found("tomorrow").await, [maria.as_str()], "a note's words");
        assert_eq!(found("0199").await, [unknown.as_str()], "digits of the number");
        assert_eq!(found("(312)%20555-0199").await, [unknown.as_str()], "a number as people write it");
        assert_eq!(found("lee%20daughter").await, [ann.as_str()], "every word must match");
        assert_eq!(found("100%25").await, [unknown.as_str()], "a percent sign is a percent sign");
        assert!(found("s%25").await.is_empty(), "not a wildcard");
        assert!(found("bob").await.is_empty());
        let long = get(&app, &desk, &format!("/api/v1/organizations/{org}/conversations?q=a+b+c+d+e+f")).await;
        assert_eq!(long.status, StatusCode::BAD_REQUEST, "{}", long.body);
    })
    .await;
}

#[tokio::test]
async fn an_mms_is_fetched_once_from_the_providers_host_and_kept_for_staff() {
    use rapport::config::Secret;
    use rapport::engine::media_fetch::{MediaFetcher, MediaSettings};
    on_each_backend_app(|app| async move {
        let (org, _) = app.organization("Practice").await;
        let user = staff(&app, &org, "desk@practice.example", Role::FrontDesk).await;
        let desk = Browser::open(&app, &user).await;
        patient(&app, &org, "Ann", MOBILE).await;
        let sim = TwilioSimulator::start(app.store.clock().clone()).await.expect("simulator");
        let card_bytes = vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3];
        let card = sim.host_media("image/jpeg", card_bytes.clone());
        let video = sim.host_media("video/mp4", vec![0; 2048]);
        let gone = format!("{}/2010-04-01/Accounts/{}/Messages/MMx/Media/MEx", sim.base_url(), sim.account_sid);
        let media = [
            ("NumMedia", "4"),
            ("MediaUrl0", card.as_str()),
            ("MediaContentType0", "image/jpeg"),
            ("MediaUrl1", video.as_str()),
            ("MediaContentType1", "video/mp4"),
            ("MediaUrl2", "http://192.0.2.1/elsewhere.png"),
            ("MediaContentType2", "image/png"),
            ("MediaUrl3", gone.as_str()),
            ("MediaContentType3", "image/png"),
        ];
        text(&app, &org, MOBILE, "Here is my insurance card", "MM1", &media).await;
        let settings = MediaSettings {
            base_url: sim.base_url(),
            account_sid: sim.account_sid.clone(),
            auth_token: Secret::new(sim.auth_token.clone()),
            max_bytes: 1024,
            timeout: Duration::from_secs(5),
        };
        let fetcher = MediaFetcher::new(app.store.clone(), settings).expect("fetcher");
        let worker = crate::support::worker("media", 10);

        // The provider fails once: retried later, nothing kept meanwhile.
        sim.fail_media(1);
        assert_eq!(fetcher.batch(&worker).await.expect("batch").retried, 1);
        let thread = |desk: Browser| {
            let app = &app;
            let path = format!("/api/v1/organizations/{org}/conversations");
            async move {
                let list = desk.send(app, "GET", &path, None).await;
                assert_eq!(list.status, StatusCode::OK, "{}", list.body);
                let id = id_of(&list.body["items"][0]);
                desk.send(app, "GET", &format!("{path}/{id}"), None).await.body["entries"][0]["text"].clone()
            }
        };
        let stored = |text: &Value| -> Vec<bool> {
            text["media"].as_array().expect("media").iter().map(|m| m["stored"] == true).collect()
        };
        assert_eq!(stored(&thread(desk.clone()).await), [false; 4]);

        app.clock.set(app.clock.now() + jiff::SignedDuration::from_hours(2));
        assert_eq!(fetcher.batch(&worker).await.expect("batch").done, 1);
        let desk = Browser::open(&app, &user).await;
        let text_view = thread(desk.clone()).await;
        assert_eq!(stored(&text_view), [true, false, false, false], "too large, elsewhere and gone stay links");
        let requests = sim.media_requests();
        assert_eq!(requests, 1 + 3, "the failure, then the card, the video and the gone one; never the other host");
        assert_eq!(fetcher.batch(&worker).await.expect("batch"), Default::default(), "fetched once");
        assert_eq!(sim.media_requests(), requests);

        let copy = format!("/api/v1/organizations/{org}/texts/{}/media", text_view["id"].as_str().expect("text id"));
        let served = desk.send(&app, "GET", &format!("{copy}/0"), None).await;
        assert_eq!(served.status, StatusCode::OK);
        assert_eq!(served.content_type.as_deref(), Some("image/jpeg"));
        let header = |name: &str| served.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
        assert_eq!(header("content-security-policy").as_deref(), Some("sandbox; default-src 'none'"));
        assert_eq!(header("cache-control").as_deref(), Some("private, no-store"));
        assert_eq!(served.bytes, card_bytes, "the card's bytes");
        assert_eq!(desk.send(&app, "GET", &format!("{copy}/1"), None).await.status, StatusCode::NOT_FOUND);
        assert_eq!(desk.send(&app, "GET", &format!("{copy}/nine"), None).await.status, StatusCode::NOT_FOUND);
        let (other, _) = app.organization("Other practice").await;
        let theirs = staff(&app, &other, "desk@other.example", Role::FrontDesk).await;
        let theirs = Browser::open(&app, &theirs).await;
        let foreign = copy.replace(&org, &other);
        assert_eq!(theirs.send(&app, "GET", &format!("{foreign}/0"), None).await.status, StatusCode::NOT_FOUND);
    })
    .await;
}

#[tokio::test]
async fn a_live_stream_ends_when_its_caller_may_no_longer_listen() {
    let settings = rapport::http::HttpSettings { max_body_bytes: 16 * 1024, hsts: false };
    let app = TestApp::with_state(settings, |mut state| {
        state.auth.stream_recheck = jiff::SignedDuration::from_millis(50);
        state
    })
    .await;
    let (org, _) = app.organization("Practice").await;
    let path = format!("/api/v1/organizations/{org}/inbox/events");
    let ends = |mut live: Body| async move {
        let ended = tokio::time::timeout(Duration::from_secs(10), live.frame()).await.expect("the stream ends");
        assert!(ended.is_none(), "ended, not an event");
    };
    let open = |headers: Vec<(&'static str, String)>| {
        let (app, path) = (&app, path.clone());
        async move {
            let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (status, mut live) = app.stream(&path, &headers).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(next_event(&mut live).await.0, "ready");
            // Several checks pass while the caller may listen.
            assert!(tokio::time::timeout(Duration::from_millis(300), live.frame()).await.is_err(), "still open");
            live
        }
    };

    // Signed out: the session's stream ends.
    let desk = desk(&app, &org).await;
    let live = open(vec![("cookie", desk.cookie.clone())]).await;
    let out = desk.send(&app, "POST", "/api/v1/auth/logout", None).await;
    assert!(out.status.is_success(), "{}", out.body);
    ends(live).await;

    // Idle past the limit: listening is no activity.
    let user = staff(&app, &org, "idle@practice.example", Role::FrontDesk).await;
    let idle = Browser::open(&app, &user).await;
    let live = open(vec![("cookie", idle.cookie.clone())]).await;
    app.clock.set(app.clock.now() + jiff::SignedDuration::from_mins(16));
    ends(live).await;
}
