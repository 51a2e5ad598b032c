-- Web push subscriptions (RFC 8030, keys for RFC 8291): what a patient's
-- browser or app gave when it subscribed. A push message's address is the
-- subscription's id; one the push service reports gone (404/410) is listed
-- in undeliverable_addresses and never used again.

CREATE TABLE push_subscriptions (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    patient_id      TEXT NOT NULL REFERENCES patients(id),
    endpoint        TEXT NOT NULL,
    p256dh          TEXT NOT NULL,
    auth            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    UNIQUE (organization_id, endpoint)
) STRICT;
CREATE INDEX push_subscriptions_by_patient ON push_subscriptions(patient_id, id);
