//! Typed views of the segments Rapport reads, and HL7's date-times. A view
//! borrows the segment and reads fields by their HL7 numbers; a field that
//! is absent reads as empty, never as an error (feeds leave out what they
//! do not have).

use jiff::civil::{Date, DateTime};
use jiff::tz::{Offset, TimeZone};

use crate::{Field, Message, Segment};

/// An HL7 date-time (DTM/TS): `YYYY[MM[DD[HH[MM[SS[.S…]]]]]][±ZZZZ]`, at the
/// precision given; the offset when the sender wrote one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HlTime {
    pub local: DateTime,
    pub offset: Option<Offset>,
}

impl HlTime {
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (digits, offset) = match text.find(['+', '-']) {
            Some(at) => (&text[..at], Some(&text[at..])),
            None => (text, None),
        };
        let (digits, _fraction) = digits.split_once('.').unwrap_or((digits, ""));
        if digits.len() < 4 || !digits.len().is_multiple_of(2) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let part = |from: usize, default: i8| -> Option<i8> {
            digits.get(from..from + 2).map_or(Some(default), |p| p.parse().ok())
        };
        let year: i16 = digits.get(..4)?.parse().ok()?;
        let date = jiff::civil::Date::new(year, part(4, 1)?, part(6, 1)?).ok()?;
        let time = jiff::civil::Time::new(part(8, 0)?, part(10, 0)?, part(12, 0)?, 0).ok()?;
        let offset = match offset {
            None => None,
            Some(o) if o.len() == 5 => {
                let sign: i32 = if o.starts_with('-') { -1 } else { 1 };
                let hours: i32 = o.get(1..3)?.parse().ok()?;
                let minutes: i32 = o.get(3..5)?.parse().ok()?;
                Some(Offset::from_seconds(sign * (hours * 3600 + minutes * 60)).ok()?)
            }
            Some(_) => return None,
        };
        Some(Self { local: date.to_datetime(time), offset })
    }

    /// The instant meant: by the sender's offset, else as local time in `zone`.
    pub fn instant(&self, zone: &TimeZone) -> Option<jiff::Timestamp> {
        match self.offset {
            Some(offset) => offset.to_timestamp(self.local).ok(),
            None => self.local.to_zoned(zone.clone()).ok().map(|z| z.timestamp()),
        }
    }
}

/// MSH: who sent what kind of message.
#[derive(Debug, Clone, Copy)]
pub struct Msh<'a>(pub &'a Segment);

impl<'a> Msh<'a> {
    pub fn of(message: &'a Message) -> Option<Self> {
        message.segment("MSH").map(Msh)
    }
    pub fn sending_application(&self) -> &'a str {
        self.0.text(3, 1)
    }
    pub fn sending_facility(&self) -> &'a str {
        self.0.text(4, 1)
    }
    /// MSH-9.1, e.g. `SIU`.
    pub fn message_type(&self) -> &'a str {
        self.0.text(9, 1)
    }
    /// MSH-9.2, e.g. `S12`.
    pub fn trigger_event(&self) -> &'a str {
        self.0.text(9, 2)
    }
    /// MSH-10: the id an ACK names and duplicates are told apart by.
    pub fn control_id(&self) -> &'a str {
        self.0.text(10, 1)
    }
    pub fn version(&self) -> &'a str {
        self.0.text(12, 1)
    }
    pub fn created(&self) -> Option<HlTime> {
        HlTime::parse(self.0.text(7, 1))
    }
}

/// An identifier (CX): its value, assigning authority and type (`MR`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identifier<'a> {
    pub value: &'a str,
    pub authority: &'a str,
    pub kind: &'a str,
}

/// A person's name (XPN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name<'a> {
    pub family: &'a str,
    pub given: &'a str,
    pub middle: &'a str,
    /// XPN-7: `L` legal, `N` nickname …
    pub kind: &'a str,
}

/// A telecom (XTN): a number, or an email address in XTN-4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Telecom<'a> {
    /// XTN-1 (the old unformatted number), else XTN-6 area + XTN-7 local.
    pub number: String,
    /// XTN-2: `PRN` home, `WPN` work, `ORN`, `NET` …
    pub use_code: &'a str,
    /// XTN-3: `PH`, `CP` cell, `Internet` …
    pub equipment: &'a str,
    pub email: &'a str,
}

fn repetitions(field: &Field) -> impl Iterator<Item = &crate::Repetition> {
    field.repetitions.iter().filter(|r| !r.is_empty())
}

/// PID: the patient.
#[derive(Debug, Clone, Copy)]
pub struct Pid<'a>(pub &'a Segment);

