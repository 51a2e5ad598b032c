-- Recall rules: a visit type and an interval; patients whose last
-- fulfilled visit of that type is older, with no visit ahead, get the
-- rule's attempts (days after they fell due, joined by commas).

CREATE TABLE recall_rules (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    visit_type      TEXT NOT NULL,
    interval_months BIGINT NOT NULL,
    attempts        TEXT NOT NULL,
    template        TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    UNIQUE (organization_id, visit_type)
);

-- The recall scan reads a type's fulfilled visits.
CREATE INDEX appointments_by_type ON appointments(organization_id, visit_type, status, end_at);
