//! CSV import: aliases, per-row reports, strict mode, upserts, local times.

use rapport::import::{ImportError, ImportOptions, import_appointments, import_patients};
use rapport::store::{AppointmentQuery, PageRequest, PatientQuery, Store};
use rapport_domain::OrganizationId;

use crate::support::{on_each_backend, seed_location, seed_organization};

async fn patients(
    store: &Store,
    org: OrganizationId,
    csv: &str,
    strict: bool,
) -> Result<rapport::import::ImportReport, ImportError> {
    let options = ImportOptions { strict, ..ImportOptions::default() };
    import_patients(store, org, csv.as_bytes(), &options, &mut |_| {}).await
}

async fn count(store: &Store, org: OrganizationId) -> usize {
    store.search_patients(org, &PatientQuery::default(), &PageRequest::first(200)).await.expect("list").items.len()
}

fn lines(report_errors: &[rapport::import::RowError]) -> Vec<(u64, Option<String>)> {
    report_errors.iter().map(|e| (e.line, e.column.clone())).collect()
}

#[tokio::test]
async fn good_rows_land_and_each_bad_row_is_reported_with_line_and_column() {
    on_each_backend(|store| async move {
        let org = seed_organization(&store, "Practice").await;
        let csv = "\u{feff}MRN,First Name,Last Name,DOB,Gender,Mobile,Email,Lang,TZ\n\
                   M1,Ana,Díaz,1980-02-29,F,(312) 555-0101,ana@example.org,es,America/Chicago\n\
                   M2,Bo,Kim,1990-13-01,M,,,,\n\
                   M3,Cy,Ng,,X,,,,\n\
                   M4,Di,Lo,,,555,,,\n\
                   M5,,Po,,,,,,\n\
                   M6,Ed,Yu,,,,,,America/Gotham\n\
                   M7,Flo,Ray,,,,flo@example.org,,\n\
                   M8,Gus,Tr";
        let report = patients(&store, org.id, csv, false).await.expect("import");
        assert_eq!((report.rows(), report.created, report.updated), (8, 2, 0));
        let expected = vec![
            (3, Some("birth_date".to_owned())),
            (4, Some("sex".to_owned())),
            (5, Some("phone".to_owned())),
            (6, Some("given_name".to_owned())),
            (7, Some("time_zone".to_owned())),
            (9, None),
        ];
        assert_eq!(lines(&report.failed), expected);
        assert!(report.failed[5].reason.contains("has 3 fields but the header has 9"), "{:?}", report.failed[5]);
        let reasons = report.failed.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
        assert!(!reasons.contains("1990-13-01") && !reasons.contains("Gotham"), "values leak: {reasons}");
        let ana = store.find_patient_by_external_id(org.id, "mrn", "M1").await.expect("lookup").expect("M1 landed");
        let ana = store.get_patient(org.id, ana).await.expect("read");
        assert_eq!(ana.details.phones[0].number.as_str(), "+13125550101");
        assert_eq!(ana.details.language.as_ref().map(|l| l.as_str()), Some("es"));

        let again = "mrn,given_name,family_name\nM1,Anita,Díaz\nM9,Hal,Oz\n";
        let report = patients(&store, org.id, again, false).await.expect("upsert");
        assert_eq!((report.created, report.updated), (1, 1));
        assert_eq!(count(&store, org.id).await, 3);
    })
    .await;
}

