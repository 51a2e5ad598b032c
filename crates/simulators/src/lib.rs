//! Provider simulators: local servers that speak the providers' real wire
//! formats, for the tests and the demo, and that fail on purpose.

pub mod push;
pub mod smtp;
pub mod twilio;

/// A server task that stops when its last handle is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
