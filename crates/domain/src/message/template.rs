//! Message templates: the words of one kind of message (an appointment
//! reminder, a booking confirmation …) in one language, with `{{variables}}`
//! filled at send time from the patient, the visit, its location and
//! provider, and the organization. A template's text is parsed when it is
//! saved, so an unknown variable or an unclosed `{{` is refused then, never
//! discovered when a patient is due a message.

use std::fmt;

use jiff::Timestamp;

use super::MessageClass;
use crate::consent::Channel;
use crate::ids::{OrganizationId, TemplateId};
use crate::value::LanguageTag;

/// What a template's words are for: `appointment_reminder`, `recall_due` …
/// Lower-case letters, digits and `_`, 1 to 64 of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TemplateKind(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be 1 to 64 lower-case letters, digits or _ (e.g. appointment_reminder)")]
pub struct TemplateKindError;

impl TemplateKind {
    pub fn parse(raw: &str) -> Result<Self, TemplateKindError> {
        let raw = raw.trim();
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
        if raw.is_empty() || raw.len() > 64 || !raw.chars().all(allowed) {
            return Err(TemplateKindError);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The kinds of template Rapport ships words for (`builtin.rs`), named
/// in code by this enum rather than by strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShippedKind {
    AppointmentReminder,
    AppointmentBooked,
    AppointmentSeeYou,
    AppointmentCancelled,
    VisitPreparation,
    VisitFollowUp,
    AppointmentMissed,
    RecallDue,
    WaitlistOffer,
    WaitlistTaken,
    WaitlistGone,
    AnswerConfirmed,
    AnswerReschedule,
    AnswerUnclear,
}

impl ShippedKind {
    pub const ALL: [ShippedKind; 14] = [
        ShippedKind::AppointmentReminder,
        ShippedKind::AppointmentBooked,
        ShippedKind::AppointmentSeeYou,
        ShippedKind::AppointmentCancelled,
        ShippedKind::VisitPreparation,
        ShippedKind::VisitFollowUp,
        ShippedKind::AppointmentMissed,
        ShippedKind::RecallDue,
        ShippedKind::WaitlistOffer,
        ShippedKind::WaitlistTaken,
        ShippedKind::WaitlistGone,
        ShippedKind::AnswerConfirmed,
        ShippedKind::AnswerReschedule,
        ShippedKind::AnswerUnclear,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ShippedKind::AppointmentReminder => "appointment_reminder",
            ShippedKind::AppointmentBooked => "appointment_booked",
            ShippedKind::AppointmentSeeYou => "appointment_see_you",
            ShippedKind::AppointmentCancelled => "appointment_cancelled",
            ShippedKind::VisitPreparation => "visit_preparation",
            ShippedKind::VisitFollowUp => "visit_follow_up",
            ShippedKind::AppointmentMissed => "appointment_missed",
            ShippedKind::RecallDue => "recall_due",
            ShippedKind::WaitlistOffer => "waitlist_offer",
            ShippedKind::WaitlistTaken => "waitlist_taken",
            ShippedKind::WaitlistGone => "waitlist_gone",
            ShippedKind::AnswerConfirmed => "answer_confirmed",
            ShippedKind::AnswerReschedule => "answer_reschedule",
            ShippedKind::AnswerUnclear => "answer_unclear",
        }
    }
}

impl From<ShippedKind> for TemplateKind {
    fn from(kind: ShippedKind) -> Self {
        Self(kind.as_str().to_owned())
    }
}

impl std::str::FromStr for TemplateKind {
    type Err = TemplateKindError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for TemplateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A value a template may name. The visit's type is deliberately not one:
/// it can name a procedure, which an unsecured channel must not carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variable {
    /// The preferred name, else the given name.
    PatientFirstName,
    PatientLastName,
    OrganizationName,
    /// "Tuesday, March 3" in the location's zone and the message's language.
    AppointmentDate,
    /// "2:30 PM".
    AppointmentTime,
    /// "Tuesday, March 3 at 2:30 PM".
    AppointmentWhen,
    LocationName,
    LocationAddress,
    LocationPhone,
    /// "Dr Ana Ruiz"; "your care team" when the visit names no provider.
    ProviderName,
    /// The one-click page that stops this kind of message by this channel
    /// (needs the deployment's public URL).
    LinksUnsubscribe,
    /// The signed pages where the patient confirms, cancels or asks to
    /// reschedule the visit the message is about (one button each).
    LinksConfirm,
    LinksCancel,
    LinksReschedule,
}

impl Variable {
    pub const ALL: [Variable; 14] = [
        Variable::PatientFirstName,
        Variable::PatientLastName,
        Variable::OrganizationName,
        Variable::AppointmentDate,
        Variable::AppointmentTime,
        Variable::AppointmentWhen,
        Variable::LocationName,
        Variable::LocationAddress,
        Variable::LocationPhone,
        Variable::ProviderName,
        Variable::LinksUnsubscribe,
        Variable::LinksConfirm,
        Variable::LinksCancel,
        Variable::LinksReschedule,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Variable::PatientFirstName => "patient.first_name",
            Variable::PatientLastName => "patient.last_name",
            Variable::OrganizationName => "organization.name",
            Variable::AppointmentDate => "appointment.date",
            Variable::AppointmentTime => "appointment.time",
            Variable::AppointmentWhen => "appointment.when",
            Variable::LocationName => "location.name",
            Variable::LocationAddress => "location.address",
            Variable::LocationPhone => "location.phone",
            Variable::ProviderName => "provider.name",
            Variable::LinksUnsubscribe => "links.unsubscribe",
            Variable::LinksConfirm => "links.confirm",
            Variable::LinksCancel => "links.cancel",
            Variable::LinksReschedule => "links.reschedule",
        }
    }

