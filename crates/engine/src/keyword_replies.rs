//! The words Rapport answers a compliance keyword with (RULES.md, CTIA),
//! and a text that comes in while the practice is closed:
//! the one confirmation an opt-out allows, the opt-in's, and HELP's
//! practice name and how to reach it. They go back in the webhook's own
//! answer (TwiML), to the number that wrote, whoever it is, so they reach
//! unknown numbers too; only when the deployment says Rapport answers
//! keywords (`[sms] answer_keywords`), since a provider that answers them
//! itself would make it two.

use rapport_domain::OrganizationId;
use rapport_domain::keywords::Keyword;

use rapport_store::{PageRequest, Store, StoreError};

/// The answer to `keyword` in the language it was written in (AYUDA is Spanish).
pub async fn keyword_reply(
    store: &Store,
    org: OrganizationId,
    keyword: Keyword,
    spanish: bool,
) -> Result<String, StoreError> {
    let name = store.get_organization(org).await?.name;
    Ok(match (keyword, spanish) {
        (Keyword::OptOut, _) => {
            format!(
                "{name}: you are unsubscribed and will get no more texts from this number. Reply START to resubscribe."
            )
        }
        (Keyword::OptIn | Keyword::Yes, _) => {
            format!("{name}: you are resubscribed to texts. Reply HELP for help, STOP to opt out.")
        }
        (Keyword::Help, false) => {
            let reach = phone(store, org).await?.map(|p| format!(" For help, call {p}.")).unwrap_or_default();
            format!("{name}: appointment messages.{reach} Msg & data rates may apply. Reply STOP to opt out.")
        }
        (Keyword::Help, true) => {
            let reach = phone(store, org).await?.map(|p| format!(" Ayuda: llame al {p}.")).unwrap_or_default();
            format!("{name}: mensajes de sus citas.{reach} Pueden aplicar tarifas. Responda STOP para no recibir más.")
        }
    })
}

/// The answer to a text staff must read while every location is closed.
pub async fn after_hours_reply(store: &Store, org: OrganizationId) -> Result<String, StoreError> {
    let name = store.get_organization(org).await?.name;
    Ok(format!(
        "{name}: thanks for your text. We are closed now and will read it when we open. \
         If this is an emergency, call 911."
    ))
}

/// The practice's phone: the first location's that has one.
async fn phone(store: &Store, org: OrganizationId) -> Result<Option<String>, StoreError> {
    let locations = store.list_locations(org, &PageRequest::first(PageRequest::MAX_LIMIT)).await?.items;
    Ok(locations.iter().find_map(|l| l.phone.as_ref()).map(|p| p.as_str().to_owned()))
}
