-- Patients' answers to their visits' reminders; the texts they send in;
-- the staff worklist those raise; a message pinned to one channel and
-- address (a reply goes back to the number that wrote); what a reminder
-- rule sends once the patient confirmed, to prepare, and after the visit.

ALTER TABLE messages ADD COLUMN only_channel TEXT;
ALTER TABLE messages ADD COLUMN to_address TEXT;

-- A template kind, or NULL: nothing more once confirmed.
ALTER TABLE reminder_rules ADD COLUMN after_confirmation TEXT;
UPDATE reminder_rules SET after_confirmation = 'appointment_see_you';
-- Preparation messages ahead (offsets as in `offsets`, empty for none) and
-- the message after a fulfilled visit (one such item, or NULL).
ALTER TABLE reminder_rules ADD COLUMN preparation TEXT NOT NULL DEFAULT '';
ALTER TABLE reminder_rules ADD COLUMN after_visit TEXT;
-- The message after a no-show (a template kind, or NULL for none).
ALTER TABLE reminder_rules ADD COLUMN after_no_show TEXT;
UPDATE reminder_rules SET after_no_show = 'appointment_missed';

-- Unique per provider reference: a webhook delivered twice is one text.
-- `outcome` stays NULL until the text was handled, so a retried webhook
-- finishes what a failed one began.
CREATE TABLE inbound_texts (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    provider_ref    TEXT NOT NULL,
    from_address    TEXT NOT NULL,
    to_address      TEXT NOT NULL,
    body            TEXT NOT NULL,
    received_at     INTEGER NOT NULL,
    patient_id      TEXT REFERENCES patients(id),
    appointment_id  TEXT,
    outcome         TEXT,
    UNIQUE (organization_id, provider_ref)
) STRICT;
CREATE INDEX inbound_texts_by_patient ON inbound_texts(organization_id, patient_id, received_at);

-- No key to appointments: an answer stays history when the visit is deleted.
-- `written_back_at` is the EHR integration's mark: answers to visits with a
-- source system wait there until written back.
CREATE TABLE visit_answers (
    id                  TEXT PRIMARY KEY,
    organization_id     TEXT NOT NULL REFERENCES organizations(id),
    appointment_id      TEXT NOT NULL,
    appointment_version INTEGER NOT NULL,
    patient_id          TEXT NOT NULL REFERENCES patients(id),
    answer              TEXT NOT NULL,
    channel             TEXT NOT NULL,
    message_id          TEXT NOT NULL REFERENCES messages(id),
    inbound_id          TEXT REFERENCES inbound_texts(id),
    answered_at         INTEGER NOT NULL,
    written_back_at     INTEGER
) STRICT;
CREATE INDEX visit_answers_by_visit ON visit_answers(organization_id, appointment_id, answered_at);
CREATE INDEX visit_answers_by_patient ON visit_answers(organization_id, patient_id, answered_at);

CREATE TABLE staff_tasks (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    kind            TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    patient_id      TEXT REFERENCES patients(id),
    appointment_id  TEXT,
    inbound_id      TEXT REFERENCES inbound_texts(id),
    state           TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    done_at         INTEGER,
    done_by         TEXT,
    UNIQUE (organization_id, idempotency_key)
) STRICT;
CREATE INDEX staff_tasks_by_state ON staff_tasks(organization_id, state, id);

-- An organization's own reply words, added to the standard ones: each
-- column holds one answer's words, one per line.
CREATE TABLE reply_words (
    organization_id TEXT PRIMARY KEY REFERENCES organizations(id),
    confirm         TEXT NOT NULL,
    cancel          TEXT NOT NULL,
    reschedule      TEXT NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
