//! What the channels need from the store, passed in by the engine: the log
//! channel's outbox, web push's
//! subscriptions and the deployment's VAPID key. The channels themselves keep nothing (`channels/` never names the
//! store); these implementations are the seam.

use std::sync::Arc;

use jiff::Timestamp;
use rapport_domain::{MessageId, OrganizationId, PushSubscriptionId};
use rapport_store::{OutboxEntry, Store, StoreError};

use crate::channels::log::Outbox;
use crate::channels::webpush::{Subscriber, Subscribers, Vapid, WebPush, WebPushSettings};
use crate::channels::{BoxFuture, Handoff, Providers};

/// The VAPID key's name in `deployment_keys`.
const VAPID_KEY: &str = "vapid-p256";

impl Outbox for Store {
    fn write<'a>(&'a self, handoffs: &'a [Handoff]) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let now = self.clock().now();
            let entries: Vec<(OrganizationId, OutboxEntry)> = handoffs
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
            self.write_outbox_many(&entries).await.map_err(|error| error.to_string())
        })
    }

    fn holds(&self, org: OrganizationId, message: MessageId) -> BoxFuture<'_, Result<bool, String>> {
        Box::pin(async move { self.in_outbox(org, message).await.map_err(|error| error.to_string()) })
    }
}

impl Subscribers for Store {
    fn now(&self) -> Timestamp {
        self.clock().now()
    }

    fn by_ids<'a>(&'a self, ids: &'a [PushSubscriptionId]) -> BoxFuture<'a, Result<Vec<Subscriber>, String>> {
        Box::pin(async move {
            let found = self.push_subscriptions_by_ids(ids).await.map_err(|error| error.to_string())?;
            Ok(found
                .into_iter()
                .map(|s| Subscriber {
                    id: s.id,
                    organization_id: s.organization_id,
                    endpoint: s.endpoint,
                    p256dh: s.p256dh,
                    auth: s.auth,
                })
                .collect())
        })
    }
}

impl Providers {
    /// Every channel to the log channel's outbox in `store`.
    pub fn log_only(store: &Store) -> Self {
        Self::log_only_to(Arc::new(store.clone()))
    }
}

impl WebPush {
    /// Web push to the subscriptions kept in `store`.
    pub fn new(store: Store, settings: WebPushSettings, vapid: Vapid) -> anyhow::Result<Self> {
        Self::with_subscribers(Arc::new(store), settings, vapid)
    }
}

impl Vapid {
    /// The deployment's VAPID key, made the first time it is asked for.
    pub async fn load(store: &Store) -> Result<Self, StoreError> {
        let secret = store.deployment_key(VAPID_KEY).await?;
        Self::from_secret(&secret).map_err(StoreError::Corrupt)
    }
}
