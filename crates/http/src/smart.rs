//! SMART Backend Services over HTTP: the discovery document
//! (`/fhir/.well-known/smart-configuration`) and the token endpoint
//! (`POST /oauth/token`, RFC 6749's client credentials grant with an RFC
//! 7523 JWT client assertion, as SMART's backend services profile asks).
//! A token is an API token of the client's organization that expires in
//! five minutes, holding the capabilities of the scopes granted; each
//! grant (and each refusal) is in the audit trail. Errors are OAuth's JSON
//! (`error`, `error_description`), naming what was wrong.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::SignedDuration;
use rapport_domain::{ActorKind, NewAuditEvent, Outcome};
use serde_json::json;

use super::AppState;
use super::error::ApiError;
use rapport_engine::auth::smart::{self, Refused};
use rapport_engine::auth::{TOKEN_PREFIX, secret};
use rapport_store::{NewApiToken, smart_token_name};

/// How long an access token lives.
pub const TOKEN_LIFETIME: SignedDuration = SignedDuration::from_mins(5);
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Where the server is, as the caller reached it (the FHIR base and the
/// token endpoint both start here).
pub fn origin(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let scheme = headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()).unwrap_or("http");
    format!("{scheme}://{host}")
}

/// The token endpoint's URL: the audience a client's assertion names.
fn token_url(headers: &HeaderMap) -> String {
    format!("{}/oauth/token", origin(headers))
}

#[utoipa::path(get, path = "/fhir/.well-known/smart-configuration", tag = "fhir", security(()),
    responses((status = 200, description = "SMART's discovery document: the token endpoint, client-confidential-asymmetric")))]
pub async fn configuration(headers: HeaderMap) -> Response {
    Json(json!({
        "token_endpoint": token_url(&headers),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": smart::ALGORITHMS,
        "scopes_supported": ["system/*.read", "system/*.write", "system/*.rs", "system/*.cruds"],
        "capabilities": ["client-confidential-asymmetric"],
    }))
    .into_response()
}

fn oauth_error(status: StatusCode, refused: &Refused) -> Response {
    let mut response =
        (status, Json(json!({"error": refused.code, "error_description": refused.reason}))).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    response
}

fn bad_request(code: &'static str, reason: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, &Refused { code, reason: reason.to_owned() })
}

/// The token request's form (RFC 6749 §4.4, RFC 7523), as documented; the
/// handler reads the form itself, to answer OAuth's errors.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct TokenForm {
    /// `client_credentials`.
    grant_type: String,
    /// The system scopes asked for, space-separated.
    scope: Option<String>,
    /// `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
    client_assertion_type: String,
    /// The client's signed JWT.
    client_assertion: String,
}

#[utoipa::path(post, path = "/oauth/token", tag = "fhir", security(()),
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded",
        description = "grant_type=client_credentials, scope, client_assertion_type (jwt-bearer), client_assertion"),
    responses((status = 200, description = "An access token (bearer, 5 minutes) and the scopes granted"),
        (status = 400, description = "OAuth error: invalid_request, unsupported_grant_type, invalid_scope"),
        (status = 401, description = "OAuth error: invalid_client (the assertion, the client or its key)")))]
pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    if field("grant_type") != Some("client_credentials") {
        return Ok(bad_request("unsupported_grant_type", "grant_type must be client_credentials"));
    }
    if field("client_assertion_type") != Some(ASSERTION_TYPE) {
        return Ok(bad_request("invalid_request", "client_assertion_type must be jwt-bearer (RFC 7523)"));
    }
    let (Some(assertion), Some(scope)) = (field("client_assertion"), field("scope")) else {
        return Ok(bad_request("invalid_request", "client_assertion and scope are required"));
    };
    let unknown = || Refused { code: "invalid_client", reason: "no such client, or it was revoked".into() };
    let client_id = match smart::claimed_client(assertion) {
        Ok(id) => id,
        Err(refused) => return Ok(oauth_error(StatusCode::UNAUTHORIZED, &refused)),
    };
    let client = state.store.smart_client(&client_id).await?.filter(|c| c.revoked_at.is_none());
    let Some(client) = client else { return Ok(oauth_error(StatusCode::UNAUTHORIZED, &unknown())) };
    let now = state.store.clock().now();
    let audit = |outcome: Outcome, why: Option<&str>| {
        let mut event = NewAuditEvent::new(Some(client.organization_id), ActorKind::Anonymous, "smart.token", outcome);
        event.resource_type = Some("smart_client".into());
        event.resource_id = Some(client.id.clone());
        event.reason = why.map(str::to_owned);
        event
    };
    let checked = smart::verify(assertion, &client.id, &client.jwks, &token_url(&headers), now)
        .and_then(|assertion| smart::grant(scope, &client.scope).map(|granted| (assertion, granted)));
    let (assertion, (granted, capabilities)) = match checked {
        Ok(found) => found,
        Err(refused) => {
            state.store.append_audit(&audit(Outcome::Denied, Some(&refused.to_string()))).await?;
            let status =
                if refused.code == "invalid_client" { StatusCode::UNAUTHORIZED } else { StatusCode::BAD_REQUEST };
            return Ok(oauth_error(status, &refused));
        }
    };
    if !state.store.take_assertion(&client.id, &assertion.jti, assertion.expires_at).await? {
        let replay = Refused { code: "invalid_client", reason: "this assertion's jti was used before".into() };
        state.store.append_audit(&audit(Outcome::Denied, Some(&replay.to_string()))).await?;
        return Ok(oauth_error(StatusCode::UNAUTHORIZED, &replay));
    }
    state.store.forget_expired_smart_tokens(client.organization_id, &client.id).await?;
    let secret_text = secret::random_token(TOKEN_PREFIX);
    let new = NewApiToken {
        organization_id: client.organization_id,
        name: smart_token_name(&client.id),
        prefix: secret_text.chars().take(TOKEN_PREFIX.len() + 6).collect(),
        token_digest: secret::digest(&secret_text),
        scopes: capabilities,
        created_by: client.created_by,
    };
    let issued = state.store.create_expiring_api_token(&new, now + TOKEN_LIFETIME).await?;
    let mut event = audit(Outcome::Success, None);
    event.actor_kind = ActorKind::Token;
    event.actor_id = Some(issued.id.to_string());
    state.store.append_audit(&event).await?;
    let mut response = Json(json!({
        "access_token": secret_text,
        "token_type": "bearer",
        "expires_in": TOKEN_LIFETIME.as_secs(),
        "scope": granted.join(" "),
    }))
    .into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    Ok(response)
}
