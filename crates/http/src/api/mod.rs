//! The JSON REST API under `/api/v1`. Every resource lives inside an
//! organization's path, and every store call is scoped by it.

pub mod appointment_dto;
mod appointments;
mod audit;
mod auth;
mod auth_dto;
mod canned_replies;
pub mod consents;
pub mod conversation_dto;
pub mod conversations;
mod inbox_stream;
mod integration;
mod message_lint;
pub mod messages;
mod metrics;
mod organization_dto;
mod organizations;
pub mod patient_dto;
mod patients;
mod push;
mod recall_rules;
mod reminder_rules;
mod reply_words;
pub mod smart_clients;
mod staff;
mod tasks;
mod teams;
mod template_dto;
mod templates;
mod text_media;
pub mod timeline;
mod waitlist;

use axum::Json;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::extract::etag;

pub use openapi_paths::ApiPaths;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(auth::login))
        .route("/auth/password-reset", post(auth::request_reset))
        .route("/auth/password-reset/confirm", post(auth::complete_reset))
        .route("/auth/me", get(auth::me))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/logout-everywhere", post(auth::logout_everywhere))
        .route("/auth/sessions", get(auth::sessions))
        .route("/auth/sessions/{id}", delete(auth::end_session))
        .route("/auth/mfa/enrolment", post(auth::start_enrolment))
        .route("/auth/mfa/enrolment/confirm", post(auth::confirm_enrolment))
        .route("/organizations", get(organizations::list))
        .route("/organizations/{org}", get(organizations::read).put(organizations::update))
        .route(
            "/organizations/{org}/locations",
            get(organizations::list_locations).post(organizations::create_location),
        )
        .route(
            "/organizations/{org}/locations/{id}",
            get(organizations::read_location).put(organizations::update_location),
        )
        .route(
            "/organizations/{org}/providers",
            get(organizations::list_providers).post(organizations::create_provider),
        )
        .route(
            "/organizations/{org}/providers/{id}",
            get(organizations::read_provider).put(organizations::update_provider),
        )
        .route("/organizations/{org}/patients", get(patients::search).post(patients::create))
        .route("/organizations/{org}/patients/{id}", get(patients::read).put(patients::update).delete(patients::delete))
        .route("/organizations/{org}/patients/{id}/consents", get(consents::list).post(consents::record))
        .route("/organizations/{org}/patients/{id}/push-subscriptions", get(push::list).post(push::subscribe))
        .route("/push/vapid-key", get(push::vapid_key))
        .route("/organizations/{org}/appointments", get(appointments::list).post(appointments::create_appointment))
        .route(
            "/organizations/{org}/appointments/{id}",
            get(appointments::read).put(appointments::update).delete(appointments::delete),
        )
        .route("/organizations/{org}/appointments/{id}/answers", get(timeline::answers))
        .route("/organizations/{org}/patients/{id}/texts", get(timeline::texts))
        .route("/organizations/{org}/patients/{id}/timeline", get(timeline::timeline))
        .route("/organizations/{org}/reply-words", get(reply_words::read).put(reply_words::replace))
        .route("/organizations/{org}/recall-rules", get(recall_rules::list).post(recall_rules::create))
        .route("/organizations/{org}/recall-rules/{id}", delete(recall_rules::delete))
        .route("/organizations/{org}/waitlist", get(waitlist::list).post(waitlist::add))
        .route("/organizations/{org}/waitlist/{id}", delete(waitlist::remove))
        .route("/organizations/{org}/offers", get(waitlist::offers))
        .route("/organizations/{org}/metrics/reminders", get(metrics::reminders))
        .route("/organizations/{org}/integration/hl7-messages", get(integration::hl7_messages))
        .route("/organizations/{org}/integration/hl7-messages/{id}/replay", post(integration::replay))
        .route(
            "/organizations/{org}/integration/code-mappings",
            get(integration::code_mappings).put(integration::map_code),
        )
        .route("/organizations/{org}/tasks", get(tasks::list))
        .route("/organizations/{org}/tasks/{id}/done", post(tasks::done))
        .route("/organizations/{org}/patients/{id}/export", get(audit::export_patient))
        .route("/organizations/{org}/audit-events", get(audit::query))
        .route("/organizations/{org}/messages", get(messages::list).post(messages::plan))
        .route("/organizations/{org}/messages/lint", post(message_lint::check))
        .route("/organizations/{org}/messages/{id}", get(messages::read))
        .route("/organizations/{org}/messages/{id}/cancel", post(messages::cancel))
        .route("/organizations/{org}/messages/{id}/mark-sent", post(messages::mark_sent))
        .route("/organizations/{org}/messages/{id}/resend", post(messages::resend))
        .route("/organizations/{org}/outbox", get(messages::outbox))
        .route("/organizations/{org}/conversations", get(conversations::list))
        .route("/organizations/{org}/inbox/events", get(inbox_stream::events))
        .route("/organizations/{org}/canned-replies", get(canned_replies::list).post(canned_replies::create))
        .route("/organizations/{org}/canned-replies/{id}", delete(canned_replies::delete))
        .route("/organizations/{org}/teams", get(teams::list).post(teams::create))
        .route("/organizations/{org}/teams/{id}", put(teams::update))
        .route("/organizations/{org}/texts/{id}/media/{position}", get(text_media::read))
        .route("/organizations/{org}/conversations/{id}", get(conversations::read))
        .route("/organizations/{org}/conversations/{id}/read", post(conversations::mark_read))
        .route("/organizations/{org}/conversations/{id}/assign", post(conversations::assign))
        .route("/organizations/{org}/conversations/{id}/team", post(conversations::assign_team))
        .route("/organizations/{org}/conversations/{id}/close", post(conversations::close))
        .route("/organizations/{org}/conversations/{id}/reopen", post(conversations::reopen))
        .route("/organizations/{org}/conversations/{id}/link", post(conversations::link))
        .route("/organizations/{org}/conversations/{id}/notes", post(conversations::add_note))
        .route("/organizations/{org}/conversations/{id}/replies", post(conversations::reply))
        .route("/organizations/{org}/reminder-rules", get(reminder_rules::list).post(reminder_rules::create))
        .route(
            "/organizations/{org}/reminder-rules/{id}",
            get(reminder_rules::read).put(reminder_rules::update).delete(reminder_rules::delete),
        )
        .route("/organizations/{org}/templates", get(templates::list).post(templates::create))
        .route("/organizations/{org}/templates/shipped", get(templates::shipped))
        .route("/organizations/{org}/templates/preview", post(templates::preview))
        .route(
            "/organizations/{org}/templates/{id}",
            get(templates::read).put(templates::update).delete(templates::delete),
        )
        .route("/organizations/{org}/staff", get(staff::list).post(staff::create))
        .route("/organizations/{org}/staff/{id}", get(staff::read))
        .route("/organizations/{org}/staff/{id}/role", put(staff::set_role))
        .route("/organizations/{org}/staff/{id}/disable", post(staff::disable))
        .route("/organizations/{org}/staff/{id}/enable", post(staff::enable))
        .route("/organizations/{org}/staff/{id}/reset-mfa", post(staff::reset_mfa))
        .route("/organizations/{org}/api-tokens", get(staff::list_tokens).post(staff::create_token))
        .route("/organizations/{org}/api-tokens/{id}", delete(staff::revoke_token))
        .route("/organizations/{org}/smart-clients", get(smart_clients::list).post(smart_clients::register))
        .route("/organizations/{org}/smart-clients/{id}", delete(smart_clients::revoke))
        .route("/organizations/{org}/security", get(staff::read_security).put(staff::update_security))
}

