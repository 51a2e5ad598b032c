//! MLLP (Minimal Lower Layer Protocol) framing: a message travels as
//! 0x0B, the message, 0x1C 0x0D. `Decoder` takes bytes as they arrive and
//! yields whole messages; a message beyond the size limit is refused (its
//! bytes skipped to the next frame) rather than buffered without bound.

pub const START: u8 = 0x0B;
pub const END: [u8; 2] = [0x1C, 0x0D];

/// The message framed for the wire.
pub fn frame(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 3);
    out.push(START);
    out.extend_from_slice(message);
    out.extend_from_slice(&END);
    out
}

/// What the decoder found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Message(Vec<u8>),
    /// A frame longer than the limit, skipped.
    TooLarge,
    /// Bytes outside any frame (noise before a start byte), skipped.
    Garbage(usize),
}

#[derive(Debug, Clone)]
pub struct Decoder {
    buffer: Vec<u8>,
    max: usize,
    /// Skipping a frame that outgrew the limit, until its end.
    discarding: bool,
}

impl Decoder {
    /// A decoder refusing messages over `max` bytes.
    pub fn new(max: usize) -> Self {
        Self { buffer: Vec::new(), max, discarding: false }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next whole frame, if the bytes so far hold one.
    pub fn next_frame(&mut self) -> Option<Frame> {
        if self.discarding {
            let Some(end) = find(&self.buffer, &END) else {
                // Keep only what could begin the end bytes.
                let last = self.buffer.last().copied().filter(|&b| b == END[0]);
                self.buffer.clear();
                self.buffer.extend(last);
                return None;
            };
            self.buffer.drain(..end + END.len());
            self.discarding = false;
            return Some(Frame::TooLarge);
        }
        let start = self.buffer.iter().position(|&b| b == START);
        match start {
            None if self.buffer.is_empty() => return None,
            None => {
                let noise = self.buffer.len();
                self.buffer.clear();
                return Some(Frame::Garbage(noise));
            }
            Some(0) => {}
            Some(noise) => {
                self.buffer.drain(..noise);
                return Some(Frame::Garbage(noise));
            }
        }
        match find(&self.buffer, &END) {
            Some(end) if end - 1 > self.max => {
                self.buffer.drain(..end + END.len());
                Some(Frame::TooLarge)
            }
            Some(end) => {
                let message = self.buffer[1..end].to_vec();
                self.buffer.drain(..end + END.len());
                Some(Frame::Message(message))
            }
            None if self.buffer.len() > self.max + 1 => {
                self.buffer.clear();
                self.discarding = true;
                None
            }
            None => None,
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_arrive_whole_however_the_bytes_are_cut() {
        let one = frame(b"MSH|^~\\&|A\r");
        let two = frame(b"MSH|^~\\&|B\r");
        let wire = [one.clone(), two.clone()].concat();
        for cut in 0..wire.len() {
            let mut decoder = Decoder::new(1024);
            decoder.push(&wire[..cut]);
            let mut got = Vec::new();
            while let Some(frame) = decoder.next_frame() {
                got.push(frame);
            }
            decoder.push(&wire[cut..]);
            while let Some(frame) = decoder.next_frame() {
                got.push(frame);
            }
            assert_eq!(
                got,
                [Frame::Message(b"MSH|^~\\&|A\r".to_vec()), Frame::Message(b"MSH|^~\\&|B\r".to_vec())],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn noise_is_skipped_and_an_oversized_frame_refused_without_buffering_it() {
        let mut decoder = Decoder::new(8);
        decoder.push(b"xx");
        decoder.push(&frame(b"MSH|1"));
        assert_eq!(decoder.next_frame(), Some(Frame::Garbage(2)));
        assert_eq!(decoder.next_frame(), Some(Frame::Message(b"MSH|1".to_vec())));
        decoder.push(&[START]);
        decoder.push(&[b'a'; 20]);
        assert_eq!(decoder.next_frame(), None, "too long: dropped as it comes");
        decoder.push(&[b'a'; 20]);
        decoder.push(&END);
        decoder.push(&frame(b"MSH|2"));
        assert_eq!(decoder.next_frame(), Some(Frame::TooLarge));
        assert_eq!(decoder.next_frame(), Some(Frame::Message(b"MSH|2".to_vec())));
    }
}
