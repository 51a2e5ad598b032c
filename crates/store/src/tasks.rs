//! The staff worklist: what a person must look at (a visit the patient
//! cancelled, a wish to reschedule, a reply Rapport could not read or place).
//! A task is raised inside the transaction of what caused it, once per
//! cause (its key), and is open until a staff member marks it done.

use std::str::FromStr;

use jiff::Timestamp;
use rapport_domain::contact::UnknownWord;
use rapport_domain::{AppointmentId, InboundTextId, OrganizationId, PatientId, StaffTaskId};

use super::db::{Arg, Row, Tx, args, page_filters};
use super::{Page, PageRequest, Store, StoreError, paginate};

/// What a task asks of staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskKind {
    /// The patient cancelled: the slot is free, maybe call them back.
    VisitCancelled,
    /// The patient asked for another time.
    RescheduleRequested,
    /// An answer that could be for several visits (or none still open).
    ReplyUnclear,
    /// A text that is no answer, or came with nothing asked: read it.
    ReplyToRead,
    /// The patient did not come: call them to book again.
    NoShow,
}

impl TaskKind {
    pub const ALL: [TaskKind; 5] = [
        TaskKind::VisitCancelled,
        TaskKind::RescheduleRequested,
        TaskKind::ReplyUnclear,
        TaskKind::ReplyToRead,
        TaskKind::NoShow,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::VisitCancelled => "visit_cancelled",
            TaskKind::RescheduleRequested => "reschedule_requested",
            TaskKind::ReplyUnclear => "reply_unclear",
            TaskKind::ReplyToRead => "reply_to_read",
            TaskKind::NoShow => "no_show",
        }
    }
}

impl FromStr for TaskKind {
    type Err = UnknownWord;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaskKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or(UnknownWord("visit_cancelled, reschedule_requested, reply_unclear, reply_to_read or no_show"))
    }
}

/// A task to raise; `key` makes it once per cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    pub kind: TaskKind,
    pub key: String,
    pub patient_id: Option<PatientId>,
    pub appointment_id: Option<AppointmentId>,
    pub inbound_id: Option<InboundTextId>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StaffTask {
    pub id: StaffTaskId,
    pub kind: TaskKind,
    pub patient_id: Option<PatientId>,
    pub appointment_id: Option<AppointmentId>,
    pub inbound_id: Option<InboundTextId>,
    pub created_at: Timestamp,
    /// When it was done, and by whom (`user:{id}` or `token:{id}`); open until then.
    pub done_at: Option<Timestamp>,
    pub done_by: Option<String>,
}

fn task_from_row(r: &Row) -> Result<StaffTask, StoreError> {
    Ok(StaffTask {
        id: r.parsed("id")?,
        kind: r.parsed("kind")?,
        patient_id: r.opt_parsed("patient_id")?,
        appointment_id: r.opt_parsed("appointment_id")?,
        inbound_id: r.opt_parsed("inbound_id")?,
        created_at: r.timestamp("created_at")?,
        done_at: r.opt_int("done_at")?.map(super::db::from_micros).transpose()?,
        done_by: r.opt_text("done_by")?,
    })
}

/// Which tasks to list.
#[derive(Debug, Clone, Default)]
pub struct TaskQuery {
    /// Open (`Some(false)`), done (`Some(true)`) or both.
    pub done: Option<bool>,
    pub kind: Option<TaskKind>,
    pub patient: Option<PatientId>,
}

impl Store {
    /// Raises `task` unless its key was raised before.
    pub async fn add_task_in(&self, tx: &mut Tx, org: OrganizationId, task: &NewTask) -> Result<(), StoreError> {
        tx.execute(
            "INSERT INTO staff_tasks (id, organization_id, kind, idempotency_key, patient_id, appointment_id,
                 inbound_id, state, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8)
             ON CONFLICT (organization_id, idempotency_key) DO NOTHING",
            args([
                StaffTaskId::generate().to_string().into(),
                org.to_string().into(),
                task.kind.as_str().into(),
                task.key.as_str().into(),
                task.patient_id.map(|p| p.to_string()).into(),
                task.appointment_id.map(|a| a.to_string()).into(),
                task.inbound_id.map(|i| i.to_string()).into(),
                self.clock.now().into(),
            ]),
        )
        .await
        .map(drop)
    }

    /// The organization's tasks, oldest first.
    pub async fn staff_tasks(
        &self,
        org: OrganizationId,
        query: &TaskQuery,
        page: &PageRequest,
    ) -> Result<Page<StaffTask>, StoreError> {
        let mut sql = String::from("SELECT * FROM staff_tasks WHERE organization_id = $1");
        let mut values: Vec<Arg> = vec![org.to_string().into()];
        let state = query.done.map(|done| if done { "done" } else { "open" });
        let filters: [(&str, Option<Arg>); 4] = [
            ("state =", state.map(Arg::from)),
            ("kind =", query.kind.map(|k| k.as_str().into())),
            ("patient_id =", query.patient.map(|p| p.to_string().into())),
            ("id >", page.after.clone().map(Arg::from)),
        ];
        page_filters(&mut sql, &mut values, filters, page.limit());
        let rows = self.db.fetch_all(sqlx::AssertSqlSafe(sql), values).await?;
        let items = rows.iter().map(task_from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(paginate(items, page.limit(), |t| t.id.to_string()))
    }

    /// Marks a task done by `by`; done already, it stays as it was.
    pub async fn finish_task(&self, org: OrganizationId, id: StaffTaskId, by: &str) -> Result<StaffTask, StoreError> {
        let key = args([org.to_string().into(), id.to_string().into()]);
        self.db
            .execute(
                "UPDATE staff_tasks SET state = 'done', done_at = $3, done_by = $4
                 WHERE organization_id = $1 AND id = $2 AND state = 'open'",
                args([org.to_string().into(), id.to_string().into(), self.clock.now().into(), by.into()]),
            )
            .await?;
        let row = self
            .db
            .fetch_optional("SELECT * FROM staff_tasks WHERE organization_id = $1 AND id = $2", key)
            .await?
            .ok_or(StoreError::NotFound)?;
        task_from_row(&row)
    }
}
