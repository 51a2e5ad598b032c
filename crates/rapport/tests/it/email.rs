//! Email through a real SMTP conversation with the simulator, on both
//! backends: headers (Message-ID, List-Unsubscribe, One-Click), multipart
//! text and HTML, RFC 8058 unsubscribe by POST only, and the faults: a
//! greylisting 451 (retried), a connection dropped after the message
//! (in doubt, never resent), an unknown mailbox (undeliverable).

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use jiff::SignedDuration;
use rapport::channels::Providers;
use rapport::channels::smtp::{DkimAlgorithm, DkimSettings, SmtpEmail, SmtpSecurity, SmtpSettings};
use rapport::config::Secret;
use rapport::engine::dispatch::MessageSender;
use rapport::jobs::BatchReport;
use rapport::links::PatientLinks;
use rapport::simulators::smtp::{PASSWORD, SmtpFault, SmtpSimulator, SmtpTls, USERNAME};
use rapport_domain::{Channel, ConsentStatus, MessageClass, MessageId, MessagePlan, MessageState, OrganizationId};
use serde_json::json;

use crate::support::app::{PUBLIC_URL, TestApp, on_each_backend_app};

const ADDRESS: &str = "ann@example.org";

struct Setup {
    sim: SmtpSimulator,
    sender: MessageSender,
    org: OrganizationId,
    patient: String,
}

/// The simulator's account on `port`, in plain text, no DKIM.
fn smtp_settings(port: u16) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        security: SmtpSecurity::None,
        username: Some(USERNAME.into()),
        password: Some(Secret::new(PASSWORD)),
        from: "Riverbend Health <reminders@riverbend.example>".into(),
        timeout: Duration::from_secs(2),
        ca_file: None,
        dkim: None,
    }
}

/// An organization, a patient reachable by email only, and a sender through the SMTP simulator.
async fn setup(app: &TestApp) -> Setup {
    let (org, _) = app.organization("Practice").await;
    let patient = json!({"given_name": "Ann", "family_name": "Lee", "time_zone": "America/Chicago",
        "emails": [ADDRESS]});
    let created = app.post(&format!("/api/v1/organizations/{org}/patients"), patient).await;
    let sim = SmtpSimulator::start().await.expect("smtp simulator");
    let settings = smtp_settings(sim.port());
    let links = PatientLinks::load(&app.store, PUBLIC_URL).await.expect("links");
    let mut providers = Providers::log_only(&app.store);
    providers.email = Arc::new(SmtpEmail::new(settings, Some(links)).expect("smtp"));
    let sender = MessageSender::with_providers(app.store.clone(), providers);
    Setup { sim, sender, org: org.parse().expect("org"), patient: created.body["id"].as_str().expect("id").into() }
}

async fn plan(app: &TestApp, s: &Setup, key: &str, class: MessageClass) -> MessageId {
    let plan = MessagePlan {
        patient_id: s.patient.parse().expect("patient"),
        class,
        idempotency_key: key.into(),
        subject: Some("Your visit tomorrow".into()),
        body: format!("See you tomorrow at 10:30 ({key})."),
        template: None,
        appointment_id: None,
        priority: rapport_domain::message::pace::Priority::Timely,
        media: vec![format!("https://riverbend.example/maps/{key}.png")],
        channel: None,
        to: None,
        due_at: app.store.clock().now(),
        expires_at: None,
    };
    app.store.plan_message(s.org, &plan).await.expect("plan").0.id
}

async fn dispatch(s: &Setup) -> BatchReport {
    s.sender.dispatch_batch(&crate::support::worker("email-test", 20)).await.expect("batch")
}

async fn state_of(app: &TestApp, s: &Setup, id: MessageId) -> MessageState {
    app.store.message(s.org, id).await.expect("message").state
}

