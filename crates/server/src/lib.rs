//! Rapport's server: storage, HTTP API, import, demo data. `main.rs` only
//! parses the command line and calls in here.

pub mod clock;
pub mod store;
