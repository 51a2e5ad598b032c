//! Canned replies: the practice's ready answers to what patients often ask
//! ("Parking is free behind the building"), picked in the inbox and filled
//! for the patient at hand. Their words may name the patient and the
//! practice, nothing about a visit: a reply answers a person, not a slot.

use super::template::{TemplateText, Variable};
use crate::validation::ValidationErrors;

/// The variables a canned reply may use.
pub const CANNED_VARIABLES: [Variable; 3] =
    [Variable::PatientFirstName, Variable::PatientLastName, Variable::OrganizationName];

/// A canned reply's words, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CannedWords {
    pub title: String,
    pub text: TemplateText,
}

impl CannedWords {
    /// A title of 1 to 80 characters and a text of 1 to 1,600 with only the
    /// patient's names and the practice's name as variables.
    pub fn parse(title: &str, body: &str) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let title = title.trim();
        if title.is_empty() || title.chars().count() > 80 || title.chars().any(char::is_control) {
            errors.push("title", "must be 1 to 80 printable characters");
        }
        let body = body.trim();
        if body.is_empty() || body.chars().count() > 1600 {
            errors.push("body", "must be 1 to 1,600 characters");
        }
        let text = match TemplateText::parse(body) {
            Ok(text) => Some(text),
            Err(error) => {
                errors.push("body", error.to_string());
                None
            }
        };
        if let Some(text) = &text
            && let Some(other) = text.variables().find(|v| !CANNED_VARIABLES.contains(v))
        {
            let allowed = CANNED_VARIABLES.iter().map(|v| v.name()).collect::<Vec<_>>().join(", ");
            errors.push("body", format!("may use only {allowed}, not {}", other.name()));
        }
        match text {
            Some(text) if errors.is_empty() => Ok(Self { title: title.to_owned(), text }),
            _ => Err(errors),
        }
    }

    /// The words filled for one patient of one practice.
    pub fn fill(&self, first_name: &str, last_name: &str, organization: &str) -> String {
        let value = |v: Variable| match v {
            Variable::PatientFirstName => Some(first_name.to_owned()),
            Variable::PatientLastName => Some(last_name.to_owned()),
            Variable::OrganizationName => Some(organization.to_owned()),
            _ => None,
        };
        self.text.render(&value).unwrap_or_else(|| self.text.as_str().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_canned_reply_names_the_patient_and_the_practice_and_nothing_about_a_visit() {
        let words =
            CannedWords::parse(" Parking ", "Hi {{patient.first_name}}, parking at {{organization.name}} is free.")
                .expect("valid");
        assert_eq!(words.title, "Parking");
        assert_eq!(words.fill("Ann", "Lee", "Lakeshore"), "Hi Ann, parking at Lakeshore is free.");
        let visit = CannedWords::parse("When", "See you {{appointment.when}}").expect_err("a visit's variable");
        assert!(visit.to_string().contains("appointment.when"), "{visit}");
        assert!(CannedWords::parse("", "Hi").is_err());
        assert!(CannedWords::parse("Hi", "   ").is_err());
        assert!(CannedWords::parse("Hi", "{{patient.first_name").is_err());
    }
}
