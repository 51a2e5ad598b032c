//! The inbox page: the conversation list with its views (mine, unassigned,
//! all open, unmatched, closed) and, when one is picked, its thread with
//! what staff do there (assign, close or reopen, link a number, reply,
//! note). The thread is the API's (`conversations::thread`), so the page
//! and the API cannot disagree.

use std::collections::HashMap;

use axum::extract::State;
use axum::response::Response;
use rapport_domain::{ConversationId, OrganizationId, PatientId};
use serde::Serialize;

use super::{frame, render, v};
use crate::http::AppState;
use crate::http::access::{Allowed, need};
use crate::http::api::conversation_dto::{ConversationView, ThreadEntry};
use crate::http::api::conversations::{thread, viewer};
use crate::http::error::ApiError;
use crate::http::query::QueryParams;
use crate::store::{AssignedFilter, Conversation, ConversationQuery, ConversationStatus, PageRequest, Store};

const VIEWS: [(&str, &str); 5] = [
    ("mine", "Mine"),
    ("unassigned", "Unassigned"),
    ("all", "All open"),
    ("unmatched", "Unmatched"),
    ("closed", "Closed"),
];

/// How many conversations the list shows.
const LIST_LIMIT: usize = 100;

#[derive(Debug, Serialize)]
struct Row {
    id: String,
    name: String,
    status: &'static str,
    unread: i64,
    unmatched: bool,
    flagged: bool,
    assigned_name: Option<String>,
    last_activity_at: String,
}

#[derive(Debug, Serialize)]
struct Selected {
    conversation: ConversationView,
    entries: Vec<ThreadEntry>,
    name: String,
    patient: Option<Person>,
    candidates: Vec<Person>,
    /// The number texted STOP: replies by text will not go.
    opted_out: bool,
    /// The canned replies, filled for this patient.
    canned: Vec<Canned>,
}

#[derive(Debug, Serialize)]
struct Canned {
    title: String,
    body: String,
}

#[derive(Debug, Serialize)]
struct Person {
    id: String,
    name: String,
    birth_date: Option<String>,
}

pub(super) async fn page(
    State(state): State<AppState>,
    access: Allowed<need::ReadMessages>,
    params: QueryParams,
) -> Result<Response, ApiError> {
    let params = params.only(&["view", "c"])?;
    let org = access.org();
    let me = viewer(&access);
    let view = params.get("view").unwrap_or(if me.is_some() { "mine" } else { "all" });
    let mut query = ConversationQuery { status: Some(ConversationStatus::Open), ..ConversationQuery::default() };
    match view {
        "mine" => query.assigned = Some(me.map_or(AssignedFilter::Nobody, AssignedFilter::To)),
        "unassigned" => query.assigned = Some(AssignedFilter::Nobody),
        "all" => {}
        "unmatched" => (query.status, query.unmatched) = (None, true),
        "closed" => query.status = Some(ConversationStatus::Closed),
        _ => return Err(ApiError::InvalidQuery("view must be mine, unassigned, all, unmatched or closed".into())),
    }
    let store = &state.store;
    let staff = store.staff_users(org).await?;
    let names: HashMap<String, String> = staff.iter().map(|s| (s.id.to_string(), s.display_name.clone())).collect();
    let list = store.conversations(org, &query, me, &PageRequest::first(LIST_LIMIT)).await?.items;
    let everything = ConversationQuery { status: Some(ConversationStatus::Open), ..ConversationQuery::default() };
    let total_unread: i64 = match me {
        Some(_) => store
            .conversations(org, &everything, me, &PageRequest::first(200))
            .await?
            .items
            .iter()
            .filter_map(|c| c.unread)
            .sum(),
        None => 0,
    };
    let mut rows = Vec::with_capacity(list.len());
    for c in &list {
        rows.push(Row {
            id: c.id.to_string(),
            name: display_name(store, org, c).await?,
            status: c.status.as_str(),
            unread: c.unread.unwrap_or(0),
            unmatched: c.patient_id.is_none(),
            flagged: c.revocation_flag_at.is_some(),
            assigned_name: c.assigned_to.and_then(|u| names.get(&u.to_string()).cloned()),
            last_activity_at: c.last_activity_at.to_string(),
        });
    }
    let selected = match params.get("c") {
        None => None,
        Some(raw) => {
            let id: ConversationId =
                raw.parse().map_err(|_| ApiError::InvalidQuery("c must be a conversation id".into()))?;
            let conversation = store.conversation(org, id, me).await?;
            let name = display_name(store, org, &conversation).await?;
            let patient = match conversation.patient_id {
                Some(p) => Some(person(store, org, p).await?),
                None => None,
            };
            let opted_out = store.is_sms_suppressed_anywhere(org, &conversation.number).await?;
            let canned = match conversation.patient_id {
                Some(p) => {
                    let record = store.get_patient(org, p).await?.details;
                    let first = record.preferred_name.as_deref().unwrap_or(&record.given_name);
                    let practice = store.get_organization(org).await?.name;
                    let replies = store.canned_replies(org).await?;
                    replies
                        .iter()
                        .map(|c| Canned {
                            title: c.words.title.clone(),
                            body: c.words.fill(first, &record.family_name, &practice),
                        })
                        .collect()
                }
                None => Vec::new(),
            };
            let view = thread(&state, org, conversation).await?;
            let mut candidates = Vec::new();
            for id in &view.candidates {
                let id: PatientId = id.parse().map_err(|_| ApiError::Internal("a candidate's id".into()))?;
                candidates.push(person(store, org, id).await?);
            }
            Some(Selected {
                conversation: view.conversation,
                entries: view.entries,
                name,
                patient,
                candidates,
                opted_out,
                canned,
            })
        }
    };
    let staff: Vec<Person> = staff
        .iter()
        .filter(|s| s.disabled_at.is_none())
        .map(|s| Person { id: s.id.to_string(), name: s.display_name.clone(), birth_date: None })
        .collect();
    let frame = frame(store, &access.grant, org, "inbox").await?;
    render(
        "inbox.html",
        minijinja::context! {
            title => "Inbox", frame => v(&frame), views => v(&VIEWS), view, items => v(&rows), total_unread,
            selected => v(&selected), staff => v(&staff), names => v(&names),
        },
    )
}

/// The patient's name, or the number while nobody is linked.
async fn display_name(store: &Store, org: OrganizationId, c: &Conversation) -> Result<String, ApiError> {
    Ok(match c.patient_id {
        Some(p) => person(store, org, p).await?.name,
        None => c.number.clone(),
    })
}

async fn person(store: &Store, org: OrganizationId, id: PatientId) -> Result<Person, ApiError> {
    let p = store.get_patient(org, id).await?;
    let d = &p.details;
    Ok(Person {
        id: p.id.to_string(),
        name: format!("{} {}", d.preferred_name.as_deref().unwrap_or(&d.given_name), d.family_name),
        birth_date: d.birth_date.map(|b| b.to_string()),
    })
}
