//! The wire form of appointments. Instants travel as RFC 3339 with an
//! offset; the view also shows the start in the location's own zone.

use jiff::Timestamp;
use rapport_domain::{Appointment, AppointmentDetails, AppointmentStatus, ExternalId, ValidationErrors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::patient_dto::IdentifierDto;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppointmentInput {
    pub patient_id: String,
    pub provider_id: Option<String>,
    pub location_id: String,
    /// RFC 3339 with an offset, e.g. `2026-11-25T09:30:00-05:00`.
    pub start: String,
    /// RFC 3339; give `end` or `duration_minutes`.
    pub end: Option<String>,
    pub duration_minutes: Option<i64>,
    /// The practice's own visit type code, e.g. `annual-physical`.
    pub visit_type: String,
    /// FHIR Appointment.status; `booked` when absent.
    pub status: Option<String>,
    /// The id the source system gives the visit.
    pub source: Option<IdentifierDto>,
}

fn instant(raw: &str) -> Result<Timestamp, &'static str> {
    raw.trim().parse::<Timestamp>().map_err(|_| "is not an RFC 3339 instant with an offset")
}

impl AppointmentInput {
    pub fn into_details(self) -> Result<AppointmentDetails, ValidationErrors> {
        let mut v = ValidationErrors::new();
        let patient_id = v.check("patient_id", self.patient_id.parse());
        let provider_id = v.check_opt("provider_id", self.provider_id.filter(|p| !p.is_empty()).map(|p| p.parse()));
        let location_id = v.check("location_id", self.location_id.parse());
        let start = v.check("start", instant(&self.start));
        let end = match (self.end, self.duration_minutes, start) {
            (Some(end), None, _) => v.check("end", instant(&end)),
            (None, Some(minutes), Some(start)) if (1..=1440).contains(&minutes) => {
                Some(start + jiff::SignedDuration::from_mins(minutes))
            }
            (None, Some(_), _) => {
                v.push("duration_minutes", "must be from 1 to 1440");
                None
            }
            (Some(_), Some(_), _) => {
                v.push("end", "give end or duration_minutes, not both");
                None
            }
            (None, None, _) => {
                v.push("end", "is required (or give duration_minutes)");
                None
            }
        };
        let visit_type = self.visit_type.trim().to_owned();
        if visit_type.is_empty() || visit_type.len() > 100 {
            v.push("visit_type", "must be 1 to 100 characters");
        }
        let status = v.check("status", self.status.as_deref().unwrap_or("booked").parse::<AppointmentStatus>());
        let source = v.check_opt("source", self.source.map(|s| ExternalId::parse(&s.system, &s.value)));
        let (Some(patient_id), Some(location_id), Some(start), Some(end), Some(status)) =
            (patient_id, location_id, start, end, status)
        else {
            return Err(v);
        };
        let details =
            AppointmentDetails { patient_id, provider_id, location_id, start, end, visit_type, status, source };
        if details.check_span().is_err() {
            v.push("end", "must be after start, within 24 hours");
        }
        v.finish(|| details)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppointmentView {
    pub id: String,
    pub organization_id: String,
    pub version: i64,
    pub patient_id: String,
    pub provider_id: Option<String>,
    pub location_id: String,
    /// UTC.
    pub start: String,
    pub end: String,
    /// The start in the location's zone, with offset and zone name.
    pub start_local: String,
    pub time_zone: String,
    pub visit_type: String,
    pub status: String,
    pub source: Option<IdentifierDto>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Appointment> for AppointmentView {
    fn from(a: &Appointment) -> Self {
        let d = &a.details;
        Self {
            id: a.id.to_string(),
            organization_id: a.organization_id.to_string(),
            version: a.version,
            patient_id: d.patient_id.to_string(),
            provider_id: d.provider_id.map(|p| p.to_string()),
            location_id: d.location_id.to_string(),
            start: d.start.to_string(),
            end: d.end.to_string(),
            start_local: a.local_start().to_string(),
            time_zone: a.time_zone.to_string(),
            visit_type: d.visit_type.clone(),
            status: d.status.as_str().to_owned(),
            source: d.source.as_ref().map(|s| IdentifierDto { system: s.system.clone(), value: s.value.clone() }),
            created_at: a.created_at.to_string(),
            updated_at: a.updated_at.to_string(),
        }
    }
}
