//! The templates Rapport ships, in English and Spanish, for the messages
//! every practice sends. An organization's own template of a kind and
//! language takes precedence over these. Each care text fits the FCC
//! exemption's terms (160 characters with typical values, the practice
//! named, STOP offered), which a test checks through the linter.

use std::sync::LazyLock;

use super::MessageClass;
use super::template::{ShippedKind, TemplateContent, TemplateKind, TemplateText};
use crate::value::LanguageTag;

/// One shipped template: its kind, language and class; the text (texts and
/// push); the email's subject and, where an email needs more than the text
/// (links instead of "reply 1"), its body; what a call says.
struct Shipped {
    kind: ShippedKind,
    language: &'static str,
    class: MessageClass,
    text: &'static str,
    subject: &'static str,
    email: Option<&'static str>,
    voice: &'static str,
}

const REMINDER_EMAIL_EN: &str = "Hello {{patient.first_name}},

This is a reminder of your visit on {{appointment.when}} with {{provider.name}} at {{location.name}}, {{location.address}}.

Confirm your visit: {{links.confirm}}
Cannot come? Let us know: {{links.cancel}}
Need another time? {{links.reschedule}}

{{organization.name}}";

const REMINDER_EMAIL_ES: &str = "Hola {{patient.first_name}}:

Le recordamos su cita el {{appointment.when}} con {{provider.name}} en {{location.name}}, {{location.address}}.

Confirme su cita: {{links.confirm}}
¿No puede venir? Avísenos: {{links.cancel}}
¿Necesita otra hora? {{links.reschedule}}

{{organization.name}}";

