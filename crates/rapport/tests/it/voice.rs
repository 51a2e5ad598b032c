//! Voice calls through the Twilio-compatible simulator, on both backends,
//! against a running Rapport: the simulator places the call, fetches its
//! words (TwiML) from Rapport as Twilio would, hears them in the patient's
//! language, presses a key, and reports the call completed; a call whose
//! answer broke off is found by the lookup, never placed twice.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use jiff::SignedDuration;
use rapport::channels::Providers;
use rapport::channels::voice::TwilioVoice;
use rapport::engine::dispatch::MessageSender;
use rapport::simulators::twilio::{Fault, SimCall, TwilioSimulator};
use rapport_domain::message::pace::Priority;
use rapport_domain::message::template::TemplateKind;
use rapport_domain::{MessageClass, MessageId, MessagePlan, MessageState, OrganizationId};
use serde_json::json;

use crate::sms::{SENDER, twilio_settings};
use crate::support::app::{TestApp, on_each_backend_app};

const HOME: &str = "+13125550177";

struct Setup {
    sim: TwilioSimulator,
    sender: MessageSender,
    org: OrganizationId,
    patient: String,
    visit: String,
}

/// A Spanish reader who wants calls, with a landline and a visit; a
/// simulator whose calls fetch their words from `public_url`.
async fn setup(app: &TestApp, public_url: &str) -> Setup {
    let (org, location) = app.organization("Riverbend Health").await;
    let patient = json!({"given_name": "Rosa", "family_name": "Diaz", "language": "es", "time_zone": "America/Chicago",
        "phones": [{"number": HOME, "type": "landline"}], "channel_order": ["voice"]});
    let created = app.post(&format!("/api/v1/organizations/{org}/patients"), patient).await;
    let patient = created.body["id"].as_str().expect("id").to_owned();
    let visit = json!({"patient_id": patient, "location_id": location, "start": "2026-11-24T16:30:00Z",
        "duration_minutes": 30, "visit_type": "follow-up"});
    let visit = app.post(&format!("/api/v1/organizations/{org}/appointments"), visit).await;
    let sim = TwilioSimulator::start(app.store.clock().clone()).await.expect("simulator");
    let mut settings = twilio_settings(&sim, Some(public_url.to_owned()));
    settings.timeout = Duration::from_millis(400);
    let mut providers = Providers::log_only(&app.store);
    providers.voice = Arc::new(TwilioVoice::new(settings).expect("voice"));
    let sender = MessageSender::with_providers(app.store.clone(), providers);
    let visit = visit.body["id"].as_str().expect("id").to_owned();
    Setup { sim, sender, org: org.parse().expect("org"), patient, visit }
}

async fn plan_reminder(app: &TestApp, s: &Setup, key: &str) -> MessageId {
    let plan = MessagePlan {
        patient_id: s.patient.parse().expect("patient"),
        class: MessageClass::Care,
        idempotency_key: key.into(),
        subject: None,
        body: String::new(),
        template: Some(TemplateKind::parse("appointment_reminder").expect("kind")),
        appointment_id: Some(s.visit.parse().expect("visit")),
        priority: Priority::Timely,
        media: Vec::new(),
        channel: None,
        to: None,
        due_at: app.store.clock().now(),
        expires_at: None,
    };
    app.store.plan_message(s.org, &plan).await.expect("plan").0.id
}

