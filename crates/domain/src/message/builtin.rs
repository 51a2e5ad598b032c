//! The templates Rapport ships, in English and Spanish, for the messages
//! every practice sends. An organization's own template of a kind and
//! language takes precedence over these. Each care text fits the FCC
//! exemption's terms (160 characters with typical values, the practice
//! named, STOP offered), which a test checks through the linter.

use std::sync::LazyLock;

use super::MessageClass;
use super::template::{TemplateContent, TemplateKind, TemplateText};
use crate::value::LanguageTag;

/// `(kind, language, class, text, email subject)`.
const SHIPPED: &[(&str, &str, MessageClass, &str, &str)] = &[
    (
        "appointment_reminder",
        "en",
        MessageClass::Care,
        "{{organization.name}}: reminder of your visit {{appointment.when}} at {{location.name}}. Reply STOP to opt out.",
        "Your visit on {{appointment.date}}",
    ),
    (
        "appointment_reminder",
        "es",
        MessageClass::Care,
        "{{organization.name}}: le recordamos su cita el {{appointment.when}} en {{location.name}}. Responda STOP para no recibir textos.",
        "Su cita del {{appointment.date}}",
    ),
    (
        "appointment_booked",
        "en",
        MessageClass::Transactional,
        "{{organization.name}}: {{patient.first_name}}, you are booked {{appointment.when}} with {{provider.name}} at {{location.address}}. Reply STOP to opt out.",
        "Your visit is booked: {{appointment.date}}",
    ),
    (
        "appointment_booked",
        "es",
        MessageClass::Transactional,
        "{{organization.name}}: {{patient.first_name}}, su cita es el {{appointment.when}} con {{provider.name}} en {{location.address}}. Responda STOP para no recibir textos.",
        "Su cita esta reservada: {{appointment.date}}",
    ),
    (
        "appointment_cancelled",
        "en",
        MessageClass::Transactional,
        "{{organization.name}}: your visit {{appointment.when}} is cancelled. To book again, call {{location.phone}}. Reply STOP to opt out.",
        "Your visit on {{appointment.date}} is cancelled",
    ),
    (
        "appointment_cancelled",
        "es",
        MessageClass::Transactional,
        "{{organization.name}}: su cita del {{appointment.when}} fue anulada. Para otra cita llame al {{location.phone}}. Responda STOP para no recibir textos.",
        "Su cita del {{appointment.date}} fue anulada",
    ),
];

static TEMPLATES: LazyLock<Vec<TemplateContent>> = LazyLock::new(|| {
    SHIPPED
        .iter()
        .map(|&(kind, language, class, text, subject)| TemplateContent {
            kind: TemplateKind::parse(kind).expect("a shipped kind is a slug"),
            language: LanguageTag::parse(language).expect("a shipped language is a tag"),
            class,
            text: TemplateText::parse(text).expect("a shipped text parses"),
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
        }
    }
}
