-- SMART Backend Services: clients registered with their public keys and
-- the system scopes they may have; each assertion's jti taken once (kept
-- until it expires); the access tokens they get are API tokens that expire.
CREATE TABLE smart_clients (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    name            TEXT NOT NULL,
    -- The JWKS (public keys) as JSON.
    jwks            TEXT NOT NULL,
    -- The system scopes it may be granted, space-separated.
    scope           TEXT NOT NULL,
    created_by      TEXT,
    created_at      BIGINT NOT NULL,
    revoked_at      BIGINT
);
CREATE TABLE smart_assertions (
    client_id  TEXT NOT NULL REFERENCES smart_clients(id),
    jti        TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;
