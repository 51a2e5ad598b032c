//! The EHR integration: HL7 v2 over MLLP in (`mllp`: the listener;
//! `intake`: each message kept before its acknowledgement, settled, and
//! replayed on demand; `apply`: what an ADT or SIU message does to
//! Rapport's records; `codes`: what the feed's location, provider and
//! visit type codes name here; `ack`: the acknowledgements), and patients'
//! answers back out (`write_back`: one job per answer, sent over MLLP as
//! the SIU `siu_out` writes). The reminder engine reacts to what arrives:
//! every visit written enqueues its reminder sync.

pub mod ack;
pub mod apply;
mod codes;
pub mod intake;
pub mod mllp;
mod siu_out;
pub mod write_back;
