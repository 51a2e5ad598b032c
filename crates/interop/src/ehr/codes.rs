//! What a feed's codes name here: a visit's location (AIL-3), provider
//! (AIP-3) and visit type (AIS-3, else SCH-7). Each code is looked up first
//! in the organization's code table for the feed (`hl7:{MSH-3}`, set by
//! staff); a code not there is placed by what it plainly names (a location
//! of that name, the organization's only location, a provider with that
//! NPI, the visit type's text). A code that cannot be placed is kept in the
//! table with no target, the mapping task staff see: a location that cannot
//! be placed holds the message back (AE, to be replayed once mapped); a
//! provider or a visit type does not (the visit lands without the provider,
//! or with the feed's text as its type).

use rapport_domain::{Location, LocationId, Npi, OrganizationId, ProviderId};
use rapport_hl7::Message;
use rapport_hl7::segments::{Sch, clinician, location, service};

use super::apply::Refusal;
use rapport_store::{CodeKind, PageRequest, Store};

/// One feed of one organization.
pub struct FeedCodes<'a> {
    pub store: &'a Store,
    pub org: OrganizationId,
    /// `hl7:{sending application}`.
    pub system: &'a str,
}

impl FeedCodes<'_> {
    async fn mapped(&self, kind: CodeKind, code: &str) -> Result<Option<String>, Refusal> {
        Ok(self.store.code_target(self.org, self.system, kind, code).await?)
    }

    async fn unmapped(&self, kind: CodeKind, code: &str, display: &str) -> Result<(), Refusal> {
        Ok(self.store.note_unmapped_code(self.org, self.system, kind, code, display).await?)
    }

    pub async fn location(&self, message: &Message) -> Result<Location, Refusal> {
        let locations = self.store.list_locations(self.org, &PageRequest::first(PageRequest::MAX_LIMIT)).await?.items;
        let only = || match locations.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        };
        let Some(named) = location(message).filter(|n| !n.code.is_empty() || !n.text.is_empty()) else {
            return only().ok_or_else(|| Refusal::reject("AIL-3 names no location, and the organization has several"));
        };
        let code = if named.code.is_empty() { named.text } else { named.code };
        if let Some(target) = self.mapped(CodeKind::Location, code).await? {
            let id = target.parse::<LocationId>().ok();
            if let Some(found) = locations.iter().find(|l| Some(l.id) == id) {
                return Ok(found.clone());
            }
        }
        let by_name = locations
            .iter()
            .find(|l| [named.code, named.text].iter().any(|n| !n.is_empty() && l.name.eq_ignore_ascii_case(n)));
        if let Some(found) = by_name.cloned().or_else(only) {
            return Ok(found);
        }
        self.unmapped(CodeKind::Location, code, named.text).await?;
        Err(Refusal::error(
            "AIL-3's location code has no mapping: map it under /integration/code-mappings, then replay the message",
        ))
    }

    pub async fn provider(&self, message: &Message) -> Result<Option<ProviderId>, Refusal> {
        let Some(named) = clinician(message).filter(|n| !n.code.is_empty()) else { return Ok(None) };
        let mapped = self.mapped(CodeKind::Provider, named.code).await?;
        if let Some(id) = mapped.and_then(|target| target.parse::<ProviderId>().ok()) {
            return Ok(Some(id));
        }
        if let Ok(npi) = Npi::parse(named.code) {
            let providers =
                self.store.list_providers(self.org, &PageRequest::first(PageRequest::MAX_LIMIT)).await?.items;
            if let Some(found) = providers.iter().find(|p| p.npi.as_ref() == Some(&npi)) {
                return Ok(Some(found.id));
            }
        }
        self.unmapped(CodeKind::Provider, named.code, named.text).await?;
        Ok(None)
    }

    pub async fn visit_type(&self, message: &Message, sch: &Sch<'_>) -> Result<String, Refusal> {
        let (code, text) = service(message)
            .map(|s| (s.code, s.text))
            .filter(|(c, t)| !c.is_empty() || !t.is_empty())
            .unwrap_or_else(|| sch.appointment_type());
        if !code.is_empty() {
            if let Some(target) = self.mapped(CodeKind::VisitType, code).await? {
                return Ok(target);
            }
            self.unmapped(CodeKind::VisitType, code, text).await?;
        }
        Ok([text, code].into_iter().find(|t| !t.is_empty()).unwrap_or("visit").to_owned())
    }
}
