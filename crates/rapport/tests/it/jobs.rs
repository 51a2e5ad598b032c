//! The durable job queue's contract on both backends: idempotent enqueue,
//! leases that only one worker wins, crashed workers' jobs run again, retries
//! with backoff, and `dead` after the last attempt.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jiff::SignedDuration;
use rapport::jobs::{BatchReport, JobFailure, JobHandler, RetryPolicy, WorkerSettings, work_batch};
use rapport::store::{Job, JobState, NewJob, Store};

use crate::support::{on_each_backend_full, test_now};

fn job(key: &str) -> NewJob {
    NewJob {
        organization_id: None,
        kind: "test.echo".into(),
        payload: format!(r#"{{"key":"{key}"}}"#),
        idempotency_key: key.into(),
        run_at: test_now(),
        max_attempts: 3,
        rank: 1,
    }
}

fn settings(owner: &str) -> WorkerSettings {
    WorkerSettings {
        owner: owner.into(),
        batch: 10,
        lease_for: SignedDuration::from_mins(5),
        retry: RetryPolicy { jitter: 0.0, ..RetryPolicy::default() },
    }
}

/// Counts runs per job; fails the first `failures` runs of each.
#[derive(Clone, Default)]
struct Recorder {
    runs: Arc<Mutex<HashMap<String, u32>>>,
    failures: u32,
    permanent: bool,
}

impl JobHandler for Recorder {
    fn kind(&self) -> &'static str {
        "test.echo"
    }

    async fn run(&self, job: &Job) -> Result<(), JobFailure> {
        let mut runs = self.runs.lock().expect("lock");
        let count = runs.entry(job.idempotency_key.clone()).or_default();
        *count += 1;
        match (*count <= self.failures, self.permanent) {
            (false, _) => Ok(()),
            (true, false) => Err(JobFailure::Retry("provider answered 503".into())),
            (true, true) => Err(JobFailure::Permanent("the payload names no patient".into())),
        }
    }
}

#[tokio::test]
async fn enqueueing_a_key_twice_keeps_the_first_job() {
    on_each_backend_full(|store, _, _| async move {
        let (first, created) = store.enqueue_job(&job("reminder:a1:v1")).await.expect("enqueue");
        assert!(created);
        let mut again = job("reminder:a1:v1");
        again.payload = "{}".into();
        let (second, created) = store.enqueue_job(&again).await.expect("enqueue");
        assert!(!created);
        assert_eq!((second.id, second.payload), (first.id, first.payload));
        assert_eq!(store.count_jobs("test.echo", JobState::Queued).await.expect("count"), 1);
    })
    .await;
}

#[tokio::test]
async fn a_job_waits_for_its_time_and_a_lease_is_won_once() {
    on_each_backend_full(|store, _, clock| async move {
        let mut later = job("later");
        later.run_at = test_now() + SignedDuration::from_mins(10);
        store.enqueue_job(&later).await.expect("enqueue");
        store.enqueue_job(&job("now")).await.expect("enqueue");
        let lease = SignedDuration::from_mins(5);
        let first = store.lease_jobs("worker-a", "test.echo", 10, lease).await.expect("lease");
        assert_eq!(first.iter().map(|j| j.idempotency_key.as_str()).collect::<Vec<_>>(), ["now"]);
        assert_eq!((first[0].attempts, first[0].state), (1, JobState::Running));
        assert!(store.lease_jobs("worker-b", "test.echo", 10, lease).await.expect("lease").is_empty());
        clock.set(test_now() + SignedDuration::from_mins(11));
        let second = store.lease_jobs("worker-b", "test.echo", 10, lease).await.expect("lease");
        let keys: Vec<&str> = second.iter().map(|j| j.idempotency_key.as_str()).collect();
        assert_eq!(keys, ["now", "later"], "the one whose worker went silent, and the one now due (by due time)");
        assert!(!store.complete_job(first[0].id, "worker-a").await.expect("complete"), "worker-a lost its lease");
        assert!(store.complete_job(first[0].id, "worker-b").await.expect("complete"));
        assert_eq!(store.job(first[0].id).await.expect("job").attempts, 2);
    })
    .await;
}

#[tokio::test]
async fn failures_retry_with_backoff_then_die_and_permanent_ones_die_at_once() {
    on_each_backend_full(|store, _, clock| async move {
        let (queued, _) = store.enqueue_job(&job("flaky")).await.expect("enqueue");
        let always = Recorder { failures: 99, ..Recorder::default() };
        let worker = settings("worker-a");
        let report = work_batch(&store, &always, &worker).await.expect("batch");
        assert_eq!(report, BatchReport { retried: 1, ..BatchReport::default() });
        let waiting = store.job(queued.id).await.expect("job");
        assert_eq!(waiting.run_at, test_now() + SignedDuration::from_secs(30), "first retry after 30 s");
        assert_eq!(waiting.last_error.as_deref(), Some("provider answered 503"));
        assert_eq!(work_batch(&store, &always, &worker).await.expect("batch"), BatchReport::default(), "not yet");
        clock.set(test_now() + SignedDuration::from_secs(30));
        work_batch(&store, &always, &worker).await.expect("batch");
        assert_eq!(store.job(queued.id).await.expect("job").run_at, test_now() + SignedDuration::from_secs(90));
        clock.set(test_now() + SignedDuration::from_secs(90));
        let last = work_batch(&store, &always, &worker).await.expect("batch");
        assert_eq!(last.dead, 1, "three attempts, then dead");
        assert_eq!(store.job(queued.id).await.expect("job").state, JobState::Dead);

        let (doomed, _) = store.enqueue_job(&job("doomed")).await.expect("enqueue");
        let refuses = Recorder { failures: 1, permanent: true, ..Recorder::default() };
        assert_eq!(work_batch(&store, &refuses, &worker).await.expect("batch").dead, 1);
        assert_eq!(store.job(doomed.id).await.expect("job").attempts, 1);
    })
    .await;
}

