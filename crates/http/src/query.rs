//! Query strings read as a closed set of named parameters: an unknown or
//! repeated parameter is a 400 that names it, never a silent ignore
//! (FHIR's repeatable ones excepted).

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;

use super::error::ApiError;
use rapport_store::PageRequest;

/// FHIR parameters that may be given more than once: `_include`, and the
/// date bounds (`date=ge…&date=lt…`), which all apply.
const REPEATABLE: [&str; 3] = ["_include", "date", "start"];

pub struct QueryParams(HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(pairs) = Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::InvalidQuery("the query string is not valid form encoding".into()))?;
        let mut map: HashMap<String, String> = HashMap::new();
        for (key, value) in pairs {
            // FHIR's `_include` and date bounds repeat: their values are
            // kept, joined by commas.
            if REPEATABLE.contains(&key.as_str())
                && let Some(before) = map.get_mut(&key)
            {
                before.push(',');
                before.push_str(&value);
                continue;
            }
            if map.insert(key.clone(), value).is_some() {
                return Err(ApiError::InvalidQuery(format!("parameter `{key}` is given more than once")));
            }
        }
        Ok(QueryParams(map))
    }
}

impl QueryParams {
    /// Fails on any parameter not in `allowed` (the paging ones are always allowed).
    pub fn only(self, allowed: &[&str]) -> Result<Self, ApiError> {
        let unknown =
            self.0.keys().find(|k| !allowed.contains(&k.as_str()) && !["limit", "after"].contains(&k.as_str()));
        match unknown {
            Some(key) => Err(ApiError::InvalidQuery(format!("unknown parameter `{key}`"))),
            None => Ok(self),
        }
    }

    /// Every parameter, by name (for APIs with their own paging words).
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// Parses one parameter; a bad value is a 400 naming the parameter.
    pub fn parse<T: std::str::FromStr>(&self, key: &str, expected: &str) -> Result<Option<T>, ApiError> {
        self.get(key)
            .map(|v| v.parse().map_err(|_| ApiError::InvalidQuery(format!("parameter `{key}` must be {expected}"))))
            .transpose()
    }

    pub fn page(&self) -> Result<PageRequest, ApiError> {
        let limit = self.parse::<usize>("limit", "a whole number from 1 to 200")?.unwrap_or(50);
        if !(1..=PageRequest::MAX_LIMIT).contains(&limit) {
            return Err(ApiError::InvalidQuery("parameter `limit` must be a whole number from 1 to 200".into()));
        }
        let after = self.get("after").map(str::to_owned);
        if let Some(cursor) = &after {
            uuid::Uuid::parse_str(cursor)
                .map_err(|_| ApiError::InvalidQuery("parameter `after` is not a cursor of this API".into()))?;
        }
        Ok(PageRequest { after, limit })
    }
}
