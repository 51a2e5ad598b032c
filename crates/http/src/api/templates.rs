//! `/organizations/{org}/templates`: the organization's own message
//! templates (list, write, read, change, remove), the shipped ones they
//! override, and a preview of the words one patient would get.

use std::collections::HashSet;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rapport_domain::message::compose::{ComposeError, Links, Source, compose};
use rapport_domain::message::routing::{DEFAULT_ORDER, address_for};
use rapport_domain::message::template::TemplateKind;
use rapport_domain::{AppointmentId, Channel, PatientId, TemplateId, ValidationErrors};

use super::message_lint::LintReport;
use super::template_dto::{PreviewInput, PreviewView, TemplateInput, TemplateView, lint_words};
use super::{ListView, about_patient, versioned};
use crate::AppState;
use crate::access::{Allowed, need};
use crate::error::{ApiError, Problem};
use crate::extract::{IfMatch, JsonBody, path_id};
use crate::query::QueryParams;

/// The organization's own templates, oldest first; `kind` narrows to one kind.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/templates", tag = "templates",
    params(("org" = String, Path, description = "Organization id"),
        ("kind" = Option<String>, Query, description = "Only this kind"),
        ("limit" = Option<usize>, Query, description = "1 to 200"), ("after" = Option<String>, Query, description = "Cursor")),
    responses((status = 200, body = ListView<TemplateView>)))]
pub async fn list(
    State(state): State<AppState>,
    access: Allowed<need::ReadOrganization>,
    params: QueryParams,
) -> Result<Response, ApiError> {
    let params = params.only(&["kind"])?;
    let kind = params.parse::<TemplateKind>("kind", "a template kind")?;
    let organization = state.store.get_organization(access.org()).await?;
    let page = state.store.templates(access.org(), kind.as_ref(), &params.page()?).await?;
    let items = page.items.iter().map(|t| TemplateView::stored(t, &organization)).collect();
    Ok(axum::Json(ListView { items, next_cursor: page.next_cursor }).into_response())
}

/// The templates Rapport ships (English and Spanish): used for a kind and
/// language the organization has not written.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/templates/shipped", tag = "templates",
    params(("org" = String, Path, description = "Organization id")),
    responses((status = 200, body = ListView<TemplateView>)))]
pub async fn shipped(
    State(state): State<AppState>,
    access: Allowed<need::ReadOrganization>,
) -> Result<Response, ApiError> {
    let organization = state.store.get_organization(access.org()).await?;
    let items = rapport_domain::message::builtin::templates()
        .iter()
        .map(|content| TemplateView::of(content, &organization))
        .collect();
    Ok(axum::Json(ListView { items, next_cursor: None }).into_response())
}

/// Write a template; one per kind and language (409 for a second). The
/// answer carries what the linter says of it.
#[utoipa::path(post, path = "/api/v1/organizations/{org}/templates", tag = "templates",
    params(("org" = String, Path, description = "Organization id")), request_body = TemplateInput,
    responses((status = 201, body = TemplateView), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    access: Allowed<need::WriteTemplates>,
    JsonBody(input): JsonBody<TemplateInput>,
) -> Result<Response, ApiError> {
    let content = input.validate()?;
    let organization = state.store.get_organization(access.org()).await?;
    let template = state.store.create_template(access.org(), &content).await?;
    Ok(versioned(template.version, TemplateView::stored(&template, &organization), true))
}

#[utoipa::path(get, path = "/api/v1/organizations/{org}/templates/{id}", tag = "templates",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Template id")),
    responses((status = 200, body = TemplateView), (status = 404, body = Problem)))]
pub async fn read(
    State(state): State<AppState>,
    access: Allowed<need::ReadOrganization>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id: TemplateId = path_id(&id)?;
    let organization = state.store.get_organization(access.org()).await?;
    let template = state.store.template(access.org(), id).await?;
    Ok(versioned(template.version, TemplateView::stored(&template, &organization), false))
}

/// Replace a template's words at the version read (`If-Match`). Messages
/// not yet handed over are composed from the new words.
#[utoipa::path(put, path = "/api/v1/organizations/{org}/templates/{id}", tag = "templates",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Template id"),
        ("If-Match" = String, Header, description = "The ETag read")),
    request_body = TemplateInput,
    responses((status = 200, body = TemplateView), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    access: Allowed<need::WriteTemplates>,
    Path((_, id)): Path<(String, String)>,
    IfMatch(expected): IfMatch,
    JsonBody(input): JsonBody<TemplateInput>,
) -> Result<Response, ApiError> {
    let id: TemplateId = path_id(&id)?;
    let content = input.validate()?;
    let organization = state.store.get_organization(access.org()).await?;
    let template = state.store.update_template(access.org(), id, &content, expected).await?;
    Ok(versioned(template.version, TemplateView::stored(&template, &organization), false))
}

