//! `rapport backup FILE` and `rapport restore FILE`: encrypted, consistent
//! copies of the embedded SQLite database (see `backup.rs` for the format).
//! PostgreSQL deployments use pg_dump and their own encryption.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use rapport::backup;
use rapport::config::Config;

use super::open;

fn key(config: &Config) -> anyhow::Result<String> {
    match &config.backup_key {
        Some(secret) => Ok(secret.expose().to_owned()),
        None => bail!("no backup key: set backup_key_file (or RAPPORT_BACKUP_KEY_FILE, RAPPORT_BACKUP_KEY)"),
    }
}

fn sqlite_file(config: &Config) -> anyhow::Result<PathBuf> {
    config.sqlite_path().context("backup and restore are for the embedded SQLite database; use pg_dump for PostgreSQL")
}

/// A sibling path for work in progress, removed whatever happens.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub async fn backup(config: &Config, out: &Path) -> anyhow::Result<ExitCode> {
    let key = key(config)?;
    let database = sqlite_file(config)?;
    let store = open(config).await?;
    let snapshot = Scratch(database.with_extension(format!("backup-{}.db", uuid::Uuid::now_v7().simple())));
    store.snapshot_into(&snapshot.0.to_string_lossy()).await.context("taking a consistent snapshot")?;
    super::admin::record(&store, None, "database.backup", ("file", out.display().to_string())).await?;
    store.close().await;
    let partial = Scratch(out.with_extension("partial"));
    let plain = std::fs::File::open(&snapshot.0).context("reading the snapshot")?;
    let sealed = std::fs::File::create(&partial.0).with_context(|| format!("creating {}", partial.0.display()))?;
    backup::encrypt(std::io::BufReader::new(plain), std::io::BufWriter::new(sealed), &key)?;
    std::fs::rename(&partial.0, out).with_context(|| format!("writing {}", out.display()))?;
    println!("backup written to {} (encrypted)", out.display());
    Ok(ExitCode::SUCCESS)
}

pub async fn restore(config: &Config, from: &Path, force: bool) -> anyhow::Result<ExitCode> {
    let key = key(config)?;
    let database = sqlite_file(config)?;
    if database.exists() && !force {
        bail!("{} exists: stop the server and pass --force to replace it", database.display());
    }
    if let Some(dir) = database.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let restoring = Scratch(database.with_extension("restoring.db"));
    let sealed = std::fs::File::open(from).with_context(|| format!("opening {}", from.display()))?;
    let plain = std::fs::File::create(&restoring.0).context("writing the restored database")?;
    backup::decrypt(std::io::BufReader::new(sealed), std::io::BufWriter::new(plain), &key)?;
    let mut check = config.clone();
    check.database_url = Some(rapport::config::Secret::new(format!("sqlite://{}", restoring.0.display())));
    let store = open(&check).await.context("the restored file is not a Rapport database")?;
    let reports = store.verify_audit().await?;
    store.close().await;
    if let Some(broken) = reports.iter().find(|r| !r.problems.is_empty()) {
        bail!("the restored audit chain {} is broken: {}", broken.chain, broken.problems.join("; "));
    }
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", database.display()));
        let _ = std::fs::remove_file(format!("{}{suffix}", restoring.0.display()));
    }
    std::fs::rename(&restoring.0, &database).with_context(|| format!("installing {}", database.display()))?;
    let events: i64 = reports.iter().map(|r| r.events).sum();
    println!("restored {} ({events} audit events, chains intact)", database.display());
    Ok(ExitCode::SUCCESS)
}
