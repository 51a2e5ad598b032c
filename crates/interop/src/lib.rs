//! Interoperability: the EHR feed (`ehr`: HL7 v2 over MLLP in, answers
//! written back out) and imports (`import`: CSV and FHIR R4 files). It
//! maps other systems' records onto the store's and leaves sending to the
//! engine.

pub mod ehr;
pub mod import;
