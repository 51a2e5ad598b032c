//! A patient's answer to a visit's reminder, and a text settled with
//! everything it causes. An answer is recorded in one transaction with its
//! consequences: the visit cancelled (a new version) on "cancel", a staff
//! task for a cancellation or a wish to reschedule, the audit event (actor:
//! the patient), and the visit's reminder sync (a confirmation stops the
//! asks). Confirming does not change the visit's version: the visit itself
//! did not change.
//!
//! An answer applies only to the visit as the message described it
//! (`reminder::answerable`): a reminder of an earlier time, or of a visit
//! since cancelled or begun, answers nothing. Giving the same answer twice
//! changes nothing the second time.

use rapport_domain::answer::UNCLEAR_ACKNOWLEDGEMENT;
use rapport_domain::reminder::answerable;
use rapport_domain::{
    ActorKind, Answer, Appointment, AppointmentId, ConversationId, MessagePlan, NewAuditEvent, OrganizationId, Outcome,
    PatientId,
};
use rapport_store::{
    Answered, Joining, NewAnswer, NewTask, ReceivedText, Store, StoreError, TaskKind, TextOutcome, Tx,
};

/// Gives `given` to the visit its message is about, in one transaction.
pub async fn answer_visit(store: &Store, org: OrganizationId, given: &NewAnswer) -> Result<Answered, StoreError> {
    let mut tx = store.begin().await?;
    let answered = answer_in(store, &mut tx, org, given).await?;
    tx.commit().await?;
    Ok(answered)
}

/// [`answer_visit`] within the caller's transaction.
pub async fn answer_in(
    store: &Store,
    tx: &mut Tx,
    org: OrganizationId,
    given: &NewAnswer,
) -> Result<Answered, StoreError> {
    let now = store.clock().now();
    let Some((key, visit_id)) = store.answered_message_in(tx, org, given.message_id).await? else {
        return Ok(Answered::Closed);
    };
    let Some(visit) = store.lock_appointment_in(tx, org, visit_id).await? else { return Ok(Answered::Closed) };
    if !answerable(&key, &visit, now) {
        return Ok(Answered::Closed);
    }
    if store.latest_answer_in(tx, org, &visit).await? == Some(given.answer) {
        return Ok(Answered::Already(visit));
    }
    store.record_answer_in(tx, org, &visit, given).await?;
    let tag = match given.answer {
        Answer::Cancel => format!("v{}", store.cancel_appointment_in(tx, org, &visit).await?),
        other => format!("v{}:{}:{}", visit.version, other.as_str(), now.as_microsecond()),
    };
    store.enqueue_sync_in(tx, org, visit.id, &tag).await?;
    if let Some(task) = task_for(given, &visit) {
        store.add_task_in(tx, org, &task).await?;
    }
    store.append_in(tx, &audit_event(org, given, &visit)).await?;
    // The visit as the answer left it (a new version after "cancel").
    let fresh = store.appointment_in(tx, org, visit.id).await?.ok_or(StoreError::NotFound)?;
    Ok(Answered::Applied(fresh))
}

/// The staff task an answer raises: none for a confirmation.
fn task_for(given: &NewAnswer, visit: &Appointment) -> Option<NewTask> {
    let (kind, key) = match given.answer {
        Answer::Confirm => return None,
        Answer::Cancel => (TaskKind::VisitCancelled, format!("cancelled:{}", visit.id)),
        Answer::Reschedule => (TaskKind::RescheduleRequested, format!("reschedule:{}:v{}", visit.id, visit.version)),
    };
    Some(NewTask {
        kind,
        key,
        patient_id: Some(visit.details.patient_id),
        appointment_id: Some(visit.id),
        inbound_id: given.inbound_id,
    })
}

/// The answer in the audit trail, the patient as its actor.
fn audit_event(org: OrganizationId, given: &NewAnswer, visit: &Appointment) -> NewAuditEvent {
    let patient = visit.details.patient_id;
    let action = format!("appointment.{}", given.answer.as_str());
    let mut event = NewAuditEvent::new(Some(org), ActorKind::Patient, &action, Outcome::Success);
    event.actor_id = Some(patient.to_string());
    event.resource_type = Some("appointment".into());
    event.resource_id = Some(visit.id.to_string());
    event.patient_id = Some(patient);
    event.reason = Some(format!("answered by {} to message {}", given.channel.as_str(), given.message_id));
    event
}

/// How a text is settled, all at once.
#[derive(Debug, Clone, PartialEq)]
pub struct Settlement {
    pub outcome: TextOutcome,
    pub patient_id: Option<PatientId>,
    pub appointment_id: Option<AppointmentId>,
    pub answer: Option<NewAnswer>,
    /// The acknowledgement to send back.
    pub reply: Option<MessagePlan>,
    pub task: Option<NewTask>,
    /// It reads as "stop texting me": its conversation is flagged for a person.
    pub revocation: bool,
}

/// What settling a text did.
#[derive(Debug, Clone, PartialEq)]
pub struct Settled {
    pub answered: Option<Answered>,
    pub conversation_id: ConversationId,
}

/// Settles a kept text in one transaction: its answer with what it
/// causes, the task, the acknowledgement, its outcome, its conversation.
/// An answer the visit no longer takes turns the text unclear: staff see
/// it and the patient is told so.
pub async fn settle_text(
    store: &Store,
    org: OrganizationId,
    text: &ReceivedText,
    settlement: Settlement,
) -> Result<Settled, StoreError> {
    let mut tx = store.begin().await?;
    let answered = match &settlement.answer {
        Some(given) => Some(answer_in(store, &mut tx, org, given).await?),
        None => None,
    };
    let settlement = match answered {
        Some(Answered::Closed) => unclear(text, settlement),
        _ => settlement,
    };
    if let Some(task) = &settlement.task {
        store.add_task_in(&mut tx, org, task).await?;
    }
    if let Some(plan) = &settlement.reply {
        store.plan_in(&mut tx, org, plan, false).await?;
    }
    let (outcome, patient) = (settlement.outcome, settlement.patient_id);
    store.settle_text_in(&mut tx, org, text.id, outcome, patient, settlement.appointment_id).await?;
    let joining = Joining {
        text: text.id,
        from: &text.from,
        patient,
        opens: matches!(outcome, TextOutcome::Unclear | TextOutcome::ToRead),
        revocation: settlement.revocation,
    };
    let conversation_id = store.join_conversation_in(&mut tx, org, joining).await?;
    tx.commit().await?;
    Ok(Settled { answered, conversation_id })
}

/// A settlement whose answer the visit no longer takes: unclear, a task
/// for staff, and the patient told their answer could not be placed.
fn unclear(text: &ReceivedText, settlement: Settlement) -> Settlement {
    let task = NewTask {
        kind: TaskKind::ReplyUnclear,
        key: format!("text:{}", text.id),
        patient_id: settlement.patient_id,
        appointment_id: None,
        inbound_id: Some(text.id),
    };
    let reply = settlement.reply.map(|plan| MessagePlan {
        template: Some(UNCLEAR_ACKNOWLEDGEMENT.into()),
        appointment_id: None,
        ..plan
    });
    Settlement { outcome: TextOutcome::Unclear, appointment_id: None, task: Some(task), reply, ..settlement }
}
