//! Who may call which route: the one table of route policies, the caller
//! (`Principal`) the guard resolves, and the extractors through which a
//! handler receives its organization only once the check has passed.
//!
//! A handler that serves an organization's data takes `Allowed<N>`, where
//! `N` names the capability it needs; there is no other way to obtain the
//! `OrganizationId` it must pass to the store. The guard (`guard.rs`)
//! grants from this table; a handler whose `N` disagrees with its route's
//! row answers 500, and the authorization matrix test fails.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::Method;
use axum::http::request::Parts;
use rapport_domain::{ApiToken, Capability, OrganizationId, Role, SessionInfo, StaffUser};

use super::error::ApiError;

/// What a route demands of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Anyone: health checks, the API document, signing in.
    Public,
    /// A provider's webhook: no session or token; the handler verifies the
    /// provider's signature and refuses (403) what does not match.
    Signed,
    /// An operator's scraper: the `[metrics]` token, or a direct loopback
    /// client; the handler checks, and staff credentials count for nothing.
    Operator,
    /// A signed-in staff session, even one that still owes its MFA enrolment.
    SessionEvenMfaPending,
    /// A signed-in staff session that has passed MFA where required.
    Session,
    /// A caller (session or token) holding the capability, in the path's organization.
    Needs(Capability),
}

/// One row of the policy table.
#[derive(Debug, Clone, Copy)]
pub struct RoutePolicy {
    pub method: &'static str,
    /// The route template, as the router matched it.
    pub path: &'static str,
    pub rule: Rule,
    /// The audit trail's name for the action (`patient.read`).
    pub action: &'static str,
    /// The kind of record the path's `{id}` names, if any.
    pub resource: Option<&'static str>,
    /// The path's `{id}` is a patient's id (recorded as the event's patient).
    pub id_is_patient: bool,
}

const fn route(method: &'static str, path: &'static str, rule: Rule, action: &'static str) -> RoutePolicy {
    RoutePolicy { method, path, rule, action, resource: None, id_is_patient: false }
}

const fn on(
    method: &'static str,
    path: &'static str,
    rule: Rule,
    action: &'static str,
    resource: &'static str,
) -> RoutePolicy {
    RoutePolicy { method, path, rule, action, resource: Some(resource), id_is_patient: false }
}

const fn on_patient(method: &'static str, path: &'static str, rule: Rule, action: &'static str) -> RoutePolicy {
    RoutePolicy { method, path, rule, action, resource: Some("patient"), id_is_patient: true }
}

use Capability as C;
use Rule::{Needs, Operator, Public, Session, SessionEvenMfaPending, Signed};

