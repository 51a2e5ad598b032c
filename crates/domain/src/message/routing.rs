//! Which channel a message takes: the first in the patient's order that the
//! message can use, that has a usable address, that is not undeliverable or
//! opted out, and whose consent for the message's purpose stands. Every
//! channel passed over is named with its reason (the decision trace), and
//! no reason quotes an address.

use super::MessageClass;
use crate::consent::{Channel, Consent, ConsentStatus, Purpose};
use crate::contact::PhoneKind;
use crate::patient::PatientDetails;

/// The order used when the patient chose none.
pub const DEFAULT_ORDER: [Channel; 3] = [Channel::Sms, Channel::Email, Channel::Voice];

/// What the routing decision looks at besides the patient's record.
#[derive(Debug, Clone)]
pub struct RoutingFacts<'a> {
    pub class: MessageClass,
    /// The channels this message has a form for (its templates).
    pub forms: &'a [Channel],
    /// The patient's current consents (latest entry per channel and purpose).
    pub consents: &'a [Consent],
    /// Channels whose address bounced for good.
    pub undeliverable: &'a [Channel],
    /// Channels the patient opted out of (STOP).
    pub opted_out: &'a [Channel],
    /// The patient has a push subscription.
    pub has_push: bool,
}

/// The chosen channel, if any, and why each channel before it was not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub channel: Option<Channel>,
    pub trace: Vec<String>,
}

/// The patient's address on `channel`: the first mobile number for texts,
/// the first number for calls, the first email address. Push has no
/// address in the record (its subscriptions are kept apart).
pub fn address_for(patient: &PatientDetails, channel: Channel) -> Option<String> {
    match channel {
        Channel::Sms => patient.phones.iter().find(|p| p.kind == PhoneKind::Mobile).map(|p| p.number.to_string()),
        Channel::Voice => patient.phones.first().map(|p| p.number.to_string()),
        Channel::Email => patient.emails.first().map(|e| e.address.to_string()),
        Channel::Push => None,
    }
}

fn address_missing(channel: Channel, patient: &PatientDetails, has_push: bool) -> Option<&'static str> {
    let present = match channel {
        Channel::Push => has_push,
        _ => address_for(patient, channel).is_some(),
    };
    (!present).then_some(match channel {
        Channel::Sms => "no mobile number",
        Channel::Voice => "no phone number",
        Channel::Email => "no email address",
        Channel::Push => "no push subscription",
    })
}

fn consent_refuses(channel: Channel, purpose: Purpose, consents: &[Consent]) -> Option<&'static str> {
    let status = consents.iter().rev().find(|c| c.channel == channel && c.purpose == purpose).map(|c| c.status);
    match (purpose, status) {
        (_, Some(ConsentStatus::Revoked)) => Some("consent revoked"),
        // Treatment messages may go to the address the patient gave; anything else needs a grant.
        (Purpose::Transactional, _) | (_, Some(ConsentStatus::Granted)) => None,
        (Purpose::Marketing, None) => Some("no marketing consent"),
        (Purpose::Research, None) => Some("no research consent"),
    }
}