impl<'a> Pid<'a> {
    pub fn of(message: &'a Message) -> Option<Self> {
        message.segment("PID").map(Pid)
    }
    /// PID-3, every repetition (PID-2, the old external id, when PID-3 is empty).
    pub fn identifiers(&self) -> Vec<Identifier<'a>> {
        let field = if self.0.field(3).is_empty() { self.0.field(2) } else { self.0.field(3) };
        repetitions(field).map(|r| Identifier { value: r.text(1), authority: r.text(4), kind: r.text(5) }).collect()
    }
    pub fn names(&self) -> Vec<Name<'a>> {
        repetitions(self.0.field(5))
            .map(|r| Name { family: r.text(1), given: r.text(2), middle: r.text(3), kind: r.text(7) })
            .collect()
    }
    pub fn birth_date(&self) -> Option<Date> {
        HlTime::parse(self.0.text(7, 1)).map(|t| t.local.date())
    }
    /// PID-8: `F`, `M`, `O`, `U` …
    pub fn sex(&self) -> &'a str {
        self.0.text(8, 1)
    }
    /// PID-13 (home) and PID-14 (business).
    pub fn telecoms(&self) -> Vec<Telecom<'a>> {
        let home = repetitions(self.0.field(13));
        let work = repetitions(self.0.field(14));
        home.chain(work)
            .map(|r| {
                let number =
                    if r.text(1).is_empty() { format!("{}{}", r.text(6), r.text(7)) } else { r.text(1).to_owned() };
                Telecom { number, use_code: r.text(2), equipment: r.text(3), email: r.text(4) }
            })
            .collect()
    }
    /// PID-15.1, e.g. `en`, `SPA`.
    pub fn language(&self) -> &'a str {
        self.0.text(15, 1)
    }
}

/// MRG: the record an ADT A40 merges away.
#[derive(Debug, Clone, Copy)]
pub struct Mrg<'a>(pub &'a Segment);

impl<'a> Mrg<'a> {
    pub fn of(message: &'a Message) -> Option<Self> {
        message.segment("MRG").map(Mrg)
    }
    /// MRG-1, the prior patient identifiers, every repetition.
    pub fn prior_identifiers(&self) -> Vec<Identifier<'a>> {
        repetitions(self.0.field(1))
            .map(|r| Identifier { value: r.text(1), authority: r.text(4), kind: r.text(5) })
            .collect()
    }
}

/// SCH: the appointment as the scheduler holds it.
#[derive(Debug, Clone, Copy)]
pub struct Sch<'a>(pub &'a Segment);

impl<'a> Sch<'a> {
    pub fn of(message: &'a Message) -> Option<Self> {
        message.segment("SCH").map(Sch)
    }
    pub fn placer_id(&self) -> &'a str {
        self.0.text(1, 1)
    }
    /// SCH-2: the filler's (the scheduling system's) id for the visit.
    pub fn filler_id(&self) -> &'a str {
        self.0.text(2, 1)
    }
    /// SCH-7 reason, SCH-8 type: codes (component 1) and their text (2).
    pub fn reason(&self) -> (&'a str, &'a str) {
        (self.0.text(7, 1), self.0.text(7, 2))
    }
    pub fn appointment_type(&self) -> (&'a str, &'a str) {
        (self.0.text(8, 1), self.0.text(8, 2))
    }
    /// SCH-9 duration in SCH-10 units (minutes when none).
    pub fn duration(&self) -> (&'a str, &'a str) {
        (self.0.text(9, 1), self.0.text(10, 1))
    }
    /// The start and end: TQ1-7 and TQ1-8 (versions 2.6 on, where SCH-11
    /// is withdrawn), else SCH-11.4 and SCH-11.5.
    pub fn timing(&self, message: &'a Message) -> (Option<HlTime>, Option<HlTime>) {
        if let Some(tq1) = message.segment("TQ1").filter(|t| !t.text(7, 1).is_empty()) {
            return (HlTime::parse(tq1.text(7, 1)), HlTime::parse(tq1.text(8, 1)));
        }
        (HlTime::parse(self.0.text(11, 4)), HlTime::parse(self.0.text(11, 5)))
    }
    /// SCH-25: `Booked`, `Cancelled`, `Noshow` …
    pub fn status(&self) -> &'a str {
        self.0.text(25, 1)
    }
}

/// AIS-3 (the service), AIL-3 (the location), AIP-3 (the clinician): the
/// code (component 1) and text (component 2 for AIS and AIP's family
/// name; AIL-3 names a location as point of care, room, bed, facility).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource<'a> {
    pub code: &'a str,
    pub text: &'a str,
}

pub fn service(message: &Message) -> Option<Resource<'_>> {
    let ais = message.segment("AIS")?;
    Some(Resource { code: ais.text(3, 1), text: ais.text(3, 2) })
}

pub fn location(message: &Message) -> Option<Resource<'_>> {
    let ail = message.segment("AIL")?;
    let place = ail.field(3).first();
    let code = [1, 4].into_iter().map(|c| place.text(c)).find(|t| !t.is_empty()).unwrap_or("");
    Some(Resource { code, text: place.text(4) })
}

pub fn clinician(message: &Message) -> Option<Resource<'_>> {
    let aip = message.segment("AIP")?;
    Some(Resource { code: aip.text(3, 1), text: aip.text(3, 2) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hl7_times_read_at_their_precision_with_or_without_an_offset() {
        let t = HlTime::parse("20261122093015.1234-0500").expect("valid");
        assert_eq!(t.local, jiff::civil::date(2026, 11, 22).at(9, 30, 15, 0));
        let chicago = TimeZone::get("America/Chicago").expect("zone");
        assert_eq!(t.instant(&chicago), "2026-11-22T14:30:15Z".parse().ok());
        let local = HlTime::parse("202611220930").expect("valid");
        assert_eq!(local.instant(&chicago), "2026-11-22T15:30:00Z".parse().ok(), "no offset: the zone's time");
        assert_eq!(HlTime::parse("1980").map(|t| t.local.date()), Some(jiff::civil::date(1980, 1, 1)));
        for bad in ["", "19", "198004021", "20261340", "2026112209+05", "abcd"] {
            assert_eq!(HlTime::parse(bad), None, "{bad:?}");
        }
    }
}
