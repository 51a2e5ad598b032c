//! `/auth`: signing in and out, the session list, MFA enrolment. The
//! session secret travels only in a `__Host-` cookie (Secure, HttpOnly,
//! SameSite=Strict); the CSRF token in the body is for the header.

use axum::extract::{Extension, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::auth_dto::{
    CodeInput, LoginInput, MeView, MfaEnrolmentView, RecoveryCodesView, ResetInput, ResetRequestInput, SessionView,
    StaffUserView,
};
use crate::AppState;
use crate::access::SignedIn;
use crate::error::{ApiError, Problem};
use crate::extract::{JsonBody, path_id};
use crate::guard::SESSION_COOKIE;
use rapport_engine::auth::mfa::{self, EnrolmentError};
use rapport_engine::auth::reset::{self, ResetError};
use rapport_engine::auth::{ClientInfo, SignIn, SignInError, signin};

impl From<SignInError> for ApiError {
    fn from(error: SignInError) -> Self {
        match error {
            SignInError::InvalidCredentials => ApiError::InvalidCredentials,
            SignInError::MfaRequired => ApiError::MfaRequired,
            SignInError::InvalidCode => ApiError::InvalidCode,
            SignInError::Throttled { retry_after } => {
                ApiError::TooManyAttempts { retry_after_seconds: retry_after.as_secs().max(1).unsigned_abs() }
            }
            SignInError::Store(error) => error.into(),
        }
    }
}

impl From<EnrolmentError> for ApiError {
    fn from(error: EnrolmentError) -> Self {
        match error {
            EnrolmentError::AlreadyEnrolled => ApiError::Conflict("an enrolled second factor".into()),
            EnrolmentError::NotStarted => ApiError::field("code", "no enrolment was started"),
            EnrolmentError::WrongCode => ApiError::InvalidCode,
            EnrolmentError::Store(error) => error.into(),
        }
    }
}

fn with_cookie(mut response: Response, value: &str, max_age_seconds: i64) -> Response {
    let cookie =
        format!("{SESSION_COOKIE}={value}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age_seconds}");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// Sign in. Unknown account, wrong password and disabled account answer
/// alike; an account with MFA answers `mfa_required` until the code is sent.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", security(()), request_body = LoginInput,
    responses((status = 200, body = MeView, description = "Signed in; the session cookie is set"),
        (status = 401, body = Problem), (status = 429, body = Problem)))]
pub async fn login(
    State(state): State<AppState>,
    Extension(client): Extension<ClientInfo>,
    JsonBody(input): JsonBody<LoginInput>,
) -> Result<Response, ApiError> {
    let request =
        SignIn { email: input.email, password: input.password, code: input.code, recovery_code: input.recovery_code };
    let signed_in = signin::sign_in(&state.store, &state.auth, &request, &client).await?;
    let view = MeView {
        user: StaffUserView::from(&signed_in.user),
        session: SessionView::new(&signed_in.session, true),
        csrf_token: signed_in.csrf_token,
    };
    let max_age = state.auth.session_absolute.as_secs();
    Ok(with_cookie(axum::Json(view).into_response(), &signed_in.token, max_age))
}

/// Who is signed in, and the session's CSRF token.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", responses((status = 200, body = MeView), (status = 401, body = Problem)))]
pub async fn me(me: SignedIn) -> Result<Response, ApiError> {
    let view = MeView {
        user: StaffUserView::from(&me.user),
        session: SessionView::new(&me.session, true),
        csrf_token: me.csrf_token,
    };
    Ok(axum::Json(view).into_response())
}

/// Sign out of this session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", responses((status = 204, description = "Signed out")))]
pub async fn logout(State(state): State<AppState>, me: SignedIn) -> Result<Response, ApiError> {
    state.store.end_session(me.session.id).await?;
    Ok(with_cookie(StatusCode::NO_CONTENT.into_response(), "", 0))
}

/// Sign out of every session of this account.
#[utoipa::path(post, path = "/api/v1/auth/logout-everywhere", tag = "auth", responses((status = 204, description = "Signed out everywhere")))]
pub async fn logout_everywhere(State(state): State<AppState>, me: SignedIn) -> Result<Response, ApiError> {
    state.store.end_sessions_of(me.user.id).await?;
    Ok(with_cookie(StatusCode::NO_CONTENT.into_response(), "", 0))
}

