//! SMART Backend Services (client credentials with a signed JWT): a
//! registered client proves itself with a JWT it signs with its private
//! key (RS384 or ES384, as SMART asks servers to support), checked against
//! the public keys (JWKS) it registered; the system scopes it asks for
//! (`system/Patient.read`, `system/*.rs`, …) become the capabilities of a
//! short-lived API token. Pure: the caller brings the clock, the client and
//! the replay check (each `jti` once).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::{SignedDuration, Timestamp};
use rapport_domain::Capability;
use ring::signature::{self, UnparsedPublicKey};
use serde_json::Value;

/// How far ahead an assertion may expire (SMART: no more than five minutes).
pub const MAX_LIFETIME: SignedDuration = SignedDuration::from_mins(5);
/// Clock skew forgiven either way.
const LEEWAY: SignedDuration = SignedDuration::from_secs(60);
/// The signing algorithms taken.
pub const ALGORITHMS: [&str; 2] = ["RS384", "ES384"];

/// Why an assertion or a scope is refused, in OAuth's words
/// (`invalid_client`, `invalid_grant`, `invalid_scope`) and a reason that
/// names what was wrong, never a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {reason}")]
pub struct Refused {
    pub code: &'static str,
    pub reason: String,
}

fn refuse(code: &'static str, reason: impl Into<String>) -> Refused {
    Refused { code, reason: reason.into() }
}

/// What a verified assertion says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    pub client_id: String,
    pub jti: String,
    pub expires_at: Timestamp,
}

fn part(raw: &str, what: &str) -> Result<Vec<u8>, Refused> {
    URL_SAFE_NO_PAD
        .decode(raw)
        .map_err(|_| refuse("invalid_client", format!("the assertion's {what} is not base64url")))
}

/// The client a compact JWT claims to be (`iss`), read before its
/// signature is checked, to find its keys.
pub fn claimed_client(jwt: &str) -> Result<String, Refused> {
    let payload = jwt.split('.').nth(1).ok_or_else(|| refuse("invalid_client", "the assertion is not a JWT"))?;
    let claims: Value = serde_json::from_slice(&part(payload, "payload")?)
        .map_err(|_| refuse("invalid_client", "the assertion's payload is not JSON"))?;
    claims["iss"].as_str().map(str::to_owned).ok_or_else(|| refuse("invalid_client", "the assertion has no iss"))
}

/// Checks a client assertion: signed by one of `jwks`'s keys with RS384 or
/// ES384; `iss` and `sub` the client; `aud` the token endpoint; expiring
/// within five minutes from `now`; a `jti`.
pub fn verify(jwt: &str, client_id: &str, jwks: &Value, audience: &str, now: Timestamp) -> Result<Assertion, Refused> {
    let pieces: Vec<&str> = jwt.split('.').collect();
    let [header_b64, payload_b64, signature_b64] = pieces.as_slice() else {
        return Err(refuse("invalid_client", "the assertion is not a compact JWT"));
    };
    let header: Value = serde_json::from_slice(&part(header_b64, "header")?)
        .map_err(|_| refuse("invalid_client", "the assertion's header is not JSON"))?;
    let alg = header["alg"].as_str().unwrap_or_default();
    if !ALGORITHMS.contains(&alg) {
        return Err(refuse("invalid_client", "the assertion must be signed with RS384 or ES384"));
    }
    let signed = format!("{header_b64}.{payload_b64}");
    let signature = part(signature_b64, "signature")?;
    let kid = header["kid"].as_str();
    let keys = jwks["keys"].as_array().map(Vec::as_slice).unwrap_or_default();
    let candidates = keys.iter().filter(|k| kid.is_none_or(|kid| k["kid"].as_str() == Some(kid)));
    let verified =
        candidates.filter_map(|key| public_key(key, alg)).any(|key| key.verify(signed.as_bytes(), &signature));
    if !verified {
        return Err(refuse("invalid_client", "the assertion's signature does not match a key the client registered"));
    }
    let claims: Value = serde_json::from_slice(&part(payload_b64, "payload")?)
        .map_err(|_| refuse("invalid_client", "the assertion's payload is not JSON"))?;
    if claims["iss"].as_str() != Some(client_id) || claims["sub"].as_str() != Some(client_id) {
        return Err(refuse("invalid_client", "the assertion's iss and sub must be the client id"));
    }
    let audiences: Vec<&str> = match &claims["aud"] {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.contains(&audience) {
        return Err(refuse("invalid_client", "the assertion's aud must be this token endpoint"));
    }
    let expires_at = claims["exp"]
        .as_i64()
        .and_then(|exp| Timestamp::from_second(exp).ok())
        .ok_or_else(|| refuse("invalid_client", "the assertion needs exp (seconds)"))?;
    if expires_at <= now - LEEWAY {
        return Err(refuse("invalid_client", "the assertion has expired"));
    }
    if expires_at > now + MAX_LIFETIME + LEEWAY {
        return Err(refuse("invalid_client", "the assertion may expire at most five minutes ahead"));
    }
    if claims["nbf"].as_i64().is_some_and(|nbf| nbf > (now + LEEWAY).as_second()) {
        return Err(refuse("invalid_client", "the assertion is not valid yet (nbf)"));
    }
    let jti = claims["jti"].as_str().filter(|j| !j.is_empty() && j.len() <= 256);
    let jti = jti.ok_or_else(|| refuse("invalid_client", "the assertion needs a jti"))?.to_owned();
    Ok(Assertion { client_id: client_id.to_owned(), jti, expires_at })
}

/// A key a client verifies with.
enum Key {
    Rsa(signature::RsaPublicKeyComponents<Vec<u8>>),
    Ec(UnparsedPublicKey<Vec<u8>>),
}

impl Key {
    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            Key::Rsa(key) => key.verify(&signature::RSA_PKCS1_2048_8192_SHA384, message, signature).is_ok(),
            Key::Ec(key) => key.verify(message, signature).is_ok(),
        }
    }
}

