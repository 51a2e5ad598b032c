-- The shared inbox. A conversation is one patient's thread across channels,
-- or, for a number Rapport cannot attribute (unknown, or shared by several
-- patients), that number's until staff link it to a patient. Its texts
-- point at it; the patient's messages and its notes make up the rest.
-- Teams staff belong to (front desk, billing, nurses): a conversation can
-- be assigned to one as well as to a person.
CREATE TABLE teams (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    name            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    version         BIGINT NOT NULL,
    UNIQUE (organization_id, name)
);
CREATE TABLE team_members (
    team_id  TEXT NOT NULL REFERENCES teams(id),
    staff_id TEXT NOT NULL REFERENCES staff_users(id),
    PRIMARY KEY (team_id, staff_id)
);
CREATE INDEX team_members_by_staff ON team_members(staff_id);

CREATE TABLE conversations (
    id                  TEXT PRIMARY KEY,
    organization_id     TEXT NOT NULL REFERENCES organizations(id),
    patient_id          TEXT REFERENCES patients(id),
    -- The number that last wrote (replies go to it).
    number              TEXT NOT NULL,
    status              TEXT NOT NULL,
    assigned_to         TEXT REFERENCES staff_users(id),
    team_id             TEXT REFERENCES teams(id),
    -- Set when a text read as "stop texting me": a person must look.
    revocation_flag_at  BIGINT,
    last_text_at        BIGINT,
    -- When the after-hours answer last went (once per closed stretch).
    after_hours_reply_at BIGINT,
    last_activity_at    BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    version             BIGINT NOT NULL
);
CREATE UNIQUE INDEX conversations_of_patient ON conversations(organization_id, patient_id) WHERE patient_id IS NOT NULL;
CREATE UNIQUE INDEX conversations_of_number ON conversations(organization_id, number) WHERE patient_id IS NULL;
CREATE INDEX conversations_by_activity ON conversations(organization_id, last_activity_at, id);

-- Staff's notes in a thread: patients never see them.
CREATE TABLE conversation_notes (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    author_id       TEXT NOT NULL REFERENCES staff_users(id),
    body            TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX conversation_notes_by_conversation ON conversation_notes(conversation_id, created_at);

-- How far each staff member has read each thread (their unread count).
CREATE TABLE conversation_reads (
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    staff_id        TEXT NOT NULL REFERENCES staff_users(id),
    read_at         BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, staff_id)
);

ALTER TABLE inbound_texts ADD COLUMN conversation_id TEXT REFERENCES conversations(id);
-- The provider's media links (JSON: [{"url": …, "content_type": …}]).
ALTER TABLE inbound_texts ADD COLUMN media TEXT;
-- When Rapport fetched the media (`[sms] fetch_media`), or gave up on it.
-- (The partial index keeps the fetcher's scan to the texts still waiting.)
ALTER TABLE inbound_texts ADD COLUMN media_fetched_at BIGINT;
-- MMS media fetched from the provider, kept so staff see it after the
-- provider deletes its copy.
CREATE TABLE text_media (
    text_id         TEXT NOT NULL REFERENCES inbound_texts(id),
    position        BIGINT NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    content_type    TEXT NOT NULL,
    bytes           BYTEA NOT NULL,
    fetched_at      BIGINT NOT NULL,
    PRIMARY KEY (text_id, position)
);
CREATE INDEX inbound_texts_media_to_fetch ON inbound_texts(received_at)
    WHERE media IS NOT NULL AND media_fetched_at IS NULL;
CREATE INDEX inbound_texts_by_conversation ON inbound_texts(conversation_id, received_at);

-- Ready answers staff pick in the inbox, filled for the patient at hand.
CREATE TABLE canned_replies (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    title           TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    UNIQUE (organization_id, title)
);
