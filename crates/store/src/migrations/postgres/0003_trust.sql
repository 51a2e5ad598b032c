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
    mfa_last_step      BIGINT,
    disabled_at        BIGINT,
    version            BIGINT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
-- Sign-in names are unique across the deployment: a login needs no organization.
CREATE UNIQUE INDEX staff_users_email ON staff_users(email);
CREATE INDEX staff_users_by_org ON staff_users(organization_id, id);

CREATE TABLE recovery_codes (
    user_id   TEXT NOT NULL REFERENCES staff_users(id),
    code_hash TEXT NOT NULL,
    used_at   BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE organization_security (
    organization_id     TEXT PRIMARY KEY REFERENCES organizations(id),
    mfa_required_for_all BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);

CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    token_hash      TEXT NOT NULL UNIQUE,
    user_id         TEXT NOT NULL REFERENCES staff_users(id),
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    mfa_pending     BIGINT NOT NULL,
    client_address  TEXT,
    user_agent      TEXT,
    created_at      BIGINT NOT NULL,
    last_seen_at    BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions(user_id);

CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES staff_users(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX password_resets_by_user ON password_resets(user_id);

CREATE TABLE api_tokens (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    name            TEXT NOT NULL,
    token_hash      TEXT NOT NULL UNIQUE,
    prefix          TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    created_by      TEXT,
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT,
    revoked_at      BIGINT
);
CREATE INDEX api_tokens_by_org ON api_tokens(organization_id, id);

CREATE TABLE login_attempts (
    key          TEXT PRIMARY KEY,
    failures     BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    locked_until BIGINT
);

-- Each chain's last event, and its floor: the last event removed by a
-- retention prune (0 and the genesis hash until the first prune).
CREATE TABLE audit_heads (
    chain      TEXT PRIMARY KEY,
    seq        BIGINT NOT NULL,
    hash       TEXT NOT NULL,
    floor_seq  BIGINT NOT NULL,
    floor_hash TEXT NOT NULL
);

CREATE TABLE audit_events (
    id              TEXT PRIMARY KEY,
    chain           TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    occurred_at     BIGINT NOT NULL,
    organization_id TEXT,
    actor_kind      TEXT NOT NULL,
    actor_id        TEXT,
    action          TEXT NOT NULL,
    resource_type   TEXT,
    resource_id     TEXT,
    patient_id      TEXT,
    outcome         TEXT NOT NULL,
    status          BIGINT,
    break_glass     BIGINT NOT NULL,
    reason          TEXT,
    client_address  TEXT,
    user_agent      TEXT,
    prev_hash       TEXT NOT NULL,
    hash            TEXT NOT NULL,
    UNIQUE (chain, seq)
);
CREATE INDEX audit_by_patient ON audit_events(organization_id, patient_id, seq);
CREATE INDEX audit_by_actor ON audit_events(organization_id, actor_id, seq);
CREATE INDEX audit_by_time ON audit_events(organization_id, occurred_at);

-- Append-only: the application never changes an event, and removes only
-- those at or below the chain's floor (a retention prune raises the floor
-- first, in the same transaction, and records itself in the chain).
-- Someone with the database's owner role can drop this; the hash chain then tells.
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND OLD.seq <= COALESCE((SELECT floor_seq FROM audit_heads WHERE chain = OLD.chain), 0) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit events are append-only' USING ERRCODE = 'P0001';
END;
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
