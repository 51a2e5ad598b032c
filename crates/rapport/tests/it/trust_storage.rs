//! The trust tables' contract on both backends: accounts, sessions, tokens,
//! throttling, and an audit chain that shows any edit or deletion.

use jiff::SignedDuration;
use rapport::store::{
    AuditQuery, Db, DbOptions, NewApiToken, NewSession, NewStaffUser, PageRequest, StoreError, ThrottleRule,
};
use rapport_domain::{ActorKind, Capability, Email, NewAuditEvent, Outcome, Role};

use crate::support::{on_each_backend, on_each_backend_url, seed_organization, test_now};

fn new_user(org: rapport_domain::OrganizationId, email: &str, role: Role) -> NewStaffUser {
    NewStaffUser {
        organization_id: org,
        email: Email::parse(email).expect("email"),
        display_name: "Dana Reyes".into(),
        role,
        password_hash: "$argon2id$not-a-real-hash".into(),
    }
}

#[tokio::test]
async fn staff_accounts_are_unique_by_email_and_scoped_by_organization() {
    on_each_backend(|store| async move {
        let org = seed_organization(&store, "Lakeside").await;
        let other = seed_organization(&store, "Elsewhere").await;
        let user =
            store.create_staff_user(&new_user(org.id, "dana@lakeside.example", Role::FrontDesk)).await.expect("user");
        assert_eq!((user.role, user.mfa_enrolled, user.is_active()), (Role::FrontDesk, false, true));
        let again = store.create_staff_user(&new_user(other.id, "dana@lakeside.example", Role::Clinician)).await;
        assert!(matches!(again, Err(StoreError::Conflict { .. })), "{again:?}");
        assert!(matches!(store.staff_user(other.id, user.id).await, Err(StoreError::NotFound)));
        let (found, credentials) = store
            .staff_sign_in(&Email::parse("dana@lakeside.example").expect("email"))
            .await
            .expect("q")
            .expect("found");
        assert_eq!(found.id, user.id);
        assert_eq!(credentials.password_hash, "$argon2id$not-a-real-hash");
        assert!(!format!("{credentials:?}").contains("argon2"), "secrets stay out of Debug");
        let promoted = store.set_staff_role(org.id, user.id, Role::Administrator).await.expect("role");
        assert_eq!((promoted.role, promoted.version), (Role::Administrator, 2));
    })
    .await;
}

#[tokio::test]
async fn mfa_enrolment_codes_and_recovery_codes_are_single_use() {
    on_each_backend(|store| async move {
        let org = seed_organization(&store, "Lakeside").await;
        let user = store
            .create_staff_user(&new_user(org.id, "ann@lakeside.example", Role::Administrator))
            .await
            .expect("user");
        assert!(
            matches!(store.confirm_mfa_enrolment(user.id, 1, &[]).await, Err(StoreError::NotFound)),
            "nothing pending"
        );
        store.begin_mfa_enrolment(user.id, "MZXW6YTBOI").await.expect("begin");
        store.confirm_mfa_enrolment(user.id, 100, &["d1".into(), "d2".into()]).await.expect("confirm");
        let (user, credentials) = store.staff_credentials(user.id).await.expect("read");
        assert!(user.mfa_enrolled);
        assert_eq!((credentials.mfa_secret.as_deref(), credentials.mfa_pending_secret), (Some("MZXW6YTBOI"), None));
        assert!(!store.use_mfa_step(user.id, 100).await.expect("step"), "the enrolment code cannot be replayed");
        assert!(store.use_mfa_step(user.id, 101).await.expect("step"));
        assert!(!store.use_mfa_step(user.id, 101).await.expect("step"), "nor any code twice");
        assert!(store.use_recovery_code(user.id, "d1").await.expect("code"));
        assert!(!store.use_recovery_code(user.id, "d1").await.expect("code"), "a recovery code works once");
        assert!(!store.use_recovery_code(user.id, "unknown").await.expect("code"));
        assert_eq!(store.unused_recovery_codes(user.id).await.expect("count"), 1);
        store.reset_mfa(user.id).await.expect("reset");
        let (user, _) = store.staff_credentials(user.id).await.expect("read");
        assert!(!user.mfa_enrolled);
        assert_eq!(store.unused_recovery_codes(user.id).await.expect("count"), 0);
        assert!(!store.mfa_required_for_all(org.id).await.expect("setting"));
        store.set_mfa_required_for_all(org.id, true).await.expect("set");
        assert!(store.mfa_required_for_all(org.id).await.expect("setting"));
    })
    .await;
}

