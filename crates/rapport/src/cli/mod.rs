//! Command-line commands: `serve`, `dispatch`, `migrate`, `import`, and the operator's
//! `organization`, `user`, `audit`, `backup` and `restore`. Each takes the same storage flags.

mod admin;
mod backup;
mod demo_text;
mod import;
mod serve;

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use rapport::clock::Clock;
use rapport::config::{Config, Overrides};
use rapport::store::{DbOptions, Store};

pub use admin::{AuditCommand, OrganizationCommand, UserCommand};

#[derive(Debug, Parser)]
#[command(name = "rapport", version, about = "Patient relationship management server")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Fill an empty database with a demo practice first.
        #[arg(long)]
        demo: bool,
        /// Serve a database holding the demo's public credentials beyond loopback.
        #[arg(long)]
        allow_demo_on_network: bool,
        /// Also take HL7 v2 over MLLP on this address (for the database's only organization).
        #[arg(long)]
        mllp_listen: Option<SocketAddr>,
        /// Send patients' answers to visits from the HL7 feed back to the EHR's MLLP listener at this address.
        #[arg(long)]
        mllp_write_back: Option<SocketAddr>,
        /// Take MLLP over TLS, with the certificate HTTPS uses (tls_cert_file, tls_key_file).
        #[arg(long)]
        mllp_tls: bool,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Run the message dispatcher alone (several share the work on PostgreSQL).
    Dispatch {
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Import records from a CSV file.
    Import {
        #[command(subcommand)]
        what: ImportWhat,
    },
    /// Create and list organizations (tenants).
    Organization {
        #[command(subcommand)]
        command: OrganizationCommand,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Staff accounts: the first administrator, and recovery.
    User {
        #[command(subcommand)]
        command: UserCommand,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Write an encrypted, consistent backup of the SQLite database to FILE.
    Backup {
        file: PathBuf,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Restore an encrypted backup into the data directory (the server must be stopped).
    Restore {
        file: PathBuf,
        /// Replace an existing database.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Text a running demo as a patient would (replies "1", "2", "3", "YES", STOP).
    DemoText {
        /// Where the demo runs.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// The patient's phone, E.164 (`+13125550123`).
        #[arg(long)]
        from: String,
        /// What the patient writes.
        #[arg(long)]
        body: String,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
        #[command(flatten)]
        storage: StorageArgs,
    },
}

#[derive(Debug, Subcommand)]
enum ImportWhat {
    /// Patients, upserted by MRN (columns are listed in the README).
    Patients(ImportArgs),
    /// Appointments, upserted by their source id.
    Appointments(ImportArgs),
    /// FHIR R4 resources: bulk NDJSON, Bundles, or a directory of them (a Synthea export).
    Fhir(FhirImportArgs),
}

#[derive(Debug, Args)]
pub struct FhirImportArgs {
    /// A `.ndjson` or `.json` file, or a directory of them.
    path: PathBuf,
    /// The organization to import into; needed only when there are several.
    #[arg(long)]
    organization: Option<String>,
    #[command(flatten)]
    storage: StorageArgs,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The CSV file.
    file: PathBuf,
    /// The organization to import into; needed only when there are several.
    #[arg(long)]
    organization: Option<String>,
    /// Abort with nothing written if any row is bad.
    #[arg(long)]
    strict: bool,
    /// Identifier system of the `mrn` column.
    #[arg(long, default_value = "mrn")]
    id_system: String,
    #[command(flatten)]
    storage: StorageArgs,
}

#[derive(Debug, Args, Clone)]
pub struct StorageArgs {
    /// Directory holding the SQLite database (default ./data).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// `postgres://…` (or `sqlite://PATH`) instead of the data directory.
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// A TOML configuration file.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
}

impl StorageArgs {
    fn overrides(&self, listen: Option<SocketAddr>) -> Overrides {
        Overrides {
            config_file: self.config.clone(),
            listen,
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
        }
    }
}

fn load(overrides: &Overrides) -> anyhow::Result<Config> {
    let (config, warnings) = Config::load(overrides, std::env::vars())?;
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log).context("the log filter is invalid")?;
    // Colour only for a person at a terminal; files and pipes get plain text.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    Ok(config)
}

async fn open(config: &Config) -> anyhow::Result<Store> {
    let options = DbOptions {
        max_connections: config.max_connections,
        sqlite_key: config.database_key.as_ref().map(|k| k.expose().to_owned()),
    };
    Store::open(&config.store_url()?, &options, Clock::system()).await.context("opening the database")
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve { listen, demo, allow_demo_on_network, mllp_listen, mllp_write_back, mllp_tls, storage } => {
            let ehr = serve::EhrLinks { listen: mllp_listen, write_back: mllp_write_back, tls: mllp_tls };
            serve::serve(&load(&storage.overrides(listen))?, demo, allow_demo_on_network, ehr).await
        }
        Command::Dispatch { storage } => serve::dispatch(&load(&storage.overrides(None))?).await,
        Command::Migrate { storage } => {
            let store = open(&load(&storage.overrides(None))?).await?;
            println!("migrations are up to date ({} backend)", store.backend().name());
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Import { what } => {
            let (args, patients) = match what {
                ImportWhat::Patients(args) => (args, true),
                ImportWhat::Appointments(args) => (args, false),
                ImportWhat::Fhir(args) => return import::import_fhir(args).await,
            };
            import::import(args, patients).await
        }
        Command::Organization { command, storage } => {
            admin::organization(&open(&load(&storage.overrides(None))?).await?, command).await
        }
        Command::User { command, storage } => {
            admin::user(&open(&load(&storage.overrides(None))?).await?, command).await
        }
        Command::Backup { file, storage } => backup::backup(&load(&storage.overrides(None))?, &file).await,
        Command::Restore { file, force, storage } => {
            backup::restore(&load(&storage.overrides(None))?, &file, force).await
        }
        Command::DemoText { url, from, body, storage } => {
            demo_text::demo_text(&load(&storage.overrides(None))?, &url, &from, &body).await
        }
        Command::Audit { command, storage } => {
            let config = load(&storage.overrides(None))?;
            admin::audit(&open(&config).await?, command, config.audit_retention_days).await
        }
    }
}

/// The organization named by `--organization`, or the only one there is.
async fn pick_organization(store: &Store, flag: Option<&str>) -> anyhow::Result<rapport_domain::OrganizationId> {
    let org = match flag {
        Some(id) => id
            .parse::<rapport_domain::OrganizationId>()
            .map_err(|_| anyhow::anyhow!("--organization is not an organization id"))?,
        None => match store.sole_organization().await? {
            Some(org) => org.id,
            None => anyhow::bail!("the database has no organization or several: name one with --organization ID"),
        },
    };
    store.get_organization(org).await.context("--organization names no organization")?;
    Ok(org)
}
