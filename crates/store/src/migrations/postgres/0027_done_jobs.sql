-- Finished jobs are pruned once their keeping time has passed: the pruner
-- finds the oldest done ones by this index. Dead jobs stay (evidence, and
-- the guard that keeps a write-back or a media fetch from being queued again).
CREATE INDEX jobs_done ON jobs(updated_at) WHERE state = 'done';
