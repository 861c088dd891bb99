//! `govpack runbook`: the operator runbook of the settings in force today.
//!
//! Writes `implementation-runbook.docx` (or `--out FILE`) from the configuration (`--config`, else
//! `./govpack.toml`, else govpack's defaults): roles, tiers, rings, time frames, breach rules,
//! tickets, controls and the jobs' schedule, each rule citing its govpack.toml key. Reads no lake:
//! the runbook of a past period, as its settings were recorded, is in that period's evidence
//! bundle.

use std::path::PathBuf;

use anyhow::Result;

use crate::cmd::cli::GlobalArgs;
use crate::config::Config;
use crate::reports::runbook::{self, Provenance, Scope};

/// Write the operator runbook (implementation-runbook.docx) from the settings in force
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  govpack runbook --config /etc/govpack/govpack.toml --out runbook.docx")]
pub struct Args {
    /// Where to write the runbook
    #[arg(long, value_name = "FILE", default_value = runbook::FILE)]
    pub out: PathBuf,
}

pub fn run(global: &GlobalArgs, args: Args) -> Result<i32> {
    let config = global.load_config()?;
    let origin = match Config::file_in_effect(global.config.as_deref())? {
        Some(path) => path.display().to_string(),
        None => "govpack's defaults (no config file)".to_string(),
    };
    let today = chrono::Utc::now().date_naive();
    let book = runbook::build(
        &runbook::settings_of(&config)?,
        Scope::Portfolio,
        config.report.msp_name.as_deref(),
        &Provenance::Configured {
            date: today.format("%Y-%m-%d").to_string(),
            origin,
        },
    )?;
    let midnight = today.and_hms_opt(0, 0, 0).expect("midnight");
    runbook::write(&book, config.report.paper, midnight, &args.out)?;
    outln!("wrote {}", args.out.display());
    Ok(0)
}
