//! Composing a templated message for one patient, as it will be sent: the
//! template of its kind in the patient's language (else the organization's
//! default language, else English, else any the organization wrote), the
//! organization's own before the shipped one at each step, filled from the
//! patient, the visit and the organization, for the channel chosen. The
//! dispatcher composes at send time, so a rescheduled visit or a changed
//! language is what the patient reads; the preview API composes the same way.

use super::MessageClass;
use super::builtin;
use super::template::{Template, TemplateContent, TemplateKind, Variable};
use super::wording;
use crate::appointment::Appointment;
use crate::consent::Channel;
use crate::ids::TemplateId;
use crate::organization::{Location, Organization, Provider};
use crate::patient::PatientDetails;
use crate::value::LanguageTag;

/// The visit a message is about, with its place and clinician.
#[derive(Debug, Clone, Copy)]
pub struct Visit<'a> {
    pub appointment: &'a Appointment,
    pub location: &'a Location,
    pub provider: Option<&'a Provider>,
}

/// Where the words came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Organization(TemplateId),
    Shipped,
}

/// A message composed for one patient on one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composed {
    pub source: Source,
    /// The class the template's words were written for.
    pub class: MessageClass,
    pub language: LanguageTag,
    pub subject: Option<String>,
    pub body: String,
}

/// Why a message could not be composed (a reason for the trace: no patient data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComposeError {
    #[error("no template of kind {0} exists")]
    NoTemplate(TemplateKind),
    #[error("its template names the appointment, and the message is about none (or it is gone)")]
    NoAppointment,
    #[error("its template names a link Rapport cannot make here (links need the public URL)")]
    NoLink,
}

/// The links a message may carry, made by the caller (they need keys and
/// the public URL, which the domain does not hold).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Links {
    /// This message's one-click unsubscribe page.
    pub unsubscribe: Option<String>,
    /// The pages answering the visit it is about: confirm, cancel, reschedule.
    pub answers: Option<AnswerLinks>,
}

/// A visit's answer pages, one per answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerLinks {
    pub confirm: String,
    pub cancel: String,
    pub reschedule: String,
}

/// The template of `kind` for a reader of `wanted` (else `default`, else
/// English): an exact language match first, then the same primary language;
/// the organization's own (`own`) before the shipped at each step; else any
/// template of the kind the organization wrote.
pub fn choose<'a>(
    kind: &TemplateKind,
    own: &'a [Template],
    wanted: Option<&LanguageTag>,
    default: &LanguageTag,
) -> Option<(&'a TemplateContent, Source)> {
    let english = LanguageTag::parse("en").expect("en is a tag");
    let own: Vec<&Template> = own.iter().filter(|t| &t.content.kind == kind).collect();
    let shipped: Vec<&TemplateContent> = builtin::templates().iter().filter(|t| &t.kind == kind).collect();
    for language in wanted.into_iter().chain([default, &english]) {
        if let Some(t) = own.iter().find(|t| &t.content.language == language) {
            return Some((&t.content, Source::Organization(t.id)));
        }
        if let Some(t) = own.iter().find(|t| t.content.language.primary() == language.primary()) {
            return Some((&t.content, Source::Organization(t.id)));
        }
        if let Some(t) = shipped.iter().find(|t| t.language.primary() == language.primary()) {
            return Some((t, Source::Shipped));
        }
    }
    own.first().map(|t| (&t.content, Source::Organization(t.id)))
}

/// Composes `kind` for `patient` on `channel`.
pub fn compose(
    kind: &TemplateKind,
    own: &[Template],
    organization: &Organization,
    patient: &PatientDetails,
    visit: Option<Visit<'_>>,
    links: &Links,
    channel: Channel,
) -> Result<Composed, ComposeError> {
    let (template, source) = choose(kind, own, patient.language.as_ref(), &organization.default_language)
        .ok_or_else(|| ComposeError::NoTemplate(kind.clone()))?;
    let language = &template.language;
    let local = visit.map(|v| v.appointment.local_start());
    let spanish = language.primary() == "es";
    let values = |variable: Variable| -> Option<String> {
        Some(match variable {
            Variable::PatientFirstName => patient.preferred_name.clone().unwrap_or_else(|| patient.given_name.clone()),
            Variable::PatientLastName => patient.family_name.clone(),
            Variable::OrganizationName => organization.name.clone(),
            Variable::AppointmentDate => wording::date(local.as_ref()?, language),
            Variable::AppointmentTime => wording::time(local.as_ref()?, language),
            Variable::AppointmentWhen => wording::when(local.as_ref()?, language),
            Variable::LocationName => visit?.location.name.clone(),
            Variable::LocationAddress => wording::address(&visit?.location.address),
            Variable::LocationPhone => {
                visit?.location.phone.as_ref().map(|p| p.as_str().to_owned()).unwrap_or_default()
            }
            Variable::ProviderName => match visit?.provider {
                Some(p) => {
                    let name = format!("{} {}", p.given_name, p.family_name);
                    p.title.as_ref().map_or(name.clone(), |title| format!("{title} {name}"))
                }
                None if spanish => "su equipo de salud".to_owned(),
                None => "your care team".to_owned(),
            },
            Variable::LinksUnsubscribe => links.unsubscribe.clone()?,
            Variable::LinksConfirm => links.answers.as_ref()?.confirm.clone(),
            Variable::LinksCancel => links.answers.as_ref()?.cancel.clone(),
            Variable::LinksReschedule => links.answers.as_ref()?.reschedule.clone(),
        })
    };
    let missing = if visit.is_none() && template.needs_appointment() {
        ComposeError::NoAppointment
    } else {
        ComposeError::NoLink
    };
    let (subject, body) = template.render(channel, &values).ok_or(missing)?;
    Ok(Composed { source, class: template.class, language: language.clone(), subject, body })
}

