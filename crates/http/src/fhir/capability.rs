//! `GET /fhir/metadata`: the CapabilityStatement, written from the same
//! table of types and search parameters the handlers check.

use axum::response::Response;
use serde_json::{Value, json};

use super::fhir_json;

/// Each type served: read and search, with its search parameters and types.
pub const SERVED: &[(&str, &[(&str, &str)])] = &[
    (
        "Patient",
        &[
            ("_id", "token"),
            ("identifier", "token"),
            ("name", "string"),
            ("family", "string"),
            ("given", "string"),
            ("birthdate", "date"),
            ("phone", "token"),
            ("email", "token"),
            ("telecom", "token"),
            ("_lastUpdated", "date"),
        ],
    ),
    (
        "Practitioner",
        &[("_id", "token"), ("name", "string"), ("family", "string"), ("given", "string"), ("identifier", "token")],
    ),
    ("Location", &[("_id", "token"), ("name", "string")]),
    ("Organization", &[("_id", "token"), ("name", "string"), ("identifier", "token")]),
    (
        "Appointment",
        &[
            ("_id", "token"),
            ("patient", "reference"),
            ("actor", "reference"),
            ("location", "reference"),
            ("practitioner", "reference"),
            ("date", "date"),
            ("status", "token"),
            ("_lastUpdated", "date"),
            ("_include", "special"),
        ],
    ),
    ("Communication", &[("_id", "token"), ("patient", "reference"), ("subject", "reference")]),
    ("CommunicationRequest", &[("_id", "token"), ("patient", "reference"), ("subject", "reference")]),
    ("Consent", &[("_id", "token"), ("patient", "reference")]),
    ("Schedule", &[("_id", "token"), ("actor", "reference"), ("identifier", "token"), ("active", "token")]),
    ("Slot", &[("schedule", "reference"), ("schedule.actor", "reference"), ("start", "date"), ("status", "token")]),
];

/// The types with versions to read (`_history/{version}`, the current one).
pub const VERSIONED: &[&str] = &["Patient", "Practitioner", "Location", "Appointment", "Schedule"];

/// The types that take create (conditional on an identifier) and update.
pub const WRITABLE: &[&str] = &[
    "Patient",
    "Practitioner",
    "Location",
    "Organization",
    "Appointment",
    "Schedule",
    "Communication",
    "CommunicationRequest",
    "Consent",
];

/// The parameter names `kind` takes.
pub fn parameters(kind: &str) -> Vec<&'static str> {
    SERVED.iter().find(|(k, _)| *k == kind).map(|(_, p)| p.iter().map(|(n, _)| *n).collect()).unwrap_or_default()
}

#[utoipa::path(get, path = "/fhir/metadata", tag = "fhir", security(()),
    responses((status = 200, description = "The FHIR R4 CapabilityStatement (application/fhir+json)")))]
pub async fn metadata() -> Response {
    let resources: Vec<Value> = SERVED
        .iter()
        .map(|(kind, params)| {
            let mut interactions = vec![json!({"code": "read"}), json!({"code": "search-type"})];
            if VERSIONED.contains(kind) {
                interactions.push(json!({"code": "vread"}));
            }
            let writable = WRITABLE.contains(kind);
            if writable {
                interactions.push(json!({"code": "create"}));
            }
            if writable {
                interactions.push(json!({"code": "update"}));
            }
            let mut resource = json!({
                "type": kind,
                "interaction": interactions,
                "versioning": "versioned",
                "searchParam": params
                    .iter()
                    .filter(|(name, _)| *name != "_include")
                    .map(|(name, ty)| json!({"name": name, "type": ty}))
                    .collect::<Vec<_>>(),
            });
            if params.iter().any(|(name, _)| *name == "_include") {
                resource["searchInclude"] = json!([
                    "Appointment:patient",
                    "Appointment:location",
                    "Appointment:practitioner",
                    "Appointment:actor"
                ]);
            }
            if writable {
                resource["conditionalCreate"] = json!(true);
                resource["updateCreate"] = json!(false);
            }
            if *kind == "Patient" {
                resource["operation"] = json!([{
                    "name": "everything",
                    "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                }]);
            }
            resource
        })
        .collect();
    fhir_json(json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-12-01",
        "publisher": "Rapport",
        "kind": "instance",
        "software": {"name": "Rapport", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {"description": "Rapport's FHIR R4 API"},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "security": {
                "service": [{"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                    "code": "SMART-on-FHIR",
                }]}],
                "description": "A bearer API token of the organization (Authorization: Bearer rpt_…), a staff session, or a five-minute token from SMART Backend Services (client credentials with a signed JWT; see .well-known/smart-configuration)",
            },
            "resource": resources,
            "operation": [{"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"}],
        }],
    }))
}
