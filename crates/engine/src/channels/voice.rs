//! Voice calls through a Twilio-compatible Calls API (`2010-04-01` Calls
//! resource). The call's words are TwiML that Rapport serves when the
//! patient answers (`/hooks/twilio/{org}/messages/{id}/voice`): the text
//! spoken in the message's language, and a keypad prompt whose answer comes
//! back to `…/keypad`: press 1 to hear it again, or, in a reminder, 1 to
//! confirm, 2 to cancel, 3 to reschedule and 9 to hear it again. Calls
//! report their status to the same callback as texts.
//!
//! Answers are read as for texts (`twilio.rs`). A call cannot be matched by
//! its words, so the lookup after an unreadable answer takes any call to
//! the number made since the hand-off began as this one: a patient may miss
//! a call, never get two.

use jiff::SignedDuration;
use rapport_domain::{LanguageTag, MessageId, OrganizationId};
use serde::Deserialize;

use super::twilio::{TwilioSettings, create, list_to, parse_date};
use super::{BoxFuture, Found, Handoff, Outcome, Provider, ProviderRef};

pub struct TwilioVoice {
    settings: TwilioSettings,
    client: reqwest::Client,
}

#[derive(Debug, Deserialize)]
struct CallResource {
    sid: String,
    #[serde(default)]
    date_created: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CallList {
    calls: Vec<CallResource>,
}

/// Where Twilio fetches a call's TwiML.
pub fn voice_url(base: &str, org: OrganizationId, id: MessageId) -> String {
    format!("{}/hooks/twilio/{org}/messages/{id}/voice", base.trim_end_matches('/'))
}

/// Where the keypad's answer goes.
pub fn keypad_url(base: &str, org: OrganizationId, id: MessageId) -> String {
    format!("{}/hooks/twilio/{org}/messages/{id}/keypad", base.trim_end_matches('/'))
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

/// What a call says besides the message, in one language.
struct Phrases {
    /// The voice `<Say>` speaks in.
    voice: &'static str,
    again: &'static str,
    /// A reminder's prompt: answer 1, 2 or 3, or hear it again with 9.
    answers: &'static str,
    goodbye: &'static str,
    confirmed: &'static str,
    cancelled: &'static str,
    reschedule: &'static str,
    /// The visit no longer takes answers by this call.
    closed: &'static str,
}

/// US English or US Spanish (others: English until their prompts are written).
fn phrases(language: &LanguageTag) -> &'static Phrases {
    const ENGLISH: Phrases = Phrases {
        voice: "en-US",
        again: "To hear this message again, press 1.",
        answers: "To confirm your visit, press 1. If you cannot come, press 2. To change the time, press 3. To hear this message again, press 9.",
        goodbye: "Thank you. Goodbye.",
        confirmed: "Thank you. Your visit is confirmed.",
        cancelled: "Your visit is cancelled. To book again, please call us.",
        reschedule: "Thank you. We will call you to find a new time.",
        closed: "This visit has changed since this call was made. Please call us.",
    };
    const SPANISH: Phrases = Phrases {
        voice: "es-US",
        again: "Para escuchar el mensaje otra vez, oprima 1.",
        answers: "Para confirmar su cita, oprima 1. Si no puede venir, oprima 2. Para cambiar la hora, oprima 3. Para escuchar el mensaje otra vez, oprima 9.",
        goodbye: "Gracias. Adios.",
        confirmed: "Gracias. Su cita queda confirmada.",
        cancelled: "Su cita fue anulada. Para otra cita, llamenos.",
        reschedule: "Gracias. Le llamaremos para buscar otra hora.",
        closed: "Esta cita cambio despues de esta llamada. Por favor, llamenos.",
    };
    match language.primary() {
        "es" => &SPANISH,
        _ => &ENGLISH,
    }
}

/// The key that repeats a call's words: 9 where 1 to 3 answer a reminder.
pub fn again_key(answers: bool) -> char {
    if answers { '9' } else { '1' }
}

/// The TwiML of a call: the words, then a keypad prompt: to hear them
/// again, or (`answers`, a reminder) to confirm, cancel or reschedule.
pub fn twiml(body: &str, language: &LanguageTag, keypad: &str, answers: bool) -> String {
    let p = phrases(language);
    let (voice, prompt, goodbye) = (p.voice, if answers { p.answers } else { p.again }, p.goodbye);
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Gather input="dtmf" numDigits="1" timeout="6" action="{}" method="POST"><Say language="{voice}">{}</Say><Say language="{voice}">{prompt}</Say></Gather><Say language="{voice}">{goodbye}</Say></Response>"#,
        xml_escape(keypad),
        xml_escape(body)
    )
}

