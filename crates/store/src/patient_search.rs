//! Patient search. Every given criterion must match. Without a name the
//! results come in id (creation) order; with one, surname matches come first
//! in surname order, then first-name matches in first-name order, so a common
//! prefix ("Smit" in a million patients) reads one page of a name index
//! instead of sorting all of its matches. The cursor stays the last result's
//! id: the page after it is found from that patient's keys, looked up here,
//! so no name ever travels in a URL.

use rapport_domain::patient::name_search_key;
use rapport_domain::{BirthDate, Email, OrganizationId, Patient, PhoneE164};
use sqlx::AssertSqlSafe;

use super::db::{Arg, args};
use super::{Page, PageRequest, Store, StoreError, paginate};

/// What to look for; every given criterion must match.
#[derive(Debug, Clone, Default)]
pub struct PatientQuery {
    /// Name prefixes: each word must start the given or the family name.
    pub name: Option<String>,
    pub phone: Option<PhoneE164>,
    pub email: Option<Email>,
    pub birth_date: Option<BirthDate>,
    /// An external id value, optionally restricted to one system.
    pub identifier: Option<(Option<String>, String)>,
    /// Changed at or after (a client's sync cursor).
    pub updated_since: Option<jiff::Timestamp>,
}

/// The two runs of a name search, in the order they are listed.
#[derive(Clone, Copy)]
enum Run {
    /// Patients whose family name starts with the first word.
    Surname,
    /// The others whose given name starts with it.
    GivenName,
}

impl Run {
    fn key_column(self) -> &'static str {
        match self {
            Run::Surname => "p.family_key",
            Run::GivenName => "p.given_key",
        }
    }
}

/// A WHERE clause under construction with its bound values (`$1` is the
/// organization).
#[derive(Clone)]
struct Filter {
    values: Vec<Arg>,
    conditions: Vec<String>,
}

impl Filter {
    fn new(org: OrganizationId) -> Self {
        Self {
            values: vec![org.to_string().into()],
            conditions: vec!["p.organization_id = $1".to_owned(), "p.deleted_at IS NULL".to_owned()],
        }
    }

    fn bind(&mut self, value: impl Into<Arg>) -> String {
        self.values.push(value.into());
        format!("${}", self.values.len())
    }

    fn sql(&self) -> String {
        self.conditions.join(" AND ")
    }
}

/// A name word's key range: `[low, high)` holds every key it starts.
pub(super) struct Prefix {
    pub(super) low: String,
    pub(super) high: String,
}

impl Prefix {
    pub(super) fn new(word: &str) -> Self {
        let low = name_search_key(word);
        let high = prefix_successor(&low);
        Self { low, high }
    }

    fn holds(&self, key: &str) -> bool {
        self.low.as_str() <= key && key < self.high.as_str()
    }
}

impl Store {
    pub async fn search_patients(
        &self,
        org: OrganizationId,
        query: &PatientQuery,
        page: &PageRequest,
    ) -> Result<Page<Patient>, StoreError> {
        let mut filter = Filter::new(org);
        let mut words = query.name.iter().flat_map(|n| n.split_whitespace());
        let first = words.next().map(Prefix::new);
        for word in words {
            let prefix = Prefix::new(word);
            let (lo, hi) = (filter.bind(prefix.low), filter.bind(prefix.high));
            filter.conditions.push(format!(
                "((p.family_key >= {lo} AND p.family_key < {hi}) OR (p.given_key >= {lo} AND p.given_key < {hi}))"
            ));
        }
        let contacts = [query.phone.as_ref().map(|p| p.to_string()), query.email.as_ref().map(|e| e.to_string())];
        for value in contacts.into_iter().flatten() {
            let v = filter.bind(value);
            filter.conditions.push(format!(
                "p.id IN (SELECT patient_id FROM patient_contacts WHERE organization_id = $1 AND value = {v})"
            ));
        }
        if let Some(since) = query.updated_since {
            let v = filter.bind(since);
            filter.conditions.push(format!("p.updated_at >= {v}"));
        }
        if let Some(birth_date) = query.birth_date {
            let v = filter.bind(birth_date.to_string());
            filter.conditions.push(format!("p.birth_date = {v}"));
        }
        if let Some((system, value)) = &query.identifier {
            let v = filter.bind(value.clone());
            let system_filter = match system {
                Some(s) => format!(" AND system = {}", filter.bind(s.clone())),
                None => String::new(),
            };
            filter.conditions.push(format!(
                "p.id IN (SELECT patient_id FROM patient_identifiers WHERE organization_id = $1 AND value = {v}{system_filter})"
            ));
        }
        let wanted = page.limit() + 1;
        let items = match first {
            None => self.by_id(filter, page.after.as_deref(), wanted).await?,
            Some(prefix) => self.by_name(org, filter, &prefix, page.after.as_deref(), wanted).await?,
        };
        Ok(paginate(items, page.limit(), |p| p.id.to_string()))
    }