fn field(jwk: &Value, name: &str) -> Option<Vec<u8>> {
    jwk[name].as_str().and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
}

/// A JWK's public key for `alg`, if it is one.
fn public_key(jwk: &Value, alg: &str) -> Option<Key> {
    match (alg, jwk["kty"].as_str()?) {
        ("RS384", "RSA") => {
            let (n, e) = (field(jwk, "n")?, field(jwk, "e")?);
            (n.len() >= 256 && !e.is_empty()).then_some(Key::Rsa(signature::RsaPublicKeyComponents { n, e }))
        }
        ("ES384", "EC") if jwk["crv"] == "P-384" => {
            let (x, y) = (field(jwk, "x")?, field(jwk, "y")?);
            if x.len() != 48 || y.len() != 48 {
                return None;
            }
            let point = [&[4u8][..], &x, &y].concat();
            Some(Key::Ec(UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point)))
        }
        _ => None,
    }
}

/// Whether a registered JWKS holds at least one key Rapport can verify
/// with, and only such keys (public: no private parts).
pub fn check_jwks(jwks: &Value) -> Result<(), String> {
    let keys = jwks["keys"].as_array().filter(|k| !k.is_empty()).ok_or("jwks must hold keys")?;
    for (i, key) in keys.iter().enumerate() {
        if key.get("d").is_some() {
            return Err(format!("jwks.keys[{i}] holds a private key: register the public key only"));
        }
        if public_key(key, "RS384").is_none() && public_key(key, "ES384").is_none() {
            return Err(format!("jwks.keys[{i}] must be an RSA key (n, e) or an EC P-384 key (x, y)"));
        }
    }
    Ok(())
}

/// A resource type's read and write capabilities.
fn capabilities_of_type(kind: &str) -> Option<(Capability, Capability)> {
    use Capability as C;
    Some(match kind {
        "Patient" => (C::PatientRead, C::PatientWrite),
        "Appointment" => (C::AppointmentRead, C::AppointmentWrite),
        "Practitioner" | "Location" | "Organization" | "Schedule" | "Slot" => {
            (C::OrganizationRead, C::OrganizationWrite)
        }
        "Communication" | "CommunicationRequest" => (C::MessageRead, C::MessageWrite),
        "Consent" => (C::ConsentRead, C::ConsentWrite),
        _ => return None,
    })
}

/// The types a system scope may name.
const TYPES: [&str; 11] = [
    "Patient",
    "Appointment",
    "Practitioner",
    "Location",
    "Organization",
    "Schedule",
    "Slot",
    "Communication",
    "CommunicationRequest",
    "Consent",
    "*",
];

