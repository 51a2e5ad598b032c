//! A patient's answer to a visit's reminder: confirm, cancel or ask to
//! reschedule, by a text reply ("1", "yes", "sí", 👍), a key pressed in the
//! reminder call, or a signed link in an email. Pure: reading a reply's
//! words, and what an answer does to the visit.
//!
//! The words never include CANCEL, STOP or any other opt-out keyword
//! (RULES.md): those are read first, as opt-outs, and an organization's own
//! words may not take them (`ReplyWords::with`).

use std::str::FromStr;

use jiff::Timestamp;

use crate::appointment::Appointment;
use crate::contact::UnknownWord;
use crate::ids::MessageId;
use crate::message::template::ShippedKind;
use crate::reminder::answerable;

/// What the patient answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Answer {
    Confirm,
    Cancel,
    Reschedule,
}

impl Answer {
    pub const ALL: [Answer; 3] = [Answer::Confirm, Answer::Cancel, Answer::Reschedule];

    pub fn as_str(self) -> &'static str {
        match self {
            Answer::Confirm => "confirm",
            Answer::Cancel => "cancel",
            Answer::Reschedule => "reschedule",
        }
    }

    /// The key of a reminder call's keypad, and the digit of a text reply.
    pub fn digit(self) -> char {
        match self {
            Answer::Confirm => '1',
            Answer::Cancel => '2',
            Answer::Reschedule => '3',
        }
    }

    pub fn from_digit(digit: char) -> Option<Self> {
        Answer::ALL.into_iter().find(|a| a.digit() == digit)
    }

    /// The template that acknowledges it by text.
    pub fn acknowledgement(self) -> ShippedKind {
        match self {
            Answer::Confirm => ShippedKind::AnswerConfirmed,
            Answer::Cancel => ShippedKind::AppointmentCancelled,
            Answer::Reschedule => ShippedKind::AnswerReschedule,
        }
    }
}

/// The template that tells a patient their answer could not be placed
/// (staff will call).
pub const UNCLEAR_ACKNOWLEDGEMENT: ShippedKind = ShippedKind::AnswerUnclear;

impl FromStr for Answer {
    type Err = UnknownWord;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Answer::ALL.into_iter().find(|a| a.as_str() == s.trim()).ok_or(UnknownWord("confirm, cancel or reschedule"))
    }
}

/// Words a reply may not be given: opt-out and opt-in keywords (CTIA) and
/// HELP, which carriers and Rapport read before any answer.
const RESERVED: [&str; 18] = [
    "stop",
    "stopall",
    "unsubscribe",
    "cancel",
    "end",
    "quit",
    "revoke",
    "optout",
    "opt out",
    "opt-out",
    "remove",
    "arret",
    "td",
    "start",
    "unstop",
    "help",
    "info",
    "yes",
];

/// The words each answer accepts, compared after `normalize`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyWords {
    pub confirm: Vec<String>,
    pub cancel: Vec<String>,
    pub reschedule: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyWordsError {
    #[error("is an opt-out, opt-in or help keyword, which a reply may not use")]
    Reserved,
    #[error("already means another answer")]
    Taken,
    #[error("must be 1 to 30 characters")]
    Length,
}

impl ReplyWords {
    /// The digits, and the usual words in English and Spanish. "yes" is
    /// START to carriers, but a patient answering a reminder means confirm;
    /// Rapport reads it as both (it lifts a STOP and confirms).
    pub fn standard() -> Self {
        let words = |list: &[&str]| list.iter().map(|w| (*w).to_owned()).collect();
        Self {
            confirm: words(&[
                "1",
                "yes",
                "y",
                "yeah",
                "yep",
                "yup",
                "ok",
                "okay",
                "confirm",
                "confirmed",
                "si",
                "confirmo",
                "confirmado",
                "claro",
                "\u{1f44d}",
                "\u{2705}",
            ]),
            cancel: words(&["2", "no", "n", "nope", "cancelar", "cancelo", "cant make it", "cannot make it"]),
            reschedule: words(&["3", "reschedule", "change", "move", "cambiar", "reprogramar", "otra fecha"]),
        }
    }

    /// The standard words and `extra` ones for `answer`; an extra word is
    /// refused when it is a keyword or means another answer already.
    pub fn with(mut self, answer: Answer, extra: &[String]) -> Result<Self, (usize, ReplyWordsError)> {
        for (i, word) in extra.iter().enumerate() {
            let word = normalize(word);
            if word.is_empty() || word.chars().count() > 30 {
                return Err((i, ReplyWordsError::Length));
            }
            if RESERVED.contains(&word.as_str()) {
                return Err((i, ReplyWordsError::Reserved));
            }
            if Answer::ALL.into_iter().any(|other| other != answer && self.of(other).contains(&word)) {
                return Err((i, ReplyWordsError::Taken));
            }
            if !self.of(answer).contains(&word) {
                self.of_mut(answer).push(word);
            }
        }
        Ok(self)
    }

