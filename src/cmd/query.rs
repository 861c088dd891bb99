//! `govpack query`: ad hoc SQL over the lake.
//!
//! Not built yet (the KPI engine issue): it will run DuckDB SQL against views named after every
//! canonical table and KPI output, printing a table, CSV or JSON, or writing Parquet.

use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::cli::GlobalArgs;

/// Run ad hoc SQL over the lake (not built yet)
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example (once built):\n  govpack query \"select tenant_id, count(*) from devices group by 1\""
)]
pub struct Args {
    /// The SQL to run
    pub sql: Option<String>,
    /// Output format: table, csv, json or parquet
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Write the result to this file instead of standard output
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Write a DuckDB database of views over the lake
    #[arg(long, value_name = "FILE")]
    pub write_duckdb: Option<PathBuf>,
}

pub fn run(_global: &GlobalArgs, _args: Args) -> Result<i32> {
    bail!(
        "`govpack query` is not built yet: it will run DuckDB SQL over views of every lake table and \
         KPI output. Meanwhile the DuckDB CLI reads the lake directly: \
         select * from read_parquet('<lake>/devices/*.parquet')"
    )
}
