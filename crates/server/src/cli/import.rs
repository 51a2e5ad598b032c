//! `rapport import patients|appointments FILE.csv`.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;
use rapport_server::import::{ImportError, ImportOptions, ImportReport};

use super::{ImportArgs, load, open, pick_organization};

pub(super) async fn import(args: ImportArgs, patients: bool) -> anyhow::Result<ExitCode> {
    let config = load(&args.storage.overrides(None))?;
    let store = open(&config).await?;
    let org = pick_organization(&store, args.organization.as_deref()).await?;
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
