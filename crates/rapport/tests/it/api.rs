//! The HTTP API in-process: statuses, stable error codes, and that a refused
//! request writes nothing.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::app::{Reply, TestApp};

fn ann() -> Value {
    json!({
        "given_name": "Ann", "family_name": "Lee", "birth_date": "1980-04-02", "sex": "female",
        "language": "es", "time_zone": "America/Chicago",
        "phones": [{"number": "(312) 555-0101", "type": "mobile"}], "emails": ["ann@example.org"],
        "channel_order": ["sms", "email"], "quiet_hours": {"start": "20:00", "end": "08:30"},
        "conditions": ["e119"], "tags": ["Diabetes-Program"], "attributes": {"preferred_pharmacy": "Main St"},
        "identifiers": [{"system": "mrn", "value": "A-1"}]
    })
}

fn assert_problem(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.body["code"], code, "{}", reply.body);
    assert_eq!(reply.body["status"], status.as_u16());
    assert_eq!(reply.content_type.as_deref(), Some("application/problem+json"));
}

fn fields(reply: &Reply) -> Vec<String> {
    reply.body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["field"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test]
async fn create_read_update_delete_a_patient_with_etags() {
    let app = TestApp::new().await;
    let (org, _) = app.organization("Practice").await;
    let created = app.post(&format!("/api/v1/organizations/{org}/patients"), ann()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.etag.as_deref(), Some("\"1\""));
    assert_eq!(created.body["phones"][0]["number"], "+13125550101");
    assert_eq!(created.body["conditions"][0], "E11.9");
    assert_eq!(created.body["tags"][0], "diabetes-program");
    assert_eq!(created.body["quiet_hours"]["end"], "08:30");
    let id = created.body["id"].as_str().expect("id");
    let path = format!("/api/v1/organizations/{org}/patients/{id}");

    let read = app.get(&path).await;
    assert_eq!((read.status, read.body.clone()), (StatusCode::OK, created.body.clone()));

    let mut changed = ann();
    changed["family_name"] = json!("Lee-Park");
    let updated = app.send("PUT", &path, Some(&changed.to_string()), &[("if-match", "\"1\"")]).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!((updated.etag.as_deref(), &updated.body["family_name"]), (Some("\"2\""), &json!("Lee-Park")));

    let found = app.get(&format!("/api/v1/organizations/{org}/patients?name=lee-p&phone=3125550101")).await;
    assert_eq!(found.body["items"].as_array().map(Vec::len), Some(1), "{}", found.body);

    let deleted = app.send("DELETE", &path, None, &[("if-match", "\"2\"")]).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_problem(&app.get(&path).await, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn invalid_fields_are_422_naming_each_field_and_write_nothing() {
    let app = TestApp::new().await;
    let (org, _) = app.organization("Practice").await;
    let mut bad = ann();
    bad["phones"] = json!([{"number": "555-0101"}]);
    bad["emails"] = json!(["ann@"]);
    bad["birth_date"] = json!("04/02/1980");
    bad["time_zone"] = json!("CST");
    bad["channel_order"] = json!(["sms", "fax"]);
    let reply = app.post(&format!("/api/v1/organizations/{org}/patients"), bad).await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(fields(&reply), ["birth_date", "time_zone", "phones[0].number", "emails[0]", "channel_order[1]"]);
    let text = reply.body.to_string();
    assert!(!text.contains("555-0101") && !text.contains("04/02/1980"), "values leak: {text}");
    assert_eq!(app.patient_count(&org).await, 0);

    let missing = app.post(&format!("/api/v1/organizations/{org}/patients"), json!({"given_name": "Ann"})).await;
    assert_problem(&missing, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(fields(&missing), ["family_name"]);
    let zone = app
        .post(&format!("/api/v1/organizations/{org}/locations"), json!({"name": "X", "time_zone": "Mars/Olympus"}))
        .await;
    assert_eq!(fields(&zone), ["time_zone"]);
}

#[tokio::test]
async fn unknown_fields_malformed_bodies_and_media_types_are_refused() {
    let app = TestApp::new().await;
    let (org, _) = app.organization("Practice").await;
    let path = format!("/api/v1/organizations/{org}/patients");
    let mut extra = ann();
    extra["ssn"] = json!("000-00-0000");
    assert_problem(&app.post(&path, extra).await, StatusCode::BAD_REQUEST, "unknown_field");
    let mut nested = ann();
    nested["phones"] = json!([{"number": "+13125550101", "extension": "12"}]);
    let reply = app.post(&path, nested).await;
    assert_problem(&reply, StatusCode::BAD_REQUEST, "unknown_field");
    assert_eq!(reply.body["detail"], "unknown field `phones[0].extension`");
    let broken = app.send("POST", &path, Some("{\"given_name\": \"Ann\","), &[]).await;
    assert_problem(&broken, StatusCode::BAD_REQUEST, "malformed_json");
    let wrong_type = app.send("POST", &path, None, &[("content-type", "text/plain")]).await;
    assert_problem(&wrong_type, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    assert_eq!(app.patient_count(&org).await, 0);
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_and_writes_nothing() {
    let app = TestApp::new().await;
    let (org, _) = app.organization("Practice").await;
    let mut huge = ann();
    huge["attributes"] = json!({"notes": "x".repeat(20 * 1024)});
    let reply = app.post(&format!("/api/v1/organizations/{org}/patients"), huge).await;
    assert_problem(&reply, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert_eq!(app.patient_count(&org).await, 0);
}

#[tokio::test]
async fn preconditions_guard_updates() {
    let app = TestApp::new().await;
    let (org, _) = app.organization("Practice").await;
    let created = app.post(&format!("/api/v1/organizations/{org}/patients"), ann()).await;
    let path = format!("/api/v1/organizations/{org}/patients/{}", created.body["id"].as_str().expect("id"));
    let mut changed = ann();
    changed["given_name"] = json!("Anna");
    let body = changed.to_string();
    let missing = app.send("PUT", &path, Some(&body), &[]).await;
    assert_problem(&missing, StatusCode::PRECONDITION_REQUIRED, "precondition_required");
    let stale = app.send("PUT", &path, Some(&body), &[("if-match", "\"7\"")]).await;
    assert_problem(&stale, StatusCode::PRECONDITION_FAILED, "precondition_failed");
    let foreign_tag = app.send("PUT", &path, Some(&body), &[("if-match", "\"abc\"")]).await;
    assert_problem(&foreign_tag, StatusCode::PRECONDITION_FAILED, "precondition_failed");
    let stale_delete = app.send("DELETE", &path, None, &[("if-match", "\"7\"")]).await;
    assert_problem(&stale_delete, StatusCode::PRECONDITION_FAILED, "precondition_failed");
    let read = app.get(&path).await;
    assert_eq!((read.body["given_name"].as_str(), read.etag.as_deref()), (Some("Ann"), Some("\"1\"")));
}

#[tokio::test]
async fn unknown_and_foreign_ids_are_404_and_touch_nothing() {
    let app = TestApp::new().await;
    let (ours, _) = app.organization("Ours").await;
    let (theirs, their_location) = app.organization("Theirs").await;
    let theirs_created = app.post(&format!("/api/v1/organizations/{theirs}/patients"), ann()).await;
    let their_patient = theirs_created.body["id"].as_str().expect("id");
    let patient = ann().to_string();
    let location = json!({"name": "Stolen", "time_zone": "America/Chicago"}).to_string();
    for (path, body) in [
        (format!("/api/v1/organizations/{ours}/patients/{their_patient}"), &patient),
        (format!("/api/v1/organizations/{ours}/patients/{}", uuid::Uuid::now_v7()), &patient),
        (format!("/api/v1/organizations/{ours}/patients/not-an-id"), &patient),
        (format!("/api/v1/organizations/{ours}/locations/{their_location}"), &location),
        (format!("/api/v1/organizations/{}/patients/{their_patient}", uuid::Uuid::now_v7()), &patient),
    ] {
        assert_problem(&app.get(&path).await, StatusCode::NOT_FOUND, "not_found");
        let put = app.send("PUT", &path, Some(body), &[("if-match", "\"1\"")]).await;
        assert_problem(&put, StatusCode::NOT_FOUND, "not_found");
    }
    let delete = app.send("DELETE", &format!("/api/v1/organizations/{ours}/patients/{their_patient}"), None, &[]).await;
    assert_problem(&delete, StatusCode::NOT_FOUND, "not_found");
    let consents = app.get(&format!("/api/v1/organizations/{ours}/patients/{their_patient}/consents")).await;
    assert_problem(&consents, StatusCode::NOT_FOUND, "not_found");
    let still = app.get(&format!("/api/v1/organizations/{theirs}/patients/{their_patient}")).await;
    assert_eq!((still.status, still.etag.as_deref()), (StatusCode::OK, Some("\"1\"")));
    assert_problem(&app.get("/api/v1/nothing-here").await, StatusCode::NOT_FOUND, "not_found");
    let (other, other_location) = app.organization("Third").await;
    let provider = json!({"given_name": "Ida", "family_name": "Lo", "location_ids": [other_location, their_location]});
    let refused = app.post(&format!("/api/v1/organizations/{other}/providers"), provider).await;
    assert_problem(&refused, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(fields(&refused), ["location_ids[1]"]);
    assert_eq!(app.get(&format!("/api/v1/organizations/{other}/providers")).await.body["items"], json!([]));
}

#[tokio::test]
async fn appointments_refuse_another_tenants_patient_and_show_local_time() {
    let app = TestApp::new().await;
    let (ours, location) = app.organization("Ours").await;
    let (theirs, _) = app.organization("Theirs").await;
    let mine = app.post(&format!("/api/v1/organizations/{ours}/patients"), ann()).await.body["id"].clone();
    let foreign = app.post(&format!("/api/v1/organizations/{theirs}/patients"), ann()).await.body["id"].clone();
    let path = format!("/api/v1/organizations/{ours}/appointments");
    let booking = |patient: &Value| {
        json!({"patient_id": patient, "location_id": location, "start": "2026-11-25T09:30:00-06:00",
               "duration_minutes": 30, "visit_type": "follow-up"})
    };
    let refused = app.post(&path, booking(&foreign)).await;
    assert_problem(&refused, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(fields(&refused), ["patient_id"]);
    assert_eq!(app.get(&path).await.body["items"], json!([]));

    let booked = app.post(&path, booking(&mine)).await;
    assert_eq!(booked.status, StatusCode::CREATED, "{}", booked.body);
    assert_eq!(booked.body["start"], "2026-11-25T15:30:00Z");
    assert_eq!(booked.body["start_local"], "2026-11-25T09:30:00-06:00[America/Chicago]");
    assert_eq!(booked.body["status"], "booked");

    let mut backwards = booking(&mine);
    backwards["end"] = json!("2026-11-25T09:00:00-06:00");
    backwards.as_object_mut().expect("object").remove("duration_minutes");
    assert_eq!(fields(&app.post(&path, backwards).await), ["end"]);
    let mut bad_status = booking(&mine);
    bad_status["status"] = json!("done");
    assert_eq!(fields(&app.post(&path, bad_status).await), ["status"]);

    let listed = app.get(&format!("{path}?from=2026-11-25T00:00:00Z&to=2026-11-26T00:00:00Z&status=booked")).await;
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(1), "{}", listed.body);
}

#[tokio::test]
async fn query_parameters_are_checked_by_name() {
    let app = TestApp::new().await;
    let (org, _) = app.organization("Practice").await;
    let base = format!("/api/v1/organizations/{org}");
    for (query, parameter) in [
        ("/patients?phone=12", "phone"),
        ("/patients?birth_date=yesterday", "birth_date"),
        ("/patients?limit=0", "limit"),
        ("/patients?after=x", "after"),
        ("/patients?colour=red", "colour"),
        ("/appointments?from=monday", "from"),
        ("/appointments?status=done", "status"),
    ] {
        let reply = app.get(&format!("{base}{query}")).await;
        assert_problem(&reply, StatusCode::BAD_REQUEST, "invalid_query");
        assert!(reply.body["detail"].as_str().unwrap_or_default().contains(parameter), "{}", reply.body);
    }
}

#[tokio::test]
async fn consents_record_a_ledger_with_the_latest_choice_current() {
    let app = TestApp::new().await;
    let (org, _) = app.organization("Practice").await;
    let id = app.post(&format!("/api/v1/organizations/{org}/patients"), ann()).await.body["id"].clone();
    let path = format!("/api/v1/organizations/{org}/patients/{}/consents", id.as_str().expect("id"));
    for status in ["granted", "revoked"] {
        let reply = app.post(&path, json!({"channel": "sms", "purpose": "marketing", "status": status})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    let bad = app.post(&path, json!({"channel": "fax", "purpose": "marketing", "status": "maybe"})).await;
    assert_eq!(fields(&bad), ["channel", "status"]);
    let ledger = app.get(&path).await;
    assert_eq!(ledger.body["history"].as_array().map(Vec::len), Some(2));
    assert_eq!(ledger.body["current"][0]["status"], "revoked");
}

#[tokio::test]
async fn health_and_openapi() {
    let app = TestApp::new().await;
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
    assert_eq!(app.get("/readyz").await.status, StatusCode::OK);
    let doc = app.get("/api/openapi.json").await;
    let paths = doc.body["paths"].as_object().expect("paths");
    for path in ["/healthz", "/api/v1/organizations/{org}/patients", "/api/v1/organizations/{org}/appointments/{id}"] {
        assert!(paths.contains_key(path), "{path} missing from {:?}", paths.keys().collect::<Vec<_>>());
    }
    assert!(doc.body["components"]["schemas"]["PatientInput"].is_object());
    app.store.close().await;
    let down = app.get("/readyz").await;
    assert_problem(&down, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
}
