//! The authorization matrix, generated from the route table: every route ×
//! every role (and an integration token) × own organization / another
//! organization / another organization's patient. Allowed or denied as the
//! policy says; each denial is in the audit trail. A route missing from the
//! policy table, or a policy row without a route, fails here.

use axum::http::StatusCode;
use rapport::auth::secret;
use rapport::http::access::{POLICIES, RoutePolicy, Rule};
use rapport::store::{AuditQuery, PageRequest};
use rapport_domain::message::template::{TemplateContent, TemplateKind, TemplateText};
use rapport_domain::{Capability, OrganizationId, Role, StaffUser};
use serde_json::json;

use crate::support::app::{Reply, TestApp, on_each_backend_app};
use crate::support::browser::{Browser, staff};

/// The roles' capabilities as docs/security.md documents them, written
/// out here independently of the code's table, which must agree.
const DOCUMENTED: &[(Role, &[&str])] = &[
    (
        Role::Administrator,
        &[
            "organization:read",
            "organization:write",
            "patients:read",
            "patients:write",
            "consents:read",
            "consents:write",
            "appointments:read",
            "appointments:write",
            "messages:read",
            "messages:write",
            "messages:resend",
            "templates:write",
            "patients:export",
            "audit:read",
            "staff:manage",
        ],
    ),
    (
        Role::FrontDesk,
        &[
            "organization:read",
            "patients:read",
            "patients:write",
            "consents:read",
            "consents:write",
            "appointments:read",
            "appointments:write",
            "messages:read",
            "messages:write",
        ],
    ),
    (
        Role::Clinician,
        &[
            "organization:read",
            "patients:read",
            "consents:read",
            "appointments:read",
            "messages:read",
            "messages:write",
        ],
    ),
    (Role::Marketer, &["organization:read", "templates:write"]),
    (Role::Auditor, &["organization:read", "audit:read"]),
    (
        Role::Integration,
        &[
            "organization:read",
            "organization:write",
            "patients:read",
            "patients:write",
            "consents:read",
            "consents:write",
            "appointments:read",
            "appointments:write",
            "messages:read",
            "messages:write",
        ],
    ),
];

fn documented(role: Role, capability: Capability) -> bool {
    DOCUMENTED.iter().any(|(r, capabilities)| *r == role && capabilities.contains(&capability.as_str()))
}

/// Who sends a request in the matrix.
enum Caller {
    Staff(StaffUser),
    Token { id: String, secret: String },
}

impl Caller {
    fn role(&self) -> Role {
        match self {
            Caller::Staff(user) => user.role,
            Caller::Token { .. } => Role::Integration,
        }
    }

    fn actor_id(&self) -> String {
        match self {
            Caller::Staff(user) => user.id.to_string(),
            Caller::Token { id, .. } => id.clone(),
        }
    }

    /// A fresh session per request, so sign-out routes end nothing else.
    async fn send(&self, app: &TestApp, method: &str, path: &str) -> Reply {
        let body = matches!(method, "POST" | "PUT").then(|| json!({}));
        match self {
            Caller::Staff(user) => Browser::open(app, user).await.send(app, method, path, body.as_ref()).await,
            Caller::Token { secret, .. } => {
                let bearer = format!("Bearer {secret}");
                let body = body.map(|b| b.to_string());
                app.send_raw(method, path, body.as_deref(), &[("authorization", &bearer)]).await
            }
        }
    }

    fn allowed(&self, rule: Rule) -> bool {
        match rule {
            Rule::Public => true,
            // A webhook answers to its provider's signature, never to staff credentials.
            Rule::Signed => false,
            // The metrics answer to their token or a loopback client, never to staff credentials.
            Rule::Operator => false,
            Rule::Session | Rule::SessionEvenMfaPending => matches!(self, Caller::Staff(_)),
            Rule::Needs(capability) => documented(self.role(), capability),
        }
    }
}

/// The ids the paths' `{id}` take, per kind of resource.
struct Ids {
    patient: String,
    appointment: String,
    location: String,
    provider: String,
    staff_user: String,
    api_token: String,
    message: String,
    template: String,
}

