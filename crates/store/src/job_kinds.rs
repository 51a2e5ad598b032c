//! Every kind of job Rapport runs, and what each carries: one enum
//! (`JobWork`) whose payload is serde-typed, so no job is written with a
//! hand-made JSON string nor read back through `payload["…"]`. The queue
//! itself (`jobs.rs`) stays generic: a kind's name and a JSON text.

use std::fmt::Display;
use std::str::FromStr;

use rapport_domain::{AppointmentId, InboundTextId, MessageId, VisitAnswerId};
use serde::{Deserialize, Serialize};

use rapport_domain::OrganizationId;
use rapport_domain::message::pace::Priority;

use super::{Job, NewJob};

/// The kinds of job, by the name the queue keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Hand one message to its provider (the dispatcher).
    Send,
    /// Bring one visit's reminders in line with it (the planner).
    ReminderSync,
    /// Write one patient's answer back to the EHR (interop).
    WriteBack,
    /// Fetch and keep one text's MMS media.
    Media,
}

impl JobKind {
    pub const ALL: [JobKind; 4] = [JobKind::Send, JobKind::ReminderSync, JobKind::WriteBack, JobKind::Media];

    pub const fn as_str(self) -> &'static str {
        match self {
            JobKind::Send => "message.send",
            JobKind::ReminderSync => "reminders.sync",
            JobKind::WriteBack => "ehr.write_back",
            JobKind::Media => "text.media",
        }
    }
}

/// What one job is about, typed by kind. Its JSON is the queue's payload
/// (`{"message_id": "…"}` and so on: the names jobs have always carried).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum JobWork {
    Send {
        #[serde(with = "as_text")]
        message_id: MessageId,
    },
    ReminderSync {
        #[serde(with = "as_text")]
        appointment_id: AppointmentId,
    },
    WriteBack {
        #[serde(with = "as_text")]
        answer_id: VisitAnswerId,
    },
    Media {
        #[serde(with = "as_text")]
        text_id: InboundTextId,
    },
}

/// A job whose payload is not what its kind carries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the payload of a {kind} job does not name what that kind carries")]
pub struct BadPayload {
    pub kind: String,
}

impl JobWork {
    pub fn kind(&self) -> JobKind {
        match self {
            JobWork::Send { .. } => JobKind::Send,
            JobWork::ReminderSync { .. } => JobKind::ReminderSync,
            JobWork::WriteBack { .. } => JobKind::WriteBack,
            JobWork::Media { .. } => JobKind::Media,
        }
    }

    /// The queue's payload text.
    pub fn payload(&self) -> String {
        serde_json::to_string(self).expect("ids and strings always serialize")
    }
}

impl Job {
    /// What this job is about, read as its kind says.
    pub fn work(&self) -> Result<JobWork, BadPayload> {
        let bad = || BadPayload { kind: self.kind.clone() };
        let work: JobWork = serde_json::from_str(&self.payload).map_err(|_| bad())?;
        if work.kind().as_str() == self.kind { Ok(work) } else { Err(bad()) }
    }
}

/// The send job of message `id`, due at `run_at`, at `rank`: one per
/// message (its key), queued with the message, queued again by a resend.
pub(super) fn send_job(org: OrganizationId, id: MessageId, run_at: jiff::Timestamp, rank: i64) -> NewJob {
    NewJob {
        organization_id: Some(org),
        kind: JobKind::Send.as_str().into(),
        payload: JobWork::Send { message_id: id }.payload(),
        idempotency_key: format!("{}:{id}", JobKind::Send.as_str()),
        run_at,
        // Retries span about three hours (30 s doubling to a 1 h cap).
        max_attempts: super::messages::SEND_ATTEMPTS,
        rank,
    }
}

/// The reminder sync job for a visit's state `tag` (its version, or
/// `deleted`): every write of an appointment enqueues one in its own
/// transaction, so no change is missed even if the process dies.
pub(super) fn sync_job(org: OrganizationId, id: AppointmentId, tag: &str, now: jiff::Timestamp) -> NewJob {
    NewJob {
        organization_id: Some(org),
        kind: JobKind::ReminderSync.as_str().into(),
        payload: JobWork::ReminderSync { appointment_id: id }.payload(),
        idempotency_key: format!("{}:{id}:{tag}", JobKind::ReminderSync.as_str()),
        run_at: now,
        max_attempts: 10,
        rank: Priority::Timely.rank(),
    }
}

/// An id as the text it displays as, parsed back on the way in.
mod as_text {
    use super::*;
    use serde::de::Error;

    pub fn serialize<T: Display, S: serde::Serializer>(id: &T, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(id)
    }

    pub fn deserialize<'de, T: FromStr, D: serde::Deserializer<'de>>(deserializer: D) -> Result<T, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        text.parse().map_err(|_| D::Error::custom("not an id"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(kind: &str, payload: &str) -> Job {
        Job {
            id: rapport_domain::JobId::generate(),
            organization_id: None,
            kind: kind.into(),
            payload: payload.into(),
            idempotency_key: "k".into(),
            state: super::super::JobState::Running,
            run_at: jiff::Timestamp::UNIX_EPOCH,
            attempts: 1,
            max_attempts: 1,
            lease_owner: None,
            lease_until: None,
            last_error: None,
        }
    }

    #[test]
    fn each_kind_round_trips_through_the_queue_payload() {
        let works = [
            JobWork::Send { message_id: MessageId::generate() },
            JobWork::ReminderSync { appointment_id: AppointmentId::generate() },
            JobWork::WriteBack { answer_id: VisitAnswerId::generate() },
            JobWork::Media { text_id: InboundTextId::generate() },
        ];
        for work in works {
            assert_eq!(job(work.kind().as_str(), &work.payload()).work(), Ok(work));
        }
        assert_eq!(works.map(|w| w.kind()), JobKind::ALL, "every kind has its work");
    }

    #[test]
    fn the_payload_keeps_the_names_jobs_always_carried() {
        let id = MessageId::generate();
        assert_eq!(JobWork::Send { message_id: id }.payload(), format!(r#"{{"message_id":"{id}"}}"#));
    }

    #[test]
    fn a_payload_of_another_kind_or_no_id_is_refused() {
        let sync = JobWork::ReminderSync { appointment_id: AppointmentId::generate() }.payload();
        assert!(job("message.send", &sync).work().is_err());
        assert!(job("message.send", r#"{"message_id":"nope"}"#).work().is_err());
        assert!(job("message.send", "not json").work().is_err());
    }
}
