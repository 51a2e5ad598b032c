//! Provider simulators: local servers that speak the providers' real wire
//! formats, for the tests and the demo, and that fail on purpose.

pub mod smtp;
pub mod twilio;
