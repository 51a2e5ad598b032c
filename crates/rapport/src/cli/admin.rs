//! The operator's commands: `organization add|list`, `user add|list|disable|
//! enable|reset-mfa|set-password` (the first administrator, and recovery when nobody can
//! sign in) and `audit verify`. Each change is written to the audit trail
//! as the system's.

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Subcommand;
use rapport::auth::password;
use rapport::store::{NewStaffUser, Store};
use rapport_domain::{ActorKind, Email, LanguageTag, NewAuditEvent, Organization, OrganizationId, Outcome, Role};

use super::pick_organization;

#[derive(Debug, Subcommand)]
pub enum OrganizationCommand {
    /// Create an organization; prints its id.
    Add {
        #[arg(long)]
        name: String,
        /// Its IANA time zone, e.g. America/Chicago.
        #[arg(long)]
        time_zone: String,
        /// Its default language (BCP 47).
        #[arg(long, default_value = "en")]
        language: String,
    },
    /// List organizations.
    List,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a staff account; the password is read from the first line of standard input.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// administrator, front_desk, clinician, marketer or auditor.
        #[arg(long)]
        role: String,
        /// Needed only when the database holds several organizations.
        #[arg(long)]
        organization: Option<String>,
    },
    /// List an organization's staff accounts.
    List {
        #[arg(long)]
        organization: Option<String>,
    },
    /// Disable an account and end its sessions.
    Disable { email: String },
    /// Enable a disabled account.
    Enable { email: String },
    /// Remove an account's second factor (it enrols again at next sign-in).
    ResetMfa { email: String },
    /// Set an account's password (the first line of standard input) and end its sessions.
    SetPassword { email: String },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check every hash chain of the trail; exit 1 if any was edited, cut or had events removed.
    Verify,
    /// Remove events older than `audit_retention_days` (default six years), leaving a record in each chain.
    Prune,
}

/// Writes an operator's change to the trail, as the system (`cli`).
pub(super) async fn record(
    store: &Store,
    org: Option<OrganizationId>,
    action: &str,
    resource: (&str, String),
) -> anyhow::Result<()> {
    let mut event = NewAuditEvent::new(org, ActorKind::System, action, Outcome::Success);
    event.actor_id = Some("cli".into());
    event.resource_type = Some(resource.0.to_owned());
    event.resource_id = Some(resource.1);
    store.append_audit(&event).await.context("writing the audit trail")?;
    Ok(())
}

