//! Any bytes, cut anywhere: the MLLP decoder never panics, never yields a
//! frame over its limit, and never yields more bytes than it was given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rapport_hl7::mllp::{Decoder, Frame};

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else { return };
    let mut decoder = Decoder::new(64);
    let mut yielded = 0;
    for chunk in rest.chunks(usize::from(cut).max(1)) {
        decoder.push(chunk);
        while let Some(frame) = decoder.next_frame() {
            if let Frame::Message(bytes) = frame {
                assert!(bytes.len() <= 64, "a frame over the limit");
                yielded += bytes.len();
            }
        }
    }
    assert!(yielded <= rest.len(), "more bytes out than in");
});
