//! FHIR import (issue 7) on both backends, from the Synthea fixtures: the
//! 1,000-patient bulk sample lands with no errors and its counts match, and
//! a second import updates and creates nothing; the 10-patient sample's
//! encounters become past visits at their sites (a video visit at the
//! service provider's); transaction Bundles resolve `urn:uuid:` references;
//! bad resources are named with their place and the rest land; new sites
//! and providers land in batches, a repeat within one import is an update
//! and a batch refused for one record names only that one.

use std::path::{Path, PathBuf};

use rapport::import::{FhirReport, TypeCount, import_fhir};
use rapport::store::{AppointmentQuery, PageRequest, PatientQuery, Store};
use rapport_domain::{AppointmentStatus, OrganizationId};

use crate::support::{on_each_backend, seed_organization};

fn fixtures(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/synthea").join(name)
}

async fn import(store: &Store, org: OrganizationId, path: &Path) -> FhirReport {
    import_fhir(store, org, path, &mut |_| {}).await.expect("import")
}

fn count(report: &FhirReport, kind: &str) -> TypeCount {
    report.counts.get(kind).copied().unwrap_or_default()
}

async fn live_patients(store: &Store, org: OrganizationId) -> usize {
    let mut page = PageRequest::first(200);
    let mut total = 0;
    loop {
        let result = store.search_patients(org, &PatientQuery::default(), &page).await.expect("patients");
        total += result.items.len();
        match result.next_cursor {
            Some(cursor) => page.after = Some(cursor),
            None => return total,
        }
    }
}

#[tokio::test]
async fn the_thousand_patient_bulk_sample_imports_whole_and_again_changes_nothing_new() {
    on_each_backend(|store| async move {
        let org = seed_organization(&store, "Sunflower Health").await.id;
        let path = fixtures("bulk-1000");
        let first = import(&store, org, &path).await;
        assert_eq!(first.failed, Vec::new());
        let created = |r: &FhirReport, kind| (count(r, kind).created, count(r, kind).updated);
        assert_eq!(created(&first, "Patient"), (1144, 0));
        assert_eq!(created(&first, "Practitioner"), (835, 0));
        assert_eq!(created(&first, "Location"), (835, 0));
        assert_eq!(count(&first, "Location").skipped, 1, "the patient's home is a kind of place");
        assert_eq!(live_patients(&store, org).await, 1144);
        let providers = store.list_providers(org, &PageRequest::first(200)).await.expect("providers");
        assert_eq!(providers.items.len(), 200, "a full page of the 835");
        let someone = store.search_patients(org, &PatientQuery::default(), &PageRequest::first(1)).await.expect("one");
        let someone = &someone.items[0];
        assert!(someone.details.external_ids.iter().all(|i| !i.system.contains("ssn")), "no SSN kept");
        assert_eq!(someone.details.time_zone.as_ref().map(|z| z.as_str()), Some("America/Chicago"), "Kansas");

        let again = import(&store, org, &path).await;
        assert_eq!(again.failed, Vec::new());
        assert_eq!(created(&again, "Patient"), (0, 1144));
        assert_eq!(created(&again, "Practitioner"), (0, 835));
        assert_eq!(created(&again, "Location"), (0, 835));
        assert_eq!(live_patients(&store, org).await, 1144, "nothing doubled");
    })
    .await;
}

#[tokio::test]
async fn encounters_become_past_visits_at_their_sites_and_the_dead_get_no_contact_points() {
    on_each_backend(|store| async move {
        let org = seed_organization(&store, "Sunflower Health").await.id;
        let report = import(&store, org, &fixtures("bulk-10")).await;
        assert_eq!(report.failed, Vec::new(), "the export's log.ndjson is left out, a video visit finds its site");
        assert_eq!((count(&report, "Encounter").created, count(&report, "Patient").created), (1215, 13));
        assert_eq!(count(&report, "Organization").skipped, 43, "their sites came as Locations");
        let visits =
            store.list_appointments(org, &AppointmentQuery::default(), &PageRequest::first(200)).await.expect("visits");
        assert!(visits.items.iter().all(|v| v.details.start < store.clock().now()), "all in the past");
        assert!(visits.items.iter().any(|v| v.details.status == AppointmentStatus::Fulfilled));
        assert!(visits.items.iter().any(|v| v.details.provider_id.is_some()), "practitioners resolved by NPI");
        let all = store.search_patients(org, &PatientQuery::default(), &PageRequest::first(50)).await.expect("all");
        let deceased: Vec<_> = all.items.iter().filter(|p| p.details.tags.iter().any(|t| t == "deceased")).collect();
        assert!(!deceased.is_empty(), "the sample has deceased patients");
        assert!(deceased.iter().all(|p| p.details.phones.is_empty() && p.details.emails.is_empty()));
    })
    .await;
}

#[tokio::test]
async fn transaction_bundles_resolve_their_urn_uuid_references() {
    on_each_backend(|store| async move {
        let org = seed_organization(&store, "Sunflower Health").await.id;
        let report = import(&store, org, &fixtures("bundles")).await;
        assert_eq!(report.failed, Vec::new());
        assert_eq!(count(&report, "Patient").created, 2);
        assert_eq!(count(&report, "Encounter").created, 9, "6 and 3 encounters");
        assert!(count(&report, "Organization").created >= 1, "a provider organization is a site");
        assert_eq!(count(&report, "Observation").skipped, 81);
    })
    .await;
}

