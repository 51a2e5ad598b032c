-- The lease claims per kind and priority rank: `jobs_due_by_priority`
-- (kind, priority, run_at, id) answers each claim with one range. The older
-- `jobs_due` (run_at, id) let a generic plan scan every due job of every
-- rank for a rank with nothing due; it goes. The sweep for workers that
-- died on every attempt reads expired leases by their own index.
DROP INDEX jobs_due;
CREATE INDEX jobs_leased ON jobs(lease_until) WHERE state = 'running';
