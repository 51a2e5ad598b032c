-- FHIR resources Rapport keeps as they were sent without acting on them:
-- organizations other than the tenant (referrers, payers, units), what was
-- said elsewhere (Communication), requests that are not Rapport's to carry
-- out, consents about other things than contacting the patient. The body
-- is the resource as sent, without id and meta; the columns beside it are
-- what searches and the patient's record need.
CREATE TABLE fhir_records (
    id                TEXT PRIMARY KEY,
    organization_id   TEXT NOT NULL REFERENCES organizations(id),
    resource_type     TEXT NOT NULL,
    patient_id        TEXT REFERENCES patients(id),
    identifier_system TEXT,
    identifier_value  TEXT,
    -- Lowercased, for a search by a name's start (Organization).
    name              TEXT,
    body              TEXT NOT NULL,
    version           BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
-- Not unique: FHIR lets two resources share an identifier (the official
-- Communication examples do); a conditional create finds the newest.
CREATE INDEX fhir_records_identifier
    ON fhir_records (organization_id, resource_type, identifier_system, identifier_value);
CREATE INDEX fhir_records_patient ON fhir_records (organization_id, patient_id, resource_type);