pub async fn organization(store: &Store, command: OrganizationCommand) -> anyhow::Result<ExitCode> {
    match command {
        OrganizationCommand::Add { name, time_zone, language } => {
            let now = store.clock().now();
            let organization = Organization {
                id: OrganizationId::generate(),
                name: name.trim().to_owned(),
                time_zone: rapport_domain::TimeZoneName::parse(&time_zone)
                    .map_err(|_| anyhow::anyhow!("--time-zone is not an IANA time zone"))?,
                default_language: LanguageTag::parse(&language)
                    .map_err(|_| anyhow::anyhow!("--language is not a language tag"))?,
                sending_window: None,
                version: 1,
                created_at: now,
                updated_at: now,
            };
            if organization.name.is_empty() {
                bail!("--name is empty");
            }
            let created = store.create_organization(&organization).await?;
            record(store, Some(created.id), "organization.create", ("organization", created.id.to_string())).await?;
            println!("{}", created.id);
        }
        OrganizationCommand::List => {
            let mut page = rapport::store::PageRequest::first(200);
            loop {
                let found = store.list_organizations(&page).await?;
                for org in &found.items {
                    println!("{}  {}", org.id, org.name);
                }
                match found.next_cursor {
                    Some(cursor) => page.after = Some(cursor),
                    None => break,
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn user(store: &Store, command: UserCommand) -> anyhow::Result<ExitCode> {
    match command {
        UserCommand::Add { email, name, role, organization } => {
            let org = pick_organization(store, organization.as_deref()).await?;
            let role: Role = role.parse().map_err(|e| anyhow::anyhow!("--role: {e}"))?;
            if !role.is_for_people() {
                bail!("--role integration is for API tokens, not people");
            }
            let email = Email::parse(&email).map_err(|_| anyhow::anyhow!("--email is not an email address"))?;
            let secret = read_password()?;
            let secret = secret.as_str();
            password::check_strength(secret, email.as_str()).map_err(|e| anyhow::anyhow!("the password {e}"))?;
            let new = NewStaffUser {
                organization_id: org,
                email,
                display_name: name,
                role,
                password_hash: password::hash(secret),
            };
            let user = store.create_staff_user(&new).await.context("creating the account (is the email taken?)")?;
            record(store, Some(org), "staff.create", ("staff_user", user.id.to_string())).await?;
            println!("{}", user.id);
            if role.requires_mfa() {
                println!("this role signs in with a second factor: the first sign-in enrols one");
            }
        }
        UserCommand::List { organization } => {
            let org = pick_organization(store, organization.as_deref()).await?;
            for user in store.staff_users(org).await? {
                let state = if user.is_active() { "active" } else { "disabled" };
                let mfa = if user.mfa_enrolled { "mfa" } else { "no-mfa" };
                println!("{}  {:<14} {:<8} {:<6} {}", user.id, user.role.as_str(), state, mfa, user.email);
            }
        }
        UserCommand::Disable { email } => change(store, &email, "staff.disable").await?,
        UserCommand::Enable { email } => change(store, &email, "staff.enable").await?,
        UserCommand::ResetMfa { email } => change(store, &email, "staff.mfa_reset").await?,
        UserCommand::SetPassword { email } => change(store, &email, "staff.password_set").await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The first line of standard input, without its line ending.
fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("reading the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

async fn change(store: &Store, email: &str, action: &str) -> anyhow::Result<()> {
    let email = Email::parse(email).map_err(|_| anyhow::anyhow!("the argument is not an email address"))?;
    let Some((user, _)) = store.staff_sign_in(&email).await? else { bail!("no account has that email") };
    match action {
        "staff.disable" => drop(store.set_staff_disabled(user.organization_id, user.id, true).await?),
        "staff.enable" => drop(store.set_staff_disabled(user.organization_id, user.id, false).await?),
        "staff.mfa_reset" => store.reset_mfa(user.id).await?,
        _ => {
            let secret = read_password()?;
            password::check_strength(&secret, email.as_str()).map_err(|e| anyhow::anyhow!("the password {e}"))?;
            store.set_staff_password(user.id, &password::hash(&secret)).await?;
            store.end_sessions_of(user.id).await?;
        }
    }
    record(store, Some(user.organization_id), action, ("staff_user", user.id.to_string())).await?;
    println!("done: {action} {}", user.id);
    Ok(())
}

pub async fn audit(store: &Store, command: AuditCommand, retention_days: u32) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::Prune => {
            let cutoff = store.clock().now() - jiff::SignedDuration::from_hours(24 * i64::from(retention_days));
            let pruned = store.prune_audit(cutoff).await?;
            for (chain, removed) in &pruned {
                println!("chain {chain}: {removed} events older than {cutoff} removed");
            }
            if pruned.is_empty() {
                println!("no event is older than {retention_days} days");
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify => {
            let reports = store.verify_audit().await?;
            let mut intact = true;
            for report in &reports {
                if report.problems.is_empty() {
                    println!("chain {}: {} events, intact", report.chain, report.events);
                } else {
                    intact = false;
                    println!("chain {}: {} events, BROKEN", report.chain, report.events);
                    for problem in &report.problems {
                        println!("  {problem}");
                    }
                }
            }
            if reports.is_empty() {
                println!("the audit trail is empty");
            }
            Ok(if intact { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
    }
}
