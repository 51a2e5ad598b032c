//! Appointment reminders, pure: which messages a visit should have, given
//! its state now and a schedule. The planner compares this with what is
//! already planned: a message whose key is no longer wanted is cancelled,
//! a wanted one not yet planned is planned. Keys carry the appointment's
//! version, so a rescheduled visit never gets the old time's reminder.
//!
//! - Only a booked visit still ahead is reminded: never a past, cancelled
//!   or no-show one.
//! - An offset in days is counted in the visit location's calendar: "1 day
//!   before" a 10:00 visit is 10:00 the day before, whatever a DST change
//!   in between does to the hours; an offset in hours is real time.
//! - An offset already past when the visit is booked (or rescheduled) is
//!   not sent late: the patient gets one booking confirmation instead.
//! - Every reminder expires when the visit starts.

use jiff::{SignedDuration, Span, Timestamp, ToSpan};

use crate::appointment::{Appointment, AppointmentStatus};
use crate::consent::Channel;
use crate::ids::{AppointmentId, LocationId, OrganizationId, ReminderRuleId};
use crate::message::MessageClass;
use crate::message::template::{ShippedKind, TemplateKind};

/// How long before the visit a reminder goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Before {
    /// Calendar days in the visit's zone (same wall-clock time).
    Days(i64),
    /// Real hours.
    Hours(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReminderRuleError {
    #[error("must be days (1d to 60d) or hours (1h to 72h), e.g. 3d or 2h")]
    Before,
    #[error("must hold 1 to 5 reminders, each at its own time")]
    Offsets,
}

impl Before {
    /// `3d` or `2h`.
    pub fn parse(text: &str) -> Result<Self, ReminderRuleError> {
        let text = text.trim();
        let number = |t: &str| t.parse::<i64>().map_err(|_| ReminderRuleError::Before);
        match (text.strip_suffix('d'), text.strip_suffix('h')) {
            (Some(days), _) if (1..=60).contains(&number(days)?) => Ok(Before::Days(number(days)?)),
            (_, Some(hours)) if (1..=72).contains(&number(hours)?) => Ok(Before::Hours(number(hours)?)),
            _ => Err(ReminderRuleError::Before),
        }
    }

    /// The text form, `3d` or `2h` (also the last part of a reminder's key).
    pub fn key(self) -> String {
        match self {
            Before::Days(d) => format!("{d}d"),
            Before::Hours(h) => format!("{h}h"),
        }
    }

    /// When, for a visit starting at `appointment`'s start.
    fn due(self, appointment: &Appointment) -> Option<Timestamp> {
        match self {
            Before::Days(days) => {
                let span: Span = days.days();
                appointment.local_start().checked_sub(span).ok().map(|z| z.timestamp())
            }
            Before::Hours(hours) => appointment.details.start.checked_sub(SignedDuration::from_hours(hours)).ok(),
        }
    }
}

impl Before {
    /// When, counted after the end of `appointment` (days on the local calendar).
    fn after_end(self, appointment: &Appointment) -> Option<Timestamp> {
        let end = appointment.details.end;
        match self {
            Before::Days(days) => {
                let span: Span = days.days();
                end.to_zoned(appointment.time_zone.tz()).checked_add(span).ok().map(|z| z.timestamp())
            }
            Before::Hours(hours) => end.checked_add(SignedDuration::from_hours(hours)).ok(),
        }
    }
}

/// How long a message after the visit may wait (for the patient's hours,
/// or a visit marked fulfilled late) before it is no longer worth sending.
const AFTER_VISIT_LIFETIME: SignedDuration = SignedDuration::from_hours(72);

/// One reminder of a schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderOffset {
    pub before: Before,
    pub template: TemplateKind,
    /// Only by this channel (a 2-hour text); `None`: the patient's order.
    pub channel: Option<Channel>,
}

/// The reminders a visit gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderSchedule {
    pub offsets: Vec<ReminderOffset>,
    /// Sent at once when an offset is already past at booking.
    pub confirmation: TemplateKind,
    /// Once the patient confirmed, what the offsets still ahead send: a
    /// plain "see you" (this kind), or nothing.
    pub after_confirmation: Option<TemplateKind>,
    /// Preparation and reassurance ahead of the visit (what to bring,
    /// fasting, parking, what will happen): sent whatever the patient
    /// answered, never late.
    pub preparation: Vec<ReminderOffset>,
    /// After the visit is fulfilled: its `before` is the time after the
    /// visit's end (thanks, care instructions, later a survey).
    pub after_visit: Option<ReminderOffset>,
    /// After a no-show: a message offering a new time (staff get a task too).
    pub after_no_show: Option<TemplateKind>,
}

