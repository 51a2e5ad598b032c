//! HL7 acknowledgements: MSH (sender and receiver swapped), MSA with the
//! code (AA applied, AE not applied now, AR refused) and the received
//! control id, and for AE/AR an ERR segment whose text names the problem
//! (fields, never values).

use jiff::Timestamp;
use rapport_hl7::segments::Msh;
use rapport_hl7::{Delimiters, Message, escape};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckCode {
    Accepted,
    Error,
    Rejected,
}

impl AckCode {
    pub fn as_str(self) -> &'static str {
        match self {
            AckCode::Accepted => "AA",
            AckCode::Error => "AE",
            AckCode::Rejected => "AR",
        }
    }
}

/// Counts an acknowledged message by its type (`ADT^A04`; a type that is
/// not three letters or digits each counts as `other`: a label never
/// carries what a sender wrote) and the ACK's code.
fn count(kind: Option<(&str, &str)>, code: AckCode) {
    let plain = |s: &str| s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    let kind = match kind {
        Some((message, event)) if plain(message) && plain(event) => format!("{message}^{event}"),
        Some((message, "")) if plain(message) => message.to_owned(),
        _ => "other".to_owned(),
    };
    metrics::counter!("rapport_mllp_messages_total", "type" => kind, "ack" => code.as_str()).increment(1);
}

/// The acknowledgement of `message` (or of an unreadable one, `None`).
pub fn ack(message: Option<&Message>, code: AckCode, reason: Option<&str>, now: Timestamp) -> String {
    let d = Delimiters::default();
    let e = |v: &str| escape(v, &d);
    let msh = message.and_then(Msh::of);
    let field = |n: usize, c: usize| msh.as_ref().map_or(String::new(), |m| e(m.0.text(n, c)));
    // MSH-10 the control id, MSH-3 and MSH-4 the sender, MSH-9.2 the event.
    let (control, app, facility, event) = (field(10, 1), field(3, 1), field(4, 1), field(9, 2));
    count(msh.as_ref().map(|m| (m.0.text(9, 1), m.0.text(9, 2))), code);
    let version = msh.as_ref().map_or("2.5.1", |m| if m.version().is_empty() { "2.5.1" } else { m.version() });
    let stamp = now.strftime("%Y%m%d%H%M%S+0000");
    let own_id = format!("ACK{}", now.as_microsecond());
    let mut out = format!(
        "MSH|^~\\&|RAPPORT|RAPPORT|{app}|{facility}|{stamp}||ACK^{event}^ACK|{own_id}|P|{}\rMSA|{}|{control}\r",
        e(version),
        code.as_str()
    );
    if let (Some(reason), false) = (reason, code == AckCode::Accepted) {
        let (number, text) = match code {
            AckCode::Rejected => ("200", "Unsupported message"),
            _ => ("207", "Application internal error"),
        };
        out.push_str(&format!("ERR|||{number}^{text}^HL70357|E||||{}\r", e(reason)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rapport_hl7::parse;

    #[test]
    fn an_ack_names_the_message_it_answers_and_why_it_was_refused() {
        let received = parse(b"MSH|^~\\&|EPIC|RIVER|RAPPORT|RAPPORT|20261122||SIU^S12^SIU_S12|C42|P|2.5.1\r")
            .message
            .expect("a message");
        let now: Timestamp = "2026-11-22T15:00:00Z".parse().expect("time");
        let text = ack(Some(&received), AckCode::Rejected, Some("MSH-9 ADT^A60 is not taken"), now);
        let answer = parse(text.as_bytes()).message.expect("an ACK");
        let msh = Msh::of(&answer).expect("MSH");
        assert_eq!((msh.sending_application(), msh.0.text(5, 1), msh.message_type()), ("RAPPORT", "EPIC", "ACK"));
        let msa = answer.segment("MSA").expect("MSA");
        assert_eq!((msa.text(1, 1), msa.text(2, 1)), ("AR", "C42"));
        assert_eq!(
            answer.segment("ERR").expect("ERR").text(8, 1),
            "MSH-9 ADT^A60 is not taken",
            "escaped and read back"
        );
        let fine = ack(Some(&received), AckCode::Accepted, None, now);
        assert!(!fine.contains("ERR"));
        assert!(ack(None, AckCode::Rejected, Some("no MSH segment"), now).contains("MSA|AR|\r"));
    }
}
