//! The command line as clap reads it: global options and one subcommand per file of `cmd/`.

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
    after_help = "Exit codes: 0 success (quarantined rows included), 1 a job failed or was partial, 2 bad usage \
        or config, 3 another govpack run holds the lake.\n\n\
        Start here:\n  govpack demo                      the whole pipeline on the bundled sample data\n  \
        govpack init                      write a documented govpack.toml\n  \
        govpack ingest exports/           load exports into the lake\n  \
        govpack run daily                 the scheduled job (deploy/ has the schedules)\n  \
        govpack status                    last runs, stale tenants, breaches, data quality"
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
    /// Log lines as text, or as JSON objects (one per line) for a log collector
    #[arg(long, global = true, value_name = "FORMAT", value_parser = ["text", "json"], default_value = "text")]
    pub log_format: String,
    /// Append the log to this file instead of stderr
    #[arg(long, global = true, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Init(cmd::init::Args),
    Ingest(cmd::ingest::Args),
    Collect(cmd::collect::Args),
    Kpi(cmd::kpi::Args),
    Report(cmd::report::Args),
    Query(cmd::query::Args),
    Run(cmd::run::Args),
    Demo(cmd::demo::Args),
    Sample(cmd::sample::Args),
    Status(cmd::status::Args),
    Verify(cmd::verify::Args),
    Bench(cmd::bench::Args),
    Config(cmd::config::Args),
    Runbook(cmd::runbook::Args),
}

/// Logs go to stderr (or `--log-file`), so that stdout carries only a command's output. The
/// scheduled job logs its steps at info level by default: it runs unattended, and its log is
/// what someone reads when it failed.
/// Crates under the HTTP client whose log lines can carry a URL or a header.
const HTTP_STACK_LOG_TARGETS: [&str; 4] = ["ureq", "ureq_proto", "rustls", "webpki"];

pub fn init_logging(cli: &Cli) -> std::io::Result<()> {
    let global = &cli.global;
    let unattended = matches!(cli.command, Command::Run(_) | Command::Collect(_));
    let default = match (global.verbose, unattended) {
        (0, false) => "warn",
        (0, true) | (1, _) => "info",
        _ => "debug",
    };
    let filter = || {
        let mut filter = tracing_subscriber::EnvFilter::try_from_env("GOVPACK_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
        // The HTTP stack logs requests with their URL (a Teams webhook's signature, an Autotask
        // zone and query): its own lines are never written, at any level. govpack's HTTP module
        // logs what it does with secrets masked.
        for quiet in HTTP_STACK_LOG_TARGETS {
            filter = filter.add_directive(format!("{quiet}=off").parse().expect("a valid directive"));
        }
        filter
    };
    let writer = match &global.log_file {
        Some(path) => {
            let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
            tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::sync::Mutex::new(file))
        }
        None => tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stderr),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(writer)
        .with_target(false)
        .with_ansi(global.log_file.is_none() && std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = if global.log_format == "json" {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
    Ok(())
}

/// Writes to standard output and says when it cannot: a reader that went away (`status | head
/// -1`) or a full disk (`> /dev/full`) is an error the command returns, where `print!` would
/// panic. `main` ends quietly on a closed pipe (exit 141, as SIGPIPE would), and reports
/// anything else.
pub fn write_stdout(text: std::fmt::Arguments<'_>) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_fmt(text)
        .and_then(|()| out.flush())
        .map_err(|e| anyhow::Error::new(e).context("cannot write to standard output"))
}

/// Whether an error is standard output's reader having gone away (the end of a pipe closed).
pub fn is_closed_stdout(error: &anyhow::Error) -> bool {
    error.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
