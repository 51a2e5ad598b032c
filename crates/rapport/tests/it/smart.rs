//! SMART Backend Services (issue 7), in process on both backends: an
//! administrator registers a client's public key and scopes; the client
//! signs an ES384 assertion for the token endpoint its discovery document
//! names and gets a five-minute token holding only the scopes it may have;
//! the token reads FHIR and cannot write; a replayed assertion, a stranger's
//! key, an unknown grant and a revoked client are refused in OAuth's words.

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rapport_domain::Role;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

use crate::support::app::{Reply, TestApp, on_each_backend_app};
use crate::support::browser::{Browser, staff};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A client's key pair and its public JWKS.
fn key() -> (EcdsaKeyPair, Value) {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &rng).expect("key");
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, pkcs8.as_ref(), &rng).expect("pair");
    let point = pair.public_key().as_ref();
    let jwk = json!({"kty": "EC", "crv": "P-384", "kid": "k1", "x": b64(&point[1..49]), "y": b64(&point[49..])});
    (pair, json!({"keys": [jwk]}))
}

fn assertion(pair: &EcdsaKeyPair, client: &str, audience: &str, now: jiff::Timestamp, jti: &str) -> String {
    let header = json!({"alg": "ES384", "kid": "k1", "typ": "JWT"});
    let claims = json!({"iss": client, "sub": client, "aud": audience, "exp": now.as_second() + 240, "jti": jti});
    let body = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let signature = pair.sign(&SystemRandom::new(), body.as_bytes()).expect("sign");
    format!("{body}.{}", b64(signature.as_ref()))
}

async fn ask(app: &TestApp, grant: &str, scope: &str, jwt: &str) -> Reply {
    let form: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", grant)
        .append_pair("scope", scope)
        .append_pair("client_assertion_type", ASSERTION_TYPE)
        .append_pair("client_assertion", jwt)
        .finish();
    app.send_raw("POST", "/oauth/token", Some(&form), &[("content-type", "application/x-www-form-urlencoded")]).await
}

