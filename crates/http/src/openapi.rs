//! `GET /api/openapi.json`: the OpenAPI 3 document, generated from the
//! handlers' annotations, so it cannot drift from the code.

use axum::Json;
use axum::response::IntoResponse;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(title = "Rapport", description = "Patient relationship management: the registry API."),
    paths(
        super::healthz,
        super::readyz,
        super::prometheus::serve,
        super::hooks::twilio_status,
        super::hooks::twilio_inbound,
        super::voice::twilio_voice,
        super::voice::twilio_keypad,
        super::unsubscribe::confirm_page,
        super::unsubscribe::unsubscribe,
        super::answers::answer_page,
        super::answers::answer,
        super::fhir::capability::metadata,
        super::smart::configuration,
        super::smart::token,
        super::fhir::read_patient,
        super::fhir::search_patients,
        super::fhir::write::create_patient,
        super::fhir::write::update_patient,
        super::fhir::write::create_appointment,
        super::fhir::registry_writes::create_practitioner,
        super::fhir::registry_writes::create_location,
        super::fhir::registry_writes::update_location,
        super::fhir::registry_writes::update_practitioner,
        super::fhir::write::update_appointment,
        super::fhir::vread::patient,
        super::fhir::everything::patient_everything,
        super::fhir::export::kick_off,
        super::fhir::export::status,
        super::fhir::export::file,
        super::fhir::export::remove,
        super::fhir::vread::practitioner,
        super::fhir::vread::location,
        super::fhir::vread::appointment,
        super::fhir::vread::schedule,
        super::fhir::schedules::read_schedule,
        super::fhir::schedules::search_schedules,
        super::fhir::schedules::create_schedule,
        super::fhir::schedules::update_schedule,
        super::fhir::slots::read_slot,
        super::fhir::slots::search_slots,
        super::fhir::communication::read_communication,
        super::fhir::communication::search_communications,
        super::fhir::communication::create_communication,
        super::fhir::communication::update_communication,
        super::fhir::communication_request::update_request,
        super::fhir::consent::update_consent,
        super::fhir::communication_request::read_request,
        super::fhir::communication_request::search_requests,
        super::fhir::communication_request::create_request,
        super::fhir::consent::read_consent,
        super::fhir::consent::search_consents,
        super::fhir::consent::create_consent,
        super::fhir::read_practitioner,
        super::fhir::search_practitioners,
        super::fhir::read_location,
        super::fhir::search_locations,
        super::fhir::organizations::read,
        super::fhir::organizations::search,
        super::fhir::organizations::create,
        super::fhir::organizations::update,
        super::fhir::read_appointment,
        super::fhir::search_appointments
    )
)]
struct ApiDoc;

/// The whole document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut document = ApiDoc::openapi();
    document.merge(super::api::ApiPaths::openapi());
    // Every operation needs a caller unless it says `security(())`: an
    // integration's token, or a staff session (with `X-CSRF-Token` on changes).
    let components = document.components.get_or_insert_with(Default::default);
    components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    components.add_security_scheme(
        "session",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(super::guard::SESSION_COOKIE))),
    );
    document.security = Some(vec![
        SecurityRequirement::new("bearer", Vec::<String>::new()),
        SecurityRequirement::new("session", Vec::<String>::new()),
    ]);
    document
}

/// The document as served: with the errors every operation can answer.
pub fn served() -> serde_json::Value {
    let mut document = serde_json::to_value(document()).expect("the document serializes");
    super::contract::declare_errors(&mut document);
    document
}

pub async fn serve() -> impl IntoResponse {
    Json(served())
}
