-- Pacing: who goes first and how fast a sender may send. A message has a
-- priority (reply, timely, bulk), which its send job carries as a rank the
-- lease reads in order; each sender with a rate limit has one row of state
-- (the GCRA's next arrival time, and its count for the UTC day), locked by
-- the transaction that commits hand-offs, so every process shares it.

ALTER TABLE messages ADD COLUMN priority TEXT NOT NULL DEFAULT 'timely';
ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 1;
CREATE INDEX jobs_due_by_priority ON jobs(kind, priority, run_at, id) WHERE state IN ('queued', 'running');

CREATE TABLE send_rates (
    bucket  TEXT PRIMARY KEY,
    next_at INTEGER NOT NULL,
    day     TEXT NOT NULL,
    sent    INTEGER NOT NULL
) STRICT;
