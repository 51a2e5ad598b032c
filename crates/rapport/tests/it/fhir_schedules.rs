//! FHIR Schedule and Slot (issue 7), in process on both backends: a
//! provider's weekly hours cut into slots computed on demand, busy where a
//! booked visit overlaps and free again once it is cancelled; paging, the
//! window and status filters; conditional create and update under a
//! version; refusals naming the element; the three official Schedule
//! examples created and read back with what Rapport keeps of them.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::fhir_api::{created, examples, ids, local, outcome_code};
use crate::support::app::{TestApp, on_each_backend_app};

/// Monday 2027-03-01 in Chicago (UTC−6): 09:00 to 12:00 local.
const MONDAY: &str = "start=ge2027-03-01T15:00:00Z&start=lt2027-03-01T18:00:00Z";

fn mornings(provider: &str, location: &str) -> Value {
    let days = ["mon", "tue", "wed", "thu", "fri"].map(|d| json!({"url": "daysOfWeek", "valueCode": d}));
    let mut parts: Vec<Value> = days.into();
    parts.push(json!({"url": "availableStartTime", "valueTime": "09:00:00"}));
    parts.push(json!({"url": "availableEndTime", "valueTime": "12:00:00"}));
    json!({
        "resourceType": "Schedule",
        "identifier": [{"system": "urn:ehr:schedules", "value": "ng-mornings"}],
        "actor": [{"reference": format!("Practitioner/{provider}")}, {"reference": format!("Location/{location}")}],
        "serviceType": [{"coding": [{"code": "57", "display": "Immunization"}]}],
        "extension": [
            {"url": "https://rapport.dev/fhir/StructureDefinition/available-time", "extension": parts},
            {"url": "https://rapport.dev/fhir/StructureDefinition/slot-minutes", "valueInteger": 30}
        ]
    })
}

async fn statuses(app: &TestApp, query: &str) -> Vec<(String, String)> {
    let bundle = app.get(&format!("/fhir/Slot?{query}")).await;
    assert_eq!(bundle.status, StatusCode::OK, "{}", bundle.body);
    bundle.body["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            let slot = &e["resource"];
            (slot["start"].as_str().unwrap_or("").to_owned(), slot["status"].as_str().unwrap_or("").to_owned())
        })
        .collect()
}

