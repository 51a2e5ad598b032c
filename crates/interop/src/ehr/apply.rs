//! What an HL7 v2 message does to Rapport's records.
//!
//! - ADT A04, A08, A28, A31: the patient (PID) created or updated, keyed by
//!   their medical record number (PID-3, type `MR` first) under its
//!   assigning authority (else the sending facility).
//! - ADT A40: the surviving patient (PID) as for A04, and the record MRG-1
//!   names merged into it (its visits, messages, consents … move; its id
//!   keeps resolving to the survivor). A prior record Rapport never had
//!   leaves nothing to merge.
//! - SIU S12 (new), S13 (rescheduled), S14 (changed), S15 (cancelled), S16
//!   (discontinued: cancelled), S17 (deleted), S26 (no-show): the patient as for ADT (created if new),
//!   and the visit keyed by the scheduler's id (SCH-2, else SCH-1) under
//!   `hl7:{sending application}`; its time from TQ1 (or SCH-11), local to
//!   the location when no offset is written; its location, provider and
//!   type as the feed's code tables say (`codes.rs`). Every write enqueues
//!   the visit's reminder sync.
//!
//! A message Rapport does not take, or cannot place (a location code with
//! no mapping), is refused with the reason, naming fields, never values.

use rapport_domain::{
    AppointmentDetails, AppointmentStatus, BirthDate, Email, ExternalId, LanguageTag, OrganizationId, PatientDetails,
    PatientEmail, PatientId, PatientPhone, PhoneE164, PhoneKind, Sex,
};
use rapport_hl7::Message;
use rapport_hl7::segments::{Identifier, Mrg, Msh, Pid, Sch};

use super::codes::FeedCodes;
use rapport_store::{AppointmentUpsert, PatientUpsert, Store, StoreError};

/// What applying a message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Patient(PatientId),
    Visit {
        patient: PatientId,
        visit: rapport_domain::AppointmentId,
    },
    /// S17: the visit is gone (deleted now, or never known to Rapport).
    Deleted,
}

/// Why a message was not applied: the ACK's reason, and whether the
/// sender's message is at fault (AR: it is not one Rapport takes or can
/// read) or Rapport could not place it now (AE: mapping, storage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub rejected: bool,
    pub reason: String,
}

impl Refusal {
    pub(super) fn reject(reason: impl Into<String>) -> Self {
        Self { rejected: true, reason: reason.into() }
    }
    pub(super) fn error(reason: impl Into<String>) -> Self {
        Self { rejected: false, reason: reason.into() }
    }
}

impl From<StoreError> for Refusal {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::UnknownReference { field } => Refusal::error(format!("{field} names no record")),
            StoreError::Invalid { field, reason } => Refusal::reject(format!("{field} {reason}")),
            other => Refusal::error(format!("storage: {other}")),
        }
    }
}

pub async fn apply(store: &Store, org: OrganizationId, message: &Message) -> Result<Applied, Refusal> {
    let msh = Msh::of(message).ok_or_else(|| Refusal::reject("no MSH segment"))?;
    match (msh.message_type(), msh.trigger_event()) {
        ("ADT", "A04" | "A08" | "A28" | "A31") => {
            let patient = patient(store, org, message, true).await?;
            Ok(Applied::Patient(patient))
        }
        ("ADT", "A40") => merge(store, org, message).await,
        ("SIU", event @ ("S12" | "S13" | "S14" | "S15" | "S16" | "S17" | "S26")) => {
            visit(store, org, message, event).await
        }
        (kind, event) => Err(Refusal::reject(format!("MSH-9 {kind}^{event} is not a message Rapport takes"))),
    }
}

/// The patient PID names, created if new (and updated when `update`).
async fn patient(store: &Store, org: OrganizationId, message: &Message, update: bool) -> Result<PatientId, Refusal> {
    let record = patient_record(message)?;
    let known = match update {
        true => None,
        false => store.find_patient_by_external_id(org, &record.key.system, &record.key.value).await?,
    };
    if let Some(id) = known {
        return Ok(id);
    }
    let outcome = store.upsert_patients(org, std::slice::from_ref(&record)).await?;
    match outcome.first() {
        Some(rapport_store::UpsertOutcome::Created(id) | rapport_store::UpsertOutcome::Updated(id)) => Ok(*id),
        None => Err(Refusal::error("the patient was not written")),
    }
}

