-- The registry: organizations, locations, providers, patients, consents, appointments.
-- Instants are microseconds since the Unix epoch (UTC); ids are UUIDv7 text.

CREATE TABLE organizations (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    time_zone        TEXT NOT NULL,
    default_language TEXT NOT NULL,
    version          INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
) STRICT;

CREATE TABLE locations (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    name            TEXT NOT NULL,
    address         TEXT NOT NULL,
    phone           TEXT,
    time_zone       TEXT NOT NULL,
    opening_hours   TEXT NOT NULL,
    version         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX locations_by_org ON locations(organization_id, id);

CREATE TABLE providers (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    given_name      TEXT NOT NULL,
    family_name     TEXT NOT NULL,
    title           TEXT,
    npi             TEXT,
    location_ids    TEXT NOT NULL,
    version         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX providers_by_org ON providers(organization_id, id);
CREATE UNIQUE INDEX providers_npi ON providers(organization_id, npi) WHERE npi IS NOT NULL;

CREATE TABLE patients (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    given_name      TEXT NOT NULL,
    family_name     TEXT NOT NULL,
    given_key       TEXT NOT NULL,
    family_key      TEXT NOT NULL,
    preferred_name  TEXT,
    birth_date      TEXT,
    sex             TEXT NOT NULL,
    gender_identity TEXT,
    language        TEXT,
    time_zone       TEXT,
    address         TEXT NOT NULL,
    channel_order   TEXT NOT NULL,
    quiet_start     TEXT,
    quiet_end       TEXT,
    attributes      TEXT NOT NULL,
    version         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    deleted_at      INTEGER
) STRICT;
CREATE INDEX patients_by_org ON patients(organization_id, id);
CREATE INDEX patients_by_family ON patients(organization_id, family_key);
CREATE INDEX patients_by_given ON patients(organization_id, given_key);
CREATE INDEX patients_by_birth_date ON patients(organization_id, birth_date);

CREATE TABLE patient_contacts (
    patient_id      TEXT NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL,
    system          TEXT NOT NULL,
    position        INTEGER NOT NULL,
    value           TEXT NOT NULL,
    kind            TEXT,
    PRIMARY KEY (patient_id, system, position)
) STRICT;
CREATE INDEX patient_contacts_by_value ON patient_contacts(organization_id, value);

CREATE TABLE patient_identifiers (
    organization_id TEXT NOT NULL,
    system          TEXT NOT NULL,
    value           TEXT NOT NULL,
    patient_id      TEXT NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
    PRIMARY KEY (organization_id, system, value)
) STRICT;
CREATE INDEX patient_identifiers_by_patient ON patient_identifiers(patient_id);
CREATE INDEX patient_identifiers_by_value ON patient_identifiers(organization_id, value);

CREATE TABLE patient_codes (
    patient_id      TEXT NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL,
    kind            TEXT NOT NULL,
    code            TEXT NOT NULL,
    PRIMARY KEY (patient_id, kind, code)
) STRICT;
CREATE INDEX patient_codes_by_code ON patient_codes(organization_id, kind, code);

CREATE TABLE patient_caregivers (
    patient_id      TEXT NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
    caregiver_id    TEXT NOT NULL REFERENCES patients(id),
    relationship    TEXT NOT NULL,
    PRIMARY KEY (patient_id, caregiver_id)
) STRICT;

CREATE TABLE consents (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    patient_id      TEXT NOT NULL REFERENCES patients(id),
    channel         TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    status          TEXT NOT NULL,
    source          TEXT NOT NULL,
    evidence        TEXT,
    recorded_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX consents_by_patient ON consents(organization_id, patient_id, id);

CREATE TABLE appointments (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    patient_id      TEXT NOT NULL REFERENCES patients(id),
    provider_id     TEXT REFERENCES providers(id),
    location_id     TEXT NOT NULL REFERENCES locations(id),
    start_at        INTEGER NOT NULL,
    end_at          INTEGER NOT NULL,
    time_zone       TEXT NOT NULL,
    visit_type      TEXT NOT NULL,
    status          TEXT NOT NULL,
    source_system   TEXT,
    source_id       TEXT,
    version         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX appointments_source ON appointments(organization_id, source_system, source_id);
CREATE INDEX appointments_by_patient ON appointments(organization_id, patient_id, start_at);
CREATE INDEX appointments_by_start ON appointments(organization_id, start_at);
CREATE INDEX appointments_by_org ON appointments(organization_id, id);
