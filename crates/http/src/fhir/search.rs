//! FHIR search: a closed set of parameters per resource type (an unknown
//! one is a 400 naming it, not a silent ignore), `_count` (1 to 200,
//! default 50) and `_cursor` for paging, and the `searchset` Bundle with its
//! `self` and `next` links.

use jiff::Timestamp;
use jiff::civil::Date;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::query::QueryParams;
use rapport_store::PageRequest;

/// Parameters every search takes.
const PAGING: [&str; 3] = ["_count", "_cursor", "_format"];

/// A search's parameters, checked against what the type takes.
pub struct Search {
    pub params: Vec<(String, String)>,
    pub page: PageRequest,
}

impl Search {
    pub fn read(params: QueryParams, allowed: &[&str]) -> Result<Self, ApiError> {
        Self::read_keyed(params, allowed, |cursor| uuid::Uuid::parse_str(cursor).is_ok())
    }

    /// `read`, for a type whose pages are keyed by something else than a
    /// record's id (`is_cursor` tells whether `_cursor` is one of its keys).
    pub fn read_keyed(
        params: QueryParams,
        allowed: &[&str],
        is_cursor: impl Fn(&str) -> bool,
    ) -> Result<Self, ApiError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (key, value) in params.pairs() {
            if !allowed.contains(&key) && !PAGING.contains(&key) {
                return Err(ApiError::InvalidQuery(format!("search parameter `{key}` is not supported here")));
            }
            pairs.push((key.to_owned(), value.to_owned()));
        }
        pairs.sort();
        let count = match params.get("_count") {
            None => 50,
            Some(raw) => {
                raw.parse::<usize>().ok().filter(|n| (1..=PageRequest::MAX_LIMIT).contains(n)).ok_or_else(|| {
                    ApiError::InvalidQuery("parameter `_count` must be a whole number from 1 to 200".into())
                })?
            }
        };
        let after = params.get("_cursor").map(str::to_owned);
        if after.as_deref().is_some_and(|cursor| !is_cursor(cursor)) {
            return Err(ApiError::InvalidQuery("parameter `_cursor` is not a cursor of this server".into()));
        }
        Ok(Self { params: pairs, page: PageRequest { after, limit: count } })
    }

    /// Every value a repeatable parameter (`_include`) was given.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.params.iter().filter(|(k, _)| k == key).flat_map(|(_, v)| v.split(',')).filter(|v| !v.is_empty()).collect()
    }

    /// `bundle` with the resources an `_include` brought, as `include` entries.
    pub fn with_included(&self, mut bundle: Value, base: &str, included: Vec<Value>) -> Value {
        if let Some(entries) = bundle["entry"].as_array_mut() {
            for resource in included {
                let kind = resource["resourceType"].as_str().unwrap_or("").to_owned();
                let url = format!("{base}/{kind}/{}", resource["id"].as_str().unwrap_or(""));
                entries.push(json!({"fullUrl": url, "resource": resource, "search": {"mode": "include"}}));
            }
        }
        bundle
    }

    /// Every bound a date parameter was given, together (each narrows):
    /// `date=ge2026-12-01&date=lt2026-12-08` is that week.
    pub fn range(
        &self,
        key: &str,
        zone: &jiff::tz::TimeZone,
    ) -> Result<(Option<Timestamp>, Option<Timestamp>), ApiError> {
        let (mut from, mut to): (Option<Timestamp>, Option<Timestamp>) = (None, None);
        for raw in self.all(key) {
            let (f, t) = date_range(raw, zone).map_err(|_| {
                ApiError::InvalidQuery(format!(
                    "parameter `{key}` must be a day (YYYY-MM-DD) or an instant, with an optional eq, ge, gt, le or lt"
                ))
            })?;
            from = from.max(f);
            to = match (to, t) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        Ok((from, to))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    /// The searchset Bundle of `resources`, linking the next page if any.
    pub fn bundle(&self, base: &str, kind: &str, resources: Vec<Value>, next: Option<String>) -> Value {
        let query = |cursor: Option<&str>| {
            let mut pairs: Vec<String> = self
                .params
                .iter()
                .filter(|(k, _)| k != "_cursor")
                .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                .collect();
            if let Some(cursor) = cursor {
                pairs.push(format!("_cursor={cursor}"));
            }
            match pairs.is_empty() {
                true => format!("{base}/{kind}"),
                false => format!("{base}/{kind}?{}", pairs.join("&")),
            }
        };
        let mut links = vec![json!({"relation": "self", "url": query(self.page.after.as_deref())})];
        if let Some(next) = &next {
            links.push(json!({"relation": "next", "url": query(Some(next))}));
        }
        let entries: Vec<Value> = resources
            .into_iter()
            .map(|resource| {
                let url = format!(
                    "{base}/{}/{}",
                    resource["resourceType"].as_str().unwrap_or(kind),
                    resource["id"].as_str().unwrap_or("")
                );
                json!({"fullUrl": url, "resource": resource, "search": {"mode": "match"}})
            })
            .collect();
        json!({"resourceType": "Bundle", "type": "searchset", "link": links, "entry": entries})
    }
}

/// Everything but RFC 3986's unreserved characters, `:` and `/`, escaped.
const QUERY_VALUE: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b':').remove(b'/');

