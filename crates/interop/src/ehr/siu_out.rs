//! The SIU message that tells the EHR what a patient answered: S14 (the
//! visit modified) for a confirmation or a wish to reschedule, S15 (the
//! visit cancelled) for a cancellation. SCH-2 carries the visit's id in the
//! EHR (what its feed sent), SCH-6 the event reason (`CONFIRMED`,
//! `PATIENT_CANCELLED`, `RESCHEDULE_REQUESTED`, coding system `RAPPORT`),
//! SCH-11 the time in the visit's zone, SCH-25 the filler status; NTE says
//! how and when the patient answered; PID names the patient by the
//! identifiers the feed gave. MSH-10 is the same on every attempt, so an
//! EHR that saw it already can tell.

use jiff::Timestamp;
use rapport_domain::{Answer, Appointment, Patient, Sex};
use rapport_hl7::{Delimiters, escape};

use rapport_store::WriteBack;

/// The message's control id (MSH-10, at most 20 characters): from the
/// answer's id, so every attempt carries the same one.
pub fn control_id(write_back: &WriteBack) -> String {
    let id = write_back.answer.id.to_string().replace('-', "");
    format!("R{}", &id[id.len().saturating_sub(19)..])
}

/// The SIU message for `write_back`, as HL7 text.
pub fn answer_message(write_back: &WriteBack, visit: &Appointment, patient: &Patient, now: Timestamp) -> String {
    let d = Delimiters::default();
    let e = |v: &str| escape(v, &d);
    let (event, status, reason) = match write_back.answer.answer {
        Answer::Confirm => ("S14", "Booked", "CONFIRMED^Confirmed by the patient^RAPPORT"),
        Answer::Cancel => ("S15", "Cancelled", "PATIENT_CANCELLED^Cancelled by the patient^RAPPORT"),
        Answer::Reschedule => ("S14", "Booked", "RESCHEDULE_REQUESTED^The patient asked for another time^RAPPORT"),
    };
    let receiver = write_back.source.system.strip_prefix("hl7:").unwrap_or(&write_back.source.system);
    let zone = visit.time_zone.tz();
    let local = |t: Timestamp| t.to_zoned(zone.clone()).strftime("%Y%m%d%H%M%S%z").to_string();
    let minutes = visit.details.end.duration_since(visit.details.start).as_secs() / 60;
    let mut sch = vec![String::new(); 25];
    sch[1] = e(&write_back.source.value);
    sch[5] = reason.to_owned();
    sch[7] = e(&visit.details.visit_type);
    sch[8] = minutes.to_string();
    sch[9] = "min".into();
    sch[10] = format!("^^^{}^{}", local(visit.details.start), local(visit.details.end));
    sch[24] = status.into();
    let identifiers: Vec<String> =
        patient.details.external_ids.iter().map(|id| format!("{}^^^{}^MR", e(&id.value), e(&id.system))).collect();
    let sex = match patient.details.sex {
        Sex::Female => "F",
        Sex::Male => "M",
        Sex::Other => "O",
        Sex::Unknown => "U",
    };
    let birth = patient.details.birth_date.map(|b| b.to_string().replace('-', "")).unwrap_or_default();
    let note = format!(
        "{} by the patient ({}) at {}",
        match write_back.answer.answer {
            Answer::Confirm => "Confirmed",
            Answer::Cancel => "Cancelled",
            Answer::Reschedule => "Reschedule requested",
        },
        write_back.answer.channel.as_str(),
        write_back.answer.answered_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    );
    format!(
        "MSH|^~\\&|RAPPORT|RAPPORT|{receiver}||{stamp}||SIU^{event}^SIU_S12|{control}|P|2.5.1\r\
         SCH|{sch}\r\
         NTE|1||{note}\r\
         PID|1||{ids}||{family}^{given}||{birth}|{sex}\r",
        receiver = e(receiver),
        stamp = now.strftime("%Y%m%d%H%M%S+0000"),
        control = control_id(write_back),
        sch = sch.join("|"),
        note = e(&note),
        ids = identifiers.join("~"),
        family = e(&patient.details.family_name),
        given = e(&patient.details.given_name),
    )
}

#[cfg(test)]
mod tests {
    use rapport_domain::{
        AppointmentDetails, AppointmentId, AppointmentStatus, Channel, ExternalId, MessageId, OrganizationId,
        PatientDetails, PatientId, TimeZoneName, VisitAnswerId,
    };
    use rapport_hl7::parse;
    use rapport_hl7::segments::{Msh, Sch};

    use super::*;
    use rapport_store::VisitAnswer;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("time")
    }

    #[test]
    fn a_cancellation_is_an_s15_naming_the_feeds_visit_in_its_zone() {
        let (org, patient_id, visit_id) =
            (OrganizationId::generate(), PatientId::generate(), AppointmentId::generate());
        let answer = VisitAnswer {
            id: VisitAnswerId::generate(),
            appointment_id: visit_id,
            appointment_version: 1,
            patient_id,
            answer: Answer::Cancel,
            channel: Channel::Sms,
            message_id: MessageId::generate(),
            inbound_id: None,
            answered_at: at("2026-11-24T16:05:00Z"),
        };
        let write_back = WriteBack { answer, source: ExternalId { system: "hl7:EPIC".into(), value: "F|77".into() } };
        let visit = Appointment {
            id: visit_id,
            organization_id: org,
            time_zone: TimeZoneName::parse("America/Chicago").expect("zone"),
            version: 1,
            created_at: at("2026-11-22T00:00:00Z"),
            updated_at: at("2026-11-22T00:00:00Z"),
            details: AppointmentDetails {
                patient_id,
                provider_id: None,
                location_id: rapport_domain::LocationId::generate(),
                start: at("2026-11-27T16:00:00Z"),
                end: at("2026-11-27T16:30:00Z"),
                visit_type: "Checkup".into(),
                status: AppointmentStatus::Booked,
                source: Some(write_back.source.clone()),
            },
        };
        let mut details = PatientDetails::new("Rosa".into(), "Díaz".into());
        details.external_ids = vec![ExternalId { system: "RIVER".into(), value: "MRN77".into() }];
        details.sex = Sex::Female;
        let patient = Patient {
            id: patient_id,
            organization_id: org,
            version: 1,
            created_at: visit.created_at,
            updated_at: visit.created_at,
            details,
        };
        let text = answer_message(&write_back, &visit, &patient, at("2026-11-24T16:06:00Z"));
        let parsed = parse(text.as_bytes());
        assert_eq!(parsed.errors().count(), 0);
        let message = parsed.message.expect("a message");
        let msh = Msh::of(&message).expect("MSH");
        assert_eq!((msh.message_type(), msh.trigger_event(), msh.0.text(5, 1)), ("SIU", "S15", "EPIC"));
        assert_eq!(msh.control_id(), control_id(&write_back));
        assert!(msh.control_id().len() <= 20);
        let sch = Sch::of(&message).expect("SCH");
        assert_eq!((sch.filler_id(), sch.status()), ("F|77", "Cancelled"), "the id escaped and read back");
        assert_eq!(sch.0.text(6, 1), "PATIENT_CANCELLED");
        assert_eq!(sch.0.field(11).first().text(4), "20261127100000-0600", "10:00 in Chicago");
        let pid = message.segment("PID").expect("PID");
        assert_eq!((pid.text(3, 1), pid.text(3, 4), pid.text(5, 1), pid.text(8, 1)), ("MRN77", "RIVER", "Díaz", "F"));
        assert!(message.segment("NTE").expect("NTE").text(3, 1).starts_with("Cancelled by the patient (sms)"));
    }
}
