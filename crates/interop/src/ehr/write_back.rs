//! Write-back (`serve --mllp-write-back ADDR`): patients' answers to visits
//! from an HL7 feed go back to the EHR as SIU messages (`siu_out`) over MLLP,
//! one job per answer through the durable queue. The EHR's AA (or CA) marks
//! the answer written back; AE, a refused or broken connection, or no ACK in
//! time is retried with backoff; AR (or CR) is final, the job dead with the
//! reason. Every attempt carries the same control id. A connection is opened
//! per message.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::future::BoxFuture;
use rapport_hl7::mllp::{Decoder, Frame, frame};
use rapport_hl7::parse;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::siu_out::{answer_message, control_id};
use rapport_engine::jobs::{BatchReport, JobFailure, JobHandler, WorkerSettings, work_batch};
use rapport_store::{Job, JobKind, JobWork, Store, StoreError};

/// Where answers go back to, and how long to wait for an ACK.
#[derive(Debug, Clone, Copy)]
pub struct WriteBackSettings {
    pub endpoint: SocketAddr,
    pub timeout: Duration,
}

/// Queues the organization's answers and runs their jobs, a batch at a time.
pub struct WriteBacks {
    store: Store,
    org: rapport_domain::OrganizationId,
    handler: WriteBackHandler,
}

impl WriteBacks {
    pub fn new(store: Store, org: rapport_domain::OrganizationId, settings: WriteBackSettings) -> Self {
        Self { handler: WriteBackHandler { store: store.clone(), settings }, store, org }
    }

    /// Enqueues the answers waiting, then runs one batch of due jobs.
    pub async fn batch(&self, worker: &WorkerSettings) -> Result<BatchReport, StoreError> {
        self.store.queue_write_backs(self.org, worker.batch).await?;
        work_batch(&self.store, &self.handler, worker).await
    }
}

impl rapport_engine::SideWorker for WriteBacks {
    fn name(&self) -> &'static str {
        "EHR write-back"
    }

    fn batch<'a>(&'a self, worker: &'a WorkerSettings) -> BoxFuture<'a, Result<BatchReport, StoreError>> {
        Box::pin(WriteBacks::batch(self, worker))
    }
}

struct WriteBackHandler {
    store: Store,
    settings: WriteBackSettings,
}

/// What the EHR's ACK said.
#[derive(Debug, PartialEq, Eq)]
enum Acknowledged {
    Accepted,
    Error,
    Rejected,
}

impl JobHandler for WriteBackHandler {
    fn kind(&self) -> &'static str {
        JobKind::WriteBack.as_str()
    }

    async fn run(&self, job: &Job) -> Result<(), JobFailure> {
        let org = job.organization_id.ok_or_else(|| JobFailure::Permanent("the job names no organization".into()))?;
        let Ok(JobWork::WriteBack { answer_id: id }) = job.work() else {
            return Err(JobFailure::Permanent("the payload names no answer".into()));
        };
        let store_error = |e: StoreError| JobFailure::Retry(format!("storage: {e}"));
        let Some(write_back) = self.store.write_back(org, id).await.map_err(store_error)? else {
            return Ok(()); // written back already
        };
        let visit = match self.store.get_appointment(org, write_back.answer.appointment_id).await {
            Ok(visit) => visit,
            Err(StoreError::NotFound) => return Err(JobFailure::Permanent("the visit was deleted".into())),
            Err(e) => return Err(store_error(e)),
        };
        let patient = self.store.get_patient(org, visit.details.patient_id).await.map_err(store_error)?;
        let message = answer_message(&write_back, &visit, &patient, self.store.clock().now());
        match exchange(self.settings, &message, &control_id(&write_back)).await {
            Ok(Acknowledged::Accepted) => {
                self.store.mark_written_back(org, &[id]).await.map_err(store_error)?;
                tracing::info!(organization = %org, answer = %id, "an answer was written back to the EHR");
                Ok(())
            }
            Ok(Acknowledged::Error) => Err(JobFailure::Retry("the EHR answered AE (not applied now)".into())),
            Ok(Acknowledged::Rejected) => Err(JobFailure::Permanent("the EHR refused the message (AR)".into())),
            Err(reason) => Err(JobFailure::Retry(reason)),
        }
    }
}

/// Sends one message and reads its ACK (the one whose MSA-2 is `control`).
async fn exchange(settings: WriteBackSettings, message: &str, control: &str) -> Result<Acknowledged, String> {
    let talk = async {
        let mut stream =
            TcpStream::connect(settings.endpoint).await.map_err(|e| format!("connecting to the EHR: {e}"))?;
        stream.write_all(&frame(message.as_bytes())).await.map_err(|e| format!("sending to the EHR: {e}"))?;
        let mut decoder = Decoder::new(1 << 20);
        let mut buffer = [0u8; 8192];
        loop {
            while let Some(next) = decoder.next_frame() {
                let Frame::Message(bytes) = next else { continue };
                let Some(ack) = parse(&bytes).message else { continue };
                let Some(msa) = ack.segment("MSA").filter(|m| m.text(2, 1) == control) else { continue };
                return Ok(match msa.text(1, 1) {
                    "AA" | "CA" => Acknowledged::Accepted,
                    "AR" | "CR" => Acknowledged::Rejected,
                    _ => Acknowledged::Error,
                });
            }
            let n = stream.read(&mut buffer).await.map_err(|e| format!("reading the EHR's ACK: {e}"))?;
            if n == 0 {
                return Err("the EHR closed the connection before acknowledging".to_owned());
            }
            decoder.push(&buffer[..n]);
        }
    };
    tokio::time::timeout(settings.timeout, talk)
        .await
        .unwrap_or_else(|_| Err(format!("the EHR sent no ACK within {} s", settings.timeout.as_secs())))
}
