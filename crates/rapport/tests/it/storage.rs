//! The storage contract: the same behaviour on SQLite and PostgreSQL.

use jiff::ToSpan;
use rapport::store::{
    AppointmentQuery, AppointmentUpsert, PageRequest, PatientQuery, PatientUpsert, Store, StoreError, UpsertOutcome,
};
use rapport_domain::{
    AppointmentDetails, AppointmentStatus, BirthDate, Caregiver, Channel, Consent, ConsentId, ConsentStatus, Email,
    ExternalId, Icd10Code, PatientEmail, PatientId, PatientPhone, PhoneE164, PhoneKind, Purpose, QuietHours,
};

use crate::support::{on_each_backend, patient_details, seed_location, seed_organization, test_now};

fn phone(s: &str) -> PhoneE164 {
    PhoneE164::parse(s).expect("phone")
}

fn mrn(value: &str) -> ExternalId {
    ExternalId::parse("urn:example:mrn", value).expect("mrn")
}

async fn count_patients(store: &Store, org: rapport_domain::OrganizationId) -> usize {
    let page = store.search_patients(org, &PatientQuery::default(), &PageRequest::first(200)).await.expect("list");
    page.items.len()
}

#[tokio::test]
async fn a_patient_round_trips_with_everything_attached() {
    on_each_backend(|store| async move {
        let org = seed_organization(&store, "Lakeside Family Practice").await;
        let parent = store.create_patient(org.id, &patient_details("Rosa", "Núñez")).await.expect("parent");
        let mut details = patient_details("Mateo", "Núñez");
        details.birth_date = Some(BirthDate::parse("2015-06-01", jiff::civil::date(2026, 11, 22)).expect("date"));
        details.phones = vec![
            PatientPhone { number: phone("+13125550101"), kind: PhoneKind::Mobile },
            PatientPhone { number: phone("+13125550102"), kind: PhoneKind::Landline },
        ];
        details.emails = vec![PatientEmail { address: Email::parse("mateo@example.org").expect("email") }];
        details.channel_order = vec![Channel::Sms, Channel::Email];
        details.quiet_hours = Some(QuietHours::parse("20:00", "09:00").expect("quiet"));
        details.conditions = vec![Icd10Code::parse("J45.909").expect("icd")];
        details.tags = vec!["asthma-program".into()];
        details.attributes.insert("school".into(), "Lincoln".into());
        details.external_ids = vec![mrn("A-100")];
        details.caregivers = vec![Caregiver { patient_id: parent.id, relationship: "parent".into() }];
        let created = store.create_patient(org.id, &details).await.expect("create");
        assert_eq!(created.version, 1);
        assert_eq!(created.created_at, test_now());
        assert_eq!(created.details, details);
        let read = store.get_patient(org.id, created.id).await.expect("read");
        assert_eq!(read, created);
    })
    .await;
}

#[tokio::test]
async fn another_tenants_patient_is_not_found() {
    on_each_backend(|store| async move {
        let ours = seed_organization(&store, "Ours").await;
        let theirs = seed_organization(&store, "Theirs").await;
        let patient = store.create_patient(theirs.id, &patient_details("Ann", "Lee")).await.expect("create");
        assert!(matches!(store.get_patient(ours.id, patient.id).await, Err(StoreError::NotFound)));
        let update = store.update_patient(ours.id, patient.id, 1, &patient_details("X", "Y")).await;
        assert!(matches!(update, Err(StoreError::NotFound)));
        assert_eq!(count_patients(&store, ours.id).await, 0);
        let unchanged = store.get_patient(theirs.id, patient.id).await.expect("still there");
        assert_eq!(unchanged.details.given_name, "Ann");
    })
    .await;
}

