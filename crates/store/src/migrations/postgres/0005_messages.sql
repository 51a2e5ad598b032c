-- Outbound messages: one row per message, unique per organization by its
-- idempotency key (planning twice is a no-op); each decision about it is a
-- row of message_events (the trace staff read to answer "why?"); the log
-- channel's outbox holds what would have been sent.

CREATE TABLE messages (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    patient_id      TEXT NOT NULL REFERENCES patients(id),
    class           TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    state           TEXT NOT NULL,
    channel         TEXT,
    subject         TEXT,
    body            TEXT NOT NULL,
    due_at          BIGINT NOT NULL,
    expires_at      BIGINT,
    reason          TEXT,
    sent_at         BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (organization_id, idempotency_key)
);
CREATE INDEX messages_by_patient ON messages(organization_id, patient_id, id);
-- The frequency cap reads a patient's recent sends of a class.
CREATE INDEX messages_sent ON messages(patient_id, class, sent_at) WHERE sent_at IS NOT NULL;

CREATE TABLE message_events (
    message_id TEXT NOT NULL REFERENCES messages(id),
    seq        BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    note       TEXT NOT NULL,
    PRIMARY KEY (message_id, seq)
);

CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    message_id      TEXT NOT NULL UNIQUE REFERENCES messages(id),
    channel         TEXT NOT NULL,
    address         TEXT NOT NULL,
    subject         TEXT,
    body            TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX outbox_by_org ON outbox(organization_id, id);