/// The capabilities a system scope grants: `system/{Type|*}.{read|write|*}`
/// (SMART v1) or `.{c,r,u,d,s in order}` (v2); `None` when it is not one.
pub fn capabilities(scope: &str) -> Option<Vec<Capability>> {
    let (kind, permission) = scope.strip_prefix("system/")?.split_once('.')?;
    if !TYPES.contains(&kind) {
        return None;
    }
    let (read, write) = match permission {
        "read" => (true, false),
        "write" => (false, true),
        "*" => (true, true),
        v2 if !v2.is_empty() && is_v2(v2) => (v2.contains(['r', 's']), v2.contains(['c', 'u', 'd'])),
        _ => return None,
    };
    let pairs: Vec<(Capability, Capability)> = match kind {
        "*" => TYPES.iter().filter_map(|t| capabilities_of_type(t)).collect(),
        one => vec![capabilities_of_type(one)?],
    };
    let mut out: Vec<Capability> = Vec::new();
    for (r, w) in pairs {
        for (wanted, capability) in [(read, r), (write, w)] {
            if wanted && !out.contains(&capability) {
                out.push(capability);
            }
        }
    }
    Some(out)
}

/// SMART v2 permissions: a subsequence of "cruds".
fn is_v2(permission: &str) -> bool {
    let mut order = "cruds".chars();
    permission.chars().all(|c| order.by_ref().any(|o| o == c))
}

/// The requested scopes a client registered for `allowed` may have, and
/// the capabilities they grant together. A scope it may not have is left
/// out (OAuth lets a server grant less); one that is no system scope is refused.
pub fn grant(requested: &str, allowed: &str) -> Result<(Vec<String>, Vec<Capability>), Refused> {
    let mut may: Vec<Capability> = Vec::new();
    for scope in allowed.split_whitespace() {
        may.extend(capabilities(scope).unwrap_or_default());
    }
    let (mut granted, mut capabilities_granted) = (Vec::new(), Vec::new());
    for scope in requested.split_whitespace() {
        let wanted = capabilities(scope).ok_or_else(|| {
            refuse("invalid_scope", format!("`{scope}` is not a system scope (system/Type.read, system/*.rs …)"))
        })?;
        if wanted.iter().all(|c| may.contains(c)) {
            granted.push(scope.to_owned());
            capabilities_granted
                .extend(wanted.into_iter().filter(|c| !capabilities_granted.contains(c)).collect::<Vec<_>>());
        }
    }
    if granted.is_empty() {
        return Err(refuse("invalid_scope", "none of the scopes asked for is one this client was registered for"));
    }
    Ok((granted, capabilities_granted))
}

#[cfg(test)]
mod tests {
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use serde_json::json;

    use super::*;

