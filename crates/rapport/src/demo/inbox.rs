//! The demo's inbox: a few texts patients (and a stranger) sent, taken as
//! the webhook takes them, so the console opens on real conversations: one
//! to read, one from a number a family shares (staff pick who wrote), one
//! from a number nobody has, and one that reads as "stop texting me".

use rapport_domain::{OrganizationId, PatientId};

use crate::engine::inbound::{Answering, Incoming, receive};
use crate::store::{InboundText, Store, StoreError};

/// The number the demo's patients text (the demo's Twilio sender).
const PRACTICE_NUMBER: &str = "+13125550000";

pub(super) async fn seed(
    store: &Store,
    org: OrganizationId,
    patients: &[(PatientId, usize)],
) -> Result<usize, StoreError> {
    let number_of = |i: usize| async move {
        let patient = store.get_patient(org, patients[i].0).await?;
        Ok::<String, StoreError>(
            patient.details.phones.first().map(|p| p.number.as_str().to_owned()).unwrap_or_default(),
        )
    };
    let texts = [
        (number_of(0).await?, "Running about 10 minutes late, sorry!"),
        // The twelfth patient shares the eleventh's phone (seed_patients).
        (number_of(11).await?, "Is Thursday's appointment mine or my son's?"),
        ("+15185559999".to_owned(), "Hi, are you taking new patients?"),
        (number_of(5).await?, "Please stop texting me, I moved away."),
    ];
    for (i, (from, body)) in texts.iter().enumerate() {
        let text = InboundText {
            provider_ref: format!("SMdemo{i}").into(),
            from: from.clone(),
            to: PRACTICE_NUMBER.into(),
            body: (*body).into(),
            media: Vec::new(),
        };
        let incoming = Incoming { text, sender: PRACTICE_NUMBER.into(), carrier_keyword: None };
        receive(store, org, &incoming, Answering::default()).await?;
    }
    Ok(texts.len())
}
