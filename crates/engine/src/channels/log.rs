//! The log channel: what would be sent goes to the local outbox (visible in
//! the API), so `serve --demo` and development need no provider account.
//! Writing the same message twice is a no-op, as a provider's duplicate
//! detection would be, and the outbox doubles as its lookup.

use std::time::Instant;

use super::{BoxFuture, Found, Handoff, Outcome, Provider, ProviderRef};
use rapport_store::{OutboxEntry, Store};

pub struct LogProvider {
    store: Store,
}

impl LogProvider {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

fn reference(handoff: &Handoff) -> ProviderRef {
    format!("log-{}", handoff.message_id).into()
}

impl Provider for LogProvider {
    fn name(&self) -> &'static str {
        "log"
    }

    fn send<'a>(&'a self, handoff: &'a Handoff) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let mut outcomes = self.send_many(std::slice::from_ref(handoff), Instant::now()).await;
            outcomes.pop().unwrap_or(Outcome::InDoubt { reason: "no outcome".into() })
        })
    }

    /// One transaction for the whole share of a batch (quick: the deadline never bites).
    fn send_many<'a>(&'a self, handoffs: &'a [Handoff], _deadline: Instant) -> BoxFuture<'a, Vec<Outcome>> {
        Box::pin(async move {
            let now = self.store.clock().now();
            let entries: Vec<(rapport_domain::OrganizationId, OutboxEntry)> = handoffs
                .iter()
                .map(|h| {
                    let entry = OutboxEntry {
                        message_id: h.message_id,
                        channel: h.channel,
                        address: h.to.clone(),
                        subject: h.subject.clone(),
                        body: h.body.clone(),
                        created_at: now,
                    };
                    (h.organization_id, entry)
                })
                .collect();
            match self.store.write_outbox_many(&entries).await {
                Ok(()) => handoffs.iter().map(|h| Outcome::Accepted { provider_ref: reference(h) }).collect(),
                // The write may have committed before the error reached us.
                Err(error) => {
                    let reason = format!("the outbox write failed: {error}");
                    handoffs.iter().map(|_| Outcome::InDoubt { reason: reason.clone() }).collect()
                }
            }
        })
    }

    fn lookup<'a>(&'a self, handoff: &'a Handoff) -> BoxFuture<'a, Found> {
        Box::pin(async move {
            match self.store.in_outbox(handoff.organization_id, handoff.message_id).await {
                Ok(true) => Found::Yes { provider_ref: reference(handoff) },
                Ok(false) => Found::No,
                Err(error) => Found::Unknown(error.to_string()),
            }
        })
    }
}
