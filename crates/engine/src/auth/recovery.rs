//! Recovery codes: ten single-use codes shown once at MFA enrolment, for a
//! lost phone. Stored as digests of their normalised form.

use super::secret::{digest, random_bytes};
use super::totp::base32_encode;

pub const COUNT: usize = 10;

/// `COUNT` fresh codes, as shown to the person (`abcd-efgh-ijkl-mnop`).
pub fn generate() -> Vec<String> {
    (0..COUNT)
        .map(|_| {
            let text = base32_encode(&random_bytes::<10>()).to_lowercase();
            text.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("-")
        })
        .collect()
}

/// The stored form: case, spaces and dashes do not matter when typing it.
pub fn digest_of(code: &str) -> String {
    let normalised: String =
        code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect();
    digest(&format!("rapport-recovery:{normalised}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_grouped_and_forgiving_to_type() {
        let codes = generate();
        assert_eq!(codes.len(), COUNT);
        assert!(codes.iter().all(|c| c.len() == 19 && c.matches('-').count() == 3), "{codes:?}");
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), COUNT);
        let code = &codes[0];
        assert_eq!(digest_of(code), digest_of(&code.to_uppercase().replace('-', " ")));
        assert_ne!(digest_of(code), digest_of(&codes[1]));
    }
}