    /// Whether it can only be filled for a message about an appointment.
    pub fn needs_appointment(self) -> bool {
        !matches!(
            self,
            Variable::PatientFirstName
                | Variable::PatientLastName
                | Variable::OrganizationName
                | Variable::LinksUnsubscribe
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(Variable),
}

/// A template's text, parsed: literal text and variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateText {
    source: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateTextError {
    #[error("is empty")]
    Empty,
    #[error("is longer than 10,000 characters")]
    TooLong,
    #[error("has a {{{{ with no }}}} after it")]
    Unclosed,
    #[error("names an unknown variable {{{{{0}}}}} (known: {1})")]
    UnknownVariable(String, String),
}

impl TemplateText {
    pub fn parse(source: &str) -> Result<Self, TemplateTextError> {
        if source.trim().is_empty() {
            return Err(TemplateTextError::Empty);
        }
        if source.chars().count() > 10_000 {
            return Err(TemplateTextError::TooLong);
        }
        let mut parts = Vec::new();
        let mut rest = source;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or(TemplateTextError::Unclosed)?;
            let name = after[..close].trim();
            let variable = Variable::ALL.into_iter().find(|v| v.name() == name).ok_or_else(|| {
                let shown: String = name.chars().take(40).collect();
                let known = Variable::ALL.iter().map(|v| v.name()).collect::<Vec<_>>().join(", ");
                TemplateTextError::UnknownVariable(shown, known)
            })?;
            parts.push(Part::Var(variable));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Self { source: source.to_owned(), parts })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn variables(&self) -> impl Iterator<Item = Variable> + '_ {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(v) => Some(*v),
            Part::Text(_) => None,
        })
    }

    pub fn needs_appointment(&self) -> bool {
        self.variables().any(Variable::needs_appointment)
    }

    /// The text with each variable filled; `None` when one has no value.
    pub fn render(&self, values: &dyn Fn(Variable) -> Option<String>) -> Option<String> {
        let mut out = String::with_capacity(self.source.len() + 32);
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Var(v) => out.push_str(&values(*v)?),
            }
        }
        Some(out)
    }
}

/// The words of one kind of message in one language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateContent {
    pub kind: TemplateKind,
    pub language: LanguageTag,
    /// The class its words are written for (the linter checks them against it).
    pub class: MessageClass,
    /// For texts and push; for calls without `voice_text`; for email without `email_body`.
    pub text: TemplateText,
    /// What a call says (no "reply STOP": a call is not a text).
    pub voice_text: Option<TemplateText>,
    /// An email's subject; without one, the organization's name.
    pub email_subject: Option<TemplateText>,
    /// A longer email version of `text` (without the values it names, `text`).
    pub email_body: Option<TemplateText>,
}

impl TemplateContent {
    pub fn needs_appointment(&self) -> bool {
        [Some(&self.text), self.voice_text.as_ref(), self.email_subject.as_ref(), self.email_body.as_ref()]
            .into_iter()
            .flatten()
            .any(TemplateText::needs_appointment)
    }

