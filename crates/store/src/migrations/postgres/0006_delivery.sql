-- Delivery through real providers: where each message went and the
-- provider's id for it (status reports find the message by that id), when
-- the hand-off began (a lookup after an in-doubt outcome searches from
-- there); addresses that cannot receive; and each sender's suppression list
-- (a patient who texted STOP to that number).

ALTER TABLE messages ADD COLUMN address TEXT;
ALTER TABLE messages ADD COLUMN provider_ref TEXT;
ALTER TABLE messages ADD COLUMN sending_at BIGINT;
CREATE UNIQUE INDEX messages_by_provider_ref ON messages(provider_ref) WHERE provider_ref IS NOT NULL;

CREATE TABLE undeliverable_addresses (
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    channel         TEXT NOT NULL,
    address         TEXT NOT NULL,
    reason          TEXT NOT NULL,
    at              BIGINT NOT NULL,
    PRIMARY KEY (organization_id, channel, address)
);

CREATE TABLE sms_suppressions (
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    sender          TEXT NOT NULL,
    address         TEXT NOT NULL,
    at              BIGINT NOT NULL,
    PRIMARY KEY (organization_id, sender, address)
);

-- Keys this deployment generates for itself (the unsubscribe links' HMAC
-- key): created on first use, never shown.
CREATE TABLE deployment_keys (
    name       TEXT PRIMARY KEY,
    key        TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