fn encode(text: &str) -> String {
    utf8_percent_encode(text, QUERY_VALUE).to_string()
}

/// A `date` parameter: an optional prefix (eq, ge, gt, le, lt) and a day
/// (`YYYY-MM-DD`, a whole day in `zone`) or an instant with an offset; the
/// half-open range `[from, to)` it allows (either side open).
pub fn date_range(raw: &str, zone: &jiff::tz::TimeZone) -> Result<(Option<Timestamp>, Option<Timestamp>), ApiError> {
    let bad = || {
        ApiError::InvalidQuery(
            "parameter `date` must be a day (YYYY-MM-DD) or an instant, with an optional eq, ge, gt, le or lt".into(),
        )
    };
    let (prefix, value) = match raw.get(..2) {
        Some(p @ ("eq" | "ge" | "gt" | "le" | "lt")) => (p, &raw[2..]),
        _ => ("eq", raw),
    };
    let (start, end) = match value.parse::<Date>() {
        Ok(day) => {
            let start = day.to_zoned(zone.clone()).map_err(|_| bad())?.timestamp();
            let next = day.tomorrow().map_err(|_| bad())?.to_zoned(zone.clone()).map_err(|_| bad())?.timestamp();
            (start, next)
        }
        Err(_) => {
            let at = value.parse::<Timestamp>().map_err(|_| bad())?;
            (at, at + jiff::SignedDuration::from_secs(1))
        }
    };
    Ok(match prefix {
        "ge" => (Some(start), None),
        "gt" => (Some(end), None),
        "le" => (None, Some(end)),
        "lt" => (None, Some(start)),
        _ => (Some(start), Some(end)),
    })
}

/// `_lastUpdated` as the instant a sync reads from: `ge` (or `gt`, a
/// microsecond later) an instant or a day (its start, UTC).
pub fn last_updated(raw: &str) -> Result<Timestamp, ApiError> {
    let refuse = || ApiError::InvalidQuery("parameter `_lastUpdated` must be ge or gt an instant or a day".into());
    let (after, value) = match raw.get(..2) {
        Some("ge") => (false, &raw[2..]),
        Some("gt") => (true, &raw[2..]),
        _ => return Err(refuse()),
    };
    let at = match value.parse::<Timestamp>() {
        Ok(at) => at,
        Err(_) => value
            .parse::<Date>()
            .map_err(|_| refuse())?
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map_err(|_| refuse())?
            .timestamp(),
    };
    Ok(if after { at + jiff::SignedDuration::from_micros(1) } else { at })
}

#[cfg(test)]
mod tests {
    use super::date_range;

    #[test]
    fn a_date_is_a_whole_local_day_and_its_prefix_opens_a_side() {
        let chicago = jiff::tz::TimeZone::get("America/Chicago").expect("zone");
        let at = |s: &str| Some(s.parse::<jiff::Timestamp>().expect("time"));
        let day = date_range("2026-12-01", &chicago).expect("a day");
        assert_eq!(day, (at("2026-12-01T06:00:00Z"), at("2026-12-02T06:00:00Z")));
        assert_eq!(date_range("ge2026-12-01", &chicago).expect("ge"), (at("2026-12-01T06:00:00Z"), None));
        assert_eq!(date_range("lt2026-12-01", &chicago).expect("lt"), (None, at("2026-12-01T06:00:00Z")));
        assert_eq!(date_range("gt2026-12-01", &chicago).expect("gt"), (at("2026-12-02T06:00:00Z"), None));
        assert!(date_range("ne2026-12-01", &chicago).is_err());
        assert!(date_range("2026-13-01", &chicago).is_err());
    }
}
