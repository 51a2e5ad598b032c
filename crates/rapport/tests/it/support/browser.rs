//! A staff member's browser as the API sees it: a session cookie and its
//! CSRF token, opened by signing in or directly in the store.

use jiff::SignedDuration;
use rapport::auth::{password, secret};
use rapport::store::{NewSession, NewStaffUser};
use rapport_domain::{Email, Role, StaffUser};
use serde_json::Value;

use super::app::{Reply, TestApp};

pub const PASSWORD: &str = "a long enough passphrase";

/// A staff account with `PASSWORD`.
pub async fn staff(app: &TestApp, org: &str, email: &str, role: Role) -> StaffUser {
    let new = NewStaffUser {
        organization_id: org.parse().expect("org id"),
        email: Email::parse(email).expect("email"),
        display_name: "Test Person".into(),
        role,
        password_hash: password::hash(PASSWORD),
    };
    app.store.create_staff_user(&new).await.expect("user")
}

/// A browser's credentials: the cookie header and the CSRF token.
#[derive(Clone)]
pub struct Browser {
    pub cookie: String,
    pub csrf: String,
}

impl Browser {
    pub fn from_login(reply: &Reply) -> Self {
        let set_cookie = reply.headers.get("set-cookie").and_then(|v| v.to_str().ok()).expect("a session cookie");
        assert!(
            set_cookie.contains("HttpOnly") && set_cookie.contains("Secure") && set_cookie.contains("SameSite=Strict"),
            "{set_cookie}"
        );
        let cookie = set_cookie.split(';').next().expect("pair").to_owned();
        Self { cookie, csrf: reply.body["csrf_token"].as_str().expect("csrf").to_owned() }
    }

    /// A session opened directly in the store (no sign-in), past MFA.
    pub async fn open(app: &TestApp, user: &StaffUser) -> Self {
        let token = secret::random_token("rps_");
        let session = NewSession {
            user_id: user.id,
            organization_id: user.organization_id,
            token_digest: secret::digest(&token),
            mfa_pending: false,
            client_address: None,
            user_agent: None,
            expires_at: app.clock.now() + SignedDuration::from_hours(12),
        };
        app.store.create_session(&session).await.expect("session");
        Self { cookie: format!("__Host-rapport_session={token}"), csrf: secret::csrf_token(&token) }
    }

    pub async fn send(&self, app: &TestApp, method: &str, path: &str, body: Option<&Value>) -> Reply {
        self.send_with(app, method, path, body, &[]).await
    }

    /// `send`, with more headers (`If-Match` …).
    pub async fn send_with(
        &self,
        app: &TestApp,
        method: &str,
        path: &str,
        body: Option<&Value>,
        extra: &[(&str, &str)],
    ) -> Reply {
        let body = body.map(Value::to_string);
        let mut headers = vec![("cookie", self.cookie.as_str()), ("x-csrf-token", self.csrf.as_str())];
        headers.extend_from_slice(extra);
        app.send_raw(method, path, body.as_deref(), &headers).await
    }
}