#[tokio::test]
async fn a_bad_header_or_strict_failure_writes_nothing() {
    on_each_backend(|store| async move {
        let org = seed_organization(&store, "Practice").await;
        let unknown = patients(&store, org.id, "mrn,given_name,family_name,ssn\nM1,A,B,1\n", false).await;
        assert!(
            matches!(&unknown, Err(ImportError::Header(m)) if m.contains("`ssn`") && m.contains("column 4")),
            "{unknown:?}"
        );
        let missing = patients(&store, org.id, "mrn,given_name\nM1,A\n", false).await;
        assert!(matches!(&missing, Err(ImportError::Header(m)) if m.contains("family_name")), "{missing:?}");
        let twice = patients(&store, org.id, "mrn,first_name,given_name,family_name\nM1,A,A,B\n", false).await;
        assert!(matches!(&twice, Err(ImportError::Header(m)) if m.contains("more than once")), "{twice:?}");
        let strict =
            patients(&store, org.id, "mrn,given_name,family_name,dob\nM1,A,B,1980-01-01\nM2,C,D,never\n", true).await;
        assert!(
            matches!(&strict, Err(ImportError::Strict(errors)) if errors.len() == 1 && errors[0].line == 3),
            "{strict:?}"
        );
        assert_eq!(count(&store, org.id).await, 0);
    })
    .await;
}

#[tokio::test]
async fn invalid_utf8_is_reported_for_its_row_only() {
    on_each_backend(|store| async move {
        let org = seed_organization(&store, "Practice").await;
        let mut bytes = b"mrn,given_name,family_name\nM1,Ann,Lee\nM2,".to_vec();
        bytes.extend([0xff, 0xfe]);
        bytes.extend(b",Kim\nM3,Cy,Ng\n");
        let options = ImportOptions::default();
        let report = import_patients(&store, org.id, bytes.as_slice(), &options, &mut |_| {}).await.expect("import");
        assert_eq!(report.created, 2);
        assert_eq!(lines(&report.failed), vec![(3, Some("given_name".to_owned()))]);
    })
    .await;
}

#[tokio::test]
async fn appointments_import_by_source_id_with_local_times() {
    on_each_backend(|store| async move {
        let org = seed_organization(&store, "Practice").await;
        let chicago = seed_location(&store, org.id, "America/Chicago").await;
        patients(&store, org.id, "mrn,given_name,family_name\nM1,Ann,Lee\n", false).await.expect("patients");
        let csv = format!(
            "visit_id,mrn,location,start,duration,type,status\n\
             V1,M1,Main Street Clinic,2026-12-01 09:30,30,follow-up,\n\
             V2,M1,{},2026-03-08 02:30,20,lab-work,booked\n\
             V3,M9,Main Street Clinic,2026-12-02 10:00,30,follow-up,\n\
             V4,M1,Nowhere,2026-12-02 10:00,30,follow-up,\n\
             V5,M1,Main Street Clinic,2026-12-02T10:00:00Z,0,follow-up,\n",
            chicago.id
        );
        let options = ImportOptions::default();
        let report = import_appointments(&store, org.id, csv.as_bytes(), &options, &mut |_| {}).await.expect("import");
        assert_eq!(report.created, 2);
        let columns: Vec<_> = report.failed.iter().map(|e| (e.line, e.column.clone().unwrap_or_default())).collect();
        assert_eq!(columns, vec![(4, "mrn".into()), (5, "location".into()), (6, "duration_minutes".into())]);
        let listed =
            store.list_appointments(org.id, &AppointmentQuery::default(), &PageRequest::first(10)).await.expect("list");
        let starts: Vec<String> = listed.items.iter().map(|a| a.details.start.to_string()).collect();
        // 09:30 CST is 15:30Z; 02:30 on the spring-forward night does not exist and moves to 03:30 CDT.
        assert_eq!(starts, vec!["2026-12-01T15:30:00Z".to_owned(), "2026-03-08T08:30:00Z".to_owned()]);
        let again = import_appointments(&store, org.id, csv.as_bytes(), &options, &mut |_| {}).await.expect("again");
        assert_eq!((again.created, again.updated), (0, 2));
        let versions: Vec<i64> = store
            .list_appointments(org.id, &AppointmentQuery::default(), &PageRequest::first(10))
            .await
            .expect("list")
            .items
            .iter()
            .map(|a| a.version)
            .collect();
        assert_eq!(versions, vec![1, 1], "an unchanged row is not a change");
    })
    .await;
}