fn fill(policy: &RoutePolicy, org: &str, ids: &Ids) -> String {
    let id = match policy.resource {
        Some("patient") => &ids.patient,
        Some("appointment") => &ids.appointment,
        Some("location") => &ids.location,
        Some("provider") => &ids.provider,
        Some("staff_user") => &ids.staff_user,
        Some("api_token") => &ids.api_token,
        Some("message") => &ids.message,
        Some("template") => &ids.template,
        _ => &ids.patient, // a session id nobody has: not found, never forbidden
    };
    policy.path.replace("{org}", org).replace("{id}", id).replace("{file}", "console.js")
}

async fn assert_denial_audited(app: &TestApp, caller: &Caller, org: OrganizationId, policy: &RoutePolicy, status: u16) {
    let query = AuditQuery {
        action: Some(policy.action.to_owned()),
        actor_id: Some(caller.actor_id()),
        ..AuditQuery::default()
    };
    let trail = app.store.audit_events(org, &query, &PageRequest::first(1)).await.expect("trail");
    let event = trail.items.first().unwrap_or_else(|| panic!("no audit event for {} {}", policy.method, policy.path));
    assert_eq!(event.event.outcome.as_str(), "denied", "{} {}", policy.method, policy.path);
    assert_eq!(event.event.status, Some(status), "{} {}", policy.method, policy.path);
}

#[tokio::test]
async fn every_route_answers_every_caller_as_its_policy_says() {
    on_each_backend_app(|app| async move {
        let (org, location) = app.organization("Ours").await;
        let (theirs, _) = app.organization("Theirs").await;
        let org_id: OrganizationId = org.parse().expect("org");
        let base = format!("/api/v1/organizations/{org}");
        let patient = app.post(&format!("{base}/patients"), json!({"given_name": "Ann", "family_name": "Lee"})).await;
        let their_patient = app
            .post(&format!("/api/v1/organizations/{theirs}/patients"), json!({"given_name": "Bo", "family_name": "Ng"}))
            .await;
        let provider = app.post(&format!("{base}/providers"), json!({"given_name": "Ida", "family_name": "Lo"})).await;
        let visit = json!({"patient_id": patient.body["id"], "location_id": location, "start": "2026-12-01T09:00:00Z",
            "duration_minutes": 30, "visit_type": "annual"});
        let appointment = app.post(&format!("{base}/appointments"), visit).await;
        let target = staff(&app, &org, "target@ours.example", Role::FrontDesk).await;
        let target_token = crate::support::app::integration_token(&app.store, org_id).await;
        let target_token =
            app.store.api_token_by_digest(&secret::digest(&target_token)).await.expect("q").expect("token");
        let text = |reply: &Reply| reply.body["id"].as_str().expect("fixture id").to_owned();
        let plan = rapport_domain::MessagePlan {
            patient_id: text(&patient).parse().expect("patient id"),
            class: rapport_domain::MessageClass::Care,
            idempotency_key: "matrix".into(),
            subject: None,
            body: "See you tomorrow".into(),
            template: None,
            appointment_id: None,
            priority: rapport_domain::message::pace::Priority::Timely,
            media: Vec::new(),
            channel: None,
            to: None,
            due_at: crate::support::test_now(),
            expires_at: None,
        };
        let (message, _) = app.store.plan_message(org_id, &plan).await.expect("message");
        let words = TemplateContent {
            kind: TemplateKind::parse("welcome").expect("kind"),
            language: rapport_domain::LanguageTag::parse("en").expect("language"),
            class: rapport_domain::MessageClass::Transactional,
            text: TemplateText::parse("Welcome").expect("text"),
            voice_text: None,
            email_subject: None,
            email_body: None,
        };
        let template = app.store.create_template(org_id, &words).await.expect("template");
        let ids = Ids {
            patient: text(&patient),
            appointment: text(&appointment),
            location: location.clone(),
            provider: text(&provider),
            staff_user: target.id.to_string(),
            api_token: target_token.id.to_string(),
            message: message.id.to_string(),
            template: template.id.to_string(),
        };
        let their_patient_id = text(&their_patient);

        let mut callers = Vec::new();
        for (i, role) in Role::ALL.into_iter().filter(|r| r.is_for_people()).enumerate() {
            callers.push(Caller::Staff(staff(&app, &org, &format!("caller{i}@ours.example"), role).await));
        }
        let secret_text = app.token_for(&base).expect("the organization's token");
        let token = app.store.api_token_by_digest(&secret::digest(&secret_text)).await.expect("q").expect("token");
        callers.push(Caller::Token { id: token.id.to_string(), secret: secret_text });

        for policy in POLICIES {
            if policy.rule == Rule::Public {
                let path = fill(policy, &org, &ids);
                let reply = app.send_raw(policy.method, &path, Some("{}"), &[]).await;
                assert!(
                    ![401, 403, 404, 405].contains(&reply.status.as_u16()),
                    "{} {path}: {}",
                    policy.method,
                    reply.status
                );
                continue;
            }
            if matches!(policy.rule, Rule::Signed | Rule::Operator) {
                let path = fill(policy, &org, &ids);
                let unsigned = app.send_raw(policy.method, &path, Some("To=%2B13125550101"), &[]).await;
                assert_eq!(unsigned.status, StatusCode::FORBIDDEN, "{} {path} unsigned", policy.method);
                for caller in &callers {
                    let reply = caller.send(&app, policy.method, &path).await;
                    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{} {path} as {}", policy.method, caller.role());
                }
                continue;
            }
            let path = fill(policy, &org, &ids);
            for caller in &callers {
                let reply = caller.send(&app, policy.method, &path).await;
                let status = reply.status.as_u16();
                let who = format!("{} as {}: {} {path}", status, caller.role(), policy.method);
                if caller.allowed(policy.rule) {
                    assert!(![401, 403, 405, 500].contains(&status), "{who} should be allowed: {}", reply.body);
                } else {
                    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{who} should be forbidden");
                    assert_denial_audited(&app, caller, org_id, policy, 403).await;
                }
            }
            if !policy.path.contains("{org}") {
                continue;
            }
            let elsewhere = fill(policy, &theirs, &ids);
            for caller in &callers {
                let reply = caller.send(&app, policy.method, &elsewhere).await;
                assert_eq!(reply.status, StatusCode::NOT_FOUND, "{} {elsewhere} as {}", policy.method, caller.role());
                assert_denial_audited(&app, caller, org_id, policy, 404).await;
            }
            if policy.id_is_patient {
                let foreign = policy.path.replace("{org}", &org).replace("{id}", &their_patient_id);
                for caller in callers.iter().filter(|c| c.allowed(policy.rule)) {
                    let reply = caller.send(&app, policy.method, &foreign).await;
                    assert!(
                        [404, 400, 412, 415, 422, 428].contains(&reply.status.as_u16())
                            && reply.status != StatusCode::OK,
                        "{} {foreign} as {}: {}",
                        policy.method,
                        caller.role(),
                        reply.status
                    );
                    if policy.method == "GET" {
                        assert_eq!(reply.status, StatusCode::NOT_FOUND, "another organization's patient is not found");
                    }
                }
            }
        }
    })
    .await;
}