#[tokio::test]
async fn an_email_goes_once_as_multipart_with_its_message_id_and_one_click_unsubscribe() {
    on_each_backend_app(|app| async move {
        let s = setup(&app).await;
        let care = plan(&app, &s, "reminder", MessageClass::Care).await;
        let receipt = plan(&app, &s, "receipt", MessageClass::Transactional).await;
        assert_eq!(dispatch(&s).await.done, 2);
        assert_eq!(dispatch(&s).await, BatchReport::default());
        let emails = s.sim.emails();
        assert_eq!(emails.len(), 2);
        let reminder = emails.iter().find(|e| e.data.contains("(reminder)")).expect("the reminder");
        assert_eq!(
            (reminder.from.as_str(), reminder.to.as_slice()),
            ("reminders@riverbend.example", &[ADDRESS.to_owned()][..])
        );
        assert_eq!(reminder.header("Message-ID"), Some(format!("<{care}@riverbend.example>")));
        assert_eq!(reminder.header("Subject").as_deref(), Some("Your visit tomorrow"));
        assert!(reminder.header("Content-Type").is_some_and(|c| c.starts_with("multipart/alternative")));
        assert!(reminder.data.contains("text/plain") && reminder.data.contains("text/html"));
        let map = "https://riverbend.example/maps/reminder.png";
        // Quoted-printable: soft line breaks joined, `=` written `=3D`.
        let unwrapped = reminder.data.replace("=\r\n", "").replace("=\n", "");
        assert!(unwrapped.contains(&format!("<a href=3D\"{map}\">")), "media as links: {unwrapped}");
        let link = reminder.header("List-Unsubscribe").expect("List-Unsubscribe");
        assert!(link.starts_with(&format!("<{PUBLIC_URL}/unsubscribe/{care}.")), "{link}");
        assert_eq!(reminder.header("List-Unsubscribe-Post").as_deref(), Some("List-Unsubscribe=One-Click"));
        let message = app.store.message(s.org, care).await.expect("message");
        assert_eq!(message.state, MessageState::Sent);
        assert_eq!(message.provider_ref, Some(format!("<{care}@riverbend.example>").into()));
        let other = emails.iter().find(|e| e.data.contains("(receipt)")).expect("the receipt");
        assert_eq!(other.header("List-Unsubscribe"), None, "strictly transactional: no unsubscribe");
        assert_eq!(state_of(&app, &s, receipt).await, MessageState::Sent);
    })
    .await;
}