/// This account's live sessions, newest first.
#[utoipa::path(get, path = "/api/v1/auth/sessions", tag = "auth", responses((status = 200, body = Vec<SessionView>)))]
pub async fn sessions(State(state): State<AppState>, me: SignedIn) -> Result<Response, ApiError> {
    let sessions = state.store.sessions_of(me.user.id).await?;
    let views: Vec<SessionView> = sessions.iter().map(|s| SessionView::new(s, s.id == me.session.id)).collect();
    Ok(axum::Json(views).into_response())
}

/// End one of this account's sessions (a lost laptop).
#[utoipa::path(delete, path = "/api/v1/auth/sessions/{id}", tag = "auth",
    params(("id" = String, Path, description = "Session id")),
    responses((status = 204, description = "Ended"), (status = 404, body = Problem)))]
pub async fn end_session(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = path_id(&id)?;
    let own = state.store.sessions_of(me.user.id).await?;
    if !own.iter().any(|s| s.id == id) {
        return Err(ApiError::NotFound);
    }
    state.store.end_session(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Start MFA enrolment: a new secret for the authenticator app.
#[utoipa::path(post, path = "/api/v1/auth/mfa/enrolment", tag = "auth",
    responses((status = 200, body = MfaEnrolmentView), (status = 409, body = Problem)))]
pub async fn start_enrolment(State(state): State<AppState>, me: SignedIn) -> Result<Response, ApiError> {
    let org = state.store.get_organization(me.user.organization_id).await?;
    let enrolment = mfa::start(&state.store, &me.user, &format!("Rapport {}", org.name)).await?;
    let view = MfaEnrolmentView { secret: enrolment.secret, otpauth_uri: enrolment.otpauth_uri };
    Ok(axum::Json(view).into_response())
}

/// Confirm enrolment with a first code; answers the recovery codes, once.
#[utoipa::path(post, path = "/api/v1/auth/mfa/enrolment/confirm", tag = "auth", request_body = CodeInput,
    responses((status = 200, body = RecoveryCodesView), (status = 401, body = Problem), (status = 409, body = Problem)))]
pub async fn confirm_enrolment(
    State(state): State<AppState>,
    me: SignedIn,
    JsonBody(input): JsonBody<CodeInput>,
) -> Result<Response, ApiError> {
    let recovery_codes = mfa::confirm(&state.store, &me.user, &input.code).await?;
    state.store.complete_session_mfa(me.session.id).await?;
    Ok(axum::Json(RecoveryCodesView { recovery_codes }).into_response())
}

/// Ask for a password-reset link. The answer is the same whether or not the
/// account exists.
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "auth", security(()), request_body = ResetRequestInput,
    responses((status = 202, description = "If the account exists, a link is on its way")))]
pub async fn request_reset(
    State(state): State<AppState>,
    JsonBody(input): JsonBody<ResetRequestInput>,
) -> Result<StatusCode, ApiError> {
    if let Some((user, token)) = reset::request(&state.store, &input.email).await?
        && state.auth.log_reset_links
    {
        // Development only (log_password_reset_links): the link is a secret.
        tracing::warn!(user = %user.id, link = %format!("/reset-password#token={token}"), "password reset link");
    }
    Ok(StatusCode::ACCEPTED)
}

/// Set a new password with a reset link; every session of the account ends.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "auth", security(()), request_body = ResetInput,
    responses((status = 204, description = "The password is changed"), (status = 422, body = Problem)))]
pub async fn complete_reset(
    State(state): State<AppState>,
    Extension(client): Extension<ClientInfo>,
    JsonBody(input): JsonBody<ResetInput>,
) -> Result<StatusCode, ApiError> {
    match reset::complete(&state.store, &input.token, &input.new_password, &client).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(ResetError::BadLink) => Err(ApiError::field("token", "is unknown, used or expired")),
        Err(ResetError::Weak(weak)) => Err(ApiError::field("new_password", weak.to_string())),
        Err(ResetError::Store(error)) => Err(error.into()),
    }
}
