//! Three weeks of a practice, on both backends (issue 5's proof), driven by
//! the injected clock an hour at a time across the end of DST in two zones
//! (New York and Chicago switch an hour apart): bookings, reschedules and
//! cancellation storms, patients answering (1, 2, 3, yes, free text), late
//! and out of order, from phones some of them share, STOP, staff marking
//! visits fulfilled or missed, and several patients answering YES to one
//! waitlist offer at once. The planner and the dispatcher (log channel)
//! run every hour. At the end, from what was actually handed over:
//!
//! - no reminder of a visit that was cancelled, changed or begun when it went;
//! - none twice for the same visit, time and offset;
//! - no "please confirm" after the patient confirmed;
//! - no text to a number after its STOP;
//! - nothing at night in the patient's zone;
//! - no provider booked twice at once (the waitlist never double-books).
//!
//! `RAPPORT_SCENARIO_SEED=n` replays one seed.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use rapport::engine::dispatch::MessageSender;
use rapport::engine::reminders::ReminderPlanner;
use rapport::store::{AppointmentQuery, MessageQuery, PageRequest};
use rapport_domain::{
    AppointmentDetails, AppointmentId, AppointmentStatus, LocationId, OrganizationId, PatientId, ProviderId,
};
use serde_json::json;

use crate::history::Rng;
use crate::sms::signed_form;
use crate::support::app::{TWILIO_TOKEN, TestApp, on_each_backend_app};

const ZONES: [&str; 2] = ["America/New_York", "America/Chicago"];

struct Person {
    id: PatientId,
    number: String,
    location: usize,
}

/// A visit's states as the test wrote them: (from, version, status, start).
type Timeline = Vec<(Timestamp, i64, AppointmentStatus, Timestamp)>;

struct World {
    org: OrganizationId,
    locations: Vec<LocationId>,
    provider: ProviderId,
    people: Vec<Person>,
    visits: HashMap<AppointmentId, (usize, Timeline)>,
    /// When each number was opted out: from STOP until a START word (YES).
    stops: HashMap<String, Vec<(Timestamp, Option<Timestamp>)>>,
    texts: u64,
}

async fn world(app: &TestApp, rng: &mut Rng) -> World {
    let (org, first) = app.organization("Scenario Health").await;
    let second = app
        .post(&format!("/api/v1/organizations/{org}/locations"), json!({"name": "Midtown", "time_zone": ZONES[0]}))
        .await;
    let locations: Vec<LocationId> =
        [second.body["id"].as_str().expect("id").to_owned(), first].iter().map(|l| l.parse().expect("id")).collect();
    let provider = json!({"given_name": "Mei", "family_name": "Lee", "location_ids": [locations[0].to_string(), locations[1].to_string()]});
    let provider = app.post(&format!("/api/v1/organizations/{org}/providers"), provider).await;
    let mut people = Vec::new();
    for i in 0..24 {
        // Every fourth patient shares the phone of the one before (a family).
        let number = if i % 4 == 3 { format!("+1312555{:04}", 100 + i - 1) } else { format!("+1312555{:04}", 100 + i) };
        let location = (rng.below(2)) as usize;
        let body = json!({"given_name": format!("P{i}"), "family_name": "Lee", "time_zone": ZONES[location],
            "language": if i % 3 == 0 { "es" } else { "en" },
            "phones": [{"number": number, "type": "mobile"}]});
        let created = app.post(&format!("/api/v1/organizations/{org}/patients"), body).await;
        people.push(Person { id: created.body["id"].as_str().expect("id").parse().expect("id"), number, location });
    }
    let org: OrganizationId = org.parse().expect("org");
    for person in people.iter().step_by(3) {
        let entry = json!({"patient_id": person.id.to_string()});
        app.post(&format!("/api/v1/organizations/{org}/waitlist"), entry).await;
    }
    World {
        org,
        locations,
        provider: provider.body["id"].as_str().expect("id").parse().expect("id"),
        people,
        visits: HashMap::new(),
        stops: HashMap::new(),
        texts: 0,
    }
}