#[tokio::test]
async fn one_click_unsubscribe_works_by_post_only_and_cannot_be_forged() {
    on_each_backend_app(|app| async move {
        let s = setup(&app).await;
        plan(&app, &s, "newsletter", MessageClass::Care).await;
        dispatch(&s).await;
        let link = s.sim.emails()[0].header("List-Unsubscribe").expect("link");
        let path = link.trim_matches(['<', '>']).trim_start_matches(PUBLIC_URL).to_owned();
        let consents = format!("/api/v1/organizations/{}/patients/{}/consents", s.org, s.patient);
        let revoked = |body: &serde_json::Value| {
            body["current"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["channel"] == "email" && c["status"] == "revoked")
        };
        assert!(app.get(&consents).await.body["current"].is_array(), "the ledger answers");
        let page = app.send_raw("GET", &path, None, &[]).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(!revoked(&app.get(&consents).await.body), "a GET alone never unsubscribes");
        let forged = format!("{}x", path.trim_end_matches(|c: char| c != '.'));
        let reply = app.send_raw("POST", &forged, Some("List-Unsubscribe=One-Click"), &[]).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert!(!revoked(&app.get(&consents).await.body), "a forged link changes nothing");
        for _ in 0..2 {
            let reply = app.send_raw("POST", &path, Some("List-Unsubscribe=One-Click"), &[]).await;
            assert_eq!(reply.status, StatusCode::OK);
        }
        let ledger = app.get(&consents).await.body;
        assert!(revoked(&ledger), "{ledger}");
        let history = app.store.consent_history(s.org, s.patient.parse().expect("id")).await.expect("ledger");
        let revocations = history.iter().filter(|c| c.channel == Channel::Email && c.status == ConsentStatus::Revoked);
        assert_eq!(revocations.count(), 1, "repeating it records nothing more");
        let next = plan(&app, &s, "after", MessageClass::Care).await;
        dispatch(&s).await;
        assert_eq!(state_of(&app, &s, next).await, MessageState::Suppressed, "no email after unsubscribing");
        assert_eq!(s.sim.emails().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn smtp_faults_are_retried_held_in_doubt_or_marked_undeliverable() {
    on_each_backend_app(|app| async move {
        let s = setup(&app).await;
        // 451 at RCPT: not taken, retried later, sent once.
        s.sim.push_fault(SmtpFault::Greylist);
        let greylisted = plan(&app, &s, "greylisted", MessageClass::Transactional).await;
        assert_eq!(dispatch(&s).await.retried, 1);
        assert_eq!(state_of(&app, &s, greylisted).await, MessageState::Planned);
        app.clock.set(app.store.clock().now() + SignedDuration::from_mins(1));
        assert_eq!(dispatch(&s).await.done, 1);
        assert_eq!(state_of(&app, &s, greylisted).await, MessageState::Sent);

        // Taken whole, then the connection drops before the 250: in doubt,
        // and SMTP cannot be asked, so it stays in doubt and is never resent.
        s.sim.push_fault(SmtpFault::DropAfterData);
        let dropped = plan(&app, &s, "dropped", MessageClass::Transactional).await;
        assert_eq!(dispatch(&s).await.deferred, 1);
        assert_eq!(state_of(&app, &s, dropped).await, MessageState::InDoubt);
        for _ in 0..3 {
            app.clock.set(app.store.clock().now() + SignedDuration::from_hours(2));
            dispatch(&s).await;
        }
        assert_eq!(state_of(&app, &s, dropped).await, MessageState::InDoubt, "reported, not resent");
        let copies = s.sim.emails().iter().filter(|e| e.data.contains("(dropped)")).count();
        assert_eq!(copies, 1);

        // 550 at RCPT: undeliverable, and the address is remembered.
        s.sim.mark_unknown(ADDRESS);
        let unknown = plan(&app, &s, "unknown", MessageClass::Transactional).await;
        dispatch(&s).await;
        assert_eq!(state_of(&app, &s, unknown).await, MessageState::Undeliverable);
        let marked = app.store.undeliverable_channels(s.org, &[(Channel::Email, ADDRESS.into())]).await.expect("q");
        assert_eq!(marked, vec![Channel::Email]);
    })
    .await;
}

#[tokio::test]
async fn emails_not_started_before_the_batchs_deadline_wait_for_the_next_batch() {
    on_each_backend_app(|app| async move {
        let s = setup(&app).await;
        // A three-second lease leaves the hand-offs a second and a half; the
        // first email takes two, so the other two are not attempted.
        s.sim.push_fault(SmtpFault::SlowAfterData(Duration::from_secs(2)));
        let ids = [
            plan(&app, &s, "first", MessageClass::Transactional).await,
            plan(&app, &s, "second", MessageClass::Transactional).await,
            plan(&app, &s, "third", MessageClass::Transactional).await,
        ];
        let mut worker = crate::support::worker("short-lease", 20);
        worker.lease_for = SignedDuration::from_secs(3);
        let report = s.sender.dispatch_batch(&worker).await.expect("batch");
        assert_eq!((report.done, report.deferred, report.lease_lost), (1, 2, 0), "{report:?}");
        assert_eq!(s.sim.emails().len(), 1);
        let mut states = Vec::new();
        for id in ids {
            states.push(state_of(&app, &s, id).await);
        }
        states.sort_by_key(|state| state.as_str());
        assert_eq!(states, [MessageState::Planned, MessageState::Planned, MessageState::Sent]);
        assert_eq!(dispatch(&s).await.done, 2, "the next batch sends them");
        assert_eq!(s.sim.emails().len(), 3, "each once");
    })
    .await;
}

/// A certificate for `localhost`, its CA file (itself), and an acceptor with it.
fn certificate(dir: &std::path::Path) -> (std::path::PathBuf, tokio_rustls::TlsAcceptor) {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_file, generated.cert.pem()).expect("write cert");
    std::fs::write(&key_file, generated.signing_key.serialize_pem()).expect("write key");
    (cert_file.clone(), rapport::tls::acceptor(&cert_file, &key_file).expect("acceptor"))
}

#[tokio::test]
async fn email_goes_over_starttls_or_implicit_tls_and_an_untrusted_certificate_sends_nothing() {
    on_each_backend_app(|app| async move {
        let dir = tempfile::tempdir().expect("dir");
        let (ca_file, acceptor) = certificate(dir.path());
        let mut s = setup(&app).await;
        let links = PatientLinks::load(&app.store, PUBLIC_URL).await.expect("links");
        let use_server = |s: &mut Setup, sim: SmtpSimulator, security, ca_file: Option<std::path::PathBuf>| {
            let settings = SmtpSettings { host: "localhost".into(), security, ca_file, ..smtp_settings(sim.port()) };
            let mut providers = Providers::log_only(&app.store);
            providers.email = Arc::new(SmtpEmail::new(settings, Some(links.clone())).expect("smtp"));
            s.sender = MessageSender::with_providers(app.store.clone(), providers);
            s.sim = sim;
        };

        let starttls = SmtpSimulator::start_with(SmtpTls::StartTls(acceptor.clone())).await.expect("smtp");
        use_server(&mut s, starttls, SmtpSecurity::StartTls, Some(ca_file.clone()));
        let first = plan(&app, &s, "starttls", MessageClass::Care).await;
        assert_eq!(dispatch(&s).await.done, 1);
        assert_eq!((s.sim.emails().len(), s.sim.emails()[0].tls), (1, true), "upgraded before MAIL");
        assert_eq!(state_of(&app, &s, first).await, MessageState::Sent);

        let implicit = SmtpSimulator::start_with(SmtpTls::Implicit(acceptor.clone())).await.expect("smtp");
        use_server(&mut s, implicit, SmtpSecurity::Tls, Some(ca_file.clone()));
        plan(&app, &s, "implicit", MessageClass::Care).await;
        assert_eq!(dispatch(&s).await.done, 1);
        assert_eq!((s.sim.emails().len(), s.sim.emails()[0].tls), (1, true));

        // A certificate nobody vouches for: nothing is sent, the message waits.
        let untrusted = SmtpSimulator::start_with(SmtpTls::StartTls(acceptor)).await.expect("smtp");
        use_server(&mut s, untrusted, SmtpSecurity::StartTls, None);
        let refused = plan(&app, &s, "untrusted", MessageClass::Care).await;
        assert_eq!(dispatch(&s).await.retried, 1);
        assert!(s.sim.emails().is_empty());
        assert_eq!(state_of(&app, &s, refused).await, MessageState::Planned);
        let trace = app.store.message_events(s.org, refused).await.expect("trace");
        assert!(trace.iter().any(|e| e.note.contains("the mail server refused STARTTLS")), "{trace:?}");
    })
    .await;
}

/// RFC 6376 relaxed header canonicalization of one `name: value` header.
fn relaxed_header(name: &str, value: &str) -> String {
    let unfolded = value.replace("\r\n", "");
    let compressed = unfolded.split([' ', '\t']).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ");
    format!("{}:{}", name.to_lowercase(), compressed.trim())
}

/// RFC 6376 relaxed body canonicalization.
fn relaxed_body(body: &str) -> String {
    let mut lines: Vec<String> = body
        .split("\r\n")
        .map(|line| line.split([' ', '\t']).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" "))
        .collect();
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    if lines.is_empty() { String::new() } else { lines.join("\r\n") + "\r\n" }
}

/// The raw (folded) value of each header of a message, in order.
fn raw_headers(data: &str) -> Vec<(String, String)> {
    let head = data.split("\r\n\r\n").next().unwrap_or_default();
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some((_, value)) = headers.last_mut() {
                value.push_str("\r\n");
                value.push_str(line);
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.to_owned(), value.to_owned()));
        }
    }
    headers
}