#[tokio::test]
async fn a_stale_version_loses_and_writes_nothing() {
    on_each_backend(|store| async move {
        let org = seed_organization(&store, "Practice").await;
        let patient = store.create_patient(org.id, &patient_details("Ann", "Lee")).await.expect("create");
        let mut changed = patient.details.clone();
        changed.family_name = "Lee-Park".into();
        let updated = store.update_patient(org.id, patient.id, 1, &changed).await.expect("update");
        assert_eq!(updated.version, 2);
        let mut stale = patient.details.clone();
        stale.given_name = "Anna".into();
        let lost = store.update_patient(org.id, patient.id, 1, &stale).await;
        assert!(matches!(lost, Err(StoreError::StaleVersion { expected: 1, actual: 2 })), "{lost:?}");
        let read = store.get_patient(org.id, patient.id).await.expect("read");
        assert_eq!((read.details.given_name.as_str(), read.version), ("Ann", 2));
    })
    .await;
}

#[tokio::test]
async fn a_duplicate_external_id_is_a_conflict_and_leaves_no_row() {
    on_each_backend(|store| async move {
        let org = seed_organization(&store, "Practice").await;
        let mut details = patient_details("Ann", "Lee");
        details.external_ids = vec![mrn("A-1")];
        details.phones = vec![PatientPhone { number: phone("+13125550199"), kind: PhoneKind::Mobile }];
        store.create_patient(org.id, &details).await.expect("first");
        let second = store.create_patient(org.id, &details).await;
        assert!(matches!(second, Err(StoreError::Conflict { .. })), "{second:?}");
        assert_eq!(count_patients(&store, org.id).await, 1);
        let by_phone = PatientQuery { phone: Some(phone("+13125550199")), ..Default::default() };
        let found = store.search_patients(org.id, &by_phone, &PageRequest::first(10)).await.expect("search");
        assert_eq!(found.items.len(), 1, "the failed insert left a contact row behind");
    })
    .await;
}

#[tokio::test]
async fn search_by_each_criterion_and_page_through() {
    on_each_backend(|store| async move {
        let org = seed_organization(&store, "Practice").await;
        let today = jiff::civil::date(2026, 11, 22);
        let mut ids = Vec::new();
        for (i, (given, family)) in
            [("José", "Núñez"), ("Josephine", "Smith"), ("Ann", "Smithers"), ("Bob", "Jones"), ("Ann", "Jonas")]
                .into_iter()
                .enumerate()
        {
            let mut d = patient_details(given, family);
            d.phones = vec![PatientPhone { number: phone(&format!("+1312555010{i}")), kind: PhoneKind::Mobile }];
            d.emails = vec![PatientEmail { address: Email::parse(&format!("p{i}@example.org")).expect("email") }];
            d.birth_date = Some(BirthDate::parse(&format!("19{}0-01-0{}", 5 + i, 1 + i), today).expect("dob"));
            d.external_ids = vec![mrn(&format!("M{i}"))];
            ids.push(store.create_patient(org.id, &d).await.expect("create").id);
        }
        let find = |q: PatientQuery| {
            let store = store.clone();
            async move {
                let page = store.search_patients(org.id, &q, &PageRequest::first(50)).await.expect("search");
                page.items.iter().map(|p| p.id).collect::<Vec<PatientId>>()
            }
        };
        let by_name = |n: &str| PatientQuery { name: Some(n.into()), ..Default::default() };
        assert_eq!(find(by_name("jose")).await, vec![ids[0], ids[1]], "accents fold, given names match");
        assert_eq!(find(by_name("SMITH")).await, vec![ids[1], ids[2]]);
        assert_eq!(find(by_name("ann jon")).await, vec![ids[4]], "every word must match");
        assert_eq!(find(by_name("zz")).await, Vec::<PatientId>::new());
        let by_phone = PatientQuery { phone: Some(phone("+13125550103")), ..Default::default() };
        assert_eq!(find(by_phone).await, vec![ids[3]]);
        let by_email =
            PatientQuery { email: Some(Email::parse("p2@example.org").expect("email")), ..Default::default() };
        assert_eq!(find(by_email).await, vec![ids[2]]);
        let dob = BirthDate::parse("1970-01-03", today).expect("dob");
        assert_eq!(find(PatientQuery { birth_date: Some(dob), ..Default::default() }).await, vec![ids[2]]);
        let by_mrn = PatientQuery { identifier: Some((None, "M4".into())), ..Default::default() };
        assert_eq!(find(by_mrn).await, vec![ids[4]]);
        let wrong_system = PatientQuery { identifier: Some((Some("other".into()), "M4".into())), ..Default::default() };
        assert_eq!(find(wrong_system).await, Vec::<PatientId>::new());

        let mut seen = Vec::new();
        let mut page = PageRequest::first(2);
        loop {
            let result = store.search_patients(org.id, &PatientQuery::default(), &page).await.expect("page");
            seen.extend(result.items.iter().map(|p| p.id));
            match result.next_cursor {
                Some(cursor) => page.after = Some(cursor),
                None => break,
            }
        }
        assert_eq!(seen, ids, "pages cover every patient once, in creation order");
    })
    .await;
}