    /// The subject and body it gives on `channel`, filled from `values`;
    /// `None` when a variable has no value.
    pub fn render(
        &self,
        channel: Channel,
        values: &dyn Fn(Variable) -> Option<String>,
    ) -> Option<(Option<String>, String)> {
        if channel == Channel::Voice {
            return Some((None, self.voice_text.as_ref().unwrap_or(&self.text).render(values)?));
        }
        if channel != Channel::Email {
            return Some((None, self.text.render(values)?));
        }
        let subject = match &self.email_subject {
            Some(subject) => subject.render(values)?,
            None => values(Variable::OrganizationName)?,
        };
        // An email body with links the caller cannot make (no public URL)
        // gives way to the text.
        let body = match self.email_body.as_ref().and_then(|body| body.render(values)) {
            Some(body) => body,
            None => self.text.render(values)?,
        };
        Some((Some(subject), body))
    }
}

/// An organization's own template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub id: TemplateId,
    pub organization_id: OrganizationId,
    pub content: TemplateContent,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(v: Variable) -> Option<String> {
        match v {
            Variable::PatientFirstName => Some("Ana".into()),
            Variable::OrganizationName => Some("Riverbend Health".into()),
            _ => None,
        }
    }

    #[test]
    fn variables_are_filled_and_whitespace_inside_braces_is_allowed() {
        let text =
            TemplateText::parse("{{organization.name}}: hi {{ patient.first_name }}!").expect("valid in the test");
        assert_eq!(text.render(&values).as_deref(), Some("Riverbend Health: hi Ana!"));
        assert!(!text.needs_appointment());
        let visit = TemplateText::parse("See you {{appointment.when}}").expect("valid in the test");
        assert!(visit.needs_appointment());
        assert_eq!(visit.render(&values), None, "a variable without a value renders nothing");
    }

    #[test]
    fn bad_texts_are_refused_with_the_reason() {
        assert_eq!(TemplateText::parse("  "), Err(TemplateTextError::Empty));
        assert_eq!(TemplateText::parse("hi {{patient.first_name"), Err(TemplateTextError::Unclosed));
        let Err(TemplateTextError::UnknownVariable(name, known)) = TemplateText::parse("{{patient.ssn}}") else {
            panic!("an unknown variable must be refused");
        };
        assert_eq!(name, "patient.ssn");
        assert!(known.contains("appointment.when"));
        assert_eq!(
            TemplateText::parse("}} alone is text").expect("valid in the test").render(&values).as_deref(),
            Some("}} alone is text")
        );
    }

    #[test]
    fn kinds_are_slugs() {
        assert!(TemplateKind::parse("appointment_reminder").is_ok());
        for shipped in ShippedKind::ALL {
            assert_eq!(TemplateKind::parse(shipped.as_str()), Ok(TemplateKind::from(shipped)));
        }
        assert_eq!(TemplateKind::parse("Appointment Reminder"), Err(TemplateKindError));
        assert_eq!(TemplateKind::parse(""), Err(TemplateKindError));
    }

    #[test]
    fn email_takes_its_own_subject_and_body_or_falls_back() {
        let content = TemplateContent {
            kind: TemplateKind::parse("hello").expect("valid in the test"),
            language: LanguageTag::parse("en").expect("valid in the test"),
            class: MessageClass::Transactional,
            text: TemplateText::parse("Hi {{patient.first_name}}").expect("valid in the test"),
            voice_text: None,
            email_subject: None,
            email_body: None,
        };
        assert_eq!(content.render(Channel::Sms, &values), Some((None, "Hi Ana".into())));
        assert_eq!(
            content.render(Channel::Voice, &values),
            Some((None, "Hi Ana".into())),
            "calls fall back to the text"
        );
        assert_eq!(content.render(Channel::Email, &values), Some((Some("Riverbend Health".into()), "Hi Ana".into())));
        let with_own = TemplateContent {
            voice_text: Some(TemplateText::parse("Hello {{patient.first_name}}").expect("valid in the test")),
            email_subject: Some(TemplateText::parse("For {{patient.first_name}}").expect("valid in the test")),
            email_body: Some(TemplateText::parse("Dear {{patient.first_name}},").expect("valid in the test")),
            ..content
        };
        assert_eq!(with_own.render(Channel::Email, &values), Some((Some("For Ana".into()), "Dear Ana,".into())));
    }
}
