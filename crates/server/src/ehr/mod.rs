//! The EHR integration: HL7 v2 over MLLP in (`mllp`: the listener, each
//! message kept before its acknowledgement; `apply`: what an ADT or SIU
//! message does to Rapport's records; `ack`: the acknowledgements).
//! The reminder engine reacts to what arrives: every visit written
//! enqueues its reminder sync.

pub mod ack;
pub mod apply;
pub mod mllp;
