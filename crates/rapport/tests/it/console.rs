//! The staff console in a real Chromium, driven over WebDriver against a
//! real Rapport server on TCP: sign in with a second factor, watch a text
//! the Twilio simulator posts to the webhook appear in the open inbox
//! without a reload (with a notification and the title's badge), answer
//! it (the reply reaches the simulator), see STOP suppress the next
//! reply, assign to a person and a team, close, and find it by search;
//! then the patient's page and the outbox. Each main screen passes an
//! accessibility audit (`a11y_audit.js`: labels, names, contrast) and the
//! inbox is walked by keyboard; each is saved under `target/screenshots/`
//! for a reviewer.

use axum::http::StatusCode;
use rapport::auth::{password, totp};
use rapport::simulators::twilio::TwilioSimulator;
use rapport::store::{ConversationQuery, ConversationStatus, MessageQuery, NewStaffUser, PageRequest};
use rapport_domain::{Email, MessageState, Role};
use serde_json::json;

use crate::sms::{SENDER, sender_for};
use crate::support::app::{TestApp, serve_hooks};
use crate::support::browser::{Browser, staff};
use crate::support::webdriver::{Driver, browser_or_skip};

const MOBILE: &str = "+13125550101";
const PASSWORD: &str = "a long enough passphrase";
const MFA_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

