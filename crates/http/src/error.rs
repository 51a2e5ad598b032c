//! The API's one error type, rendered as `application/problem+json`
//! (RFC 9457) with a stable machine `code` per kind of error. Internal
//! details never reach the client: they ride on the response as an
//! extension and are logged once, by the logging middleware.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rapport_domain::ValidationErrors;
use serde::Serialize;
use utoipa::ToSchema;

use rapport_store::StoreError;

#[derive(Debug)]
pub enum ApiError {
    NotFound,
    /// Not found, and why (what is there instead).
    NotFoundBecause(String),
    Validation(ValidationErrors),
    UnknownField(String),
    MalformedJson {
        line: usize,
        column: usize,
    },
    UnsupportedMediaType,
    PayloadTooLarge,
    InvalidQuery(String),
    PreconditionRequired,
    /// The current version when known (to name the current ETag).
    PreconditionFailed {
        current_version: Option<i64>,
    },
    Conflict(String),
    /// No credential, or one that is unknown, expired or revoked.
    Unauthenticated,
    /// The caller's role or token scopes do not allow this.
    Forbidden,
    /// The session must enrol a second factor before anything else.
    MfaEnrolmentRequired,
    /// A state-changing request with a session lacks the session's CSRF token.
    CsrfFailed,
    /// Sign-in: unknown account, wrong password or disabled account, alike.
    InvalidCredentials,
    /// Sign-in: the password was right; send the one-time code too.
    MfaRequired,
    /// Sign-in or enrolment: the one-time or recovery code is wrong or used.
    InvalidCode,
    /// Too many failures; try again after this many seconds.
    TooManyAttempts {
        retry_after_seconds: u64,
    },
    /// The client sent more requests than its rate allows.
    RateLimited {
        retry_after_seconds: u64,
    },
    Unavailable,
    Internal(String),
}

/// One field that failed validation.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldProblem {
    /// Where the field is, e.g. `phones[1].number`.
    pub field: String,
    /// Why it was refused; never repeats the value.
    pub reason: String,
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// Stable machine-readable code; see ARCHITECTURE.md for the table.
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

/// The internal cause of a 500, for the logging middleware only.
#[derive(Debug, Clone)]
pub struct InternalCause(pub String);

impl ApiError {
    /// Status, stable code and title: the one table of API errors.
    pub fn describe(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::NotFound | ApiError::NotFoundBecause(_) => {
                (StatusCode::NOT_FOUND, "not_found", "No such resource")
            }
            ApiError::Validation(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", "Some fields are invalid")
            }
            ApiError::UnknownField(_) => {
                (StatusCode::BAD_REQUEST, "unknown_field", "The body has a field this endpoint does not take")
            }
            ApiError::MalformedJson { .. } => (StatusCode::BAD_REQUEST, "malformed_json", "The body is not valid JSON"),
            ApiError::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "Send the body as application/json")
            }
            ApiError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "The body is too large"),
            ApiError::InvalidQuery(_) => (StatusCode::BAD_REQUEST, "invalid_query", "A query parameter is invalid"),
            ApiError::PreconditionRequired => {
                (StatusCode::PRECONDITION_REQUIRED, "precondition_required", "Send If-Match with the ETag you read")
            }
            ApiError::PreconditionFailed { .. } => {
                (StatusCode::PRECONDITION_FAILED, "precondition_failed", "The resource changed since you read it")
            }
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict", "The change conflicts with existing data"),
            ApiError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated", "Sign in or send an API token"),
            ApiError::Forbidden => (StatusCode::FORBIDDEN, "forbidden", "Your role does not allow this"),
            ApiError::MfaEnrolmentRequired => {
                (StatusCode::FORBIDDEN, "mfa_enrolment_required", "Enrol a second factor first")
            }
            ApiError::CsrfFailed => (StatusCode::FORBIDDEN, "csrf_failed", "Send the session's CSRF token"),
            ApiError::InvalidCredentials => {
                (StatusCode::UNAUTHORIZED, "invalid_credentials", "The email or password is wrong")
            }
            ApiError::MfaRequired => (StatusCode::UNAUTHORIZED, "mfa_required", "Send the one-time code too"),
            ApiError::InvalidCode => (StatusCode::UNAUTHORIZED, "invalid_code", "The code is wrong or was used"),
            ApiError::TooManyAttempts { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts", "Too many failed attempts; wait and retry")
            }
            ApiError::RateLimited { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "rate_limited", "Too many requests; slow down")
            }
            ApiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "The database is not reachable"),
            ApiError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Something went wrong on our side")
            }
        }
    }

    pub fn field(field: impl Into<String>, reason: impl Into<String>) -> Self {
        let mut errors = ValidationErrors::new();
        errors.push(field, reason);
        ApiError::Validation(errors)
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        ApiError::Validation(errors)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Conflict { constraint } => ApiError::Conflict(constraint),
            StoreError::UnknownReference { field } => {
                ApiError::field(field, "does not name a record of this organization")
            }
            StoreError::Invalid { field, reason } => ApiError::field(field, reason),
            StoreError::StaleVersion { actual, .. } => ApiError::PreconditionFailed { current_version: Some(actual) },
            other @ (StoreError::Corrupt(_) | StoreError::Database(_)) => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, title) = self.describe();
        let mut errors = Vec::new();
        let detail = match &self {
            ApiError::Validation(v) => {
                errors = v
                    .errors
                    .iter()
                    .map(|e| FieldProblem { field: e.field.clone(), reason: e.reason.clone() })
                    .collect();
                None
            }
            ApiError::UnknownField(name) => Some(format!("unknown field `{name}`")),
            ApiError::MalformedJson { line, column } => Some(format!("syntax error at line {line}, column {column}")),
            ApiError::InvalidQuery(what) | ApiError::NotFoundBecause(what) => Some(what.clone()),
            ApiError::PreconditionFailed { current_version: Some(version) } => {
                Some(format!("the current ETag is \"{version}\""))
            }
            ApiError::PreconditionFailed { current_version: None } => {
                Some("If-Match does not name a version of this resource".to_owned())
            }
            ApiError::Conflict(constraint) => Some(format!("conflicts with {constraint}")),
            ApiError::TooManyAttempts { retry_after_seconds } | ApiError::RateLimited { retry_after_seconds } => {
                Some(format!("try again in {retry_after_seconds} seconds"))
            }
            _ => None,
        };
        let problem = Problem {
            kind: format!("https://rapport.dev/problems/{}", code.replace('_', "-")),
            title: title.to_owned(),
            status: status.as_u16(),
            code,
            detail,
            errors,
        };
        let mut response = (status, Json(problem)).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        match self {
            ApiError::Internal(cause) => {
                response.extensions_mut().insert(InternalCause(cause));
            }
            ApiError::Unauthenticated => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"rapport\""));
            }
            ApiError::TooManyAttempts { retry_after_seconds } | ApiError::RateLimited { retry_after_seconds } => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds));
            }
            _ => {}
        }
        response
    }
}
