//! What composing templated messages needs, read in one go for a batch (or
//! for one preview): the organizations' templates of the kinds at hand, and
//! the visits the messages are about with their locations and providers.

use std::collections::{HashMap, HashSet};

use rapport_domain::message::compose::Visit;
use rapport_domain::message::template::{Template, TemplateKind};
use rapport_domain::{Appointment, AppointmentId, Location, LocationId, OrganizationId, Provider, ProviderId};
use sqlx::AssertSqlSafe;

use super::answers::LATEST_ANSWER;
use super::appointments::appointment_from_row;
use super::db::{Arg, placeholders};
use super::organizations::{location_from_row, provider_from_row};
use super::{Store, StoreError};

#[derive(Debug, Default)]
pub struct ComposeFacts {
    /// Each organization's own templates of the kinds asked for.
    pub templates: HashMap<OrganizationId, Vec<Template>>,
    pub appointments: HashMap<AppointmentId, Appointment>,
    /// The visits whose patient confirmed them as they stand.
    pub confirmed: HashSet<AppointmentId>,
    pub locations: HashMap<LocationId, Location>,
    pub providers: HashMap<ProviderId, Provider>,
}

impl ComposeFacts {
    /// `org`'s own templates (of the kinds read).
    pub fn templates_of(&self, org: OrganizationId) -> &[Template] {
        self.templates.get(&org).map_or(&[], Vec::as_slice)
    }

    /// The visit `id` of `org`, with its place and clinician; `None` if it
    /// is gone or its location is.
    pub fn visit(&self, org: OrganizationId, id: AppointmentId) -> Option<Visit<'_>> {
        let appointment = self.appointments.get(&id).filter(|a| a.organization_id == org)?;
        let location = self.locations.get(&appointment.details.location_id)?;
        let provider = appointment.details.provider_id.and_then(|p| self.providers.get(&p));
        Some(Visit { appointment, location, provider })
    }
}

fn text_args<T: ToString>(values: impl IntoIterator<Item = T>) -> Vec<Arg> {
    values.into_iter().map(|v| Arg::from(v.to_string())).collect()
}

impl Store {
    /// Reads the templates of `kinds` held by `orgs`, and the appointments
    /// of `visits` with their locations and providers.
    pub async fn compose_facts(
        &self,
        orgs: &HashSet<OrganizationId>,
        kinds: &HashSet<&TemplateKind>,
        visits: &HashSet<AppointmentId>,
    ) -> Result<ComposeFacts, StoreError> {
        let mut facts = ComposeFacts::default();
        for template in self.templates_for(orgs, kinds).await? {
            facts.templates.entry(template.organization_id).or_default().push(template);
        }
        if visits.is_empty() {
            return Ok(facts);
        }
        let sql = format!("SELECT * FROM appointments WHERE id IN ({})", placeholders(1, visits.len()));
        for row in self.db.fetch_all(AssertSqlSafe(sql), text_args(visits)).await? {
            let appointment = appointment_from_row(&row)?;
            facts.appointments.insert(appointment.id, appointment);
        }
        // The dispatcher's last check: no "please confirm" once confirmed.
        let sql = format!(
            "SELECT a.id FROM appointments a WHERE a.id IN ({}) AND {LATEST_ANSWER} = 'confirm'",
            placeholders(1, visits.len())
        );
        for row in self.db.fetch_all(AssertSqlSafe(sql), text_args(visits)).await? {
            facts.confirmed.insert(row.parsed("id")?);
        }
        let locations: HashSet<LocationId> = facts.appointments.values().map(|a| a.details.location_id).collect();
        let providers: HashSet<ProviderId> =
            facts.appointments.values().filter_map(|a| a.details.provider_id).collect();
        if !locations.is_empty() {
            let sql = format!("SELECT * FROM locations WHERE id IN ({})", placeholders(1, locations.len()));
            for row in self.db.fetch_all(AssertSqlSafe(sql), text_args(&locations)).await? {
                let location = location_from_row(&row)?;
                facts.locations.insert(location.id, location);
            }
        }
        if !providers.is_empty() {
            let sql = format!("SELECT * FROM providers WHERE id IN ({})", placeholders(1, providers.len()));
            for row in self.db.fetch_all(AssertSqlSafe(sql), text_args(&providers)).await? {
                let provider = provider_from_row(&row)?;
                facts.providers.insert(provider.id, provider);
            }
        }
        Ok(facts)
    }
}
