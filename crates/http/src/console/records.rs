//! The console's record pages: patient search (by name, or by phone when
//! the words read as one), a patient's whole story on one page (contact
//! and preferences, consents, visits with their reminders' states, the
//! conversation, the timeline of every interaction) and the outbox of
//! messages with their states.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::response::Response;
use rapport_domain::{Capability, MessageState, PatientId, PhoneE164};
use serde::Serialize;

use super::{frame, render, v};
use crate::AppState;
use crate::access::{Allowed, need};
use crate::api::appointment_dto::AppointmentView;
use crate::api::consents::ConsentView;
use crate::api::messages::MessageView;
use crate::api::patient_dto::PatientView;
use crate::api::timeline::timeline_items;
use crate::error::ApiError;
use crate::extract::path_id;
use crate::query::QueryParams;
use rapport_store::{AppointmentQuery, ConversationQuery, MessageQuery, PageRequest, PatientQuery};

pub(super) async fn search(
    State(state): State<AppState>,
    access: Allowed<need::ReadPatients>,
    params: QueryParams,
) -> Result<Response, ApiError> {
    let params = params.only(&["q"])?;
    let org = access.org();
    let q = params.get("q").unwrap_or("").trim().to_owned();
    let mut patients = Vec::new();
    let mut error = None;
    if !q.is_empty() {
        let looks_like_phone = q.chars().filter(char::is_ascii_digit).count() >= 7;
        let query = match (looks_like_phone, PhoneE164::parse(&q)) {
            (true, Ok(phone)) => Some(PatientQuery { phone: Some(phone), ..PatientQuery::default() }),
            (true, Err(_)) => {
                error = Some("That is not a phone number Rapport can read.");
                None
            }
            (false, _) => Some(PatientQuery { name: Some(q.clone()), ..PatientQuery::default() }),
        };
        if let Some(query) = query {
            match state.store.search_patients(org, &query, &PageRequest::first(50)).await {
                Ok(page) => patients = page.items.iter().map(PatientView::from).collect(),
                // Never repeat what was typed: it may be a patient's name.
                Err(rapport_store::StoreError::Invalid { .. }) => error = Some("Type at least the start of a name."),
                Err(other) => return Err(other.into()),
            }
        }
    }
    let frame = frame(&state.store, &access.grant, org, "patients").await?;
    render(
        "patients.html",
        minijinja::context! { title => "Patients", frame => v(&frame), q, patients => v(&patients), error },
    )
}

#[derive(Debug, Serialize)]
struct Visit {
    visit: AppointmentView,
    upcoming: bool,
    reminders: Vec<MessageView>,
}

pub(super) async fn patient(
    State(state): State<AppState>,
    access: Allowed<need::ReadPatients>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let org = access.org();
    let store = &state.store;
    let record = store.get_patient(org, path_id::<PatientId>(&id)?).await?;
    let patient = record.id;
    let consents: Vec<ConsentView> =
        store.current_consents(org, patient).await?.iter().map(ConsentView::from).collect();
    let visits = store
        .list_appointments(
            org,
            &AppointmentQuery { patient_id: Some(patient), ..AppointmentQuery::default() },
            &PageRequest::first(50),
        )
        .await?
        .items;
    // What was said to and by the patient shows to those who may read messages.
    let reads_messages = access.grant.principal.role().has(Capability::MessageRead);
    let messages = match reads_messages {
        true => {
            let query = MessageQuery { patient: Some(patient), ..MessageQuery::default() };
            store.messages(org, &query, &PageRequest::first(200)).await?.items
        }
        false => Vec::new(),
    };
    let now = store.clock().now();
    let mut by_visit: HashMap<String, Vec<MessageView>> = HashMap::new();
    for m in messages.iter().rev() {
        if let Some(visit) = m.plan.appointment_id {
            by_visit.entry(visit.to_string()).or_default().push(MessageView::from(m));
        }
    }
    let mut visits: Vec<Visit> = visits
        .iter()
        .map(|v| Visit {
            visit: AppointmentView::from(v),
            upcoming: v.details.start > now,
            reminders: by_visit.remove(&v.id.to_string()).unwrap_or_default(),
        })
        .collect();
    visits.sort_by(|a, b| b.visit.start.cmp(&a.visit.start));
    let query = ConversationQuery { patient: Some(patient), ..ConversationQuery::default() };
    let (conversation, timeline) = match reads_messages {
        true => (
            store
                .conversations(org, &query, None, &PageRequest::first(1))
                .await?
                .items
                .first()
                .map(|c| c.id.to_string()),
            timeline_items(store, org, patient).await?,
        ),
        false => (None, Vec::new()),
    };
    let frame = frame(store, &access.grant, org, "patients").await?;
    let title = format!("{} {}", record.details.given_name, record.details.family_name);
    let p = PatientView::from(&record);
    render(
        "patient.html",
        minijinja::context! {
            title, frame => v(&frame), p => v(&p), consents => v(&consents), visits => v(&visits), conversation,
            timeline => v(&timeline),
        },
    )
}

/// The outbox: every message, or (`?state=in_doubt`) those whose hand-off
/// may or may not have reached the provider, with why and what staff may do.
pub(super) async fn outbox(
    State(state): State<AppState>,
    access: Allowed<need::ReadMessages>,
    params: QueryParams,
) -> Result<Response, ApiError> {
    let params = params.only(&["state"])?;
    let org = access.org();
    let store = &state.store;
    let in_doubt = params.get("state") == Some("in_doubt");
    let query = MessageQuery { state: in_doubt.then_some(MessageState::InDoubt), ..MessageQuery::default() };
    let page = store.messages(org, &query, &params.page()?).await?;
    let mut names: HashMap<String, String> = HashMap::new();
    for m in &page.items {
        if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(m.plan.patient_id.to_string()) {
            let name = match store.get_patient(org, m.plan.patient_id).await {
                Ok(p) => format!("{} {}", p.details.given_name, p.details.family_name),
                Err(rapport_store::StoreError::NotFound) => "(record removed)".to_owned(),
                Err(other) => return Err(other.into()),
            };
            slot.insert(name);
        }
    }
    let messages: Vec<MessageView> = page.items.iter().map(MessageView::from).collect();
    let doubts = store.count_messages_in(org, MessageState::InDoubt).await?;
    let role = access.grant.principal.role();
    let can = minijinja::context! {
        settle => role.has(Capability::MessageWrite), resend => role.has(Capability::MessageResend),
    };
    let frame = frame(store, &access.grant, org, "outbox").await?;
    render(
        "outbox.html",
        minijinja::context! {
            title => "Outbox", frame => v(&frame), messages => v(&messages), names => v(&names),
            next => page.next_cursor, in_doubt => in_doubt, doubts => doubts, can => can,
        },
    )
}