#[tokio::test]
async fn staff_answer_a_text_live_in_the_console_and_stop_suppresses_the_next_reply() {
    let Some((chromium, chromedriver)) = browser_or_skip("console") else { return };
    let app = TestApp::new().await;
    let (org, _) = app.organization("Lakeshore Family Practice").await;
    let org_id: rapport_domain::OrganizationId = org.parse().expect("org");
    let patient = json!({"given_name": "Ann", "family_name": "Lee", "time_zone": "America/Chicago",
        "birth_date": "1980-04-02", "phones": [{"number": MOBILE, "type": "mobile"}], "emails": ["ann@example.org"]});
    let created = app.post(&format!("/api/v1/organizations/{org}/patients"), patient).await;
    let patient_id = created.body["id"].as_str().expect("id").to_owned();
    let dana = app
        .store
        .create_staff_user(&NewStaffUser {
            organization_id: org_id,
            email: Email::parse("dana@lakeshore.example").expect("email"),
            display_name: "Dana Ruiz".into(),
            role: Role::FrontDesk,
            password_hash: password::hash(PASSWORD),
        })
        .await
        .expect("staff");
    app.store.begin_mfa_enrolment(dana.id, MFA_SECRET).await.expect("enrol");
    app.store.confirm_mfa_enrolment(dana.id, 0, &[]).await.expect("confirm");

    let canned =
        json!({"title": "Parking", "body": "Hi {{patient.first_name}}, parking at {{organization.name}} is free."});
    let canned = app.post(&format!("/api/v1/organizations/{org}/canned-replies"), canned).await;
    assert_eq!(canned.status, axum::http::StatusCode::CREATED, "{}", canned.body);
    let front_desk = app.store.create_team(org_id, "Front desk", &[dana.id]).await.expect("team");
    let (server, stop) = serve_hooks(&app).await;
    let sim = TwilioSimulator::start(app.store.clock().clone()).await.expect("simulator");
    sim.stop_reporting();
    let sender = sender_for(&app.store, &sim, None);
    let driver = Driver::start(&chromedriver).await;
    let browser = driver.session(&chromium).await;

    // Signing in: password, then the authenticator's code.
    browser.goto(&format!("{server}/console")).await;
    browser.find("#sign-in-form").await;
    assert!(browser.url().await.ends_with("/console/sign-in"), "no session: sent to sign in");
    browser.screenshot("01-sign-in").await;
    browser.assert_accessible("the sign-in page").await;
    // The audit sees what it looks for: faint text and a field without a label.
    browser
        .run("document.body.insertAdjacentHTML('beforeend', '<p id=\"faint\">faint</p><input id=\"bare\">'); document.getElementById('faint').style.color = '#aaa'; return true;")
        .await;
    let problems = browser.accessibility_problems().await;
    assert!(problems.iter().any(|p| p.starts_with("p#faint has contrast 2.")), "{problems:?}");
    assert!(problems.iter().any(|p| p == "input#bare has no label"), "{problems:?}");
    browser
        .run("document.getElementById('faint').remove(); document.getElementById('bare').remove(); return true;")
        .await;
    browser.type_into("#email", "dana@lakeshore.example").await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("#sign-in-form button[type=submit]").await;
    browser.wait_for("the code field", "!document.getElementById('code-row').hidden").await;
    let key = totp::base32_decode(MFA_SECRET).expect("secret");
    let code = format!("{:06}", totp::code_at(&key, totp::step_of(app.clock.now())));
    browser.type_into("#code", &code).await;
    browser.click("#sign-in-form button[type=submit]").await;
    browser.wait_for("the inbox", "document.body.dataset.liveReady === '1'").await;
    assert!(browser.url().await.ends_with(&format!("/console/{org}/inbox")));
    browser.goto(&format!("{server}/console/{org}/inbox?view=all")).await;
    browser.wait_for("the live stream", "document.body.dataset.liveReady === '1'").await;
    assert_eq!(browser.run("return Notification.permission").await, "granted");
    let asked = browser.run("return !document.getElementById('enable-notifications').hidden").await;
    assert_eq!(asked, false, "permission given: nothing to ask");
    browser.screenshot("02-inbox-empty").await;

    // A patient texts: it appears without a reload, with a notification and a badge.
    let inbound = format!("{server}/hooks/twilio/{org}/inbound");
    assert_eq!(sim.send_inbound(&inbound, MOBILE, SENDER, "Can I come at 3 instead?").await.expect("post"), 200);
    browser.wait_for("the new conversation", "document.querySelector('#conversation-list .conversation')").await;
    let listed =
        browser.run("return document.querySelector('#conversation-list .conversation .name').textContent").await;
    assert_eq!(listed, "Ann Lee");
    browser.wait_for("a desktop notification", "Number(document.body.dataset.desktopNotified || 0) >= 1").await;
    browser.wait_for("the title's badge", "document.title.startsWith('(1) ')").await;
    browser.screenshot("03-inbox-new-text").await;

    // Open it and reply; the reply reaches the simulator.
    browser.click("#conversation-list .conversation").await;
    browser.find("#reply-body").await;
    browser
        .wait_for("the thread", "document.querySelector('#entries').textContent.includes('Can I come at 3 instead?')")
        .await;
    browser
        .run("const s = document.getElementById('canned'); s.selectedIndex = 1; s.dispatchEvent(new Event('change', {bubbles: true})); return true;")
        .await;
    let filled = browser.run("return document.getElementById('reply-body').value").await;
    assert_eq!(filled, "Hi Ann, parking at Lakeshore Family Practice is free.", "filled for the patient");
    browser.run("document.getElementById('reply-body').value = ''; return true;").await;
    browser.type_into("#reply-body", "Yes, 3 PM works. See you then!").await;
    let counter = browser.run("return document.getElementById('reply-segments').textContent").await;
    assert_eq!(counter, "30 characters · 1 segment");
    browser.click("#send-reply").await;
    browser
        .wait_for("the reply in the thread", "document.querySelector('#entries').textContent.includes('3 PM works')")
        .await;
    sender.dispatch_batch(&crate::support::worker("console", 10)).await.expect("dispatch");
    let sent = sim.messages();
    assert_eq!(sent.len(), 1, "the reply went once");
    assert_eq!((sent[0].to.as_str(), sent[0].body.as_str()), (MOBILE, "Yes, 3 PM works. See you then!"));
    browser.screenshot("04-thread-replied").await;
    browser.assert_accessible("the inbox with a thread").await;
    // By keyboard alone: the skip link first, then on to the reply box, each stop visibly focused.
    browser.goto(&browser.url().await).await;
    browser.wait_for("the inbox again", "document.body.dataset.liveReady === '1'").await;
    let mut stops = Vec::new();
    for _ in 0..80 {
        browser.press_tab().await;
        let stop = browser
            .run("const e = document.activeElement; return [e.id || e.className || e.tagName, getComputedStyle(e).outlineStyle];")
            .await;
        assert_ne!(stop[1], "none", "{stop} is focused without a visible outline");
        let id = stop[0].as_str().unwrap_or_default().to_owned();
        let done = id == "reply-body";
        stops.push(id);
        if done {
            break;
        }
    }
    assert_eq!(stops.first().map(String::as_str), Some("skip"), "the skip link comes first: {stops:?}");
    assert_eq!(stops.last().map(String::as_str), Some("reply-body"), "Tab reaches the reply box: {stops:?}");

    // STOP: the next reply is suppressed, never sent.
    assert_eq!(sim.send_inbound(&inbound, MOBILE, SENDER, "STOP").await.expect("post"), 200);
    browser.wait_for("the STOP in the thread", "document.querySelector('#entries').textContent.includes('STOP')").await;
    browser.find("#opted-out").await;
    browser.type_into("#reply-body", "Sorry to see you go.").await;
    browser.click("#send-reply").await;
    browser
        .wait_for("the second reply", "document.querySelector('#entries').textContent.includes('Sorry to see')")
        .await;
    sender.dispatch_batch(&crate::support::worker("console", 10)).await.expect("dispatch");
    assert_eq!(sim.messages().len(), 1, "nothing after STOP");
    let query = MessageQuery { state: Some(MessageState::Suppressed), ..MessageQuery::default() };
    let suppressed = app.store.messages(org_id, &query, &PageRequest::first(10)).await.expect("messages").items;
    assert_eq!(suppressed.len(), 1);
    assert_eq!(suppressed[0].plan.body, "Sorry to see you go.");

    // Assign to herself, then close.
    let option = format!("#assignee option[value='{}']", dana.id);
    browser.find(&option).await;
    browser
        .run(&format!(
            "const s = document.getElementById('assignee'); s.value = '{}'; s.dispatchEvent(new Event('change', {{bubbles: true}})); return true;",
            dana.id
        ))
        .await;
    browser
        .wait_for("the assignment", "document.querySelector('#conversation-list').textContent.includes('Dana Ruiz')")
        .await;
    browser
        .run(&format!(
            "const s = document.getElementById('team'); s.value = '{}'; s.dispatchEvent(new Event('change', {{bubbles: true}})); return true;",
            front_desk.id
        ))
        .await;
    browser
        .wait_for("the team", "document.querySelector('#conversation-list').textContent.includes('Front desk')")
        .await;
    browser.click("#close-conversation").await;
    browser.find("#reopen-conversation").await;
    browser.screenshot("05-thread-closed").await;
    let conversation = app
        .store
        .conversations(org_id, &ConversationQuery::default(), None, &PageRequest::first(5))
        .await
        .expect("list")
        .items
        .remove(0);
    assert_eq!((conversation.assigned_to, conversation.status), (Some(dana.id), ConversationStatus::Closed));
    assert_eq!(conversation.team_id, Some(front_desk.id));

    // A search finds it, closed as it is, by the words of its texts.
    browser.type_into("#inbox-search", "instead").await;
    browser.click("form[role=search] button").await;
    browser.find("#search-results").await;
    let found = browser.run("return document.querySelector('#conversation-list').textContent").await;
    assert!(found.as_str().is_some_and(|l| l.contains("Ann Lee")), "{found}");
    browser.screenshot("06-search").await;

    // The patient's whole story, the search that finds them, the outbox.
    browser.goto(&format!("{server}/console/{org}/patients?q=lee")).await;
    browser.click("table a").await;
    browser.wait_for("the patient page", "document.querySelector('h1').textContent.includes('Ann')").await;
    assert!(browser.url().await.ends_with(&format!("/patients/{patient_id}")));
    let page = browser.run("return document.querySelector('main').textContent").await;
    let page = page.as_str().expect("text");
    assert!(page.contains("+13125550101") && page.contains("Open conversation"), "{page}");
    browser.screenshot("07-patient").await;
    browser.assert_accessible("the patient's page").await;
    // Two emails in doubt (the mail server's answer was lost): the outbox
    // says so; front desk marks one sent, and may not send one again.
    let mut doubtful = Vec::new();
    for key in ["doubt-1", "doubt-2"] {
        let plan = json!({"patient_id": patient_id, "class": "transactional", "body": "Your results are in.",
            "idempotency_key": key});
        let planned = app.post(&format!("/api/v1/organizations/{org}/messages"), plan).await;
        let id: rapport_domain::MessageId = planned.body["id"].as_str().expect("id").parse().expect("id");
        let message = app.store.message(org_id, id).await.expect("message");
        let email = rapport_domain::Channel::Email;
        assert!(crate::sms::begin_handoff(&app, &message, email, "ann@example.org").await);
        assert!(
            app.store.record_in_doubt(org_id, id, "the connection broke after the message left").await.expect("doubt")
        );
        doubtful.push(id);
    }
    browser.goto(&format!("{server}/console/{org}/outbox")).await;
    browser.wait_for("the outbox", "document.querySelector('table').textContent.includes('suppressed')").await;
    let notice = browser.run("return document.querySelector('.notice').textContent").await;
    assert!(notice.as_str().is_some_and(|n| n.contains("2 messages in doubt")), "{notice}");
    browser.screenshot("08-outbox").await;
    browser.assert_accessible("the outbox").await;
    browser.click(".notice a").await;
    browser
        .wait_for("the messages in doubt", "document.querySelectorAll('form[data-api$=\"/mark-sent\"]').length === 2")
        .await;
    assert_eq!(browser.run("return document.querySelectorAll('form[data-api$=\"/resend\"]').length").await, 0);
    let why = browser.run("return document.querySelector('tbody').textContent").await;
    assert!(why.as_str().is_some_and(|t| t.contains("the connection broke after the message left")), "{why}");
    browser.assert_accessible("the messages in doubt").await;
    browser.click("form[data-api$=\"/mark-sent\"] button").await;
    browser.wait_for("one settled", "document.querySelectorAll('form[data-api$=\"/mark-sent\"]').length === 1").await;
    browser.screenshot("08b-in-doubt").await;
    let states = [
        app.store.message(org_id, doubtful[0]).await.expect("m").state,
        app.store.message(org_id, doubtful[1]).await.expect("m").state,
    ];
    assert!(states.contains(&MessageState::Sent) && states.contains(&MessageState::InDoubt), "{states:?}");

    // A tablet held upright: the inbox fits its width, nothing scrolls sideways.
    browser.resize(820, 1180).await;
    browser.goto(&format!("{server}/console/{org}/inbox?view=closed")).await;
    browser.wait_for("the inbox on a tablet", "document.body.dataset.liveReady === '1'").await;
    browser.click("#conversation-list .conversation").await;
    browser.find("#reply-body").await;
    let fits = browser.run("return document.documentElement.scrollWidth <= window.innerWidth").await;
    assert_eq!(fits, true, "the inbox is wider than a tablet");
    browser.assert_accessible("the inbox on a tablet").await;
    browser.screenshot("09-inbox-tablet").await;

    browser.quit().await;
    app.store.end_subscriptions();
    let _ = stop.send(());
}

