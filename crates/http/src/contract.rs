//! The statuses every operation can answer besides those its handler
//! declares, added to the OpenAPI document from what stands in front of
//! every handler: the rate limit (429), the guard (401 and 403 for a route
//! that needs a caller; 404 for an organization or an id that is not the
//! caller's), the body's extractor (400 malformed, 413 too large, 415 not
//! JSON, 422 invalid) and the query's (400). Errors are
//! `application/problem+json` with the `Problem` schema; the FHIR API's
//! are OperationOutcomes in `application/fhir+json`.

use axum::http::Method;
use serde_json::{Map, Value, json};

use crate::access::{Rule, policy_for};

/// The statuses a route's policy and parameters add, with what each means.
fn implied(rule: Option<Rule>, method: &Method, path: &str, operation: &Value) -> Vec<(&'static str, &'static str)> {
    let mut statuses = vec![("429", "Too many requests from this client: wait Retry-After seconds")];
    if matches!(rule, Some(Rule::Needs(_) | Rule::Session | Rule::SessionEvenMfaPending)) {
        statuses.push(("401", "No session or API token, or one that ended"));
        statuses.push(("403", "The caller's role does not allow this, or a session's CSRF token is missing"));
    }
    if path.contains('{') {
        statuses.push(("404", "The organization, or the record the path names, is not found"));
    }
    let body = &operation["requestBody"]["content"];
    // FHIR's writes read their resource themselves, and say what was wrong with it.
    let fhir_write = path.starts_with("/fhir/") && matches!(*method, Method::POST | Method::PUT) && body.is_null();
    if !body.is_null() || fhir_write {
        statuses.push(("413", "The body is larger than the server takes"));
    }
    if body.get("application/json").is_some() || fhir_write {
        statuses.push(("400", "The body is not well-formed"));
        statuses.push(("415", "The body is not of a type the operation takes"));
        statuses.push(("422", "The body's fields are not valid: each is named"));
    }
    let queried = operation["parameters"].as_array().is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
    if queried {
        statuses.push(("400", "A query parameter is unknown or not valid"));
    }
    statuses
}

/// An error answer as the document declares it.
fn error_response(description: &str, fhir: bool) -> Value {
    if fhir {
        json!({"description": description, "content": {"application/fhir+json": {"schema": {"type": "object"}}}})
    } else {
        json!({"description": description,
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}})
    }
}

/// Declares errors as `application/problem+json` (or FHIR's), and the
/// statuses the guard and the extractors add, in every operation.
pub fn declare_errors(document: &mut Value) {
    let Some(paths) = document["paths"].as_object_mut() else { return };
    for (path, item) in paths.iter_mut() {
        let fhir = path.starts_with("/fhir");
        let Some(item) = item.as_object_mut() else { continue };
        for (method, operation) in item.iter_mut() {
            let Ok(method) = method.to_uppercase().parse::<Method>() else { continue };
            let rule = policy_for(&method, path).map(|p| p.rule);
            let added = implied(rule, &method, path, operation);
            let Some(responses) = operation["responses"].as_object_mut() else { continue };
            for (status, response) in responses.iter_mut() {
                if status.starts_with('4') || status.starts_with('5') {
                    relabel(response, fhir);
                }
            }
            for (status, description) in added {
                responses.entry(status).or_insert_with(|| error_response(description, fhir));
            }
        }
    }
}

/// An error the handler declared: its body's type as it is sent.
fn relabel(response: &mut Value, fhir: bool) {
    let description = response["description"].as_str().unwrap_or("An error").to_owned();
    let content = response.get("content").and_then(Value::as_object).cloned().unwrap_or_else(Map::new);
    let problem = content.values().any(|c| c["schema"]["$ref"] == "#/components/schemas/Problem");
    if fhir || problem {
        *response = error_response(&description, fhir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_problems_and_the_guards_statuses_are_declared() {
        let mut document = crate::openapi::served();
        let create = &document["paths"]["/api/v1/organizations/{org}/patients"]["post"]["responses"];
        for status in ["400", "401", "403", "404", "413", "415", "422", "429"] {
            let schema = &create[status]["content"]["application/problem+json"]["schema"]["$ref"];
            assert_eq!(schema, "#/components/schemas/Problem", "{status}: {}", create[status]);
        }
        assert!(create["201"]["content"].get("application/json").is_some(), "success stays JSON");
        let health = &document["paths"]["/healthz"]["get"]["responses"];
        assert!(health.get("401").is_none() && health.get("404").is_none(), "a public route without parameters");
        let fhir = &document["paths"]["/fhir/Patient"]["post"]["responses"];
        assert!(fhir["400"]["content"].get("application/fhir+json").is_some(), "{fhir}");
        declare_errors(&mut document);
        assert_eq!(document, crate::openapi::served(), "declaring twice changes nothing");
    }
}
