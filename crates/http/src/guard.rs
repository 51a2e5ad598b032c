//! The guard every request passes: find the route's policy, authenticate the
//! caller (session cookie or bearer token), check MFA, CSRF, organization and
//! capability (or a break-glass reason), hand the handler its `Grant`, and
//! write the request to the audit trail, allowed or denied. A trail that
//! cannot be written fails the request: nothing is disclosed unrecorded.

use std::net::IpAddr;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rapport_domain::{ActorKind, NewAuditEvent, OrganizationId, Outcome, PatientId};

use super::AppState;
use super::access::{Grant, POLICIES, Principal, Rule, policy_for};
use super::error::ApiError;
use crate::listener::PeerAddr;
use rapport_engine::auth::{self, ClientInfo, secret};

/// The session cookie. `__Host-` binds it to this host, path `/`, HTTPS.
pub const SESSION_COOKIE: &str = "__Host-rapport_session";
/// The header carrying the session's CSRF token on state-changing requests.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The header that opens a record outside the caller's role, with a reason.
pub const BREAK_GLASS_HEADER: &str = "x-break-glass-reason";

/// The patient a response was about, when the path does not say (set by
/// handlers, read by the guard for the audit event).
#[derive(Debug, Clone, Copy)]
pub struct AuditPatient(pub PatientId);

/// A more precise action than the route's, set by a handler (an export
/// served by a query route).
#[derive(Debug, Clone, Copy)]
pub struct AuditAction(pub &'static str);

/// Why a request was refused, for the trail.
struct Denial {
    error: ApiError,
    why: &'static str,
}

fn deny(error: ApiError, why: &'static str) -> Denial {
    Denial { error, why }
}

pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(path) = request.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned()) else {
        return next.run(request).await;
    };
    let Some(policy) = policy_for(request.method(), &path) else {
        if POLICIES.iter().any(|p| p.path == path) {
            return next.run(request).await; // another method of a known route: the router answers 405
        }
        return ApiError::Internal(format!("route {path} has no declared policy")).into_response();
    };
    let (mut parts, body) = request.into_parts();
    let client = client_info(&parts.headers, parts.extensions.get::<ConnectInfo<PeerAddr>>(), &state.trusted_proxies);
    if let Some(address) = client.address.as_ref().and_then(|a| a.parse().ok())
        && let Err(retry_after_seconds) = state.rate_limiter.check(address, state.store.clock().now())
    {
        tracing::warn!(route = %path, "rate limit reached");
        return ApiError::RateLimited { retry_after_seconds }.into_response();
    }
    if matches!(policy.rule, Rule::Public | Rule::Signed | Rule::Operator) {
        parts.extensions.insert(client);
        return next.run(Request::from_parts(parts, body)).await;
    }
    let params: Vec<(String, String)> = match RawPathParams::from_request_parts(&mut parts, &()).await {
        Ok(raw) => raw.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
        Err(_) => Vec::new(),
    };
    let principal = match authenticate(&state, &parts.headers).await {
        Ok(Some(principal)) => principal,
        Ok(None) => return ApiError::Unauthenticated.into_response(),
        Err(error) => return error.into_response(),
    };
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let mut event = NewAuditEvent::new(
        Some(principal.organization()),
        if matches!(principal, Principal::Token(_)) { ActorKind::Token } else { ActorKind::User },
        policy.action,
        Outcome::Success,
    );
    event.actor_id = Some(actor_id(&principal));
    event.resource_type = policy.resource.map(str::to_owned);
    event.resource_id = param("id").map(str::to_owned);
    event.patient_id = if policy.id_is_patient { param("id").and_then(|id| id.parse().ok()) } else { None };
    event.client_address = client.address.clone();
    event.user_agent = client.user_agent.clone();

    let response = match decide(policy.rule, &principal, &parts.method, &parts.headers, param("org")) {
        Ok(grant) => {
            if grant.break_glass {
                event.break_glass = true;
                event.reason = break_glass_reason(&parts.headers).map(str::to_owned);
            }
            parts.extensions.insert(grant);
            parts.extensions.insert(client);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(denial) => {
            if let (ApiError::NotFound, Some(org)) = (&denial.error, param("org")) {
                event.resource_type = Some("organization".into());
                event.resource_id = Some(org.to_owned());
                event.patient_id = None;
            }
            event.reason = Some(denial.why.to_owned());
            denial.error.into_response()
        }
    };
    finish(&state, event, response).await
}

/// Records the event with the outcome the status says; a trail that cannot
/// be written turns the answer into a 500.
async fn finish(state: &AppState, mut event: NewAuditEvent, response: Response) -> Response {
    let status = response.status();
    event.status = Some(status.as_u16());
    event.outcome = match status.as_u16() {
        401 | 403 | 404 => Outcome::Denied,
        400..=499 => Outcome::Refused,
        500..=599 => Outcome::Failed,
        _ => Outcome::Success,
    };
    if let Some(AuditPatient(patient)) = response.extensions().get::<AuditPatient>() {
        event.patient_id = Some(*patient);
    }
    if let Some(AuditAction(action)) = response.extensions().get::<AuditAction>() {
        event.action = (*action).to_owned();
    }
    match state.store.append_audit(&event).await {
        Ok(_) => response,
        Err(error) => ApiError::Internal(format!("audit trail not written: {error}")).into_response(),
    }
}

