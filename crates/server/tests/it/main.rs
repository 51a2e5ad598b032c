//! The server's integration tests, in one binary so it links once.

mod api;
mod storage;
mod support;
