//! Every public sample message (tests/fixtures, from Microsoft's
//! FHIR-Converter) parses without an error; the fields Rapport maps read
//! as their files say; each survives encode and parse again.

use std::path::PathBuf;

use rapport_hl7::segments::{HlTime, Msh, Pid, Sch, clinician, location, service};
use rapport_hl7::{Severity, encode, parse};

fn samples() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/microsoft-fhir-converter");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("the fixtures")
        .map(|entry| {
            let path = entry.expect("an entry").path();
            let name = path.file_name().expect("a name").to_string_lossy().into_owned();
            (name, std::fs::read(&path).expect("readable"))
        })
        .filter(|(name, _)| name.ends_with(".hl7"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_sample_parses_without_an_error_and_survives_a_round_trip() {
    let files = samples();
    assert_eq!(files.len(), 23, "the 23 samples");
    for (name, bytes) in &files {
        let parsed = parse(bytes);
        let errors: Vec<_> = parsed.diagnostics.iter().filter(|d| d.severity == Severity::Error).collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
        let message = parsed.message.expect("a message");
        let msh = Msh::of(&message).expect("MSH");
        assert!(!msh.control_id().is_empty() && !msh.message_type().is_empty(), "{name}");
        assert!(msh.created().is_some(), "{name}: MSH-7 {:?}", msh.0.text(7, 1));
        let again = parse(encode(&message).as_bytes());
        assert_eq!(again.message.as_ref(), Some(&message), "{name}: encode then parse");
        assert!(again.diagnostics.is_empty(), "{name}: our own encoding is standard: {:?}", again.diagnostics);
    }
}

#[test]
fn scheduling_samples_name_the_visit_its_time_patient_place_and_clinician() {
    let mut scheduling = 0;
    for (name, bytes) in &samples() {
        let message = parse(bytes).message.expect("a message");
        // SIU_12.hl7 is named SIU but its header says ADT^A60: the header decides.
        if Msh::of(&message).expect("MSH").message_type() != "SIU" {
            continue;
        }
        scheduling += 1;
        let sch = Sch::of(&message).expect("SCH");
        assert!(!sch.filler_id().is_empty() || !sch.placer_id().is_empty(), "{name}: an appointment id");
        let (start, end) = sch.timing(&message);
        assert!(start.is_some() && end.is_some(), "{name}: a start and an end");
        let pid = Pid::of(&message).expect("PID");
        assert!(!pid.identifiers().is_empty(), "{name}: a patient id");
        assert!(pid.names().iter().any(|n| !n.family.is_empty()), "{name}: a family name");
        assert!(service(&message).is_some() && location(&message).is_some(), "{name}");
        assert!(clinician(&message).is_some_and(|c| !c.code.is_empty()), "{name}");
    }
    assert_eq!(scheduling, 15, "S12 ×3, S13–S17 and S26 ×2");
    let s12 = samples().into_iter().find(|(n, _)| n == "SIU-S12-01.hl7").expect("S12").1;
    let message = parse(&s12).message.expect("a message");
    let sch = Sch::of(&message).expect("SCH");
    assert_eq!((sch.placer_id(), sch.filler_id(), sch.status()), ("12345", "36996", "Booked"));
    assert_eq!(sch.timing(&message).0, HlTime::parse("20210924093000+0215"), "TQ1-7 in version 2.8");
    let pid = Pid::of(&message).expect("PID");
    assert_eq!(pid.identifiers()[0].value, "PATID1234");
    assert_eq!(pid.identifiers()[1].authority, "USSSA");
    assert_eq!((pid.names()[0].given, pid.sex()), ("ADAM", "M"));
    assert_eq!(pid.birth_date(), Some(jiff::civil::date(1988, 8, 18)));
}

#[test]
fn registration_samples_name_the_patient_and_the_old_ones_carry_a_bom() {
    let mut boms = 0;
    for (name, bytes) in samples().iter().filter(|(n, _)| n.starts_with("ADT")) {
        let parsed = parse(bytes);
        boms += usize::from(parsed.diagnostics.iter().any(|d| d.message.contains("byte-order mark")));
        let message = parsed.message.expect("a message");
        let pid = Pid::of(&message).expect("PID");
        assert!(pid.names().iter().any(|n| !n.family.is_empty()), "{name}");
        assert!(!pid.identifiers().is_empty(), "{name}");
    }
    assert_eq!(boms, 3, "three samples start with a byte-order mark");
}
