//! Staff identity over HTTP: sign-in without account enumeration, lockout,
//! MFA enrolment and sign-in, session expiry, CSRF, sign-out everywhere,
//! token scopes, break-glass, the audit trail and the patient export.

use axum::http::StatusCode;
use jiff::SignedDuration;
use rapport::auth::totp;
use rapport::store::{AuditQuery, PageRequest};
use rapport_domain::{OrganizationId, Role};
use serde_json::{Value, json};

use crate::support::app::{Reply, TestApp, on_each_backend_app};

use crate::support::browser::{Browser, PASSWORD, staff};

async fn login(app: &TestApp, body: Value) -> Reply {
    app.send_raw("POST", "/api/v1/auth/login", Some(&body.to_string()), &[]).await
}

fn code_for(secret_base32: &str, app: &TestApp) -> String {
    let key = totp::base32_decode(secret_base32).expect("base32");
    format!("{:06}", totp::code_at(&key, totp::step_of(app.clock.now())))
}

#[tokio::test]
async fn unknown_account_wrong_password_and_disabled_account_answer_alike() {
    on_each_backend_app(|app| async move {
        let (org, _) = app.organization("Practice").await;
        let user = staff(&app, &org, "dana@practice.example", Role::FrontDesk).await;
        let disabled = staff(&app, &org, "gone@practice.example", Role::FrontDesk).await;
        app.store.set_staff_disabled(disabled.organization_id, disabled.id, true).await.expect("disable");
        let unknown = login(&app, json!({"email": "nobody@practice.example", "password": PASSWORD})).await;
        let wrong = login(&app, json!({"email": "dana@practice.example", "password": "not the passphrase"})).await;
        let off = login(&app, json!({"email": "gone@practice.example", "password": PASSWORD})).await;
        for reply in [&unknown, &wrong, &off] {
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
            assert_eq!(reply.body, unknown.body, "the same body whatever the cause");
            assert!(reply.headers.get("set-cookie").is_none());
        }
        assert_eq!(unknown.body["code"], "invalid_credentials");
        let ok = login(&app, json!({"email": "DANA@practice.example", "password": PASSWORD})).await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
        assert_eq!(ok.body["user"]["id"], user.id.to_string());
        let org_id: OrganizationId = org.parse().expect("id");
        let failures = AuditQuery { action: Some("auth.login".into()), ..AuditQuery::default() };
        let trail = app.store.audit_events(org_id, &failures, &PageRequest::first(10)).await.expect("trail");
        let outcomes: Vec<&str> = trail.items.iter().map(|e| e.event.outcome.as_str()).collect();
        assert_eq!(outcomes, ["success", "denied", "denied"], "sign-ins of known accounts are audited");
    })
    .await;
}

#[tokio::test]
async fn repeated_failures_lock_the_account_for_a_while_even_with_the_right_password() {
    on_each_backend_app(|app| async move {
        let (org, _) = app.organization("Practice").await;
        staff(&app, &org, "dana@practice.example", Role::FrontDesk).await;
        for _ in 0..5 {
            let reply = login(&app, json!({"email": "dana@practice.example", "password": "guess guess guess"})).await;
            assert_eq!(reply.body["code"], "invalid_credentials");
        }
        let locked = login(&app, json!({"email": "dana@practice.example", "password": PASSWORD})).await;
        assert_eq!(
            (locked.status, locked.body["code"].as_str()),
            (StatusCode::TOO_MANY_REQUESTS, Some("too_many_attempts"))
        );
        assert_eq!(locked.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("900"));
        let unknown_locked = login(&app, json!({"email": "nobody@practice.example", "password": "x"})).await;
        assert_eq!(unknown_locked.status, StatusCode::UNAUTHORIZED, "other names are not locked");
        app.clock.set(app.clock.now() + SignedDuration::from_mins(16));
        let later = login(&app, json!({"email": "dana@practice.example", "password": PASSWORD})).await;
        assert_eq!(later.status, StatusCode::OK, "{}", later.body);
    })
    .await;
}

