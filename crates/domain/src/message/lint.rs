//! The message linter: what RULES.md asks of a text before it goes, checked
//! on the words staff write (a template or a one-off message). Findings
//! name the rule and never quote patient data (the text checked is staff's).
//!
//! - SMS size: segments and encoding (GSM-7 or UCS-2, and which character
//!   forced UCS-2);
//! - care texts (the FCC's healthcare exemption): 160 characters or fewer,
//!   the practice named, opt-out by STOP offered, no billing or marketing;
//! - "reply CANCEL" in a text: CANCEL is an opt-out keyword;
//! - protected details (a diagnosis, a procedure, a revealing specialty, a
//!   balance) in an unsecured channel (text, voice, email, a push on a lock
//!   screen);
//! - "reply" or STOP in what a call says (a call is not a text).

use super::MessageClass;
use super::segments::{Encoding, measure};
use crate::consent::Channel;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worth knowing (the size in segments).
    Info,
    /// Allowed, but costly or unwise.
    Warning,
    /// Breaks a rule: do not send it as written.
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    /// A stable name for the rule (`sms.segments`, `care.length` …).
    pub rule: &'static str,
    pub message: String,
}

/// What is checked.
#[derive(Debug, Clone)]
pub struct LintInput<'a> {
    pub channel: Channel,
    pub class: MessageClass,
    pub body: &'a str,
    /// The practice's name, as patients know it.
    pub practice: &'a str,
}

/// Words that reveal health details or money owed, matched as whole words,
/// case-insensitively. Minimum necessary: these belong behind a signed link.
const PROTECTED: &[&str] = &[
    "diagnosis",
    "diagnosed",
    "hiv",
    "aids",
    "cancer",
    "oncology",
    "chemotherapy",
    "pregnancy",
    "pregnant",
    "abortion",
    "std",
    "sti",
    "hepatitis",
    "psychiatry",
    "psychiatric",
    "depression",
    "addiction",
    "rehab",
    "methadone",
    "biopsy",
    "colonoscopy",
    "mammogram",
    "dialysis",
    "surgery",
    "vasectomy",
    "ivf",
    "fertility",
    "positive",
    "balance",
    "overdue",
    "owe",
    "owed",
    "debt",
    "collections",
];

/// Words that make a care text billing or marketing.
const COMMERCIAL: &[&str] = &["balance", "payment", "pay", "invoice", "bill", "offer", "discount", "sale", "promo"];

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

fn finding(severity: Severity, rule: &'static str, message: impl Into<String>) -> Finding {
    Finding { severity, rule, message: message.into() }
}

