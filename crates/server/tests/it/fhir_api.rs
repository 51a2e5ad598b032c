//! The FHIR R4 API (issue 7), in process on both backends: the
//! CapabilityStatement open to all; read and search of the caller's
//! organization's patients, practitioners, locations, organization and
//! appointments as FHIR JSON; paging by `next` links; every error an
//! OperationOutcome (an unknown parameter, another tenant's record, no
//! credential, an unknown type).

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::api::{Reply, TestApp, on_each_backend_app};

fn outcome_code(reply: &Reply) -> &str {
    assert_eq!(reply.content_type.as_deref(), Some("application/fhir+json; charset=utf-8"), "{}", reply.body);
    assert_eq!(reply.body["resourceType"], "OperationOutcome", "{}", reply.body);
    reply.body["issue"][0]["code"].as_str().unwrap_or("")
}

fn ids(bundle: &Value) -> Vec<String> {
    assert_eq!((bundle["resourceType"].as_str(), bundle["type"].as_str()), (Some("Bundle"), Some("searchset")));
    bundle["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["resource"]["id"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// A path of this server from a Bundle link.
fn local(url: &str) -> String {
    url.split_once("/fhir").map(|(_, rest)| format!("/fhir{rest}")).expect("a link under /fhir")
}

async fn created(app: &TestApp, path: &str, body: Value) -> String {
    let reply = app.post(path, body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn fhir_reads_and_searches_the_callers_organization_and_answers_errors_as_operation_outcomes() {
    on_each_backend_app(|app| async move {
        let metadata = app.send_raw("GET", "/fhir/metadata", None, &[]).await;
        assert_eq!(metadata.status, StatusCode::OK);
        assert_eq!((metadata.body["resourceType"].as_str(), metadata.body["fhirVersion"].as_str()), (Some("CapabilityStatement"), Some("4.0.1")));
        let anonymous = app.send_raw("GET", "/fhir/Patient", None, &[]).await;
        assert_eq!((anonymous.status, outcome_code(&anonymous)), (StatusCode::UNAUTHORIZED, "login"));

        let (org, location) = app.organization("Riverbend Health").await;
        let base = format!("/api/v1/organizations/{org}");
        let ann = created(&app, &format!("{base}/patients"), json!({"given_name": "Ann", "family_name": "Lee",
            "birth_date": "1980-04-02", "sex": "female", "language": "es",
            "phones": [{"number": "(312) 555-0101", "type": "mobile"}], "emails": ["ann@example.org"],
            "identifiers": [{"system": "urn:mrn", "value": "A-1"}]})).await;
        for given in ["Bea", "Cy"] {
            created(&app, &format!("{base}/patients"), json!({"given_name": given, "family_name": "Lee"})).await;
        }
        let doctor = created(&app, &format!("{base}/providers"), json!({"given_name": "Li", "family_name": "Ng", "npi": "1234567893", "title": "Dr"})).await;
        let visit = created(&app, &format!("{base}/appointments"), json!({"patient_id": ann, "location_id": location,
            "provider_id": doctor, "start": "2026-11-27T16:00:00Z", "duration_minutes": 30, "visit_type": "annual exam"})).await;

        let read = app.get(&format!("/fhir/Patient/{ann}")).await;
        assert_eq!(read.status, StatusCode::OK, "{}", read.body);
        assert_eq!(read.content_type.as_deref(), Some("application/fhir+json; charset=utf-8"));
        assert_eq!(read.etag.as_deref(), Some("W/\"1\""));
        let p = &read.body;
        assert_eq!((p["name"][0]["family"].as_str(), p["gender"].as_str(), p["birthDate"].as_str()), (Some("Lee"), Some("female"), Some("1980-04-02")));
        assert_eq!(p["telecom"][0], json!({"system": "phone", "value": "+13125550101", "rank": 1, "use": "mobile"}));
        assert_eq!(p["identifier"][0], json!({"system": "urn:mrn", "value": "A-1"}));
        assert_eq!(p["communication"][0]["language"]["coding"][0]["code"], "es");

        let by_identifier = app.get("/fhir/Patient?identifier=urn:mrn%7CA-1").await;
        assert_eq!(ids(&by_identifier.body), [ann.as_str()]);
        let by_phone = app.get("/fhir/Patient?phone=%2B13125550101").await;
        assert_eq!(ids(&by_phone.body), [ann.as_str()]);
        let mut seen = Vec::new();
        let mut next = Some("/fhir/Patient?family=lee&_count=2".to_owned());
        while let Some(path) = next {
            let page = app.get(&path).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.body);
            seen.extend(ids(&page.body));
            next = page.body["link"].as_array().expect("links").iter().find(|l| l["relation"] == "next").map(|l| local(l["url"].as_str().expect("url")));
        }
        assert_eq!(seen.len(), 3, "two pages cover the three Lees once: {seen:?}");

        let practitioner = app.get(&format!("/fhir/Practitioner/{doctor}")).await;
        assert_eq!(practitioner.body["identifier"][0]["value"], "1234567893");
        let place = app.get(&format!("/fhir/Location/{location}")).await;
        assert_eq!(place.body["extension"][0]["valueCode"], "America/Chicago");
        assert_eq!(app.get(&format!("/fhir/Organization/{org}")).await.body["name"], "Riverbend Health");
        let appointments = app.get(&format!("/fhir/Appointment?patient=Patient/{ann}&date=ge2026-11-27")).await;
        assert_eq!(ids(&appointments.body), [visit.as_str()]);
        let a = &appointments.body["entry"][0]["resource"];
        assert_eq!((a["status"].as_str(), a["start"].as_str(), a["minutesDuration"].as_u64()), (Some("booked"), Some("2026-11-27T16:00:00Z"), Some(30)));
        let actors: Vec<&str> = a["participant"].as_array().expect("participants").iter().filter_map(|p| p["actor"]["reference"].as_str()).collect();
        assert_eq!(actors, [format!("Patient/{ann}"), format!("Location/{location}"), format!("Practitioner/{doctor}")]);
        let before = app.get("/fhir/Appointment?date=lt2026-11-27").await;
        assert_eq!(ids(&before.body), Vec::<String>::new());

        // Errors: an unknown parameter, a bad date, another tenant's record, an unknown type.
        let unknown = app.get("/fhir/Patient?shoe_size=9").await;
        assert_eq!((unknown.status, outcome_code(&unknown)), (StatusCode::BAD_REQUEST, "invalid"));
        assert!(unknown.body["issue"][0]["diagnostics"].as_str().unwrap_or("").contains("shoe_size"));
        let bad_date = app.get("/fhir/Appointment?date=ne2026").await;
        assert_eq!((bad_date.status, outcome_code(&bad_date)), (StatusCode::BAD_REQUEST, "invalid"));
        let (theirs, _) = app.organization("Elsewhere Clinic").await;
        let stranger = created(&app, &format!("/api/v1/organizations/{theirs}/patients"), json!({"given_name": "Bo", "family_name": "Lee"})).await;
        let mine = app.token_for(&base).expect("our token");
        let bearer = format!("Bearer {mine}");
        let foreign = app.send_raw("GET", &format!("/fhir/Patient/{stranger}"), None, &[("authorization", &bearer)]).await;
        assert_eq!((foreign.status, outcome_code(&foreign)), (StatusCode::NOT_FOUND, "not-found"));
        let lees = app.send_raw("GET", "/fhir/Patient?family=lee&_count=50", None, &[("authorization", &bearer)]).await;
        assert!(!ids(&lees.body).contains(&stranger), "another tenant's patient is never found");
        let other_org = app.send_raw("GET", &format!("/fhir/Organization/{theirs}"), None, &[("authorization", &bearer)]).await;
        assert_eq!(other_org.status, StatusCode::NOT_FOUND);
        let nothing = app.send_raw("GET", "/fhir/Basic", None, &[("authorization", &bearer)]).await;
        assert_eq!((nothing.status, outcome_code(&nothing)), (StatusCode::NOT_FOUND, "not-found"));
    })
    .await;
}
