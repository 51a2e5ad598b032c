//! Wire types of `/organizations/{org}/templates`: a template as written and
//! as shown (with what the linter says of it, filled with sample values),
//! and a preview for one patient.

use rapport_domain::message::compose::sample;
use rapport_domain::message::lint::{Finding, LintInput, lint};
use rapport_domain::message::template::{Template, TemplateContent, TemplateKind, TemplateText};
use rapport_domain::{Channel, LanguageTag, MessageClass, Organization, ValidationErrors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::message_lint::LintReport;

/// A template's words. Variables are written `{{patient.first_name}}`;
/// the known ones: patient.first_name, patient.last_name, organization.name,
/// appointment.date, appointment.time, appointment.when, location.name,
/// location.address, location.phone, provider.name, links.unsubscribe (the
/// message's one-click unsubscribe page; needs the public URL).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateInput {
    /// What it is for: `appointment_reminder`, `appointment_booked`, or a kind of your own.
    pub kind: String,
    /// A language tag (`en`, `es`, `es-MX`); one template per kind and language.
    pub language: String,
    /// transactional, care or marketing: the rules its words are checked against.
    pub class: String,
    /// For texts and push; for calls without `voice_text`; for email without `email_body`.
    pub text: String,
    /// What a call says (no "reply STOP": a call is not a text).
    pub voice_text: Option<String>,
    /// An email's subject (default: the organization's name).
    pub email_subject: Option<String>,
    pub email_body: Option<String>,
}

impl TemplateInput {
    pub fn validate(self) -> Result<TemplateContent, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let kind = TemplateKind::parse(&self.kind).map_err(|e| errors.push("kind", e.to_string())).ok();
        let language = LanguageTag::parse(&self.language).map_err(|e| errors.push("language", e.to_string())).ok();
        let class = self.class.parse::<MessageClass>().map_err(|e| errors.push("class", e.to_string())).ok();
        let text = TemplateText::parse(&self.text).map_err(|e| errors.push("text", e.to_string())).ok();
        let mut optional = |field: &str, raw: Option<String>| match raw.map(|r| TemplateText::parse(&r)) {
            None => None,
            Some(Ok(text)) => Some(text),
            Some(Err(e)) => {
                errors.push(field, e.to_string());
                None
            }
        };
        let voice_text = optional("voice_text", self.voice_text);
        let email_subject = optional("email_subject", self.email_subject);
        let email_body = optional("email_body", self.email_body);
        match (kind, language, class, text, errors.is_empty()) {
            (Some(kind), Some(language), Some(class), Some(text), true) => {
                Ok(TemplateContent { kind, language, class, text, voice_text, email_subject, email_body })
            }
            _ => Err(errors),
        }
    }
}

/// What the linter says of a template on one channel, filled with sample values.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelLint {
    /// sms, voice or email.
    pub channel: String,
    #[serde(flatten)]
    pub report: LintReport,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateView {
    /// Absent on a shipped template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub kind: String,
    pub language: String,
    pub class: String,
    pub text: String,
    pub voice_text: Option<String>,
    pub email_subject: Option<String>,
    pub email_body: Option<String>,
    /// Whether a message of this template must name an appointment.
    pub needs_appointment: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// The linter's findings, as a text, a call and an email.
    pub lint: Vec<ChannelLint>,
}

/// Lints the words of a message on `channel`: its subject (email) and body together.
pub fn lint_words(
    channel: Channel,
    class: MessageClass,
    subject: Option<&str>,
    body: &str,
    organization: &Organization,
) -> Vec<Finding> {
    let whole = subject.map_or_else(|| body.to_owned(), |s| format!("{s}\n{body}"));
    lint(&LintInput { channel, class, body: &whole, practice: &organization.name })
}

/// Lints `content` filled with sample values, as a text, a call and an email.
pub fn lint_template(content: &TemplateContent, organization: &Organization) -> Vec<ChannelLint> {
    [Channel::Sms, Channel::Voice, Channel::Email]
        .into_iter()
        .map(|channel| {
            let (subject, body) = sample(content, organization, channel);
            let findings = lint_words(channel, content.class, subject.as_deref(), &body, organization);
            ChannelLint { channel: channel.as_str().into(), report: LintReport::from(findings) }
        })
        .collect()
}

impl TemplateView {
    pub fn of(content: &TemplateContent, organization: &Organization) -> Self {
        Self {
            id: None,
            kind: content.kind.as_str().into(),
            language: content.language.as_str().into(),
            class: content.class.as_str().into(),
            text: content.text.as_str().into(),
            voice_text: content.voice_text.as_ref().map(|t| t.as_str().into()),
            email_subject: content.email_subject.as_ref().map(|t| t.as_str().into()),
            email_body: content.email_body.as_ref().map(|t| t.as_str().into()),
            needs_appointment: content.needs_appointment(),
            version: None,
            updated_at: None,
            lint: lint_template(content, organization),
        }
    }

    pub fn stored(template: &Template, organization: &Organization) -> Self {
        Self {
            id: Some(template.id.to_string()),
            version: Some(template.version),
            updated_at: Some(template.updated_at.to_string()),
            ..Self::of(&template.content, organization)
        }
    }
}

/// Which template would reach this patient, and its words.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewInput {
    /// The template kind.
    pub template: String,
    pub patient_id: String,
    /// The visit, for a template that speaks of one.
    pub appointment_id: Option<String>,
    /// sms, email, voice or push; default: the patient's first channel with an address.
    pub channel: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewView {
    /// organization or shipped.
    pub source: String,
    /// The organization's template, when it is one of theirs.
    pub template_id: Option<String>,
    pub language: String,
    pub channel: String,
    pub subject: Option<String>,
    pub body: String,
    /// The linter on these very words.
    pub lint: LintReport,
}