    const AUD: &str = "https://rapport.example.org/oauth/token";

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn ec_client() -> (EcdsaKeyPair, Value) {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &rng).expect("key");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, pkcs8.as_ref(), &rng).expect("pair");
        let point = pair.public_key().as_ref();
        let jwk = json!({"kty": "EC", "crv": "P-384", "kid": "k1", "x": b64(&point[1..49]), "y": b64(&point[49..])});
        (pair, json!({"keys": [jwk]}))
    }

    fn signed(pair: &EcdsaKeyPair, header: Value, claims: Value) -> String {
        let body = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
        let signature = pair.sign(&SystemRandom::new(), body.as_bytes()).expect("sign");
        format!("{body}.{}", b64(signature.as_ref()))
    }

    fn now() -> Timestamp {
        "2026-12-02T12:00:00Z".parse().expect("t")
    }

    fn claims(exp: i64) -> Value {
        json!({"iss": "c1", "sub": "c1", "aud": AUD, "exp": exp, "jti": "j-1"})
    }

    #[test]
    fn an_es384_assertion_signed_by_a_registered_key_is_taken_and_anything_else_is_named() {
        let (pair, jwks) = ec_client();
        let exp = now().as_second() + 240;
        let header = json!({"alg": "ES384", "kid": "k1", "typ": "JWT"});
        let jwt = signed(&pair, header.clone(), claims(exp));
        assert_eq!(claimed_client(&jwt).as_deref(), Ok("c1"));
        let taken = verify(&jwt, "c1", &jwks, AUD, now()).expect("verified");
        assert_eq!((taken.jti.as_str(), taken.expires_at.as_second()), ("j-1", exp));

        let reason = |jwt: &str| verify(jwt, "c1", &jwks, AUD, now()).expect_err("refused").reason;
        let (other, _) = ec_client();
        assert!(reason(&signed(&other, header.clone(), claims(exp))).contains("signature"));
        assert!(reason(&signed(&pair, json!({"alg": "HS256"}), claims(exp))).contains("RS384 or ES384"));
        assert!(reason(&signed(&pair, json!({"alg": "ES384", "kid": "k2"}), claims(exp))).contains("signature"));
        assert!(reason(&signed(&pair, header.clone(), claims(now().as_second() + 3600))).contains("five minutes"));
        assert!(reason(&signed(&pair, header.clone(), claims(now().as_second() - 120))).contains("expired"));
        let mut elsewhere = claims(exp);
        elsewhere["aud"] = json!("https://other.example/token");
        assert!(reason(&signed(&pair, header.clone(), elsewhere)).contains("aud"));
        let mut someone = claims(exp);
        someone["sub"] = json!("c2");
        assert!(reason(&signed(&pair, header.clone(), someone)).contains("iss and sub"));
        let mut no_jti = claims(exp);
        no_jti.as_object_mut().expect("claims").remove("jti");
        assert!(reason(&signed(&pair, header.clone(), no_jti)).contains("jti"));
        // A signature over other claims does not carry over.
        let mut parts: Vec<String> = jwt.split('.').map(str::to_owned).collect();
        let mut forged = claims(exp);
        forged["jti"] = json!("j-2");
        parts[1] = b64(forged.to_string().as_bytes());
        assert!(reason(&parts.join(".")).contains("signature"));
        assert!(reason("not.a-jwt").contains("JWT"));
    }

    #[test]
    fn an_rs384_assertion_verifies_with_the_registered_modulus_and_exponent() {
        let der = include_bytes!("../../../rapport/tests/fixtures/smart/rsa-test-key.der");
        let pair = ring::signature::RsaKeyPair::from_der(der).expect("the test key");
        let parts: signature::RsaPublicKeyComponents<Vec<u8>> = pair.public().into();
        let jwks = json!({"keys": [{"kty": "RSA", "n": b64(&parts.n), "e": b64(&parts.e)}]});
        let header = json!({"alg": "RS384"});
        let body = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims(now().as_second() + 60).to_string().as_bytes())
        );
        let mut signature = vec![0; pair.public().modulus_len()];
        pair.sign(&signature::RSA_PKCS1_SHA384, &SystemRandom::new(), body.as_bytes(), &mut signature).expect("sign");
        let jwt = format!("{body}.{}", b64(&signature));
        assert!(verify(&jwt, "c1", &jwks, AUD, now()).is_ok());
        assert!(check_jwks(&jwks).is_ok());
        let mut wrong = jwks.clone();
        wrong["keys"][0]["e"] = json!("AQAC");
        assert!(verify(&jwt, "c1", &wrong, AUD, now()).is_err());
    }

    #[test]
    fn system_scopes_become_capabilities_and_only_registered_ones_are_granted() {
        use Capability as C;
        assert_eq!(capabilities("system/Patient.read"), Some(vec![C::PatientRead]));
        assert_eq!(capabilities("system/Patient.rs"), Some(vec![C::PatientRead]));
        assert_eq!(capabilities("system/Appointment.cud"), Some(vec![C::AppointmentWrite]));
        assert_eq!(capabilities("system/Slot.*"), Some(vec![C::OrganizationRead, C::OrganizationWrite]));
        assert_eq!(capabilities("system/*.read").map(|c| c.len()), Some(5));
        for bad in ["patient/Patient.read", "system/Observation.read", "system/Patient.sr", "system/Patient.", "openid"]
        {
            assert_eq!(capabilities(bad), None, "{bad}");
        }
        let (granted, caps) = grant("system/Patient.read system/Appointment.write", "system/*.read").expect("some");
        assert_eq!((granted, caps), (vec!["system/Patient.read".to_owned()], vec![C::PatientRead]));
        assert_eq!(grant("system/Patient.write", "system/*.read").expect_err("none").code, "invalid_scope");
        assert_eq!(grant("launch/patient", "system/*.*").expect_err("not system").code, "invalid_scope");
        let jwks = json!({"keys": [{"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA", "d": "AA"}]});
        assert!(check_jwks(&jwks).expect_err("private").contains("private"));
        assert!(check_jwks(&json!({"keys": [{"kty": "oct", "k": "AA"}]})).is_err());
    }
}