    fn of(&self, answer: Answer) -> &Vec<String> {
        match answer {
            Answer::Confirm => &self.confirm,
            Answer::Cancel => &self.cancel,
            Answer::Reschedule => &self.reschedule,
        }
    }

    fn of_mut(&mut self, answer: Answer) -> &mut Vec<String> {
        match answer {
            Answer::Confirm => &mut self.confirm,
            Answer::Cancel => &mut self.cancel,
            Answer::Reschedule => &mut self.reschedule,
        }
    }

    /// The answer a whole reply gives, if it is one of the words (a word
    /// and "thanks" or "please" after it counts); `None` for anything else,
    /// which goes to staff rather than be guessed at.
    pub fn read(&self, text: &str) -> Option<Answer> {
        let text = normalize(text);
        let core = COURTESIES
            .iter()
            .find_map(|c| text.strip_suffix(c).map(|rest| rest.trim_end_matches([' ', ',', '.', '!']).to_owned()))
            .filter(|rest| !rest.is_empty())
            .unwrap_or(text);
        if let Some(answer) = Answer::ALL.into_iter().find(|&a| self.of(a).contains(&core)) {
            return Some(answer);
        }
        // Every word giving the same answer: "yes 👍", "ok si".
        let each: Vec<Option<Answer>> = core
            .split(' ')
            .map(|word| Answer::ALL.into_iter().find(|&a| self.of(a).iter().any(|w| w == word)))
            .collect();
        match each.first() {
            Some(Some(first)) if each.iter().all(|a| *a == Some(*first)) => Some(*first),
            _ => None,
        }
    }
}

/// Politeness after an answer ("yes thanks", "si gracias").
const COURTESIES: [&str; 7] = ["thank you", "thanks", "thx", "please", "gracias", "por favor", "ty"];