const SHIPPED: &[Shipped] = &[
    Shipped {
        kind: ShippedKind::AppointmentReminder,
        language: "en",
        class: MessageClass::Care,
        text: "{{organization.name}}: visit {{appointment.when}} at {{location.name}}. Reply 1 to confirm, 2 if you can't come, 3 to change it. STOP to opt out.",
        subject: "Your visit on {{appointment.date}}",
        email: Some(REMINDER_EMAIL_EN),
        voice: "Hello, this is {{organization.name}} with a reminder of your visit on {{appointment.when}} at {{location.name}}.",
    },
    Shipped {
        kind: ShippedKind::AppointmentReminder,
        language: "es",
        class: MessageClass::Care,
        text: "{{organization.name}}: cita {{appointment.when}} en {{location.name}}. Responda 1 confirmar, 2 si no viene, 3 cambiar. STOP para salir.",
        subject: "Su cita del {{appointment.date}}",
        email: Some(REMINDER_EMAIL_ES),
        voice: "Hola, le llama {{organization.name}} para recordarle su cita el {{appointment.when}} en {{location.name}}.",
    },
    Shipped {
        kind: ShippedKind::AppointmentBooked,
        language: "en",
        class: MessageClass::Transactional,
        text: "{{organization.name}}: {{patient.first_name}}, you are booked {{appointment.when}} with {{provider.name}} at {{location.address}}. Reply 1 to confirm. STOP to opt out.",
        subject: "Your visit is booked: {{appointment.date}}",
        email: None,
        voice: "Hello, this is {{organization.name}}. Your visit is booked for {{appointment.when}} with {{provider.name}} at {{location.address}}.",
    },
    Shipped {
        kind: ShippedKind::AppointmentBooked,
        language: "es",
        class: MessageClass::Transactional,
        text: "{{organization.name}}: {{patient.first_name}}, su cita es el {{appointment.when}} con {{provider.name}} en {{location.address}}. Responda 1 para confirmar. STOP para salir.",
        subject: "Su cita esta reservada: {{appointment.date}}",
        email: None,
        voice: "Hola, le llama {{organization.name}}. Su cita es el {{appointment.when}} con {{provider.name}} en {{location.address}}.",
    },
    Shipped {
        kind: ShippedKind::AppointmentSeeYou,
        language: "en",
        class: MessageClass::Care,
        text: "{{organization.name}}: see you {{appointment.when}} at {{location.name}}. Reply STOP to opt out.",
        subject: "See you on {{appointment.date}}",
        email: None,
        voice: "Hello, this is {{organization.name}}. We look forward to seeing you on {{appointment.when}} at {{location.name}}.",
    },
    Shipped {
        kind: ShippedKind::AppointmentSeeYou,
        language: "es",
        class: MessageClass::Care,
        text: "{{organization.name}}: le esperamos el {{appointment.when}} en {{location.name}}. Responda STOP para no recibir textos.",
        subject: "Le esperamos el {{appointment.date}}",
        email: None,
        voice: "Hola, le llama {{organization.name}}. Le esperamos el {{appointment.when}} en {{location.name}}.",
    },
    Shipped {
        kind: ShippedKind::AppointmentCancelled,
        language: "en",
        class: MessageClass::Transactional,
        text: "{{organization.name}}: your visit {{appointment.when}} is cancelled. To book again, call {{location.phone}}. Reply STOP to opt out.",
        subject: "Your visit on {{appointment.date}} is cancelled",
        email: None,
        voice: "Hello, this is {{organization.name}}. Your visit on {{appointment.when}} is cancelled. To book again, please call {{location.phone}}.",
    },
    Shipped {
        kind: ShippedKind::AppointmentCancelled,
        language: "es",
        class: MessageClass::Transactional,
        text: "{{organization.name}}: su cita del {{appointment.when}} fue anulada. Para otra cita llame al {{location.phone}}. Responda STOP para no recibir textos.",
        subject: "Su cita del {{appointment.date}} fue anulada",
        email: None,
        voice: "Hola, le llama {{organization.name}}. Su cita del {{appointment.when}} fue anulada. Para otra cita llame al {{location.phone}}.",
    },
    Shipped {
        kind: ShippedKind::VisitPreparation,
        language: "en",
        class: MessageClass::Care,
        text: "{{organization.name}}: for your visit {{appointment.when}}, bring your ID, insurance card and medicines, and come 15 min early. Reply STOP to opt out.",
        subject: "Getting ready for your visit on {{appointment.date}}",
        email: Some("Hello {{patient.first_name}},

We look forward to seeing you on {{appointment.when}} with {{provider.name}} at {{location.name}}, {{location.address}}.

Please bring your photo ID, your insurance card and a list of the medicines you take, and come 15 minutes early so there is time to settle in. If you have questions before your visit, call us at {{location.phone}}.

{{organization.name}}"),
        voice: "Hello, this is {{organization.name}}. For your visit on {{appointment.when}}, please bring your ID, your insurance card and your medicines, and come 15 minutes early.",
    },
    Shipped {
        kind: ShippedKind::VisitPreparation,
        language: "es",
        class: MessageClass::Care,
        text: "{{organization.name}}: para su cita {{appointment.when}}, traiga su ID, tarjeta de seguro y medicinas, y llegue 15 min antes. STOP para salir.",
        subject: "Para preparar su cita del {{appointment.date}}",
        email: Some("Hola {{patient.first_name}}:

Le esperamos el {{appointment.when}} con {{provider.name}} en {{location.name}}, {{location.address}}.

Traiga su identificación con foto, su tarjeta de seguro y la lista de medicinas que toma, y llegue 15 minutos antes. Si tiene preguntas antes de su cita, llámenos al {{location.phone}}.

{{organization.name}}"),
        voice: "Hola, le llama {{organization.name}}. Para su cita el {{appointment.when}}, traiga su identificación, su tarjeta de seguro y sus medicinas, y llegue 15 minutos antes.",
    },
    Shipped {
        kind: ShippedKind::VisitFollowUp,
        language: "en",
        class: MessageClass::Care,
        text: "{{organization.name}}: thank you for your visit, {{patient.first_name}}. Questions about your care? Call {{location.phone}}. Reply STOP to opt out.",
        subject: "Thank you for your visit",
        email: None,
        voice: "Hello, this is {{organization.name}}. Thank you for your visit. If you have questions about your care, please call {{location.phone}}.",
    },
    Shipped {
        kind: ShippedKind::VisitFollowUp,
        language: "es",
        class: MessageClass::Care,
        text: "{{organization.name}}: gracias por su visita, {{patient.first_name}}. ¿Preguntas sobre su cuidado? Llame al {{location.phone}}. STOP para salir.",
        subject: "Gracias por su visita",
        email: None,
        voice: "Hola, le llama {{organization.name}}. Gracias por su visita. Si tiene preguntas sobre su cuidado, llame al {{location.phone}}.",
    },
    Shipped {
        kind: ShippedKind::AppointmentMissed,
        language: "en",
        class: MessageClass::Transactional,
        text: "{{organization.name}}: we missed you {{appointment.when}}. To book a new time, call {{location.phone}}. Reply STOP to opt out.",
        subject: "We missed you on {{appointment.date}}",
        email: None,
        voice: "Hello, this is {{organization.name}}. We missed you at your visit on {{appointment.when}}. To book a new time, please call {{location.phone}}.",
    },
    Shipped {
        kind: ShippedKind::AppointmentMissed,
        language: "es",
        class: MessageClass::Transactional,
        text: "{{organization.name}}: le extrañamos el {{appointment.when}}. Para otra cita llame al {{location.phone}}. Responda STOP para no recibir textos.",
        subject: "Le extrañamos el {{appointment.date}}",
        email: None,
        voice: "Hola, le llama {{organization.name}}. Le extrañamos en su cita del {{appointment.when}}. Para otra cita, llame al {{location.phone}}.",
    },
    Shipped {
        kind: ShippedKind::RecallDue,
        language: "en",
        class: MessageClass::Care,
        text: "{{organization.name}}: {{patient.first_name}}, it is time for your next visit. To book, call {{location.phone}}. Reply STOP to opt out.",
        subject: "Time for your next visit",
        email: None,
        voice: "Hello, this is {{organization.name}}. It is time for your next visit. To book, please call {{location.phone}}.",
    },
    Shipped {
        kind: ShippedKind::RecallDue,
        language: "es",
        class: MessageClass::Care,
        text: "{{organization.name}}: {{patient.first_name}}, ya le toca su próxima cita. Para reservarla llame al {{location.phone}}. STOP para salir.",
        subject: "Es hora de su próxima cita",
        email: None,
        voice: "Hola, le llama {{organization.name}}. Ya le toca su próxima cita. Para reservarla, llame al {{location.phone}}.",
    },
    Shipped {
        kind: ShippedKind::WaitlistOffer,
        language: "en",
        class: MessageClass::Transactional,
        text: "{{organization.name}}: a visit opened {{appointment.when}} with {{provider.name}}. Reply YES to take it. STOP to opt out.",
        subject: "A visit opened on {{appointment.date}}",
        email: None,
        voice: "Hello, this is {{organization.name}}. A visit opened on {{appointment.when}} with {{provider.name}}.",
    },
    Shipped {
        kind: ShippedKind::WaitlistOffer,
        language: "es",
        class: MessageClass::Transactional,
        text: "{{organization.name}}: hay una cita libre el {{appointment.when}} con {{provider.name}}. Responda SI para tomarla. STOP para salir.",
        subject: "Cita libre el {{appointment.date}}",
        email: None,
        voice: "Hola, le llama {{organization.name}}. Hay una cita libre el {{appointment.when}} con {{provider.name}}.",
    },
    Shipped {
        kind: ShippedKind::WaitlistTaken,
        language: "en",
        class: MessageClass::Transactional,
        text: "{{organization.name}}: it is yours. You are booked {{appointment.when}} with {{provider.name}} at {{location.name}}. Reply STOP to opt out.",
        subject: "You are booked: {{appointment.date}}",
        email: None,
        voice: "Hello, this is {{organization.name}}. You are booked on {{appointment.when}} with {{provider.name}} at {{location.name}}.",
    },
    Shipped {
        kind: ShippedKind::WaitlistTaken,
        language: "es",
        class: MessageClass::Transactional,
        text: "{{organization.name}}: es suya. Su cita es el {{appointment.when}} con {{provider.name}} en {{location.name}}. STOP para salir.",
        subject: "Su cita: {{appointment.date}}",
        email: None,
        voice: "Hola, le llama {{organization.name}}. Su cita es el {{appointment.when}} con {{provider.name}} en {{location.name}}.",
    },
    Shipped {
        kind: ShippedKind::WaitlistGone,
        language: "en",
        class: MessageClass::Transactional,
        text: "{{organization.name}}: sorry, that time was just taken. You stay on our waitlist. Reply STOP to opt out.",
        subject: "That time was taken",
        email: None,
        voice: "Hello, this is {{organization.name}}. Sorry, that time was just taken. You stay on our waitlist.",
    },
    Shipped {
        kind: ShippedKind::WaitlistGone,
        language: "es",
        class: MessageClass::Transactional,
        text: "{{organization.name}}: lo sentimos, esa hora ya fue tomada. Sigue en nuestra lista de espera. STOP para salir.",
        subject: "Esa hora ya fue tomada",
        email: None,
        voice: "Hola, le llama {{organization.name}}. Lo sentimos, esa hora ya fue tomada. Sigue en nuestra lista de espera.",
    },
    Shipped {
        kind: ShippedKind::AnswerConfirmed,
        language: "en",
        class: MessageClass::Transactional,
        text: "{{organization.name}}: thank you, your visit {{appointment.when}} is confirmed. Reply STOP to opt out.",
        subject: "Your visit on {{appointment.date}} is confirmed",
        email: None,
        voice: "Thank you. Your visit on {{appointment.when}} is confirmed.",
    },
    Shipped {
        kind: ShippedKind::AnswerConfirmed,
        language: "es",
        class: MessageClass::Transactional,
        text: "{{organization.name}}: gracias, su cita del {{appointment.when}} queda confirmada. Responda STOP para no recibir textos.",
        subject: "Su cita del {{appointment.date}} queda confirmada",
        email: None,
        voice: "Gracias. Su cita del {{appointment.when}} queda confirmada.",
    },
    Shipped {
        kind: ShippedKind::AnswerReschedule,
        language: "en",
        class: MessageClass::Transactional,
        text: "{{organization.name}}: thank you, we will contact you to find a new time for your visit {{appointment.when}}, or call {{location.phone}}. Reply STOP to opt out.",
        subject: "A new time for your visit on {{appointment.date}}",
        email: None,
        voice: "Thank you. We will contact you to find a new time for your visit on {{appointment.when}}.",
    },
    Shipped {
        kind: ShippedKind::AnswerReschedule,
        language: "es",
        class: MessageClass::Transactional,
        text: "{{organization.name}}: gracias, le contactaremos para cambiar su cita del {{appointment.when}}, o llame al {{location.phone}}. Responda STOP para no recibir textos.",
        subject: "Otra hora para su cita del {{appointment.date}}",
        email: None,
        voice: "Gracias. Le contactaremos para cambiar su cita del {{appointment.when}}.",
    },
    Shipped {
        kind: ShippedKind::AnswerUnclear,
        language: "en",
        class: MessageClass::Transactional,
        text: "{{organization.name}}: thank you, we could not tell which visit you mean. Our team will contact you. Reply STOP to opt out.",
        subject: "Your reply to {{organization.name}}",
        email: None,
        voice: "Thank you. Our team will contact you.",
    },
    Shipped {
        kind: ShippedKind::AnswerUnclear,
        language: "es",
        class: MessageClass::Transactional,
        text: "{{organization.name}}: gracias, no sabemos a qué cita se refiere. Nuestro equipo le contactará. Responda STOP para no recibir textos.",
        subject: "Su respuesta a {{organization.name}}",
        email: None,
        voice: "Gracias. Nuestro equipo le contactará.",
    },
];

static TEMPLATES: LazyLock<Vec<TemplateContent>> = LazyLock::new(|| {
    let parse = |text: &str| TemplateText::parse(text).expect("a shipped text parses");
    SHIPPED
        .iter()
        .map(|s| TemplateContent {
            kind: TemplateKind::from(s.kind),
            language: LanguageTag::parse(s.language).expect("a shipped language is a tag"),
            class: s.class,
            text: parse(s.text),
            voice_text: Some(parse(s.voice)),
            email_subject: Some(parse(s.subject)),
            email_body: s.email.map(parse),
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
                Variable::LinksConfirm | Variable::LinksCancel | Variable::LinksReschedule => {
                    "https://rapport.example/answer/0000.confirm.sample"
                }
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
