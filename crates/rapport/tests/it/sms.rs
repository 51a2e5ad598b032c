//! SMS through the Twilio-compatible simulator, on both backends: a message
//! reaches the provider once with its sender and callback; each fault mode
//! ends with exactly one message at the provider (retried when refused,
//! reconciled by lookup when in doubt, never resent blindly); opt-outs and
//! undeliverable numbers stop further texts; status callbacks are signed,
//! idempotent and forward-only.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use jiff::SignedDuration;
use rapport::channels::Providers;
use rapport::channels::twilio::{TwilioSettings, TwilioSms, signature};
use rapport::config::Secret;
use rapport::engine::dispatch::MessageSender;
use rapport::jobs::BatchReport;
use rapport::simulators::twilio::{Fault, TwilioSimulator};
use rapport::store::{SendRules, Store};
use rapport_domain::message::handoff::{Decided, Taken, Words};
use rapport_domain::{MessageClass, MessageId, MessagePlan, MessageState, OrganizationId};
use serde_json::json;

use crate::support::app::{PUBLIC_URL, TWILIO_TOKEN, TestApp, on_each_backend_app};
use crate::support::test_now;

pub const SENDER: &str = "+13125550000";
const MOBILE: &str = "+13125550101";

struct Setup {
    sim: TwilioSimulator,
    sender: MessageSender,
    org: OrganizationId,
    patient: String,
}

pub fn twilio_settings(sim: &TwilioSimulator, callback_base: Option<String>) -> TwilioSettings {
    TwilioSettings {
        base_url: sim.base_url(),
        account_sid: sim.account_sid.clone(),
        auth_token: Secret::new(sim.auth_token.clone()),
        from: Some(SENDER.into()),
        messaging_service_sid: None,
        callback_base,
        timeout: Duration::from_millis(400),
    }
}

pub fn sender_for(store: &Store, sim: &TwilioSimulator, callback_base: Option<String>) -> MessageSender {
    let mut providers = Providers::log_only(store);
    providers.sms = Arc::new(TwilioSms::new(twilio_settings(sim, callback_base)).expect("client"));
    MessageSender::with_providers(store.clone(), providers)
}

/// An organization, a Chicago patient with a mobile and an email, the
/// simulator (reporting off unless a test wants it) and a sender through it.
async fn setup(app: &TestApp) -> Setup {
    let (org, _) = app.organization("Practice").await;
    let patient = json!({"given_name": "Ann", "family_name": "Lee", "time_zone": "America/Chicago",
        "phones": [{"number": MOBILE, "type": "mobile"}], "emails": ["ann@example.org"]});
    let created = app.post(&format!("/api/v1/organizations/{org}/patients"), patient).await;
    let sim = TwilioSimulator::start(app.store.clock().clone()).await.expect("simulator");
    sim.stop_reporting();
    let sender = sender_for(&app.store, &sim, Some(PUBLIC_URL.into()));
    Setup { sim, sender, org: org.parse().expect("org"), patient: created.body["id"].as_str().expect("id").into() }
}

async fn plan(app: &TestApp, s: &Setup, key: &str) -> MessageId {
    plan_saying(app, s, key, &format!("Your results are ready ({key}).")).await
}

async fn plan_saying(app: &TestApp, s: &Setup, key: &str, body: &str) -> MessageId {
    let plan = MessagePlan {
        patient_id: s.patient.parse().expect("patient"),
        class: MessageClass::Transactional,
        idempotency_key: key.into(),
        subject: None,
        body: body.into(),
        template: None,
        appointment_id: None,
        priority: rapport_domain::message::pace::Priority::Timely,
        media: Vec::new(),
        channel: None,
        to: None,
        due_at: app.store.clock().now(),
        expires_at: None,
    };
    app.store.plan_message(s.org, &plan).await.expect("plan").0.id
}

async fn dispatch(s: &Setup) -> BatchReport {
    s.sender.dispatch_batch(&crate::support::worker("sms-test", 20)).await.expect("batch")
}

async fn state_of(app: &TestApp, s: &Setup, id: MessageId) -> MessageState {
    app.store.message(s.org, id).await.expect("message").state
}

fn advance(app: &TestApp, by: SignedDuration) {
    app.clock.set(app.store.clock().now() + by);
}

