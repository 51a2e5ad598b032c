//! What a text says before anything else reads it (RULES.md: CTIA, the
//! FCC): the compliance keywords, compared on the whole text with case and
//! spacing aside, and free text that reads as "stop texting me", which is
//! no keyword but may be a revocation "by any reasonable means" and goes to
//! a person flagged as such.

/// A compliance keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    /// STOP and its CTIA equivalents: no more texts from that sender.
    OptOut,
    /// START, UNSTOP: texts resume.
    OptIn,
    /// YES: re-subscribes a number that opted out, and is also an answer
    /// (a confirmation, a waitlist YES), so it is read on.
    Yes,
    /// HELP, INFO: the practice's name and how to reach it.
    Help,
}

const OPT_OUT: [&str; 13] = [
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
    "OPT OUT",
    "OPT-OUT",
    "REMOVE",
    "ARRET",
    "TD",
];
const OPT_IN: [&str; 2] = ["START", "UNSTOP"];
const HELP: [&str; 3] = ["HELP", "INFO", "AYUDA"];

/// The keyword the whole text is, if it is one.
pub fn keyword(text: &str) -> Option<Keyword> {
    let word = text.split_whitespace().collect::<Vec<_>>().join(" ").to_uppercase();
    let word = word.trim_end_matches(['.', '!']);
    if OPT_OUT.contains(&word) {
        Some(Keyword::OptOut)
    } else if OPT_IN.contains(&word) {
        Some(Keyword::OptIn)
    } else if word == "YES" {
        Some(Keyword::Yes)
    } else if HELP.contains(&word) {
        Some(Keyword::Help)
    } else {
        None
    }
}

/// Phrases that ask, in other words, for the texts to stop (English and
/// Spanish). Matching one only flags the text for a person: a false alarm
/// costs a look, a miss could cost a violation.
const REVOCATION_PHRASES: [&str; 22] = [
    "stop texting",
    "stop sending",
    "stop messaging",
    "stop contacting",
    "stop calling",
    "dont text",
    "do not text",
    "dont message",
    "do not message",
    "dont contact",
    "do not contact",
    "no more texts",
    "no more messages",
    "unsubscribe",
    "remove me",
    "take me off",
    "opt me out",
    "no me manden",
    "no me envien",
    "no mas mensajes",
    "dejen de enviar",
    "dejen de mandar",
];

/// Whether free text reads as a wish to receive no more texts.
pub fn reads_as_revocation(text: &str) -> bool {
    let folded = fold(text);
    if keyword(text) == Some(Keyword::OptOut) {
        return false;
    }
    let starts_with_stop = folded.split(' ').next().is_some_and(|w| w == "stop" || w == "unsubscribe");
    starts_with_stop || REVOCATION_PHRASES.iter().any(|p| folded.contains(p))
}

/// Lower case, accents and apostrophes gone, every other mark a space,
/// spaces collapsed: "Don't TEXT me!" → "dont text me".
fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        let c = match c {
            'á' | 'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'ö' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ñ' => 'n',
            '\'' | '’' => continue,
            c if c.is_alphanumeric() => c,
            _ => ' ',
        };
        if c != ' ' || !out.ends_with(' ') {
            out.push(c);
        }
    }
    out.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_match_the_whole_text_whatever_the_case_and_spacing() {
        for text in ["stop", " Stop ", "opt   out", "Opt-Out", "arret", "td", "REMOVE", "Stop."] {
            assert_eq!(keyword(text), Some(Keyword::OptOut), "{text:?}");
        }
        for text in ["stop texting me please", "stopp", "yes stop", "", "2"] {
            assert_ne!(keyword(text), Some(Keyword::OptOut), "{text:?}");
        }
        assert_eq!(keyword("unstop"), Some(Keyword::OptIn));
        assert_eq!(keyword(" Start"), Some(Keyword::OptIn));
        assert_eq!(keyword("yes"), Some(Keyword::Yes));
        assert_eq!(keyword("Help"), Some(Keyword::Help));
        assert_eq!(keyword("info"), Some(Keyword::Help));
        assert_eq!(keyword("ayuda"), Some(Keyword::Help));
        assert_eq!(keyword("help me reschedule"), None);
    }

    #[test]
    fn free_text_asking_to_stop_reads_as_a_revocation() {
        for text in [
            "Please stop texting me",
            "Don't text me anymore!",
            "stop please",
            "STOP IT",
            "take me off your list",
            "No me manden más mensajes",
            "no más mensajes por favor",
            "I want to unsubscribe",
        ] {
            assert!(reads_as_revocation(text), "{text:?}");
        }
        for text in ["STOP", "Thanks, see you Tuesday", "2", "Can I stop by earlier?", "non-stop day, sorry"] {
            assert!(!reads_as_revocation(text), "{text:?}");
        }
    }
}
