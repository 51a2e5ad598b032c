//! The server's integration tests, in one binary so it links once.

mod api;
mod import;
mod cli;
mod storage;
mod support;