#[tokio::test]
async fn sessions_end_one_by_one_everywhere_or_when_the_account_is_disabled() {
    on_each_backend(|store| async move {
        let org = seed_organization(&store, "Lakeside").await;
        let user =
            store.create_staff_user(&new_user(org.id, "ann@lakeside.example", Role::Clinician)).await.expect("user");
        let open = |digest: &str| NewSession {
            user_id: user.id,
            organization_id: org.id,
            token_digest: digest.into(),
            mfa_pending: true,
            client_address: Some("127.0.0.1".into()),
            user_agent: None,
            expires_at: test_now() + SignedDuration::from_hours(12),
        };
        let first = store.create_session(&open("a")).await.expect("session");
        let second = store.create_session(&open("b")).await.expect("session");
        store.complete_session_mfa(first.id).await.expect("mfa");
        let found = store.session_by_digest("a").await.expect("q").expect("found");
        assert_eq!((found.id, found.mfa_pending, found.last_seen_at), (first.id, false, test_now()));
        assert_eq!(store.sessions_of(user.id).await.expect("list").len(), 2);
        store.end_session(second.id).await.expect("end");
        assert!(store.session_by_digest("b").await.expect("q").is_none());
        store.create_session(&open("c")).await.expect("session");
        assert_eq!(store.end_sessions_of(user.id).await.expect("everywhere"), 2);
        store.create_session(&open("d")).await.expect("session");
        let disabled = store.set_staff_disabled(org.id, user.id, true).await.expect("disable");
        assert!(!disabled.is_active());
        assert!(store.session_by_digest("d").await.expect("q").is_none(), "disabling signs out");
    })
    .await;
}

#[tokio::test]
async fn api_tokens_are_found_by_digest_until_revoked() {
    on_each_backend(|store| async move {
        let org = seed_organization(&store, "Lakeside").await;
        let new = NewApiToken {
            organization_id: org.id,
            name: "EHR feed".into(),
            prefix: "rpt_abcd".into(),
            token_digest: "digest-1".into(),
            scopes: vec![Capability::PatientRead, Capability::AppointmentWrite],
            created_by: None,
        };
        let token = store.create_api_token(&new).await.expect("token");
        assert!(token.allows(Capability::PatientRead) && !token.allows(Capability::PatientWrite));
        assert_eq!(store.api_token_by_digest("digest-1").await.expect("q").map(|t| t.id), Some(token.id));
        store.touch_api_token(token.id).await.expect("touch");
        assert_eq!(store.api_token(org.id, token.id).await.expect("read").last_used_at, Some(test_now()));
        let revoked = store.revoke_api_token(org.id, token.id).await.expect("revoke");
        assert_eq!(revoked.revoked_at, Some(test_now()));
        assert!(store.api_token_by_digest("digest-1").await.expect("q").is_none());
        assert_eq!(store.api_tokens(org.id).await.expect("list").len(), 1, "revoked tokens stay listed");
    })
    .await;
}

#[tokio::test]
async fn failures_lock_a_key_at_the_limit_and_success_clears_them() {
    on_each_backend(|store| async move {
        let rule = ThrottleRule {
            max_failures: 3,
            window: SignedDuration::from_mins(15),
            lockout: SignedDuration::from_mins(15),
        };
        assert_eq!(store.record_login_failure("account:x", rule).await.expect("fail"), None);
        assert_eq!(store.record_login_failure("account:x", rule).await.expect("fail"), None);
        assert_eq!(store.login_locked_until("account:x").await.expect("q"), None);
        let until = store.record_login_failure("account:x", rule).await.expect("fail");
        assert_eq!(until, Some(test_now() + SignedDuration::from_mins(15)));
        assert_eq!(store.login_locked_until("account:x").await.expect("q"), until);
        assert_eq!(store.login_locked_until("account:y").await.expect("q"), None, "keys are separate");
        store.record_login_failure("account:y", rule).await.expect("fail");
        store.clear_login_failures("account:y").await.expect("clear");
        store.record_login_failure("account:y", rule).await.expect("fail");
        assert_eq!(store.record_login_failure("account:y", rule).await.expect("fail"), None, "cleared counts restart");
    })
    .await;
}

fn event(org: rapport_domain::OrganizationId, action: &str) -> NewAuditEvent {
    let mut event = NewAuditEvent::new(Some(org), ActorKind::User, action, Outcome::Success);
    event.actor_id = Some("user-1".into());
    event
}

#[tokio::test]
async fn audit_events_chain_per_organization_and_answer_queries() {
    on_each_backend(|store| async move {
        let org = seed_organization(&store, "Lakeside").await;
        let other = seed_organization(&store, "Elsewhere").await;
        let first = store.append_audit(&event(org.id, "patient.read")).await.expect("append");
        let second = store.append_audit(&event(org.id, "patient.update")).await.expect("append");
        let theirs = store.append_audit(&event(other.id, "patient.read")).await.expect("append");
        let system = store
            .append_audit(&NewAuditEvent::new(None, ActorKind::Anonymous, "auth.login", Outcome::Denied))
            .await
            .expect("append");
        assert_eq!((first.seq, second.seq, theirs.seq, system.seq), (1, 2, 1, 1));
        assert_eq!(second.prev_hash, first.hash);
        assert_eq!(first.prev_hash, "0".repeat(64));
        let all = store.audit_events(org.id, &AuditQuery::default(), &PageRequest::first(1)).await.expect("q");
        assert_eq!(all.items.iter().map(|e| e.seq).collect::<Vec<_>>(), [2], "newest first");
        let next = PageRequest { after: all.next_cursor.clone(), limit: 1 };
        let rest = store.audit_events(org.id, &AuditQuery::default(), &next).await.expect("q");
        assert_eq!(rest.items.iter().map(|e| e.seq).collect::<Vec<_>>(), [1]);
        let reads = AuditQuery { action: Some("patient.read".into()), ..AuditQuery::default() };
        let found = store.audit_events(org.id, &reads, &PageRequest::first(50)).await.expect("q");
        assert_eq!(found.items.len(), 1);
        assert_eq!(found.items[0], first);
        let reports = store.verify_audit().await.expect("verify");
        assert_eq!(reports.len(), 3);
        assert!(reports.iter().all(|r| r.problems.is_empty()), "{reports:?}");
    })
    .await;
}

