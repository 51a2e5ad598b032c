//! How the few document-shaped fields are kept in one text column: JSON for
//! addresses, opening hours, attribute maps and id lists; comma lists for the
//! channel order. Both backends store the same text.

use std::collections::BTreeMap;

use jiff::civil::Time;
use rapport_domain::{Address, Channel, OpeningHours};
use serde_json::{Map, Value, json};

use super::StoreError;

fn corrupt(_: impl std::fmt::Debug) -> StoreError {
    StoreError::Corrupt("document column does not parse")
}

pub fn address_to_text(a: &Address) -> String {
    json!({"line": a.line, "city": a.city, "state": a.state, "postal_code": a.postal_code, "country": a.country})
        .to_string()
}

pub fn address_from_text(text: &str) -> Result<Address, StoreError> {
    let v: Value = serde_json::from_str(text).map_err(corrupt)?;
    let field = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    Ok(Address {
        line: field("line"),
        city: field("city"),
        state: field("state"),
        postal_code: field("postal_code"),
        country: field("country"),
    })
}

/// `[["08:00","17:00"], …]` per weekday, Monday first.
pub fn hours_to_text(h: &OpeningHours) -> String {
    let days: Vec<Value> =
        h.days.iter().map(|d| Value::Array(d.iter().map(|(s, e)| json!([hhmm(*s), hhmm(*e)])).collect())).collect();
    Value::Array(days).to_string()
}

pub fn hours_from_text(text: &str) -> Result<OpeningHours, StoreError> {
    let days: Vec<Vec<(String, String)>> = serde_json::from_str(text).map_err(corrupt)?;
    let mut hours = OpeningHours::default();
    for (slot, day) in hours.days.iter_mut().zip(days) {
        for (s, e) in day {
            slot.push((s.parse::<Time>().map_err(corrupt)?, e.parse::<Time>().map_err(corrupt)?));
        }
    }
    Ok(hours)
}

pub fn hhmm(t: Time) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

pub fn map_to_text(map: &BTreeMap<String, String>) -> String {
    let object: Map<String, Value> = map.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    Value::Object(object).to_string()
}

pub fn map_from_text(text: &str) -> Result<BTreeMap<String, String>, StoreError> {
    serde_json::from_str(text).map_err(corrupt)
}

pub fn list_to_text(items: impl IntoIterator<Item = String>) -> String {
    Value::Array(items.into_iter().map(Value::String).collect()).to_string()
}

pub fn list_from_text<T: std::str::FromStr>(text: &str) -> Result<Vec<T>, StoreError> {
    let items: Vec<String> = serde_json::from_str(text).map_err(corrupt)?;
    items.iter().map(|s| s.parse().map_err(|_| StoreError::Corrupt("list item does not parse"))).collect()
}

pub fn channels_to_text(order: &[Channel]) -> String {
    order.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(",")
}

pub fn channels_from_text(text: &str) -> Result<Vec<Channel>, StoreError> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| StoreError::Corrupt("channel order does not parse")))
        .collect()
}