#[tokio::test]
async fn a_backend_service_signs_for_a_short_token_that_holds_only_its_scopes() {
    on_each_backend_app(|app| async move {
        let (org, _) = app.organization("Riverbend Health").await;
        let admin = Browser::open(&app, &staff(&app, &org, "ann@practice.example", Role::Administrator).await).await;
        let clients = format!("/api/v1/organizations/{org}/smart-clients");
        let (pair, jwks) = key();
        let mut leaked = jwks.clone();
        leaked["keys"][0]["d"] = json!("AAAA");
        let refused = admin
            .send(&app, "POST", &clients, Some(&json!({"name": "Lab", "scope": "patient/*.read", "jwks": leaked})))
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        let fields: Vec<&str> =
            refused.body["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
        assert_eq!(fields, ["scope", "jwks"], "{}", refused.body);
        let registered = admin
            .send(
                &app,
                "POST",
                &clients,
                Some(&json!({"name": "Population health", "scope": "system/*.read", "jwks": jwks})),
            )
            .await;
        assert_eq!(registered.status, StatusCode::CREATED, "{}", registered.body);
        let client = registered.body["client_id"].as_str().expect("client id").to_owned();

        let discovery = app.send_raw("GET", "/fhir/.well-known/smart-configuration", None, &[]).await;
        assert_eq!(discovery.status, StatusCode::OK);
        let endpoint = discovery.body["token_endpoint"].as_str().expect("endpoint").to_owned();
        assert!(discovery.body["token_endpoint_auth_signing_alg_values_supported"].to_string().contains("ES384"));

        let now = app.clock.now();
        let jwt = assertion(&pair, &client, &endpoint, now, "j-1");
        let got = ask(&app, "client_credentials", "system/Patient.read system/Patient.write", &jwt).await;
        assert_eq!(got.status, StatusCode::OK, "{}", got.body);
        assert_eq!(
            (got.body["token_type"].as_str(), got.body["expires_in"].as_i64(), got.body["scope"].as_str()),
            (Some("bearer"), Some(300), Some("system/Patient.read")),
            "write was not registered, so it is not granted"
        );
        let bearer = format!("Bearer {}", got.body["access_token"].as_str().expect("token"));
        let read = app.send_raw("GET", "/fhir/Patient", None, &[("authorization", &bearer)]).await;
        assert_eq!(read.status, StatusCode::OK, "{}", read.body);
        let write = json!({"resourceType": "Patient", "name": [{"family": "Lee"}]}).to_string();
        let headers = [("authorization", bearer.as_str()), ("content-type", "application/fhir+json")];
        assert_eq!(app.send_raw("POST", "/fhir/Patient", Some(&write), &headers).await.status, StatusCode::FORBIDDEN);
        let appointments = app.send_raw("GET", "/fhir/Appointment", None, &[("authorization", &bearer)]).await;
        assert_eq!(appointments.status, StatusCode::FORBIDDEN, "only the Patient scope was asked for");

        // Each assertion once; a stranger's key, another grant, another audience: refused.
        let replay = ask(&app, "client_credentials", "system/Patient.read", &jwt).await;
        assert_eq!((replay.status, replay.body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
        assert!(replay.body["error_description"].as_str().unwrap_or("").contains("jti"));
        let (stranger, _) = key();
        let forged = ask(
            &app,
            "client_credentials",
            "system/Patient.read",
            &assertion(&stranger, &client, &endpoint, now, "j-2"),
        )
        .await;
        assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
        let elsewhere = assertion(&pair, &client, "https://elsewhere.example/token", now, "j-3");
        assert_eq!(
            ask(&app, "client_credentials", "system/Patient.read", &elsewhere).await.status,
            StatusCode::UNAUTHORIZED
        );
        let password =
            ask(&app, "password", "system/Patient.read", &assertion(&pair, &client, &endpoint, now, "j-4")).await;
        assert_eq!(
            (password.status, password.body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
        );
        let wider =
            ask(&app, "client_credentials", "system/Patient.write", &assertion(&pair, &client, &endpoint, now, "j-5"))
                .await;
        assert_eq!((wider.status, wider.body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_scope")));
        let nobody =
            ask(&app, "client_credentials", "system/Patient.read", &assertion(&pair, "someone", &endpoint, now, "j-6"))
                .await;
        assert_eq!(nobody.status, StatusCode::UNAUTHORIZED);

        // Five minutes on, the token has stopped; revoking the client stops the next one at once.
        app.clock.set(now + jiff::SignedDuration::from_mins(6));
        let late = app.send_raw("GET", "/fhir/Patient", None, &[("authorization", &bearer)]).await;
        assert_eq!(late.status, StatusCode::UNAUTHORIZED);
        let later = app.clock.now();
        let fresh =
            ask(&app, "client_credentials", "system/*.read", &assertion(&pair, &client, &endpoint, later, "j-7")).await;
        assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.body);
        let fresh_bearer = format!("Bearer {}", fresh.body["access_token"].as_str().expect("token"));
        assert_eq!(
            app.send_raw("GET", "/fhir/Appointment", None, &[("authorization", &fresh_bearer)]).await.status,
            StatusCode::OK
        );
        let listed = admin.send(&app, "GET", &format!("/api/v1/organizations/{org}/api-tokens"), None).await.body;
        assert!(!listed.to_string().contains("smart:"), "short tokens are not the organization's tokens: {listed}");
        let revoked = admin.send(&app, "DELETE", &format!("{clients}/{client}"), None).await;
        assert!(revoked.body["revoked_at"].is_string(), "{}", revoked.body);
        let after = app.send_raw("GET", "/fhir/Appointment", None, &[("authorization", &fresh_bearer)]).await;
        assert_eq!(after.status, StatusCode::UNAUTHORIZED, "a revoked client's token stops at once");
        let again =
            ask(&app, "client_credentials", "system/*.read", &assertion(&pair, &client, &endpoint, later, "j-8")).await;
        assert_eq!(again.status, StatusCode::UNAUTHORIZED);
        // Each grant and each refusal of a known client is in the audit trail.
        let events = admin
            .send(&app, "GET", &format!("/api/v1/organizations/{org}/audit-events?action=smart.token"), None)
            .await;
        let outcomes: Vec<&str> =
            events.body["items"].as_array().expect("events").iter().filter_map(|e| e["outcome"].as_str()).collect();
        assert_eq!(outcomes.iter().filter(|o| **o == "success").count(), 2, "{}", events.body);
        assert_eq!(outcomes.iter().filter(|o| **o == "denied").count(), 4, "replay, stranger, audience, scope");
    })
    .await;
}
