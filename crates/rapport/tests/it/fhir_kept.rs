//! FHIR resources Rapport keeps as sent without acting on them (issue 7),
//! in process on both backends: the official Organization, Communication,
//! CommunicationRequest and Consent examples created and read back as
//! sent (this server's id, a version, the `kept` tag), listed with the
//! patient they are about, and nothing sent because of them; organizations
//! searched by name and identifier, found again by a conditional create,
//! updated under their version; the tenant's own record and a nameless
//! organization refused naming why.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::fhir_api::{created, examples, ids};
use crate::support::app::on_each_backend_app;

/// Every `Patient/…` reference in `value` made `Patient/{patient}`.
fn ours(value: &mut Value, patient: &str) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields.iter_mut() {
                if key == "reference" && field.as_str().is_some_and(|r| r.starts_with("Patient/")) {
                    *field = json!(format!("Patient/{patient}"));
                } else {
                    ours(field, patient);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| ours(item, patient)),
        _ => {}
    }
}

/// A resource without what the server assigns (id and meta).
fn as_sent(resource: &Value) -> Value {
    let mut out = resource.clone();
    let fields = out.as_object_mut().expect("a resource");
    fields.remove("id");
    fields.remove("meta");
    out
}

#[tokio::test]
async fn the_official_examples_rapport_does_not_act_on_are_kept_as_sent() {
    on_each_backend_app(|app| async move {
        let (org, _) = app.organization("Riverbend Health").await;
        let ann = created(
            &app,
            &format!("/api/v1/organizations/{org}/patients"),
            json!({"given_name": "Ann",
            "family_name": "Lee", "phones": [{"number": "+13125550101", "type": "mobile"}]}),
        )
        .await;
        for (kind, count) in [("Organization", 13), ("Communication", 3), ("CommunicationRequest", 2), ("Consent", 12)]
        {
            let examples = examples(kind);
            assert_eq!(examples.len(), count, "the official {kind} examples");
            for (name, mut example) in examples {
                ours(&mut example, &ann);
                let reply = app.send("POST", &format!("/fhir/{kind}"), Some(&example.to_string()), &[]).await;
                assert_eq!(reply.status, StatusCode::CREATED, "{name}: {}", reply.body);
                let id = reply.body["id"].as_str().expect("id").to_owned();
                let read = app.get(&format!("/fhir/{kind}/{id}")).await;
                assert_eq!(read.status, StatusCode::OK, "{name}");
                assert_eq!(as_sent(&read.body), as_sent(&example), "{name} reads back as sent");
                assert_eq!(read.body["meta"]["tag"][0]["code"], "kept", "{name}");
                assert_eq!(read.body["meta"]["versionId"], "1", "{name}");
            }
        }

        // Listed with their patient; nothing sent, nothing in the ledger.
        let said = app.get(&format!("/fhir/Communication?patient=Patient/{ann}")).await.body;
        assert_eq!(ids(&said).len(), 3, "{said}");
        let asked = app.get(&format!("/fhir/CommunicationRequest?patient={ann}")).await.body;
        assert_eq!(ids(&asked).len(), 1, "the one about the patient (the other is a payer's, about no patient)");
        let consents = app.get(&format!("/fhir/Consent?patient={ann}")).await.body;
        assert_eq!(ids(&consents).len(), 12);
        let messages = app.get(&format!("/api/v1/organizations/{org}/messages")).await.body;
        assert_eq!(messages["items"].as_array().map(Vec::len), Some(0), "a kept request sends nothing: {messages}");
        let ledger = app.get(&format!("/api/v1/organizations/{org}/patients/{ann}/consents")).await.body;
        assert_eq!(ledger["history"].as_array().map(Vec::len), Some(0), "a kept consent changes no contact consent");
        let paged = app.get(&format!("/fhir/Communication?patient={ann}&_count=2")).await.body;
        let next = paged["link"].as_array().expect("links").iter().find(|l| l["relation"] == "next").expect("next");
        let rest = app.get(&crate::fhir_api::local(next["url"].as_str().expect("url"))).await.body;
        assert_eq!(ids(&paged).len() + ids(&rest).len(), 3, "paged together with messages and texts");

        // A kept one is replaced under its version; what Rapport itself recorded is not rewritten.
        let first = &said["entry"][0]["resource"];
        let mut amended = first.clone();
        amended["status"] = json!("entered-in-error");
        let path = format!("/fhir/Communication/{}", first["id"].as_str().expect("id"));
        let replaced = app.send("PUT", &path, Some(&amended.to_string()), &[("if-match", "W/\"1\"")]).await;
        assert_eq!((replaced.status, replaced.body["meta"]["versionId"].as_str()), (StatusCode::OK, Some("2")));
        assert_eq!(app.get(&path).await.body["status"], "entered-in-error");
        let stale = app.send("PUT", &path, Some(&amended.to_string()), &[("if-match", "W/\"1\"")]).await;
        assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);

        // Organizations: the tenant first, then by a name's start or an identifier.
        let all = app.get("/fhir/Organization?_count=200").await.body;
        assert_eq!(ids(&all).len(), 14);
        assert_eq!(ids(&all)[0], org);
        let burgers = app.get("/fhir/Organization?name=burgers").await.body;
        assert_eq!(ids(&burgers).len(), 3, "{burgers}");
        let by_id = app.get("/fhir/Organization?identifier=urn:oid:2.16.528.1|91654").await.body;
        let found = ids(&by_id);
        assert_eq!(found.len(), 1);
        let f001 = app.get(&format!("/fhir/Organization/{}", found[0])).await;
        assert_eq!(f001.body["name"], "Burgers University Medical Center");
        let condition = [("if-none-exist", "identifier=urn:oid:2.16.528.1|91654")];
        let again = app.send("POST", "/fhir/Organization", Some(&f001.body.to_string()), &condition).await;
        assert_eq!((again.status, again.body["id"].as_str()), (StatusCode::OK, Some(found[0].as_str())));
        let mut renamed = f001.body.clone();
        renamed["name"] = json!("Burgers UMC");
        let path = format!("/fhir/Organization/{}", found[0]);
        let tag = f001.etag.clone().expect("ETag");
        let updated = app.send("PUT", &path, Some(&renamed.to_string()), &[("if-match", &tag)]).await;
        assert_eq!((updated.status, updated.body["meta"]["versionId"].as_str()), (StatusCode::OK, Some("2")));
        assert_eq!(updated.body["name"], "Burgers UMC");
        let stale = app.send("PUT", &path, Some(&renamed.to_string()), &[("if-match", &tag)]).await;
        assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);

        // What cannot be kept is named.
        let own = app.get(&format!("/fhir/Organization/{org}")).await.body;
        let tenant = app.send("PUT", &format!("/fhir/Organization/{org}"), Some(&own.to_string()), &[]).await;
        assert_eq!(tenant.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", tenant.body);
        let nameless = json!({"resourceType": "Organization", "identifier": [{"system": "urn:x", "value": "1"}]});
        let refused = app.send("POST", "/fhir/Organization", Some(&nameless.to_string()), &[]).await;
        assert_eq!(refused.body["issue"][1]["expression"][0], "Organization.name", "{}", refused.body);
        let stranger = json!({"resourceType": "Communication", "status": "completed",
            "subject": {"reference": "Patient/0190d5d6-8bb4-7c5e-a2a6-3f0e3c1d2b4a"}});
        let refused = app.send("POST", "/fhir/Communication", Some(&stranger.to_string()), &[]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
        assert_eq!(refused.body["issue"][1]["expression"][0], "Communication.subject");
    })
    .await;
}
