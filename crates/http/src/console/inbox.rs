//! The inbox page: the conversation list with its views (mine, my teams,
//! unassigned, all open, unmatched, closed) or a search's results and,
//! when one is picked, its thread with what staff do there (assign to a
//! person or a team, close or reopen, link a number, reply, note). The thread is the API's (`conversations::thread`), so the page
//! and the API cannot disagree.

use std::collections::HashMap;

use axum::extract::State;
use axum::response::Response;
use jiff::tz::TimeZone;
use rapport_domain::message::window::SendingHours;
use rapport_domain::{ConversationId, MessageClass, Organization, Patient, PatientDetails, PatientId, TeamId};
use serde::Serialize;

use super::{frame, render, v};
use crate::AppState;
use crate::access::{Allowed, need};
use crate::api::conversation_dto::{ConversationView, ThreadEntry};
use crate::api::conversations::{thread, viewer};
use crate::error::ApiError;
use crate::query::QueryParams;
use rapport_store::{AssignedFilter, ConversationQuery, ConversationStatus, PageRequest, TeamFilter};

const VIEWS: [(&str, &str); 6] = [
    ("mine", "Mine"),
    ("teams", "My teams"),
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
    team_name: Option<String>,
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
    /// Outside the patient's texting hours: a reply would wait.
    reply_wait: Option<ReplyWait>,
}

/// A reply written now would wait: the patient's time now, and when it would go.
#[derive(Debug, Serialize)]
struct ReplyWait {
    zone: String,
    local_now: String,
    /// `None` when the patient's hours leave no time at all.
    until: Option<String>,
}

