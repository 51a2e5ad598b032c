//! Writing a message: segments joined by CR, each value escaped. MSH-1 and
//! MSH-2 come from the message's delimiters; MSH-2 as the message declared
//! it when that agrees with them (a fifth, truncation character of HL7 2.7
//! is kept, and three declared stay three).

use crate::escape::escape;
use crate::{Delimiters, Field, Message};

/// The message as HL7 text, `\r` after each segment.
pub fn encode(message: &Message) -> String {
    let d = &message.delimiters;
    let mut out = String::new();
    for (place, segment) in message.segments.iter().enumerate() {
        out.push_str(&segment.id);
        let mut fields = segment.fields.iter();
        // The header is the first segment; an MSH later on is read (and
        // written) as any other segment.
        if place == 0 && segment.id == "MSH" {
            out.push(d.field);
            let four = [d.component, d.repetition, d.escape, d.subcomponent];
            let declared = fields.next().map(|f| f.first().text(1)).unwrap_or_default();
            if declared.chars().zip(four).all(|(a, b)| a == b) && !declared.contains(d.field) {
                out.push_str(declared);
            } else {
                out.extend(four);
            }
        }
        for field in fields {
            out.push(d.field);
            write_field(&mut out, field, d);
        }
        out.push('\r');
    }
    out
}

fn write_field(out: &mut String, field: &Field, d: &Delimiters) {
    for (r, repetition) in field.repetitions.iter().enumerate() {
        if r > 0 {
            out.push(d.repetition);
        }
        for (c, component) in repetition.components.iter().enumerate() {
            if c > 0 {
                out.push(d.component);
            }
            for (s, sub) in component.subcomponents.iter().enumerate() {
                if s > 0 {
                    out.push(d.subcomponent);
                }
                out.push_str(&escape(sub, d));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::{Component, Delimiters, Field, Message, Repetition, Segment, encode, parse};

    fn value() -> impl Strategy<Value = String> {
        // Plain text, the delimiters, the escape character, line breaks, accents.
        proptest::string::string_regex("[a-zA-Z0-9 |^~&\\\\\r\né.-]{0,12}").expect("a regex")
    }

    fn field() -> impl Strategy<Value = Field> {
        let component = proptest::collection::vec(value(), 1..3).prop_map(|subcomponents| Component { subcomponents });
        let repetition = proptest::collection::vec(component, 1..4).prop_map(|components| Repetition { components });
        proptest::collection::vec(repetition, 1..3).prop_map(|repetitions| {
            // An empty field is written as nothing, and read as no repetition.
            let empty = Repetition { components: vec![Component { subcomponents: vec![String::new()] }] };
            if repetitions == [empty] { Field { repetitions: Vec::new() } } else { Field { repetitions } }
        })
    }

    fn message() -> impl Strategy<Value = Message> {
        let id = proptest::string::string_regex("(PID|PV1|SCH|AIL|Z[A-Z0-9]{2})").expect("a regex");
        let segment = (id, proptest::collection::vec(field(), 0..6)).prop_map(|(id, fields)| Segment { id, fields });
        (proptest::collection::vec(field(), 1..12), proptest::collection::vec(segment, 0..6)).prop_map(
            |(mut msh, rest)| {
                let encoding = Field {
                    repetitions: vec![Repetition {
                        components: vec![Component { subcomponents: vec!["^~\\&".into()] }],
                    }],
                };
                msh.insert(0, encoding);
                let mut segments = vec![Segment { id: "MSH".into(), fields: msh }];
                segments.extend(rest);
                Message { delimiters: Delimiters::default(), segments }
            },
        )
    }

    proptest! {
        #[test]
        fn parse_after_encode_gives_the_message_back(message in message()) {
            let parsed = parse(encode(&message).as_bytes());
            prop_assert_eq!(parsed.errors().count(), 0);
            prop_assert_eq!(parsed.message, Some(message));
        }

        #[test]
        fn any_bytes_parse_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse(&bytes);
            let mut with_header = b"MSH|^~\\&|".to_vec();
            with_header.extend(&bytes);
            let _ = parse(&with_header);
        }
    }
}