#[tokio::test]
async fn a_name_search_lists_surnames_then_given_names_in_name_order_across_pages() {
    on_each_backend(|store| async move {
        let org = seed_organization(&store, "Practice").await;
        // Created out of name order, so id order would differ from name order.
        let people = [
            ("Zoe", "Parkes"),
            ("Parker", "Adams"),
            ("Ann", "Parker"),
            ("Parveen", "Singh"),
            ("Bob", "Parker"),
            ("Park", "Parkinson"),
            ("Ann", "Lee"),
            ("Pär", "Olsson"),
        ];
        let mut ids = Vec::new();
        for (given, family) in people {
            ids.push(store.create_patient(org.id, &patient_details(given, family)).await.expect("create").id);
        }
        let gone = store.create_patient(org.id, &patient_details("Parky", "Gone")).await.expect("create");
        store.delete_patient(org.id, gone.id, None).await.expect("delete");
        let query = PatientQuery { name: Some("par".into()), ..Default::default() };
        // Surnames parker (by id: Ann, then Bob), parkes, parkinson; then the
        // given names of the rest: par (Pär), parker, parveen.
        let expected = vec![ids[2], ids[4], ids[0], ids[5], ids[7], ids[1], ids[3]];
        for limit in [1, 2, 3, 50] {
            let mut seen = Vec::new();
            let mut page = PageRequest::first(limit);
            loop {
                let result = store.search_patients(org.id, &query, &page).await.expect("page");
                assert!(result.items.len() <= limit);
                seen.extend(result.items.iter().map(|p| p.id));
                match result.next_cursor {
                    Some(cursor) => page.after = Some(cursor),
                    None => break,
                }
            }
            assert_eq!(seen, expected, "pages of {limit}");
        }
        let stranger = PageRequest { after: Some(PatientId::generate().to_string()), limit: 5 };
        let refused = store.search_patients(org.id, &query, &stranger).await;
        assert!(matches!(&refused, Err(StoreError::Invalid { field, .. }) if field == "after"), "{refused:?}");
    })
    .await;
}

#[tokio::test]
async fn a_deleted_patient_leaves_lookups() {
    on_each_backend(|store| async move {
        let org = seed_organization(&store, "Practice").await;
        let p = store.create_patient(org.id, &patient_details("Ann", "Lee")).await.expect("create");
        store.delete_patient(org.id, p.id, Some(1)).await.expect("delete");
        assert!(matches!(store.get_patient(org.id, p.id).await, Err(StoreError::NotFound)));
        assert_eq!(count_patients(&store, org.id).await, 0);
        assert!(matches!(store.delete_patient(org.id, p.id, None).await, Err(StoreError::NotFound)));
    })
    .await;
}