#[tokio::test]
async fn a_text_reaches_the_provider_once_from_the_sender_with_its_callback() {
    on_each_backend_app(|app| async move {
        let s = setup(&app).await;
        let id = plan(&app, &s, "results").await;
        assert_eq!(dispatch(&s).await.done, 1);
        assert_eq!(dispatch(&s).await, BatchReport::default(), "nothing left");
        let sent = s.sim.messages();
        assert_eq!(sent.len(), 1);
        assert_eq!((sent[0].to.as_str(), sent[0].from.as_str()), (MOBILE, SENDER));
        assert_eq!(sent[0].body, "Your results are ready (results).");
        let callback = format!("{PUBLIC_URL}/hooks/twilio/{}/messages/{id}/status", s.org);
        assert_eq!(sent[0].status_callback.as_deref(), Some(callback.as_str()));
        let message = app.store.message(s.org, id).await.expect("message");
        assert_eq!(
            (message.state, message.provider_ref.as_ref().map(rapport_domain::ProviderRef::as_str)),
            (MessageState::Sent, Some(sent[0].sid.as_str()))
        );
    })
    .await;
}

#[tokio::test]
async fn media_planned_through_the_api_goes_as_an_mms() {
    on_each_backend_app(|app| async move {
        let s = setup(&app).await;
        let path = format!("/api/v1/organizations/{}/messages", s.org);
        let org = s.org.to_string();
        let user =
            crate::support::browser::staff(&app, &org, "desk@practice.example", rapport_domain::Role::FrontDesk).await;
        let desk = crate::support::browser::Browser::open(&app, &user).await;
        let map = "https://riverbend.example/maps/lakeshore.png";
        let plan = json!({"patient_id": s.patient, "class": "transactional", "idempotency_key": "with-map",
            "body": "Parking is behind the building.", "media_urls": [map]});
        let planned = desk.send(&app, "POST", &path, Some(&plan)).await;
        assert_eq!(planned.status, axum::http::StatusCode::CREATED, "{}", planned.body);
        assert_eq!(planned.body["media_urls"], json!([map]));
        assert_eq!(dispatch(&s).await.done, 1);
        let sent = s.sim.messages();
        assert_eq!((sent.len(), sent[0].media.clone()), (1, vec![map.to_owned()]));
        let mut bad = plan;
        bad["idempotency_key"] = json!("bad-media");
        bad["media_urls"] = json!(["http://plain.example/map.png", "https://ok.example/a.png"]);
        let refused = desk.send(&app, "POST", &path, Some(&bad)).await;
        assert_eq!(refused.status, axum::http::StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(refused.body["errors"][0]["field"], "media_urls[0]", "{}", refused.body);
        assert_eq!(refused.body["errors"].as_array().map(Vec::len), Some(1));
    })
    .await;
}

#[tokio::test]
async fn refusals_are_retried_and_in_doubt_outcomes_reconciled_never_duplicated() {
    on_each_backend_app(|app| async move {
        let s = setup(&app).await;

        // 500: not taken; back to planned, sent on the retry.
        s.sim.push_fault(Fault::ServerError);
        let id = plan(&app, &s, "server-error").await;
        assert_eq!(dispatch(&s).await.retried, 1);
        assert_eq!(state_of(&app, &s, id).await, MessageState::Planned);
        advance(&app, SignedDuration::from_mins(1));
        assert_eq!(dispatch(&s).await.done, 1);
        assert_eq!(state_of(&app, &s, id).await, MessageState::Sent);

        // 429 with Retry-After: 120 s: not before then.
        s.sim.push_fault(Fault::RateLimited { retry_after_secs: 120 });
        let id = plan(&app, &s, "rate-limited").await;
        assert_eq!(dispatch(&s).await.retried, 1);
        advance(&app, SignedDuration::from_secs(90));
        assert_eq!(dispatch(&s).await, BatchReport::default(), "Retry-After is honoured");
        advance(&app, SignedDuration::from_secs(40));
        assert_eq!(dispatch(&s).await.done, 1);
        assert_eq!(state_of(&app, &s, id).await, MessageState::Sent);

        // Taken, then no answer in time / the connection dropped: in doubt,
        // then found by the lookup: sent, and not sent again.
        for (key, fault) in [("slow", Fault::Slow(Duration::from_secs(2))), ("dropped", Fault::DropAfterAccept)] {
            s.sim.push_fault(fault);
            let id = plan(&app, &s, key).await;
            assert_eq!(dispatch(&s).await.deferred, 1, "{key}");
            let doubtful = app.store.message(s.org, id).await.expect("message");
            assert_eq!(doubtful.state, MessageState::InDoubt, "{key}");
            assert!(doubtful.reason.is_some(), "{key}: the doubt is explained");
            advance(&app, SignedDuration::from_secs(61));
            assert_eq!(dispatch(&s).await.done, 1, "{key}");
            let reconciled = app.store.message(s.org, id).await.expect("message");
            let at_provider: Vec<_> = s.sim.messages().into_iter().filter(|m| m.body.contains(key)).collect();
            assert_eq!(at_provider.len(), 1, "{key}: exactly one at the provider");
            assert_eq!(reconciled.state, MessageState::Sent, "{key}");
            assert_eq!(
                reconciled.provider_ref.as_ref().map(rapport_domain::ProviderRef::as_str),
                Some(at_provider[0].sid.as_str()),
                "{key}"
            );
        }
        assert_eq!(s.sim.messages().len(), 4, "one per message, whatever the faults");
    })
    .await;
}

/// What a dispatcher commits before it calls the provider: the message
/// `sending`, by text to the mobile. True if it took.
pub async fn begin_sending(app: &TestApp, message: &rapport_domain::Message) -> bool {
    begin_handoff(app, message, rapport_domain::Channel::Sms, MOBILE).await
}

/// Commits `message`'s hand-off by `channel` to `address`, as a dispatcher does.
pub async fn begin_handoff(
    app: &TestApp,
    message: &rapport_domain::Message,
    channel: rapport_domain::Channel,
    address: &str,
) -> bool {
    let words = Words { subject: None, body: message.plan.body.clone(), language: None };
    let decided = Decided::Begin { channel, address: address.into(), words };
    let decisions = [(message, rapport_domain::JobId::generate(), decided, Vec::new())];
    let (taken, _) =
        app.store.commit_decisions("crashed-worker", &decisions, &[], &SendRules::default()).await.expect("commit");
    taken == [Taken::Yes]
}

#[tokio::test]
async fn a_stop_recorded_while_a_batch_is_decided_wins_at_commit() {
    on_each_backend_app(|app| async move {
        let s = setup(&app).await;
        let id = plan(&app, &s, "decided-before-stop").await;
        // The dispatcher read its facts and decided to send; then the STOP came.
        let message = app.store.message(s.org, id).await.expect("message");
        app.store.suppress_sms(s.org, SENDER, MOBILE).await.expect("stop");
        let words = Words { subject: None, body: message.plan.body.clone(), language: None };
        let decided = Decided::Begin { channel: rapport_domain::Channel::Sms, address: MOBILE.into(), words };
        let decisions = [(&message, rapport_domain::JobId::generate(), decided, Vec::new())];
        let rules = SendRules { sms_sender: Some(SENDER.into()), ..SendRules::default() };
        let (taken, _) = app.store.commit_decisions("worker", &decisions, &[], &rules).await.expect("commit");
        assert_eq!(taken, [Taken::Lost], "nothing to hand over");
        let closed = app.store.message(s.org, id).await.expect("message");
        assert_eq!(closed.state, MessageState::Suppressed);
        let trace = app.store.message_events(s.org, id).await.expect("trace");
        assert!(trace.iter().any(|e| e.note.contains("opted out (STOP) after the decision")), "{trace:?}");
        // A STOP texted to one sender does not stop another sender's texts.
        let id = plan(&app, &s, "another-sender").await;
        let message = app.store.message(s.org, id).await.expect("message");
        let words = Words { subject: None, body: message.plan.body.clone(), language: None };
        let decided = Decided::Begin { channel: rapport_domain::Channel::Sms, address: MOBILE.into(), words };
        let decisions = [(&message, rapport_domain::JobId::generate(), decided, Vec::new())];
        let other = SendRules { sms_sender: Some("+19995550000".into()), ..SendRules::default() };
        let (taken, _) = app.store.commit_decisions("worker", &decisions, &[], &other).await.expect("commit");
        assert_eq!(taken, [Taken::Yes]);
    })
    .await;
}

/// The notes of a message's trace.
async fn notes(app: &TestApp, s: &Setup, id: MessageId) -> Vec<String> {
    app.store.message_events(s.org, id).await.expect("trace").into_iter().map(|e| e.note).collect()
}

/// Plans a text and makes it `sending` as a worker would that then died,
/// its hand-off's start recorded or not.
async fn crashed(app: &TestApp, s: &Setup, key: &str, body: &str, started: bool) -> MessageId {
    let id = plan_saying(app, s, key, body).await;
    let message = app.store.message(s.org, id).await.expect("message");
    assert!(begin_sending(app, &message).await);
    if started {
        let progress = rapport::store::Progress { started: vec![(s.org, id)], ..Default::default() };
        app.store.record_progress(&progress).await.expect("started");
    }
    id
}

#[tokio::test]
async fn a_worker_that_died_before_its_hand_off_began_loses_nothing() {
    on_each_backend_app(|app| async move {
        let s = setup(&app).await;
        let id = crashed(&app, &s, "crashed-before", "Your results are ready.", false).await;
        assert_eq!(dispatch(&s).await.deferred, 1, "it had not left: planned again, due at once");
        assert_eq!(state_of(&app, &s, id).await, MessageState::Planned, "never in doubt");
        assert_eq!(dispatch(&s).await.done, 1);
        assert_eq!(s.sim.messages().len(), 1, "then sent, once");
        let notes = notes(&app, &s, id).await;
        assert!(notes.iter().any(|n| n.contains("stopped before the hand-off began")), "{notes:?}");
        assert!(!notes.iter().any(|n| n.contains("in doubt") || n.contains("reconciled")), "{notes:?}");
    })
    .await;
}

#[tokio::test]
async fn a_worker_that_died_mid_hand_off_is_reconciled_and_the_text_sent_once() {
    on_each_backend_app(|app| async move {
        let s = setup(&app).await;
        // Its start recorded, its request lost on the way: in doubt until a
        // lookup's "not there" can be believed, then sent again, once.
        let body = "Your results are ready.";
        let lost = crashed(&app, &s, "lost", body, true).await;
        assert_eq!(dispatch(&s).await.deferred, 1);
        assert_eq!(state_of(&app, &s, lost).await, MessageState::InDoubt, "too soon to believe the lookup");
        advance(&app, SignedDuration::from_mins(2));
        assert_eq!(dispatch(&s).await.deferred, 1, "the lookup found nothing: planned again, due at once");
        assert_eq!(dispatch(&s).await.done, 1);
        assert_eq!(s.sim.messages().len(), 1, "then sent, once");
        assert!(notes(&app, &s, lost).await.iter().any(|n| n.contains("never received it")));
        // An identical text dying the same way: the provider's copy is the
        // first one's, so this one never arrived, and goes once.
        let twin = crashed(&app, &s, "twin", body, true).await;
        advance(&app, SignedDuration::from_mins(2));
        assert_eq!(dispatch(&s).await.deferred, 1);
        assert_eq!(dispatch(&s).await.done, 1);
        assert_eq!(s.sim.messages().len(), 2, "the twin went too");
        assert_eq!(state_of(&app, &s, twin).await, MessageState::Sent);
        // Dying after the request left: found, not resent.
        let id = crashed(&app, &s, "crashed-after", "Your visit is confirmed.", true).await;
        let message = app.store.message(s.org, id).await.expect("message");
        let planted = TwilioSms::new(twilio_settings(&s.sim, None)).expect("client");
        let handoff = rapport::channels::Handoff {
            organization_id: s.org,
            message_id: id,
            channel: rapport_domain::Channel::Sms,
            class: MessageClass::Transactional,
            to: MOBILE.into(),
            subject: None,
            body: message.plan.body.clone(),
            media: Vec::new(),
            calendar: None,
            sending_at: app.store.clock().now(),
        };
        use rapport::channels::Provider;
        assert!(matches!(planted.send(&handoff).await, rapport::channels::Outcome::Accepted { .. }));
        assert_eq!(dispatch(&s).await.done, 1);
        assert_eq!(s.sim.messages().len(), 3, "reconciled, not resent");
        assert_eq!(state_of(&app, &s, id).await, MessageState::Sent);
    })
    .await;
}

#[tokio::test]
async fn an_opted_out_or_landline_number_gets_no_more_texts() {
    on_each_backend_app(|app| async move {
        let s = setup(&app).await;
        // The provider holds a STOP from this number (error 21610).
        s.sim.unsubscribe(MOBILE);
        let id = plan(&app, &s, "first").await;
        assert_eq!(dispatch(&s).await.done, 1);
        assert_eq!(state_of(&app, &s, id).await, MessageState::Suppressed);
        assert!(app.store.is_sms_suppressed(s.org, SENDER, MOBILE).await.expect("query"));
        // The next message goes by email instead, and the text is never tried.
        let requests = s.sim.requests();
        let next = plan(&app, &s, "second").await;
        assert_eq!(dispatch(&s).await.done, 1);
        let message = app.store.message(s.org, next).await.expect("message");
        assert_eq!((message.state, message.channel), (MessageState::Sent, Some(rapport_domain::Channel::Email)));
        assert_eq!(s.sim.requests(), requests, "no request for a suppressed number");

        // A landline (21614): undeliverable, and remembered.
        let (org2, _) = app.organization("Second").await;
        let landline = "+13125550199";
        let body = json!({"given_name": "Bo", "family_name": "Ng", "phones": [{"number": landline, "type": "mobile"}]});
        let bo = app.post(&format!("/api/v1/organizations/{org2}/patients"), body).await;
        s.sim.mark_landline(landline);
        let org2: OrganizationId = org2.parse().expect("org");
        let plan = MessagePlan {
            patient_id: bo.body["id"].as_str().expect("id").parse().expect("id"),
            class: MessageClass::Transactional,
            idempotency_key: "landline".into(),
            subject: None,
            body: "Hello".into(),
            template: None,
            appointment_id: None,
            priority: rapport_domain::message::pace::Priority::Timely,
            media: Vec::new(),
            channel: None,
            to: None,
            due_at: test_now(),
            expires_at: None,
        };
        let (message, _) = app.store.plan_message(org2, &plan).await.expect("plan");
        assert_eq!(dispatch(&s).await.done, 1);
        assert_eq!(app.store.message(org2, message.id).await.expect("m").state, MessageState::Undeliverable);
        let undeliverable = app
            .store
            .undeliverable_channels(org2, &[(rapport_domain::Channel::Sms, landline.into())])
            .await
            .expect("query");
        assert_eq!(undeliverable, vec![rapport_domain::Channel::Sms]);
    })
    .await;
}

pub fn signed_form(path: &str, params: &[(&str, &str)], token: &str) -> (String, String) {
    let owned: Vec<(String, String)> = params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &owned {
        form.append_pair(k, v);
    }
    (form.finish(), signature(token, &format!("{PUBLIC_URL}{path}"), &owned))
}

#[tokio::test]
async fn a_stop_texted_to_the_sender_suppresses_the_number_and_start_lifts_it() {
    on_each_backend_app(|app| async move {
        let s = setup(&app).await;
        let path = format!("/hooks/twilio/{}/inbound", s.org);
        let stop = [("From", MOBILE), ("To", SENDER), ("Body", " stop "), ("MessageSid", "SM1")];
        let (body, _) = signed_form(&path, &stop, "not-the-token");
        let forged = app.send_raw("POST", &path, Some(&body), &[("x-twilio-signature", "Zm9yZ2Vk")]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert!(!app.store.is_sms_suppressed(s.org, SENDER, MOBILE).await.expect("query"), "a forgery changes nothing");
        let (body, sig) = signed_form(&path, &stop, TWILIO_TOKEN);
        let reply = app.send_raw("POST", &path, Some(&body), &[("x-twilio-signature", &sig)]).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(app.store.is_sms_suppressed(s.org, SENDER, MOBILE).await.expect("query"));

        let id = plan(&app, &s, "after-stop").await;
        dispatch(&s).await;
        let message = app.store.message(s.org, id).await.expect("message");
        assert_eq!(message.channel, Some(rapport_domain::Channel::Email), "no text after STOP");
        assert!(s.sim.messages().is_empty());

        let start = [("From", MOBILE), ("To", SENDER), ("Body", "START"), ("MessageSid", "SM2")];
        let (body, sig) = signed_form(&path, &start, TWILIO_TOKEN);
        assert_eq!(
            app.send_raw("POST", &path, Some(&body), &[("x-twilio-signature", &sig)]).await.status,
            StatusCode::OK
        );
        plan(&app, &s, "after-start").await;
        dispatch(&s).await;
        assert_eq!(s.sim.messages().len(), 1, "texts resume after START");

        // The patient's consent ledger holds both, by their own words.
        let ledger = app.store.consent_history(s.org, s.patient.parse().expect("id")).await.expect("ledger");
        let keyed: Vec<(&str, &str, &str, Option<&str>)> = ledger
            .iter()
            .filter(|c| c.source == "sms-keyword")
            .map(|c| (c.channel.as_str(), c.purpose.as_str(), c.status.as_str(), c.evidence.as_deref()))
            .collect();
        assert_eq!(
            keyed,
            [
                ("sms", "transactional", "revoked", Some("SM1")),
                ("sms", "marketing", "revoked", Some("SM1")),
                ("sms", "research", "revoked", Some("SM1")),
                ("sms", "transactional", "granted", Some("SM2")),
            ],
            "STOP revokes every purpose; START grants care texts back, not marketing"
        );
    })
    .await;
}

#[tokio::test]
async fn status_callbacks_are_verified_idempotent_and_only_move_forward_to_read() {
    on_each_backend_app(|app| async move {
        let s = setup(&app).await;
        let id = plan(&app, &s, "tracked").await;
        dispatch(&s).await;
        let sent = s.sim.messages()[0].clone();
        let path = format!("/hooks/twilio/{}/messages/{id}/status", s.org);
        let report = |status: &'static str| {
            let params = [("MessageSid", sent.sid.as_str()), ("MessageStatus", status), ("To", MOBILE)];
            signed_form(&path, &params, TWILIO_TOKEN)
        };
        let (body, sig) = report("delivered");
        let forged = app.send_raw("POST", &path, Some(&body), &[("x-twilio-signature", "AAAA")]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert_eq!(state_of(&app, &s, id).await, MessageState::Sent);
        for _ in 0..2 {
            let reply = app.send_raw("POST", &path, Some(&body), &[("x-twilio-signature", &sig)]).await;
            assert_eq!(reply.status, StatusCode::NO_CONTENT);
        }
        let (late, late_sig) = report("sent");
        let reply = app.send_raw("POST", &path, Some(&late), &[("x-twilio-signature", &late_sig)]).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT);
        assert_eq!(state_of(&app, &s, id).await, MessageState::Delivered, "a late `sent` does not move it back");
        let trace = app.store.message_events(s.org, id).await.expect("trace");
        let delivered = trace.iter().filter(|e| e.note.contains("provider reports delivered")).count();
        assert_eq!(delivered, 1, "a repeated callback is recorded once");
        // Another message's reference: not this message.
        let params = [("MessageSid", "SMother"), ("MessageStatus", "failed")];
        let (body, sig) = signed_form(&path, &params, TWILIO_TOKEN);
        let reply = app.send_raw("POST", &path, Some(&body), &[("x-twilio-signature", &sig)]).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert_eq!(state_of(&app, &s, id).await, MessageState::Delivered);
        // A read receipt (channels that have them): read, and a late `delivered` keeps it read.
        for status in ["read", "delivered"] {
            let (body, sig) = report(status);
            let reply = app.send_raw("POST", &path, Some(&body), &[("x-twilio-signature", &sig)]).await;
            assert_eq!(reply.status, StatusCode::NO_CONTENT);
            assert_eq!(state_of(&app, &s, id).await, MessageState::Read, "after {status}");
        }
        // A message that failed stays failed whatever comes after.
        let other = plan(&app, &s, "fails").await;
        dispatch(&s).await;
        let sid = s.sim.messages().last().expect("sent").sid.clone();
        let path = format!("/hooks/twilio/{}/messages/{other}/status", s.org);
        for status in ["failed", "read"] {
            let (body, sig) =
                signed_form(&path, &[("MessageSid", sid.as_str()), ("MessageStatus", status)], TWILIO_TOKEN);
            let reply = app.send_raw("POST", &path, Some(&body), &[("x-twilio-signature", &sig)]).await;
            assert_eq!(reply.status, StatusCode::NO_CONTENT);
            assert_eq!(state_of(&app, &s, other).await, MessageState::Failed, "after {status}");
        }
    })
    .await;
}

/// The simulator's own callbacks, over TCP, to a real Rapport server.
#[tokio::test]
async fn the_simulators_callbacks_reach_a_running_server_and_mark_unknown_numbers() {
    on_each_backend_app(|app| async move {
        let (public_url, stop) = crate::support::app::serve_hooks(&app).await;
        let mut s = setup(&app).await;
        s.sim = TwilioSimulator::start(app.store.clock().clone()).await.expect("simulator");
        s.sender = sender_for(&app.store, &s.sim, Some(public_url));
        s.sim.mark_unknown(MOBILE);
        let id = plan(&app, &s, "unknown-number").await;
        dispatch(&s).await;
        let mut state = state_of(&app, &s, id).await;
        for _ in 0..100 {
            if state == MessageState::Undeliverable {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            state = state_of(&app, &s, id).await;
        }
        assert_eq!(state, MessageState::Undeliverable, "the simulator reported 30005");
        let next = plan(&app, &s, "next").await;
        dispatch(&s).await;
        let message = app.store.message(s.org, next).await.expect("message");
        assert_eq!(message.channel, Some(rapport_domain::Channel::Email), "the number is skipped from now on");
        let _ = stop.send(());
    })
    .await;
}
