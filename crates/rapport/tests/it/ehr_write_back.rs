//! Write-back (issue 7): a patient's answer to a visit the HL7 feed booked
//! goes back to the EHR as SIU over a real MLLP connection, through the job
//! queue. The EHR here is a harness that answers as scripted: a dropped
//! connection and an AE are retried with the same control id until the
//! AA, which marks the answer written back and sends nothing more; an AR
//! is final.

use std::sync::{Arc, Mutex};

use rapport::ehr::write_back::{WriteBackSettings, WriteBacks};
use rapport::engine::dispatch::MessageSender;
use rapport::engine::reminders::ReminderPlanner;
use rapport::store::{JobKind, JobState, MessageQuery, NewAnswer, PageRequest};
use rapport_domain::{Answer, Channel, ExternalId, OrganizationId};
use rapport_hl7::mllp::{Decoder, Frame, frame};
use rapport_hl7::parse;
use rapport_hl7::segments::{Msh, Sch};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::ehr::Feed;
use crate::support::app::{TestApp, on_each_backend_app};

/// How the harness answers one message.
#[derive(Debug, Clone, Copy)]
enum Reply {
    /// Close the connection without an ACK.
    Drop,
    Ack(&'static str),
}

/// An EHR's MLLP listener that keeps what it receives and answers each
/// message as its script says (AA once the script runs out).
struct Ehr {
    received: Arc<Mutex<Vec<String>>>,
    address: std::net::SocketAddr,
}

impl Ehr {
    async fn start(script: Vec<Reply>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let received = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(std::collections::VecDeque::from(script)));
        let kept = received.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (kept, script) = (kept.clone(), script.clone());
                tokio::spawn(async move {
                    let mut decoder = Decoder::new(1 << 20);
                    let mut buffer = [0u8; 8192];
                    loop {
                        while let Some(Frame::Message(bytes)) = decoder.next_frame() {
                            let text = String::from_utf8_lossy(&bytes).into_owned();
                            kept.lock().expect("lock").push(text.clone());
                            let reply = script.lock().expect("lock").pop_front().unwrap_or(Reply::Ack("AA"));
                            let Reply::Ack(code) = reply else { return };
                            let message = parse(text.as_bytes()).message.expect("HL7");
                            let control = Msh::of(&message).expect("MSH").control_id().to_owned();
                            let ack = format!(
                                "MSH|^~\\&|EHR|RIVER|RAPPORT|RAPPORT|20261124||ACK|A1|P|2.5.1\rMSA|{code}|{control}\r"
                            );
                            if stream.write_all(&frame(ack.as_bytes())).await.is_err() {
                                return;
                            }
                        }
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => decoder.push(&buffer[..n]),
                        }
                    }
                });
            }
        });
        Self { received, address }
    }

    fn received(&self) -> Vec<String> {
        self.received.lock().expect("lock").clone()
    }
}

/// A visit booked by the feed for 2026-11-27 10:00 Chicago, its first
/// reminder sent; the organization, the visit's reminder message's id.
async fn booked_and_reminded(app: &TestApp) -> (OrganizationId, rapport_domain::MessageId) {
    let (org, _) = app.organization("Riverbend Health").await;
    let org: OrganizationId = org.parse().expect("org");
    let (mut feed, stop) = Feed::open(app, org).await;
    let booking = "MSH|^~\\&|EPIC|RIVER|RAPPORT|RIVER|20261122090000||SIU^S12^SIU_S12|C1|P|2.5.1\r\
                   SCH|P77|F77||||||CHECKUP^Annual checkup|30|m|^^^20261127100000^20261127103000\r\
                   PID|1||MRN77^^^RIVER^MR||Diaz^Rosa||19800402|F|||||^PRN^CP^^^312^5550177\r\
                   AIS|1||CHK^Checkup\r";
    let (code, err) = feed.send(booking.as_bytes()).await;
    assert_eq!(code, "AA", "{err}");
    let _ = stop.send(true);
    let source = ExternalId { system: "hl7:EPIC".into(), value: "F77".into() };
    let visit = app.store.find_appointment_by_source(org, &source).await.expect("lookup").expect("booked");
    let worker = crate::support::worker("write-back-setup", 50);
    for now in ["2026-11-22T15:00:00Z", "2026-11-24T16:00:00Z"] {
        app.clock.set(now.parse().expect("time"));
        for _ in 0..3 {
            ReminderPlanner::new(app.store.clone()).plan_batch(&worker).await.expect("plan");
            MessageSender::new(app.store.clone()).dispatch_batch(&worker).await.expect("dispatch");
        }
    }
    let query = MessageQuery { appointment: Some(visit), ..MessageQuery::default() };
    let messages = app.store.messages(org, &query, &PageRequest::first(10)).await.expect("messages").items;
    let sent = messages.iter().find(|m| m.state.as_str() == "sent").expect("the 3-day reminder went out");
    (org, sent.id)
}

