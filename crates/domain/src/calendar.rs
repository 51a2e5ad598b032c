//! A visit as an iCalendar invitation (RFC 5545, with RFC 5546's METHOD):
//! one event whose UID is stable for the visit (so a calendar updates it
//! rather than adding another), whose SEQUENCE is the visit's version (so a
//! reschedule supersedes the old time), and which a cancelled visit sends
//! as `METHOD:CANCEL`. Times are written in UTC (`…Z`), which every client
//! shows in its own zone, so no VTIMEZONE is needed.

use jiff::Timestamp;

use crate::appointment::{Appointment, AppointmentStatus};

/// What the event shows besides the visit's times.
#[derive(Debug, Clone, Copy)]
pub struct InviteText<'a> {
    /// "Visit at Riverbend Health".
    pub summary: &'a str,
    /// "Lakeshore, 1 Lake St, Chicago".
    pub location: &'a str,
    /// The host part of the UID (the sender's domain).
    pub domain: &'a str,
}

fn utc(at: Timestamp) -> String {
    at.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// TEXT escaping (RFC 5545 §3.3.11).
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace(';', "\\;").replace(',', "\\,").replace("\r\n", "\\n").replace('\n', "\\n")
}

/// Folds a content line at 75 octets, never inside a UTF-8 character (§3.1).
fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
    out
}

/// The invitation for `appointment` as of `now`.
pub fn invite(appointment: &Appointment, text: InviteText<'_>, now: Timestamp) -> String {
    let cancelled = method(appointment) == "CANCEL";
    let lines = [
        "BEGIN:VCALENDAR".to_owned(),
        "PRODID:-//Rapport//Rapport//EN".into(),
        "VERSION:2.0".into(),
        format!("METHOD:{}", if cancelled { "CANCEL" } else { "REQUEST" }),
        "BEGIN:VEVENT".into(),
        format!("UID:{}@{}", appointment.id, text.domain),
        format!("SEQUENCE:{}", appointment.version),
        format!("DTSTAMP:{}", utc(now)),
        format!("DTSTART:{}", utc(appointment.details.start)),
        format!("DTEND:{}", utc(appointment.details.end)),
        format!("SUMMARY:{}", escape(text.summary)),
        format!("LOCATION:{}", escape(text.location)),
        format!("STATUS:{}", if cancelled { "CANCELLED" } else { "CONFIRMED" }),
        "END:VEVENT".into(),
        "END:VCALENDAR".into(),
    ];
    lines.iter().map(|l| fold(l)).collect()
}

/// The `method` parameter its MIME part carries.
pub fn method(appointment: &Appointment) -> &'static str {
    match appointment.details.status {
        AppointmentStatus::Cancelled | AppointmentStatus::Noshow | AppointmentStatus::EnteredInError => "CANCEL",
        _ => "REQUEST",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visit(status: AppointmentStatus, version: i64) -> Appointment {
        crate::fixtures::visit("2026-11-27T16:00:00Z", "America/Chicago", version, status)
    }

    const TEXT: InviteText<'static> = InviteText {
        summary: "Visit at Riverbend Health",
        location: "Lakeshore, 1 Lake St, Chicago; IL",
        domain: "riverbend.example",
    };

    #[test]
    fn a_booked_visit_is_a_request_with_a_stable_uid_and_its_version() {
        let v = visit(AppointmentStatus::Booked, 3);
        let ics = invite(&v, TEXT, "2026-11-22T15:00:00Z".parse().expect("valid in the test"));
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\n") && ics.ends_with("END:VCALENDAR\r\n"));
        for line in [
            "METHOD:REQUEST".to_owned(),
            format!("UID:{}@riverbend.example", v.id),
            "SEQUENCE:3".into(),
            "DTSTART:20261127T160000Z".into(),
            "DTEND:20261127T163000Z".into(),
            "LOCATION:Lakeshore\\, 1 Lake St\\, Chicago\\; IL".into(),
            "STATUS:CONFIRMED".into(),
        ] {
            assert!(ics.contains(&format!("{line}\r\n")), "{line} in {ics}");
        }
        assert_eq!(method(&v), "REQUEST");
    }

    #[test]
    fn a_cancelled_visit_cancels_the_same_event_and_long_lines_fold() {
        let v = visit(AppointmentStatus::Cancelled, 4);
        let long = "A very long visit name that goes on and on past seventy-five octets, with ñ and é inside";
        let text = InviteText { summary: long, ..TEXT };
        let ics = invite(&v, text, Timestamp::UNIX_EPOCH);
        assert!(ics.contains("METHOD:CANCEL\r\n") && ics.contains("STATUS:CANCELLED\r\n"));
        assert!(ics.split("\r\n").all(|line| line.len() <= 75), "{ics}");
        assert!(ics.replace("\r\n ", "").contains(&format!("SUMMARY:{}", long.replace(',', "\\,"))));
        assert_eq!(method(&v), "CANCEL");
    }
}
