//! `govpack run daily|weekly|monthly`: the scheduled job.
//!
//! Not built yet (the operations issue): it will ingest new files from an inbox, recompute the
//! KPIs, evaluate breach rules and send alerts, and close a month with the full pack, under a lock
//! and with a run ledger in the lake.

use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::cli::GlobalArgs;

/// Run the scheduled daily, weekly or monthly job (not built yet)
#[derive(Debug, clap::Args)]
#[command(after_help = "Example (once built):\n  govpack run daily --inbox /srv/govpack/inbox")]
pub struct Args {
    /// Which job: daily, weekly or monthly
    #[arg(value_parser = ["daily", "weekly", "monthly"])]
    pub job: String,
    /// Folder of new export files
    #[arg(long, value_name = "DIR")]
    pub inbox: Option<PathBuf>,
    /// Run as if on this date, YYYY-MM-DD
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
}

pub fn run(_global: &GlobalArgs, args: Args) -> Result<i32> {
    bail!(
        "`govpack run {}` is not built yet: it will ingest the inbox, recompute KPIs, send breach \
         alerts and write the periodic packs. Meanwhile schedule `govpack ingest <inbox>`. Nothing was run.",
        args.job
    )
}
