-- Schedules: when a provider (or a location's own diary) can be booked.
-- Slots are computed from these and the booked visits, never stored.
CREATE TABLE schedules (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    location_id     TEXT NOT NULL REFERENCES locations(id),
    provider_id     TEXT REFERENCES providers(id),
    -- [["09:00","12:00"], …] per weekday, Monday first, local time.
    hours           TEXT NOT NULL,
    slot_minutes    BIGINT NOT NULL CHECK (slot_minutes BETWEEN 5 AND 480),
    horizon_start   BIGINT,
    horizon_end     BIGINT,
    active          BIGINT NOT NULL,
    service_type    TEXT,
    comment         TEXT,
    source_system   TEXT,
    source_id       TEXT,
    version         BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX schedules_source ON schedules (organization_id, source_system, source_id);
CREATE INDEX schedules_location ON schedules (organization_id, location_id);
CREATE INDEX schedules_provider ON schedules (organization_id, provider_id);