/// An organization's schedule for its visits, or those of one location,
/// or of one visit type, or both. The most specific rule for a visit wins;
/// without any, the standard schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderRule {
    pub id: ReminderRuleId,
    pub organization_id: OrganizationId,
    pub location_id: Option<LocationId>,
    pub visit_type: Option<String>,
    pub schedule: ReminderSchedule,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The schedule for `appointment`: the rule of its location and visit type,
/// else of its visit type, else of its location, else the organization's
/// own default rule, else the standard schedule.
pub fn schedule_for(rules: &[ReminderRule], appointment: &Appointment) -> ReminderSchedule {
    let d = &appointment.details;
    let fits = |r: &&ReminderRule| {
        r.location_id.is_none_or(|l| l == d.location_id) && r.visit_type.as_ref().is_none_or(|v| *v == d.visit_type)
    };
    let rank = |r: &&ReminderRule| (r.visit_type.is_some(), r.location_id.is_some());
    rules.iter().filter(fits).max_by_key(rank).map_or_else(ReminderSchedule::standard, |r| r.schedule.clone())
}

impl ReminderSchedule {
    /// Checks a schedule's offsets: 1 to 5, each at its own time.
    pub fn new(
        offsets: Vec<ReminderOffset>,
        confirmation: TemplateKind,
        after_confirmation: Option<TemplateKind>,
    ) -> Result<Self, ReminderRuleError> {
        let mut keys: Vec<String> = offsets.iter().map(|o| o.before.key()).collect();
        keys.sort();
        keys.dedup();
        if offsets.is_empty() || offsets.len() > 5 || keys.len() != offsets.len() {
            return Err(ReminderRuleError::Offsets);
        }
        Ok(Self {
            offsets,
            confirmation,
            after_confirmation,
            preparation: Vec::new(),
            after_visit: None,
            after_no_show: Some(missed()),
        })
    }

    /// 3 days and 1 day before, by the patient's channel; a confirmation
    /// when booked inside that time (RULES.md: two reminders cut no-shows
    /// the most, more add little); once confirmed, a plain "see you".
    pub fn standard() -> Self {
        let reminder = TemplateKind::from(ShippedKind::AppointmentReminder);
        Self {
            offsets: vec![
                ReminderOffset { before: Before::Days(3), template: reminder.clone(), channel: None },
                ReminderOffset { before: Before::Days(1), template: reminder, channel: None },
            ],
            confirmation: ShippedKind::AppointmentBooked.into(),
            after_confirmation: Some(ShippedKind::AppointmentSeeYou.into()),
            preparation: Vec::new(),
            after_visit: None,
            after_no_show: Some(missed()),
        }
    }
}

fn missed() -> TemplateKind {
    ShippedKind::AppointmentMissed.into()
}

/// Whether a no-show is recent enough to follow up (not an import of old
/// visits): begun, and within the after-visit message's lifetime of its end.
pub fn recent_no_show(appointment: &Appointment, now: Timestamp) -> bool {
    appointment.details.status == AppointmentStatus::Noshow
        && appointment.details.start <= now
        && appointment.details.end.checked_add(AFTER_VISIT_LIFETIME).is_ok_and(|until| now < until)
}

/// A message the visit should have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedMessage {
    /// The idempotency key: the visit, its version and the offset.
    pub key: String,
    pub template: TemplateKind,
    pub class: MessageClass,
    /// Only by this channel, when the rule says so.
    pub channel: Option<Channel>,
    pub due_at: Timestamp,
    pub expires_at: Timestamp,
}

/// The keys of a visit's reminder messages start with this.
pub fn key_prefix(id: AppointmentId) -> String {
    format!("visit:{id}:")
}

/// The last part of the key of a reminder sent after the patient confirmed.
const SEEN: &str = ":seen";

/// Whether a patient's answer to the message keyed `key` may apply to
/// `appointment` now: the message was about the visit as it stands (not
/// an earlier time or place), and the visit is booked and still ahead.
pub fn answerable(key: &str, appointment: &Appointment, now: Timestamp) -> bool {
    key.starts_with(&version_prefix(appointment))
        && appointment.details.status == AppointmentStatus::Booked
        && appointment.details.start > now
}

