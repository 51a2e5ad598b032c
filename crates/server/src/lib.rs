//! Rapport's server: storage, HTTP API, import, demo data. `main.rs` only
//! parses the command line and calls in here.

pub mod auth;
pub mod backup;
pub mod channels;
pub mod clock;
pub mod config;
pub mod demo;
pub mod ehr;
pub mod engine;
pub mod http;
pub mod import;
pub mod jobs;
pub mod links;
pub mod server;
pub mod simulators;
pub mod store;
pub mod tls;
