-- Message templates: an organization's own words for a kind of message in a
-- language (the shipped ones live in the code); a templated message names
-- its kind and, when it is about a visit, the appointment. Its subject and
-- body are composed at hand-off and kept, with the language chosen, so the
-- record says exactly what the patient was sent.

CREATE TABLE message_templates (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    kind            TEXT NOT NULL,
    language        TEXT NOT NULL,
    class           TEXT NOT NULL,
    text            TEXT NOT NULL,
    email_subject   TEXT,
    email_body      TEXT,
    version         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (organization_id, kind, language)
) STRICT;

ALTER TABLE messages ADD COLUMN template_kind TEXT;
-- No foreign key: a message outlives the visit it was about (its record
-- stays when the appointment is deleted; an unsent one is then suppressed).
ALTER TABLE messages ADD COLUMN appointment_id TEXT;
ALTER TABLE messages ADD COLUMN language TEXT;