    async fn by_id(&self, mut filter: Filter, after: Option<&str>, wanted: usize) -> Result<Vec<Patient>, StoreError> {
        if let Some(after) = after {
            let v = filter.bind(after.to_owned());
            filter.conditions.push(format!("p.id > {v}"));
        }
        let limit = filter.bind(wanted as i64);
        let sql = format!("SELECT p.* FROM patients p WHERE {} ORDER BY p.id LIMIT {limit}", filter.sql());
        let rows = self.db.fetch_all(AssertSqlSafe(sql), filter.values).await?;
        self.hydrate(rows).await
    }

    /// The surname run from the cursor on, then the given-name run, until
    /// `wanted` patients are found.
    async fn by_name(
        &self,
        org: OrganizationId,
        filter: Filter,
        prefix: &Prefix,
        after: Option<&str>,
        wanted: usize,
    ) -> Result<Vec<Patient>, StoreError> {
        let start = match after {
            None => None,
            Some(id) => Some(self.cursor_position(org, prefix, id).await?),
        };
        let mut found = Vec::new();
        if !matches!(start, Some((Run::GivenName, ..))) {
            let after = start.as_ref().map(|(_, key, id)| (key.as_str(), id.as_str()));
            found = self.name_run(&filter, prefix, Run::Surname, after, wanted).await?;
        }
        if found.len() < wanted {
            let after = match &start {
                Some((Run::GivenName, key, id)) => Some((key.as_str(), id.as_str())),
                _ => None,
            };
            let rest = self.name_run(&filter, prefix, Run::GivenName, after, wanted - found.len()).await?;
            found.extend(rest);
        }
        Ok(found)
    }

    /// Where the page after patient `id` starts: the run it was listed in,
    /// with its key there. A patient renamed since falls in the given-name
    /// run, at its given name's place.
    async fn cursor_position(
        &self,
        org: OrganizationId,
        prefix: &Prefix,
        id: &str,
    ) -> Result<(Run, String, String), StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT family_key, given_key FROM patients WHERE organization_id = $1 AND id = $2",
                args([org.to_string().into(), id.to_owned().into()]),
            )
            .await?
            .ok_or_else(|| StoreError::Invalid {
                field: "after".into(),
                reason: "does not name a patient of this organization".into(),
            })?;
        let family_key = row.text("family_key")?;
        Ok(match prefix.holds(&family_key) {
            true => (Run::Surname, family_key, id.to_owned()),
            false => (Run::GivenName, row.text("given_key")?, id.to_owned()),
        })
    }

    /// One run, in (key, id) order: a range of one name index read from the
    /// cursor's place, stopping after `limit` rows.
    async fn name_run(
        &self,
        filter: &Filter,
        prefix: &Prefix,
        run: Run,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<Patient>, StoreError> {
        let mut filter = filter.clone();
        let (lo, hi) = (filter.bind(prefix.low.clone()), filter.bind(prefix.high.clone()));
        let key = run.key_column();
        filter.conditions.push(format!("{key} >= {lo} AND {key} < {hi}"));
        if let Run::GivenName = run {
            filter.conditions.push(format!("NOT (p.family_key >= {lo} AND p.family_key < {hi})"));
        }
        if let Some((after_key, after_id)) = after {
            let (k, i) = (filter.bind(after_key.to_owned()), filter.bind(after_id.to_owned()));
            filter.conditions.push(format!("({key}, p.id) > ({k}, {i})"));
        }
        let limit = filter.bind(limit as i64);
        let sql = format!("SELECT p.* FROM patients p WHERE {} ORDER BY {key}, p.id LIMIT {limit}", filter.sql());
        let rows = self.db.fetch_all(AssertSqlSafe(sql), filter.values).await?;
        self.hydrate(rows).await
    }
}

/// The smallest string greater than every string starting with `prefix`
/// (bytewise order, which both backends use for the key columns).
fn prefix_successor(prefix: &str) -> String {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = u32::from(last) + 1;
        if (0xD800..0xE000).contains(&next) {
            next = 0xE000;
        }
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return chars.into_iter().collect();
        }
    }
    // Only for a prefix of U+10FFFF characters: nothing is greater.
    String::from(char::MAX)
}

#[cfg(test)]
mod tests {
    use super::{Prefix, prefix_successor};

    #[test]
    fn successor_bounds_a_prefix() {
        assert_eq!(prefix_successor("smi"), "smj");
        assert_eq!(prefix_successor("a\u{D7FF}"), "a\u{E000}");
        assert!("smith".as_bytes() < prefix_successor("smi").as_bytes());
    }

    #[test]
    fn a_prefix_holds_the_keys_it_starts() {
        let p = Prefix::new("Smi");
        assert!(p.holds("smith") && p.holds("smi"));
        assert!(!p.holds("sma") && !p.holds("smj") && !p.holds("jones"));
    }
}