#[tokio::test]
async fn concurrent_appends_keep_one_unbroken_chain() {
    on_each_backend(|store| async move {
        let org = seed_organization(&store, "Lakeside").await;
        let appends = (0..20).map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.append_audit(&event(org.id, &format!("patient.read.{i}"))).await })
        });
        for handle in appends.collect::<Vec<_>>() {
            handle.await.expect("join").expect("append");
        }
        let reports = store.verify_audit().await.expect("verify");
        assert_eq!(reports[0].events, 20);
        assert!(reports[0].problems.is_empty(), "{reports:?}");
    })
    .await;
}

#[tokio::test]
async fn verify_detects_an_edited_a_deleted_and_a_cut_event() {
    on_each_backend_url(|store, url| async move {
        let org = seed_organization(&store, "Lakeside").await;
        for i in 0..6 {
            store.append_audit(&event(org.id, &format!("patient.read.{i}"))).await.expect("append");
        }
        // Someone with the database in hand: the append-only triggers refuse, so they drop them first.
        let raw = Db::connect(&url, &DbOptions::default()).await.expect("connect");
        let refused = raw.execute("UPDATE audit_events SET action = 'x' WHERE seq = 2", vec![]).await;
        assert!(refused.is_err(), "the database refuses edits to the trail");
        let drop_guard = match raw.backend() {
            rapport::store::Backend::Sqlite => {
                "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete"
            }
            rapport::store::Backend::Postgres => "DROP TRIGGER audit_events_append_only ON audit_events",
        };
        for statement in drop_guard.split(';') {
            raw.execute(sqlx::AssertSqlSafe(statement.to_owned()), vec![]).await.expect("drop trigger");
        }
        raw.execute("UPDATE audit_events SET actor_id = 'someone-else' WHERE seq = 2", vec![]).await.expect("edit");
        raw.execute("DELETE FROM audit_events WHERE seq = 4", vec![]).await.expect("delete");
        raw.execute("DELETE FROM audit_events WHERE seq = 6", vec![]).await.expect("cut");
        raw.close().await;
        let report = store.verify_audit().await.expect("verify").remove(0);
        assert_eq!(
            report.problems,
            [
                "event 2: content does not match its hash (edited)",
                "events 4 to 4 are missing (deleted)",
                "the chain ends at event 5 but its head says 6 (events cut from the end)",
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn retention_prunes_old_events_and_leaves_a_verifiable_chain_and_a_record() {
    on_each_backend_url(|store, url| async move {
        let org = seed_organization(&store, "Lakeside").await;
        for i in 0..5 {
            store.append_audit(&event(org.id, &format!("patient.read.{i}"))).await.expect("append");
        }
        let nothing = store.prune_audit(test_now()).await.expect("prune");
        assert!(nothing.is_empty(), "nothing is older than now: {nothing:?}");
        let pruned = store.prune_audit(test_now() + SignedDuration::from_secs(1)).await.expect("prune");
        assert_eq!(pruned, [(org.id.to_string(), 5)]);
        store.append_audit(&event(org.id, "patient.read.after")).await.expect("append");
        let report = store.verify_audit().await.expect("verify").remove(0);
        assert_eq!((report.events, report.problems.len()), (2, 0), "{report:?}");
        let trail = store.audit_events(org.id, &AuditQuery::default(), &PageRequest::first(10)).await.expect("q");
        let actions: Vec<&str> = trail.items.iter().map(|e| e.event.action.as_str()).collect();
        assert_eq!(actions, ["patient.read.after", "audit.prune"]);
        assert_eq!(trail.items[1].event.resource_id.as_deref(), Some("5"));

        let raw = Db::connect(&url, &DbOptions::default()).await.expect("connect");
        let refused = raw.execute("DELETE FROM audit_events WHERE seq = 7", vec![]).await;
        assert!(refused.is_err(), "events above the floor cannot be deleted");
        // Raising the floor by hand and deleting leaves no retention record: verify tells.
        raw.execute("UPDATE audit_heads SET floor_seq = 6", vec![]).await.expect("raise the floor");
        raw.execute("DELETE FROM audit_events WHERE seq = 6", vec![]).await.expect("delete under the floor");
        raw.close().await;
        let report = store.verify_audit().await.expect("verify").remove(0);
        assert!(report.problems.iter().any(|p| p.contains("without a retention record")), "{report:?}");
    })
    .await;
}