fn header(message: &str) -> (String, String, String, String) {
    let parsed = parse(message.as_bytes()).message.expect("HL7");
    let msh = Msh::of(&parsed).expect("MSH");
    let sch = Sch::of(&parsed).expect("SCH");
    (
        msh.trigger_event().to_owned(),
        msh.control_id().to_owned(),
        sch.filler_id().to_owned(),
        sch.0.text(6, 1).to_owned(),
    )
}

#[tokio::test]
async fn a_confirmation_reaches_the_ehr_once_through_a_dropped_connection_and_an_ae() {
    on_each_backend_app(|app| async move {
        let (org, message_id) = booked_and_reminded(&app).await;
        let ehr = Ehr::start(vec![Reply::Drop, Reply::Ack("AE"), Reply::Ack("AA")]).await;
        let settings = WriteBackSettings { endpoint: ehr.address, timeout: std::time::Duration::from_secs(5) };
        let write_backs = WriteBacks::new(app.store.clone(), org, settings);
        let answer = NewAnswer { message_id, answer: Answer::Confirm, channel: Channel::Sms, inbound_id: None };
        rapport::engine::answers::answer_visit(&app.store, org, &answer).await.expect("answer");
        let worker = crate::support::worker("write-back", 20);
        let mut now: jiff::Timestamp = "2026-11-24T16:10:00Z".parse().expect("time");
        for _ in 0..5 {
            app.clock.set(now);
            write_backs.batch(&worker).await.expect("batch");
            now += jiff::SignedDuration::from_hours(2);
        }
        let received = ehr.received();
        assert_eq!(received.len(), 3, "dropped, AE, then AA; nothing after: {received:?}");
        let headers: Vec<_> = received.iter().map(|m| header(m)).collect();
        assert!(headers.iter().all(|h| h == &headers[0]), "the same message each time: {headers:?}");
        let (event, _, filler, reason) = &headers[0];
        assert_eq!((event.as_str(), filler.as_str(), reason.as_str()), ("S14", "F77", "CONFIRMED"));
        assert!(app.store.answers_to_write_back(org, 10).await.expect("hook").is_empty(), "marked written back");
        assert_eq!(app.store.count_jobs(JobKind::WriteBack.as_str(), JobState::Done).await.expect("count"), 1);
    })
    .await;
}

#[tokio::test]
async fn a_cancellation_the_ehr_refuses_is_not_sent_again() {
    on_each_backend_app(|app| async move {
        let (org, message_id) = booked_and_reminded(&app).await;
        let ehr = Ehr::start(vec![Reply::Ack("AR")]).await;
        let settings = WriteBackSettings { endpoint: ehr.address, timeout: std::time::Duration::from_secs(5) };
        let write_backs = WriteBacks::new(app.store.clone(), org, settings);
        let answer = NewAnswer { message_id, answer: Answer::Cancel, channel: Channel::Sms, inbound_id: None };
        rapport::engine::answers::answer_visit(&app.store, org, &answer).await.expect("answer");
        let worker = crate::support::worker("write-back", 20);
        let mut now: jiff::Timestamp = "2026-11-24T16:10:00Z".parse().expect("time");
        for _ in 0..3 {
            app.clock.set(now);
            write_backs.batch(&worker).await.expect("batch");
            now += jiff::SignedDuration::from_hours(2);
        }
        let received = ehr.received();
        assert_eq!(received.len(), 1, "an AR is final: {received:?}");
        let (event, _, filler, reason) = header(&received[0]);
        assert_eq!((event.as_str(), filler.as_str(), reason.as_str()), ("S15", "F77", "PATIENT_CANCELLED"));
        assert_eq!(app.store.count_jobs(JobKind::WriteBack.as_str(), JobState::Dead).await.expect("count"), 1);
        assert_eq!(app.store.answers_to_write_back(org, 10).await.expect("hook").len(), 1, "not written back");
    })
    .await;
}