/// A free half-hour on the provider's calendar, 1 to 12 days ahead, 08:00–17:00 local.
fn free_slot(w: &World, rng: &mut Rng, now: Timestamp, location: usize) -> Option<Timestamp> {
    for _ in 0..20 {
        let day = now.to_zoned(jiff::tz::TimeZone::get(ZONES[location]).expect("zone")).date()
            + jiff::Span::new().days(1 + rng.below(12) as i64);
        let hour = 8 + rng.below(9) as i8;
        let minute = if rng.chance(50) { 0 } else { 30 };
        let start = day
            .at(hour, minute, 0, 0)
            .to_zoned(jiff::tz::TimeZone::get(ZONES[location]).expect("zone"))
            .ok()?
            .timestamp();
        let clash = w.visits.values().any(|(_, t)| {
            let (_, _, status, at) = t.last().expect("a state");
            status.is_upcoming() && (at.as_second() - start.as_second()).abs() < 1800
        });
        if !clash {
            return Some(start);
        }
    }
    None
}

fn details(w: &World, person: usize, start: Timestamp, status: AppointmentStatus) -> AppointmentDetails {
    let p = &w.people[person];
    AppointmentDetails {
        patient_id: p.id,
        provider_id: Some(w.provider),
        location_id: w.locations[p.location],
        start,
        end: start + SignedDuration::from_mins(30),
        visit_type: "follow-up".into(),
        status,
        source: None,
    }
}

/// Keeps the model of opt-outs: STOP opens one, YES (a START word to
/// carriers and to Rapport) closes it.
fn opt(w: &mut World, from: &str, body: &str, now: Timestamp) {
    let spans = w.stops.entry(from.to_owned()).or_default();
    let open = spans.last().is_some_and(|(_, until)| until.is_none());
    match body.trim().to_uppercase().as_str() {
        "STOP" if !open => spans.push((now, None)),
        "YES" | "START" if open => {
            if let Some(last) = spans.last_mut() {
                last.1 = Some(now);
            }
        }
        _ => {}
    }
}

async fn text(app: &TestApp, w: &mut World, from: &str, body: &str, now: Timestamp) {
    opt(w, from, body, now);
    w.texts += 1;
    let path = format!("/hooks/twilio/{}/inbound", w.org);
    let sid = format!("SM-{}", w.texts);
    let form = [("From", from), ("To", "+13125550000"), ("Body", body), ("MessageSid", sid.as_str())];
    let (form, signature) = signed_form(&path, &form, TWILIO_TOKEN);
    let reply = app.send_raw("POST", &path, Some(&form), &[("x-twilio-signature", &signature)]).await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    refresh(app, w, from, now).await;
}

/// Records what answers from `number` did to its patients' visits, and the
/// visits the waitlist booked.
async fn refresh(app: &TestApp, w: &mut World, number: &str, now: Timestamp) {
    for offer in app.store.slot_offers(w.org).await.expect("offers") {
        let (Some(booked), Some(taker)) = (offer.booked_id, offer.taken_by) else { continue };
        if w.visits.contains_key(&booked) {
            continue;
        }
        let visit = app.store.get_appointment(w.org, booked).await.expect("booked");
        let person = w.people.iter().position(|p| p.id == visit.details.patient_id).expect("a patient");
        let _ = taker;
        w.visits.insert(booked, (person, vec![(now, visit.version, visit.details.status, visit.details.start)]));
    }
    let ids: Vec<AppointmentId> =
        w.visits.iter().filter(|(_, (person, _))| w.people[*person].number == number).map(|(id, _)| *id).collect();
    for id in ids {
        let visit = app.store.get_appointment(w.org, id).await.expect("visit");
        let timeline = &mut w.visits.get_mut(&id).expect("known").1;
        if timeline.last().is_some_and(|(_, version, ..)| *version != visit.version) {
            timeline.push((now, visit.version, visit.details.status, visit.details.start));
        }
    }
}