/// A page of results and the cursor of the next one (pass it as `after`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ListView<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A JSON body with its version as ETag; `created` answers 201.
fn versioned<T: Serialize>(version: i64, body: T, created: bool) -> Response {
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    let mut response = (status, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// Names the patient a response was about, for the audit trail, when the
/// path does not (a new patient, an appointment).
fn about_patient(mut response: Response, patient: rapport_domain::PatientId) -> Response {
    response.extensions_mut().insert(super::guard::AuditPatient(patient));
    response
}

mod openapi_paths {
    /// Every operation of the API, for the OpenAPI document.
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(
        super::organizations::list,
        super::organizations::read,
        super::organizations::update,
        super::organizations::list_locations,
        super::organizations::create_location,
        super::organizations::read_location,
        super::organizations::update_location,
        super::organizations::list_providers,
        super::organizations::create_provider,
        super::organizations::read_provider,
        super::organizations::update_provider,
        super::patients::search,
        super::patients::create,
        super::patients::read,
        super::patients::update,
        super::patients::delete,
        super::consents::list,
        super::consents::record,
        super::push::vapid_key,
        super::smart_clients::list,
        super::smart_clients::register,
        super::smart_clients::revoke,
        super::push::subscribe,
        super::push::list,
        super::appointments::list,
        super::appointments::create_appointment,
        super::appointments::read,
        super::appointments::update,
        super::appointments::delete,
        super::audit::export_patient,
        super::audit::query,
        super::messages::plan,
        super::message_lint::check,
        super::messages::list,
        super::messages::read,
        super::messages::cancel,
        super::messages::mark_sent,
        super::messages::resend,
        super::messages::outbox,
        super::conversations::list,
        super::conversations::read,
        super::conversations::mark_read,
        super::conversations::assign,
        super::conversations::assign_team,
        super::conversations::close,
        super::conversations::reopen,
        super::conversations::link,
        super::conversations::add_note,
        super::conversations::reply,
        super::inbox_stream::events,
        super::canned_replies::list,
        super::canned_replies::create,
        super::canned_replies::delete,
        super::teams::list,
        super::teams::create,
        super::teams::update,
        super::text_media::read,
        super::reminder_rules::list,
        super::reminder_rules::create,
        super::reminder_rules::read,
        super::reminder_rules::update,
        super::reminder_rules::delete,
        super::recall_rules::list,
        super::recall_rules::create,
        super::recall_rules::delete,
        super::reply_words::read,
        super::reply_words::replace,
        super::waitlist::list,
        super::waitlist::add,
        super::waitlist::remove,
        super::waitlist::offers,
        super::metrics::reminders,
        super::integration::hl7_messages,
        super::integration::replay,
        super::integration::code_mappings,
        super::integration::map_code,
        super::tasks::list,
        super::tasks::done,
        super::timeline::answers,
        super::timeline::texts,
        super::timeline::timeline,
        super::templates::list,
        super::templates::shipped,
        super::templates::create,
        super::templates::read,
        super::templates::update,
        super::templates::delete,
        super::templates::preview,
        super::auth::login,
        super::auth::request_reset,
        super::auth::complete_reset,
        super::auth::me,
        super::auth::logout,
        super::auth::logout_everywhere,
        super::auth::sessions,
        super::auth::end_session,
        super::auth::start_enrolment,
        super::auth::confirm_enrolment,
        super::staff::list,
        super::staff::create,
        super::staff::read,
        super::staff::set_role,
        super::staff::disable,
        super::staff::enable,
        super::staff::reset_mfa,
        super::staff::list_tokens,
        super::staff::create_token,
        super::staff::revoke_token,
        super::staff::read_security,
        super::staff::update_security,
    ))]
    pub struct ApiPaths;
}
