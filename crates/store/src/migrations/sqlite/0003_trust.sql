-- Trust: staff accounts, sessions, API tokens, sign-in throttling and the
-- audit trail (append-only, one hash chain per organization).

CREATE TABLE staff_users (
    id                 TEXT PRIMARY KEY,
    organization_id    TEXT NOT NULL REFERENCES organizations(id),
    email              TEXT NOT NULL,
    display_name       TEXT NOT NULL,
    role               TEXT NOT NULL,
    password_hash      TEXT NOT NULL,
    mfa_secret         TEXT,
    mfa_pending_secret TEXT,
    mfa_last_step      INTEGER,
    disabled_at        INTEGER,
    version            INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
) STRICT;
-- Sign-in names are unique across the deployment: a login needs no organization.
CREATE UNIQUE INDEX staff_users_email ON staff_users(email);
CREATE INDEX staff_users_by_org ON staff_users(organization_id, id);

CREATE TABLE recovery_codes (
    user_id   TEXT NOT NULL REFERENCES staff_users(id),
    code_hash TEXT NOT NULL,
    used_at   INTEGER,
    PRIMARY KEY (user_id, code_hash)
) STRICT;

CREATE TABLE organization_security (
    organization_id     TEXT PRIMARY KEY REFERENCES organizations(id),
    mfa_required_for_all INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    token_hash      TEXT NOT NULL UNIQUE,
    user_id         TEXT NOT NULL REFERENCES staff_users(id),
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    mfa_pending     INTEGER NOT NULL,
    client_address  TEXT,
    user_agent      TEXT,
    created_at      INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_by_user ON sessions(user_id);

CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES staff_users(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;
CREATE INDEX password_resets_by_user ON password_resets(user_id);

CREATE TABLE api_tokens (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    name            TEXT NOT NULL,
    token_hash      TEXT NOT NULL UNIQUE,
    prefix          TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    created_by      TEXT,
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER,
    revoked_at      INTEGER
) STRICT;
CREATE INDEX api_tokens_by_org ON api_tokens(organization_id, id);

CREATE TABLE login_attempts (
    key          TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    locked_until INTEGER
) STRICT;

-- Each chain's last event, and its floor: the last event removed by a
-- retention prune (0 and the genesis hash until the first prune).
CREATE TABLE audit_heads (
    chain      TEXT PRIMARY KEY,
    seq        INTEGER NOT NULL,
    hash       TEXT NOT NULL,
    floor_seq  INTEGER NOT NULL,
    floor_hash TEXT NOT NULL
) STRICT;

CREATE TABLE audit_events (
    id              TEXT PRIMARY KEY,
    chain           TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    occurred_at     INTEGER NOT NULL,
    organization_id TEXT,
    actor_kind      TEXT NOT NULL,
    actor_id        TEXT,
    action          TEXT NOT NULL,
    resource_type   TEXT,
    resource_id     TEXT,
    patient_id      TEXT,
    outcome         TEXT NOT NULL,
    status          INTEGER,
    break_glass     INTEGER NOT NULL,
    reason          TEXT,
    client_address  TEXT,
    user_agent      TEXT,
    prev_hash       TEXT NOT NULL,
    hash            TEXT NOT NULL,
    UNIQUE (chain, seq)
) STRICT;
CREATE INDEX audit_by_patient ON audit_events(organization_id, patient_id, seq);
CREATE INDEX audit_by_actor ON audit_events(organization_id, actor_id, seq);
CREATE INDEX audit_by_time ON audit_events(organization_id, occurred_at);

-- Append-only: the application never changes an event, and removes only
-- those at or below the chain's floor (a retention prune raises the floor
-- first, in the same transaction, and records itself in the chain).
-- Someone with the database file can drop these; the hash chain then tells.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
WHEN OLD.seq > COALESCE((SELECT floor_seq FROM audit_heads WHERE chain = OLD.chain), 0)
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