async fn step(app: &TestApp, w: &mut World, rng: &mut Rng, now: Timestamp) {
    let store = &app.store;
    // Bookings, and now and then a storm of changes.
    let changes = if rng.chance(5) { 6 } else { 1 };
    for _ in 0..changes {
        if rng.chance(40) {
            let person = rng.below(w.people.len() as u64) as usize;
            if let Some(start) = free_slot(w, rng, now, w.people[person].location) {
                let created = store
                    .create_appointment(w.org, &details(w, person, start, AppointmentStatus::Booked))
                    .await
                    .expect("book");
                w.visits.insert(created.id, (person, vec![(now, created.version, AppointmentStatus::Booked, start)]));
            }
        }
        let upcoming: Vec<AppointmentId> = w
            .visits
            .iter()
            .filter(|(_, (_, t))| t.last().is_some_and(|(_, _, s, at)| *s == AppointmentStatus::Booked && *at > now))
            .map(|(id, _)| *id)
            .collect();
        if upcoming.is_empty() || !rng.chance(30) {
            continue;
        }
        let mut ids = upcoming;
        ids.sort();
        let id = ids[rng.below(ids.len() as u64) as usize];
        let person = w.visits[&id].0;
        let current = store.get_appointment(w.org, id).await.expect("visit");
        let (start, status) = if rng.chance(50) {
            match free_slot(w, rng, now, w.people[person].location) {
                Some(start) => (start, AppointmentStatus::Booked),
                None => continue,
            }
        } else {
            (current.details.start, AppointmentStatus::Cancelled)
        };
        let updated = store
            .update_appointment(w.org, id, current.version, &details(w, person, start, status))
            .await
            .expect("change");
        w.visits.get_mut(&id).expect("known").1.push((now, updated.version, status, start));
    }
    // Staff close the visits that ended.
    let ended: Vec<AppointmentId> = w
        .visits
        .iter()
        .filter(|(_, (_, t))| {
            t.last().is_some_and(|(_, _, s, at)| {
                *s == AppointmentStatus::Booked && *at + SignedDuration::from_hours(1) < now
            })
        })
        .map(|(id, _)| *id)
        .collect();
    for id in ended {
        let current = store.get_appointment(w.org, id).await.expect("visit");
        if current.details.status != AppointmentStatus::Booked {
            continue; // a patient's answer cancelled it
        }
        let status = if rng.chance(15) { AppointmentStatus::Noshow } else { AppointmentStatus::Fulfilled };
        let person = w.visits[&id].0;
        let updated = store
            .update_appointment(w.org, id, current.version, &details(w, person, current.details.start, status))
            .await
            .expect("close");
        w.visits.get_mut(&id).expect("known").1.push((now, updated.version, status, current.details.start));
    }
    // Patients write, sometimes late, sometimes from a shared phone.
    if rng.chance(25) {
        let person = rng.below(w.people.len() as u64) as usize;
        let words = ["1", "yes", "Sí", "2", "3", "ok 👍", "running late", "STOP"];
        let said = words[rng.below(words.len() as u64) as usize];
        let number = w.people[person].number.clone();
        if said != "STOP" || rng.chance(30) {
            text(app, w, &number, said, now).await;
        }
    }
    // Everyone offered a slot says YES at once.
    let offers = store.slot_offers(w.org).await.expect("offers");
    if let Some(open) = offers.iter().find(|o| o.state == "open" && o.recipients.len() > 1) {
        let numbers: Vec<String> = open
            .recipients
            .iter()
            .filter_map(|(_, patient, _, _)| w.people.iter().find(|p| p.id == *patient).map(|p| p.number.clone()))
            .collect();
        let (first, second) = (numbers[0].clone(), numbers[1].clone());
        let base = w.texts;
        w.texts += 2;
        opt(w, &first, "YES", now);
        opt(w, &second, "YES", now);
        let path = format!("/hooks/twilio/{}/inbound", w.org);
        let yes = |n: u64, from: String| {
            let path = path.clone();
            async move {
                let sid = format!("SM-{n}");
                let form =
                    [("From", from.as_str()), ("To", "+13125550000"), ("Body", "YES"), ("MessageSid", sid.as_str())];
                let (form, signature) = signed_form(&path, &form, TWILIO_TOKEN);
                app.send_raw("POST", &path, Some(&form), &[("x-twilio-signature", &signature)]).await.status.as_u16()
            }
        };
        let (a, b) = tokio::join!(yes(base + 1, first.clone()), yes(base + 2, second.clone()));
        assert_eq!((a, b), (200, 200));
        refresh(app, w, &first, now).await;
        refresh(app, w, &second, now).await;
    }
    let worker = crate::support::worker("scenario", 200);
    for _ in 0..3 {
        ReminderPlanner::new(store.clone()).plan_batch(&worker).await.expect("planner");
        MessageSender::new(store.clone()).dispatch_batch(&worker).await.expect("dispatch");
    }
}