pub fn lint(input: &LintInput<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    let words = words(input.body);
    let has = |w: &str| words.iter().any(|x| x == w);
    let texting = input.channel == Channel::Sms;
    if texting {
        let size = measure(input.body);
        let encoding = match size.encoding {
            Encoding::Gsm7 => "GSM-7",
            Encoding::Ucs2 => "UCS-2",
        };
        findings.push(finding(
            Severity::Info,
            "sms.segments",
            format!("{} segment(s), {encoding}, {} units", size.segments, size.units),
        ));
        if size.encoding == Encoding::Ucs2 {
            let culprit = input.body.chars().find(|&c| measure(&c.to_string()).encoding == Encoding::Ucs2);
            let shown = culprit.map_or_else(String::new, |c| format!(" (U+{:04X})", u32::from(c)));
            findings.push(finding(
                Severity::Warning,
                "sms.encoding",
                format!("a character outside GSM-7{shown} makes the whole text UCS-2: 70 characters a segment"),
            ));
        }
        if has("cancel") {
            findings.push(finding(
                Severity::Error,
                "sms.cancel_keyword",
                "CANCEL is an opt-out keyword: a patient replying it opts out; ask for another reply (\"reply 2\")",
            ));
        }
    }
    if texting && input.class == MessageClass::Care {
        let characters = input.body.chars().count();
        if characters > 160 {
            findings.push(finding(
                Severity::Error,
                "care.length",
                format!("{characters} characters: an exempt care text has 160 or fewer"),
            ));
        }
        if !input.practice.is_empty() && !input.body.to_lowercase().contains(&input.practice.to_lowercase()) {
            findings.push(finding(Severity::Error, "care.practice", "an exempt care text names the practice"));
        }
        if !has("stop") {
            findings.push(finding(
                Severity::Error,
                "care.opt_out",
                "an exempt care text offers opt-out: \"Reply STOP to opt out\"",
            ));
        }
        if let Some(word) = COMMERCIAL.iter().find(|w| has(w)) {
            findings.push(finding(
                Severity::Error,
                "care.commercial",
                format!("\"{word}\": an exempt care text carries no billing or marketing content"),
            ));
        }
    }
    if texting && input.class == MessageClass::Marketing && !has("stop") {
        findings.push(finding(
            Severity::Error,
            "marketing.opt_out",
            "a marketing text says how to opt out (\"Reply STOP\")",
        ));
    }
    if input.channel == Channel::Voice && (has("reply") || has("responda") || has("stop")) {
        findings.push(finding(
            Severity::Warning,
            "voice.reply",
            "a call cannot be answered by text: say which key to press instead",
        ));
    }
    // A lock screen shows a push notification to whoever holds the phone.
    if matches!(input.channel, Channel::Sms | Channel::Voice | Channel::Email | Channel::Push)
        && let Some(word) = PROTECTED.iter().find(|w| has(w))
    {
        findings.push(finding(
            Severity::Error,
            "phi.unsecured",
            format!(
                "\"{word}\" reveals health or billing details in an unsecured channel ({}): put them behind a signed link",
                input.channel.as_str()
            ),
        ));
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(channel: Channel, class: MessageClass, body: &str) -> Vec<&'static str> {
        let input = LintInput { channel, class, body, practice: "Riverbend Health" };
        lint(&input).into_iter().filter(|f| f.severity != Severity::Info).map(|f| f.rule).collect()
    }

    #[test]
    fn a_good_care_text_passes() {
        let body =
            "Riverbend Health: see you Tue Nov 24 at 9:30 AM. Call 312-555-0100 to change. Reply STOP to opt out.";
        assert_eq!(rules(Channel::Sms, MessageClass::Care, body), Vec::<&str>::new());
    }

    #[test]
    fn care_texts_keep_the_exemptions_terms() {
        let long = format!("Riverbend Health: {} Reply STOP to opt out.", "a".repeat(150));
        assert_eq!(rules(Channel::Sms, MessageClass::Care, &long), ["care.length"]);
        assert_eq!(
            rules(Channel::Sms, MessageClass::Care, "See you at 9:30. Reply STOP to opt out."),
            ["care.practice"]
        );
        assert_eq!(rules(Channel::Sms, MessageClass::Care, "Riverbend Health: see you at 9:30."), ["care.opt_out"]);
        let billing = "Riverbend Health: pay your bill online. Reply STOP to opt out.";
        assert_eq!(rules(Channel::Sms, MessageClass::Care, billing), ["care.commercial"]);
    }

    #[test]
    fn cancel_in_a_text_is_flagged_and_ucs2_is_explained() {
        let body = "Riverbend Health: reply CANCEL to cancel. Reply STOP to opt out.";
        assert_eq!(rules(Channel::Sms, MessageClass::Transactional, body), ["sms.cancel_keyword"]);
        let curly = lint(&LintInput {
            channel: Channel::Sms,
            class: MessageClass::Transactional,
            body: "We\u{2019}ll see you soon",
            practice: "",
        });
        assert!(curly.iter().any(|f| f.rule == "sms.encoding" && f.message.contains("U+2019")), "{curly:?}");
        assert!(curly.iter().any(|f| f.rule == "sms.segments" && f.message.starts_with("1 segment(s), UCS-2")));
    }

    #[test]
    fn a_call_does_not_ask_for_a_text_reply() {
        let spoken = "Riverbend Health: see you Tuesday. Reply STOP to opt out.";
        assert_eq!(rules(Channel::Voice, MessageClass::Care, spoken), ["voice.reply"]);
        assert_eq!(rules(Channel::Voice, MessageClass::Care, "Hello, this is Riverbend Health."), Vec::<&str>::new());
    }

    #[test]
    fn protected_details_are_refused_in_unsecured_channels() {
        let body = "Riverbend Health: your biopsy is on Tuesday. Reply STOP to opt out.";
        assert_eq!(rules(Channel::Sms, MessageClass::Care, body), ["phi.unsecured"]);
        assert_eq!(rules(Channel::Email, MessageClass::Transactional, "Your balance is due."), ["phi.unsecured"]);
        assert_eq!(rules(Channel::Push, MessageClass::Transactional, "Your balance is due."), ["phi.unsecured"]);
        assert_eq!(rules(Channel::Email, MessageClass::Transactional, "Your visit is on Tuesday."), Vec::<&str>::new());
        assert_eq!(
            rules(Channel::Sms, MessageClass::Marketing, "Flu shots this week at Riverbend Health"),
            ["marketing.opt_out"]
        );
    }
}