#[tokio::test]
async fn a_reply_written_in_the_patients_night_is_shown_to_wait_for_their_morning() {
    let app = TestApp::new().await;
    let (org, _) = app.organization("Lakeshore Family Practice").await;
    let patient = json!({"given_name": "Ann", "family_name": "Lee", "time_zone": "America/Chicago",
        "phones": [{"number": MOBILE, "type": "mobile"}]});
    assert_eq!(app.post(&format!("/api/v1/organizations/{org}/patients"), patient).await.status, StatusCode::CREATED);
    // 22:30 in Chicago on Sunday, November 22nd.
    app.clock.set("2026-11-23T04:30:00Z".parse().expect("instant"));
    crate::inbox::text(&app, &org, MOBILE, "Are you open tomorrow?", "SMnight", &[]).await;
    let desk = Browser::open(&app, &staff(&app, &org, "desk@lakeshore.example", Role::FrontDesk).await).await;
    let list = desk.send(&app, "GET", &format!("/api/v1/organizations/{org}/conversations"), None).await;
    let id = list.body["items"][0]["id"].as_str().expect("the conversation").to_owned();
    let page = |desk: Browser| {
        let (app, path) = (&app, format!("/console/{org}/inbox?view=all&c={id}"));
        async move {
            let reply = desk.send(app, "GET", &path, None).await;
            assert_eq!(reply.status, StatusCode::OK);
            reply.body.as_str().expect("HTML").to_owned()
        }
    };
    let night = page(desk).await;
    assert!(night.contains(r#"id="reply-waits""#), "the composer warns");
    assert!(night.contains("It is 10:30 PM for the patient (America&#x2f;Chicago)"), "{night}");
    assert!(night.contains("a reply sent now waits until Mon Nov 23, 8:00 AM their time"), "{night}");
    app.clock.set("2026-11-23T15:00:00Z".parse().expect("instant"));
    let desk = Browser::open(&app, &staff(&app, &org, "early@lakeshore.example", Role::FrontDesk).await).await;
    let morning = page(desk).await;
    assert!(!morning.contains("reply-waits"), "9 AM in Chicago: a reply goes at once");
}

#[tokio::test]
async fn a_picture_rapport_kept_shows_in_the_thread_and_one_it_did_not_stays_a_link() {
    use rapport::config::Secret;
    use rapport::engine::media_fetch::{MediaFetcher, MediaSettings};
    let app = TestApp::new().await;
    let (org, _) = app.organization("Lakeshore Family Practice").await;
    let patient = json!({"given_name": "Ann", "family_name": "Lee", "phones": [{"number": MOBILE, "type": "mobile"}]});
    assert_eq!(app.post(&format!("/api/v1/organizations/{org}/patients"), patient).await.status, StatusCode::CREATED);
    let sim = TwilioSimulator::start(app.store.clock().clone()).await.expect("simulator");
    let picture = sim.host_media("image/png", vec![0x89, b'P', b'N', b'G']);
    let media = [
        ("NumMedia", "2"),
        ("MediaUrl0", picture.as_str()),
        ("MediaContentType0", "image/png"),
        ("MediaUrl1", "https://elsewhere.example/card.pdf"),
        ("MediaContentType1", "application/pdf"),
    ];
    crate::inbox::text(&app, &org, MOBILE, "My card", "MMcard", &media).await;
    let settings = MediaSettings {
        base_url: sim.base_url(),
        account_sid: sim.account_sid.clone(),
        auth_token: Secret::new(sim.auth_token.clone()),
        max_bytes: 1024,
        timeout: std::time::Duration::from_secs(5),
    };
    let fetcher = MediaFetcher::new(app.store.clone(), settings).expect("fetcher");
    assert_eq!(fetcher.batch(&crate::support::worker("media", 5)).await.expect("batch").done, 1);
    let desk = Browser::open(&app, &staff(&app, &org, "desk@lakeshore.example", Role::FrontDesk).await).await;
    let list = desk.send(&app, "GET", &format!("/api/v1/organizations/{org}/conversations"), None).await;
    let id = list.body["items"][0]["id"].as_str().expect("the conversation").to_owned();
    let thread = desk.send(&app, "GET", &format!("/api/v1/organizations/{org}/conversations/{id}"), None).await;
    let text = thread.body["entries"][0]["text"]["id"].as_str().expect("the text").to_owned();
    let page = desk.send(&app, "GET", &format!("/console/{org}/inbox?view=all&c={id}"), None).await;
    let html = page.body.as_str().expect("HTML");
    let copy = format!("&#x2f;api&#x2f;v1&#x2f;organizations&#x2f;{org}&#x2f;texts&#x2f;{text}&#x2f;media&#x2f;0");
    assert!(html.contains(&format!(r#"<img src="{copy}""#)), "{html}");
    assert!(html.contains("Attachment 2 (application&#x2f;pdf), at the provider"), "{html}");
}