/// Waits (up to five seconds) for the call to be over and reported.
async fn finished(app: &TestApp, s: &Setup, id: MessageId) -> (SimCall, MessageState) {
    for _ in 0..100 {
        let state = app.store.message(s.org, id).await.expect("message").state;
        if let (Some(call), MessageState::Delivered) = (s.sim.calls().first().cloned(), state) {
            return (call, state);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (s.sim.calls().first().cloned().expect("a call"), app.store.message(s.org, id).await.expect("message").state)
}

#[tokio::test]
async fn a_call_speaks_the_reminder_in_spanish_and_hears_the_keypad() {
    on_each_backend_app(|app| async move {
        let (public_url, stop) = crate::support::app::serve_hooks(&app).await;
        let s = setup(&app, &public_url).await;
        s.sim.press_on_answer(HOME, "1");
        let id = plan_reminder(&app, &s, "call").await;
        let report = s.sender.dispatch_batch(&crate::support::worker("voice-test", 10)).await.expect("batch");
        assert_eq!(report.done, 1, "{report:?}");
        let (call, state) = finished(&app, &s, id).await;
        assert_eq!(state, MessageState::Delivered, "the call completed");
        let message = app.store.message(s.org, id).await.expect("message");
        assert_eq!((call.to.as_str(), call.from.as_str()), (HOME, SENDER));
        assert_eq!(message.provider_ref.as_ref().map(rapport_domain::ProviderRef::as_str), Some(call.sid.as_str()));
        assert!(message.plan.body.contains("martes 24 de noviembre a las 10:30 a. m."), "{}", message.plan.body);
        assert!(
            message.plan.body.starts_with("Hola, le llama Riverbend Health"),
            "the call's own words: {}",
            message.plan.body
        );
        assert!(!message.plan.body.contains("STOP"), "a call is not a text");
        assert_eq!(call.pressed.as_deref(), Some("1"));
        let again = "Para escuchar el mensaje otra vez, oprima 1.";
        assert_eq!(
            call.heard,
            [message.plan.body.as_str(), again, message.plan.body.as_str(), again, "Gracias. Adios."],
            "the words, the prompt, then the words again after 1"
        );
        let trace = app.store.message_events(s.org, id).await.expect("trace");
        assert!(trace.iter().any(|e| e.note == "keypad: 1, heard the message again"), "{trace:?}");
        assert!(trace.iter().any(|e| e.note == "voice: chosen"), "{trace:?}");
        let _ = stop.send(());
    })
    .await;
}

#[tokio::test]
async fn a_reminder_call_takes_the_answer_from_the_keypad() {
    on_each_backend_app(|app| async move {
        let (public_url, stop) = crate::support::app::serve_hooks(&app).await;
        let s = setup(&app, &public_url).await;
        s.sim.press_on_answer(HOME, "2");
        // Keyed as the planner keys a visit's reminder: the call asks for an answer.
        let id = plan_reminder(&app, &s, &format!("visit:{}:v1:1d", s.visit)).await;
        s.sender.dispatch_batch(&crate::support::worker("voice-test", 10)).await.expect("batch");
        let (call, state) = finished(&app, &s, id).await;
        assert_eq!(state, MessageState::Delivered);
        let message = app.store.message(s.org, id).await.expect("message");
        let prompt = "Para confirmar su cita, oprima 1. Si no puede venir, oprima 2. Para cambiar la hora, oprima 3. \
                      Para escuchar el mensaje otra vez, oprima 9.";
        assert_eq!(
            call.heard,
            [message.plan.body.as_str(), prompt, "Su cita fue anulada. Para otra cita, llamenos.", "Gracias. Adios."]
        );
        let visit = app.store.get_appointment(s.org, s.visit.parse().expect("visit")).await.expect("visit");
        assert_eq!(visit.details.status.as_str(), "cancelled", "2 cancels the visit");
        let answers = app.store.visit_answers(s.org, visit.id).await.expect("answers");
        assert_eq!(answers.len(), 1);
        assert_eq!((answers[0].answer.as_str(), answers[0].channel.as_str()), ("cancel", "voice"));
        let trace = app.store.message_events(s.org, id).await.expect("trace");
        assert!(trace.iter().any(|e| e.note == "keypad: 2, answered cancel"), "{trace:?}");
        let _ = stop.send(());
    })
    .await;
}

#[tokio::test]
async fn a_call_whose_answer_broke_off_is_found_and_never_placed_twice() {
    on_each_backend_app(|app| async move {
        // Nobody answers webhooks here: only the call's creation matters.
        let s = setup(&app, "http://127.0.0.1:9").await;
        s.sim.stop_reporting();
        s.sim.push_fault(Fault::DropAfterAccept);
        let id = plan_reminder(&app, &s, "dropped").await;
        let worker = crate::support::worker("voice-test", 10);
        s.sender.dispatch_batch(&worker).await.expect("batch");
        assert_eq!(app.store.message(s.org, id).await.expect("message").state, MessageState::InDoubt);
        app.clock.set(app.store.clock().now() + SignedDuration::from_mins(2));
        assert_eq!(s.sender.dispatch_batch(&worker).await.expect("batch").done, 1);
        let message = app.store.message(s.org, id).await.expect("message");
        assert_eq!(message.state, MessageState::Sent, "found at the provider");
        assert_eq!(s.sim.calls().len(), 1, "one call, whatever the fault");
        assert_eq!(
            message.provider_ref.as_ref().map(rapport_domain::ProviderRef::as_str),
            Some(s.sim.calls()[0].sid.as_str())
        );
        let unsigned =
            app.send_raw("POST", &format!("/hooks/twilio/{}/messages/{id}/voice", s.org), Some(""), &[]).await;
        assert!([StatusCode::FORBIDDEN, StatusCode::NOT_FOUND].contains(&unsigned.status), "{}", unsigned.status);
    })
    .await;
}
