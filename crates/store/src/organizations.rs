//! Organizations, locations and providers: the practice side of the registry.

use rapport_domain::message::window::SendingWindow;
use rapport_domain::{Location, LocationId, Organization, OrganizationId, Provider, ProviderId};

use super::codec::{address_from_text, address_to_text, hours_from_text, hours_to_text, list_from_text, list_to_text};
use super::db::{Row, args};
use super::versioned::{self, Target, Versioned};
use super::{Page, PageRequest, Store, StoreError, paginate};

/// `09:00-17:30`.
fn window_text(window: SendingWindow) -> String {
    format!("{}-{}", window.start.strftime("%H:%M"), window.end.strftime("%H:%M"))
}

pub(super) fn organization_from_row(r: &Row) -> Result<Organization, StoreError> {
    Ok(Organization {
        id: r.parsed("id")?,
        name: r.text("name")?,
        time_zone: r
            .text("time_zone")
            .and_then(|z| rapport_domain::TimeZoneName::parse(&z).map_err(|_| StoreError::Corrupt("bad time zone")))?,
        default_language: r
            .text("default_language")
            .and_then(|l| rapport_domain::LanguageTag::parse(&l).map_err(|_| StoreError::Corrupt("bad language")))?,
        sending_window: r
            .opt_text("sending_window")?
            .map(|w| {
                let (start, end) = w.split_once('-').ok_or(StoreError::Corrupt("bad sending window"))?;
                SendingWindow::narrower(start, end).map_err(|_| StoreError::Corrupt("bad sending window"))
            })
            .transpose()?,
        version: r.int("version")?,
        created_at: r.timestamp("created_at")?,
        updated_at: r.timestamp("updated_at")?,
    })
}

pub(super) fn location_from_row(r: &Row) -> Result<Location, StoreError> {
    Ok(Location {
        id: r.parsed("id")?,
        organization_id: r.parsed("organization_id")?,
        name: r.text("name")?,
        address: address_from_text(&r.text("address")?)?,
        phone: r.opt_parsed("phone")?,
        time_zone: super::patients::zone(&r.text("time_zone")?)?,
        opening_hours: hours_from_text(&r.text("opening_hours")?)?,
        version: r.int("version")?,
        created_at: r.timestamp("created_at")?,
        updated_at: r.timestamp("updated_at")?,
    })
}

pub(super) fn provider_from_row(r: &Row) -> Result<Provider, StoreError> {
    Ok(Provider {
        id: r.parsed("id")?,
        organization_id: r.parsed("organization_id")?,
        given_name: r.text("given_name")?,
        family_name: r.text("family_name")?,
        title: r.opt_text("title")?,
        npi: r
            .opt_text("npi")?
            .map(|n| rapport_domain::Npi::parse(&n))
            .transpose()
            .map_err(|_| StoreError::Corrupt("bad NPI"))?,
        location_ids: list_from_text(&r.text("location_ids")?)?,
        version: r.int("version")?,
        created_at: r.timestamp("created_at")?,
        updated_at: r.timestamp("updated_at")?,
    })
}