/// Verifies a message's Ed25519 DKIM signature (RFC 8463) as a receiver
/// would: the body hash, then the signature over the signed headers.
fn verify_dkim(data: &str, public: &ed25519_dalek::VerifyingKey) -> Result<Vec<String>, String> {
    use base64::Engine;
    use sha2::Digest;
    let base64 = base64::engine::general_purpose::STANDARD;
    let headers = raw_headers(data);
    let (_, signature) =
        headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("DKIM-Signature")).ok_or("no DKIM-Signature")?;
    let tags: Vec<(String, String)> = signature
        .replace("\r\n", "")
        .split(';')
        .filter_map(|t| t.split_once('=').map(|(k, v)| (k.trim().to_owned(), v.split_whitespace().collect::<String>())))
        .collect();
    let tag = |name: &str| tags.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    if tag("a") != "ed25519-sha256" || tag("c") != "relaxed/relaxed" {
        return Err(format!("a={} c={}", tag("a"), tag("c")));
    }
    let body = data.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    let body_hash = base64.encode(sha2::Sha256::digest(relaxed_body(body).as_bytes()));
    if body_hash != tag("bh") {
        return Err("the body hash does not match".into());
    }
    let signed: Vec<String> = tag("h").split(':').map(str::to_owned).collect();
    let mut input = String::new();
    for name in &signed {
        let (n, v) = headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).ok_or(format!("no {name}"))?;
        input.push_str(&relaxed_header(n, v));
        input.push_str("\r\n");
    }
    // The signature's own header, its b= emptied, without a final CRLF.
    let emptied: Vec<String> = signature
        .split(';')
        .map(|t| match t.split_once('=') {
            Some((k, _)) if k.trim() == "b" => format!("{k}="),
            _ => t.to_owned(),
        })
        .collect();
    input.push_str(&relaxed_header("DKIM-Signature", &emptied.join(";")));
    let hash = sha2::Sha256::digest(input.as_bytes());
    let signature_bytes = base64.decode(tag("b")).map_err(|_| "b= is not Base64")?;
    let signature = ed25519_dalek::Signature::from_slice(&signature_bytes).map_err(|_| "b= is not a signature")?;
    public.verify_strict(&hash, &signature).map_err(|_| "the signature does not verify".to_owned())?;
    Ok(signed)
}

