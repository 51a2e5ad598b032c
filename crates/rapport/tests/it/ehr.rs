//! HL7 v2 over a real MLLP connection, on both backends (issue 7's first
//! part, and issue 5's replay of the public SIU samples): each message kept
//! before its ACK; the samples' visit booked, rescheduled, changed, missed,
//! cancelled and deleted in turn; a control id sent again acknowledged
//! without being applied twice; a message Rapport does not take refused
//! with AR and a reason; a future visit from the feed gets its reminders.

use std::path::PathBuf;

use rapport::ehr::mllp::{MllpSettings, serve};
use rapport::engine::reminders::ReminderPlanner;
use rapport::store::{MessageQuery, PageRequest};
use rapport_domain::{AppointmentStatus, ExternalId, OrganizationId};
use rapport_hl7::mllp::{Decoder, Frame, frame};
use rapport_hl7::parse;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::app::{TestApp, on_each_backend_app};

fn sample(name: &str) -> Vec<u8> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../hl7/tests/fixtures/microsoft-fhir-converter").join(name);
    std::fs::read(path).expect("a sample")
}

/// A connection to Rapport's MLLP listener.
pub struct Feed {
    stream: TcpStream,
    decoder: Decoder,
}

impl Feed {
    pub async fn open(app: &TestApp, org: OrganizationId) -> (Self, tokio::sync::watch::Sender<bool>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(serve(listener, app.store.clone(), org, MllpSettings::default(), stopped));
        let stream = TcpStream::connect(address).await.expect("connect");
        (Self { stream, decoder: Decoder::new(1 << 20) }, stop)
    }

    /// Sends one message (framed) and returns the ACK's MSA-1 and ERR text.
    pub async fn send(&mut self, message: &[u8]) -> (String, String) {
        self.stream.write_all(&frame(message)).await.expect("write");
        let mut buffer = [0u8; 4096];
        loop {
            if let Some(Frame::Message(bytes)) = self.decoder.next_frame() {
                let ack = parse(&bytes).message.expect("an ACK");
                let msa = ack.segment("MSA").expect("MSA").text(1, 1).to_owned();
                let err = ack.segment("ERR").map(|e| e.text(8, 1).to_owned()).unwrap_or_default();
                return (msa, err);
            }
            let n = self.stream.read(&mut buffer).await.expect("read");
            assert!(n > 0, "the listener closed the connection");
            self.decoder.push(&buffer[..n]);
        }
    }
}

#[tokio::test]
async fn the_public_siu_samples_replay_over_mllp_into_one_visits_history() {
    on_each_backend_app(|app| async move {
        let (org, _) = app.organization("Riverbend Health").await;
        let org: OrganizationId = org.parse().expect("org");
        let (mut feed, stop) = Feed::open(&app, org).await;
        let source = ExternalId { system: "hl7:SCHApp".into(), value: "36996".into() };
        let steps = [
            ("SIU-S12-01.hl7", Some(AppointmentStatus::Booked)),
            ("SIU-S13-01.hl7", Some(AppointmentStatus::Booked)),
            ("SIU-S14-01.hl7", Some(AppointmentStatus::Booked)),
            ("SIU-S26-01.hl7", Some(AppointmentStatus::Noshow)),
            ("SIU-S15-01.hl7", Some(AppointmentStatus::Cancelled)),
            ("SIU-S16-01.hl7", Some(AppointmentStatus::Cancelled)),
            ("SIU-S17-01.hl7", None),
        ];
        for (name, expected) in steps {
            let (code, err) = feed.send(&sample(name)).await;
            assert_eq!(code, "AA", "{name}: {err}");
            let visit = app.store.find_appointment_by_source(org, &source).await.expect("lookup");
            match expected {
                Some(status) => {
                    let visit = app.store.get_appointment(org, visit.expect(name)).await.expect("visit");
                    assert_eq!(visit.details.status, status, "{name}");
                    assert_eq!(
                        visit.details.start,
                        "2021-09-24T07:15:00Z".parse().expect("time"),
                        "{name}: 09:30 at +02:15"
                    );
                }
                None => assert_eq!(visit, None, "{name}: deleted"),
            }
        }
        // The -02 samples reuse the -01 control ids: acknowledged as before, not applied.
        let (code, _) = feed.send(&sample("SIU-S12-02.hl7")).await;
        assert_eq!(code, "AA");
        assert_eq!(app.store.find_appointment_by_source(org, &source).await.expect("lookup"), None, "not re-applied");
        let log = app.store.hl7_log(org, &PageRequest::first(50)).await.expect("log").items;
        assert_eq!(log.len(), 7, "one entry per control id");
        assert!(log.iter().all(|e| e.status.as_str() == "applied"), "{log:?}");
        let path = format!("/api/v1/organizations/{org}/integration/hl7-messages");
        let listed = app.send("GET", &path, None, &[]).await;
        let kinds: Vec<&str> =
            listed.body["items"].as_array().expect("items").iter().filter_map(|e| e["message_type"].as_str()).collect();
        assert_eq!(kinds.first(), Some(&"SIU^S12"), "{}", listed.body);

        // Named SIU, headed ADT^A60: refused, with the reason.
        let (code, err) = feed.send(&sample("SIU_12.hl7")).await;
        assert_eq!((code.as_str(), err.as_str()), ("AR", "MSH-9 ADT^A60 is not a message Rapport takes"));
        let (code, _) = feed.send(b"PID|1||42\r").await;
        assert_eq!(code, "AR", "no MSH");
        let (code, err) = feed.send(&sample("ADT04-23.hl7")).await;
        assert_eq!(code, "AA", "a registration (with a byte-order mark): {err}");
        // ADT-A04-01 reuses SIU_12's sender and control id: answered as that one was.
        let (code, err) = feed.send(&sample("ADT-A04-01.hl7")).await;
        assert_eq!((code.as_str(), err.as_str()), ("AR", "MSH-9 ADT^A60 is not a message Rapport takes"));
        let _ = stop.send(true);
    })
    .await;
}