/// The keys of the visit's reminders at its current version start with this.
fn version_prefix(appointment: &Appointment) -> String {
    format!("{}v{}:", key_prefix(appointment.id), appointment.version)
}

/// Why the reminder planned under `key` is no longer wanted, as the trace
/// says it (no patient data); `appointment` is the visit now, if it exists.
pub fn why_unwanted(key: &str, appointment: Option<&Appointment>, confirmed: bool, now: Timestamp) -> String {
    match appointment {
        None => "the visit was deleted".into(),
        Some(a) if a.details.status != AppointmentStatus::Booked => {
            format!("the visit is {}", a.details.status.as_str())
        }
        Some(a) if a.details.start <= now => "the visit has begun".into(),
        Some(a) if key.starts_with(&version_prefix(a)) && confirmed && asks(key) => {
            "the patient confirmed the visit".into()
        }
        Some(a) if key.starts_with(&version_prefix(a)) => "the visit's reminder schedule changed".into(),
        Some(a) => format!("the visit changed (now version {})", a.version),
    }
}

/// Why a message the planner keyed under `key` no longer fits `appointment`
/// (the dispatcher's last check: a sync racing a change could leave one
/// planned); `None` for a fitting one, or a message the planner did not plan.
pub fn unfit(key: &str, appointment: &Appointment, confirmed: bool) -> Option<&'static str> {
    let rest = key.strip_prefix(&key_prefix(appointment.id))?;
    let version = rest.strip_prefix('v')?.split(':').next()?.parse::<i64>().ok()?;
    if version != appointment.version {
        Some("the visit changed after this reminder was planned")
    } else if appointment.details.status != AppointmentStatus::Booked {
        Some("the visit is no longer booked")
    } else if confirmed && asks(key) {
        Some("the patient confirmed the visit after this reminder was planned")
    } else {
        None
    }
}

/// Whether the reminder keyed `key` asks the patient to confirm (not a
/// plain "see you", nor preparation).
fn asks(key: &str) -> bool {
    !key.ends_with(SEEN) && !key.contains(":prep-")
}

/// The messages `appointment` should have, as of `now`; `confirmed` when
/// the patient confirmed it (the asks stop; the schedule says whether a
/// plain reminder stays).
pub fn wanted(
    appointment: &Appointment,
    schedule: &ReminderSchedule,
    confirmed: bool,
    now: Timestamp,
) -> Vec<WantedMessage> {
    let start = appointment.details.start;
    if appointment.details.status == AppointmentStatus::Fulfilled {
        return after_visit(appointment, schedule, now).into_iter().collect();
    }
    if appointment.details.status == AppointmentStatus::Noshow {
        let missed = schedule.after_no_show.as_ref().filter(|_| recent_no_show(appointment, now));
        return missed
            .map(|template| WantedMessage {
                key: format!("{}missed", key_prefix(appointment.id)),
                template: template.clone(),
                class: MessageClass::Transactional,
                channel: None,
                due_at: now,
                expires_at: now + AFTER_VISIT_LIFETIME,
            })
            .into_iter()
            .collect();
    }
    if appointment.details.status != AppointmentStatus::Booked || start <= now {
        return Vec::new();
    }
    let prefix = version_prefix(appointment);
    let mut messages = Vec::new();
    for prep in &schedule.preparation {
        if let Some(due) = prep.before.due(appointment).filter(|due| *due > now) {
            messages.push(WantedMessage {
                key: format!("{prefix}prep-{}", prep.before.key()),
                template: prep.template.clone(),
                class: MessageClass::Care,
                channel: prep.channel,
                due_at: due,
                expires_at: start,
            });
        }
    }
    let mut passed = false;
    for offset in &schedule.offsets {
        let (suffix, template) = match (&schedule.after_confirmation, confirmed) {
            (_, false) => ("", &offset.template),
            (Some(plain), true) => (SEEN, plain),
            (None, true) => continue,
        };
        match offset.before.due(appointment) {
            Some(due) if due > now => messages.push(WantedMessage {
                key: format!("{prefix}{}{suffix}", offset.before.key()),
                template: template.clone(),
                class: MessageClass::Care,
                channel: offset.channel,
                due_at: due,
                expires_at: start,
            }),
            _ => passed = true,
        }
    }
    // A patient who confirmed knows they are booked.
    if passed && !confirmed {
        messages.push(WantedMessage {
            key: format!("{prefix}booked"),
            template: schedule.confirmation.clone(),
            class: MessageClass::Transactional,
            channel: None,
            due_at: now,
            expires_at: start,
        });
    }
    messages
}

