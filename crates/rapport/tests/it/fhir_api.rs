//! The FHIR R4 API (issue 7), in process on both backends: the
//! CapabilityStatement open to all; read and search of the caller's
//! organization's patients, practitioners, locations, organization and
//! appointments as FHIR JSON; paging by `next` links; every error an
//! OperationOutcome (an unknown parameter, another tenant's record, no
//! credential, an unknown type); the 22 official Patient examples created,
//! read back with what Rapport keeps of them, and found again by a
//! conditional create; an update under its version that keeps what FHIR
//! does not carry.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::app::{Reply, TestApp, on_each_backend_app};

pub(crate) fn outcome_code(reply: &Reply) -> &str {
    assert_eq!(reply.content_type.as_deref(), Some("application/fhir+json; charset=utf-8"), "{}", reply.body);
    assert_eq!(reply.body["resourceType"], "OperationOutcome", "{}", reply.body);
    reply.body["issue"][0]["code"].as_str().unwrap_or("")
}

pub(crate) fn ids(bundle: &Value) -> Vec<String> {
    assert_eq!((bundle["resourceType"].as_str(), bundle["type"].as_str()), (Some("Bundle"), Some("searchset")));
    bundle["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["resource"]["id"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// A path of this server from a Bundle link.
pub(crate) fn local(url: &str) -> String {
    url.split_once("/fhir").map(|(_, rest)| format!("/fhir{rest}")).expect("a link under /fhir")
}

pub(crate) async fn created(app: &TestApp, path: &str, body: Value) -> String {
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
        let by_npi = app.get("/fhir/Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|1234567893").await;
        assert_eq!(ids(&by_npi.body), [doctor.as_str()]);
        assert_eq!(ids(&app.get("/fhir/Practitioner?name=ng").await.body), [doctor.as_str()], "a name's start, any case");
        assert!(ids(&app.get("/fhir/Practitioner?family=lee").await.body).is_empty());
        assert!(ids(&app.get("/fhir/Practitioner?identifier=1111111111").await.body).is_empty());
        let place = app.get(&format!("/fhir/Location/{location}")).await;
        assert_eq!(place.body["extension"][0]["valueCode"], "America/Chicago");
        assert_eq!(ids(&app.get("/fhir/Location?name=LAKE").await.body), [location.as_str()]);
        assert!(ids(&app.get("/fhir/Location?name=shore").await.body).is_empty(), "the start of the name");
        assert_eq!(app.get(&format!("/fhir/Organization/{org}")).await.body["name"], "Riverbend Health");
        let appointments = app.get(&format!("/fhir/Appointment?patient=Patient/{ann}&date=ge2026-11-27")).await;
        assert_eq!(ids(&appointments.body), [visit.as_str()]);
        let a = &appointments.body["entry"][0]["resource"];
        assert_eq!((a["status"].as_str(), a["start"].as_str(), a["minutesDuration"].as_u64()), (Some("booked"), Some("2026-11-27T16:00:00Z"), Some(30)));
        let actors: Vec<&str> = a["participant"].as_array().expect("participants").iter().filter_map(|p| p["actor"]["reference"].as_str()).collect();
        assert_eq!(actors, [format!("Patient/{ann}"), format!("Location/{location}"), format!("Practitioner/{doctor}")]);
        let with = app.get(&format!("/fhir/Appointment?patient={ann}&_include=Appointment:patient&_include=Appointment:practitioner")).await;
        let modes: Vec<(&str, &str)> = with.body["entry"].as_array().unwrap_or_else(|| panic!("{}", with.body)).iter()
            .map(|e| (e["resource"]["resourceType"].as_str().unwrap_or(""), e["search"]["mode"].as_str().unwrap_or(""))).collect();
        assert_eq!(modes, [("Appointment", "match"), ("Patient", "include"), ("Practitioner", "include")], "{}", with.body);
        let odd = app.get("/fhir/Appointment?_include=Appointment:device").await;
        assert_eq!((odd.status, outcome_code(&odd)), (StatusCode::BAD_REQUEST, "invalid"));
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

/// The official FHIR R4 examples of a type (`tests/fixtures/fhir-examples`).
pub(crate) fn examples(kind: &str) -> Vec<(String, Value)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fhir-examples");
    let mut examples: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .expect("the examples")
        .filter_map(|entry| {
            let path = entry.expect("entry").path();
            let name = path.file_name()?.to_str()?.to_owned();
            name.starts_with(&format!("{kind}-")).then(|| {
                let text = std::fs::read_to_string(&path).expect("read");
                (name, serde_json::from_str(&text).expect("JSON"))
            })
        })
        .collect();
    examples.sort_by(|a, b| a.0.cmp(&b.0));
    examples
}

/// What Rapport keeps of a Patient.
#[derive(Debug, PartialEq)]
struct Kept {
    identifiers: Vec<(String, String)>,
    family: String,
    given: String,
    birth_date: Option<String>,
    gender: String,
    emails: Vec<String>,
}

fn kept(resource: &Value) -> Kept {
    let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let mut identifiers: Vec<(String, String)> = list(&resource["identifier"])
        .iter()
        .filter(|i| {
            let kind = &i["type"]["coding"][0]["code"];
            let has = |key: &str| i[key].as_str().is_some_and(|v| !v.trim().is_empty());
            has("system") && has("value") && i["system"] != "http://hl7.org/fhir/sid/us-ssn" && kind != "SS"
        })
        .map(|i| (text(&i["system"]), text(&i["value"])))
        .collect();
    identifiers.sort();
    identifiers.dedup();
    let names = list(&resource["name"]);
    let name = names.iter().find(|n| n["use"] == "official").or(names.first()).cloned().unwrap_or(Value::Null);
    let emails =
        list(&resource["telecom"]).iter().filter(|t| t["system"] == "email").map(|t| text(&t["value"])).collect();
    let gender = resource["gender"].as_str().unwrap_or("unknown").to_owned();
    Kept {
        identifiers,
        family: text(&name["family"]),
        given: text(&name["given"][0]),
        birth_date: resource["birthDate"].as_str().map(str::to_owned),
        gender,
        emails,
    }
}

#[tokio::test]
async fn every_official_patient_example_round_trips_through_create_and_read() {
    on_each_backend_app(|app| async move {
        let examples = examples("Patient");
        assert_eq!(examples.len(), 22, "the 22 official examples");
        let fhir = [("content-type", "application/fhir+json")];
        for (name, example) in &examples {
            // Each in an organization of its own, as if from its own EHR.
            let (org, _) = app.organization(name).await;
            let path = "/fhir/Patient";
            let bearer = format!("Bearer {}", app.token_of(&org));
            let headers = [fhir[0], ("authorization", bearer.as_str())];
            let created = app.send_raw("POST", path, Some(&example.to_string()), &headers).await;
            assert_eq!(created.status, StatusCode::CREATED, "{name}: {}", created.body);
            let id = created.body["id"].as_str().expect("id").to_owned();
            let place = created.headers.get("location").and_then(|v| v.to_str().ok()).expect("Location");
            assert!(place.ends_with(&format!("/fhir/Patient/{id}/_history/1")), "{place}");
            let version = app.send_raw("GET", &local(place), None, &headers[1..]).await;
            assert_eq!(version.body, created.body, "{name}: the Location resolves to the version created");
            let read = app.send_raw("GET", &format!("{path}/{id}"), None, &headers[1..]).await;
            assert_eq!(read.status, StatusCode::OK, "{name}");
            assert_eq!(read.body, created.body, "{name}: the read is what the create answered");
            assert_eq!(kept(&read.body), kept(example), "{name}: what Rapport keeps comes back as it went in");
            // Conditional create: the same identifier finds the same patient.
            if let Some((system, value)) = kept(example).identifiers.first().cloned() {
                let condition = format!("identifier={system}|{value}");
                let again = [fhir[0], ("authorization", bearer.as_str()), ("if-none-exist", condition.as_str())];
                let found = app.send_raw("POST", path, Some(&example.to_string()), &again).await;
                assert_eq!((found.status, found.body["id"].as_str()), (StatusCode::OK, Some(id.as_str())), "{name}");
            }
        }
    })
    .await;
}

#[tokio::test]
async fn a_fhir_update_keeps_what_fhir_does_not_carry_under_its_version() {
    on_each_backend_app(|app| async move {
        let (org, _) = app.organization("Riverbend Health").await;
        let ann = created(
            &app,
            &format!("/api/v1/organizations/{org}/patients"),
            json!({"given_name": "Ann",
            "family_name": "Lee", "preferred_name": "Annie", "identifiers": [{"system": "urn:mrn", "value": "A-1"}]}),
        )
        .await;
        let path = format!("/fhir/Patient/{ann}");
        let read = app.get(&path).await;
        let mut resource = read.body.clone();
        resource["name"] = json!([{"use": "official", "family": "Lee-Park", "given": ["Ann"]}]);
        resource["birthDate"] = json!("1980-04-02");
        resource["identifier"] = json!([{"system": "urn:ehr", "value": "E-9"}]);
        let body = resource.to_string();
        let tag = read.etag.clone().expect("ETag");
        let updated = app.send("PUT", &path, Some(&body), &[("if-match", &tag)]).await;
        assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
        assert_eq!(updated.body["meta"]["versionId"], "2");
        assert_eq!(updated.body["name"][0]["family"], "Lee-Park");
        let record = app.get(&format!("/api/v1/organizations/{org}/patients/{ann}")).await.body;
        assert_eq!(record["preferred_name"], "Annie", "what FHIR does not carry stays");
        assert_eq!(record["birth_date"], "1980-04-02");
        let systems: Vec<&str> =
            record["identifiers"].as_array().expect("ids").iter().filter_map(|i| i["system"].as_str()).collect();
        assert_eq!(systems, ["urn:mrn", "urn:ehr"], "identifiers are only added");

        assert_eq!(app.get(&format!("{path}/_history/2")).await.body, updated.body, "the current version reads");
        let gone = app.get(&format!("{path}/_history/1")).await;
        assert_eq!((gone.status, outcome_code(&gone)), (StatusCode::NOT_FOUND, "not-found"));
        let why = gone.body["issue"][0]["diagnostics"].as_str().unwrap_or_default();
        assert!(why.contains("only the current version"), "{why}");
        let stale = app.send("PUT", &path, Some(&body), &[("if-match", &tag)]).await;
        assert_eq!((stale.status, outcome_code(&stale)), (StatusCode::PRECONDITION_FAILED, "conflict"));
        let mut other = resource.clone();
        other["id"] = json!("0190d5d6-8bb4-7c5e-a2a6-3f0e3c1d2b4a");
        let moved = app.send("PUT", &path, Some(&other.to_string()), &[]).await;
        assert_eq!((moved.status, outcome_code(&moved)), (StatusCode::BAD_REQUEST, "invalid"));
        let doctor = json!({"resourceType": "Practitioner", "name": [{"family": "Ng"}]});
        let wrong = app.send("POST", "/fhir/Patient", Some(&doctor.to_string()), &[]).await;
        assert_eq!((wrong.status, outcome_code(&wrong)), (StatusCode::BAD_REQUEST, "invalid"));
        let undated = json!({"resourceType": "Patient", "name": [{"family": "Lee"}], "birthDate": "1980-13-40"});
        let refused = app.send("POST", "/fhir/Patient", Some(&undated.to_string()), &[]).await;
        assert_eq!((refused.status, outcome_code(&refused)), (StatusCode::UNPROCESSABLE_ENTITY, "invalid"));
        assert_eq!(refused.body["issue"][1]["expression"][0], "Patient.birthDate", "{}", refused.body);
        let taken = json!({"resourceType": "Patient", "identifier": [{"system": "urn:mrn", "value": "A-1"}]});
        let conflict = app.send("POST", "/fhir/Patient", Some(&taken.to_string()), &[]).await;
        assert_eq!((conflict.status, outcome_code(&conflict)), (StatusCode::CONFLICT, "conflict"), "{}", conflict.body);
    })
    .await;
}

#[tokio::test]
async fn messages_both_ways_are_communications_and_a_request_sends_once() {
    on_each_backend_app(|app| async move {
        let (org, _) = app.organization("Riverbend Health").await;
        let ann = created(&app, &format!("/api/v1/organizations/{org}/patients"), json!({"given_name": "Ann",
            "family_name": "Lee", "time_zone": "America/Chicago", "phones": [{"number": "+13125550101", "type": "mobile"}]}))
        .await;
        let planned = json!({"patient_id": ann, "class": "transactional", "idempotency_key": "k1", "body": "See you Tuesday."});
        let message = created(&app, &format!("/api/v1/organizations/{org}/messages"), planned).await;
        app.clock.set(app.clock.now() + jiff::SignedDuration::from_mins(1));
        crate::inbox::text(&app, &org, "+13125550101", "Can I bring my daughter?", "SMfhir", &[]).await;

        let listed = app.get(&format!("/fhir/Communication?patient=Patient/{ann}")).await;
        assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
        let entries: Vec<Value> = listed.body["entry"].as_array().expect("entries").iter().map(|e| e["resource"].clone()).collect();
        assert_eq!(entries.len(), 2, "{}", listed.body);
        let (text, sent) = (&entries[0], &entries[1]);
        assert_eq!((text["status"].as_str(), text["sender"]["reference"].as_str()), (Some("completed"), Some(format!("Patient/{ann}").as_str())));
        assert_eq!(text["payload"][0]["contentString"], "Can I bring my daughter?");
        assert!(text["received"].is_string());
        assert_eq!(sent["id"], message.as_str());
        assert_eq!((sent["status"].as_str(), sent["payload"][0]["contentString"].as_str()), (Some("preparation"), Some("See you Tuesday.")));
        assert!(sent.get("basedOn").is_none(), "planned through the JSON API, not requested through FHIR");
        let one = app.get(&format!("/fhir/Communication/{message}")).await;
        assert_eq!(one.body, *sent);
        let paged = app.get(&format!("/fhir/Communication?patient={ann}&_count=1")).await;
        assert_eq!(ids(&paged.body), [text["id"].as_str().expect("id")]);
        let next = paged.body["link"].as_array().expect("links").iter().find(|l| l["relation"] == "next").expect("next")["url"].as_str().expect("url").to_owned();
        let second = app.get(&local(&next)).await;
        assert_eq!(ids(&second.body), [message.as_str()]);
        assert!(second.body["link"].as_array().expect("links").iter().all(|l| l["relation"] != "next"), "the last page");

        // Asking Rapport to send: once per identifier, planned as a message.
        let at = (app.clock.now() + jiff::SignedDuration::from_hours(3)).to_string();
        let request = json!({"resourceType": "CommunicationRequest", "status": "active",
            "identifier": [{"system": "urn:ehr:requests", "value": "R-1"}],
            "subject": {"reference": format!("Patient/{ann}")},
            "medium": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode", "code": "SMSWRIT"}]}],
            "payload": [{"contentString": "Your lab results are ready in the portal."}],
            "occurrenceDateTime": at});
        let first = app.send("POST", "/fhir/CommunicationRequest", Some(&request.to_string()), &[]).await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
        let id = first.body["id"].as_str().expect("id").to_owned();
        assert_eq!((first.body["status"].as_str(), first.body["identifier"][0]["value"].as_str()), (Some("active"), Some("R-1")));
        let again = app.send("POST", "/fhir/CommunicationRequest", Some(&request.to_string()), &[]).await;
        assert_eq!((again.status, again.body["id"].as_str()), (StatusCode::OK, Some(id.as_str())), "posted twice, sent once");
        assert_eq!(app.get(&format!("/fhir/CommunicationRequest/{id}")).await.body, first.body);
        let planned = app.get(&format!("/api/v1/organizations/{org}/messages/{id}")).await.body;
        assert_eq!((planned["state"].as_str(), planned["channel"].as_str()), (Some("planned"), None), "{planned}");
        let its = app.get(&format!("/fhir/Communication/{id}")).await.body;
        assert_eq!(its["basedOn"][0]["reference"], format!("CommunicationRequest/{id}"));
        assert_eq!(its["medium"][0]["text"], "sms");
        let requests = app.get(&format!("/fhir/CommunicationRequest?patient={ann}")).await;
        assert_eq!(ids(&requests.body), [id.as_str()], "only what was requested through FHIR");
        assert!(app.get(&format!("/fhir/CommunicationRequest/{message}")).await.status == StatusCode::NOT_FOUND);

        let mut nameless = request.clone();
        nameless.as_object_mut().expect("object").remove("identifier");
        let refused = app.send("POST", "/fhir/CommunicationRequest", Some(&nameless.to_string()), &[]).await;
        assert_eq!((refused.status, outcome_code(&refused)), (StatusCode::UNPROCESSABLE_ENTITY, "invalid"));
        assert_eq!(refused.body["issue"][1]["expression"][0], "CommunicationRequest.identifier");
        let mut stranger = request.clone();
        stranger["identifier"][0]["value"] = json!("R-2");
        stranger["subject"]["reference"] = json!("Patient/0190d5d6-8bb4-7c5e-a2a6-3f0e3c1d2b4a");
        let unknown = app.send("POST", "/fhir/CommunicationRequest", Some(&stranger.to_string()), &[]).await;
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", unknown.body);
        assert_eq!(unknown.body["issue"][1]["expression"][0], "CommunicationRequest.subject");
        let mut draft = request;
        draft["status"] = json!("draft");
        let drafted = app.send("POST", "/fhir/CommunicationRequest", Some(&draft.to_string()), &[]).await;
        assert_eq!(drafted.status, StatusCode::UNPROCESSABLE_ENTITY);
    })
    .await;
}

#[tokio::test]
async fn the_consent_ledger_is_fhir_consent_and_a_contact_consent_it_cannot_read_is_refused() {
    on_each_backend_app(|app| async move {
        let (org, _) = app.organization("Riverbend Health").await;
        let ann = created(&app, &format!("/api/v1/organizations/{org}/patients"), json!({"given_name": "Ann",
            "family_name": "Lee", "emails": ["ann@example.org"]}))
        .await;
        let deny = json!({"resourceType": "Consent", "status": "active",
            "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": {"reference": format!("Patient/{ann}")},
            "provision": {"type": "deny",
                "purpose": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HMARKT"}],
                "code": [{"coding": [{"system": "https://rapport.dev/fhir/CodeSystem/channel", "code": "email"}]}]}});
        let made = app.send("POST", "/fhir/Consent", Some(&deny.to_string()), &[]).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        let id = made.body["id"].as_str().expect("id").to_owned();
        assert_eq!(app.get(&format!("/fhir/Consent/{id}")).await.body, made.body);
        let ledger = app.get(&format!("/api/v1/organizations/{org}/patients/{ann}/consents")).await.body;
        let entry = &ledger["history"][0];
        assert_eq!(
            (entry["channel"].as_str(), entry["purpose"].as_str(), entry["status"].as_str(), entry["source"].as_str()),
            (Some("email"), Some("marketing"), Some("revoked"), Some("fhir")),
            "{ledger}"
        );
        let rewrite = app.send("PUT", &format!("/fhir/Consent/{id}"), Some(&made.body.to_string()), &[]).await;
        assert_eq!(rewrite.status, StatusCode::NOT_FOUND, "a ledger entry is never rewritten: {}", rewrite.body);
        let mut permit = deny.clone();
        permit["provision"]["type"] = json!("permit");
        permit["provision"]["purpose"][0]["code"] = json!("TREAT");
        let later = app.send("POST", "/fhir/Consent", Some(&permit.to_string()), &[]).await;
        assert_eq!(later.status, StatusCode::CREATED);
        let listed = app.get(&format!("/fhir/Consent?patient=Patient/{ann}")).await;
        assert_eq!(ids(&listed.body), [later.body["id"].as_str().expect("id"), id.as_str()], "newest first");
        let unnamed = app.get("/fhir/Consent").await;
        assert_eq!((unnamed.status, outcome_code(&unnamed)), (StatusCode::BAD_REQUEST, "invalid"));

        // A consent that speaks of contact must say which channel, or it is
        // refused with what it lacks: never kept without being honoured.
        let mut vague = deny.clone();
        vague["provision"].as_object_mut().expect("provision").remove("code");
        let refused = app.send("POST", "/fhir/Consent", Some(&vague.to_string()), &[]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
        assert_eq!(refused.body["issue"][1]["expression"][0], "Consent.provision.code");
        let mut nested = vague.clone();
        nested["provision"] = json!({"type": "permit", "provision": [{"type": "deny", "purpose": deny["provision"]["purpose"]}]});
        let refused = app.send("POST", "/fhir/Consent", Some(&nested.to_string()), &[]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "a nested marketing purpose is contact too");
        let after = app.get(&format!("/fhir/Consent?patient={ann}")).await;
        assert_eq!(ids(&after.body).len(), 2, "nothing more in the ledger");
        let mut elsewhere = deny;
        elsewhere["patient"]["reference"] = json!("Patient/0190d5d6-8bb4-7c5e-a2a6-3f0e3c1d2b4a");
        let stranger = app.send("POST", "/fhir/Consent", Some(&elsewhere.to_string()), &[]).await;
        assert_eq!(stranger.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", stranger.body);
        assert_eq!(stranger.body["issue"][1]["expression"][0], "Consent.patient");
    })
    .await;
}

#[tokio::test]
async fn everything_rapport_holds_about_a_patient_comes_in_one_bundle_for_an_administrator() {
    use crate::support::browser::{Browser, staff};
    on_each_backend_app(|app| async move {
        let (org, location) = app.organization("Riverbend Health").await;
        let base = format!("/api/v1/organizations/{org}");
        let patient = |given: &str, phone: &str| {
            json!({"given_name": given, "family_name": "Lee", "time_zone": "America/Chicago",
                "phones": [{"number": phone, "type": "mobile"}]})
        };
        let ann = created(&app, &format!("{base}/patients"), patient("Ann", "+13125550101")).await;
        let bo = created(&app, &format!("{base}/patients"), patient("Bo", "+13125550102")).await;
        for (who, key) in [(&ann, "a"), (&bo, "b")] {
            let visit = json!({"patient_id": who, "location_id": location, "start": "2026-11-27T16:00:00Z",
                "duration_minutes": 30, "visit_type": "annual exam"});
            created(&app, &format!("{base}/appointments"), visit).await;
            let message =
                json!({"patient_id": who, "class": "transactional", "idempotency_key": key, "body": "Hello."});
            created(&app, &format!("{base}/messages"), message).await;
        }
        crate::inbox::text(&app, &org, "+13125550101", "Thanks!", "SMall", &[]).await;
        let consent = json!({"channel": "email", "purpose": "marketing", "status": "revoked", "source": "paper-form"});
        created(&app, &format!("{base}/patients/{ann}/consents"), consent).await;

        let admin = staff(&app, &org, "admin@riverbend.example", rapport_domain::Role::Administrator).await;
        let admin = Browser::open(&app, &admin).await;
        let path = format!("/fhir/Patient/{ann}/$everything");
        let everything = admin.send(&app, "GET", &path, None).await;
        assert_eq!(everything.status, StatusCode::OK, "{}", everything.body);
        let mut kinds: Vec<&str> = everything.body["entry"]
            .as_array()
            .expect("entries")
            .iter()
            .filter_map(|e| e["resource"]["resourceType"].as_str())
            .collect();
        kinds.sort();
        assert_eq!(
            kinds,
            ["Appointment", "Communication", "Communication", "Consent", "Patient"],
            "{}",
            everything.body
        );
        assert_eq!(everything.body["total"], 5);
        assert!(!everything.body.to_string().contains(&bo), "nothing of another patient");
        let token = app.get(&path).await;
        assert_eq!(
            (token.status, outcome_code(&token)),
            (StatusCode::FORBIDDEN, "forbidden"),
            "an export is an administrator's"
        );
    })
    .await;
}

#[tokio::test]
async fn a_bulk_export_runs_in_the_background_and_serves_ndjson_files() {
    use crate::support::browser::{Browser, staff};
    on_each_backend_app(|app| async move {
        let (org, location) = app.organization("Riverbend Health").await;
        let base = format!("/api/v1/organizations/{org}");
        let ann = created(
            &app,
            &format!("{base}/patients"),
            json!({"given_name": "Ann", "family_name": "Lee",
            "phones": [{"number": "+13125550101", "type": "mobile"}]}),
        )
        .await;
        created(&app, &format!("{base}/patients"), json!({"given_name": "Bo", "family_name": "Lee"})).await;
        let visit = json!({"patient_id": ann, "location_id": location, "start": "2026-11-27T16:00:00Z",
            "duration_minutes": 30, "visit_type": "annual exam"});
        created(&app, &format!("{base}/appointments"), visit).await;
        let message = json!({"patient_id": ann, "class": "transactional", "idempotency_key": "x", "body": "Hello."});
        created(&app, &format!("{base}/messages"), message).await;
        crate::inbox::text(&app, &org, "+13125550101", "Thanks!", "SMexport", &[]).await;
        let admin = staff(&app, &org, "admin@riverbend.example", rapport_domain::Role::Administrator).await;
        let admin = Browser::open(&app, &admin).await;

        let sync = admin.send(&app, "GET", "/fhir/$export", None).await;
        assert_eq!((sync.status, outcome_code(&sync)), (StatusCode::BAD_REQUEST, "invalid"), "asynchronous only");
        let asks = [("prefer", "respond-async")];
        let unknown = admin.send_with(&app, "GET", "/fhir/$export?_type=Observation", None, &asks).await;
        assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
        let token = app.send("GET", "/fhir/$export", None, &asks).await;
        assert_eq!(token.status, StatusCode::FORBIDDEN, "an export is an administrator's");

        let started = admin.send_with(&app, "GET", "/fhir/$export", None, &asks).await;
        assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.body);
        let status = started.headers.get("content-location").and_then(|v| v.to_str().ok()).expect("status URL");
        let status = local(status);
        let mut manifest = Value::Null;
        for _ in 0..200 {
            let polled = admin.send(&app, "GET", &status, None).await;
            if polled.status == StatusCode::OK {
                manifest = polled.body;
                break;
            }
            assert_eq!(polled.status, StatusCode::ACCEPTED, "{}", polled.body);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let counts: Vec<(&str, i64)> = manifest["output"]
            .as_array()
            .expect("the manifest's output")
            .iter()
            .map(|o| (o["type"].as_str().unwrap_or(""), o["count"].as_i64().unwrap_or(-1)))
            .collect();
        assert_eq!(counts, [("Appointment", 1), ("Communication", 2), ("Patient", 2)], "{manifest}");
        assert_eq!(manifest["requiresAccessToken"], true);
        let url = manifest["output"]
            .as_array()
            .expect("output")
            .iter()
            .find(|o| o["type"] == "Patient")
            .expect("Patient")["url"]
            .as_str()
            .expect("url")
            .to_owned();
        let file = admin.send(&app, "GET", &local(&url), None).await;
        assert_eq!(file.content_type.as_deref(), Some("application/fhir+ndjson"));
        let lines: Vec<Value> = String::from_utf8(file.bytes.clone())
            .expect("UTF-8")
            .lines()
            .map(|l| serde_json::from_str(l).expect("one resource a line"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|p| p["resourceType"] == "Patient"));

        let only = admin.send_with(&app, "GET", "/fhir/$export?_type=Appointment", None, &asks).await;
        assert_eq!(only.status, StatusCode::ACCEPTED);
        let second = local(only.headers.get("content-location").and_then(|v| v.to_str().ok()).expect("status URL"));
        let mut types = Vec::new();
        for _ in 0..200 {
            let polled = admin.send(&app, "GET", &second, None).await;
            if polled.status == StatusCode::OK {
                types = polled.body["output"].as_array().expect("output").iter().map(|o| o["type"].clone()).collect();
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(types, [json!("Appointment")], "_type narrows the export");
        assert_eq!(admin.send(&app, "DELETE", &status, None).await.status, StatusCode::ACCEPTED);
        assert_eq!(admin.send(&app, "GET", &status, None).await.status, StatusCode::NOT_FOUND, "removed");
        assert_eq!(admin.send(&app, "GET", &local(&url), None).await.status, StatusCode::NOT_FOUND, "with its files");

        // An export whose process stopped before it ended says so after an hour.
        let org_id: rapport_domain::OrganizationId = org.parse().expect("org");
        app.store.start_fhir_export(org_id, "cut-short", "/fhir/$export").await.expect("start");
        app.clock.set(app.clock.now() + jiff::SignedDuration::from_mins(61));
        let admin = staff(&app, &org, "later@riverbend.example", rapport_domain::Role::Administrator).await;
        let admin = Browser::open(&app, &admin).await;
        let cut = admin.send(&app, "GET", "/fhir/$export-status/cut-short", None).await;
        assert_eq!(cut.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            cut.body["issue"][0]["diagnostics"].as_str().is_some_and(|d| d.contains("interrupted")),
            "{}",
            cut.body
        );
    })
    .await;
}

#[tokio::test]
async fn last_updated_finds_what_changed_since_a_syncs_cursor() {
    on_each_backend_app(|app| async move {
        let (org, location) = app.organization("Riverbend Health").await;
        let base = format!("/api/v1/organizations/{org}");
        let ann = created(&app, &format!("{base}/patients"), json!({"given_name": "Ann", "family_name": "Lee"})).await;
        let visit = json!({"patient_id": ann, "location_id": location, "start": "2026-11-27T16:00:00Z",
            "duration_minutes": 30, "visit_type": "annual exam"});
        let first = created(&app, &format!("{base}/appointments"), visit.clone()).await;
        let cursor = app.get(&format!("/fhir/Patient/{ann}")).await.body["meta"]["lastUpdated"]
            .as_str()
            .expect("instant")
            .to_owned();
        app.clock.set(app.clock.now() + jiff::SignedDuration::from_hours(1));
        let bo = created(&app, &format!("{base}/patients"), json!({"given_name": "Bo", "family_name": "Lee"})).await;
        let second = created(
            &app,
            &format!("{base}/appointments"),
            json!({"patient_id": bo, "location_id": location,
            "start": "2026-11-28T16:00:00Z", "duration_minutes": 30, "visit_type": "annual exam"}),
        )
        .await;
        assert_eq!(ids(&app.get(&format!("/fhir/Patient?_lastUpdated=gt{cursor}")).await.body), [bo.as_str()]);
        let both = ids(&app.get(&format!("/fhir/Patient?_lastUpdated=ge{cursor}")).await.body);
        assert_eq!(both.len(), 2, "ge holds the cursor's own instant");
        let visits = ids(&app.get(&format!("/fhir/Appointment?_lastUpdated=gt{cursor}")).await.body);
        assert_eq!(visits, [second.as_str()], "not {first}");
        let day = ids(&app.get("/fhir/Appointment?_lastUpdated=ge2026-11-22").await.body);
        assert_eq!(day.len(), 2, "a day reads from its start");
        let bad = app.get("/fhir/Patient?_lastUpdated=lt2026-11-22").await;
        assert_eq!((bad.status, outcome_code(&bad)), (StatusCode::BAD_REQUEST, "invalid"));
    })
    .await;
}

#[tokio::test]
async fn the_official_appointments_land_with_their_reminders_or_say_why_not() {
    on_each_backend_app(|app| async move {
        let (org, location) = app.organization("Riverbend Health").await;
        let base = format!("/api/v1/organizations/{org}");
        let ann = created(
            &app,
            &format!("{base}/patients"),
            json!({"given_name": "Ann", "family_name": "Lee",
            "phones": [{"number": "+13125550101", "type": "mobile"}]}),
        )
        .await;
        let doctor =
            created(&app, &format!("{base}/providers"), json!({"given_name": "Li", "family_name": "Ng"})).await;
        // The examples' participants become this server's records.
        let ours = |example: &Value| {
            let mut visit = example.clone();
            for participant in visit["participant"].as_array_mut().expect("participants") {
                let reference = participant["actor"]["reference"].as_str().unwrap_or("").to_owned();
                let mine = match reference.split('/').next() {
                    Some("Patient") => format!("Patient/{ann}"),
                    Some("Practitioner") => format!("Practitioner/{doctor}"),
                    Some("Location") => format!("Location/{location}"),
                    _ => continue,
                };
                participant["actor"]["reference"] = json!(mine);
            }
            visit
        };
        let mut landed = Vec::new();
        for (name, example) in examples("Appointment") {
            let reply = app.send("POST", "/fhir/Appointment", Some(&ours(&example).to_string()), &[]).await;
            if example.get("start").is_none() {
                // A proposal without a time yet is kept as sent, not booked.
                assert_eq!(reply.status, StatusCode::CREATED, "{name}: {}", reply.body);
                let read = app.get(&format!("/fhir/Appointment/{}", reply.body["id"].as_str().expect("id"))).await.body;
                assert_eq!(
                    (read["status"].as_str(), read["meta"]["tag"][0]["code"].as_str()),
                    (Some("proposed"), Some("kept"))
                );
                assert_eq!(read["requestedPeriod"], example["requestedPeriod"], "{name}");
                let mut booked = ours(&example);
                booked["status"] = json!("booked");
                let refused = app.send("POST", "/fhir/Appointment", Some(&booked.to_string()), &[]).await;
                assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: a booking needs its time");
                assert_eq!(refused.body["issue"][1]["expression"][0], "Appointment.start", "{name}: {}", refused.body);
                continue;
            }
            assert_eq!(reply.status, StatusCode::CREATED, "{name}: {}", reply.body);
            let id = reply.body["id"].as_str().expect("id").to_owned();
            let read = app.get(&format!("/fhir/Appointment/{id}")).await.body;
            assert_eq!(
                (read["status"].as_str(), read["start"].as_str(), read["end"].as_str()),
                (example["status"].as_str(), example["start"].as_str(), example["end"].as_str()),
                "{name}"
            );
            let actors: Vec<&str> = read["participant"]
                .as_array()
                .expect("participants")
                .iter()
                .filter_map(|p| p["actor"]["reference"].as_str())
                .collect();
            assert_eq!(
                actors,
                [format!("Patient/{ann}"), format!("Location/{location}"), format!("Practitioner/{doctor}")],
                "{name}"
            );
            landed.push(id);
        }
        assert_eq!(landed.len(), 2, "two of the three have a time");

        // A visit the EHR books through FHIR: found again by its identifier, its reminders planned, moved under its version.
        let start = (app.clock.now() + jiff::SignedDuration::from_hours(72)).strftime("%Y-%m-%dT%H:00:00Z").to_string();
        let end = (app.clock.now() + jiff::SignedDuration::from_hours(73)).strftime("%Y-%m-%dT%H:00:00Z").to_string();
        let booking = json!({"resourceType": "Appointment", "status": "booked", "start": start, "end": end,
            "identifier": [{"system": "urn:ehr:visits", "value": "V-1"}],
            "serviceType": [{"text": "annual exam"}],
            "participant": [{"actor": {"reference": format!("Patient/{ann}")}, "status": "accepted"},
                {"actor": {"reference": format!("Location/{location}")}, "status": "accepted"}]});
        let booked = app.send("POST", "/fhir/Appointment", Some(&booking.to_string()), &[]).await;
        assert_eq!(booked.status, StatusCode::CREATED, "{}", booked.body);
        let id = booked.body["id"].as_str().expect("id").to_owned();
        let again = app
            .send(
                "POST",
                "/fhir/Appointment",
                Some(&booking.to_string()),
                &[("if-none-exist", "identifier=urn:ehr:visits|V-1")],
            )
            .await;
        assert_eq!((again.status, again.body["id"].as_str()), (StatusCode::OK, Some(id.as_str())));
        let sync = crate::support::worker("fhir", 10);
        rapport::engine::reminders::ReminderPlanner::new(app.store.clone()).plan_batch(&sync).await.expect("plan");
        let planned = app.get(&format!("{base}/messages?appointment={id}")).await;
        assert!(!planned.body["items"].as_array().expect("items").is_empty(), "reminders planned: {}", planned.body);

        let mut moved = booked.body.clone();
        moved["start"] =
            json!((app.clock.now() + jiff::SignedDuration::from_hours(96)).strftime("%Y-%m-%dT%H:00:00Z").to_string());
        moved["end"] =
            json!((app.clock.now() + jiff::SignedDuration::from_hours(97)).strftime("%Y-%m-%dT%H:00:00Z").to_string());
        let tag = booked.etag.clone().expect("ETag");
        let path = format!("/fhir/Appointment/{id}");
        let updated = app.send("PUT", &path, Some(&moved.to_string()), &[("if-match", &tag)]).await;
        assert_eq!(
            (updated.status, updated.body["meta"]["versionId"].as_str()),
            (StatusCode::OK, Some("2")),
            "{}",
            updated.body
        );
        assert_eq!(updated.body["identifier"][0]["value"], "V-1", "its source stays");
        let stale = app.send("PUT", &path, Some(&moved.to_string()), &[("if-match", &tag)]).await;
        assert_eq!((stale.status, outcome_code(&stale)), (StatusCode::PRECONDITION_FAILED, "conflict"));
        let mut stranger = booking;
        stranger["identifier"][0]["value"] = json!("V-2");
        stranger["participant"][0]["actor"]["reference"] = json!("Patient/0190d5d6-8bb4-7c5e-a2a6-3f0e3c1d2b4a");
        let refused = app.send("POST", "/fhir/Appointment", Some(&stranger.to_string()), &[]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
        assert_eq!(refused.body["issue"][1]["expression"][0], "Appointment.participant");
    })
    .await;
}

#[tokio::test]
async fn the_official_practitioners_round_trip_and_one_is_found_again_by_its_npi() {
    on_each_backend_app(|app| async move {
        app.organization("Riverbend Health").await;
        let mut landed = 0;
        for (name, example) in examples("Practitioner") {
            let reply = app.send("POST", "/fhir/Practitioner", Some(&example.to_string()), &[]).await;
            assert_eq!(reply.status, StatusCode::CREATED, "{name}: {}", reply.body);
            let read = app.get(&format!("/fhir/Practitioner/{}", reply.body["id"].as_str().expect("id"))).await.body;
            let given = example["name"][0]["given"][0].as_str();
            let want = match example["name"][0]["family"].as_str() {
                Some(family) => (family.to_owned(), given.unwrap_or("").to_owned()),
                // Two name themselves in text only: its first word given, the rest the family name.
                None => {
                    let text = example["name"][0]["text"].as_str().expect("a name's text");
                    let (first, rest) = text.split_once(' ').expect("two words");
                    (rest.to_owned(), first.to_owned())
                }
            };
            let read_given = read["name"][0]["given"][0].as_str().unwrap_or("").to_owned();
            assert_eq!((read["name"][0]["family"].as_str().unwrap_or("").to_owned(), read_given), want, "{name}");
            let title = example["name"][0]["prefix"][0].as_str().map(|t| t.trim_end_matches('.'));
            assert_eq!(read["name"][0]["prefix"][0].as_str(), title, "{name}");
            landed += 1;
        }
        assert_eq!(landed, 14, "all of them");
        let nameless = json!({"resourceType": "Practitioner", "name": [{"use": "official"}]});
        let refused = app.send("POST", "/fhir/Practitioner", Some(&nameless.to_string()), &[]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(refused.body["issue"][1]["expression"][0], "Practitioner.name.family");

        let bare = json!({"resourceType": "Practitioner", "name": [{"family": "Okafor"}]});
        let made = app.send("POST", "/fhir/Practitioner", Some(&bare.to_string()), &[]).await;
        assert_eq!(made.status, StatusCode::CREATED, "neither an id nor an identifier is needed: {}", made.body);
        let npi = json!({"resourceType": "Practitioner", "name": [{"family": "Ng", "given": ["Li"], "prefix": ["Dr"]}],
            "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}]});
        let first = app.send("POST", "/fhir/Practitioner", Some(&npi.to_string()), &[]).await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
        let condition = [("if-none-exist", "identifier=http://hl7.org/fhir/sid/us-npi|1234567893")];
        let again = app.send("POST", "/fhir/Practitioner", Some(&npi.to_string()), &condition).await;
        assert_eq!((again.status, again.body["id"].as_str()), (StatusCode::OK, first.body["id"].as_str()));
        let other = [("if-none-exist", "identifier=http://www.acme.org/practitioners|1234567893")];
        let elsewhere = app.send("POST", "/fhir/Practitioner", Some(&npi.to_string()), &other).await;
        assert_eq!(elsewhere.status, StatusCode::BAD_REQUEST, "found again by the NPI only");
        let twice = app.send("POST", "/fhir/Practitioner", Some(&npi.to_string()), &[]).await;
        assert_eq!((twice.status, outcome_code(&twice)), (StatusCode::CONFLICT, "conflict"), "one NPI, one provider");
        let mut renamed = first.body.clone();
        renamed["name"][0]["family"] = json!("Ng-Park");
        let path = format!("/fhir/Practitioner/{}", first.body["id"].as_str().expect("id"));
        let tag = first.etag.clone().expect("ETag");
        let updated = app.send("PUT", &path, Some(&renamed.to_string()), &[("if-match", &tag)]).await;
        assert_eq!((updated.status, updated.body["name"][0]["family"].as_str()), (StatusCode::OK, Some("Ng-Park")));
        assert_eq!(updated.body["identifier"][0]["value"], "1234567893");
    })
    .await;
}

#[tokio::test]
async fn the_official_locations_land_in_a_zone_and_keep_their_names() {
    on_each_backend_app(|app| async move {
        let (org, _) = app.organization("Riverbend Health").await;
        let own = app.get(&format!("/api/v1/organizations/{org}")).await.body["time_zone"].as_str().expect("zone").to_owned();
        for (name, example) in examples("Location") {
            let reply = app.send("POST", "/fhir/Location", Some(&example.to_string()), &[]).await;
            assert_eq!(reply.status, StatusCode::CREATED, "{name}: {}", reply.body);
            let read = app.get(&format!("/fhir/Location/{}", reply.body["id"].as_str().expect("id"))).await.body;
            assert_eq!(read["name"], example["name"], "{name}");
            // Michigan's zone from its state; the others take the organization's.
            let zone = if example["address"]["state"] == "MI" { "America/New_York" } else { own.as_str() };
            assert_eq!(read["extension"][0]["valueCode"], zone, "{name}");
        }
        let named = json!({"resourceType": "Location", "name": "Harbor Clinic",
            "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/timezone", "valueCode": "Pacific/Honolulu"}]});
        let site = app.send("POST", "/fhir/Location", Some(&named.to_string()), &[]).await;
        assert_eq!(site.body["extension"][0]["valueCode"], "Pacific/Honolulu", "its own zone first");
        let mut renamed = site.body.clone();
        renamed["name"] = json!("Harbor Family Clinic");
        let path = format!("/fhir/Location/{}", site.body["id"].as_str().expect("id"));
        let tag = site.etag.clone().expect("ETag");
        let updated = app.send("PUT", &path, Some(&renamed.to_string()), &[("if-match", &tag)]).await;
        assert_eq!((updated.status, updated.body["name"].as_str()), (StatusCode::OK, Some("Harbor Family Clinic")));
        let mut nowhere = named;
        nowhere["extension"][0]["valueCode"] = json!("Mars/Olympus");
        let refused = app.send("POST", "/fhir/Location", Some(&nowhere.to_string()), &[]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(refused.body["issue"][1]["expression"][0], "Location.extension");
    })
    .await;
}
