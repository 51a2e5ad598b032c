//! The after-hours answer to a text that opens a conversation: due when
//! none of the organization's locations is open now (each read in its own
//! zone), and the conversation had none since one last opened, so a
//! patient who writes three times in one night hears it once.

use rapport_domain::{ConversationId, OrganizationId};

use super::db::{args, from_micros};
use super::{PageRequest, Store, StoreError};

impl Store {
    /// Claims the conversation's after-hours answer: true, and recorded,
    /// when it is due now.
    pub async fn claim_after_hours_reply(&self, org: OrganizationId, id: ConversationId) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let locations = self.list_locations(org, &PageRequest::first(PageRequest::MAX_LIMIT)).await?.items;
        let open_now = locations.iter().any(|l| l.opening_hours.is_open_at(&now.to_zoned(l.time_zone.tz())));
        if locations.is_empty() || open_now {
            return Ok(false);
        }
        let mut tx = self.db.begin().await?;
        let row = tx
            .fetch_optional(
                sqlx::AssertSqlSafe(format!(
                    "SELECT after_hours_reply_at FROM conversations WHERE organization_id = $1 AND id = $2 {}",
                    tx.for_update()
                )),
                args([org.to_string().into(), id.to_string().into()]),
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        let due = match row.opt_int("after_hours_reply_at")?.map(from_micros).transpose()? {
            None => true,
            Some(last) => locations.iter().any(|l| {
                let zone = l.time_zone.tz();
                l.opening_hours.opened_between(&last.to_zoned(zone.clone()), &now.to_zoned(zone))
            }),
        };
        if due {
            tx.execute(
                "UPDATE conversations SET after_hours_reply_at = $3 WHERE organization_id = $1 AND id = $2",
                args([org.to_string().into(), id.to_string().into(), now.into()]),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(due)
    }
}