#[tokio::test]
async fn a_future_visit_from_the_feed_gets_its_reminders_and_its_cancellation_stops_them() {
    on_each_backend_app(|app| async move {
        let (org, _) = app.organization("Riverbend Health").await;
        let org: OrganizationId = org.parse().expect("org");
        let (mut feed, stop) = Feed::open(&app, org).await;
        let message = |event: &str, control: &str| {
            format!(
                "MSH|^~\\&|EPIC|RIVER|RAPPORT|RIVER|20261122090000||SIU^{event}^SIU_{event}|{control}|P|2.5.1\r\
                 SCH|P77|F77||||||CHECKUP^Annual checkup|30|m|^^^20261127100000^20261127103000\r\
                 PID|1||MRN77^^^RIVER^MR||Diaz^Rosa||19800402|F|||||^PRN^CP^^^312^5550177||SPA\r\
                 AIS|1||CHK^Checkup\r\
                 AIL|1||^^^Lakeshore\r"
            )
        };
        let (code, err) = feed.send(message("S12", "C1").as_bytes()).await;
        assert_eq!(code, "AA", "{err}");
        let source = ExternalId { system: "hl7:EPIC".into(), value: "F77".into() };
        let visit = app.store.find_appointment_by_source(org, &source).await.expect("lookup").expect("booked");
        let booked = app.store.get_appointment(org, visit).await.expect("visit");
        assert_eq!(
            booked.details.start,
            "2026-11-27T16:00:00Z".parse().expect("time"),
            "10:00 in Chicago, the location's zone"
        );
        assert_eq!(booked.details.visit_type, "Checkup");
        let patient = app.store.get_patient(org, booked.details.patient_id).await.expect("patient");
        assert_eq!(
            (patient.details.family_name.as_str(), patient.details.language.as_ref().map(|l| l.as_str())),
            ("Diaz", Some("es"))
        );
        assert_eq!(patient.details.phones[0].number.as_str(), "+13125550177");
        let worker = crate::support::worker("feed", 20);
        ReminderPlanner::new(app.store.clone()).plan_batch(&worker).await.expect("plan");
        let query = MessageQuery { appointment: Some(visit), ..MessageQuery::default() };
        let planned = app.store.messages(org, &query, &PageRequest::first(10)).await.expect("messages").items;
        assert_eq!(planned.iter().filter(|m| m.state.as_str() == "planned").count(), 2, "3 days and 1 day before");

        let (code, _) = feed.send(message("S15", "C2").as_bytes()).await;
        assert_eq!(code, "AA");
        ReminderPlanner::new(app.store.clone()).plan_batch(&worker).await.expect("plan");
        let after = app.store.messages(org, &query, &PageRequest::first(10)).await.expect("messages").items;
        assert!(after.iter().all(|m| m.state.as_str() == "cancelled"), "the feed's cancellation stops the reminders");
        let _ = stop.send(true);
    })
    .await;
}