/// What became of an answer given by the keypad, as the call says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spoken {
    Confirmed,
    Cancelled,
    Reschedule,
    Closed,
}

/// The TwiML that says what an answer did, then ends the call.
pub fn twiml_answered(spoken: Spoken, language: &LanguageTag) -> String {
    let p = phrases(language);
    let said = match spoken {
        Spoken::Confirmed => p.confirmed,
        Spoken::Cancelled => p.cancelled,
        Spoken::Reschedule => p.reschedule,
        Spoken::Closed => p.closed,
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Say language="{v}">{said}</Say><Say language="{v}">{g}</Say><Hangup/></Response>"#,
        v = p.voice,
        g = p.goodbye
    )
}

/// The TwiML that ends a call politely.
pub fn twiml_goodbye(language: &LanguageTag) -> String {
    let (voice, goodbye) = (phrases(language).voice, phrases(language).goodbye);
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Say language="{voice}">{goodbye}</Say><Hangup/></Response>"#
    )
}

impl TwilioVoice {
    pub fn new(settings: TwilioSettings) -> anyhow::Result<Self> {
        crate::tls::install_crypto_provider();
        let client = reqwest::Client::builder().timeout(settings.timeout).build()?;
        Ok(Self { settings, client })
    }

    fn calls_url(&self) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/Calls.json",
            self.settings.base_url.trim_end_matches('/'),
            self.settings.account_sid
        )
    }

    async fn call(&self, handoff: &Handoff) -> Outcome {
        let (Some(base), Some(from)) = (&self.settings.callback_base, &self.settings.from) else {
            let reason = "a call needs public_url (for its words) and a from number".into();
            return Outcome::Refused { reason, undeliverable: false };
        };
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("To", &handoff.to)
            .append_pair("From", from)
            .append_pair("Url", &voice_url(base, handoff.organization_id, handoff.message_id))
            .append_pair("Method", "POST")
            .append_pair("StatusCallback", &super::twilio::TwilioSms::status_callback(base, handoff))
            .append_pair("StatusCallbackEvent", "completed")
            .finish();
        match create(&self.client, &self.settings, &self.calls_url(), body).await {
            // 21610 is the texting opt-out; a call is not refused for it.
            Outcome::OptedOut => {
                Outcome::Refused { reason: "refused by the provider (21610)".into(), undeliverable: false }
            }
            outcome => outcome,
        }
    }

    async fn find(&self, handoff: &Handoff) -> Found {
        let list: CallList = match list_to(&self.client, &self.settings, &self.calls_url(), &handoff.to).await {
            Ok(list) => list,
            Err(unknown) => return unknown,
        };
        let since = handoff.sending_at - SignedDuration::from_mins(1);
        let provider_refs: Vec<ProviderRef> = list
            .calls
            .into_iter()
            .filter(|c| c.date_created.as_deref().and_then(parse_date).is_some_and(|at| at >= since))
            .map(|c| c.sid.into())
            .collect();
        if provider_refs.is_empty() { Found::No } else { Found::Yes { provider_refs } }
    }
}

impl Provider for TwilioVoice {
    fn name(&self) -> &'static str {
        "twilio-voice"
    }

    fn sender(&self) -> Option<&str> {
        self.settings.from.as_deref()
    }

    fn send<'a>(&'a self, handoff: &'a Handoff) -> BoxFuture<'a, Outcome> {
        Box::pin(self.call(handoff))
    }

    fn lookup<'a>(&'a self, handoff: &'a Handoff) -> BoxFuture<'a, Found> {
        Box::pin(self.find(handoff))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twiml_speaks_the_words_in_the_language_and_offers_the_keypad() {
        let spanish = LanguageTag::parse("es-MX").expect("valid in the test");
        let xml = twiml("Su cita es el martes <10:30> & mas", &spanish, "https://r.example/k?a=1&b=2", false);
        assert!(xml.contains(r#"<Say language="es-US">Su cita es el martes &lt;10:30&gt; &amp; mas</Say>"#), "{xml}");
        assert!(xml.contains(r#"action="https://r.example/k?a=1&amp;b=2""#), "{xml}");
        assert!(xml.contains("oprima 1"));
        let english = LanguageTag::parse("vi").expect("valid in the test");
        assert!(twiml_goodbye(&english).contains(r#"<Say language="en-US">Thank you. Goodbye.</Say><Hangup/>"#));
        let reminder = twiml("Your visit is on Tuesday.", &english, "https://r.example/k", true);
        assert!(reminder.contains("To confirm your visit, press 1. If you cannot come, press 2."), "{reminder}");
        assert!(twiml_answered(Spoken::Confirmed, &spanish).contains("Su cita queda confirmada.</Say>"));
        assert_eq!((again_key(true), again_key(false)), ('9', '1'));
    }
}