#[tokio::test]
async fn a_bad_resource_is_named_where_it_is_and_the_rest_land() {
    on_each_backend(|store| async move {
        let org = seed_organization(&store, "Sunflower Health").await.id;
        let dir = tempfile::tempdir().expect("dir");
        let lines = [
            r#"{"resourceType":"Patient","id":"a","identifier":[{"system":"urn:mrn","value":"A1"}],"name":[{"family":"Lee","given":["Ann"]}]}"#,
            r#"{"resourceType":"Patient","name":[{"given":["Bo"]}]}"#,
            r#"not json"#,
            r#"{"resourceType":"Patient","id":"c","identifier":[{"system":"urn:mrn","value":"C1"}],"name":[{"family":"Park"}],"birthDate":"19-1-1"}"#,
        ];
        std::fs::write(dir.path().join("Patient.ndjson"), lines.join("\n")).expect("write");
        let visit = r#"{"resourceType":"Encounter","id":"e","status":"finished","subject":{"reference":"Patient/zzz"},"period":{"start":"2020-01-01T10:00:00Z"}}"#;
        std::fs::write(dir.path().join("Encounter.ndjson"), visit).expect("write");
        let report = import(&store, org, dir.path()).await;
        let shown: Vec<String> = report.failed.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "Patient.ndjson:3: the line is not JSON",
                "Patient.ndjson:2: Patient/: Patient has neither an identifier nor an id",
                "Patient.ndjson:4: Patient/c: Patient.birthDate is not a date",
                "Encounter.ndjson:1: Encounter/e: the Patient Encounter names was not taken in this import",
            ]
        );
        assert_eq!(count(&report, "Patient").created, 1);
        assert_eq!(live_patients(&store, org).await, 1);
    })
    .await;
}

#[tokio::test]
async fn new_sites_and_providers_land_together_and_a_repeat_or_a_refusal_is_counted_as_such() {
    on_each_backend(|store| async move {
        let org = seed_organization(&store, "Sunflower Health").await.id;
        // A provider staff entered, with the NPI one of the import's will bring.
        let now = store.clock().now();
        let staff_made = rapport_domain::Provider {
            id: rapport_domain::ProviderId::generate(),
            organization_id: org,
            given_name: "Ada".into(),
            family_name: "Stone".into(),
            title: None,
            npi: Some(rapport_domain::Npi::parse("1234567893").expect("npi")),
            location_ids: Vec::new(),
            version: 1,
            created_at: now,
            updated_at: now,
        };
        store.create_provider(&staff_made).await.expect("provider");
        let dir = tempfile::tempdir().expect("dir");
        let npi = r#""identifier":[{"system":"http://hl7.org/fhir/sid/us-npi","value":"1234567893"}]"#;
        let practitioners = [
            r#"{"resourceType":"Practitioner","id":"p1","name":[{"family":"Ng","given":["Li"]}]}"#.to_owned(),
            // The staff member's NPI under a key the code table does not know: the batch is
            // refused, then each is written alone, so only this one is named.
            format!(r#"{{"resourceType":"Practitioner","id":"p2",{npi},"name":[{{"family":"Okafor"}}]}}"#),
            r#"{"resourceType":"Practitioner","id":"p1","name":[{"family":"Ng-Park","given":["Li"]}]}"#.to_owned(),
            r#"{"resourceType":"Practitioner","id":"p3","name":[{"family":"Diaz"}]}"#.to_owned(),
            r#"{"resourceType":"Practitioner","id":"p4"}"#.to_owned(),
        ];
        std::fs::write(dir.path().join("Practitioner.ndjson"), practitioners.join("\n")).expect("write");
        let site = r#"{"resourceType":"Location","id":"l1","name":"Lakeshore","address":{"state":"IL"}}"#;
        let moved = r#"{"resourceType":"Location","id":"l1","name":"Lakeshore North","address":{"state":"IL"}}"#;
        std::fs::write(dir.path().join("Location.ndjson"), [site, moved].join("\n")).expect("write");
        let report = import(&store, org, dir.path()).await;
        let practitioner = count(&report, "Practitioner");
        assert_eq!((practitioner.created, practitioner.updated, practitioner.failed), (2, 1, 2), "{:?}", report.failed);
        let refused: Vec<String> = report.failed.iter().map(|f| format!("{}/{}", f.resource_type, f.id)).collect();
        assert_eq!(refused, ["Practitioner/p2", "Practitioner/p4"]);
        let location = count(&report, "Location");
        assert_eq!((location.created, location.updated), (1, 1), "a repeat in one import is one site");
        let providers = store.list_providers(org, &PageRequest::first(10)).await.expect("providers").items;
        let mut families: Vec<&str> = providers.iter().map(|p| p.family_name.as_str()).collect();
        families.sort();
        assert_eq!(families, ["Diaz", "Ng-Park", "Stone"], "the later p1 wins, as if taken one by one");
        let sites = store.list_locations(org, &PageRequest::first(10)).await.expect("sites").items;
        assert_eq!(sites.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(), ["Lakeshore North"]);
        let again = import(&store, org, dir.path()).await;
        assert_eq!(count(&again, "Practitioner").created, 0, "found again through the code table");
        assert_eq!(count(&again, "Location").created, 0);
    })
    .await;
}