async fn check(app: &TestApp, w: &World) -> usize {
    let store = &app.store;
    let mut messages = HashMap::new();
    let mut page = PageRequest::first(200);
    loop {
        let got = store.messages(w.org, &MessageQuery::default(), &page).await.expect("messages");
        for m in got.items {
            messages.insert(m.id, m);
        }
        match got.next_cursor {
            Some(after) => page = PageRequest { after: Some(after), limit: 200 },
            None => break,
        }
    }
    let mut sent = Vec::new();
    let mut page = PageRequest::first(200);
    loop {
        let got = store.outbox(w.org, &page).await.expect("outbox");
        sent.extend(got.items);
        match got.next_cursor {
            Some(after) => page = PageRequest { after: Some(after), limit: 200 },
            None => break,
        }
    }
    let mut seen: HashMap<(AppointmentId, Timestamp, String), usize> = HashMap::new();
    for entry in &sent {
        let message = &messages[&entry.message_id];
        let at = entry.created_at;
        let person = w.people.iter().find(|p| p.id == message.plan.patient_id).expect("a patient of the scenario");
        let zone = jiff::tz::TimeZone::get(ZONES[person.location]).expect("zone");
        let hour = at.to_zoned(zone).hour();
        assert!((8..21).contains(&hour), "sent at {hour}:00 local: {}", message.plan.idempotency_key);
        let spans = w.stops.get(&entry.address).filter(|_| entry.channel == rapport_domain::Channel::Sms);
        for (from, until) in spans.into_iter().flatten() {
            let opted_out = *from <= at && until.is_none_or(|u| at < u);
            assert!(!opted_out, "a text to a number after its STOP: {}", message.plan.idempotency_key);
        }
        let key = &message.plan.idempotency_key;
        let Some(rest) = key.strip_prefix("visit:") else { continue };
        let parts: Vec<&str> = rest.split(':').collect();
        let id: AppointmentId = parts[0].parse().expect("visit id");
        let Some(version) = parts[1].strip_prefix('v').and_then(|v| v.parse::<i64>().ok()) else { continue };
        let offset = parts[2..].join(":");
        let (_, timeline) = &w.visits[&id];
        let state = timeline.iter().rev().find(|(from, ..)| *from <= at).expect("the visit existed");
        let (_, current_version, status, start) = *state;
        assert_eq!(status, AppointmentStatus::Booked, "a reminder for a {} visit: {key}", status.as_str());
        assert_eq!(
            version, current_version,
            "a reminder of the visit's version {version} when it was {current_version}: {key}"
        );
        assert!(at < start, "a reminder after the visit began: {key}");
        let twice = seen.entry((id, start, offset.clone())).or_default();
        *twice += 1;
        assert_eq!(*twice, 1, "the same reminder twice for one visit and time: {key}");
        let asks = !offset.ends_with("seen") && !offset.starts_with("prep");
        if asks {
            let answers = store.visit_answers(w.org, id).await.expect("answers");
            let latest = answers.iter().rev().find(|a| a.appointment_version == version && a.answered_at < at);
            assert!(
                latest.is_none_or(|a| a.answer != rapport_domain::Answer::Confirm),
                "asked to confirm after confirming: {key}"
            );
        }
    }
    let booked = store
        .list_appointments(
            w.org,
            &AppointmentQuery { status: Some(AppointmentStatus::Booked), ..Default::default() },
            &PageRequest::first(200),
        )
        .await
        .expect("visits");
    let mut slots: Vec<(Timestamp, Timestamp)> =
        booked.items.iter().map(|a| (a.details.start, a.details.end)).collect();
    slots.sort();
    for pair in slots.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "the provider is booked twice at {}", pair[1].0);
    }
    sent.len()
}

#[tokio::test]
async fn three_weeks_of_a_practice_keep_every_promise() {
    let seeds: Vec<u64> = match std::env::var("RAPPORT_SCENARIO_SEED") {
        Ok(seed) => vec![seed.parse().expect("a number")],
        Err(_) => vec![7],
    };
    for seed in seeds {
        on_each_backend_app(|app| async move {
            // Monday 26 October: DST ends on Sunday 1 November in both zones.
            app.clock.set("2026-10-26T12:00:00Z".parse().expect("time"));
            let mut rng = Rng::new(seed);
            let mut w = world(&app, &mut rng).await;
            let start: Timestamp = "2026-10-26T12:00:00Z".parse().expect("time");
            for hour in 0..(21 * 24) {
                let now = start + SignedDuration::from_hours(hour);
                app.clock.set(now);
                step(&app, &mut w, &mut rng, now).await;
            }
            let sent = check(&app, &w).await;
            let answers = w.texts;
            assert!(sent > 100 && answers > 50, "seed {seed}: a busy enough practice ({sent} sent, {answers} texts)");
            let offers = app.store.slot_offers(w.org).await.expect("offers");
            assert!(offers.iter().any(|o| o.state == "taken"), "seed {seed}: some offer was taken");
        })
        .await;
    }
}