/// Lower case, Spanish accents folded, emoji variation and skin-tone marks
/// dropped, surrounding punctuation and inner runs of spaces removed.
pub fn normalize(text: &str) -> String {
    let folded: String = text
        .chars()
        .filter(|c| !matches!(*c, '\u{fe0f}' | '\u{1f3fb}'..='\u{1f3ff}'))
        .map(|c| match c {
            'á' | 'Á' => 'a',
            'é' | 'É' => 'e',
            'í' | 'Í' => 'i',
            'ó' | 'Ó' => 'o',
            'ú' | 'Ú' | 'ü' | 'Ü' => 'u',
            'ñ' | 'Ñ' => 'n',
            '\'' | '\u{2019}' => '\0',
            other => other,
        })
        .filter(|c| *c != '\0')
        .flat_map(char::to_lowercase)
        .collect();
    let trimmed = folded.trim_matches(|c: char| c.is_whitespace() || ".,;:!?¡¿\"()".contains(c));
    trimmed.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A visit a reminder sent to one number asked about.
#[derive(Debug, Clone, PartialEq)]
pub struct Asked {
    pub appointment: Appointment,
    /// The reminder, and its key (which names the visit's version).
    pub message_id: MessageId,
    pub key: String,
    /// The patient's latest answer to the visit as it stands, if any.
    pub answered: Option<Answer>,
}

/// Which visit a text's answer is for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target<'a> {
    Visit(&'a Asked),
    /// Several visits could be meant (a second visit, a phone several
    /// patients share), or only ones that changed since: staff decide.
    Unclear,
    /// No reminder asked anything of this number lately.
    Unasked,
}

/// The visit an answer from a number goes to, given what was asked of it
/// (newest first): the one open visit; else the one open visit not yet
/// answered; else it is unclear. Never a guess.
pub fn target(asked: &[Asked], now: Timestamp) -> Target<'_> {
    if asked.is_empty() {
        return Target::Unasked;
    }
    let mut open: Vec<&Asked> = Vec::new();
    for a in asked.iter().filter(|a| answerable(&a.key, &a.appointment, now)) {
        if !open.iter().any(|o| o.appointment.id == a.appointment.id) {
            open.push(a);
        }
    }
    let unanswered: Vec<&Asked> = open.iter().copied().filter(|a| a.answered.is_none()).collect();
    match (open.as_slice(), unanswered.as_slice()) {
        ([only], _) | (_, [only]) => Target::Visit(only),
        _ => Target::Unclear,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appointment::AppointmentStatus;
    use crate::reminder::key_prefix;

    fn asked(start: &str, answered: Option<Answer>) -> Asked {
        let appointment = crate::fixtures::visit(start, "America/Chicago", 1, AppointmentStatus::Booked);
        let key = format!("{}v1:1d", key_prefix(appointment.id));
        Asked { appointment, message_id: MessageId::generate(), key, answered }
    }

    #[test]
    fn an_answer_goes_to_the_one_open_visit_or_the_one_not_yet_answered_and_never_a_guess() {
        let now: Timestamp = "2026-11-10T12:00:00Z".parse().expect("valid");
        assert_eq!(target(&[], now), Target::Unasked);
        let one = [asked("2026-11-12T15:00:00Z", None)];
        assert_eq!(target(&one, now), Target::Visit(&one[0]));
        let answered_before =
            [asked("2026-11-13T15:00:00Z", None), asked("2026-11-12T15:00:00Z", Some(Answer::Confirm))];
        assert_eq!(target(&answered_before, now), Target::Visit(&answered_before[0]), "the one still waiting");
        let two = [asked("2026-11-13T15:00:00Z", None), asked("2026-11-12T15:00:00Z", None)];
        assert_eq!(target(&two, now), Target::Unclear, "two visits waiting: staff decide");
        let past = [asked("2026-11-09T15:00:00Z", None)];
        assert_eq!(target(&past, now), Target::Unclear, "asked, but nothing open: staff decide");
        let mut twice = asked("2026-11-12T15:00:00Z", None);
        let again = Asked { message_id: MessageId::generate(), ..twice.clone() };
        twice.key = format!("{}v1:3d", key_prefix(twice.appointment.id));
        let same_visit = [again, twice];
        assert_eq!(target(&same_visit, now), Target::Visit(&same_visit[0]), "two reminders of one visit");
    }

    #[test]
    fn digits_and_synonyms_in_english_and_spanish_are_read_whatever_the_case() {
        let words = ReplyWords::standard();
        for text in [
            "1",
            " 1. ",
            "Yes",
            "YES!",
            "y",
            "ok",
            "Sí",
            "si",
            "Confirmo",
            "👍",
            "👍🏽",
            "yes thanks",
            "Sí, gracias",
            "Yes 👍",
            "ok si",
        ] {
            assert_eq!(words.read(text), Some(Answer::Confirm), "{text:?}");
        }
        for text in ["2", "No", "no.", "Cancelar", "can't make it"] {
            assert_eq!(words.read(text), Some(Answer::Cancel), "{text:?}");
        }
        for text in ["3", "Reschedule please", "cambiar", "otra fecha"] {
            assert_eq!(words.read(text), Some(Answer::Reschedule), "{text:?}");
        }
    }

    #[test]
    fn free_text_and_opt_out_keywords_are_no_answer() {
        let words = ReplyWords::standard();
        for text in
            ["cancel", "CANCEL", "stop", "yes but I will be late", "12", "what time?", "", "thanks", "1 2", "yes no"]
        {
            assert_eq!(words.read(text), None, "{text:?}");
        }
    }

    #[test]
    fn an_organization_may_add_words_but_never_a_keyword_or_another_answers_word() {
        let words =
            ReplyWords::standard().with(Answer::Confirm, &["Vale".into(), "  Absolutely ".into()]).expect("new words");
        assert_eq!(words.read("vale"), Some(Answer::Confirm));
        assert_eq!(words.read("absolutely!"), Some(Answer::Confirm));
        let refused = |answer, word: &str| ReplyWords::standard().with(answer, &[word.to_owned()]).err();
        assert_eq!(refused(Answer::Cancel, "Cancel"), Some((0, ReplyWordsError::Reserved)));
        assert_eq!(refused(Answer::Cancel, "STOP"), Some((0, ReplyWordsError::Reserved)));
        assert_eq!(refused(Answer::Cancel, "yes"), Some((0, ReplyWordsError::Reserved)));
        assert_eq!(refused(Answer::Cancel, "ok"), Some((0, ReplyWordsError::Taken)));
        assert_eq!(refused(Answer::Confirm, " "), Some((0, ReplyWordsError::Length)));
    }

    #[test]
    fn digits_name_the_answers_both_ways() {
        for answer in Answer::ALL {
            assert_eq!(Answer::from_digit(answer.digit()), Some(answer));
            assert_eq!(answer.as_str().parse::<Answer>(), Ok(answer));
        }
        assert_eq!(Answer::from_digit('9'), None);
    }
}