#[tokio::test]
async fn bulk_upsert_creates_updates_and_keeps_what_it_does_not_carry() {
    on_each_backend(|store| async move {
        let org = seed_organization(&store, "Practice").await;
        let record = |value: &str, given: &str, number: &str| {
            let mut details = patient_details(given, "Diaz");
            details.phones = vec![PatientPhone { number: phone(number), kind: PhoneKind::Mobile }];
            PatientUpsert { key: mrn(value), details }
        };
        let first = store
            .upsert_patients(org.id, &[record("1", "Ana", "+13125550111"), record("2", "Luis", "+13125550112")])
            .await
            .expect("first batch");
        let UpsertOutcome::Created(ana) = first[0] else { panic!("{first:?}") };
        let mut tagged = store.get_patient(org.id, ana).await.expect("ana").details;
        tagged.tags = vec!["vip".into()];
        store.update_patient(org.id, ana, 1, &tagged).await.expect("tag");

        let second = store
            .upsert_patients(org.id, &[record("1", "Anita", "+13125550199"), record("3", "Eva", "+13125550113")])
            .await
            .expect("second batch");
        assert_eq!(second[0], UpsertOutcome::Updated(ana));
        assert!(matches!(second[1], UpsertOutcome::Created(_)));
        let anita = store.get_patient(org.id, ana).await.expect("read");
        assert_eq!(anita.details.given_name, "Anita");
        assert_eq!(anita.details.phones[0].number, phone("+13125550199"));
        assert_eq!(anita.details.tags, vec!["vip".to_owned()], "tags are not the import's to clear");
        assert_eq!(anita.version, 3);
        assert_eq!(count_patients(&store, org.id).await, 3);

        let repeated = store
            .upsert_patients(org.id, &[record("9", "Ida", "+13125550114"), record("9", "Idalia", "+13125550114")])
            .await
            .expect("repeated key");
        let (UpsertOutcome::Created(first_id), UpsertOutcome::Updated(second_id)) = (repeated[0], repeated[1]) else {
            panic!("{repeated:?}")
        };
        assert_eq!(first_id, second_id);
        assert_eq!(store.get_patient(org.id, first_id).await.expect("ida").details.given_name, "Idalia");
    })
    .await;
}

#[tokio::test]
async fn appointments_take_their_locations_zone_and_check_references() {
    on_each_backend(|store| async move {
        let org = seed_organization(&store, "Practice").await;
        let other = seed_organization(&store, "Other").await;
        let phoenix = seed_location(&store, org.id, "America/Phoenix").await;
        let patient = store.create_patient(org.id, &patient_details("Ann", "Lee")).await.expect("patient");
        let stranger = store.create_patient(other.id, &patient_details("Bo", "Kim")).await.expect("stranger");
        let start = test_now() + 72.hours();
        let details = AppointmentDetails {
            patient_id: patient.id,
            provider_id: None,
            location_id: phoenix.id,
            start,
            end: start + 30.minutes(),
            visit_type: "annual-physical".into(),
            status: AppointmentStatus::Booked,
            source: None,
        };
        let appt = store.create_appointment(org.id, &details).await.expect("create");
        assert_eq!(appt.time_zone.as_str(), "America/Phoenix");
        assert_eq!(appt.local_start().offset().seconds(), -7 * 3600);
        assert_eq!(store.get_appointment(org.id, appt.id).await.expect("read"), appt);

        let foreign = AppointmentDetails { patient_id: stranger.id, ..details.clone() };
        let refused = store.create_appointment(org.id, &foreign).await;
        assert!(
            matches!(&refused, Err(StoreError::UnknownReference { field }) if field == "patient_id"),
            "{refused:?}"
        );

        let mut moved = details.clone();
        moved.start = start + 24.hours();
        moved.end = moved.start + 30.minutes();
        let rescheduled = store.update_appointment(org.id, appt.id, 1, &moved).await.expect("reschedule");
        assert_eq!(rescheduled.version, 2);
        let stale = store.update_appointment(org.id, appt.id, 1, &details).await;
        assert!(matches!(stale, Err(StoreError::StaleVersion { .. })));

        let window = AppointmentQuery { from: Some(start), to: Some(start + 48.hours()), ..Default::default() };
        let listed = store.list_appointments(org.id, &window, &PageRequest::first(10)).await.expect("list");
        assert_eq!(listed.items.len(), 1);
        let earlier = AppointmentQuery { to: Some(start + 24.hours()), ..Default::default() };
        let none = store.list_appointments(org.id, &earlier, &PageRequest::first(10)).await.expect("list");
        assert!(none.items.is_empty());
        let theirs = store.list_appointments(other.id, &AppointmentQuery::default(), &PageRequest::first(10)).await;
        assert!(theirs.expect("list").items.is_empty());
    })
    .await;
}