/// `template` filled with sample values (a patient "Alex Rivera", a visit
/// at 10:30 on a Wednesday in the organization's zone, at "Main Clinic"),
/// to lint and show it before any patient is due it.
pub fn sample(template: &TemplateContent, organization: &Organization, channel: Channel) -> (Option<String>, String) {
    let language = &template.language;
    let visit = jiff::civil::datetime(2026, 9, 30, 10, 30, 0, 0).to_zoned(organization.time_zone.tz()).ok();
    let spanish = language.primary() == "es";
    let values = |variable: Variable| -> Option<String> {
        Some(match variable {
            Variable::PatientFirstName => "Alex".into(),
            Variable::PatientLastName => "Rivera".into(),
            Variable::OrganizationName => organization.name.clone(),
            Variable::AppointmentDate => wording::date(visit.as_ref()?, language),
            Variable::AppointmentTime => wording::time(visit.as_ref()?, language),
            Variable::AppointmentWhen => wording::when(visit.as_ref()?, language),
            Variable::LocationName => if spanish { "Clinica Central" } else { "Main Clinic" }.into(),
            Variable::LocationAddress => "1200 Riverside Ave, Springfield, IL 62701".into(),
            Variable::LocationPhone => "+13125550100".into(),
            Variable::ProviderName => "Dr Sam Lee".into(),
            Variable::LinksUnsubscribe => "https://rapport.example/unsubscribe/0000.sample".into(),
            Variable::LinksConfirm => "https://rapport.example/answer/0000.confirm.sample".into(),
            Variable::LinksCancel => "https://rapport.example/answer/0000.cancel.sample".into(),
            Variable::LinksReschedule => "https://rapport.example/answer/0000.reschedule.sample".into(),
        })
    };
    template.render(channel, &values).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;
    use crate::appointment::{AppointmentDetails, AppointmentStatus};
    use crate::ids::{LocationId, OrganizationId};
    use crate::message::template::TemplateText;
    use crate::organization::OpeningHours;
    use crate::patient::Address;
    use crate::value::TimeZoneName;

    fn lang(tag: &str) -> LanguageTag {
        LanguageTag::parse(tag).expect("valid in the test")
    }

    fn kind(k: &str) -> TemplateKind {
        TemplateKind::parse(k).expect("valid in the test")
    }

    fn organization(default_language: &str) -> Organization {
        Organization {
            id: OrganizationId::generate(),
            name: "Riverbend Health".into(),
            time_zone: TimeZoneName::parse("America/Chicago").expect("valid in the test"),
            default_language: lang(default_language),
            sending_window: None,
            version: 1,
            created_at: Timestamp::UNIX_EPOCH,
            updated_at: Timestamp::UNIX_EPOCH,
        }
    }

    fn own(org: &Organization, k: &str, language: &str, text: &str) -> Template {
        Template {
            id: TemplateId::generate(),
            organization_id: org.id,
            content: TemplateContent {
                kind: kind(k),
                language: lang(language),
                class: MessageClass::Care,
                text: TemplateText::parse(text).expect("valid in the test"),
                voice_text: None,
                email_subject: None,
                email_body: None,
            },
            version: 1,
            created_at: Timestamp::UNIX_EPOCH,
            updated_at: Timestamp::UNIX_EPOCH,
        }
    }

    fn patient(language: Option<&str>) -> PatientDetails {
        let mut p = PatientDetails::new("Guadalupe".into(), "Hernandez".into());
        p.preferred_name = Some("Lupe".into());
        p.language = language.map(lang);
        p
    }

    fn location(org: &Organization) -> Location {
        Location {
            id: LocationId::generate(),
            organization_id: org.id,
            name: "Main Clinic".into(),
            address: Address {
                line: Some("1 River Rd".into()),
                city: Some("Springfield".into()),
                ..Address::default()
            },
            phone: None,
            time_zone: TimeZoneName::parse("America/Chicago").expect("valid in the test"),
            opening_hours: OpeningHours::weekdays_8_to_5(),
            version: 1,
            created_at: Timestamp::UNIX_EPOCH,
            updated_at: Timestamp::UNIX_EPOCH,
        }
    }

    fn appointment(org: &Organization, location: &Location) -> Appointment {
        // 14:30 in Chicago (CDT, UTC-5).
        let visit = crate::fixtures::visit("2026-09-30T19:30:00Z", "America/Chicago", 1, AppointmentStatus::Booked);
        Appointment {
            organization_id: org.id,
            time_zone: location.time_zone.clone(),
            details: AppointmentDetails { location_id: location.id, ..visit.details.clone() },
            ..visit
        }
    }

    #[test]
    fn the_patients_language_then_the_organizations_then_english() {
        let org = organization("en");
        let mine = [own(&org, "hello", "es-MX", "Hola"), own(&org, "hello", "en", "Hi")];
        let pick = |wanted: Option<&str>, default: &str| {
            let wanted = wanted.map(lang);
            choose(&kind("hello"), &mine, wanted.as_ref(), &lang(default)).map(|(t, _)| t.text.as_str().to_owned())
        };
        assert_eq!(pick(Some("es"), "en").as_deref(), Some("Hola"), "the same primary language");
        assert_eq!(pick(Some("vi"), "es").as_deref(), Some("Hola"), "the organization's default next");
        assert_eq!(pick(Some("vi"), "fr").as_deref(), Some("Hi"), "English last");
        assert_eq!(pick(None, "en").as_deref(), Some("Hi"));
        let only_french = [own(&org, "hello", "fr", "Bonjour")];
        let (t, _) = choose(&kind("hello"), &only_french, None, &lang("en")).expect("valid in the test");
        assert_eq!(t.text.as_str(), "Bonjour", "any the organization wrote, rather than none");
        assert!(choose(&kind("nothing_like_it"), &mine, None, &lang("en")).is_none());
    }

    #[test]
    fn the_organizations_own_wins_over_the_shipped_one() {
        let org = organization("en");
        let mine = [own(&org, "appointment_reminder", "en", "{{organization.name}} says hi. STOP to opt out")];
        let (_, source) = choose(&kind("appointment_reminder"), &mine, None, &lang("en")).expect("valid in the test");
        assert_eq!(source, Source::Organization(mine[0].id));
        let (t, source) =
            choose(&kind("appointment_reminder"), &mine, Some(&lang("es")), &lang("en")).expect("valid in the test");
        assert_eq!((source, t.language.as_str()), (Source::Shipped, "es"), "shipped Spanish before own English");
    }

    #[test]
    fn a_reminder_is_worded_in_the_visits_zone_and_the_patients_language() {
        let org = organization("en");
        let place = location(&org);
        let visit = appointment(&org, &place);
        let at = Visit { appointment: &visit, location: &place, provider: None };
        let kind = kind("appointment_reminder");
        let spanish = compose(&kind, &[], &org, &patient(Some("es-MX")), Some(at), &Links::default(), Channel::Sms)
            .expect("valid in the test");
        assert_eq!(spanish.source, Source::Shipped);
        assert_eq!(spanish.language.as_str(), "es");
        assert!(spanish.body.contains("miércoles 30 de septiembre a las 2:30 p. m."), "{}", spanish.body);
        assert_eq!(spanish.subject, None);
        let email = compose(&kind, &[], &org, &patient(None), Some(at), &Links::default(), Channel::Email)
            .expect("valid in the test");
        assert_eq!(email.subject.as_deref(), Some("Your visit on Wednesday, September 30"));
        assert!(email.body.contains("Wednesday, September 30 at 2:30 PM at Main Clinic"), "{}", email.body);
        let booked = compose(
            &crate::message::template::TemplateKind::parse("appointment_booked").expect("valid in the test"),
            &[],
            &org,
            &patient(None),
            Some(at),
            &Links::default(),
            Channel::Sms,
        )
        .expect("valid in the test");
        assert!(
            booked.body.contains("Lupe, you are booked") && booked.body.contains("with your care team"),
            "{}",
            booked.body
        );
        assert_eq!(
            compose(&kind, &[], &org, &patient(None), None, &Links::default(), Channel::Sms),
            Err(ComposeError::NoAppointment)
        );
    }

    #[test]
    fn a_link_is_filled_when_the_caller_can_make_it() {
        let org = organization("en");
        let mine = [own(&org, "news", "en", "{{organization.name}} news. Stop: {{links.unsubscribe}}")];
        let kind = kind("news");
        let links = Links { unsubscribe: Some("https://r.example/unsubscribe/abc".into()), answers: None };
        let composed = compose(&kind, &mine, &org, &patient(None), None, &links, Channel::Email).expect("composed");
        assert_eq!(composed.body, "Riverbend Health news. Stop: https://r.example/unsubscribe/abc");
        let without = compose(&kind, &mine, &org, &patient(None), None, &Links::default(), Channel::Email);
        assert_eq!(without, Err(ComposeError::NoLink));
    }

    #[test]
    fn a_sample_fills_every_variable() {
        let org = organization("en");
        let all: String = Variable::ALL.iter().map(|v| format!("[{{{{{}}}}}]", v.name())).collect();
        let mine = own(&org, "everything", "es", &all);
        let (_, body) = sample(&mine.content, &org, Channel::Sms);
        assert!(!body.contains("[]") && !body.contains("{{"), "{body}");
        assert!(body.contains("[miércoles 30 de septiembre a las 10:30 a. m.]"), "{body}");
    }
}