#[tokio::test]
async fn the_policy_table_and_the_api_document_name_the_same_routes() {
    let app = TestApp::new().await;
    let document = app.get("/api/openapi.json").await.body;
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, operations) in document["paths"].as_object().expect("paths") {
        for method in operations.as_object().expect("operations").keys() {
            documented.push((method.to_uppercase(), path.clone()));
        }
    }
    // The document does not describe itself.
    let mut declared: Vec<(String, String)> = POLICIES
        .iter()
        // The console's pages are pages, not API.
        .filter(|p| p.path != "/api/openapi.json" && !p.path.starts_with("/console"))
        .map(|p| (p.method.to_owned(), p.path.to_owned()))
        .collect();
    documented.sort();
    declared.sort();
    assert_eq!(documented, declared, "every route has a declared policy and is documented");
    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(
        (schemes["bearer"]["scheme"].as_str(), schemes["session"]["in"].as_str()),
        (Some("bearer"), Some("cookie"))
    );
    for policy in POLICIES.iter().filter(|p| p.path != "/api/openapi.json" && !p.path.starts_with("/console")) {
        let operation = &document["paths"][policy.path][policy.method.to_lowercase()];
        let open = operation["security"] == serde_json::json!([{}]);
        assert_eq!(
            open,
            matches!(policy.rule, Rule::Public | Rule::Signed | Rule::Operator),
            "{} {}: the document says who may call",
            policy.method,
            policy.path
        );
    }
    let capabilities_used: std::collections::HashSet<Capability> =
        POLICIES.iter().filter_map(|p| if let Rule::Needs(c) = p.rule { Some(c) } else { None }).collect();
    assert_eq!(capabilities_used.len(), Capability::ALL.len(), "every capability guards some route");
}
