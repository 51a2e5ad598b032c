//! Any bytes: the parser never panics, the typed views read whatever it
//! found without panicking, and a message it read without an error encodes
//! to one that parses back the same, again without an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rapport_hl7::segments::{self, HlTime, Msh, Pid, Sch};
use rapport_hl7::{encode, parse};

fuzz_target!(|data: &[u8]| {
    let parsed = parse(data);
    let clean = parsed.errors().count() == 0;
    let Some(message) = parsed.message else { return };
    if let Some(msh) = Msh::of(&message) {
        let _ = (msh.message_type(), msh.trigger_event(), msh.control_id(), msh.created());
    }
    if let Some(pid) = Pid::of(&message) {
        let _ = (pid.identifiers(), pid.names(), pid.birth_date(), pid.telecoms(), pid.language());
    }
    if let Some(sch) = Sch::of(&message) {
        let (start, end) = sch.timing(&message);
        for time in [start, end].into_iter().flatten() {
            let _ = time.instant(&jiff::tz::TimeZone::UTC);
        }
        let _ = (sch.placer_id(), sch.filler_id(), sch.duration(), sch.status());
    }
    let _ = (segments::service(&message), segments::location(&message), segments::clinician(&message));
    let _ = HlTime::parse(&String::from_utf8_lossy(data));
    if !clean {
        return;
    }
    let again = parse(encode(&message).as_bytes());
    assert_eq!(again.errors().count(), 0, "an encoded message parses without errors");
    assert_eq!(again.message.as_ref(), Some(&message), "parse(encode(m)) is m");
});
