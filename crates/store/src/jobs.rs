//! The durable job queue's table. A claim is one `UPDATE … RETURNING` whose
//! `WHERE` re-checks the lease, so two claimers can never both win a job;
//! on PostgreSQL the candidates are also picked `FOR UPDATE SKIP LOCKED`, so
//! they do not queue behind each other. No transaction is held while a job
//! runs: its lease is what marks it taken.

use jiff::{SignedDuration, Timestamp};
use rapport_domain::{JobId, OrganizationId};
use sqlx::AssertSqlSafe;

use super::db::{Backend, Row, Tx, args};
use super::{Store, StoreError};

/// The highest (last served) rank a job may have.
pub const MAX_RANK: i64 = 2;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Waiting for its `run_at`.
    Queued,
    /// Leased by a worker (or its worker died and the lease will expire).
    Running,
    Done,
    /// Gave up after `max_attempts`.
    Dead,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Dead => "dead",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        [JobState::Queued, JobState::Running, JobState::Done, JobState::Dead]
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or(StoreError::Corrupt("bad job state"))
    }
}

/// How one run of a leased job ended, to be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobResult {
    Done,
    /// Run again at `at`, or go to `dead` if the attempts are used up.
    Retry {
        error: String,
        at: Timestamp,
    },
    /// Never run again.
    Dead {
        error: String,
    },
    /// Not a failure: wait until `until`, the attempt not counted.
    Later {
        until: Timestamp,
    },
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub organization_id: Option<OrganizationId>,
    pub kind: String,
    /// JSON text the job's handler reads.
    pub payload: String,
    /// Enqueueing the same key twice is a no-op (the first job stands).
    pub idempotency_key: String,
    pub run_at: Timestamp,
    pub max_attempts: i64,
    /// Its rank in the queue: among due jobs, lower ranks are leased first
    /// (0 to 2; see `rapport_domain::message::pace::Priority`).
    pub rank: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: JobId,
    pub organization_id: Option<OrganizationId>,
    pub kind: String,
    pub payload: String,
    pub idempotency_key: String,
    pub state: JobState,
    pub run_at: Timestamp,
    /// Runs started so far, this one included while it runs.
    pub attempts: i64,
    pub max_attempts: i64,
    pub lease_owner: Option<String>,
    pub lease_until: Option<Timestamp>,
    pub last_error: Option<String>,
}

fn job_from_row(r: &Row) -> Result<Job, StoreError> {
    Ok(Job {
        id: r.parsed("id")?,
        organization_id: r.opt_parsed("organization_id")?,
        kind: r.text("kind")?,
        payload: r.text("payload")?,
        idempotency_key: r.text("idempotency_key")?,
        state: JobState::parse(&r.text("state")?)?,
        run_at: r.timestamp("run_at")?,
        attempts: r.int("attempts")?,
        max_attempts: r.int("max_attempts")?,
        lease_owner: r.opt_text("lease_owner")?,
        lease_until: r.opt_int("lease_until")?.map(super::db::from_micros).transpose()?,
        last_error: r.opt_text("last_error")?,
    })
}

