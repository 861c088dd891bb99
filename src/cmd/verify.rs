//! `govpack verify BUNDLE`: re-checks an evidence bundle.
//!
//! Recomputes the SHA-256 of every file listed in the bundle's `manifest.sha256`, checks the
//! manifest against `manifest.sha256.sha256`, and reports files changed, missing, or present but
//! not listed. Exit 0 when the bundle is intact, 1 when anything is wrong. The same check works
//! without govpack: `sha256sum -c manifest.sha256 && sha256sum -c manifest.sha256.sha256`.

use std::path::PathBuf;

use anyhow::Result;

use crate::cli::GlobalArgs;
use crate::reports::bundle;

/// Re-check an evidence bundle against its SHA-256 manifest
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  govpack verify reports/2026-10/evidence-portfolio-2026-10")]
pub struct Args {
    /// The bundle folder (evidence-<scope>-YYYY-MM)
    #[arg(value_name = "BUNDLE")]
    pub bundle: PathBuf,
}

pub fn run(_global: &GlobalArgs, args: Args) -> Result<i32> {
    let problems = bundle::verify(&args.bundle)?;
    if problems.is_empty() {
        println!(
            "{}: intact (every file matches manifest.sha256, and the manifest its hash)",
            args.bundle.display()
        );
        return Ok(0);
    }
    for p in &problems {
        eprintln!("{}: {p}", args.bundle.display());
    }
    eprintln!(
        "{}: {} problem(s): the bundle is not the one that was issued",
        args.bundle.display(),
        problems.len()
    );
    Ok(1)
}
