-- The durable job queue: work that must happen once, survive restarts, and
-- be shared by several processes (on PostgreSQL). A job is leased before it
-- runs; an expired lease means its process died, and the job runs again.

CREATE TABLE jobs (
    id              TEXT PRIMARY KEY,
    organization_id TEXT REFERENCES organizations(id),
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    state           TEXT NOT NULL,
    run_at          INTEGER NOT NULL,
    attempts        INTEGER NOT NULL,
    max_attempts    INTEGER NOT NULL,
    lease_owner     TEXT,
    lease_until     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
-- What the claim scans: runnable jobs by due time.
CREATE INDEX jobs_due ON jobs(run_at, id) WHERE state IN ('queued', 'running');
