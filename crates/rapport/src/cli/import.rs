//! `rapport import patients|appointments FILE.csv` and `rapport import fhir PATH`.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;
use rapport::import::{FhirReport, ImportError, ImportOptions, ImportReport};

use super::{FhirImportArgs, ImportArgs, load, open, pick_organization};

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
        rapport::import::import_patients(&store, org, reader, &options, &mut progress).await
    } else {
        rapport::import::import_appointments(&store, org, reader, &options, &mut progress).await
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

pub(super) async fn import_fhir(args: FhirImportArgs) -> anyhow::Result<ExitCode> {
    let config = load(&args.storage.overrides(None))?;
    let store = open(&config).await?;
    let org = pick_organization(&store, args.organization.as_deref()).await?;
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message("importing FHIR resources");
        bar
    });
    let mut progress = |taken: u64| match &bar {
        Some(bar) => bar.set_position(taken),
        None => eprintln!("imported {taken} resources"),
    };
    let result = rapport::import::import_fhir(&store, org, &args.path, &mut progress).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if result.is_ok() {
        store.refresh_statistics().await.context("refreshing planner statistics")?;
    }
    store.close().await;
    Ok(print_fhir_report(&result?))
}

/// Prints what each resource type came to; the exit code says whether
/// every resource Rapport takes landed.
fn print_fhir_report(report: &FhirReport) -> ExitCode {
    for error in &report.failed {
        eprintln!("  {error}");
    }
    for (kind, c) in &report.counts {
        match rapport::import::TAKEN.contains(&kind.as_str()) {
            false => println!("{kind}: {} read, skipped (not a type Rapport takes)", c.read),
            true => println!(
                "{kind}: {} read, {} created, {} updated, {} skipped, {} failed",
                c.read, c.created, c.updated, c.skipped, c.failed
            ),
        }
    }
    if report.failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
