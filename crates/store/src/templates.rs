//! An organization's message templates: one per kind and language, versioned
//! like every record staff edit. The shipped templates are not stored (they
//! live in `rapport_domain::message::builtin`); an organization's own of the
//! same kind and language takes precedence over them when composing.

use std::collections::HashSet;

use rapport_domain::message::template::{Template, TemplateContent, TemplateKind, TemplateText};
use rapport_domain::{LanguageTag, OrganizationId, TemplateId};
use sqlx::AssertSqlSafe;

use super::db::{Arg, Row, Tx, args, placeholders};
use super::versioned::{self, Target, Versioned};
use super::{Page, PageRequest, Store, StoreError, paginate};

pub(super) fn template_from_row(r: &Row) -> Result<Template, StoreError> {
    let text = |raw: String| TemplateText::parse(&raw).map_err(|_| StoreError::Corrupt("bad template text"));
    Ok(Template {
        id: r.parsed("id")?,
        organization_id: r.parsed("organization_id")?,
        content: TemplateContent {
            kind: TemplateKind::parse(&r.text("kind")?).map_err(|_| StoreError::Corrupt("bad template kind"))?,
            language: LanguageTag::parse(&r.text("language")?).map_err(|_| StoreError::Corrupt("bad language"))?,
            class: r.parsed("class")?,
            text: text(r.text("text")?)?,
            voice_text: r.opt_text("voice_text")?.map(text).transpose()?,
            email_subject: r.opt_text("email_subject")?.map(text).transpose()?,
            email_body: r.opt_text("email_body")?.map(text).transpose()?,
        },
        version: r.int("version")?,
        created_at: r.timestamp("created_at")?,
        updated_at: r.timestamp("updated_at")?,
    })
}

fn content_args(content: &TemplateContent) -> [Arg; 7] {
    [
        content.kind.as_str().into(),
        content.language.as_str().into(),
        content.class.as_str().into(),
        content.text.as_str().into(),
        content.email_subject.as_ref().map(|t| t.as_str().to_owned()).into(),
        content.email_body.as_ref().map(|t| t.as_str().to_owned()).into(),
        content.voice_text.as_ref().map(|t| t.as_str().to_owned()).into(),
    ]
}

impl Store {
    /// Saves a new template; a kind and language the organization already
    /// has is a conflict.
    pub async fn create_template(
        &self,
        org: OrganizationId,
        content: &TemplateContent,
    ) -> Result<Template, StoreError> {
        let id = TemplateId::generate();
        let mut values = vec![id.to_string().into(), org.to_string().into()];
        values.extend(content_args(content));
        values.push(self.clock.now().into());
        self.db
            .execute(
                "INSERT INTO message_templates (id, organization_id, kind, language, class, text, email_subject,
                     email_body, voice_text, version, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $10)",
                values,
            )
            .await?;
        self.template(org, id).await
    }

    pub async fn template(&self, org: OrganizationId, id: TemplateId) -> Result<Template, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT * FROM message_templates WHERE organization_id = $1 AND id = $2",
                args([org.to_string().into(), id.to_string().into()]),
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        template_from_row(&row)
    }

    /// The organization's templates, oldest first, optionally of one kind.
    pub async fn templates(
        &self,
        org: OrganizationId,
        kind: Option<&TemplateKind>,
        page: &PageRequest,
    ) -> Result<Page<Template>, StoreError> {
        let rows = self
            .db
            .fetch_all(
                "SELECT * FROM message_templates WHERE organization_id = $1 AND ($2 IS NULL OR kind = $2)
                   AND ($3 IS NULL OR id > $3) ORDER BY id LIMIT $4",
                args([
                    org.to_string().into(),
                    kind.map(|k| k.as_str().to_owned()).into(),
                    page.after.clone().into(),
                    ((page.limit() + 1) as i64).into(),
                ]),
            )
            .await?;
        let items = rows.iter().map(template_from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(paginate(items, page.limit(), |t| t.id.to_string()))
    }

    /// Replaces a template's words, at the version the caller read.
    pub async fn update_template(
        &self,
        org: OrganizationId,
        id: TemplateId,
        content: &TemplateContent,
        expected: i64,
    ) -> Result<Template, StoreError> {
        let mut tx = self.db.begin().await?;
        let target = Target { table: Versioned::Templates, tenant: org.to_string(), id: id.to_string(), expected };
        let sets =
            "kind = $1, language = $2, class = $3, text = $4, email_subject = $5, email_body = $6, voice_text = $7";
        versioned::update(&mut tx, target, sets, content_args(content).into(), self.clock.now()).await?;
        tx.commit().await?;
        self.template(org, id).await
    }

    /// Removes a template: messages of its kind fall back to the next
    /// language, or to the shipped template.
    pub async fn delete_template(&self, org: OrganizationId, id: TemplateId) -> Result<(), StoreError> {
        let gone = self
            .db
            .execute(
                "DELETE FROM message_templates WHERE organization_id = $1 AND id = $2",
                args([org.to_string().into(), id.to_string().into()]),
            )
            .await?;
        if gone == 1 { Ok(()) } else { Err(StoreError::NotFound) }
    }

    /// The organization's templates of `kind`, inside a transaction.
    pub(super) async fn templates_of_kind_in(
        &self,
        tx: &mut Tx,
        org: OrganizationId,
        kind: &TemplateKind,
    ) -> Result<Vec<Template>, StoreError> {
        let rows = tx
            .fetch_all(
                "SELECT * FROM message_templates WHERE organization_id = $1 AND kind = $2 ORDER BY id",
                args([org.to_string().into(), kind.as_str().into()]),
            )
            .await?;
        rows.iter().map(template_from_row).collect()
    }

    /// Every template of `kinds` held by `orgs`: one read for a batch.
    pub(super) async fn templates_for(
        &self,
        orgs: &HashSet<OrganizationId>,
        kinds: &HashSet<&TemplateKind>,
    ) -> Result<Vec<Template>, StoreError> {
        if orgs.is_empty() || kinds.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT * FROM message_templates WHERE organization_id IN ({}) AND kind IN ({}) ORDER BY id",
            placeholders(1, orgs.len()),
            placeholders(1 + orgs.len(), kinds.len())
        );
        let mut values: Vec<Arg> = orgs.iter().map(|o| o.to_string().into()).collect();
        values.extend(kinds.iter().map(|k| Arg::from(k.as_str())));
        let rows = self.db.fetch_all(AssertSqlSafe(sql), values).await?;
        rows.iter().map(template_from_row).collect()
    }
}
