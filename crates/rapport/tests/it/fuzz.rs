//! Property-based fuzzing of the sign-in and credential parsing paths, run
//! briefly with every test run: whatever arrives as a login body, a bearer
//! token, a session cookie or a one-time code, the answer is a clean refusal
//! (never a 500, never a way in), and nothing panics.

use axum::http::StatusCode;
use proptest::prelude::*;
use rapport::auth::{recovery, totp};
use rapport_domain::Role;
use serde_json::json;

use crate::support::app::TestApp;
use crate::support::browser::staff;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// A login body: arbitrary bytes, or JSON whose fields are arbitrary.
fn login_body() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        (".{0,40}", ".{0,80}", proptest::option::of(".{0,12}"), proptest::option::of(".{0,24}")).prop_map(
            |(email, password, code, recovery_code)| {
                json!({"email": email, "password": password, "code": code, "recovery_code": recovery_code}).to_string()
            }
        ),
        (".{0,40}", any::<i64>()).prop_map(|(email, n)| json!({"email": email, "password": n}).to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_login_body_is_refused_cleanly(bodies in proptest::collection::vec(login_body(), 1..4)) {
        runtime().block_on(async {
            let app = TestApp::new().await;
            let (org, _) = app.organization("Practice").await;
            staff(&app, &org, "dana@practice.example", Role::FrontDesk).await;
            for body in bodies {
                let reply = app.send_raw("POST", "/api/v1/auth/login", Some(&body), &[]).await;
                let status = reply.status.as_u16();
                assert!([400, 401, 422, 429].contains(&status), "{status} for a fuzzed login: {}", reply.body);
                assert_eq!(reply.content_type.as_deref(), Some("application/problem+json"));
                assert!(reply.headers.get("set-cookie").is_none());
            }
        });
    }

    #[test]
    fn any_credential_header_is_unauthenticated(
        bearer in "(Bearer |bearer |Basic |)(rpt_|rps_|)[ -~]{0,60}",
        cookie in "[ -~]{0,80}",
    ) {
        runtime().block_on(async {
            let app = TestApp::new().await;
            let (org, _) = app.organization("Practice").await;
            let path = format!("/api/v1/organizations/{org}/patients");
            let cookie = format!("{cookie}; __Host-rapport_session={cookie}");
            for headers in [vec![("authorization", bearer.as_str())], vec![("cookie", cookie.as_str())]] {
                let Ok(_) = axum::http::HeaderValue::from_str(headers[0].1) else { continue };
                let reply = app.send_raw("GET", &path, None, &headers).await;
                assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{headers:?}");
            }
        });
    }

    #[test]
    fn one_time_and_recovery_codes_parse_anything_without_panicking(code in ".{0,16}", key in proptest::collection::vec(any::<u8>(), 0..40)) {
        let now = jiff::Timestamp::from_second(1_700_000_000).expect("time");
        if let Some(step) = totp::verify(&key, &code, now, None) {
            prop_assert!((totp::step_of(now) - 1..=totp::step_of(now) + 1).contains(&step));
            prop_assert_eq!(code.chars().filter(char::is_ascii_digit).count(), 6);
        }
        let _ = totp::base32_decode(&code);
        prop_assert_eq!(totp::base32_decode(&totp::base32_encode(&key)), Some(key));
        prop_assert_eq!(recovery::digest_of(&code).len(), 64);
    }
}
