//! `govpack sample`: writes a generated MSP as canonical CSV.
//!
//! Writes `tenants.csv`, `devices.csv`, `patch_status.csv`, `device_patch_summary.csv`,
//! `patch_attempts.csv`, `tickets.csv`, `changes.csv` and `exceptions.csv` into `--out`. The same
//! options always give the same bytes; the data ends on `--until` (default: the last day of the
//! previous calendar month), so pass `--until` when the output must be reproducible later.

use std::path::PathBuf;

use anyhow::Result;
use chrono::{Datelike, Utc};

use crate::cmd::cli::GlobalArgs;
use crate::error::UsageError;
use crate::sample::{self, SampleFormat, SampleSpec};

/// Generate a realistic, deterministic sample MSP as canonical CSV, with the CISA KEV catalog and
/// MSRC CVRF documents of its updates
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  govpack sample --out sample_data\n  \
    govpack sample --out big --tenants 10 --devices 2000 --months 12 --seed 7 --until 2026-10-31\n  \
    govpack sample --out vendor-msp --format vendor --until 2026-10-31")]
pub struct Args {
    /// Folder to write the files into
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Number of client tenants (1-10)
    #[arg(long, default_value_t = 4)]
    pub tenants: usize,
    /// Number of devices across all tenants
    #[arg(long, default_value_t = 60)]
    pub devices: usize,
    /// Number of calendar months of history, ending with the month of --until
    #[arg(long, default_value_t = 3)]
    pub months: u32,
    /// Random seed: the same seed and options give the same files
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Last day of the data, YYYY-MM-DD [default: the last day of the previous month]
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// Shape of the files: canonical CSV, or vendor exports where a vendor shape exists
    #[arg(long, value_enum, default_value_t = SampleFormat::Canonical)]
    pub format: SampleFormat,
    /// Write canonical CSV as dated inbox drops (`<out>/YYYY-MM-DD/`, one per snapshot day), for
    /// rehearsing `govpack run`
    #[arg(long, conflicts_with = "format")]
    pub drops: bool,
}

pub fn run(_global: &GlobalArgs, args: Args) -> Result<i32> {
    let until = match &args.until {
        Some(s) => super::day_arg("until", s)?,
        None => {
            let today = Utc::now().date_naive();
            today.with_day(1).expect("day 1") - chrono::Duration::days(1)
        }
    };
    let spec = SampleSpec {
        tenants: args.tenants,
        devices: args.devices,
        months: args.months,
        seed: args.seed,
        until,
    };
    if args.drops {
        let drops = sample::write_drops(&spec, &args.out).map_err(|e| UsageError(format!("{e:#}")))?;
        let days: std::collections::BTreeSet<_> = drops.iter().map(|(d, _, _)| *d).collect();
        outln!(
            "Sample MSP as {} inbox drops in {} ({} to {}); rehearse with, for each drop in order:\n  \
             mv {}/<day> inbox/ && govpack run daily --as-of <day>",
            days.len(),
            args.out.display(),
            days.first().map_or_else(String::new, |d| d.to_string()),
            days.last().map_or_else(String::new, |d| d.to_string()),
            args.out.display()
        );
        return Ok(0);
    }
    let written =
        sample::write_as(&spec, &args.out, args.format).map_err(|e| UsageError(format!("{e:#}")))?;
    outln!(
        "Sample MSP: {} tenants, {} devices, {} month(s) to {until}, seed {}",
        spec.tenants,
        spec.devices,
        spec.months,
        spec.seed
    );
    for (path, rows) in written {
        outln!("  {:>7} rows  {}", rows, path.display());
    }
    outln!("next: govpack ingest {}", args.out.display());
    Ok(0)
}
