//! `GET /fhir/Patient/{id}/$everything`: what Rapport holds about one
//! patient, in one Bundle, for the patient's right of access (HIPAA): the
//! Patient, their visits (Appointment), everything said both ways
//! (Communication, with the requests behind some: CommunicationRequest),
//! and their consent ledger (Consent). Audited as a read of the patient.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use rapport_domain::PatientId;
use serde_json::{Value, json};

use super::communication::{message_communication, message_request, said_communication};
use super::consent::consent;
use super::{base, fhir_json, id, resources};
use crate::AppState;
use crate::access::{Allowed, need};
use crate::error::ApiError;
use rapport_store::{AppointmentQuery, FhirRecordQuery, PageRequest, Said};

/// Every page of a paged read, one after another.
macro_rules! every_page {
    ($read:expr) => {{
        let mut all = Vec::new();
        let mut page = PageRequest::first(PageRequest::MAX_LIMIT);
        loop {
            let got = $read(&page).await?;
            all.extend(got.items);
            match got.next_cursor {
                Some(next) => page.after = Some(next),
                None => break all,
            }
        }
    }};
}

#[utoipa::path(get, path = "/fhir/Patient/{id}/$everything", tag = "fhir", params(("id" = String, Path, description = "Patient id")),
    responses((status = 200, description = "A searchset Bundle: the Patient, their Appointments, Communications, CommunicationRequests and Consents"),
        (status = 404, description = "An OperationOutcome")))]
pub async fn patient_everything(
    State(state): State<AppState>,
    access: Allowed<need::ExportPatients>,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let org = access.org();
    let store = &state.store;
    let patient_id: PatientId = id(&raw)?;
    let patient = store.get_patient(org, patient_id).await?;
    let mut resources_found = vec![resources::patient(&patient)];
    let visits = AppointmentQuery { patient_id: Some(patient.id), ..AppointmentQuery::default() };
    let appointments = every_page!(|page| store.list_appointments(org, &visits, page));
    resources_found.extend(appointments.iter().map(resources::appointment));
    let said = every_page!(|page| store.communications(org, Some(patient.id), page));
    for item in &said {
        match item {
            Said::Message(m) => {
                resources_found.push(message_communication(m));
                if m.plan.idempotency_key.starts_with(super::communication::REQUEST_KEY) {
                    resources_found.push(message_request(m));
                }
            }
            other => resources_found.push(said_communication(other, org)),
        }
    }
    // Requests, proposals and consents kept as sent (not Rapport's to carry out or apply).
    for kind in ["Appointment", "CommunicationRequest", "Consent"] {
        let about = FhirRecordQuery { patient_id: Some(patient.id), ..FhirRecordQuery::default() };
        let kept = every_page!(|page| store.search_fhir_records(org, kind, &about, page));
        resources_found.extend(kept.iter().map(super::kept::resource));
    }
    let ledger = store.consent_history(org, patient.id).await?;
    resources_found.extend(ledger.iter().rev().map(consent));
    let base = base(&headers);
    let entries: Vec<Value> = resources_found
        .into_iter()
        .map(|r| {
            let url = format!("{base}/{}/{}", r["resourceType"].as_str().unwrap_or(""), r["id"].as_str().unwrap_or(""));
            json!({"fullUrl": url, "resource": r, "search": {"mode": "match"}})
        })
        .collect();
    let total = entries.len();
    Ok(fhir_json(json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": [{"relation": "self", "url": format!("{base}/Patient/{}/$everything", patient.id)}],
        "entry": entries,
    })))
}
