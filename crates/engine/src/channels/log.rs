//! The log channel: what would be sent goes to the local outbox (visible in
//! the API), so `serve --demo` and development need no provider account.
//! Writing the same message twice is a no-op, as a provider's duplicate
//! detection would be, and the outbox doubles as its lookup. The outbox
//! records the hand-offs' start in the transaction that writes them, so a
//! log hand-off is never in doubt: started means written.

use std::time::Instant;

use std::sync::Arc;

use rapport_domain::{MessageId, OrganizationId};

use super::{BoxFuture, Found, Handoff, Outcome, Provider, ProviderRef, Starts};

/// Where the log channel writes, passed in by the engine (the store's
/// outbox, `crate::channel_store`): the channel itself keeps nothing.
pub trait Outbox: Send + Sync {
    /// Keeps what each hand-off would have sent, and records their start,
    /// all or none, in one transaction.
    fn write<'a>(&'a self, handoffs: &'a [Handoff]) -> BoxFuture<'a, Result<(), String>>;
    /// Whether the outbox holds `message`.
    fn holds(&self, org: OrganizationId, message: MessageId) -> BoxFuture<'_, Result<bool, String>>;
}

pub struct LogProvider {
    outbox: Arc<dyn Outbox>,
}

impl LogProvider {
    pub fn new(outbox: Arc<dyn Outbox>) -> Self {
        Self { outbox }
    }
}

fn reference(handoff: &Handoff) -> ProviderRef {
    format!("log-{}", handoff.message_id).into()
}

impl LogProvider {
    /// The outcomes of one outbox write.
    fn read(handoffs: &[Handoff], written: Result<(), String>) -> Vec<Outcome> {
        match written {
            Ok(()) => handoffs.iter().map(|h| Outcome::Accepted { provider_ref: reference(h) }).collect(),
            // The write may have committed before the error reached us.
            Err(error) => {
                let reason = format!("the outbox write failed: {error}");
                handoffs.iter().map(|_| Outcome::InDoubt { reason: reason.clone() }).collect()
            }
        }
    }
}

impl Provider for LogProvider {
    fn name(&self) -> &'static str {
        "log"
    }

    /// The dispatcher writes its outbox rows in the decisions' commit.
    fn transactional(&self) -> bool {
        true
    }

    fn send<'a>(&'a self, handoff: &'a Handoff) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let outcome = self.outbox.write(std::slice::from_ref(handoff)).await;
            Self::read(std::slice::from_ref(handoff), outcome)
                .pop()
                .unwrap_or(Outcome::InDoubt { reason: "no outcome".into() })
        })
    }

    /// One transaction for the whole share of a batch, which records their
    /// start itself (quick: the deadline never bites).
    fn send_many<'a>(
        &'a self,
        handoffs: &'a [Handoff],
        _deadline: Instant,
        _starts: &'a dyn Starts,
    ) -> BoxFuture<'a, Vec<Outcome>> {
        Box::pin(async move { Self::read(handoffs, self.outbox.write(handoffs).await) })
    }

    fn lookup<'a>(&'a self, handoff: &'a Handoff) -> BoxFuture<'a, Found> {
        Box::pin(async move {
            match self.outbox.holds(handoff.organization_id, handoff.message_id).await {
                Ok(true) => Found::Yes { provider_refs: vec![reference(handoff)] },
                Ok(false) => Found::No,
                Err(error) => Found::Unknown(error),
            }
        })
    }
}