/// Remove a template: its kind falls back to another language or to the shipped words.
#[utoipa::path(delete, path = "/api/v1/organizations/{org}/templates/{id}", tag = "templates",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Template id")),
    responses((status = 204, description = "Removed"), (status = 404, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    access: Allowed<need::WriteTemplates>,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id: TemplateId = path_id(&id)?;
    state.store.delete_template(access.org(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The words `template` would give this patient now, composed as the
/// dispatcher composes them (their language, the visit in its zone), with
/// the linter's findings on them.
#[utoipa::path(post, path = "/api/v1/organizations/{org}/templates/preview", tag = "templates",
    params(("org" = String, Path, description = "Organization id")), request_body = PreviewInput,
    responses((status = 200, body = PreviewView), (status = 422, body = Problem)))]
pub async fn preview(
    State(state): State<AppState>,
    access: Allowed<need::WriteMessages>,
    JsonBody(input): JsonBody<PreviewInput>,
) -> Result<Response, ApiError> {
    let mut errors = ValidationErrors::new();
    let kind = TemplateKind::parse(&input.template).map_err(|e| errors.push("template", e.to_string())).ok();
    let patient_id = input.patient_id.parse::<PatientId>().map_err(|_| errors.push("patient_id", "is not an id")).ok();
    let appointment_id = input
        .appointment_id
        .as_deref()
        .and_then(|raw| raw.parse::<AppointmentId>().map_err(|_| errors.push("appointment_id", "is not an id")).ok());
    let channel = input
        .channel
        .as_deref()
        .and_then(|raw| raw.parse::<Channel>().map_err(|e| errors.push("channel", e.to_string())).ok());
    let (Some(kind), Some(patient_id), true) = (kind, patient_id, errors.is_empty()) else {
        return Err(errors.into());
    };
    let (store, org) = (&state.store, access.org());
    let unknown = |field: &str| ApiError::field(field, "does not name a record of this organization");
    let patient = store.get_patient(org, patient_id).await.map_err(|_| unknown("patient_id"))?;
    if let Some(id) = appointment_id {
        let appointment = store.get_appointment(org, id).await.map_err(|_| unknown("appointment_id"))?;
        if appointment.details.patient_id != patient.id {
            return Err(unknown("appointment_id"));
        }
    }
    let order: &[Channel] =
        if patient.details.channel_order.is_empty() { &DEFAULT_ORDER } else { &patient.details.channel_order };
    let channel = channel
        .or_else(|| order.iter().copied().find(|&c| address_for(&patient.details, c).is_some()))
        .unwrap_or(Channel::Sms);
    let organization = store.get_organization(org).await?;
    let facts = store
        .compose_facts(&HashSet::from([org]), &HashSet::from([&kind]), &appointment_id.into_iter().collect())
        .await?;
    let visit = appointment_id.and_then(|id| facts.visit(org, id));
    // A preview's link is genuine but names no message: following it stops nothing.
    let links = Links {
        unsubscribe: state.links.as_ref().map(|l| l.link(rapport_domain::MessageId::generate())),
        answers: None,
    };
    let own = facts.templates_of(org);
    let composed =
        compose(&kind, own, &organization, &patient.details, visit, &links, channel).map_err(|e| match e {
            ComposeError::NoTemplate(_) | ComposeError::NoLink => ApiError::field("template", e.to_string()),
            ComposeError::NoAppointment => ApiError::field("appointment_id", e.to_string()),
        })?;
    let findings = lint_words(channel, composed.class, composed.subject.as_deref(), &composed.body, &organization);
    let (source, template_id) = match composed.source {
        Source::Organization(id) => ("organization", Some(id.to_string())),
        Source::Shipped => ("shipped", None),
    };
    let view = PreviewView {
        source: source.into(),
        template_id,
        language: composed.language.as_str().into(),
        channel: channel.as_str().into(),
        subject: composed.subject,
        body: composed.body,
        lint: LintReport::from(findings),
    };
    Ok(about_patient(axum::Json(view).into_response(), patient.id))
}
