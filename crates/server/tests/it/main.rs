//! The server's integration tests, in one binary so it links once.

mod storage;
mod support;
