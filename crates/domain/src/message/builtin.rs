//! The templates Rapport ships, in English and Spanish, for the messages
//! every practice sends. An organization's own template of a kind and
//! language takes precedence over these. Each care text fits the FCC
//! exemption's terms (160 characters with typical values, the practice
//! named, STOP offered), which a test checks through the linter.

use std::sync::LazyLock;

use super::MessageClass;
use super::template::{TemplateContent, TemplateKind, TemplateText};
use crate::value::LanguageTag;

/// `(kind, language, class, text, email subject, what a call says)`.
const SHIPPED: &[(&str, &str, MessageClass, &str, &str, &str)] = &[
    (
        "appointment_reminder",
        "en",
        MessageClass::Care,
        "{{organization.name}}: reminder of your visit {{appointment.when}} at {{location.name}}. Reply STOP to opt out.",
        "Your visit on {{appointment.date}}",
        "Hello, this is {{organization.name}} with a reminder of your visit on {{appointment.when}} at {{location.name}}.",
    ),
    (
        "appointment_reminder",
        "es",
        MessageClass::Care,
        "{{organization.name}}: le recordamos su cita el {{appointment.when}} en {{location.name}}. Responda STOP para no recibir textos.",
        "Su cita del {{appointment.date}}",
        "Hola, le llama {{organization.name}} para recordarle su cita el {{appointment.when}} en {{location.name}}.",
    ),
    (
        "appointment_booked",
        "en",
        MessageClass::Transactional,
        "{{organization.name}}: {{patient.first_name}}, you are booked {{appointment.when}} with {{provider.name}} at {{location.address}}. Reply STOP to opt out.",
        "Your visit is booked: {{appointment.date}}",
        "Hello, this is {{organization.name}}. Your visit is booked for {{appointment.when}} with {{provider.name}} at {{location.address}}.",
    ),
    (
        "appointment_booked",
        "es",
        MessageClass::Transactional,
        "{{organization.name}}: {{patient.first_name}}, su cita es el {{appointment.when}} con {{provider.name}} en {{location.address}}. Responda STOP para no recibir textos.",
        "Su cita esta reservada: {{appointment.date}}",
        "Hola, le llama {{organization.name}}. Su cita es el {{appointment.when}} con {{provider.name}} en {{location.address}}.",
    ),
    (
        "appointment_cancelled",
        "en",
        MessageClass::Transactional,
        "{{organization.name}}: your visit {{appointment.when}} is cancelled. To book again, call {{location.phone}}. Reply STOP to opt out.",
        "Your visit on {{appointment.date}} is cancelled",
        "Hello, this is {{organization.name}}. Your visit on {{appointment.when}} is cancelled. To book again, please call {{location.phone}}.",
    ),
    (
        "appointment_cancelled",
        "es",
        MessageClass::Transactional,
        "{{organization.name}}: su cita del {{appointment.when}} fue anulada. Para otra cita llame al {{location.phone}}. Responda STOP para no recibir textos.",
        "Su cita del {{appointment.date}} fue anulada",
        "Hola, le llama {{organization.name}}. Su cita del {{appointment.when}} fue anulada. Para otra cita llame al {{location.phone}}.",
    ),
];

static TEMPLATES: LazyLock<Vec<TemplateContent>> = LazyLock::new(|| {
    SHIPPED
        .iter()
        .map(|&(kind, language, class, text, subject, voice)| TemplateContent {
            kind: TemplateKind::parse(kind).expect("a shipped kind is a slug"),
            language: LanguageTag::parse(language).expect("a shipped language is a tag"),
            class,
            text: TemplateText::parse(text).expect("a shipped text parses"),
            voice_text: Some(TemplateText::parse(voice).expect("a shipped call parses")),
            email_subject: Some(TemplateText::parse(subject).expect("a shipped subject parses")),
            email_body: None,
        })
        .collect()
});

/// Every shipped template.
pub fn templates() -> &'static [TemplateContent] {
    &TEMPLATES
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::Channel;
    use crate::message::lint::{LintInput, Severity, lint};
    use crate::message::template::Variable;

    /// Long but plausible values: the texts must still keep the care terms.
    fn typical(v: Variable) -> Option<String> {
        Some(
            match v {
                Variable::PatientFirstName => "Guadalupe",
                Variable::PatientLastName => "Hernandez",
                Variable::OrganizationName => "Riverbend Health",
                Variable::AppointmentDate => "Wednesday, September 30",
                Variable::AppointmentTime => "10:30 AM",
                Variable::AppointmentWhen => "Wednesday, September 30 at 10:30 AM",
                Variable::LocationName => "Riverbend Main Clinic",
                Variable::LocationAddress => "1200 Riverside Ave, Springfield, IL 62701",
                Variable::LocationPhone => "+13125550100",
                Variable::ProviderName => "Dr Ana Ruiz",
                Variable::LinksUnsubscribe => "https://rapport.example/unsubscribe/0000.sample",
            }
            .to_owned(),
        )
    }

    #[test]
    fn every_kind_ships_in_english_and_spanish() {
        let kinds: std::collections::BTreeSet<&str> = templates().iter().map(|t| t.kind.as_str()).collect();
        for kind in kinds {
            for language in ["en", "es"] {
                assert!(
                    templates().iter().any(|t| t.kind.as_str() == kind && t.language.as_str() == language),
                    "{kind} in {language}"
                );
            }
        }
    }

    #[test]
    fn shipped_texts_pass_the_linter() {
        for template in templates() {
            let (_, body) = template.render(Channel::Sms, &typical).expect("typical values fill every variable");
            let input =
                LintInput { channel: Channel::Sms, class: template.class, body: &body, practice: "Riverbend Health" };
            let errors: Vec<_> = lint(&input).into_iter().filter(|f| f.severity == Severity::Error).collect();
            assert!(errors.is_empty(), "{} {}: {errors:?}", template.kind, template.language.as_str());
            let (_, spoken) = template.render(Channel::Voice, &typical).expect("typical values fill every variable");
            let call = LintInput { channel: Channel::Voice, body: &spoken, ..input };
            let warned: Vec<_> = lint(&call).into_iter().filter(|f| f.severity != Severity::Info).collect();
            assert!(warned.is_empty(), "{} {} (call): {warned:?}", template.kind, template.language.as_str());
        }
    }
}
