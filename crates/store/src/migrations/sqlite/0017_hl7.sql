-- HL7 v2 messages received (the integration log): each kept before it is
-- acknowledged, once per sender and control id (MSH-10), with what became
-- of it, so a message sent again is acknowledged without being applied
-- twice, and any can be replayed.

CREATE TABLE hl7_messages (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    sender          TEXT NOT NULL,
    control_id      TEXT NOT NULL,
    message_type    TEXT NOT NULL,
    raw             TEXT NOT NULL,
    received_at     INTEGER NOT NULL,
    status          TEXT NOT NULL,
    reason          TEXT,
    patient_id      TEXT,
    appointment_id  TEXT,
    UNIQUE (organization_id, sender, control_id)
) STRICT;
CREATE INDEX hl7_messages_by_org ON hl7_messages(organization_id, id);