/// Every route of the application and its policy. A route missing here is
/// refused (500) by the guard, and the matrix test names it.
pub const POLICIES: &[RoutePolicy] = &[
    route("GET", "/healthz", Public, "health.live"),
    route("GET", "/readyz", Public, "health.ready"),
    route("GET", "/metrics", Operator, "metrics.read"),
    route("GET", "/api/openapi.json", Public, "api.document"),
    route("GET", "/api/v1/push/vapid-key", Public, "push.vapid_key"),
    route("GET", "/console", Session, "console.home"),
    route("GET", "/console/sign-in", Public, "console.sign_in"),
    route("GET", "/console/assets/{file}", Public, "console.asset"),
    route("GET", "/console/{org}/inbox", Needs(C::MessageRead), "console.inbox"),
    route("GET", "/console/{org}/patients", Needs(C::PatientRead), "console.patient_search"),
    on_patient("GET", "/console/{org}/patients/{id}", Needs(C::PatientRead), "console.patient"),
    route("GET", "/console/{org}/outbox", Needs(C::MessageRead), "console.outbox"),
    route("POST", "/api/v1/auth/login", Public, "auth.login"),
    route("POST", "/api/v1/auth/password-reset", Public, "auth.password_reset_request"),
    route("POST", "/api/v1/auth/password-reset/confirm", Public, "auth.password_reset"),
    route("POST", "/hooks/twilio/{org}/messages/{id}/status", Signed, "hooks.twilio_status"),
    route("POST", "/hooks/twilio/{org}/messages/{id}/voice", Signed, "hooks.twilio_voice"),
    route("POST", "/hooks/twilio/{org}/messages/{id}/keypad", Signed, "hooks.twilio_keypad"),
    route("POST", "/hooks/twilio/{org}/inbound", Signed, "hooks.twilio_inbound"),
    route("GET", "/unsubscribe/{token}", Public, "unsubscribe.page"),
    route("POST", "/unsubscribe/{token}", Signed, "unsubscribe.one_click"),
    route("GET", "/answer/{token}", Public, "answer.page"),
    route("POST", "/answer/{token}", Signed, "answer.give"),
    route("GET", "/api/v1/auth/me", SessionEvenMfaPending, "auth.me"),
    route("POST", "/api/v1/auth/logout", SessionEvenMfaPending, "auth.logout"),
    route("POST", "/api/v1/auth/mfa/enrolment", SessionEvenMfaPending, "auth.mfa_enrolment_start"),
    route("POST", "/api/v1/auth/mfa/enrolment/confirm", SessionEvenMfaPending, "auth.mfa_enrolment_confirm"),
    route("POST", "/api/v1/auth/logout-everywhere", Session, "auth.logout_everywhere"),
    route("GET", "/api/v1/auth/sessions", Session, "auth.session_list"),
    on("DELETE", "/api/v1/auth/sessions/{id}", Session, "auth.session_end", "session"),
    route("GET", "/api/v1/organizations", Needs(C::OrganizationRead), "organization.list"),
    route("GET", "/api/v1/organizations/{org}", Needs(C::OrganizationRead), "organization.read"),
    route("PUT", "/api/v1/organizations/{org}", Needs(C::OrganizationWrite), "organization.update"),
    route("GET", "/api/v1/organizations/{org}/locations", Needs(C::OrganizationRead), "location.list"),
    route("POST", "/api/v1/organizations/{org}/locations", Needs(C::OrganizationWrite), "location.create"),
    on("GET", "/api/v1/organizations/{org}/locations/{id}", Needs(C::OrganizationRead), "location.read", "location"),
    on("PUT", "/api/v1/organizations/{org}/locations/{id}", Needs(C::OrganizationWrite), "location.update", "location"),
    route("GET", "/api/v1/organizations/{org}/providers", Needs(C::OrganizationRead), "provider.list"),
    route("POST", "/api/v1/organizations/{org}/providers", Needs(C::OrganizationWrite), "provider.create"),
    on("GET", "/api/v1/organizations/{org}/providers/{id}", Needs(C::OrganizationRead), "provider.read", "provider"),
    on("PUT", "/api/v1/organizations/{org}/providers/{id}", Needs(C::OrganizationWrite), "provider.update", "provider"),
    route("GET", "/api/v1/organizations/{org}/patients", Needs(C::PatientRead), "patient.search"),
    route("POST", "/api/v1/organizations/{org}/patients", Needs(C::PatientWrite), "patient.create"),
    on_patient("GET", "/api/v1/organizations/{org}/patients/{id}", Needs(C::PatientRead), "patient.read"),
    on_patient("PUT", "/api/v1/organizations/{org}/patients/{id}", Needs(C::PatientWrite), "patient.update"),
    on_patient("DELETE", "/api/v1/organizations/{org}/patients/{id}", Needs(C::PatientWrite), "patient.delete"),
    on_patient("GET", "/api/v1/organizations/{org}/patients/{id}/consents", Needs(C::ConsentRead), "consent.list"),
    on_patient("POST", "/api/v1/organizations/{org}/patients/{id}/consents", Needs(C::ConsentWrite), "consent.record"),
    on_patient("GET", "/api/v1/organizations/{org}/patients/{id}/export", Needs(C::PatientExport), "patient.export"),
    on_patient(
        "GET",
        "/api/v1/organizations/{org}/patients/{id}/push-subscriptions",
        Needs(C::PatientRead),
        "push.list",
    ),
    on_patient(
        "POST",
        "/api/v1/organizations/{org}/patients/{id}/push-subscriptions",
        Needs(C::PatientWrite),
        "push.subscribe",
    ),
    route("GET", "/api/v1/organizations/{org}/appointments", Needs(C::AppointmentRead), "appointment.list"),
    route("POST", "/api/v1/organizations/{org}/appointments", Needs(C::AppointmentWrite), "appointment.create"),
    on(
        "GET",
        "/api/v1/organizations/{org}/appointments/{id}",
        Needs(C::AppointmentRead),
        "appointment.read",
        "appointment",
    ),
    on(
        "PUT",
        "/api/v1/organizations/{org}/appointments/{id}",
        Needs(C::AppointmentWrite),
        "appointment.update",
        "appointment",
    ),
    on(
        "DELETE",
        "/api/v1/organizations/{org}/appointments/{id}",
        Needs(C::AppointmentWrite),
        "appointment.delete",
        "appointment",
    ),
    on(
        "GET",
        "/api/v1/organizations/{org}/appointments/{id}/answers",
        Needs(C::AppointmentRead),
        "appointment.answers",
        "appointment",
    ),
    on_patient("GET", "/api/v1/organizations/{org}/patients/{id}/texts", Needs(C::MessageRead), "text.list"),
    on_patient("GET", "/api/v1/organizations/{org}/patients/{id}/timeline", Needs(C::MessageRead), "patient.timeline"),
    route("GET", "/api/v1/organizations/{org}/recall-rules", Needs(C::OrganizationRead), "recall_rule.list"),
    route("POST", "/api/v1/organizations/{org}/recall-rules", Needs(C::OrganizationWrite), "recall_rule.create"),
    on(
        "DELETE",
        "/api/v1/organizations/{org}/recall-rules/{id}",
        Needs(C::OrganizationWrite),
        "recall_rule.delete",
        "recall_rule",
    ),
    route("GET", "/api/v1/organizations/{org}/reply-words", Needs(C::OrganizationRead), "reply_words.read"),
    route("PUT", "/api/v1/organizations/{org}/reply-words", Needs(C::OrganizationWrite), "reply_words.replace"),
    route("GET", "/api/v1/organizations/{org}/waitlist", Needs(C::AppointmentRead), "waitlist.list"),
    route("POST", "/api/v1/organizations/{org}/waitlist", Needs(C::AppointmentWrite), "waitlist.add"),
    on(
        "DELETE",
        "/api/v1/organizations/{org}/waitlist/{id}",
        Needs(C::AppointmentWrite),
        "waitlist.remove",
        "waitlist_entry",
    ),
    route("GET", "/api/v1/organizations/{org}/offers", Needs(C::AppointmentRead), "offer.list"),
    route("GET", "/api/v1/organizations/{org}/metrics/reminders", Needs(C::AppointmentRead), "metrics.reminders"),
    route(
        "GET",
        "/api/v1/organizations/{org}/integration/hl7-messages",
        Needs(C::OrganizationRead),
        "integration.hl7_log",
    ),
    on(
        "POST",
        "/api/v1/organizations/{org}/integration/hl7-messages/{id}/replay",
        Needs(C::OrganizationWrite),
        "integration.hl7_replay",
        "hl7_message",
    ),
    route(
        "GET",
        "/api/v1/organizations/{org}/integration/code-mappings",
        Needs(C::OrganizationRead),
        "integration.code_mappings",
    ),
    route(
        "PUT",
        "/api/v1/organizations/{org}/integration/code-mappings",
        Needs(C::OrganizationWrite),
        "integration.map_code",
    ),
    route("GET", "/fhir/metadata", Public, "fhir.metadata"),
    route("GET", "/fhir/$export", Needs(C::PatientExport), "fhir.export"),
    on("GET", "/fhir/$export-status/{id}", Needs(C::PatientExport), "fhir.export_status", "export"),
    on("DELETE", "/fhir/$export-status/{id}", Needs(C::PatientExport), "fhir.export_delete", "export"),
    on("GET", "/fhir/$export-file/{id}/{type}", Needs(C::PatientExport), "fhir.export_file", "export"),
    route("GET", "/fhir/Patient", Needs(C::PatientRead), "fhir.patient_search"),
    route("POST", "/fhir/Patient", Needs(C::PatientWrite), "fhir.patient_create"),
    on_patient("GET", "/fhir/Patient/{id}", Needs(C::PatientRead), "fhir.patient_read"),
    on_patient("PUT", "/fhir/Patient/{id}", Needs(C::PatientWrite), "fhir.patient_update"),
    on_patient("GET", "/fhir/Patient/{id}/_history/{version}", Needs(C::PatientRead), "fhir.patient_vread"),
    on_patient("GET", "/fhir/Patient/{id}/$everything", Needs(C::PatientExport), "fhir.patient_everything"),
    on(
        "GET",
        "/fhir/Practitioner/{id}/_history/{version}",
        Needs(C::OrganizationRead),
        "fhir.practitioner_vread",
        "provider",
    ),
    on("GET", "/fhir/Location/{id}/_history/{version}", Needs(C::OrganizationRead), "fhir.location_vread", "location"),
    on(
        "GET",
        "/fhir/Appointment/{id}/_history/{version}",
        Needs(C::AppointmentRead),
        "fhir.appointment_vread",
        "appointment",
    ),
    route("GET", "/fhir/Practitioner", Needs(C::OrganizationRead), "fhir.practitioner_search"),
    route("POST", "/fhir/Practitioner", Needs(C::OrganizationWrite), "fhir.practitioner_create"),
    on("PUT", "/fhir/Practitioner/{id}", Needs(C::OrganizationWrite), "fhir.practitioner_update", "provider"),
    on("GET", "/fhir/Practitioner/{id}", Needs(C::OrganizationRead), "fhir.practitioner_read", "provider"),
    route("GET", "/fhir/Location", Needs(C::OrganizationRead), "fhir.location_search"),
    route("POST", "/fhir/Location", Needs(C::OrganizationWrite), "fhir.location_create"),
    on("PUT", "/fhir/Location/{id}", Needs(C::OrganizationWrite), "fhir.location_update", "location"),
    on("GET", "/fhir/Location/{id}", Needs(C::OrganizationRead), "fhir.location_read", "location"),
    route("GET", "/fhir/Organization", Needs(C::OrganizationRead), "fhir.organization_search"),
    on("GET", "/fhir/Organization/{id}", Needs(C::OrganizationRead), "fhir.organization_read", "organization"),
    route("POST", "/fhir/Organization", Needs(C::OrganizationWrite), "fhir.organization_create"),
    on("PUT", "/fhir/Organization/{id}", Needs(C::OrganizationWrite), "fhir.organization_update", "organization"),
    route("GET", "/fhir/Appointment", Needs(C::AppointmentRead), "fhir.appointment_search"),
    on("GET", "/fhir/Appointment/{id}", Needs(C::AppointmentRead), "fhir.appointment_read", "appointment"),
    route("POST", "/fhir/Appointment", Needs(C::AppointmentWrite), "fhir.appointment_create"),
    on("PUT", "/fhir/Appointment/{id}", Needs(C::AppointmentWrite), "fhir.appointment_update", "appointment"),
    route("GET", "/fhir/Communication", Needs(C::MessageRead), "fhir.communication_search"),
    route("POST", "/fhir/Communication", Needs(C::MessageWrite), "fhir.communication_create"),
    on("GET", "/fhir/Communication/{id}", Needs(C::MessageRead), "fhir.communication_read", "message"),
    on("PUT", "/fhir/Communication/{id}", Needs(C::MessageWrite), "fhir.communication_update", "fhir_record"),
    route("GET", "/fhir/CommunicationRequest", Needs(C::MessageRead), "fhir.communication_request_search"),
    route("POST", "/fhir/CommunicationRequest", Needs(C::MessageWrite), "fhir.communication_request_create"),
    on("GET", "/fhir/CommunicationRequest/{id}", Needs(C::MessageRead), "fhir.communication_request_read", "message"),
    on(
        "PUT",
        "/fhir/CommunicationRequest/{id}",
        Needs(C::MessageWrite),
        "fhir.communication_request_update",
        "fhir_record",
    ),
    route("GET", "/fhir/Consent", Needs(C::ConsentRead), "fhir.consent_search"),
    route("POST", "/fhir/Consent", Needs(C::ConsentWrite), "fhir.consent_create"),
    on("GET", "/fhir/Consent/{id}", Needs(C::ConsentRead), "fhir.consent_read", "consent"),
    on("PUT", "/fhir/Consent/{id}", Needs(C::ConsentWrite), "fhir.consent_update", "fhir_record"),
    route("GET", "/fhir/Schedule", Needs(C::OrganizationRead), "fhir.schedule_search"),
    route("POST", "/fhir/Schedule", Needs(C::OrganizationWrite), "fhir.schedule_create"),
    on("GET", "/fhir/Schedule/{id}", Needs(C::OrganizationRead), "fhir.schedule_read", "schedule"),
    on("PUT", "/fhir/Schedule/{id}", Needs(C::OrganizationWrite), "fhir.schedule_update", "schedule"),
    on("GET", "/fhir/Schedule/{id}/_history/{version}", Needs(C::OrganizationRead), "fhir.schedule_vread", "schedule"),
    route("GET", "/fhir/Slot", Needs(C::OrganizationRead), "fhir.slot_search"),
    on("GET", "/fhir/Slot/{id}", Needs(C::OrganizationRead), "fhir.slot_read", "slot"),
    route("GET", "/api/v1/organizations/{org}/tasks", Needs(C::AppointmentRead), "task.list"),
    on("POST", "/api/v1/organizations/{org}/tasks/{id}/done", Needs(C::AppointmentWrite), "task.done", "task"),
    route("GET", "/api/v1/organizations/{org}/messages", Needs(C::MessageRead), "message.list"),
    route("POST", "/api/v1/organizations/{org}/messages", Needs(C::MessageWrite), "message.plan"),
    route("POST", "/api/v1/organizations/{org}/messages/lint", Needs(C::MessageWrite), "message.lint"),
    route("GET", "/api/v1/organizations/{org}/reminder-rules", Needs(C::OrganizationRead), "reminder_rule.list"),
    route("POST", "/api/v1/organizations/{org}/reminder-rules", Needs(C::OrganizationWrite), "reminder_rule.create"),
    on(
        "GET",
        "/api/v1/organizations/{org}/reminder-rules/{id}",
        Needs(C::OrganizationRead),
        "reminder_rule.read",
        "reminder_rule",
    ),
    on(
        "PUT",
        "/api/v1/organizations/{org}/reminder-rules/{id}",
        Needs(C::OrganizationWrite),
        "reminder_rule.update",
        "reminder_rule",
    ),
    on(
        "DELETE",
        "/api/v1/organizations/{org}/reminder-rules/{id}",
        Needs(C::OrganizationWrite),
        "reminder_rule.delete",
        "reminder_rule",
    ),
    route("GET", "/api/v1/organizations/{org}/templates", Needs(C::OrganizationRead), "template.list"),
    route("POST", "/api/v1/organizations/{org}/templates", Needs(C::TemplateWrite), "template.create"),
    route("GET", "/api/v1/organizations/{org}/templates/shipped", Needs(C::OrganizationRead), "template.shipped"),
    route("POST", "/api/v1/organizations/{org}/templates/preview", Needs(C::MessageWrite), "template.preview"),
    on("GET", "/api/v1/organizations/{org}/templates/{id}", Needs(C::OrganizationRead), "template.read", "template"),
    on("PUT", "/api/v1/organizations/{org}/templates/{id}", Needs(C::TemplateWrite), "template.update", "template"),
    on("DELETE", "/api/v1/organizations/{org}/templates/{id}", Needs(C::TemplateWrite), "template.delete", "template"),
    on("GET", "/api/v1/organizations/{org}/messages/{id}", Needs(C::MessageRead), "message.read", "message"),
    on("POST", "/api/v1/organizations/{org}/messages/{id}/cancel", Needs(C::MessageWrite), "message.cancel", "message"),
    on(
        "POST",
        "/api/v1/organizations/{org}/messages/{id}/mark-sent",
        Needs(C::MessageWrite),
        "message.mark_sent",
        "message",
    ),
    on(
        "POST",
        "/api/v1/organizations/{org}/messages/{id}/resend",
        Needs(C::MessageResend),
        "message.resend",
        "message",
    ),
    route("GET", "/api/v1/organizations/{org}/outbox", Needs(C::MessageRead), "outbox.list"),
    route("GET", "/api/v1/organizations/{org}/conversations", Needs(C::MessageRead), "conversation.list"),
    route("GET", "/api/v1/organizations/{org}/inbox/events", Needs(C::MessageRead), "inbox.listen"),
    route("GET", "/api/v1/organizations/{org}/canned-replies", Needs(C::MessageRead), "canned_reply.list"),
    route("POST", "/api/v1/organizations/{org}/canned-replies", Needs(C::OrganizationWrite), "canned_reply.create"),
    route("GET", "/api/v1/organizations/{org}/teams", Needs(C::MessageRead), "team.list"),
    route("POST", "/api/v1/organizations/{org}/teams", Needs(C::OrganizationWrite), "team.create"),
    on("PUT", "/api/v1/organizations/{org}/teams/{id}", Needs(C::OrganizationWrite), "team.update", "team"),
    on("GET", "/api/v1/organizations/{org}/texts/{id}/media/{position}", Needs(C::MessageRead), "text.media", "text"),
    on(
        "DELETE",
        "/api/v1/organizations/{org}/canned-replies/{id}",
        Needs(C::OrganizationWrite),
        "canned_reply.delete",
        "canned_reply",
    ),
    on(
        "GET",
        "/api/v1/organizations/{org}/conversations/{id}",
        Needs(C::MessageRead),
        "conversation.read",
        "conversation",
    ),
    on(
        "POST",
        "/api/v1/organizations/{org}/conversations/{id}/read",
        Needs(C::MessageRead),
        "conversation.mark_read",
        "conversation",
    ),
    on(
        "POST",
        "/api/v1/organizations/{org}/conversations/{id}/assign",
        Needs(C::MessageWrite),
        "conversation.assign",
        "conversation",
    ),
    on(
        "POST",
        "/api/v1/organizations/{org}/conversations/{id}/team",
        Needs(C::MessageWrite),
        "conversation.assign_team",
        "conversation",
    ),
    on(
        "POST",
        "/api/v1/organizations/{org}/conversations/{id}/close",
        Needs(C::MessageWrite),
        "conversation.close",
        "conversation",
    ),
    on(
        "POST",
        "/api/v1/organizations/{org}/conversations/{id}/reopen",
        Needs(C::MessageWrite),
        "conversation.reopen",
        "conversation",
    ),
    on(
        "POST",
        "/api/v1/organizations/{org}/conversations/{id}/link",
        Needs(C::MessageWrite),
        "conversation.link",
        "conversation",
    ),
    on(
        "POST",
        "/api/v1/organizations/{org}/conversations/{id}/notes",
        Needs(C::MessageWrite),
        "conversation.note",
        "conversation",
    ),
    on(
        "POST",
        "/api/v1/organizations/{org}/conversations/{id}/replies",
        Needs(C::MessageWrite),
        "conversation.reply",
        "conversation",
    ),
    route("GET", "/api/v1/organizations/{org}/staff", Needs(C::StaffManage), "staff.list"),
    route("POST", "/api/v1/organizations/{org}/staff", Needs(C::StaffManage), "staff.create"),
    on("GET", "/api/v1/organizations/{org}/staff/{id}", Needs(C::StaffManage), "staff.read", "staff_user"),
    on("PUT", "/api/v1/organizations/{org}/staff/{id}/role", Needs(C::StaffManage), "staff.role_change", "staff_user"),
    on("POST", "/api/v1/organizations/{org}/staff/{id}/disable", Needs(C::StaffManage), "staff.disable", "staff_user"),
    on("POST", "/api/v1/organizations/{org}/staff/{id}/enable", Needs(C::StaffManage), "staff.enable", "staff_user"),
    on(
        "POST",
        "/api/v1/organizations/{org}/staff/{id}/reset-mfa",
        Needs(C::StaffManage),
        "staff.mfa_reset",
        "staff_user",
    ),
    route("GET", "/api/v1/organizations/{org}/api-tokens", Needs(C::StaffManage), "api_token.list"),
    route("GET", "/api/v1/organizations/{org}/smart-clients", Needs(C::StaffManage), "smart_client.list"),
    route("POST", "/api/v1/organizations/{org}/smart-clients", Needs(C::StaffManage), "smart_client.register"),
    on(
        "DELETE",
        "/api/v1/organizations/{org}/smart-clients/{id}",
        Needs(C::StaffManage),
        "smart_client.revoke",
        "smart_client",
    ),
    route("GET", "/fhir/.well-known/smart-configuration", Public, "fhir.smart_configuration"),
    route("POST", "/oauth/token", Public, "smart.token_request"),
    route("POST", "/api/v1/organizations/{org}/api-tokens", Needs(C::StaffManage), "api_token.create"),
    on("DELETE", "/api/v1/organizations/{org}/api-tokens/{id}", Needs(C::StaffManage), "api_token.revoke", "api_token"),
    route("GET", "/api/v1/organizations/{org}/security", Needs(C::StaffManage), "security.read"),
    route("PUT", "/api/v1/organizations/{org}/security", Needs(C::StaffManage), "security.update"),
    route("GET", "/api/v1/organizations/{org}/audit-events", Needs(C::AuditRead), "audit.query"),
];

