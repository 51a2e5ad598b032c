-- Reminder rules: an organization's schedule for its visits, or those of
-- one location, one visit type, or both (the most specific wins; without
-- any, the standard 3 days and 1 day). Offsets are `3d:appointment_reminder`
-- items joined by commas. One rule per scope.

CREATE TABLE reminder_rules (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    location_id     TEXT REFERENCES locations(id),
    visit_type      TEXT,
    offsets         TEXT NOT NULL,
    confirmation    TEXT NOT NULL,
    version         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX reminder_rules_scope
    ON reminder_rules(organization_id, COALESCE(location_id, ''), COALESCE(visit_type, ''));
