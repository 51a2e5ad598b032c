//! Pacing on both backends: a limited sender never sends faster than its
//! rate or past its daily cap, whatever number of dispatchers share it;
//! replies go before timely messages, and those before bulk; what must
//! wait stays planned, says why, and goes once when its place comes.

use jiff::SignedDuration;
use rapport::channels::Providers;
use rapport::engine::dispatch::MessageSender;
use rapport::jobs::BatchReport;
use rapport_domain::message::pace::{Priority, RateLimit};
use rapport_domain::{Channel, MessageClass, MessageId, MessagePlan, MessageState, OrganizationId, PatientId};
use serde_json::json;

use crate::support::app::{TestApp, on_each_backend_app};

struct Setup {
    org: OrganizationId,
    patients: Vec<PatientId>,
}

/// An organization and `n` Chicago patients with a mobile each (one care
/// text a day each is the cap: these tests send transactional texts).
async fn setup(app: &TestApp, n: usize) -> Setup {
    let (org, _) = app.organization("Practice").await;
    let mut patients = Vec::new();
    for i in 0..n {
        let patient = json!({"given_name": "Ann", "family_name": format!("Lee{i}"), "time_zone": "America/Chicago",
            "phones": [{"number": format!("+1312555{:04}", 100 + i), "type": "mobile"}]});
        let created = app.post(&format!("/api/v1/organizations/{org}/patients"), patient).await;
        patients.push(created.body["id"].as_str().expect("id").parse().expect("patient id"));
    }
    Setup { org: org.parse().expect("org"), patients }
}

async fn plan(app: &TestApp, s: &Setup, patient: usize, key: &str, priority: Priority) -> MessageId {
    let plan = MessagePlan {
        patient_id: s.patients[patient],
        class: MessageClass::Transactional,
        idempotency_key: key.into(),
        subject: None,
        body: format!("Message {key}"),
        template: None,
        appointment_id: None,
        priority,
        media: Vec::new(),
        channel: None,
        to: None,
        due_at: app.store.clock().now(),
        expires_at: None,
    };
    app.store.plan_message(s.org, &plan).await.expect("plan").0.id
}

fn sender(app: &TestApp, limit: RateLimit) -> MessageSender {
    let mut providers = Providers::log_only(&app.store);
    providers.limits = vec![(Channel::Sms, limit)];
    MessageSender::with_providers(app.store.clone(), providers)
}

async fn dispatch(sender: &MessageSender, owner: &str) -> BatchReport {
    dispatch_some(sender, owner, 50).await
}

async fn dispatch_some(sender: &MessageSender, owner: &str, batch: usize) -> BatchReport {
    sender.dispatch_batch(&crate::support::worker(owner, batch)).await.expect("batch")
}

async fn state(app: &TestApp, s: &Setup, id: MessageId) -> MessageState {
    app.store.message(s.org, id).await.expect("message").state
}

async fn trace(app: &TestApp, s: &Setup, id: MessageId) -> String {
    let events = app.store.message_events(s.org, id).await.expect("trace");
    events.iter().map(|e| e.note.as_str()).collect::<Vec<_>>().join("\n")
}

#[tokio::test]
async fn a_busy_sender_takes_the_reply_first_and_the_rest_at_its_rate() {
    on_each_backend_app(|app| async move {
        let s = setup(&app, 4).await;
        let sender = sender(&app, RateLimit::new(1.0, Some(2), None).expect("limit"));
        let mut bulk = Vec::new();
        for i in 0..3 {
            bulk.push(plan(&app, &s, i, &format!("bulk-{i}"), Priority::Bulk).await);
        }
        let reply = plan(&app, &s, 3, "reply", Priority::Reply).await;
        let first = dispatch(&sender, "d1").await;
        assert_eq!((first.done, first.deferred), (2, 2), "a burst of two: {first:?}");
        assert_eq!(state(&app, &s, reply).await, MessageState::Sent, "the reply, planned last, went first");
        assert_eq!(state(&app, &s, bulk[0]).await, MessageState::Sent, "then the oldest bulk message");
        for &id in &bulk[1..] {
            assert_eq!(state(&app, &s, id).await, MessageState::Planned);
            let why = trace(&app, &s, id).await;
            assert!(
                why.contains("deferred to 2026-11-22T15:00:01Z: the sender sms:log is at its rate (bulk priority)"),
                "{why}"
            );
        }
        assert_eq!(dispatch(&sender, "d1").await, BatchReport::default(), "nothing is due before its place");
        let mut sent_at = Vec::new();
        for _ in 0..4 {
            app.clock.set(app.store.clock().now() + SignedDuration::from_secs(1));
            let report = dispatch(&sender, "d1").await;
            assert!(report.done <= 1, "one a second after the burst: {report:?}");
            if report.done == 1 {
                sent_at.push(app.store.clock().now());
            }
        }
        assert_eq!(sent_at.len(), 2, "the other two, a second apart");
        let outbox = app.store.outbox(s.org, &rapport::store::PageRequest::first(20)).await.expect("outbox");
        assert_eq!(outbox.items.len(), 4, "each message once");
    })
    .await;
}