impl Store {
    /// Enqueues `new` unless a job with its key exists; returns the job
    /// under that key and whether this call created it.
    pub async fn enqueue_job(&self, new: &NewJob) -> Result<(Job, bool), StoreError> {
        let mut tx = self.db.begin().await?;
        let created = self.enqueue_job_in(&mut tx, new).await?;
        tx.commit().await?;
        let row = self
            .db
            .fetch_optional(
                "SELECT * FROM jobs WHERE idempotency_key = $1",
                args([new.idempotency_key.as_str().into()]),
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok((job_from_row(&row)?, created))
    }

    /// Enqueues many jobs in one statement inside the caller's transaction
    /// (a key already queued keeps its first job).
    pub(super) async fn enqueue_jobs_in(&self, tx: &mut Tx, jobs: &[NewJob]) -> Result<(), StoreError> {
        if jobs.is_empty() {
            return Ok(());
        }
        let now = self.clock.now();
        let rows = jobs
            .iter()
            .map(|new| {
                vec![
                    JobId::generate().to_string().into(),
                    new.organization_id.map(|o| o.to_string()).into(),
                    new.kind.as_str().into(),
                    new.payload.as_str().into(),
                    new.idempotency_key.as_str().into(),
                    "queued".into(),
                    new.run_at.into(),
                    0_i64.into(),
                    new.max_attempts.max(1).into(),
                    now.into(),
                    now.into(),
                    new.rank.clamp(0, MAX_RANK).into(),
                ]
            })
            .collect();
        let into = "jobs (id, organization_id, kind, payload, idempotency_key, state, run_at, attempts, max_attempts, \
                    created_at, updated_at, priority)";
        super::db::insert_rows_then(tx, into, rows, "ON CONFLICT (idempotency_key) DO NOTHING").await
    }

    /// [`enqueue_job`](Store::enqueue_job) inside the caller's transaction,
    /// so the job commits with the record it works on; true if created.
    pub(super) async fn enqueue_job_in(&self, tx: &mut Tx, new: &NewJob) -> Result<bool, StoreError> {
        self.insert_job_in(tx, new, "DO NOTHING").await
    }

    /// Queues `new` afresh: a job of its idempotency key that ended (done
    /// or dead) runs again, its attempts from zero.
    pub(super) async fn requeue_job_in(&self, tx: &mut Tx, new: &NewJob) -> Result<bool, StoreError> {
        let again = "DO UPDATE SET state = 'queued', run_at = excluded.run_at, attempts = 0, lease_owner = NULL,
            lease_until = NULL, last_error = NULL, updated_at = excluded.updated_at";
        self.insert_job_in(tx, new, again).await
    }

    async fn insert_job_in(&self, tx: &mut Tx, new: &NewJob, on_conflict: &'static str) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let sql = format!(
            "INSERT INTO jobs (id, organization_id, kind, payload, idempotency_key, state, run_at, attempts,
                 max_attempts, created_at, updated_at, priority)
             VALUES ($1, $2, $3, $4, $5, 'queued', $6, 0, $7, $8, $8, $9)
             ON CONFLICT (idempotency_key) {on_conflict}"
        );
        let created = tx
            .execute(
                sqlx::AssertSqlSafe(sql),
                args([
                    JobId::generate().to_string().into(),
                    new.organization_id.map(|o| o.to_string()).into(),
                    new.kind.as_str().into(),
                    new.payload.as_str().into(),
                    new.idempotency_key.as_str().into(),
                    new.run_at.into(),
                    new.max_attempts.max(1).into(),
                    now.into(),
                    new.rank.clamp(0, MAX_RANK).into(),
                ]),
            )
            .await?;
        Ok(created == 1)
    }

    pub async fn job(&self, id: JobId) -> Result<Job, StoreError> {
        let row = self
            .db
            .fetch_optional("SELECT * FROM jobs WHERE id = $1", args([id.to_string().into()]))
            .await?
            .ok_or(StoreError::NotFound)?;
        job_from_row(&row)
    }

    /// Leases up to `limit` due jobs of `kind` to `owner` for `lease_for`,
    /// the lowest rank first, each rank in due order (one indexed claim per
    /// rank until the batch is full: a rank with nothing due costs one
    /// index probe). A job whose lease expired (its worker died) is due
    /// again; one that has used all its attempts that way goes to `dead`
    /// instead.
    pub async fn lease_jobs(
        &self,
        owner: &str,
        kind: &str,
        limit: usize,
        lease_for: SignedDuration,
    ) -> Result<Vec<Job>, StoreError> {
        let now = self.clock.now();
        // Each rank's claim is one range of `jobs_due_by_priority`. The
        // candidates are picked once (MATERIALIZED): PostgreSQL may otherwise
        // run a `LIMIT … SKIP LOCKED` subquery more than once and lease more
        // jobs than asked; and they are updated by primary key (an array on
        // PostgreSQL, whose generic plan would otherwise scan the table).
        // A lease that expired is taken again while attempts remain; one
        // with none left waits for `sweep_exhausted_leases`.
        let runnable = "state IN ('queued', 'running') AND run_at <= $3
             AND (lease_until IS NULL OR (lease_until <= $3 AND attempts < max_attempts))";
        let picked = match self.db.backend() {
            Backend::Postgres => "id = ANY(ARRAY(SELECT id FROM picked))",
            Backend::Sqlite => "id IN (SELECT id FROM picked)",
        };
        let sql = format!(
            "WITH picked AS MATERIALIZED (
                 SELECT id FROM jobs WHERE {runnable} AND kind = $4 AND priority = $6 ORDER BY run_at, id LIMIT $5 {})
             UPDATE jobs SET state = 'running', lease_owner = $1, lease_until = $2, attempts = attempts + 1,
                 updated_at = $3
             WHERE {picked} AND {runnable}
             RETURNING *",
            self.db.skip_locked()
        );
        let mut jobs = Vec::with_capacity(limit);
        for rank in 0..=MAX_RANK {
            let room = limit.saturating_sub(jobs.len());
            if room == 0 {
                break;
            }
            let values =
                [owner.into(), (now + lease_for).into(), now.into(), kind.into(), (room as i64).into(), rank.into()];
            let rows = self.db.fetch_all(AssertSqlSafe(sql.clone()), args(values)).await?;
            let mut leased = rows.iter().map(job_from_row).collect::<Result<Vec<_>, _>>()?;
            leased.sort_by_key(|j| (j.run_at, j.id));
            jobs.extend(leased);
        }
        Ok(jobs)
    }

    /// Marks a leased job done; false if `owner` no longer holds its lease
    /// (it expired and another worker took the job).
    pub async fn complete_job(&self, id: JobId, owner: &str) -> Result<bool, StoreError> {
        let recorded = self.finish_jobs(owner, &[(id, JobResult::Done)]).await?;
        Ok(recorded.first().copied().flatten().is_some())
    }

    /// Records how runs of leased jobs ended, in one transaction. For each,
    /// the state it is in now, or `None` if `owner` had lost its lease (then
    /// nothing is recorded for it).
    pub async fn finish_jobs(
        &self,
        owner: &str,
        results: &[(JobId, JobResult)],
    ) -> Result<Vec<Option<JobState>>, StoreError> {
        let mut tx = self.db.begin().await?;
        let recorded = self.finish_jobs_in(&mut tx, owner, results).await?;
        tx.commit().await?;
        Ok(recorded)
    }

    /// [`finish_jobs`](Store::finish_jobs) inside the caller's transaction,
    /// so a job's end commits with what the job did.
    pub(super) async fn finish_jobs_in(
        &self,
        tx: &mut Tx,
        owner: &str,
        results: &[(JobId, JobResult)],
    ) -> Result<Vec<Option<JobState>>, StoreError> {
        let now = self.clock.now();
        // The common end, done, in one statement for all.
        let done: Vec<String> =
            results.iter().filter(|(_, r)| *r == JobResult::Done).map(|(id, _)| id.to_string()).collect();
        let mut finished = std::collections::HashSet::new();
        if !done.is_empty() {
            let sql = format!(
                "UPDATE jobs SET state = 'done', lease_owner = NULL, lease_until = NULL, updated_at = $2
                 WHERE lease_owner = $1 AND state = 'running' AND id IN ({}) RETURNING id",
                super::db::placeholders(3, done.len())
            );
            let mut values = args([owner.into(), now.into()]);
            values.extend(done.into_iter().map(Into::into));
            for row in tx.fetch_all(AssertSqlSafe(sql), values).await? {
                finished.insert(row.parsed::<JobId>("id")?);
            }
        }
        let mut recorded = Vec::with_capacity(results.len());
        for (job, result) in results {
            let (id, owner) = (job.to_string(), owner.to_owned());
            let row = match result {
                JobResult::Done => {
                    recorded.push(finished.contains(job).then_some(JobState::Done));
                    continue;
                }
                JobResult::Retry { error, at } => {
                    tx.fetch_optional(
                        "UPDATE jobs SET state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END,
                             run_at = $3, last_error = $4, lease_owner = NULL, lease_until = NULL, updated_at = $5
                         WHERE id = $1 AND lease_owner = $2 AND state = 'running' RETURNING state",
                        args([id.into(), owner.into(), (*at).into(), error.as_str().into(), now.into()]),
                    )
                    .await?
                }
                JobResult::Dead { error } => {
                    tx.fetch_optional(
                        "UPDATE jobs SET state = 'dead', last_error = $3, lease_owner = NULL, lease_until = NULL,
                             updated_at = $4
                         WHERE id = $1 AND lease_owner = $2 AND state = 'running' RETURNING state",
                        args([id.into(), owner.into(), error.as_str().into(), now.into()]),
                    )
                    .await?
                }
                JobResult::Later { until } => {
                    tx.fetch_optional(
                        "UPDATE jobs SET state = 'queued', run_at = $3, attempts = attempts - 1, lease_owner = NULL,
                             lease_until = NULL, updated_at = $4
                         WHERE id = $1 AND lease_owner = $2 AND state = 'running' RETURNING state",
                        args([id.into(), owner.into(), (*until).into(), now.into()]),
                    )
                    .await?
                }
            };
            recorded.push(row.map(|r| JobState::parse(&r.text("state")?)).transpose()?);
        }
        Ok(recorded)
    }

    /// How many jobs of `kind` are in `state`.
    /// Jobs whose worker died holding them on every attempt (their last
    /// lease expired with no attempt left) go `dead`; how many. Found by
    /// the expired leases' index, `jobs_leased`.
    pub async fn sweep_exhausted_leases(&self) -> Result<u64, StoreError> {
        let now = self.clock.now();
        self.db
            .execute(
                "UPDATE jobs SET state = 'dead', lease_owner = NULL, lease_until = NULL, updated_at = $1,
                     last_error = 'the worker stopped before finishing, on every attempt'
                 WHERE state = 'running' AND lease_until <= $1 AND attempts >= max_attempts",
                args([now.into()]),
            )
            .await
    }

    /// Deletes up to `limit` jobs that finished (`done`) before `before`,
    /// the oldest first; how many it deleted. Dead jobs are kept.
    pub async fn prune_done_jobs(&self, before: Timestamp, limit: usize) -> Result<u64, StoreError> {
        self.db
            .execute(
                "DELETE FROM jobs WHERE id IN (
                     SELECT id FROM jobs WHERE state = 'done' AND updated_at < $1 ORDER BY updated_at LIMIT $2)",
                args([before.into(), (limit as i64).into()]),
            )
            .await
    }

    pub async fn count_jobs(&self, kind: &str, state: JobState) -> Result<i64, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT COUNT(*) AS n FROM jobs WHERE kind = $1 AND state = $2",
                args([kind.into(), state.as_str().into()]),
            )
            .await?;
        row.map_or(Ok(0), |r| r.int("n"))
    }
}