#[tokio::test]
async fn an_administrator_enrols_mfa_before_anything_else_then_signs_in_with_codes() {
    on_each_backend_app(|app| async move {
        let (org, _) = app.organization("Practice").await;
        staff(&app, &org, "ann@practice.example", Role::Administrator).await;
        let first = login(&app, json!({"email": "ann@practice.example", "password": PASSWORD})).await;
        assert_eq!(first.status, StatusCode::OK);
        assert_eq!(first.body["session"]["mfa_enrolment_required"], true);
        let browser = Browser::from_login(&first);
        let patients = format!("/api/v1/organizations/{org}/patients");
        let blocked = browser.send(&app, "GET", &patients, None).await;
        assert_eq!(
            (blocked.status, blocked.body["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("mfa_enrolment_required"))
        );
        let enrolment = browser.send(&app, "POST", "/api/v1/auth/mfa/enrolment", None).await;
        assert_eq!(enrolment.status, StatusCode::OK, "{}", enrolment.body);
        let key = enrolment.body["secret"].as_str().expect("secret").to_owned();
        assert!(enrolment.body["otpauth_uri"].as_str().expect("uri").starts_with("otpauth://totp/Rapport%20Practice:"));
        let wrong =
            browser.send(&app, "POST", "/api/v1/auth/mfa/enrolment/confirm", Some(&json!({"code": "000000"}))).await;
        assert_eq!(wrong.body["code"], "invalid_code");
        let code = code_for(&key, &app);
        let confirmed =
            browser.send(&app, "POST", "/api/v1/auth/mfa/enrolment/confirm", Some(&json!({"code": code}))).await;
        assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
        let recovery: Vec<String> = confirmed.body["recovery_codes"]
            .as_array()
            .expect("codes")
            .iter()
            .map(|c| c.as_str().expect("code").to_owned())
            .collect();
        assert_eq!(recovery.len(), 10);
        assert_eq!(
            browser.send(&app, "GET", &patients, None).await.status,
            StatusCode::OK,
            "enrolled: the role applies"
        );

        let no_code = login(&app, json!({"email": "ann@practice.example", "password": PASSWORD})).await;
        assert_eq!((no_code.status, no_code.body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("mfa_required")));
        let replayed = login(&app, json!({"email": "ann@practice.example", "password": PASSWORD, "code": code})).await;
        assert_eq!(replayed.body["code"], "invalid_code", "the enrolment code cannot be used again");
        app.clock.set(app.clock.now() + SignedDuration::from_secs(30));
        let fresh = code_for(&key, &app);
        let with_code =
            login(&app, json!({"email": "ann@practice.example", "password": PASSWORD, "code": fresh})).await;
        assert_eq!(with_code.status, StatusCode::OK, "{}", with_code.body);
        assert_eq!(with_code.body["session"]["mfa_enrolment_required"], false);
        let spare =
            json!({"email": "ann@practice.example", "password": PASSWORD, "recovery_code": recovery[3].to_uppercase()});
        assert_eq!(login(&app, spare.clone()).await.status, StatusCode::OK);
        assert_eq!(login(&app, spare).await.body["code"], "invalid_code", "a recovery code works once");
    })
    .await;
}

#[tokio::test]
async fn sessions_end_when_idle_at_their_absolute_limit_and_when_signed_out_everywhere() {
    on_each_backend_app(|app| async move {
        let (org, _) = app.organization("Practice").await;
        staff(&app, &org, "dana@practice.example", Role::FrontDesk).await;
        let credentials = json!({"email": "dana@practice.example", "password": PASSWORD});
        let browser = Browser::from_login(&login(&app, credentials.clone()).await);
        let me = "/api/v1/auth/me";
        for _ in 0..3 {
            app.clock.set(app.clock.now() + SignedDuration::from_mins(14));
            assert_eq!(browser.send(&app, "GET", me, None).await.status, StatusCode::OK, "activity keeps it alive");
        }
        app.clock.set(app.clock.now() + SignedDuration::from_mins(16));
        let idle = browser.send(&app, "GET", me, None).await;
        assert_eq!((idle.status, idle.body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")));

        let busy = Browser::from_login(&login(&app, credentials.clone()).await);
        for _ in 0..(12 * 6 - 1) {
            app.clock.set(app.clock.now() + SignedDuration::from_mins(10));
            assert_eq!(busy.send(&app, "GET", me, None).await.status, StatusCode::OK);
        }
        app.clock.set(app.clock.now() + SignedDuration::from_mins(10));
        assert_eq!(busy.send(&app, "GET", me, None).await.status, StatusCode::UNAUTHORIZED, "12 hours at most");

        let laptop = Browser::from_login(&login(&app, credentials.clone()).await);
        let phone = Browser::from_login(&login(&app, credentials).await);
        let list = laptop.send(&app, "GET", "/api/v1/auth/sessions", None).await;
        let sessions = list.body.as_array().expect("sessions");
        assert_eq!(sessions.len(), 2);
        assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
        let out = laptop.send(&app, "POST", "/api/v1/auth/logout-everywhere", None).await;
        assert_eq!(out.status, StatusCode::NO_CONTENT);
        assert_eq!(phone.send(&app, "GET", me, None).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(laptop.send(&app, "GET", me, None).await.status, StatusCode::UNAUTHORIZED);
    })
    .await;
}

#[tokio::test]
async fn a_state_change_with_a_session_needs_its_csrf_token() {
    let app = TestApp::new().await;
    let (org, _) = app.organization("Practice").await;
    staff(&app, &org, "dana@practice.example", Role::FrontDesk).await;
    let browser =
        Browser::from_login(&login(&app, json!({"email": "dana@practice.example", "password": PASSWORD})).await);
    let path = format!("/api/v1/organizations/{org}/patients");
    let body = json!({"given_name": "Ann", "family_name": "Lee"}).to_string();
    for csrf in [None, Some("forged")] {
        let mut headers = vec![("cookie", browser.cookie.as_str())];
        headers.extend(csrf.map(|c| ("x-csrf-token", c)));
        let refused = app.send_raw("POST", &path, Some(&body), &headers).await;
        assert_eq!((refused.status, refused.body["code"].as_str()), (StatusCode::FORBIDDEN, Some("csrf_failed")));
    }
    assert_eq!(app.patient_count(&org).await, 0, "nothing was written");
    let created = browser.send(&app, "POST", &path, Some(&json!({"given_name": "Ann", "family_name": "Lee"}))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(app.send_raw("GET", &path, None, &[]).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn api_tokens_act_within_their_scopes_are_shown_once_and_stop_when_revoked() {
    on_each_backend_app(|app| async move {
        let (org, _) = app.organization("Practice").await;
        let admin = Browser::open(&app, &staff(&app, &org, "ann@practice.example", Role::Administrator).await).await;
        let tokens = format!("/api/v1/organizations/{org}/api-tokens");
        let refused =
            admin.send(&app, "POST", &tokens, Some(&json!({"name": "x", "scopes": ["audit:read", "fly"]}))).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        let created =
            admin.send(&app, "POST", &tokens, Some(&json!({"name": "Lab feed", "scopes": ["patients:read"]}))).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let secret_text = created.body["secret"].as_str().expect("secret").to_owned();
        let listed = admin.send(&app, "GET", &tokens, None).await;
        assert!(!listed.body.to_string().contains(&secret_text), "the secret is shown once");
        let bearer = format!("Bearer {secret_text}");
        let as_token = |method: &'static str, path: String, body: Option<String>| {
            let bearer = bearer.clone();
            let app = &app;
            async move { app.send_raw(method, &path, body.as_deref(), &[("authorization", bearer.as_str())]).await }
        };
        let patients = format!("/api/v1/organizations/{org}/patients");
        assert_eq!(as_token("GET", patients.clone(), None).await.status, StatusCode::OK);
        let write =
            as_token("POST", patients.clone(), Some(json!({"given_name": "A", "family_name": "B"}).to_string())).await;
        assert_eq!((write.status, write.body["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
        assert_eq!(as_token("GET", "/api/v1/auth/me".into(), None).await.status, StatusCode::FORBIDDEN);
        let id = created.body["token"]["id"].as_str().expect("id");
        let revoked = admin.send(&app, "DELETE", &format!("{tokens}/{id}"), None).await;
        assert_eq!(revoked.status, StatusCode::OK);
        assert!(revoked.body["last_used_at"].is_string(), "last use is kept: {}", revoked.body);
        assert_eq!(as_token("GET", patients, None).await.status, StatusCode::UNAUTHORIZED);
    })
    .await;
}

#[tokio::test]
async fn break_glass_opens_a_record_outside_the_role_and_the_trail_flags_it() {
    on_each_backend_app(|app| async move {
        let (org, _) = app.organization("Practice").await;
        let patient = app
            .post(&format!("/api/v1/organizations/{org}/patients"), json!({"given_name": "Ann", "family_name": "Lee"}))
            .await;
        let path = format!("/api/v1/organizations/{org}/patients/{}", patient.body["id"].as_str().expect("id"));
        let marketer = staff(&app, &org, "mo@practice.example", Role::Marketer).await;
        let browser = Browser::open(&app, &marketer).await;
        assert_eq!(browser.send(&app, "GET", &path, None).await.status, StatusCode::FORBIDDEN);
        let glass = [("cookie", browser.cookie.as_str()), ("x-break-glass-reason", "patient collapsed in the lobby")];
        let opened = app.send_raw("GET", &path, None, &glass).await;
        assert_eq!(opened.status, StatusCode::OK, "{}", opened.body);
        let mut write = glass.to_vec();
        write.push(("x-csrf-token", browser.csrf.as_str()));
        let body = json!({"given_name": "Ann", "family_name": "Lee"}).to_string();
        assert_eq!(
            app.send_raw("DELETE", &path, Some(&body), &write).await.status,
            StatusCode::FORBIDDEN,
            "reads only"
        );

        let auditor = Browser::open(&app, &staff(&app, &org, "al@practice.example", Role::Auditor).await).await;
        let trail = auditor
            .send(
                &app,
                "GET",
                &format!(
                    "/api/v1/organizations/{org}/audit-events?patient={}",
                    patient.body["id"].as_str().expect("id")
                ),
                None,
            )
            .await;
        assert_eq!(trail.status, StatusCode::OK, "{}", trail.body);
        let events = trail.body["items"].as_array().expect("events");
        let flagged: Vec<&Value> = events.iter().filter(|e| e["break_glass"] == true).collect();
        assert_eq!(flagged.len(), 1, "{}", trail.body);
        assert_eq!(flagged[0]["reason"], "patient collapsed in the lobby");
        assert_eq!(flagged[0]["actor_id"], marketer.id.to_string());
        assert_eq!(flagged[0]["action"], "patient.read");
        let outcomes: Vec<&str> = events.iter().map(|e| e["outcome"].as_str().unwrap_or("")).collect();
        assert_eq!(outcomes, ["denied", "success", "denied", "success"], "newest first: delete, glass, read, create");
        let csv = auditor
            .send(&app, "GET", &format!("/api/v1/organizations/{org}/audit-events?format=csv&limit=1000"), None)
            .await;
        assert_eq!(csv.content_type.as_deref(), Some("text/csv; charset=utf-8"));
        let text = csv.body.as_str().expect("csv text");
        assert!(text.starts_with("seq,id,occurred_at,actor_kind"), "{text}");
        assert!(text.contains("patient collapsed in the lobby"));
        let org_id: OrganizationId = org.parse().expect("org");
        let exports = AuditQuery { action: Some("audit.export".into()), ..AuditQuery::default() };
        let exported = app.store.audit_events(org_id, &exports, &PageRequest::first(5)).await.expect("trail");
        assert_eq!(exported.items.len(), 1, "the CSV export is audited as an export");
        let desk = Browser::open(&app, &staff(&app, &org, "fd@practice.example", Role::FrontDesk).await).await;
        let hidden = desk.send(&app, "GET", &format!("/api/v1/organizations/{org}/audit-events"), None).await;
        assert_eq!(hidden.status, StatusCode::FORBIDDEN, "the front desk does not see the trail");
    })
    .await;
}

#[tokio::test]
async fn a_patient_export_holds_the_record_consents_and_visits_and_is_audited() {
    let app = TestApp::new().await;
    let (org, location) = app.organization("Practice").await;
    let created = app
        .post(&format!("/api/v1/organizations/{org}/patients"), json!({"given_name": "Ann", "family_name": "Lee"}))
        .await;
    let id = created.body["id"].as_str().expect("id").to_owned();
    let base = format!("/api/v1/organizations/{org}");
    app.post(
        &format!("{base}/patients/{id}/consents"),
        json!({"channel": "sms", "purpose": "marketing", "status": "granted"}),
    )
    .await;
    let visit = json!({"patient_id": id, "location_id": location, "start": "2026-12-01T09:00:00-06:00", "duration_minutes": 30, "visit_type": "annual"});
    assert_eq!(app.post(&format!("{base}/appointments"), visit).await.status, StatusCode::CREATED);
    let admin = Browser::open(&app, &staff(&app, &org, "ann@practice.example", Role::Administrator).await).await;
    let export = admin.send(&app, "GET", &format!("{base}/patients/{id}/export"), None).await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.body);
    assert_eq!(export.body["patient"]["id"], id);
    assert_eq!(export.body["consents"].as_array().map(Vec::len), Some(1));
    assert_eq!(export.body["appointments"].as_array().map(Vec::len), Some(1));
    let query = AuditQuery { action: Some("patient.export".into()), ..AuditQuery::default() };
    let trail = app.store.audit_events(org.parse().expect("org"), &query, &PageRequest::first(5)).await.expect("trail");
    assert_eq!(trail.items.len(), 1);
    assert_eq!(trail.items[0].event.patient_id.map(|p| p.to_string()), Some(id));
    let integration = app.get(&format!("{base}/patients/{}/export", trail.items[0].event.patient_id.expect("p"))).await;
    assert_eq!(integration.status, StatusCode::FORBIDDEN, "tokens cannot export");
}

#[tokio::test]
async fn a_password_reset_link_works_once_before_it_expires_and_ends_every_session() {
    on_each_backend_app(|app| async move {
        use rapport::auth::reset;
        let (org, _) = app.organization("Practice").await;
        staff(&app, &org, "dana@practice.example", Role::FrontDesk).await;
        let known = ask_reset(&app, "dana@practice.example").await;
        let unknown = ask_reset(&app, "nobody@practice.example").await;
        assert_eq!((known.status, &known.body), (StatusCode::ACCEPTED, &unknown.body), "the same answer either way");
        assert_eq!(unknown.status, StatusCode::ACCEPTED);
        let browser =
            Browser::from_login(&login(&app, json!({"email": "dana@practice.example", "password": PASSWORD})).await);
        let (_, token) = reset::request(&app.store, "dana@practice.example").await.expect("q").expect("a link");
        let weak = confirm_reset(&app, &token, "short").await;
        assert_eq!(weak.body["errors"][0]["field"], "new_password");
        assert_eq!(
            confirm_reset(&app, &token, "a brand new passphrase").await.status,
            StatusCode::NO_CONTENT,
            "a weak try does not spend the link"
        );
        assert_eq!(browser.send(&app, "GET", "/api/v1/auth/me", None).await.status, StatusCode::UNAUTHORIZED);
        let new_login =
            login(&app, json!({"email": "dana@practice.example", "password": "a brand new passphrase"})).await;
        assert_eq!(new_login.status, StatusCode::OK);
        assert_eq!(
            confirm_reset(&app, &token, "yet another passphrase").await.body["errors"][0]["field"],
            "token",
            "once only"
        );
        assert!(reset::request(&app.store, "dana@practice.example").await.expect("q").is_some(), "the third link");
        assert!(
            reset::request(&app.store, "dana@practice.example").await.expect("q").is_none(),
            "three links per 15 minutes"
        );
        app.clock.set(app.clock.now() + SignedDuration::from_mins(16));
        let (_, late) = reset::request(&app.store, "dana@practice.example").await.expect("q").expect("a link");
        app.clock.set(app.clock.now() + SignedDuration::from_mins(31));
        assert_eq!(
            confirm_reset(&app, &late, "yet another passphrase").await.body["errors"][0]["field"],
            "token",
            "expired"
        );
    })
    .await;
}

async fn ask_reset(app: &TestApp, email: &str) -> Reply {
    app.send_raw("POST", "/api/v1/auth/password-reset", Some(&json!({"email": email}).to_string()), &[]).await
}

async fn confirm_reset(app: &TestApp, token: &str, password: &str) -> Reply {
    let body = json!({"token": token, "new_password": password}).to_string();
    app.send_raw("POST", "/api/v1/auth/password-reset/confirm", Some(&body), &[]).await
}

#[tokio::test]
async fn a_client_over_its_request_rate_is_told_to_wait_and_others_are_not() {
    use std::sync::Arc;
    let limited = |state: rapport::http::AppState| rapport::http::AppState {
        rate_limiter: Arc::new(rapport::http::rate_limit::RateLimiter::new(3)),
        ..state
    };
    let mut app = TestApp::with_state(rapport::http::HttpSettings::default(), limited).await;
    app.peer = Some("198.51.100.7:40000".parse().expect("address"));
    for _ in 0..3 {
        assert_eq!(app.send_raw("GET", "/healthz", None, &[]).await.status, StatusCode::OK);
    }
    let limited = app.send_raw("GET", "/healthz", None, &[]).await;
    assert_eq!((limited.status, limited.body["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")));
    assert_eq!(limited.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("20"));
    app.peer = Some("198.51.100.8:40000".parse().expect("address"));
    assert_eq!(app.send_raw("GET", "/healthz", None, &[]).await.status, StatusCode::OK, "another client");
    app.peer = Some("198.51.100.7:40001".parse().expect("address"));
    app.clock.set(app.clock.now() + SignedDuration::from_secs(20));
    assert_eq!(app.send_raw("GET", "/healthz", None, &[]).await.status, StatusCode::OK, "refilled");
}