/// The message after a fulfilled visit, once (its key names no version),
/// and only while it is still timely: a visit recorded as fulfilled long
/// after (an import of past visits) gets none.
fn after_visit(appointment: &Appointment, schedule: &ReminderSchedule, now: Timestamp) -> Option<WantedMessage> {
    let after = schedule.after_visit.as_ref()?;
    let due = after.before.after_end(appointment)?;
    let expires_at = due.checked_add(AFTER_VISIT_LIFETIME).ok()?;
    (now < expires_at).then(|| WantedMessage {
        key: format!("{}after", key_prefix(appointment.id)),
        template: after.template.clone(),
        class: MessageClass::Care,
        channel: after.channel,
        due_at: due.max(now),
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appointment::AppointmentDetails;

    /// A visit in New York.
    fn visit(start: &str, version: i64, status: AppointmentStatus) -> Appointment {
        crate::fixtures::visit(start, "America/New_York", version, status)
    }

    fn at(text: &str) -> Timestamp {
        text.parse().expect("valid in the test")
    }

    #[test]
    fn a_visit_well_ahead_gets_its_two_reminders_keyed_by_version() {
        // Friday 20 November 2026, 10:00 in New York (EST).
        let v = visit("2026-11-20T15:00:00Z", 4, AppointmentStatus::Booked);
        let plan = wanted(&v, &ReminderSchedule::standard(), false, at("2026-11-10T12:00:00Z"));
        let keys: Vec<&str> = plan.iter().map(|m| m.key.as_str()).collect();
        let prefix = key_prefix(v.id);
        assert_eq!(keys, [format!("{prefix}v4:3d"), format!("{prefix}v4:1d")]);
        assert_eq!(plan[0].due_at, at("2026-11-17T15:00:00Z"));
        assert_eq!(plan[1].due_at, at("2026-11-19T15:00:00Z"));
        assert!(plan.iter().all(|m| m.expires_at == v.details.start && m.class == MessageClass::Care));
    }

    #[test]
    fn days_are_counted_on_the_local_calendar_across_a_dst_change() {
        // Monday 2 November 2026, 09:00 EST; DST ended on Sunday the 1st.
        let v = visit("2026-11-02T14:00:00Z", 1, AppointmentStatus::Booked);
        let plan = wanted(&v, &ReminderSchedule::standard(), false, at("2026-10-20T12:00:00Z"));
        // 09:00 EDT on Friday 30 October; 09:00 EST on Sunday 1 November (after 02:00).
        assert_eq!(plan[0].due_at, at("2026-10-30T13:00:00Z"), "3 days: 09:00 local, 73 real hours before");
        assert_eq!(plan[1].due_at, at("2026-11-01T14:00:00Z"), "1 day: 09:00 local, after the change");
        let hours = ReminderSchedule {
            offsets: vec![ReminderOffset {
                before: Before::Hours(2),
                template: TemplateKind::parse("appointment_reminder").expect("valid in the test"),
                channel: Some(Channel::Sms),
            }],
            ..ReminderSchedule::standard()
        };
        let two_hours = &wanted(&v, &hours, false, at("2026-10-20T12:00:00Z"))[0];
        assert_eq!((two_hours.due_at, two_hours.channel), (at("2026-11-02T12:00:00Z"), Some(Channel::Sms)));
    }

    #[test]
    fn booked_inside_the_window_a_confirmation_replaces_the_passed_reminders() {
        let v = visit("2026-11-20T15:00:00Z", 2, AppointmentStatus::Booked);
        let now = at("2026-11-18T12:00:00Z");
        let plan = wanted(&v, &ReminderSchedule::standard(), false, now);
        let keys: Vec<&str> = plan.iter().map(|m| m.key.rsplit(':').next().unwrap_or_default()).collect();
        assert_eq!(keys, ["1d", "booked"], "the 3-day reminder is past: not sent late");
        assert_eq!((plan[1].due_at, plan[1].class), (now, MessageClass::Transactional));
    }

    #[test]
    fn preparation_goes_ahead_whatever_the_answer_and_thanks_follow_a_fulfilled_visit_once() {
        let kind = |k: &str| TemplateKind::parse(k).expect("valid in the test");
        let schedule = ReminderSchedule {
            preparation: vec![ReminderOffset {
                before: Before::Days(2),
                template: kind("colonoscopy_prep"),
                channel: None,
            }],
            after_visit: Some(ReminderOffset {
                before: Before::Hours(2),
                template: kind("visit_follow_up"),
                channel: None,
            }),
            ..ReminderSchedule::standard()
        };
        let v = visit("2026-11-20T15:00:00Z", 1, AppointmentStatus::Booked);
        let prefix = key_prefix(v.id);
        let keys = |plan: Vec<WantedMessage>| plan.into_iter().map(|m| m.key).collect::<Vec<_>>();
        let confirmed = keys(wanted(&v, &schedule, true, at("2026-11-10T12:00:00Z")));
        assert_eq!(
            confirmed,
            [format!("{prefix}v1:prep-2d"), format!("{prefix}v1:3d:seen"), format!("{prefix}v1:1d:seen")]
        );
        let late = keys(wanted(&v, &schedule, false, at("2026-11-19T12:00:00Z")));
        assert_eq!(late, [format!("{prefix}v1:1d"), format!("{prefix}v1:booked")], "preparation is never sent late");

        let done = visit("2026-11-20T15:00:00Z", 2, AppointmentStatus::Fulfilled);
        let plan = wanted(&done, &schedule, false, at("2026-11-20T15:40:00Z"));
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].key, format!("{}after", key_prefix(done.id)), "once, whatever the version");
        assert_eq!(plan[0].due_at, at("2026-11-20T17:30:00Z"), "2 hours after the visit's end");
        assert!(wanted(&done, &schedule, false, at("2026-11-24T12:00:00Z")).is_empty(), "too late to thank");
        assert!(wanted(&done, &ReminderSchedule::standard(), false, at("2026-11-20T15:40:00Z")).is_empty());

        let missed = visit("2026-11-20T15:00:00Z", 2, AppointmentStatus::Noshow);
        let plan = wanted(&missed, &ReminderSchedule::standard(), false, at("2026-11-20T16:00:00Z"));
        assert_eq!(plan.iter().map(|m| m.template.as_str()).collect::<Vec<_>>(), ["appointment_missed"]);
        assert!(
            wanted(&missed, &ReminderSchedule::standard(), false, at("2026-12-20T16:00:00Z")).is_empty(),
            "an old no-show"
        );
    }

    #[test]
    fn once_confirmed_the_asks_stop_and_a_plain_reminder_stays_if_the_schedule_says_so() {
        let v = visit("2026-11-20T15:00:00Z", 2, AppointmentStatus::Booked);
        let now = at("2026-11-18T12:00:00Z");
        let prefix = key_prefix(v.id);
        let plan = wanted(&v, &ReminderSchedule::standard(), true, now);
        let keys: Vec<&str> = plan.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(keys, [format!("{prefix}v2:1d:seen")], "no booking confirmation: they confirmed");
        assert_eq!(plan[0].template.as_str(), "appointment_see_you");
        let silent = ReminderSchedule { after_confirmation: None, ..ReminderSchedule::standard() };
        assert!(wanted(&v, &silent, true, now).is_empty());
        let ask = format!("{prefix}v2:1d");
        assert_eq!(why_unwanted(&ask, Some(&v), true, now), "the patient confirmed the visit");
        assert!(answerable(&ask, &v, now));
        assert!(!answerable(&format!("{prefix}v1:1d"), &v, now), "about the visit's old time");
        assert!(!answerable(&ask, &v, v.details.start), "the visit has begun");
    }

    #[test]
    fn a_reminder_of_an_older_version_or_an_unbooked_visit_no_longer_fits() {
        let v = visit("2026-11-20T15:00:00Z", 3, AppointmentStatus::Booked);
        let prefix = key_prefix(v.id);
        assert_eq!(unfit(&format!("{prefix}v3:1d"), &v, false), None);
        assert!(unfit(&format!("{prefix}v2:1d"), &v, false).is_some());
        assert!(unfit(&format!("{prefix}v3:1d"), &v, true).is_some(), "an ask after the patient confirmed");
        assert_eq!(unfit(&format!("{prefix}v3:1d:seen"), &v, true), None, "a plain reminder still fits");
        assert_eq!(unfit(&format!("{prefix}v3:prep-2d"), &v, true), None);
        assert_eq!(unfit("tour-1", &v, false), None, "not the planner's");
        let cancelled = Appointment {
            details: AppointmentDetails { status: AppointmentStatus::Cancelled, ..v.details.clone() },
            ..v.clone()
        };
        assert!(unfit(&format!("{prefix}v3:1d"), &cancelled, false).is_some());
    }

    fn rule(location: Option<LocationId>, visit_type: Option<&str>, before: Before) -> ReminderRule {
        let kind = TemplateKind::parse("appointment_reminder").expect("valid in the test");
        ReminderRule {
            id: ReminderRuleId::generate(),
            organization_id: OrganizationId::generate(),
            location_id: location,
            visit_type: visit_type.map(str::to_owned),
            schedule: ReminderSchedule::new(
                vec![ReminderOffset { before, template: kind.clone(), channel: None }],
                kind,
                None,
            )
            .expect("valid in the test"),
            version: 1,
            created_at: Timestamp::UNIX_EPOCH,
            updated_at: Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn the_most_specific_rule_wins_else_the_standard_schedule() {
        let v = visit("2026-11-20T15:00:00Z", 1, AppointmentStatus::Booked);
        let here = Some(v.details.location_id);
        let rules = [
            rule(None, None, Before::Days(2)),
            rule(here, None, Before::Days(4)),
            rule(None, Some("follow-up"), Before::Hours(2)),
            rule(here, Some("surgery"), Before::Days(7)),
        ];
        assert_eq!(schedule_for(&rules, &v).offsets[0].before, Before::Hours(2), "the visit type beats the location");
        assert_eq!(schedule_for(&rules[..2], &v).offsets[0].before, Before::Days(4));
        assert_eq!(schedule_for(&rules[..1], &v).offsets[0].before, Before::Days(2));
        assert_eq!(schedule_for(&[], &v), ReminderSchedule::standard());
        assert_eq!(Before::parse("3d"), Ok(Before::Days(3)));
        assert_eq!(Before::parse(" 2h "), Ok(Before::Hours(2)));
        assert_eq!(Before::parse("0d"), Err(ReminderRuleError::Before));
        assert_eq!(Before::parse("3w"), Err(ReminderRuleError::Before));
        let kind = TemplateKind::parse("appointment_reminder").expect("valid in the test");
        let twice = vec![ReminderOffset { before: Before::Days(1), template: kind.clone(), channel: None }; 2];
        assert_eq!(ReminderSchedule::new(twice, kind, None), Err(ReminderRuleError::Offsets));
    }

    #[test]
    fn an_unwanted_reminder_says_what_changed() {
        let v = visit("2026-11-20T15:00:00Z", 2, AppointmentStatus::Booked);
        let now = at("2026-11-10T12:00:00Z");
        let prefix = key_prefix(v.id);
        assert_eq!(why_unwanted(&format!("{prefix}v1:3d"), Some(&v), false, now), "the visit changed (now version 2)");
        assert_eq!(
            why_unwanted(&format!("{prefix}v2:3d"), Some(&v), false, now),
            "the visit's reminder schedule changed"
        );
        assert_eq!(why_unwanted(&format!("{prefix}v2:3d"), None, false, now), "the visit was deleted");
        let cancelled = visit("2026-11-20T15:00:00Z", 2, AppointmentStatus::Cancelled);
        assert_eq!(why_unwanted(&format!("{prefix}v2:3d"), Some(&cancelled), false, now), "the visit is cancelled");
    }

    #[test]
    fn no_reminder_for_a_past_cancelled_or_no_show_visit() {
        let now = at("2026-11-10T12:00:00Z");
        for status in [AppointmentStatus::Cancelled, AppointmentStatus::Noshow, AppointmentStatus::Pending] {
            assert!(
                wanted(&visit("2026-11-20T15:00:00Z", 1, status), &ReminderSchedule::standard(), false, now).is_empty()
            );
        }
        let past = visit("2026-11-01T15:00:00Z", 1, AppointmentStatus::Booked);
        assert!(wanted(&past, &ReminderSchedule::standard(), false, now).is_empty());
    }
}
