-- The EHR feeds' code tables: what a sender's location, provider and visit
-- type codes mean here. A code Rapport could not place is kept with no
-- target: the mapping task staff see (/integration/code-mappings) and fill,
-- before replaying the messages that waited for it.

CREATE TABLE code_mappings (
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    system          TEXT NOT NULL,
    kind            TEXT NOT NULL,
    code            TEXT NOT NULL,
    display         TEXT NOT NULL,
    target          TEXT,
    first_seen_at   INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (organization_id, system, kind, code)
) STRICT;
