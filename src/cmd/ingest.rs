//! `govpack ingest PATH...`: loads export files into the lake.
//!
//! Reads each file (a folder means every `*.csv` and `*.json` below it), recognises its format by
//! its content (a canonical table by its header, a vendor export by its header or JSON envelope;
//! `--source` forces one), turns it into canonical rows, validates every row, and merges the good
//! rows into the lake by natural key, the newer row winning (tickets and changes by the PSA's
//! update time, then the export date; an older export's rows are counted stale, not applied).
//! Refused rows (including rows of a tenant no tenants row has) go to `lake/quarantine/` with
//! file, line, column, value and reason; the rest of the file still loads and the exit code is 0.
//! A file already ingested (same SHA-256 for the same snapshot date) is skipped. A file that
//! cannot be read (encoding, unknown header) is refused with its line and column, the other files
//! still load, and the exit code is 1. A lake file that cannot be read stops the ingest (exit 1)
//! naming it. A file's rows, refused rows and ledger line are committed together.

use std::path::PathBuf;

use anyhow::Result;

use crate::cmd::cli::GlobalArgs;
use crate::error::UsageError;
use crate::ingest::{self, IngestOptions, IngestReport, Outcome};
use crate::lake::Lake;
use crate::sources::Format;

/// Load export files (or folders of them) into the lake
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  govpack ingest exports/2026-10/\n  \
    govpack --lake /srv/govpack/lake ingest devices.csv patch_status_2026-10-31.csv\n  \
    govpack ingest --snapshot-date 2026-10-31 datto-sites.json datto-devices.json")]
pub struct Args {
    /// Files or folders to ingest (folders: every *.csv and *.json below them)
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The day snapshot exports describe (device lists from an RMM API), when the file name has
    /// no YYYY-MM-DD
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub snapshot_date: Option<String>,
    /// Read the files as this format instead of recognising it from their content (the formats
    /// the adapters register)
    #[arg(long, value_name = "FORMAT", value_parser = format_names())]
    pub source: Option<String>,
}

/// The `--source` values: every format's name, as the adapters declare them.
fn format_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(Format::all().map(Format::name))
}

pub fn run(global: &GlobalArgs, args: Args) -> Result<i32> {
    let config = global.load_config()?;
    let options = IngestOptions {
        snapshot_date: args
            .snapshot_date
            .as_deref()
            .map(|d| super::day_arg("snapshot-date", d))
            .transpose()?,
        source: args
            .source
            .as_deref()
            .map(|s| {
                Format::from_name(s).ok_or_else(|| {
                    UsageError(format!(
                        "--source: `{s}` is not a known format ({})",
                        Format::names()
                    ))
                })
            })
            .transpose()?,
    };
    // A path that is not there is a usage error before the lake is opened: a typo makes no lake.
    ingest::expand_paths(&args.paths)?;
    let lake = global.open_lake(&config)?;
    let _lock = crate::operations::lock::lock_for_command(&lake, "ingest")?;
    let report = ingest::ingest_with(&config, &lake, &args.paths, options)?;
    print_summary(&report, &lake)?;
    Ok(if report.failed() > 0 { 1 } else { 0 })
}

/// The per-file lines and totals of an ingest, on stdout; failures also on stderr.
pub fn print_summary(report: &IngestReport, lake: &Lake) -> Result<()> {
    let loaded = report.loaded().count();
    outln!(
        "Ingest into {}: {} file(s): {loaded} loaded, {} skipped, {} failed",
        lake.root().display(),
        report.files.len(),
        report.skipped(),
        report.failed()
    );
    let mut shown = std::collections::HashSet::new();
    for file in &report.files {
        let name = file.path.display();
        match &file.outcome {
            Outcome::Loaded(l) => {
                let reasons = if l.reasons.is_empty() {
                    String::new()
                } else {
                    let list: Vec<String> = l.reasons.iter().map(|(r, n)| format!("{r} {n}")).collect();
                    format!(" ({})", list.join(", "))
                };
                let stale = if l.rows_stale > 0 {
                    format!(", {} older than the lake's rows (not applied)", l.rows_stale)
                } else {
                    String::new()
                };
                outln!(
                    "  loaded   {name}: {} -> {} rows read, {} loaded, {} quarantined{reasons}, {} replaced{stale}",
                    l.tables.join(","),
                    l.rows_read,
                    l.rows_loaded,
                    l.rows_quarantined,
                    l.rows_replaced
                );
                for w in &l.warnings {
                    outln!("           warning: {w}");
                }
            }
            Outcome::Skipped { previously } => outln!("  skipped  {name}: already ingested ({previously})"),
            Outcome::Failed { error } => {
                outln!("  FAILED   {name}: see error below");
                // An export that could not be committed fails each of its files with one error.
                if shown.insert(error) {
                    eprintln!("error: {error}");
                }
            }
            Outcome::NotLoaded { with } => outln!(
                "  FAILED   {name}: not loaded, as {} of the same export could not be read",
                with.display()
            ),
        }
    }
    let quarantined = report.total(|l| l.rows_quarantined);
    let stale = report.total(|l| l.rows_stale);
    outln!(
        "Rows: {} read, {} loaded, {} quarantined, {} replaced by newer exports{}",
        report.total(|l| l.rows_read),
        report.total(|l| l.rows_loaded),
        quarantined,
        report.total(|l| l.rows_replaced),
        if stale > 0 {
            format!(", {stale} stale (older than the lake's rows of their key, not applied)")
        } else {
            String::new()
        }
    );
    if quarantined > 0 {
        outln!(
            "Quarantined rows, with file, line, column and reason: {}",
            lake.table_dir(crate::canonical::system::QUARANTINE.name)
                .display()
        );
    }
    Ok(())
}
