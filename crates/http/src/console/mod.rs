//! The staff console at `/console`: server-rendered pages (minijinja, the
//! templates beside this file) that read without script, and one small
//! script of ours (`assets/console.js`, no build step, no CDN) that signs
//! in, sends what staff do to the JSON API with the session's CSRF token,
//! and keeps the inbox live from its event stream with desktop
//! notifications and a title badge. Every page is a route of the policy
//! table like any other: the guard authenticates, authorizes and audits it;
//! a page asked for without a session sends the browser to sign in.

mod inbox;
mod records;

use std::sync::OnceLock;

use axum::Router;
use axum::extract::{Path, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use minijinja::Environment;
use rapport_domain::OrganizationId;
use serde::Serialize;

use super::AppState;
use super::access::{Grant, Principal, SignedIn};
use super::error::ApiError;
use rapport_store::Store;

/// The console's pages may load its own script and style, and talk to its
/// own origin; nothing else.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(home))
        .route("/console/sign-in", get(sign_in))
        .route("/console/assets/{file}", get(asset))
        .route("/console/{org}/inbox", get(inbox::page))
        .route("/console/{org}/patients", get(records::search))
        .route("/console/{org}/patients/{id}", get(records::patient))
        .route("/console/{org}/outbox", get(records::outbox))
}

/// A console page asked for without a (live) session goes to the sign-in page.
pub async fn signed_out_to_sign_in(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let page = request.method() == Method::GET
        && (path == "/console" || path.starts_with("/console/"))
        && !path.starts_with("/console/assets/");
    let response = next.run(request).await;
    if page && response.status() == StatusCode::UNAUTHORIZED {
        return Redirect::to("/console/sign-in").into_response();
    }
    response
}

async fn home(me: SignedIn) -> Redirect {
    Redirect::to(&format!("/console/{}/inbox", me.user.organization_id))
}

async fn sign_in() -> Result<Response, ApiError> {
    render("sign_in.html", minijinja::context! { title => "Sign in" })
}

async fn asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    let (body, kind) = match file.as_str() {
        "console.js" => (include_str!("assets/console.js"), "text/javascript; charset=utf-8"),
        "console.css" => (include_str!("assets/console.css"), "text/css; charset=utf-8"),
        _ => return Err(ApiError::NotFound),
    };
    Ok(([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "no-cache")], body).into_response())
}

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        for (name, source) in [
            ("base.html", include_str!("templates/base.html")),
            ("sign_in.html", include_str!("templates/sign_in.html")),
            ("inbox.html", include_str!("templates/inbox.html")),
            ("patients.html", include_str!("templates/patients.html")),
            ("patient.html", include_str!("templates/patient.html")),
            ("outbox.html", include_str!("templates/outbox.html")),
        ] {
            env.add_template(name, source).expect("a console template parses");
        }
        env.add_filter("when", when);
        env
    })
}

/// A page, with the console's content security policy.
fn render(name: &str, context: minijinja::Value) -> Result<Response, ApiError> {
    let template = environment().get_template(name).map_err(|e| ApiError::Internal(format!("template {name}: {e}")))?;
    let html = template.render(context).map_err(|e| ApiError::Internal(format!("template {name}: {e:#}")))?;
    let mut response = Html(html).into_response();
    response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    Ok(response)
}

/// A serializable value as the templates see it.
fn v<T: Serialize>(value: &T) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(value))
}

/// `{{ instant | when(zone) }}`: "Nov 22, 9:00 AM" in the zone (UTC if it is none).
fn when(instant: &str, zone: Option<&str>) -> String {
    let Ok(at) = instant.parse::<jiff::Timestamp>() else { return instant.to_owned() };
    let zone = zone.and_then(|z| jiff::tz::TimeZone::get(z).ok()).unwrap_or(jiff::tz::TimeZone::UTC);
    at.to_zoned(zone).strftime("%b %-d, %-I:%M %p").to_string()
}

/// What every page's frame shows: who is signed in, the organization, the
/// CSRF token the script sends, the zone times are shown in.
#[derive(Debug, Serialize)]
struct Frame {
    org: String,
    organization: String,
    zone: Option<String>,
    user_id: Option<String>,
    user_name: String,
    role: String,
    csrf: String,
    section: &'static str,
}

async fn frame(store: &Store, grant: &Grant, org: OrganizationId, section: &'static str) -> Result<Frame, ApiError> {
    let organization = store.get_organization(org).await?;
    let (user_id, user_name, csrf) = match &grant.principal {
        Principal::Staff { user, csrf_token, .. } => {
            (Some(user.id.to_string()), user.display_name.clone(), csrf_token.clone())
        }
        Principal::Token(token) => (None, format!("API token {}", token.name), String::new()),
    };
    Ok(Frame {
        org: org.to_string(),
        organization: organization.name.clone(),
        zone: Some(organization.time_zone.as_str().to_owned()),
        user_id,
        user_name,
        role: grant.principal.role().as_str().to_owned(),
        csrf,
        section,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses_and_times_show_in_the_zone() {
        let env = environment();
        for name in ["base.html", "sign_in.html", "inbox.html", "patients.html", "patient.html", "outbox.html"] {
            assert!(env.get_template(name).is_ok(), "{name}");
        }
        assert_eq!(when("2026-11-22T15:00:00Z", Some("America/Chicago")), "Nov 22, 9:00 AM");
        assert_eq!(when("2026-11-22T15:00:00Z", None), "Nov 22, 3:00 PM");
        assert_eq!(when("not a time", None), "not a time");
    }

    #[test]
    fn what_a_page_shows_is_escaped() {
        let page = environment().get_template("sign_in.html").expect("template");
        let html = page.render(minijinja::context! { title => "<script>x</script>" }).expect("render");
        assert!(html.contains("<h1 id=\"sign-in-title\">&lt;script&gt;x&lt;") && !html.contains("<script>x"), "{html}");
    }
}