pub fn choose_channel(patient: &PatientDetails, facts: &RoutingFacts<'_>) -> Route {
    let order: &[Channel] = if patient.channel_order.is_empty() { &DEFAULT_ORDER } else { &patient.channel_order };
    let mut trace = Vec::new();
    for &channel in order {
        let refusal = if !facts.forms.contains(&channel) {
            Some("the message has no form for this channel")
        } else if let Some(missing) = address_missing(channel, patient, facts.has_push) {
            Some(missing)
        } else if facts.undeliverable.contains(&channel) {
            Some("the address is marked undeliverable")
        } else if facts.opted_out.contains(&channel) {
            Some("the patient opted out")
        } else {
            consent_refuses(channel, facts.class.purpose(), facts.consents)
        };
        match refusal {
            Some(reason) => trace.push(format!("{}: skipped, {reason}", channel.as_str())),
            None => {
                trace.push(format!("{}: chosen", channel.as_str()));
                return Route { channel: Some(channel), trace };
            }
        }
    }
    trace.push("no channel left: not sent".into());
    Route { channel: None, trace }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;
    use crate::contact::{Email, PhoneE164};
    use crate::ids::{ConsentId, OrganizationId, PatientId};
    use crate::patient::{PatientEmail, PatientPhone};

    fn patient(mobile: bool, email: bool) -> PatientDetails {
        let mut p = PatientDetails::new("Ann".into(), "Lee".into());
        let number = PhoneE164::parse("+13125550101").expect("phone");
        let kind = if mobile { PhoneKind::Mobile } else { PhoneKind::Landline };
        p.phones = vec![PatientPhone { number, kind }];
        if email {
            p.emails = vec![PatientEmail { address: Email::parse("ann@example.org").expect("email") }];
        }
        p
    }

    fn consent(channel: Channel, purpose: Purpose, status: ConsentStatus) -> Consent {
        Consent {
            id: ConsentId::generate(),
            organization_id: OrganizationId::generate(),
            patient_id: PatientId::generate(),
            channel,
            purpose,
            status,
            source: "test".into(),
            evidence: None,
            recorded_at: Timestamp::UNIX_EPOCH,
        }
    }

    fn facts<'a>(class: MessageClass, consents: &'a [Consent], opted_out: &'a [Channel]) -> RoutingFacts<'a> {
        RoutingFacts {
            class,
            forms: &[Channel::Sms, Channel::Email, Channel::Voice],
            consents,
            undeliverable: &[],
            opted_out,
            has_push: false,
        }
    }

    #[test]
    fn a_reminder_takes_the_first_usable_channel_and_says_why() {
        let route = choose_channel(&patient(true, true), &facts(MessageClass::Care, &[], &[]));
        assert_eq!(route, Route { channel: Some(Channel::Sms), trace: vec!["sms: chosen".into()] });
        let landline = choose_channel(&patient(false, true), &facts(MessageClass::Care, &[], &[]));
        assert_eq!(landline.channel, Some(Channel::Email));
        assert_eq!(landline.trace[0], "sms: skipped, no mobile number");
        let stopped = choose_channel(&patient(true, false), &facts(MessageClass::Care, &[], &[Channel::Sms]));
        assert_eq!(stopped.channel, Some(Channel::Voice));
        assert_eq!(stopped.trace[..2], ["sms: skipped, the patient opted out", "email: skipped, no email address"]);
    }

    #[test]
    fn marketing_needs_a_grant_and_a_revocation_stops_everything() {
        let none = choose_channel(&patient(true, true), &facts(MessageClass::Marketing, &[], &[]));
        assert_eq!(none.channel, None);
        assert_eq!(none.trace.last().map(String::as_str), Some("no channel left: not sent"));
        let granted = [consent(Channel::Email, Purpose::Marketing, ConsentStatus::Granted)];
        let email_only = choose_channel(&patient(true, true), &facts(MessageClass::Marketing, &granted, &[]));
        assert_eq!(email_only.channel, Some(Channel::Email));
        assert_eq!(email_only.trace[0], "sms: skipped, no marketing consent");
        let revoked = [
            consent(Channel::Sms, Purpose::Transactional, ConsentStatus::Granted),
            consent(Channel::Sms, Purpose::Transactional, ConsentStatus::Revoked),
        ];
        let reminder = choose_channel(&patient(true, true), &facts(MessageClass::Care, &revoked, &[]));
        assert_eq!(
            (reminder.channel, reminder.trace[0].as_str()),
            (Some(Channel::Email), "sms: skipped, consent revoked")
        );
    }

    #[test]
    fn the_patients_order_comes_first_and_no_reason_quotes_an_address() {
        let mut p = patient(true, true);
        p.channel_order = vec![Channel::Push, Channel::Email, Channel::Sms];
        let route = choose_channel(&p, &facts(MessageClass::Care, &[], &[]));
        assert_eq!(route.channel, Some(Channel::Email));
        assert_eq!(route.trace[0], "push: skipped, the message has no form for this channel");
        assert!(route.trace.iter().all(|line| !line.contains("555") && !line.contains('@')));
    }
}