impl Store {
    pub async fn create_organization(&self, org: &Organization) -> Result<Organization, StoreError> {
        let now = self.clock.now();
        self.db
            .execute(
                "INSERT INTO organizations (id, name, time_zone, default_language, version, created_at, updated_at,
                     sending_window)
                 VALUES ($1, $2, $3, $4, 1, $5, $5, $6)",
                args([
                    org.id.to_string().into(),
                    org.name.clone().into(),
                    org.time_zone.as_str().into(),
                    org.default_language.as_str().into(),
                    now.into(),
                    org.sending_window.map(window_text).into(),
                ]),
            )
            .await?;
        self.get_organization(org.id).await
    }

    pub async fn get_organization(&self, id: OrganizationId) -> Result<Organization, StoreError> {
        let row = self
            .db
            .fetch_optional("SELECT * FROM organizations WHERE id = $1", args([id.to_string().into()]))
            .await?
            .ok_or(StoreError::NotFound)?;
        organization_from_row(&row)
    }

    pub async fn list_organizations(&self, page: &PageRequest) -> Result<Page<Organization>, StoreError> {
        let rows = self
            .db
            .fetch_all(
                "SELECT * FROM organizations WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2",
                args([page.after.clone().into(), ((page.limit() + 1) as i64).into()]),
            )
            .await?;
        let items = rows.iter().map(organization_from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(paginate(items, page.limit(), |o| o.id.to_string()))
    }

    pub async fn update_organization(&self, org: &Organization, expected: i64) -> Result<Organization, StoreError> {
        let mut tx = self.db.begin().await?;
        let target =
            Target { table: Versioned::Organizations, tenant: org.id.to_string(), id: org.id.to_string(), expected };
        versioned::update(
            &mut tx,
            target,
            "name = $1, time_zone = $2, default_language = $3, sending_window = $4",
            args([
                org.name.clone().into(),
                org.time_zone.as_str().into(),
                org.default_language.as_str().into(),
                org.sending_window.map(window_text).into(),
            ]),
            self.clock.now(),
        )
        .await?;
        tx.commit().await?;
        self.get_organization(org.id).await
    }

    /// The only organization, when there is exactly one (CLI convenience).
    pub async fn sole_organization(&self) -> Result<Option<Organization>, StoreError> {
        let rows = self.db.fetch_all("SELECT * FROM organizations ORDER BY id LIMIT 2", vec![]).await?;
        if rows.len() == 1 { rows.first().map(organization_from_row).transpose() } else { Ok(None) }
    }

    pub async fn create_location(&self, loc: &Location) -> Result<Location, StoreError> {
        let now = self.clock.now();
        self.db
            .execute(
                "INSERT INTO locations (id, organization_id, name, address, phone, time_zone, opening_hours, version, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8)",
                args([
                    loc.id.to_string().into(),
                    loc.organization_id.to_string().into(),
                    loc.name.clone().into(),
                    address_to_text(&loc.address).into(),
                    loc.phone.as_ref().map(|p| p.to_string()).into(),
                    loc.time_zone.as_str().into(),
                    hours_to_text(&loc.opening_hours).into(),
                    now.into(),
                ]),
            )
            .await?;
        self.get_location(loc.organization_id, loc.id).await
    }

    pub async fn get_location(&self, org: OrganizationId, id: LocationId) -> Result<Location, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT * FROM locations WHERE organization_id = $1 AND id = $2",
                args([org.to_string().into(), id.to_string().into()]),
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        location_from_row(&row)
    }

    pub async fn list_locations(&self, org: OrganizationId, page: &PageRequest) -> Result<Page<Location>, StoreError> {
        self.search_locations(org, None, page).await
    }

    /// Locations whose name starts with `name` (any case), as FHIR's string
    /// search reads; in id order.
    pub async fn search_locations(
        &self,
        org: OrganizationId,
        name: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Location>, StoreError> {
        let name = name.map(str::to_lowercase);
        let rows = self
            .db
            .fetch_all(
                "SELECT * FROM locations WHERE organization_id = $1 AND ($2 IS NULL OR id > $2)
                   AND ($4 IS NULL OR substr(lower(name), 1, length($4)) = $4)
                 ORDER BY id LIMIT $3",
                args([
                    org.to_string().into(),
                    page.after.clone().into(),
                    ((page.limit() + 1) as i64).into(),
                    name.into(),
                ]),
            )
            .await?;
        let items = rows.iter().map(location_from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(paginate(items, page.limit(), |l| l.id.to_string()))
    }

    pub async fn update_location(&self, loc: &Location, expected: i64) -> Result<Location, StoreError> {
        let mut tx = self.db.begin().await?;
        let target = Target {
            table: Versioned::Locations,
            tenant: loc.organization_id.to_string(),
            id: loc.id.to_string(),
            expected,
        };
        versioned::update(
            &mut tx,
            target,
            "name = $1, address = $2, phone = $3, time_zone = $4, opening_hours = $5",
            args([
                loc.name.clone().into(),
                address_to_text(&loc.address).into(),
                loc.phone.as_ref().map(|p| p.to_string()).into(),
                loc.time_zone.as_str().into(),
                hours_to_text(&loc.opening_hours).into(),
            ]),
            self.clock.now(),
        )
        .await?;
        tx.commit().await?;
        self.get_location(loc.organization_id, loc.id).await
    }

    pub async fn create_provider(&self, p: &Provider) -> Result<Provider, StoreError> {
        let mut tx = self.db.begin().await?;
        self.check_locations(&mut tx, p.organization_id, &p.location_ids).await?;
        tx.execute(
            "INSERT INTO providers (id, organization_id, given_name, family_name, title, npi, location_ids, version, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8)",
            args([
                p.id.to_string().into(),
                p.organization_id.to_string().into(),
                p.given_name.clone().into(),
                p.family_name.clone().into(),
                p.title.clone().into(),
                p.npi.as_ref().map(|n| n.as_str().to_owned()).into(),
                list_to_text(p.location_ids.iter().map(ToString::to_string)).into(),
                self.clock.now().into(),
            ]),
        )
        .await?;
        tx.commit().await?;
        self.get_provider(p.organization_id, p.id).await
    }

    pub async fn get_provider(&self, org: OrganizationId, id: ProviderId) -> Result<Provider, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT * FROM providers WHERE organization_id = $1 AND id = $2",
                args([org.to_string().into(), id.to_string().into()]),
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        provider_from_row(&row)
    }

    pub async fn list_providers(&self, org: OrganizationId, page: &PageRequest) -> Result<Page<Provider>, StoreError> {
        self.search_providers(org, None, None, page).await
    }

    /// Providers whose family or given name starts with `name` (any case),
    /// and whose NPI is `npi`, as given; in id order.
    pub async fn search_providers(
        &self,
        org: OrganizationId,
        name: Option<&str>,
        npi: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Provider>, StoreError> {
        let name = name.map(str::to_lowercase);
        let rows = self
            .db
            .fetch_all(
                "SELECT * FROM providers WHERE organization_id = $1 AND ($2 IS NULL OR id > $2)
                   AND ($4 IS NULL OR substr(lower(family_name), 1, length($4)) = $4
                        OR substr(lower(given_name), 1, length($4)) = $4)
                   AND ($5 IS NULL OR npi = $5)
                 ORDER BY id LIMIT $3",
                args([
                    org.to_string().into(),
                    page.after.clone().into(),
                    ((page.limit() + 1) as i64).into(),
                    name.into(),
                    npi.into(),
                ]),
            )
            .await?;
        let items = rows.iter().map(provider_from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(paginate(items, page.limit(), |p| p.id.to_string()))
    }

    pub async fn update_provider(&self, p: &Provider, expected: i64) -> Result<Provider, StoreError> {
        let mut tx = self.db.begin().await?;
        self.check_locations(&mut tx, p.organization_id, &p.location_ids).await?;
        let target = Target {
            table: Versioned::Providers,
            tenant: p.organization_id.to_string(),
            id: p.id.to_string(),
            expected,
        };
        versioned::update(
            &mut tx,
            target,
            "given_name = $1, family_name = $2, title = $3, npi = $4, location_ids = $5",
            args([
                p.given_name.clone().into(),
                p.family_name.clone().into(),
                p.title.clone().into(),
                p.npi.as_ref().map(|n| n.as_str().to_owned()).into(),
                list_to_text(p.location_ids.iter().map(ToString::to_string)).into(),
            ]),
            self.clock.now(),
        )
        .await?;
        tx.commit().await?;
        self.get_provider(p.organization_id, p.id).await
    }

    /// Every location must be the organization's own: another tenant's id is
    /// refused the same way as an unknown one.
    async fn check_locations(
        &self,
        tx: &mut super::db::Tx,
        org: OrganizationId,
        ids: &[LocationId],
    ) -> Result<(), StoreError> {
        let wanted: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let found = super::ids_in(tx, "locations", "", org, &wanted).await?;
        if let Some(i) = wanted.iter().position(|id| !found.contains(id)) {
            return Err(StoreError::UnknownReference { field: format!("location_ids[{i}]") });
        }
        Ok(())
    }
}
