//! The server's integration tests, in one binary so it links once.

mod answers;
mod api;
mod cli;
mod ehr;
mod email;
mod fuzz;
mod history;
mod history_processes;
mod import;
mod jobs;
mod matrix;
mod messages;
mod pacing;
mod push;
mod reminders;
mod scenario;
mod sms;
mod sqlcipher;
mod storage;
mod support;
mod templates;
mod tls;
mod trust_api;
mod trust_storage;
mod voice;
mod waitlist;
