//! Request extractors that turn bad input into clear `ApiError`s: JSON
//! bodies (unknown fields are a 400, wrong values a 422 naming the field,
//! never quoting it), If-Match preconditions, and typed path ids.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// A JSON body of type `T`, parsed strictly.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime == "application/json" || mime.ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::MalformedJson { line: 0, column: 0 }
            }
        })?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parses `bytes` as `T`, mapping serde's errors onto API errors whose text
/// holds field names and positions only.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.inner();
        let message = inner.to_string();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::MalformedJson { line: inner.line(), column: inner.column() };
        }
        if let Some(name) = backticked(&message, "unknown field `") {
            return ApiError::UnknownField(join_path(&path, name, true));
        }
        if let Some(name) = backticked(&message, "missing field `") {
            return ApiError::field(join_path(&path, name, false), "is required");
        }
        let field = if path == "." { "body".to_owned() } else { path };
        ApiError::field(field, "has the wrong type or shape")
    })?;
    deserializer.end().map_err(|e| ApiError::MalformedJson { line: e.line(), column: e.column() })?;
    Ok(value)
}

/// The name between "prefix" and the next backtick of a serde message.
fn backticked<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = message.strip_prefix(prefix)?;
    rest.split('`').next()
}

/// serde_path_to_error's path points at the unknown field itself, but at the
/// parent object for a missing one.
fn join_path(path: &str, name: &str, path_includes_name: bool) -> String {
    match (path, path_includes_name) {
        (".", _) => name.to_owned(),
        (p, true) => p.to_owned(),
        (p, false) => format!("{p}.{name}"),
    }
}

/// The version a client read, from `If-Match: "N"` (weak tags accepted).
pub struct IfMatch(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match OptionalIfMatch::from_request_parts(parts, &()).await?.0 {
            Some(version) => Ok(IfMatch(version)),
            None => Err(ApiError::PreconditionRequired),
        }
    }
}

/// Like [`IfMatch`] for requests where the precondition is optional (DELETE).
pub struct OptionalIfMatch(pub Option<i64>);

impl<S: Send + Sync> FromRequestParts<S> for OptionalIfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let Some(raw) = parts.headers.get(header::IF_MATCH) else {
            return Ok(OptionalIfMatch(None));
        };
        // A tag that is not one of ours can never match the current version (RFC 9110, 13.1.1).
        let never_matches = || ApiError::PreconditionFailed { current_version: None };
        let text = raw.to_str().map_err(|_| never_matches())?;
        let tag = text.trim().trim_start_matches("W/").trim_matches('"');
        let version = tag.parse::<i64>().map_err(|_| never_matches())?;
        Ok(OptionalIfMatch(Some(version)))
    }
}

/// An ETag for a version.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// Parses a path segment as a typed id; anything else is "not found", the
/// same answer as an id that does not exist.
pub fn path_id<T: std::str::FromStr>(raw: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        #[serde(default)]
        phones: Vec<Phone>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Phone {
        number: String,
    }

    fn codes(json: &str) -> (&'static str, String) {
        match parse_json::<Body>(json.as_bytes()) {
            Ok(_) => ("ok", String::new()),
            Err(ApiError::Validation(v)) => ("validation_failed", v.to_string()),
            Err(ApiError::UnknownField(f)) => ("unknown_field", f),
            Err(ApiError::MalformedJson { line, column }) => ("malformed_json", format!("{line}:{column}")),
            Err(other) => ("other", format!("{other:?}")),
        }
    }

    #[test]
    fn json_errors_name_fields_and_never_values() {
        assert_eq!(codes(r#"{"name":"Ann"}"#).0, "ok");
        assert_eq!(codes(r#"{"name":"Ann","ssn":"123"}"#), ("unknown_field", "ssn".into()));
        assert_eq!(
            codes(r#"{"name":"Ann","phones":[{"number":"1","ext":"2"}]}"#),
            ("unknown_field", "phones[0].ext".into())
        );
        assert_eq!(codes(r#"{}"#), ("validation_failed", "name: is required".into()));
        assert_eq!(
            codes(r#"{"name":"Ann","phones":[{}]}"#),
            ("validation_failed", "phones[0].number: is required".into())
        );
        let (code, text) = codes(r#"{"name":12345}"#);
        assert_eq!(code, "validation_failed");
        assert!(!text.contains("12345"), "{text}");
        assert_eq!(codes(r#"{"name":"Ann""#).0, "malformed_json");
        assert_eq!(codes(r#"{"name":"Ann"} trailing"#).0, "malformed_json");
    }
}