/// Whether a reply written now would wait, by the rules the dispatcher
/// applies (`SendingHours::for_patient`, in the patient's zone, else the
/// organization's); `None` when it would go at once.
fn reply_wait(patient: &PatientDetails, organization: &Organization, now: jiff::Timestamp) -> Option<ReplyWait> {
    let zone_name = patient.time_zone.as_ref().unwrap_or(&organization.time_zone).as_str();
    let zone = TimeZone::get(zone_name).unwrap_or(TimeZone::UTC);
    let hours = SendingHours::for_patient(patient, organization.sending_window, MessageClass::Transactional);
    let next = hours.next_allowed(now, &zone);
    if next == Some(now) {
        return None;
    }
    Some(ReplyWait {
        zone: zone_name.to_owned(),
        local_now: now.to_zoned(zone.clone()).strftime("%-I:%M %p").to_string(),
        until: next.map(|at| at.to_zoned(zone.clone()).strftime("%a %b %-d, %-I:%M %p").to_string()),
    })
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
    let params = params.only(&["view", "c", "q"])?;
    let org = access.org();
    let me = viewer(&access);
    let view = params.get("view").unwrap_or(if me.is_some() { "mine" } else { "all" });
    let mut query = ConversationQuery { status: Some(ConversationStatus::Open), ..ConversationQuery::default() };
    match view {
        "mine" => query.assigned = Some(me.map_or(AssignedFilter::Nobody, AssignedFilter::To)),
        "teams" => match me {
            Some(user) => query.team = Some(TeamFilter::Of(user)),
            None => return Err(ApiError::InvalidQuery("view=teams needs a staff session".into())),
        },
        "unassigned" => query.assigned = Some(AssignedFilter::Nobody),
        "all" => {}
        "unmatched" => (query.status, query.unmatched) = (None, true),
        "closed" => query.status = Some(ConversationStatus::Closed),
        _ => {
            return Err(ApiError::InvalidQuery(
                "view must be mine, teams, unassigned, all, unmatched or closed".into(),
            ));
        }
    }
    // A search looks through every conversation, open or closed.
    let search = params.get("q").map(str::trim).filter(|q| !q.is_empty()).map(str::to_owned);
    if let Some(q) = &search {
        if q.chars().count() > 100 || q.split_whitespace().count() > 5 {
            return Err(ApiError::InvalidQuery("q must be at most 100 characters in at most 5 words".into()));
        }
        query = ConversationQuery { search: Some(q.clone()), ..ConversationQuery::default() };
    }
    let store = &state.store;
    let staff = store.staff_users(org).await?;
    let names: HashMap<String, String> = staff.iter().map(|s| (s.id.to_string(), s.display_name.clone())).collect();
    let teams = store.teams(org).await?;
    let team_names: HashMap<TeamId, String> = teams.iter().map(|t| (t.id, t.name.clone())).collect();
    let list = store.conversations(org, &query, me, &PageRequest::first(LIST_LIMIT)).await?.items;
    let linked: Vec<PatientId> = list.iter().filter_map(|c| c.patient_id).collect();
    let patients = store.patient_names(org, &linked).await?;
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
    let rows: Vec<Row> = list
        .iter()
        .map(|c| Row {
            id: c.id.to_string(),
            name: match c.patient_id.and_then(|p| patients.get(&p)) {
                Some(name) => name.full(),
                None => c.number.clone(),
            },
            status: c.status.as_str(),
            unread: c.unread.unwrap_or(0),
            unmatched: c.patient_id.is_none(),
            flagged: c.revocation_flag_at.is_some(),
            assigned_name: c.assigned_to.and_then(|u| names.get(&u.to_string()).cloned()),
            team_name: c.team_id.and_then(|t| team_names.get(&t).cloned()),
            last_activity_at: c.last_activity_at.to_string(),
        })
        .collect();
    let selected = match params.get("c") {
        None => None,
        Some(raw) => {
            let id: ConversationId =
                raw.parse().map_err(|_| ApiError::InvalidQuery("c must be a conversation id".into()))?;
            let conversation = store.conversation(org, id, me).await?;
            // The linked patient, read once for the name, the canned replies and the hour.
            let record = match conversation.patient_id {
                Some(p) => Some(store.get_patient(org, p).await?),
                None => None,
            };
            let patient = record.as_ref().map(person_of);
            let name = patient.as_ref().map_or_else(|| conversation.number.clone(), |p| p.name.clone());
            let opted_out = store.is_sms_suppressed_anywhere(org, &conversation.number).await?;
            let (canned, reply_wait) = match &record {
                Some(record) => {
                    let record = &record.details;
                    let first = record.preferred_name.as_deref().unwrap_or(&record.given_name);
                    let practice = store.get_organization(org).await?;
                    let replies = store.canned_replies(org).await?;
                    let canned = replies
                        .iter()
                        .map(|c| Canned {
                            title: c.words.title.clone(),
                            body: c.words.fill(first, &record.family_name, &practice.name),
                        })
                        .collect();
                    (canned, reply_wait(record, &practice, store.clock().now()))
                }
                None => (Vec::new(), None),
            };
            let view = thread(&state, org, conversation).await?;
            let ids = view
                .candidates
                .iter()
                .map(|id| id.parse::<PatientId>().map_err(|_| ApiError::Internal("a candidate's id".into())))
                .collect::<Result<Vec<_>, _>>()?;
            let named = store.patient_names(org, &ids).await?;
            let candidates = ids
                .iter()
                .filter_map(|id| {
                    let name = named.get(id)?;
                    Some(Person { id: id.to_string(), name: name.full(), birth_date: name.birth_date.clone() })
                })
                .collect();
            Some(Selected {
                conversation: view.conversation,
                entries: view.entries,
                name,
                patient,
                candidates,
                opted_out,
                canned,
                reply_wait,
            })
        }
    };
    let staff: Vec<Person> = staff
        .iter()
        .filter(|s| s.disabled_at.is_none())
        .map(|s| Person { id: s.id.to_string(), name: s.display_name.clone(), birth_date: None })
        .collect();
    let teams: Vec<Person> =
        teams.iter().map(|t| Person { id: t.id.to_string(), name: t.name.clone(), birth_date: None }).collect();
    let frame = frame(store, &access.grant, org, "inbox").await?;
    let view = if search.is_some() { "search" } else { view };
    render(
        "inbox.html",
        minijinja::context! {
            title => "Inbox", frame => v(&frame), views => v(&VIEWS), view, search, items => v(&rows), total_unread,
            selected => v(&selected), staff => v(&staff), teams => v(&teams), names => v(&names),
        },
    )
}

fn person_of(p: &Patient) -> Person {
    let d = &p.details;
    Person {
        id: p.id.to_string(),
        name: format!("{} {}", d.preferred_name.as_deref().unwrap_or(&d.given_name), d.family_name),
        birth_date: d.birth_date.map(|b| b.to_string()),
    }
}