#[tokio::test]
async fn a_schedule_offers_slots_that_a_booked_visit_takes_and_a_cancellation_frees() {
    on_each_backend_app(|app| async move {
        let (org, location) = app.organization("Riverbend Health").await;
        let base = format!("/api/v1/organizations/{org}");
        let ann = created(&app, &format!("{base}/patients"), json!({"given_name": "Ann", "family_name": "Lee"})).await;
        let doctor =
            created(&app, &format!("{base}/providers"), json!({"given_name": "Li", "family_name": "Ng"})).await;

        let made = app.send("POST", "/fhir/Schedule", Some(&mornings(&doctor, &location).to_string()), &[]).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        let schedule = made.body["id"].as_str().expect("id").to_owned();
        let read = app.get(&format!("/fhir/Schedule/{schedule}")).await.body;
        assert_eq!(read["serviceType"][0]["text"], "Immunization");
        assert_eq!(read["actor"][0]["reference"], format!("Practitioner/{doctor}"));
        assert_eq!(read["extension"][0]["extension"].as_array().expect("parts").len(), 7, "five days and two times");
        assert_eq!(read["extension"][1]["valueInteger"], 30);

        let of_schedule = format!("schedule=Schedule/{schedule}&{MONDAY}");
        let free = statuses(&app, &of_schedule).await;
        let starts: Vec<&str> = free.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(
            starts,
            [
                "2027-03-01T15:00:00Z",
                "2027-03-01T15:30:00Z",
                "2027-03-01T16:00:00Z",
                "2027-03-01T16:30:00Z",
                "2027-03-01T17:00:00Z",
                "2027-03-01T17:30:00Z"
            ]
        );
        assert!(free.iter().all(|(_, status)| status == "free"));

        // Dr Ng's 10:00 visit takes the 10:00 slot, whichever location it is at.
        let visit = json!({"resourceType": "Appointment", "status": "booked",
            "identifier": [{"system": "urn:ehr:visits", "value": "v-1"}],
            "start": "2027-03-01T16:00:00Z", "end": "2027-03-01T16:30:00Z",
            "participant": [
                {"actor": {"reference": format!("Patient/{ann}")}, "status": "accepted"},
                {"actor": {"reference": format!("Practitioner/{doctor}")}, "status": "accepted"},
                {"actor": {"reference": format!("Location/{location}")}, "status": "accepted"}]});
        let booked = app.send("POST", "/fhir/Appointment", Some(&visit.to_string()), &[]).await;
        assert_eq!(booked.status, StatusCode::CREATED, "{}", booked.body);
        // Repeated date bounds narrow together.
        let week = app.get("/fhir/Appointment?date=ge2027-03-01&date=lt2027-03-08").await.body;
        assert_eq!(ids(&week), [booked.body["id"].as_str().expect("id")]);
        let after = app.get("/fhir/Appointment?date=ge2027-03-01&date=ge2027-03-02").await.body;
        assert!(ids(&after).is_empty(), "the later bound wins");
        let busy = statuses(&app, &format!("{of_schedule}&status=busy")).await;
        assert_eq!(busy, [("2027-03-01T16:00:00Z".to_owned(), "busy".to_owned())]);
        assert_eq!(statuses(&app, &format!("{of_schedule}&status=free")).await.len(), 5);
        let ten = "2027-03-01T16:00:00Z".parse::<jiff::Timestamp>().expect("t").as_second();
        let slot_id = format!("{schedule}.{ten}");
        let slot = app.get(&format!("/fhir/Slot/{slot_id}")).await;
        assert_eq!((slot.status, slot.body["status"].as_str()), (StatusCode::OK, Some("busy")), "{}", slot.body);
        assert_eq!(slot.body["schedule"]["reference"], format!("Schedule/{schedule}"));
        // Between two slots is not a slot.
        let between = app.get(&format!("/fhir/Slot/{schedule}.{}", ten + 600)).await;
        assert_eq!((between.status, outcome_code(&between)), (StatusCode::NOT_FOUND, "not-found"));

        let mut cancelled = booked.body.clone();
        cancelled["status"] = json!("cancelled");
        let path = format!("/fhir/Appointment/{}", booked.body["id"].as_str().expect("id"));
        let reply = app.send("PUT", &path, Some(&cancelled.to_string()), &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert!(
            statuses(&app, &of_schedule).await.iter().all(|(_, s)| s == "free"),
            "a cancelled visit frees its slot"
        );

        // Pages of four, by start, without a schedule named (every active one).
        let first = app.get(&format!("/fhir/Slot?{MONDAY}&_count=4")).await.body;
        assert_eq!(ids(&first).len(), 4);
        let next = first["link"].as_array().expect("links").iter().find(|l| l["relation"] == "next").expect("next");
        let second = app.get(&local(next["url"].as_str().expect("url"))).await.body;
        assert_eq!(ids(&second).len(), 2);
        assert!(second["link"].as_array().expect("links").iter().all(|l| l["relation"] != "next"));
        let by_actor = statuses(&app, &format!("schedule.actor=Practitioner/{doctor}&{MONDAY}")).await;
        assert_eq!(by_actor.len(), 6);
        let found = app.get(&format!("/fhir/Schedule?actor=Practitioner/{doctor}")).await.body;
        assert_eq!(ids(&found), std::slice::from_ref(&schedule));

        // Found again by its identifier; hourly after an update under its version.
        let condition = [("if-none-exist", "identifier=urn:ehr:schedules|ng-mornings")];
        let again =
            app.send("POST", "/fhir/Schedule", Some(&mornings(&doctor, &location).to_string()), &condition).await;
        assert_eq!((again.status, again.body["id"].as_str()), (StatusCode::OK, Some(schedule.as_str())));
        let mut hourly = read.clone();
        hourly["extension"][1]["valueInteger"] = json!(60);
        let tag = made.etag.clone().expect("ETag");
        let path = format!("/fhir/Schedule/{schedule}");
        let updated = app.send("PUT", &path, Some(&hourly.to_string()), &[("if-match", &tag)]).await;
        assert_eq!((updated.status, updated.body["meta"]["versionId"].as_str()), (StatusCode::OK, Some("2")));
        assert_eq!(statuses(&app, &of_schedule).await.len(), 3);
        let stale = app.send("PUT", &path, Some(&hourly.to_string()), &[("if-match", &tag)]).await;
        assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
        let old = app.get(&format!("/fhir/Schedule/{schedule}/_history/1")).await;
        assert_eq!(old.status, StatusCode::NOT_FOUND);

        // What is wrong is named.
        let mut sunday = mornings(&doctor, &location);
        sunday["extension"][0]["extension"][0]["valueCode"] = json!("sunday");
        let refused = app.send("POST", "/fhir/Schedule", Some(&sunday.to_string()), &[]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(refused.body["issue"][1]["expression"][0], "Schedule.extension", "{}", refused.body);
        let mut patient = mornings(&doctor, &location);
        patient["actor"] = json!([{"reference": format!("Patient/{ann}")}]);
        let refused = app.send("POST", "/fhir/Schedule", Some(&patient.to_string()), &[]).await;
        assert_eq!(refused.body["issue"][1]["expression"][0], "Schedule.actor", "{}", refused.body);
        let mut stranger = mornings(&doctor, &location);
        stranger["actor"][0]["reference"] = json!(format!("Practitioner/{ann}"));
        let refused = app.send("POST", "/fhir/Schedule", Some(&stranger.to_string()), &[]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "not a provider here: {}", refused.body);
        let long = app.get("/fhir/Slot?start=ge2027-03-01&start=lt2027-05-01").await;
        assert_eq!((long.status, outcome_code(&long)), (StatusCode::BAD_REQUEST, "invalid"));
        let odd = app.get("/fhir/Slot?status=maybe").await;
        assert_eq!(odd.status, StatusCode::BAD_REQUEST);
    })
    .await;
}

#[tokio::test]
async fn the_official_schedules_round_trip_with_this_servers_actors() {
    on_each_backend_app(|app| async move {
        let (org, location) = app.organization("Riverbend Health").await;
        let base = format!("/api/v1/organizations/{org}");
        let doctor =
            created(&app, &format!("{base}/providers"), json!({"given_name": "Beverly", "family_name": "Crusher"}))
                .await;
        let examples = examples("Schedule");
        assert_eq!(examples.len(), 3, "the three official examples");
        for (name, example) in examples {
            let mut ours = example.clone();
            for actor in ours["actor"].as_array_mut().expect("actors") {
                let reference = actor["reference"].as_str().unwrap_or("").to_owned();
                actor["reference"] = match reference.split('/').next() {
                    Some("Practitioner") => json!(format!("Practitioner/{doctor}")),
                    _ => json!(format!("Location/{location}")),
                };
            }
            let reply = app.send("POST", "/fhir/Schedule", Some(&ours.to_string()), &[]).await;
            assert_eq!(reply.status, StatusCode::CREATED, "{name}: {}", reply.body);
            let read = app.get(&format!("/fhir/Schedule/{}", reply.body["id"].as_str().expect("id"))).await.body;
            for key in ["identifier", "active", "planningHorizon", "comment"] {
                let mut want = example[key].clone();
                if key == "identifier" {
                    want = json!([{"system": want[0]["system"], "value": want[0]["value"]}]);
                }
                if key == "planningHorizon" {
                    // FHIR instants as Rapport writes them: seconds, UTC.
                    assert_eq!(read[key]["start"], want["start"], "{name}");
                    continue;
                }
                assert_eq!(read[key], want, "{name}: {key}");
            }
            assert_eq!(read["serviceType"][0]["text"], example["serviceType"][0]["coding"][0]["display"], "{name}");
            let actors: Vec<&str> =
                read["actor"].as_array().expect("actors").iter().filter_map(|a| a["reference"].as_str()).collect();
            let practitioner = example["actor"].as_array().expect("actors").len() == 2;
            assert_eq!(actors.len(), if practitioner { 2 } else { 1 }, "{name}");
            // Without hours of its own, a schedule keeps the location's (weekdays 8 to 5, Chicago):
            // each example's quarter hour on Christmas morning UTC is before opening, so it has no slot.
            let horizon = &example["planningHorizon"];
            let query = format!(
                "/fhir/Slot?schedule={}&start=ge{}&start=lt{}",
                read["id"].as_str().expect("id"),
                horizon["start"].as_str().expect("start"),
                horizon["end"].as_str().expect("end")
            );
            let slots = app.get(&query).await;
            assert_eq!((slots.status, ids(&slots.body).len()), (StatusCode::OK, 0), "{name}: {}", slots.body);
        }
    })
    .await;
}