pub fn policy_for(method: &Method, path: &str) -> Option<&'static RoutePolicy> {
    POLICIES.iter().find(|p| p.method == method.as_str() && p.path == path)
}

/// Who is calling: a staff member's session or an integration's token,
/// always of exactly one organization.
#[derive(Debug, Clone)]
pub enum Principal {
    Staff { user: StaffUser, session: SessionInfo, csrf_token: String },
    Token(ApiToken),
}

impl Principal {
    pub fn organization(&self) -> OrganizationId {
        match self {
            Principal::Staff { user, .. } => user.organization_id,
            Principal::Token(token) => token.organization_id,
        }
    }

    pub fn role(&self) -> Role {
        match self {
            Principal::Staff { user, .. } => user.role,
            Principal::Token(_) => Role::Integration,
        }
    }

    pub fn holds(&self, capability: Capability) -> bool {
        match self {
            Principal::Staff { user, .. } => user.role.has(capability),
            Principal::Token(token) => token.allows(capability),
        }
    }
}

/// The guard's decision, handed to the handler through the request.
#[derive(Debug, Clone)]
pub struct Grant {
    pub principal: Principal,
    pub capability: Option<Capability>,
    /// Granted outside the role, on a stated reason.
    pub break_glass: bool,
}

/// Names the capability a handler needs, as a type.
pub trait Need: Send + Sync + 'static {
    const CAPABILITY: Capability;
}

