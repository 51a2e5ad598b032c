//! ADT A40 (issue 7): two records of one patient merged. The merged
//! record's visit moves to the survivor (a new version), its MRN and its id
//! keep finding the survivor, its phone joins the survivor's, whoever it
//! cared for has the survivor as caregiver, and it leaves the search.

use axum::http::StatusCode;
use rapport::store::{PageRequest, PatientQuery};
use rapport_domain::{ExternalId, OrganizationId};
use serde_json::json;

use crate::ehr::Feed;
use crate::support::app::on_each_backend_app;

fn registration(control: &str, mrn: &str, family: &str, phone: &str) -> String {
    format!(
        "MSH|^~\\&|EPIC|RIVER|RAPPORT|RIVER|20261122090000||ADT^A04^ADT_A01|{control}|P|2.5.1\r\
         PID|1||{mrn}^^^RIVER^MR||{family}^Rosa||19800402|F|||||{phone}^PRN^PH\r"
    )
}

#[tokio::test]
async fn a_merge_moves_the_visits_and_the_old_record_keeps_resolving_to_the_survivor() {
    on_each_backend_app(|app| async move {
        let (org, _) = app.organization("Riverbend Health").await;
        let org_id: OrganizationId = org.parse().expect("org");
        let (mut feed, stop) = Feed::open(&app, org_id).await;
        let both =
            [registration("R1", "M1", "Diaz", "(312)555-0101"), registration("R2", "M2", "Dias", "(312)555-0177")];
        for message in both {
            let (code, err) = feed.send(message.as_bytes()).await;
            assert_eq!(code, "AA", "{err}");
        }
        let find = |mrn: &'static str| {
            let store = app.store.clone();
            async move { store.find_patient_by_external_id(org_id, "RIVER", mrn).await.expect("lookup") }
        };
        let (survivor, duplicate) = (find("M1").await.expect("M1"), find("M2").await.expect("M2"));
        let booking = "MSH|^~\\&|EPIC|RIVER|RAPPORT|RIVER|20261122090000||SIU^S12^SIU_S12|S1|P|2.5.1\r\
                       SCH|P5|F5||||||CHECKUP^Annual checkup|30|m|^^^20261127100000^20261127103000\r\
                       PID|1||M2^^^RIVER^MR||Dias^Rosa||19800402|F\r";
        let (code, err) = feed.send(booking.as_bytes()).await;
        assert_eq!(code, "AA", "{err}");
        let source = ExternalId { system: "hl7:EPIC".into(), value: "F5".into() };
        let visit = app.store.find_appointment_by_source(org_id, &source).await.expect("lookup").expect("booked");
        let before = app.store.get_appointment(org_id, visit).await.expect("visit");
        assert_eq!(before.details.patient_id, duplicate);
        let child = json!({"given_name": "Lu", "family_name": "Diaz",
            "caregivers": [{"patient_id": duplicate.to_string(), "relationship": "mother"}]});
        let child = app.post(&format!("/api/v1/organizations/{org}/patients"), child).await;
        assert_eq!(child.status, StatusCode::CREATED, "{}", child.body);
        let child: rapport_domain::PatientId = child.body["id"].as_str().expect("id").parse().expect("id");

        let merge = "MSH|^~\\&|EPIC|RIVER|RAPPORT|RIVER|20261122090000||ADT^A40^ADT_A39|M9|P|2.5.1\r\
                     PID|1||M1^^^RIVER^MR||Diaz^Rosa||19800402|F\r\
                     MRG|M2^^^RIVER^MR\r";
        let (code, err) = feed.send(merge.as_bytes()).await;
        assert_eq!(code, "AA", "{err}");
        let after = app.store.get_appointment(org_id, visit).await.expect("visit");
        assert_eq!(after.details.patient_id, survivor, "the visit moved");
        assert_eq!(after.version, before.version + 1, "as a new version");
        assert_eq!(find("M2").await, Some(survivor), "the old MRN finds the survivor");
        let record = app.store.get_patient(org_id, survivor).await.expect("survivor").details;
        let phones: Vec<&str> = record.phones.iter().map(|p| p.number.as_str()).collect();
        assert_eq!(phones, ["+13125550101", "+13125550177"], "the merged record's phone follows, after the survivor's");
        let carers = app.store.get_patient(org_id, child).await.expect("child").details.caregivers;
        assert_eq!(
            carers.iter().map(|c| c.patient_id).collect::<Vec<_>>(),
            [survivor],
            "the caregiver is the survivor"
        );
        assert_eq!(app.store.get_patient(org_id, duplicate).await.expect("resolves").id, survivor);
        let reply = app.get(&format!("/api/v1/organizations/{org}/patients/{duplicate}")).await;
        assert_eq!((reply.status, reply.body["id"].as_str()), (StatusCode::OK, Some(survivor.to_string().as_str())));
        let by_name = PatientQuery { name: Some("rosa".into()), ..PatientQuery::default() };
        let found = app.store.search_patients(org_id, &by_name, &PageRequest::first(10)).await.expect("search");
        assert_eq!(found.items.iter().map(|p| p.id).collect::<Vec<_>>(), vec![survivor], "one Rosa left");

        // The feed still using the old MRN reaches the survivor; a second merge finds nothing to merge.
        let change = booking.replace("S12^SIU_S12|S1", "S14^SIU_S12|S2").replace("||30|m", "||45|m");
        let (code, err) = feed.send(change.as_bytes()).await;
        assert_eq!(code, "AA", "{err}");
        let changed = app.store.get_appointment(org_id, visit).await.expect("visit");
        assert_eq!(changed.details.patient_id, survivor);
        let (code, err) = feed.send(merge.replace("|M9|", "|M10|").as_bytes()).await;
        assert_eq!(code, "AA", "{err}");
        let _ = stop.send(true);
    })
    .await;
}
