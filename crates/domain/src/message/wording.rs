//! How a moment and a place are written to a patient: a visit's date and
//! time in its location's wall-clock time, in English or Spanish (other
//! languages get the English form until they have their own), and a postal
//! address on one line.

use jiff::Zoned;

use crate::patient::Address;
use crate::value::LanguageTag;

const WEEKDAYS_EN: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const WEEKDAYS_ES: [&str; 7] = ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"];
const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const MONTHS_ES: [&str; 12] = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
];

fn spanish(language: &LanguageTag) -> bool {
    language.primary() == "es"
}

fn names(at: &Zoned) -> (usize, usize) {
    let weekday = usize::from(at.weekday().to_monday_zero_offset().unsigned_abs());
    let month = usize::from(at.month().unsigned_abs()) - 1;
    (weekday, month)
}

/// "Tuesday, March 3" / "martes 3 de marzo".
pub fn date(at: &Zoned, language: &LanguageTag) -> String {
    let (weekday, month) = names(at);
    if spanish(language) {
        format!("{} {} de {}", WEEKDAYS_ES[weekday], at.day(), MONTHS_ES[month])
    } else {
        format!("{}, {} {}", WEEKDAYS_EN[weekday], MONTHS_EN[month], at.day())
    }
}

/// "2:30 PM" / "2:30 p. m." (US Spanish writes the 12-hour clock too).
pub fn time(at: &Zoned, language: &LanguageTag) -> String {
    let hour = at.hour();
    let twelve = match hour % 12 {
        0 => 12,
        h => h,
    };
    let (am, pm) = if spanish(language) { ("a. m.", "p. m.") } else { ("AM", "PM") };
    format!("{twelve}:{:02} {}", at.minute(), if hour < 12 { am } else { pm })
}

/// "Tuesday, March 3 at 2:30 PM" / "martes 3 de marzo a las 2:30 p. m.".
pub fn when(at: &Zoned, language: &LanguageTag) -> String {
    let joint = if spanish(language) { if at.hour() % 12 == 1 { "a la" } else { "a las" } } else { "at" };
    format!("{} {joint} {}", date(at, language), time(at, language))
}

/// "12 Main St, Springfield, IL 62701": the parts that are there.
pub fn address(address: &Address) -> String {
    let region =
        [address.state.as_deref(), address.postal_code.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
    [address.line.as_deref(), address.city.as_deref(), Some(region.as_str())]
        .into_iter()
        .flatten()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Zoned {
        text.parse().expect("valid in the test")
    }

    fn lang(tag: &str) -> LanguageTag {
        LanguageTag::parse(tag).expect("valid in the test")
    }

    #[test]
    fn english_and_spanish_read_the_local_wall_clock() {
        let visit = at("2026-03-03T14:30:00-06:00[America/Chicago]");
        assert_eq!(when(&visit, &lang("en-US")), "Tuesday, March 3 at 2:30 PM");
        assert_eq!(when(&visit, &lang("es-MX")), "martes 3 de marzo a las 2:30 p. m.");
        let early = at("2026-11-01T01:05:00-05:00[America/Chicago]");
        assert_eq!(when(&early, &lang("es")), "domingo 1 de noviembre a la 1:05 a. m.");
        let noon = at("2026-12-31T12:00:00-05:00[America/New_York]");
        assert_eq!(time(&noon, &lang("en")), "12:00 PM");
        let midnight = at("2026-12-31T00:15:00-05:00[America/New_York]");
        assert_eq!(time(&midnight, &lang("en")), "12:15 AM");
        assert_eq!(date(&midnight, &lang("fr")), "Thursday, December 31", "other languages: English until worded");
    }

    #[test]
    fn addresses_keep_the_parts_that_are_there() {
        let full = Address {
            line: Some("12 Main St".into()),
            city: Some("Springfield".into()),
            state: Some("IL".into()),
            postal_code: Some("62701".into()),
            country: None,
        };
        assert_eq!(address(&full), "12 Main St, Springfield, IL 62701");
        let city_only = Address { city: Some("Springfield".into()), ..Address::default() };
        assert_eq!(address(&city_only), "Springfield");
        assert_eq!(address(&Address::default()), "");
    }
}
