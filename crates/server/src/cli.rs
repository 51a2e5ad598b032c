//! Command-line commands: `serve`, `migrate`, `import`. Each takes the same
//! storage flags.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use rapport_domain::OrganizationId;
use rapport_server::clock::Clock;
use rapport_server::config::{Config, Overrides};
use rapport_server::http::{AppState, HttpSettings};
use rapport_server::import::{ImportError, ImportOptions, ImportReport};
use rapport_server::store::{DbOptions, Store};

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
}

#[derive(Debug, Subcommand)]
enum ImportWhat {
    /// Patients, upserted by MRN (columns are listed in the README).
    Patients(ImportArgs),
    /// Appointments, upserted by their source id.
    Appointments(ImportArgs),
}

#[derive(Debug, Args)]
struct ImportArgs {
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
struct StorageArgs {
    /// Directory holding the SQLite database (default ./data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// `postgres://…` (or `sqlite://PATH`) instead of the data directory.
    #[arg(long)]
    database_url: Option<String>,
    /// A TOML configuration file.
    #[arg(long)]
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
    let options = DbOptions { max_connections: config.max_connections };
    Store::open(&config.store_url()?, &options, Clock::system()).await.context("opening the database")
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve { listen, demo, storage } => serve(&load(&storage.overrides(listen))?, demo).await,
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
            };
            import(args, patients).await
        }
    }
}

async fn serve(config: &Config, demo: bool) -> anyhow::Result<ExitCode> {
    let store = open(config).await?;
    if demo {
        match rapport_server::demo::seed(&store).await.context("creating demo data")? {
            Some(summary) => println!(
                "demo data: {} with {} patients and {} appointments (organization {})",
                summary.organization.name, summary.patients, summary.appointments, summary.organization.id
            ),
            None => println!("demo data: the database already has data; left as it is"),
        }
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    println!("Rapport is running on {} at http://{address}/", store.backend().name());
    println!("  API:     http://{address}/api/v1/organizations");
    println!("  OpenAPI: http://{address}/api/openapi.json");
    println!("  (staff sign-in arrives with the trust work; the API is open on loopback for now)");
    let settings = HttpSettings { max_body_bytes: config.max_body_bytes };
    let state = AppState { store: store.clone() };
    rapport_server::server::serve(listener, state, &settings, rapport_server::server::shutdown_signal()).await?;
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

async fn import(args: ImportArgs, patients: bool) -> anyhow::Result<ExitCode> {
    let config = load(&args.storage.overrides(None))?;
    let store = open(&config).await?;
    let org = match &args.organization {
        Some(id) => {
            id.parse::<OrganizationId>().map_err(|_| anyhow::anyhow!("--organization is not an organization id"))?
        }
        None => match store.sole_organization().await? {
            Some(org) => org.id,
            None => bail!("the database has no organization or several: name one with --organization ID"),
        },
    };
    store.get_organization(org).await.context("--organization names no organization")?;
    let file = std::fs::File::open(&args.file).with_context(|| format!("cannot open {}", args.file.display()))?;
    let total_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    let options = ImportOptions { id_system: args.id_system, strict: args.strict, ..ImportOptions::default() };
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message(format!("importing ({total_bytes} bytes)"));
        bar
    });
    let mut progress = |rows: u64| match &bar {
        Some(bar) => bar.set_position(rows),
        None => eprintln!("imported {rows} rows"),
    };
    let reader = std::io::BufReader::new(file);
    let result = if patients {
        rapport_server::import::import_patients(&store, org, reader, &options, &mut progress).await
    } else {
        rapport_server::import::import_appointments(&store, org, reader, &options, &mut progress).await
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if result.is_ok() {
        store.refresh_statistics().await.context("refreshing planner statistics")?;
    }
    store.close().await;
    match result {
        Ok(report) => Ok(print_report(&report)),
        Err(ImportError::Strict(errors)) => {
            for error in &errors {
                eprintln!("  {error}");
            }
            eprintln!("strict import stopped: {} bad row(s), nothing was written", errors.len());
            Ok(ExitCode::FAILURE)
        }
        Err(other) => Err(other.into()),
    }
}

/// Prints the report; the exit code says whether every row landed.
fn print_report(report: &ImportReport) -> ExitCode {
    for error in &report.failed {
        eprintln!("  {error}");
    }
    let noun = if report.rows() == 1 { "row" } else { "rows" };
    println!(
        "{} {noun}: {} created, {} updated, {} failed",
        report.rows(),
        report.created,
        report.updated,
        report.failed.len()
    );
    if report.failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