/// The record's key among identifiers (PID-3 or MRG-1): the medical record
/// number (type `MR`, else the first) under its assigning authority (else
/// the sending facility).
fn record_key(message: &Message, ids: &[Identifier<'_>], field: &str) -> Result<ExternalId, Refusal> {
    let mrn = ids
        .iter()
        .find(|i| i.kind == "MR")
        .or(ids.first())
        .ok_or_else(|| Refusal::reject(format!("{field} is empty")))?;
    if mrn.value.is_empty() {
        return Err(Refusal::reject(format!("{field}.1 is empty")));
    }
    let facility = Msh::of(message).map_or("", |m| m.sending_facility());
    let system = if mrn.authority.is_empty() { facility } else { mrn.authority };
    Ok(ExternalId {
        system: if system.is_empty() { "hl7".into() } else { system.to_owned() },
        value: mrn.value.to_owned(),
    })
}

/// A40: the surviving record (PID) written, and the record MRG-1 names, if
/// Rapport has it, merged into it.
async fn merge(store: &Store, org: OrganizationId, message: &Message) -> Result<Applied, Refusal> {
    let mrg = Mrg::of(message).ok_or_else(|| Refusal::reject("no MRG segment"))?;
    let prior = record_key(message, &mrg.prior_identifiers(), "MRG-1")?;
    let survivor = patient(store, org, message, true).await?;
    let merged = store.find_patient_by_external_id(org, &prior.system, &prior.value).await?;
    if let Some(merged) = merged.filter(|m| *m != survivor) {
        store.merge_patients(org, survivor, merged).await?;
    }
    Ok(Applied::Patient(survivor))
}

fn patient_record(message: &Message) -> Result<PatientUpsert, Refusal> {
    let pid = Pid::of(message).ok_or_else(|| Refusal::reject("no PID segment"))?;
    let key = record_key(message, &pid.identifiers(), "PID-3")?;
    let names = pid.names();
    let name =
        names.iter().find(|n| !n.family.is_empty()).ok_or_else(|| Refusal::reject("PID-5 has no family name"))?;
    let mut details = PatientDetails::new(name.given.to_owned(), name.family.to_owned());
    details.birth_date = pid.birth_date().map(BirthDate::from_date);
    details.sex = match pid.sex() {
        "F" => Sex::Female,
        "M" => Sex::Male,
        "O" | "A" | "N" => Sex::Other,
        _ => Sex::Unknown,
    };
    for telecom in pid.telecoms() {
        if !telecom.email.is_empty() {
            if let Ok(address) = Email::parse(telecom.email) {
                details.emails.push(PatientEmail { address });
            }
        } else if let Ok(number) = PhoneE164::parse(&telecom.number) {
            let kind = if telecom.equipment == "CP" { PhoneKind::Mobile } else { PhoneKind::Unknown };
            if !details.phones.iter().any(|p| p.number == number) {
                details.phones.push(PatientPhone { number, kind });
            }
        }
    }
    details.language = language(pid.language());
    details.external_ids = vec![key.clone()];
    Ok(PatientUpsert { key, details })
}

/// PID-15: a BCP 47 tag, or the ISO 639-2 codes feeds often send.
fn language(code: &str) -> Option<LanguageTag> {
    let code = code.trim().to_ascii_lowercase();
    let tag = match code.as_str() {
        "" => return None,
        "eng" => "en",
        "spa" => "es",
        "fre" | "fra" => "fr",
        "chi" | "zho" => "zh",
        "vie" => "vi",
        "por" => "pt",
        other => other,
    };
    LanguageTag::parse(tag).ok()
}

async fn visit(store: &Store, org: OrganizationId, message: &Message, event: &str) -> Result<Applied, Refusal> {
    let sch = Sch::of(message).ok_or_else(|| Refusal::reject("no SCH segment"))?;
    let id = if sch.filler_id().is_empty() { sch.placer_id() } else { sch.filler_id() };
    if id.is_empty() {
        return Err(Refusal::reject("SCH-1 and SCH-2 are empty: the visit has no id"));
    }
    let application = Msh::of(message).map_or("", |m| m.sending_application());
    let source = ExternalId { system: format!("hl7:{application}"), value: id.to_owned() };
    if event == "S17" {
        let Some(found) = store.find_appointment_by_source(org, &source).await? else {
            return Ok(Applied::Deleted);
        };
        store.delete_appointment(org, found, None).await?;
        return Ok(Applied::Deleted);
    }
    let codes = FeedCodes { store, org, system: &source.system };
    let place = codes.location(message).await?;
    let zone = place.time_zone.tz();
    let (start, end) = sch.timing(message);
    let start =
        start.and_then(|t| t.instant(&zone)).ok_or_else(|| Refusal::reject("TQ1-7 (or SCH-11.4) holds no start"))?;
    let end = match end.and_then(|t| t.instant(&zone)) {
        Some(end) if end > start => end,
        _ => start + jiff::SignedDuration::from_mins(duration_minutes(&sch)),
    };
    let patient = patient(store, org, message, false).await?;
    let provider_id = codes.provider(message).await?;
    let visit_type = codes.visit_type(message, &sch).await?;
    let status = match (event, sch.status()) {
        ("S15" | "S16", _) => AppointmentStatus::Cancelled,
        ("S26", _) => AppointmentStatus::Noshow,
        (_, "Pending" | "Waitlist") => AppointmentStatus::Pending,
        _ => AppointmentStatus::Booked,
    };
    let details = AppointmentDetails {
        patient_id: patient,
        provider_id,
        location_id: place.id,
        start,
        end,
        visit_type,
        status,
        source: Some(source),
    };
    let outcome = store.upsert_appointments(org, &[AppointmentUpsert { details }]).await?;
    match outcome.first() {
        Some(rapport_store::UpsertOutcome::Created(visit) | rapport_store::UpsertOutcome::Updated(visit)) => {
            Ok(Applied::Visit { patient, visit: *visit })
        }
        None => Err(Refusal::error("the visit was not written")),
    }
}

/// SCH-9 in SCH-10's unit (minutes, or hours `h`), 30 when absent.
fn duration_minutes(sch: &Sch<'_>) -> i64 {
    let (amount, unit) = sch.duration();
    let amount: i64 = amount.trim().parse().unwrap_or(30);
    let minutes = if unit.eq_ignore_ascii_case("h") || unit.eq_ignore_ascii_case("hr") { amount * 60 } else { amount };
    minutes.clamp(5, 24 * 60)
}
