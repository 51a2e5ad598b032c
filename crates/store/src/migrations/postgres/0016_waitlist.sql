-- The waitlist: patients who want an earlier visit, with what suits them
-- (every criterion optional; days as `mon,tue`, times `HH:MM`, dates
-- `YYYY-MM-DD`, local to the slot's location); a freed slot's offer
-- (one per cancelled visit) and who it went to, round by round.

CREATE TABLE waitlist_entries (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    patient_id      TEXT NOT NULL REFERENCES patients(id),
    provider_id     TEXT REFERENCES providers(id),
    location_id     TEXT REFERENCES locations(id),
    visit_type      TEXT,
    earliest        TEXT,
    latest          TEXT,
    days            TEXT NOT NULL,
    from_time       TEXT,
    until_time      TEXT,
    state           TEXT NOT NULL,
    appointment_id  TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX waitlist_entries_by_state ON waitlist_entries(organization_id, state, created_at);

-- `state`: open (a round is out), taken, or closed (nobody took it in time).
CREATE TABLE slot_offers (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    appointment_id  TEXT NOT NULL,
    start_at        BIGINT NOT NULL,
    state           TEXT NOT NULL,
    round           BIGINT NOT NULL,
    closes_at       BIGINT NOT NULL,
    taken_by        TEXT REFERENCES waitlist_entries(id),
    booked_id       TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (organization_id, appointment_id)
);
CREATE INDEX slot_offers_open ON slot_offers(state, closes_at);

-- `outcome`: taken, or too_late (a YES after the slot was gone).
CREATE TABLE offer_recipients (
    offer_id   TEXT NOT NULL REFERENCES slot_offers(id),
    entry_id   TEXT NOT NULL REFERENCES waitlist_entries(id),
    patient_id TEXT NOT NULL REFERENCES patients(id),
    message_id TEXT NOT NULL REFERENCES messages(id),
    round      BIGINT NOT NULL,
    outcome    TEXT,
    PRIMARY KEY (offer_id, entry_id)
);
CREATE INDEX offer_recipients_by_message ON offer_recipients(message_id);
