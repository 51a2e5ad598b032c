//! The demo practice's staff: one account per role, a known TOTP secret for
//! the administrator (whose role requires MFA), one integration token, and
//! the front desk's team.
//! These credentials are public by design and exist only in a demo
//! database; `rapport serve` refuses to expose such a database beyond
//! loopback unless told to.

use rapport_domain::{Capability, Email, OrganizationId, Role};

use crate::auth::{password, secret, totp};
use crate::store::{NewApiToken, NewStaffUser, Store, StoreError};

/// The administrator's authenticator secret (base32), printed on start.
pub const ADMIN_TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
/// The demo integration token, printed on start.
pub const INTEGRATION_TOKEN: &str = "rpt_demo-riverbend-integration-token-not-for-production";

const ACCOUNTS: &[(Role, &str, &str)] = &[
    (Role::Administrator, "admin@riverbend.example", "Avery Admin"),
    (Role::FrontDesk, "frontdesk@riverbend.example", "Frankie Desk"),
    (Role::Clinician, "clinician@riverbend.example", "Dr. Casey Lin"),
    (Role::Marketer, "marketer@riverbend.example", "Morgan Reach"),
    (Role::Auditor, "auditor@riverbend.example", "Alex Auditor"),
];

/// A sign-in to print.
#[derive(Debug, Clone)]
pub struct DemoLogin {
    pub role: Role,
    pub email: &'static str,
    pub password: String,
}

fn demo_password(role: Role) -> String {
    format!("rapport-demo-{}", role.as_str().replace('_', "-"))
}

pub(super) async fn seed(store: &Store, org: OrganizationId) -> Result<(), StoreError> {
    let mut desk = Vec::new();
    for (role, email, name) in ACCOUNTS {
        let user = store
            .create_staff_user(&NewStaffUser {
                organization_id: org,
                email: Email::parse(email).map_err(|_| StoreError::Corrupt("demo email"))?,
                display_name: (*name).to_owned(),
                role: *role,
                password_hash: password::hash(&demo_password(*role)),
            })
            .await?;
        if role.requires_mfa() {
            store.begin_mfa_enrolment(user.id, ADMIN_TOTP_SECRET).await?;
            store.confirm_mfa_enrolment(user.id, 0, &[]).await?;
        }
        if matches!(role, Role::FrontDesk | Role::Administrator) {
            desk.push(user.id);
        }
    }
    // The inbox's team: a conversation can be the front desk's as a whole.
    store.create_team(org, "Front desk", &desk).await?;
    let scopes: Vec<Capability> = Role::Integration.capabilities().to_vec();
    store
        .create_api_token(&NewApiToken {
            organization_id: org,
            name: "Demo EHR integration".into(),
            prefix: INTEGRATION_TOKEN.chars().take(10).collect(),
            token_digest: secret::digest(INTEGRATION_TOKEN),
            scopes,
            created_by: None,
        })
        .await?;
    Ok(())
}

/// The demo sign-ins, if this database holds the demo accounts.
pub async fn logins(store: &Store) -> Result<Option<Vec<DemoLogin>>, StoreError> {
    let admin = Email::parse(ACCOUNTS[0].1).map_err(|_| StoreError::Corrupt("demo email"))?;
    if store.staff_sign_in(&admin).await?.is_none() {
        return Ok(None);
    }
    Ok(Some(
        ACCOUNTS
            .iter()
            .map(|(role, email, _)| DemoLogin { role: *role, email, password: demo_password(*role) })
            .collect(),
    ))
}

/// The administrator's current one-time code, for the demo's printout and tests.
pub fn admin_code(now: jiff::Timestamp) -> String {
    let secret = totp::base32_decode(ADMIN_TOTP_SECRET).unwrap_or_default();
    format!("{:06}", totp::code_at(&secret, totp::step_of(now)))
}