#[tokio::test]
async fn a_job_whose_worker_keeps_dying_goes_dead_after_its_attempts() {
    on_each_backend_full(|store, _, clock| async move {
        let (queued, _) = store.enqueue_job(&job("crashy")).await.expect("enqueue");
        for attempt in 1..=3 {
            let leased = store.lease_jobs("doomed-worker", "test.echo", 1, SignedDuration::from_mins(5)).await;
            assert_eq!(leased.expect("lease")[0].attempts, attempt);
            clock.set(clock.now() + SignedDuration::from_mins(6)); // the worker died holding it
        }
        assert!(
            store.lease_jobs("next", "test.echo", 1, SignedDuration::from_mins(5)).await.expect("lease").is_empty(),
            "no attempt left: never leased again"
        );
        assert_eq!(store.job(queued.id).await.expect("job").state, JobState::Running, "until the sweep");
        assert_eq!(store.sweep_exhausted_leases().await.expect("sweep"), 1);
        let dead = store.job(queued.id).await.expect("job");
        assert_eq!((dead.state, dead.lease_owner), (JobState::Dead, None));
    })
    .await;
}

#[tokio::test]
async fn concurrent_workers_run_each_job_exactly_once() {
    on_each_backend_full(|store, _, _| async move {
        for i in 0..120 {
            store.enqueue_job(&job(&format!("job-{i}"))).await.expect("enqueue");
        }
        let recorder = Recorder::default();
        let workers: Vec<_> = (0..3)
            .map(|w| {
                let (store, recorder): (Store, Recorder) = (store.clone(), recorder.clone());
                tokio::spawn(async move {
                    let settings = settings(&format!("worker-{w}"));
                    let mut done = 0;
                    loop {
                        let report = work_batch(&store, &recorder, &settings).await.expect("batch");
                        if report == BatchReport::default() {
                            return done;
                        }
                        assert!(report.done <= settings.batch, "a lease took more than its batch: {report:?}");
                        done += report.done;
                    }
                })
            })
            .collect();
        let mut total = 0;
        for worker in workers {
            total += worker.await.expect("worker");
        }
        assert_eq!(total, 120);
        let runs = recorder.runs.lock().expect("lock").clone();
        assert_eq!(runs.len(), 120);
        assert!(runs.values().all(|count| *count == 1), "a job ran twice");
        assert_eq!(store.count_jobs("test.echo", JobState::Done).await.expect("count"), 120);
    })
    .await;
}

#[tokio::test]
async fn done_jobs_are_pruned_after_their_keeping_time_and_dead_ones_stay() {
    use rapport::engine::SideWorker;
    on_each_backend_full(|store, _, clock| async move {
        let (old, _) = store.enqueue_job(&job("old")).await.expect("enqueue");
        let (doomed, _) = store.enqueue_job(&job("doomed")).await.expect("enqueue");
        let refuses = Recorder { failures: 99, permanent: true, ..Recorder::default() };
        let fine = Recorder::default();
        let worker = settings("worker-a");
        assert_eq!(work_batch(&store, &refuses, &worker).await.expect("batch").dead, 2);
        let (done, _) = store.enqueue_job(&job("done")).await.expect("enqueue");
        assert_eq!(work_batch(&store, &fine, &worker).await.expect("batch").done, 1);
        let pruner = rapport::engine::job_pruner::JobPruner::new(store.clone(), SignedDuration::from_hours(24));
        assert_eq!(pruner.batch(&worker).await.expect("prune").done, 0, "kept for a day");
        clock.set(test_now() + SignedDuration::from_hours(25));
        let (recent, _) = store.enqueue_job(&job("recent")).await.expect("enqueue");
        assert_eq!(work_batch(&store, &fine, &worker).await.expect("batch").done, 1);
        assert_eq!(pruner.batch(&worker).await.expect("prune").done, 0, "it rests a minute after an empty batch");
        let pruner = rapport::engine::job_pruner::JobPruner::new(store.clone(), SignedDuration::from_hours(24));
        assert_eq!(pruner.batch(&worker).await.expect("prune").done, 1);
        assert!(matches!(store.job(done.id).await, Err(rapport::store::StoreError::NotFound)), "pruned");
        for kept in [old.id, doomed.id, recent.id] {
            assert!(store.job(kept).await.is_ok(), "dead and recent jobs stay");
        }
        assert!(!store.enqueue_job(&job("old")).await.expect("enqueue").1, "a dead job still guards its key");
    })
    .await;
}