#[tokio::test]
async fn emails_are_dkim_signed_over_the_unsubscribe_headers_and_verify() {
    on_each_backend_app(|app| async move {
        use base64::Engine;
        let dir = tempfile::tempdir().expect("dir");
        let seed: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(7).wrapping_add(3));
        let key_file = dir.path().join("dkim.key");
        std::fs::write(&key_file, base64::engine::general_purpose::STANDARD.encode(seed)).expect("write key");
        let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
        let mut s = setup(&app).await;
        let dkim = DkimSettings {
            domain: "riverbend.example".into(),
            selector: "rapport2026".into(),
            algorithm: DkimAlgorithm::Ed25519,
            key_file,
        };
        let settings = SmtpSettings { dkim: Some(dkim), ..smtp_settings(s.sim.port()) };
        let links = PatientLinks::load(&app.store, PUBLIC_URL).await.expect("links");
        let mut providers = Providers::log_only(&app.store);
        providers.email = Arc::new(SmtpEmail::new(settings, Some(links)).expect("smtp"));
        s.sender = MessageSender::with_providers(app.store.clone(), providers);
        plan(&app, &s, "newsletter", MessageClass::Care).await;
        plan(&app, &s, "receipt", MessageClass::Transactional).await;
        assert_eq!(dispatch(&s).await.done, 2);
        for email in s.sim.emails() {
            let signed = verify_dkim(&email.data, &public).unwrap_or_else(|e| panic!("{e}: {}", email.data));
            let signature = email.header("DKIM-Signature").expect("signature");
            assert!(signature.contains("d=riverbend.example") && signature.contains("s=rapport2026"), "{signature}");
            let covers_unsubscribe = signed.iter().any(|h| h.eq_ignore_ascii_case("list-unsubscribe-post"));
            assert_eq!(covers_unsubscribe, email.data.contains("(newsletter)"), "RFC 8058: the signature covers them");
        }
        // A changed byte breaks it.
        let tampered = s.sim.emails()[0].data.replacen("See you", "Sea you", 1);
        assert!(verify_dkim(&tampered, &public).is_err());
    })
    .await;
}

#[tokio::test]
async fn a_template_carries_the_messages_own_unsubscribe_link() {
    on_each_backend_app(|app| async move {
        use rapport_domain::message::template::{TemplateContent, TemplateKind, TemplateText};
        let mut s = setup(&app).await;
        let words = TemplateContent {
            kind: TemplateKind::parse("health_tips").expect("kind"),
            language: rapport_domain::LanguageTag::parse("en").expect("language"),
            class: MessageClass::Care,
            text: TemplateText::parse("Winter tips from {{organization.name}}. Stop: {{links.unsubscribe}}")
                .expect("text"),
            voice_text: None,
            email_subject: None,
            email_body: None,
        };
        app.store.create_template(s.org, &words).await.expect("template");
        let planned = |key: &'static str| {
            let plan = MessagePlan {
                patient_id: s.patient.parse().expect("patient"),
                class: MessageClass::Care,
                idempotency_key: key.into(),
                subject: None,
                body: String::new(),
                template: Some(words.kind.clone()),
                appointment_id: None,
                priority: rapport_domain::message::pace::Priority::Timely,
                media: Vec::new(),
                channel: None,
                to: None,
                due_at: app.store.clock().now(),
                expires_at: None,
            };
            let store = app.store.clone();
            let org = s.org;
            async move { store.plan_message(org, &plan).await.expect("plan").0.id }
        };
        // Without a public URL no link can be made: the message is not sent half-written.
        let unlinked = planned("no-link").await;
        assert_eq!(dispatch(&s).await.done, 1);
        let message = app.store.message(s.org, unlinked).await.expect("message");
        assert_eq!(message.state, MessageState::Suppressed);
        assert!(message.reason.as_deref().is_some_and(|r| r.contains("names a link")), "{:?}", message.reason);

        let links = PatientLinks::load(&app.store, PUBLIC_URL).await.expect("links");
        let mut providers = Providers::log_only(&app.store);
        let settings = smtp_settings(s.sim.port());
        providers.email = Arc::new(SmtpEmail::new(settings, Some(links.clone())).expect("smtp"));
        s.sender = MessageSender::with_providers(app.store.clone(), providers).with_links(links.clone());
        let linked = planned("linked").await;
        assert_eq!(dispatch(&s).await.done, 1);
        let message = app.store.message(s.org, linked).await.expect("message");
        assert_eq!(message.state, MessageState::Sent);
        assert!(message.plan.body.ends_with(&format!("Stop: {}", links.link(linked))), "{}", message.plan.body);
    })
    .await;
}

