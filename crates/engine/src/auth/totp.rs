//! Time-based one-time passwords (RFC 6238: HMAC-SHA1, 30-second steps,
//! 6 digits), the secrets' base32 form (RFC 4648) and the `otpauth://` URI
//! authenticator apps read.

use std::sync::LazyLock;

use hmac::{Hmac, KeyInit, Mac};
use jiff::Timestamp;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha1::Sha1;

const STEP_SECONDS: i64 = 30;
const DIGITS: u32 = 6;

/// The 6-digit code of `secret` at time step `step`.
pub fn code_at(secret: &[u8], step: i64) -> u32 {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else { return u32::MAX };
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let binary =
        u32::from_be_bytes([digest[offset] & 0x7f, digest[offset + 1], digest[offset + 2], digest[offset + 3]]);
    binary % 10u32.pow(DIGITS)
}

pub fn step_of(now: Timestamp) -> i64 {
    now.as_second().div_euclid(STEP_SECONDS)
}

/// The step `code` belongs to, if it is the code of the current step or of
/// one step either side (clock drift), and later than `last_used` (a code
/// is good once).
pub fn verify(secret: &[u8], code: &str, now: Timestamp, last_used: Option<i64>) -> Option<i64> {
    let code = code.trim().replace(' ', "");
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let wanted: u32 = code.parse().ok()?;
    let current = step_of(now);
    (current - 1..=current + 1)
        .filter(|step| last_used.is_none_or(|last| *step > last))
        .find(|step| code_at(secret, *step) == wanted)
}

/// RFC 4648 base32 without padding, as authenticator apps take it.
pub fn base32_encode(bytes: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(bytes)
}

/// Base32 as a person may type it: any case, padded or not, trailing bits
/// ignored; `None` when it is not base32.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    static LENIENT: LazyLock<data_encoding::Encoding> = LazyLock::new(|| {
        let mut spec = data_encoding::Specification::new();
        spec.symbols.push_str("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
        spec.translate.from.push_str("abcdefghijklmnopqrstuvwxyz");
        spec.translate.to.push_str("ABCDEFGHIJKLMNOPQRSTUVWXYZ");
        spec.check_trailing_bits = false;
        spec.encoding().expect("a valid base32 specification")
    });
    LENIENT.decode(text.trim_end_matches('=').as_bytes()).ok()
}

/// The provisioning URI an authenticator app scans (Key Uri Format).
pub fn otpauth_uri(issuer: &str, account: &str, secret_base32: &str) -> String {
    let (issuer, account) = (percent_encode(issuer), percent_encode(account));
    format!(
        "otpauth://totp/{issuer}:{account}?secret={secret_base32}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}"
    )
}

/// Everything but RFC 3986's unreserved characters and `@`, escaped.
const LABEL: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'@');

fn percent_encode(text: &str) -> String {
    utf8_percent_encode(text, LABEL).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, appendix B (SHA-1 rows), cut to 6 digits.
    #[test]
    fn rfc_6238_test_vectors() {
        let secret = b"12345678901234567890";
        for (seconds, expected) in [
            (59, 287_082),
            (1_111_111_109, 81_804),
            (1_111_111_111, 50_471),
            (1_234_567_890, 5_924),
            (2_000_000_000, 279_037),
            (20_000_000_000, 353_130),
        ] {
            let now = Timestamp::from_second(seconds).expect("time");
            assert_eq!(code_at(secret, step_of(now)), expected, "at {seconds}");
        }
    }

    #[test]
    fn verify_takes_one_step_of_drift_and_each_code_once() {
        let secret = b"12345678901234567890";
        let now = Timestamp::from_second(1_111_111_111).expect("time");
        let step = step_of(now);
        let code = |s| format!("{:06}", code_at(secret, s));
        assert_eq!(verify(secret, &code(step), now, None), Some(step));
        assert_eq!(verify(secret, &code(step - 1), now, None), Some(step - 1));
        assert_eq!(verify(secret, &code(step + 1), now, None), Some(step + 1));
        assert_eq!(verify(secret, &code(step - 2), now, None), None);
        assert_eq!(verify(secret, &code(step), now, Some(step)), None, "a code is good once");
        assert_eq!(verify(secret, "12345", now, None), None);
        assert_eq!(verify(secret, "abcdef", now, None), None);
    }

    #[test]
    fn base32_round_trips_rfc_4648_vectors() {
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_encode(b"f"), "MY");
        assert_eq!(base32_decode("MZXW6YTBOI").as_deref(), Some(&b"foobar"[..]));
        assert_eq!(base32_decode("mzxw6ytboi======").as_deref(), Some(&b"foobar"[..]));
        assert_eq!(base32_decode("MZ1"), None);
        let secret = [7u8; 20];
        assert_eq!(base32_decode(&base32_encode(&secret)).as_deref(), Some(&secret[..]));
    }

    #[test]
    fn otpauth_uri_names_issuer_and_account() {
        let uri = otpauth_uri("Riverbend Health", "ann@example.org", "MZXW6YTBOI");
        assert_eq!(
            uri,
            "otpauth://totp/Riverbend%20Health:ann@example.org?secret=MZXW6YTBOI&issuer=Riverbend%20Health&algorithm=SHA1&digits=6&period=30"
        );
    }
}
