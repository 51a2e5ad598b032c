//! The feeds' code tables (issue 7): a location code Rapport cannot place
//! holds its message back (AE) as a mapping task; once staff map it, the
//! message replays (or the sender's retry applies) with the mapped
//! location, provider and visit type; a provider or visit type code with no
//! mapping lets the visit land and waits as a task of its own.

use axum::http::StatusCode;
use rapport_domain::{ExternalId, OrganizationId};
use serde_json::json;

use crate::ehr::Feed;
use crate::support::app::on_each_backend_app;

fn booking(control: &str, visit: &str, provider: &str) -> String {
    format!(
        "MSH|^~\\&|EPIC|RIVER|RAPPORT|RIVER|20261122090000||SIU^S12^SIU_S12|{control}|P|2.5.1\r\
         SCH|P{visit}|F{visit}||||||CHECKUP^Annual checkup|30|m|^^^20261127100000^20261127103000\r\
         PID|1||MRN{visit}^^^RIVER^MR||Diaz^Rosa||19800402|F\r\
         AIS|1||CHK^Checkup\r\
         AIL|1||NORTH^^^North Campus\r\
         AIP|1||{provider}^Ng^Li\r"
    )
}

#[tokio::test]
async fn an_unmapped_location_waits_as_a_task_and_the_message_applies_once_it_is_mapped() {
    on_each_backend_app(|app| async move {
        let (org, _lakeshore) = app.organization("Riverbend Health").await;
        let base = format!("/api/v1/organizations/{org}");
        let north =
            app.post(&format!("{base}/locations"), json!({"name": "Northside", "time_zone": "America/New_York"})).await;
        assert_eq!(north.status, StatusCode::CREATED, "{}", north.body);
        let north = north.body["id"].as_str().expect("id").to_owned();
        let doctor = app
            .post(&format!("{base}/providers"), json!({"given_name": "Li", "family_name": "Ng", "npi": "1234567893"}))
            .await;
        assert_eq!(doctor.status, StatusCode::CREATED, "{}", doctor.body);
        let doctor = doctor.body["id"].as_str().expect("id").to_owned();
        let org_id: OrganizationId = org.parse().expect("org");
        let (mut feed, stop) = Feed::open(&app, org_id).await;

        // Two locations, neither named NORTH: held back, and the code waits for staff.
        let (code, err) = feed.send(booking("C1", "1", "1234567893").as_bytes()).await;
        assert_eq!(code, "AE");
        assert!(err.starts_with("AIL-3's location code has no mapping"), "{err}");
        let tasks = app.get(&format!("{base}/integration/code-mappings?unmapped=true")).await;
        assert_eq!(tasks.status, StatusCode::OK, "{}", tasks.body);
        let waiting: Vec<(String, String)> = tasks.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|m| (m["kind"].as_str().unwrap_or("").to_owned(), m["code"].as_str().unwrap_or("").to_owned()))
            .collect();
        assert_eq!(waiting, [("location".to_owned(), "NORTH".to_owned())], "the provider's NPI placed it");
        assert_eq!(tasks.body["items"][0]["display"], "North Campus");

        // Staff map it, and a visit type; bad mappings are refused naming the field.
        let map = |kind: &str, code: &str, target: serde_json::Value| {
            json!({"system": "hl7:EPIC", "kind": kind, "code": code, "target": target}).to_string()
        };
        let path = format!("{base}/integration/code-mappings");
        let wrong_kind = app.send("PUT", &path, Some(&map("room", "NORTH", json!(north))), &[]).await;
        assert_eq!(wrong_kind.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", wrong_kind.body);
        let stranger = rapport_domain::LocationId::generate().to_string();
        let unknown = app.send("PUT", &path, Some(&map("location", "NORTH", json!(stranger))), &[]).await;
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", unknown.body);
        let mapped = app.send("PUT", &path, Some(&map("location", "NORTH", json!(north))), &[]).await;
        assert_eq!((mapped.status, &mapped.body["target"]), (StatusCode::OK, &json!(north)), "{}", mapped.body);
        let typed = app.send("PUT", &path, Some(&map("visit_type", "CHK", json!("annual exam"))), &[]).await;
        assert_eq!(typed.status, StatusCode::OK, "{}", typed.body);
        let left = app.get(&format!("{path}?unmapped=true")).await;
        assert_eq!(left.body["items"], json!([]), "no task left");

        // Replay from the log: applied with the mapped location, type and provider.
        let log = app.get(&format!("{base}/integration/hl7-messages")).await;
        let entry = &log.body["items"][0];
        assert_eq!(entry["status"], "failed", "{}", log.body);
        let replay = format!("{base}/integration/hl7-messages/{}/replay", entry["id"].as_str().expect("id"));
        let replayed = app.send("POST", &replay, None, &[]).await;
        assert_eq!(
            (replayed.status, &replayed.body["status"]),
            (StatusCode::OK, &json!("applied")),
            "{}",
            replayed.body
        );
        let source = ExternalId { system: "hl7:EPIC".into(), value: "F1".into() };
        let visit = app.store.find_appointment_by_source(org_id, &source).await.expect("lookup").expect("booked");
        let visit = app.store.get_appointment(org_id, visit).await.expect("visit");
        assert_eq!(visit.details.location_id.to_string(), north);
        assert_eq!(visit.details.provider_id.map(|p| p.to_string()), Some(doctor));
        assert_eq!(visit.details.visit_type, "annual exam");
        assert_eq!(
            visit.details.start,
            "2026-11-27T15:00:00Z".parse().expect("time"),
            "10:00 in New York, the mapped location's zone"
        );
        let again = app.send("POST", &replay, None, &[]).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "an applied message never runs twice: {}", again.body);
        let (code, _) = feed.send(booking("C1", "1", "1234567893").as_bytes()).await;
        assert_eq!(code, "AA", "the sender's resend is acknowledged as applied");

        // An unknown provider lets the visit land without one, and waits as a task.
        let (code, err) = feed.send(booking("C2", "2", "P-77").as_bytes()).await;
        assert_eq!(code, "AA", "{err}");
        let source = ExternalId { system: "hl7:EPIC".into(), value: "F2".into() };
        let visit = app.store.find_appointment_by_source(org_id, &source).await.expect("lookup").expect("booked");
        assert_eq!(app.store.get_appointment(org_id, visit).await.expect("visit").details.provider_id, None);
        let tasks = app.get(&format!("{path}?unmapped=true&kind=provider")).await;
        assert_eq!(tasks.body["items"][0]["code"], "P-77", "{}", tasks.body);
        let _ = stop.send(true);
    })
    .await;
}