#[tokio::test]
async fn an_email_about_a_visit_carries_its_invitation_and_a_cancellation_cancels_it() {
    on_each_backend_app(|app| async move {
        use rapport_domain::message::template::TemplateKind;
        let s = setup(&app).await;
        let org = s.org.to_string();
        let locations = app.get(&format!("/api/v1/organizations/{org}/locations")).await;
        let location = locations.body["items"][0]["id"].as_str().expect("location").to_owned();
        let visit = json!({"patient_id": s.patient, "location_id": location, "start": "2026-11-27T16:00:00Z",
            "duration_minutes": 30, "visit_type": "follow-up"});
        let visit = app.post(&format!("/api/v1/organizations/{org}/appointments"), visit).await;
        let visit_id = visit.body["id"].as_str().expect("id").to_owned();
        let about = |key: &'static str, kind: &'static str, class: MessageClass| MessagePlan {
            patient_id: s.patient.parse().expect("patient"),
            class,
            idempotency_key: key.into(),
            subject: None,
            body: String::new(),
            template: Some(TemplateKind::parse(kind).expect("kind")),
            appointment_id: Some(visit_id.parse().expect("visit")),
            priority: rapport_domain::message::pace::Priority::Timely,
            media: Vec::new(),
            channel: None,
            to: None,
            due_at: app.store.clock().now(),
            expires_at: None,
        };
        app.store
            .plan_message(s.org, &about("reminder", "appointment_reminder", MessageClass::Care))
            .await
            .expect("plan");
        assert_eq!(dispatch(&s).await.done, 1);
        let invitation = |n: usize| {
            let email = &s.sim.emails()[n];
            // Quoted-printable soft breaks joined, then iCalendar's folded lines.
            let data = email.data.replace("=\r\n", "").replace("\r\n ", "");
            assert!(data.contains("Content-Type: text/calendar; method="), "{data}");
            data
        };
        let first = invitation(0);
        assert!(first.contains("text/calendar; method=REQUEST"), "{first}");
        for line in [format!("UID:{visit_id}@{org}.rapport"), "SEQUENCE:1".into(), "DTSTART:20261127T160000Z".into()] {
            assert!(first.contains(&line), "{line}: {first}");
        }
        // Cancelled: the same event, a higher sequence, METHOD:CANCEL.
        let path = format!("/api/v1/organizations/{org}/appointments/{visit_id}");
        let cancel = json!({"patient_id": s.patient, "location_id": location, "start": "2026-11-27T16:00:00Z",
            "duration_minutes": 30, "visit_type": "follow-up", "status": "cancelled"});
        let etag = visit.etag.clone().expect("etag");
        assert_eq!(
            app.send("PUT", &path, Some(&cancel.to_string()), &[("if-match", &etag)]).await.status,
            StatusCode::OK
        );
        let notice = about("cancelled", "appointment_cancelled", MessageClass::Transactional);
        app.store.plan_message(s.org, &notice).await.expect("plan");
        assert_eq!(dispatch(&s).await.done, 1);
        let second = invitation(1);
        assert!(second.contains("method=CANCEL") && second.contains("STATUS:CANCELLED"), "{second}");
        assert!(second.contains(&format!("UID:{visit_id}@{org}.rapport")) && second.contains("SEQUENCE:2"));
    })
    .await;
}