fn actor_id(principal: &Principal) -> String {
    match principal {
        Principal::Staff { user, .. } => user.id.to_string(),
        Principal::Token(token) => token.id.to_string(),
    }
}

/// The caller, from `Authorization: Bearer rpt_…` or the session cookie.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Option<Principal>, ApiError> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let bearer = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).map(str::trim);
        return match bearer {
            Some(secret) => Ok(auth::token_for(&state.store, secret).await?.map(Principal::Token)),
            None => Ok(None),
        };
    }
    let Some(token) = session_cookie(headers) else { return Ok(None) };
    let found = auth::signin::session_for(&state.store, &state.auth, &token).await?;
    Ok(found.map(|(user, session)| Principal::Staff { user, session, csrf_token: secret::csrf_token(&token) }))
}

/// The session secret from the `Cookie` header(s).
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

fn break_glass_reason(headers: &HeaderMap) -> Option<&str> {
    let reason = headers.get(BREAK_GLASS_HEADER)?.to_str().ok()?.trim();
    (!reason.is_empty() && reason.len() <= 500).then_some(reason)
}

/// The policy decision for an authenticated caller.
fn decide(
    rule: Rule,
    principal: &Principal,
    method: &Method,
    headers: &HeaderMap,
    org_in_path: Option<&str>,
) -> Result<Grant, Denial> {
    let grant = |capability, break_glass| Grant { principal: principal.clone(), capability, break_glass };
    if let Principal::Staff { session, csrf_token, .. } = principal {
        if session.mfa_pending && rule != Rule::SessionEvenMfaPending {
            return Err(deny(ApiError::MfaEnrolmentRequired, "MFA enrolment pending"));
        }
        let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        let sent = headers.get(CSRF_HEADER).map(|v| v.as_bytes()).unwrap_or_default();
        if !safe && !secret::constant_time_eq(sent, csrf_token.as_bytes()) {
            return Err(deny(ApiError::CsrfFailed, "missing or wrong CSRF token"));
        }
    }
    if let Some(org) = org_in_path
        && org.parse::<OrganizationId>().ok() != Some(principal.organization())
    {
        return Err(deny(ApiError::NotFound, "another organization"));
    }
    match rule {
        Rule::Public | Rule::Signed | Rule::Operator => Ok(grant(None, false)),
        Rule::Session | Rule::SessionEvenMfaPending => match principal {
            Principal::Staff { .. } => Ok(grant(None, false)),
            Principal::Token(_) => Err(deny(ApiError::Forbidden, "a staff session is required")),
        },
        Rule::Needs(capability) if principal.holds(capability) => Ok(grant(Some(capability), false)),
        Rule::Needs(capability) => {
            let staff = matches!(principal, Principal::Staff { .. });
            if staff && capability.allows_break_glass() && break_glass_reason(headers).is_some() {
                Ok(grant(Some(capability), true))
            } else {
                Err(deny(ApiError::Forbidden, "the role does not hold the capability"))
            }
        }
    }
}

/// The client's address (from a trusted proxy's `X-Forwarded-For` when the
/// peer is one) and user agent.
fn client_info(headers: &HeaderMap, peer: Option<&ConnectInfo<PeerAddr>>, trusted: &[IpAddr]) -> ClientInfo {
    let peer = peer.map(|ConnectInfo(PeerAddr(addr))| addr.ip());
    let forwarded = || {
        let chain = headers.get("x-forwarded-for")?.to_str().ok()?;
        chain.rsplit(',').filter_map(|a| a.trim().parse::<IpAddr>().ok()).find(|ip| !trusted.contains(ip))
    };
    let address = match peer {
        Some(ip) if trusted.contains(&ip) => forwarded().or(Some(ip)),
        other => other,
    };
    let user_agent =
        headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(|ua| ua.chars().take(200).collect());
    ClientInfo { address: address.map(|ip| ip.to_string()), user_agent }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_client_address_comes_from_a_trusted_proxy_only() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.9, 10.0.0.2"));
        let proxy: IpAddr = "10.0.0.2".parse().expect("ip");
        let via_proxy = ConnectInfo(PeerAddr(std::net::SocketAddr::new(proxy, 5000)));
        assert_eq!(client_info(&headers, Some(&via_proxy), &[proxy]).address.as_deref(), Some("203.0.113.9"));
        let direct = ConnectInfo(PeerAddr(std::net::SocketAddr::new("198.51.100.7".parse().expect("ip"), 5000)));
        assert_eq!(client_info(&headers, Some(&direct), &[proxy]).address.as_deref(), Some("198.51.100.7"));
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("theme=dark; __Host-rapport_session=rps_abc; x=1"));
        assert_eq!(session_cookie(&headers).as_deref(), Some("rps_abc"));
        headers.insert(header::COOKIE, HeaderValue::from_static("rapport_session=rps_abc"));
        assert_eq!(session_cookie(&headers), None);
    }
}