#[tokio::test]
async fn an_unchanged_feed_record_keeps_its_version() {
    on_each_backend(|store| async move {
        let org = seed_organization(&store, "Practice").await;
        let location = seed_location(&store, org.id, "America/Chicago").await;
        let patient = store.create_patient(org.id, &patient_details("Ann", "Lee")).await.expect("patient");
        let start = test_now() + 120.hours();
        let record = AppointmentUpsert {
            details: AppointmentDetails {
                patient_id: patient.id,
                provider_id: None,
                location_id: location.id,
                start,
                end: start + 20.minutes(),
                visit_type: "follow-up".into(),
                status: AppointmentStatus::Booked,
                source: Some(ExternalId::parse("ehr", "V-77").expect("source")),
            },
        };
        let created = store.upsert_appointments(org.id, std::slice::from_ref(&record)).await.expect("first");
        let UpsertOutcome::Created(id) = created[0] else { panic!("{created:?}") };
        store.upsert_appointments(org.id, std::slice::from_ref(&record)).await.expect("again");
        assert_eq!(store.get_appointment(org.id, id).await.expect("read").version, 1);
        let mut cancelled = record.clone();
        cancelled.details.status = AppointmentStatus::Cancelled;
        store.upsert_appointments(org.id, &[cancelled]).await.expect("cancel");
        let read = store.get_appointment(org.id, id).await.expect("read");
        assert_eq!((read.version, read.details.status), (2, AppointmentStatus::Cancelled));

        // A key repeated within one batch: created once, then changed, in order.
        let mut fresh = record.clone();
        fresh.details.source = Some(ExternalId::parse("ehr", "V-78").expect("source"));
        let mut fresh_cancelled = fresh.clone();
        fresh_cancelled.details.status = AppointmentStatus::Cancelled;
        let outcomes = store.upsert_appointments(org.id, &[fresh, fresh_cancelled]).await.expect("repeated");
        let (UpsertOutcome::Created(first), UpsertOutcome::Updated(second)) = (outcomes[0], outcomes[1]) else {
            panic!("{outcomes:?}")
        };
        assert_eq!(first, second);
        let read = store.get_appointment(org.id, first).await.expect("read");
        assert_eq!((read.version, read.details.status), (1, AppointmentStatus::Cancelled));
    })
    .await;
}

#[tokio::test]
async fn the_latest_consent_entry_wins() {
    on_each_backend(|store| async move {
        let org = seed_organization(&store, "Practice").await;
        let patient = store.create_patient(org.id, &patient_details("Ann", "Lee")).await.expect("patient");
        let entry = |status| Consent {
            id: ConsentId::generate(),
            organization_id: org.id,
            patient_id: patient.id,
            channel: Channel::Sms,
            purpose: Purpose::Marketing,
            status,
            source: "api".into(),
            evidence: None,
            recorded_at: test_now(),
        };
        store.record_consent(&entry(ConsentStatus::Granted)).await.expect("grant");
        store.record_consent(&entry(ConsentStatus::Revoked)).await.expect("revoke");
        let transactional = Consent { purpose: Purpose::Transactional, ..entry(ConsentStatus::Granted) };
        store.record_consent(&transactional).await.expect("grant");
        assert_eq!(store.consent_history(org.id, patient.id).await.expect("history").len(), 3);
        let current = store.current_consents(org.id, patient.id).await.expect("current");
        let marketing = current.iter().find(|c| c.purpose == Purpose::Marketing).expect("marketing");
        assert_eq!((current.len(), marketing.status), (2, ConsentStatus::Revoked));
        let other = seed_organization(&store, "Other").await;
        let foreign = Consent { organization_id: other.id, ..entry(ConsentStatus::Granted) };
        assert!(matches!(store.record_consent(&foreign).await, Err(StoreError::NotFound)));
    })
    .await;
}
