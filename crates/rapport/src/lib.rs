//! The `rapport` program's library: configuration, demo data and backups,
//! and the layers below re-exported under the names the command line, the
//! tests and the benches use. `main.rs` only parses the command line and
//! calls in here.

pub mod app;
pub mod backup;
pub mod config;
pub mod demo;

pub use rapport_engine::{self as engine, auth, channels, jobs, links, tls};
pub use rapport_http::{self as http, server};
pub use rapport_interop::{ehr, import};
pub use rapport_simulators as simulators;
pub use rapport_store::{self as store, clock};
