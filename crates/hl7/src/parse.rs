//! The lenient parser. It never panics and never refuses outright: what is
//! not standard but clear is read and noted as a warning; a message without
//! an MSH segment is an error (no delimiters to read the rest with).

use crate::escape::unescape;
use crate::{Component, Delimiters, Diagnostic, Field, Message, Parsed, Repetition, Segment, Severity};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Parses one message from `input` (bytes as received: UTF-8, else read as
/// Latin-1; MLLP framing bytes, if left on, are dropped).
pub fn parse(input: &[u8]) -> Parsed {
    let mut diagnostics = Vec::new();
    let mut warn = |segment: Option<usize>, message: &str| {
        diagnostics.push(Diagnostic { severity: Severity::Warning, segment, message: message.to_owned() });
    };
    let mut bytes = input;
    if let Some(rest) = bytes.strip_prefix(BOM) {
        warn(None, "a byte-order mark before MSH was skipped");
        bytes = rest;
    }
    let trimmed = trim_framing(bytes);
    if trimmed.len() != bytes.len() {
        warn(None, "MLLP framing bytes around the message were dropped");
    }
    let text = match std::str::from_utf8(trimmed) {
        Ok(text) => text.to_owned(),
        Err(_) => {
            warn(None, "the message is not UTF-8: read as Latin-1");
            trimmed.iter().map(|&b| char::from(b)).collect()
        }
    };
    if text.contains('\n') {
        warn(None, "segments end with LF (the standard says CR): read as segment ends");
    }
    let mut lines = text.split(['\r', '\n']).filter(|l| !l.trim().is_empty());
    let mut skipped = false;
    let msh = loop {
        match lines.next() {
            Some(line) if line.starts_with("MSH") => break Some(line),
            Some(_) => skipped = true,
            None => break None,
        }
    };
    if skipped {
        warn(None, "text before the MSH segment was skipped");
    }
    let Some(msh) = msh else {
        diagnostics.push(Diagnostic {
            severity: Severity::Error,
            segment: None,
            message: "no MSH segment: not an HL7 v2 message".into(),
        });
        return Parsed { message: None, diagnostics };
    };
    let (delimiters, declared) = delimiters(msh, &mut warn);
    let mut segments = vec![header(msh, &delimiters, &declared)];
    let mut unframeable = Vec::new();
    for (i, line) in lines.enumerate() {
        let segment = segment(line, &delimiters);
        if !is_segment_id(&segment.id) {
            warn(Some(i + 1), "a segment id is not three letters or digits");
        }
        if segment.id.contains(['\u{0b}', '\u{1c}']) {
            unframeable.push(i + 1);
        }
        segments.push(segment);
    }
    for place in unframeable {
        diagnostics.push(Diagnostic {
            severity: Severity::Error,
            segment: Some(place),
            message: "a segment id holds MLLP's framing bytes: not an HL7 segment".into(),
        });
    }
    if declared.chars().count() > 5 {
        diagnostics.push(Diagnostic {
            severity: Severity::Error,
            segment: Some(0),
            message: "MSH-2 runs past its four (or five) encoding characters: the header is unreadable".into(),
        });
    }
    if !usable(&delimiters) {
        diagnostics.push(Diagnostic {
            severity: Severity::Error,
            segment: Some(0),
            message: "MSH declares delimiters that are letters, digits, spaces or the same twice: \
                      its escapes cannot be read reliably"
                .into(),
        });
    }
    Parsed { message: Some(Message { delimiters, segments }), diagnostics }
}

/// The message without MLLP's start bytes (0x0B) and end bytes (0x1C, CR).
fn trim_framing(bytes: &[u8]) -> &[u8] {
    let mut inner = bytes;
    while let [0x0B, rest @ ..] = inner {
        inner = rest;
    }
    // The end bytes, even repeated, with the segment terminators around them.
    if inner.iter().rev().take_while(|&&b| b == 0x1C || b == 0x0D).any(|&b| b == 0x1C) {
        while let [rest @ .., 0x1C | 0x0D] = inner {
            inner = rest;
        }
    }
    inner
}

fn is_segment_id(id: &str) -> bool {
    id.len() == 3 && id.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// MSH-1 and MSH-2: the field separator is MSH's fourth character; the
/// encoding characters run to the next field separator. Missing ones take
/// the usual `^~\&`.
fn delimiters(msh: &str, warn: &mut impl FnMut(Option<usize>, &str)) -> (Delimiters, String) {
    let mut chars = msh.chars().skip(3);
    let Some(field) = chars.next() else {
        warn(Some(0), "MSH declares no delimiters: the usual |^~\\& are assumed");
        return (Delimiters::default(), String::new());
    };
    let declared: String = chars.take_while(|&c| c != field).collect();
    let standard = Delimiters::default();
    let mut given = declared.chars();
    let mut next = |fallback: char| given.next().unwrap_or(fallback);
    let d = Delimiters {
        field,
        component: next(standard.component),
        repetition: next(standard.repetition),
        escape: next(standard.escape),
        subcomponent: next(standard.subcomponent),
    };
    if declared.chars().count() < 4 {
        warn(Some(0), "MSH-2 declares fewer than four encoding characters: the usual ones fill in");
    }
    (d, declared)
}

/// Whether the delimiters can be told apart from values and from each other
/// (HL7's escape sequences are letters: `\F\`, `\E\` …).
fn usable(d: &Delimiters) -> bool {
    let all = [d.field, d.component, d.repetition, d.escape, d.subcomponent];
    all.iter().all(|c| !c.is_alphanumeric() && !c.is_whitespace() && !c.is_control())
        && all.iter().enumerate().all(|(i, c)| !all[i + 1..].contains(c))
}

fn header(line: &str, d: &Delimiters, declared: &str) -> Segment {
    // `MSH` + MSH-1 + MSH-2, then the fields from MSH-3 on.
    let skip = 3 + d.field.len_utf8() + declared.len();
    let rest = line.get(skip..).unwrap_or("");
    let encoding = Field {
        repetitions: vec![Repetition { components: vec![Component { subcomponents: vec![declared.to_owned()] }] }],
    };
    let mut fields = vec![encoding];
    if let Some(rest) = rest.strip_prefix(d.field) {
        fields.extend(rest.split(d.field).map(|f| field(f, d)));
    }
    Segment { id: "MSH".into(), fields }
}

fn segment(line: &str, d: &Delimiters) -> Segment {
    let mut parts = line.split(d.field);
    let id = parts.next().unwrap_or("").trim().to_owned();
    Segment { id, fields: parts.map(|f| field(f, d)).collect() }
}

fn field(raw: &str, d: &Delimiters) -> Field {
    // Most fields of a real message are empty: they hold no repetition at
    // all, and cost no allocation.
    if raw.is_empty() {
        return Field { repetitions: Vec::new() };
    }
    // Many others are one plain value: no splitting to do.
    let special = [d.repetition, d.component, d.subcomponent, d.escape];
    if !raw.contains(special) {
        let plain = Component { subcomponents: vec![raw.to_owned()] };
        return Field { repetitions: vec![Repetition { components: vec![plain] }] };
    }
    Field {
        repetitions: raw
            .split(d.repetition)
            .map(|rep| Repetition {
                components: rep
                    .split(d.component)
                    .map(|comp| Component {
                        subcomponents: comp.split(d.subcomponent).map(|s| unescape(s, d)).collect(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADMIT: &str = "MSH|^~\\&|EPIC|RIVERBEND|RAPPORT|RIVERBEND|20261122093000-0500||SIU^S12^SIU_S12|MSG00001|P|2.5.1\r\
                         PID|1||MRN123^^^RIVERBEND^MR~999-99-9999^^^SSA^SS||Lee^Ann^M||19800402|F|||1 Main St^^Chicago^IL^60601||(312)555-0101^PRN^PH~^NET^Internet^ann@example.org\r\
                         ZXY|custom|kept|\r";

    fn parsed(text: &str) -> Message {
        let parsed = parse(text.as_bytes());
        assert_eq!(parsed.errors().count(), 0, "{:?}", parsed.diagnostics);
        parsed.message.expect("a message")
    }

    #[test]
    fn fields_repetitions_components_and_z_segments_are_read_with_hl7_numbering() {
        let m = parsed(ADMIT);
        let msh = m.segment("MSH").expect("MSH");
        assert_eq!(msh.text(2, 1), "^~\\&", "MSH-2 is the encoding characters, as written");
        assert_eq!(msh.text(3, 1), "EPIC");
        assert_eq!((msh.text(9, 1), msh.text(9, 2)), ("SIU", "S12"));
        assert_eq!(msh.text(10, 1), "MSG00001");
        let pid = m.segment("PID").expect("PID");
        assert_eq!(pid.field(3).repetitions.len(), 2);
        assert_eq!(pid.field(3).repetitions[1].text(4), "SSA");
        assert_eq!((pid.text(5, 1), pid.text(5, 2)), ("Lee", "Ann"));
        assert_eq!(pid.field(13).repetitions[1].text(4), "ann@example.org");
        assert_eq!(pid.text(40, 1), "", "beyond the last field: empty");
        let z = m.segment("ZXY").expect("Z-segments are kept");
        assert_eq!(z.fields.len(), 3, "a trailing empty field is kept");
    }

    #[test]
    fn unusual_delimiters_line_ends_a_bom_and_framing_are_forgiven() {
        let odd = "\u{feff}MSH*%$!#*APP*FAC*****ADT%A04*1*P*2.3\nPID*1**42%%%H!T!S!F!#SUB$rep**Doe%Jane\n";
        let parsed = parse(odd.as_bytes());
        let m = parsed.message.expect("read");
        assert_eq!(
            m.delimiters,
            Delimiters { field: '*', component: '%', repetition: '$', escape: '!', subcomponent: '#' }
        );
        let pid = m.segment("PID").expect("PID");
        assert_eq!(
            pid.field(3).repetitions[0].components[3].subcomponents,
            ["H#S*", "SUB"],
            "escapes by the declared characters"
        );
        assert_eq!(pid.field(3).repetitions[1].text(1), "rep");
        let warnings: Vec<&str> = parsed.diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert!(warnings.iter().any(|w| w.contains("byte-order mark")), "{warnings:?}");
        assert!(warnings.iter().any(|w| w.contains("LF")), "{warnings:?}");
        let framed = [&[0x0B][..], ADMIT.as_bytes(), &[0x1C, 0x0D]].concat();
        assert_eq!(parse(&framed).message, parse(ADMIT.as_bytes()).message);
    }

    #[test]
    fn letters_or_repeats_as_delimiters_are_an_error_found_by_fuzzing() {
        // Two inputs the fuzzer (fuzz/fuzz_targets/parse.rs) cut down: a
        // letter as the repetition character, and E as the field separator
        // (E is also the escape sequence \E\).
        for odd in ["MSH|^p~\\&|APP|FAC\rPID|1||x|y|a~b\r", "MSHEVN|^~\\&|APP|FAC\r", "MSH|^^\\&|A\r", "MSH| ~\\&|A\r"]
        {
            let parsed = parse(odd.as_bytes());
            let errors: Vec<&str> = parsed.errors().map(|d| d.message.as_str()).collect();
            assert!(errors.iter().any(|e| e.contains("cannot be read reliably")), "{odd:?}: {errors:?}");
        }
    }

    #[test]
    fn a_second_msh_is_a_segment_like_any_other_through_encode() {
        // Cut down from a fuzzer find: MSH again in the middle of a message.
        let twice = "MSH|^~\\&|APP|FAC\rPID|1||42\rMSH|1|1234567^4\r";
        let message = parse(twice.as_bytes()).message.expect("read");
        assert_eq!((message.segments.len(), message.segments[2].id.as_str()), (3, "MSH"));
        assert_eq!(parse(crate::encode(&message).as_bytes()).message, Some(message));
    }

    #[test]
    fn mllp_framing_bytes_in_a_value_are_escaped_by_encode() {
        // A fuzzer find: a value ending in 0x1C lost it when encoded and read again.
        let framed = "MSH|^~\\&|APP|FAC\rPID|1||x\u{1c}\u{1c}\r";
        let message = parse(framed.as_bytes()).message.expect("read");
        let written = crate::encode(&message);
        assert!(!written.contains('\u{1c}'), "{written:?}");
        assert_eq!(parse(written.as_bytes()).message, Some(message));
    }

    #[test]
    fn repeated_end_bytes_are_framing_not_part_of_the_last_segment() {
        // Fuzzer finds: the last segment's id kept a 0x1C the encoder then
        // wrote as the end of a frame.
        let twice = "MSH|^~\\&|APP|FAC\rZZZ\u{1c}\u{1c}\r";
        let message = parse(twice.as_bytes()).message.expect("read");
        assert_eq!(message.segments[1].id, "ZZZ");
        assert_eq!(parse(crate::encode(&message).as_bytes()).message, Some(message));
        let inside = parse("MSH|^~\\&|APP|FAC\rZZ\u{1c}\r\t\r".as_bytes());
        assert_eq!(inside.errors().count(), 1, "an id holding an end byte is not a segment");
        let endless = parse("MSH/|^~\"\u{1}SFacil\u{1c}\r\t\r".as_bytes());
        let errors: Vec<&str> = endless.errors().map(|d| d.message.as_str()).collect();
        assert!(errors.iter().any(|e| e.contains("MSH-2 runs past")), "{errors:?}");
    }

    #[test]
    fn a_fifth_encoding_character_is_kept_through_encode() {
        // HL7 2.7's truncation character after the four.
        let seven = "MSH|^~\\&#|APP|FAC|||20261122||ADT^A04|1|P|2.7\rPID|1||42^^^H||Doe^Jane\r";
        let parsed = parse(seven.as_bytes());
        assert_eq!(parsed.errors().count(), 0);
        let message = parsed.message.expect("read");
        assert_eq!(message.segment("MSH").expect("MSH").text(2, 1), "^~\\&#");
        assert_eq!(crate::encode(&message), seven, "written back as it came");
    }

    #[test]
    fn no_msh_is_an_error_and_garbage_never_panics() {
        let parsed = parse(b"PID|1||42\r");
        assert!(parsed.message.is_none());
        assert_eq!(parsed.errors().count(), 1);
        for input in [&b""[..], b"MSH", b"MSH|", b"MSH|^", b"\x0b\x1c", b"MSH|^~\\&|\xff\xfe|", b"\r\n\r\n"] {
            let _ = parse(input);
        }
        let latin = parse(b"MSH|^~\\&|A\r PID|1||x||M\xfcller\r");
        assert!(latin.diagnostics.iter().any(|d| d.message.contains("Latin-1")));
    }
}