#[tokio::test]
async fn a_failed_message_sent_again_is_applied_anew_once_its_code_is_mapped() {
    on_each_backend_app(|app| async move {
        let (org, _) = app.organization("Riverbend Health").await;
        let base = format!("/api/v1/organizations/{org}");
        let north =
            app.post(&format!("{base}/locations"), json!({"name": "Northside", "time_zone": "America/Chicago"})).await;
        let north = north.body["id"].as_str().expect("id").to_owned();
        let org_id: OrganizationId = org.parse().expect("org");
        let (mut feed, stop) = Feed::open(&app, org_id).await;
        let (code, _) = feed.send(booking("C9", "9", "").as_bytes()).await;
        assert_eq!(code, "AE");
        let body = json!({"system": "hl7:EPIC", "kind": "location", "code": "NORTH", "target": north}).to_string();
        let mapped = app.send("PUT", &format!("{base}/integration/code-mappings"), Some(&body), &[]).await;
        assert_eq!(mapped.status, StatusCode::OK, "{}", mapped.body);
        let (code, err) = feed.send(booking("C9", "9", "").as_bytes()).await;
        assert_eq!(code, "AA", "the retry of an AE is applied: {err}");
        let log = app.store.hl7_log(org_id, &rapport::store::PageRequest::first(10)).await.expect("log").items;
        assert_eq!(log.len(), 1, "one entry per control id");
        assert_eq!(log[0].status.as_str(), "applied");
        let _ = stop.send(true);
    })
    .await;
}