#[tokio::test]
async fn a_daily_cap_keeps_room_for_replies_and_reminders_until_midnight_utc() {
    on_each_backend_app(|app| async move {
        let s = setup(&app, 13).await;
        let sender = sender(&app, RateLimit::new(1000.0, None, Some(10)).expect("limit"));
        let mut bulk = Vec::new();
        for i in 0..10 {
            bulk.push(plan(&app, &s, i, &format!("bulk-{i}"), Priority::Bulk).await);
        }
        let timely = [plan(&app, &s, 10, "timely-0", Priority::Timely).await, plan(&app, &s, 11, "timely-1", Priority::Timely).await];
        let reply = plan(&app, &s, 12, "reply", Priority::Reply).await;
        let report = dispatch(&sender, "d1").await;
        assert_eq!((report.done, report.deferred), (7, 6), "bulk stops at 70% of the cap: {report:?}");
        assert_eq!(state(&app, &s, reply).await, MessageState::Sent);
        for id in timely {
            assert_eq!(state(&app, &s, id).await, MessageState::Sent);
        }
        let waiting: Vec<MessageId> = {
            let mut w = Vec::new();
            for &id in &bulk {
                if state(&app, &s, id).await == MessageState::Planned {
                    w.push(id);
                }
            }
            w
        };
        assert_eq!(waiting.len(), 6);
        let why = trace(&app, &s, waiting[0]).await;
        assert!(why.contains("deferred to 2026-11-23T00:00:00Z: the sender sms:log used today's share of its daily cap for bulk messages"), "{why}");
        // A reply still finds room today.
        let late_reply = plan(&app, &s, 12, "reply-2", Priority::Reply).await;
        assert_eq!(dispatch(&sender, "d1").await.done, 1);
        assert_eq!(state(&app, &s, late_reply).await, MessageState::Sent);
        // The next day (09:00 in Chicago), the rest go.
        app.clock.set("2026-11-23T15:00:00Z".parse().expect("time"));
        assert_eq!(dispatch(&sender, "d1").await.done, 6);
    })
    .await;
}

#[tokio::test]
async fn dispatchers_sharing_a_sender_together_keep_to_its_rate() {
    on_each_backend_app(|app| async move {
        let s = setup(&app, 30).await;
        let limit = RateLimit::new(5.0, Some(5), None).expect("limit");
        let senders = [sender(&app, limit), sender(&app, limit), sender(&app, limit)];
        for i in 0..30 {
            plan(&app, &s, i, &format!("m-{i}"), Priority::Timely).await;
        }
        let mut total = 0;
        for second in 0..6 {
            let (a, b, c) = tokio::join!(
                dispatch_some(&senders[0], "a", 10),
                dispatch_some(&senders[1], "b", 10),
                dispatch_some(&senders[2], "c", 10)
            );
            let sent = a.done + b.done + c.done;
            assert!(sent <= 5, "second {second}: {sent} sent by three dispatchers, at most 5 a second");
            total += sent;
            app.clock.set(app.store.clock().now() + SignedDuration::from_secs(1));
        }
        assert_eq!(total, 30, "all sent, each once, in six seconds");
        let outbox = app.store.outbox(s.org, &rapport::store::PageRequest::first(50)).await.expect("outbox");
        assert_eq!(outbox.items.len(), 30);
    })
    .await;
}