/// Marker types, one per capability, for `Allowed<N>`.
pub mod need {
    use super::{Capability, Need};

    pub struct ReadOrganization;
    pub struct WriteOrganization;
    pub struct ReadPatients;
    pub struct WritePatients;
    pub struct ReadConsents;
    pub struct WriteConsents;
    pub struct ReadAppointments;
    pub struct WriteAppointments;
    pub struct ReadMessages;
    pub struct WriteMessages;
    pub struct ResendMessages;
    pub struct WriteTemplates;
    pub struct ExportPatients;
    pub struct ReadAudit;
    pub struct ManageStaff;

    impl Need for ReadOrganization {
        const CAPABILITY: Capability = Capability::OrganizationRead;
    }
    impl Need for WriteOrganization {
        const CAPABILITY: Capability = Capability::OrganizationWrite;
    }
    impl Need for ReadPatients {
        const CAPABILITY: Capability = Capability::PatientRead;
    }
    impl Need for WritePatients {
        const CAPABILITY: Capability = Capability::PatientWrite;
    }
    impl Need for ReadConsents {
        const CAPABILITY: Capability = Capability::ConsentRead;
    }
    impl Need for WriteConsents {
        const CAPABILITY: Capability = Capability::ConsentWrite;
    }
    impl Need for ReadAppointments {
        const CAPABILITY: Capability = Capability::AppointmentRead;
    }
    impl Need for WriteAppointments {
        const CAPABILITY: Capability = Capability::AppointmentWrite;
    }
    impl Need for ReadMessages {
        const CAPABILITY: Capability = Capability::MessageRead;
    }
    impl Need for WriteMessages {
        const CAPABILITY: Capability = Capability::MessageWrite;
    }
    impl Need for ResendMessages {
        const CAPABILITY: Capability = Capability::MessageResend;
    }
    impl Need for WriteTemplates {
        const CAPABILITY: Capability = Capability::TemplateWrite;
    }
    impl Need for ExportPatients {
        const CAPABILITY: Capability = Capability::PatientExport;
    }
    impl Need for ReadAudit {
        const CAPABILITY: Capability = Capability::AuditRead;
    }
    impl Need for ManageStaff {
        const CAPABILITY: Capability = Capability::StaffManage;
    }
}

/// Proof that the caller may do `N` in its organization.
pub struct Allowed<N: Need> {
    pub grant: Grant,
    need: PhantomData<N>,
}

impl<N: Need> Allowed<N> {
    /// The organization the request is about, checked against the caller's.
    pub fn org(&self) -> OrganizationId {
        self.grant.principal.organization()
    }
}

impl<S: Send + Sync, N: Need> FromRequestParts<S> for Allowed<N> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let grant = parts.extensions.get::<Grant>().cloned();
        match grant {
            Some(grant) if grant.capability == Some(N::CAPABILITY) => Ok(Self { grant, need: PhantomData }),
            _ => Err(ApiError::Internal(format!("route policy does not grant {}", N::CAPABILITY))),
        }
    }
}

/// A signed-in staff member (routes under `/api/v1/auth`).
pub struct SignedIn {
    pub user: StaffUser,
    pub session: SessionInfo,
    pub csrf_token: String,
}

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Grant>().map(|g| &g.principal) {
            Some(Principal::Staff { user, session, csrf_token }) => {
                Ok(Self { user: user.clone(), session: session.clone(), csrf_token: csrf_token.clone() })
            }
            _ => Err(ApiError::Internal("route policy does not grant a session".into())),
        }
    }
}
