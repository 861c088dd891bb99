//! The command line: global options and one subcommand per file in `cmd/`.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

use crate::cmd;

#[derive(Debug, Parser)]
#[command(
    name = "govpack",
    version,
    about = "Patch and change governance analytics for MSPs",
    long_about = "Patch and change governance analytics for MSPs.\n\n\
        govpack ingests RMM and PSA exports into a Parquet lake, computes the patch-compliance, \
        remediation, change and release-safety KPIs over it with DuckDB, and writes the \
        governance workbook, the proof-brief PDF and auditor evidence bundles.",
    after_help = "Exit codes: 0 success (quarantined rows included), 1 a job failed, 2 bad usage or config.\n\n\
        Start here:\n  govpack demo                      the whole pipeline on the bundled sample data\n  \
        govpack init                      write a documented govpack.toml\n  \
        govpack ingest exports/           load exports into the lake"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Config file [default: ./govpack.toml when it exists, else built-in defaults]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Lake folder, overriding the config's `lake.path`
    #[arg(long, global = true, value_name = "DIR")]
    pub lake: Option<PathBuf>,
    /// More log output on stderr (-v info, -vv debug); GOVPACK_LOG=<filter> overrides
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Init(cmd::init::Args),
    Ingest(cmd::ingest::Args),
    Kpi(cmd::kpi::Args),
    Report(cmd::report::Args),
    Query(cmd::query::Args),
    Run(cmd::run::Args),
    Demo(cmd::demo::Args),
    Sample(cmd::sample::Args),
    Verify(cmd::verify::Args),
}

/// Logs go to stderr, so that stdout carries only a command's output.
pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("GOVPACK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
