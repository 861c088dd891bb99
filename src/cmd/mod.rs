//! One file per command. Each opens with its usage: what it reads, writes and refuses.

pub mod bench;
pub mod cli;
pub mod collect;
pub mod config;
pub mod demo;
pub mod ingest;
pub mod init;
pub mod kpi;
pub mod query;
pub mod report;
pub mod run;
pub mod runbook;
pub mod sample;
pub mod status;
pub mod verify;

use anyhow::Result;

use crate::cmd::cli::{Cli, Command, GlobalArgs};
use crate::config::Config;
use crate::lake::Lake;

/// Runs a parsed command line; the result is the exit code.
pub fn run(cli: Cli) -> Result<i32> {
    let global = cli.global;
    match cli.command {
        Command::Init(args) => init::run(&global, args),
        Command::Ingest(args) => ingest::run(&global, args),
        Command::Kpi(args) => kpi::run(&global, args),
        Command::Report(args) => report::run(&global, args),
        Command::Query(args) => query::run(&global, args),
        Command::Run(args) => run::run(&global, args),
        Command::Demo(args) => demo::run(&global, args),
        Command::Sample(args) => sample::run(&global, args),
        Command::Status(args) => status::run(&global, args),
        Command::Verify(args) => verify::run(&global, args),
        Command::Bench(args) => bench::run(&global, args),
        Command::Config(args) => config::run(&global, args),
        Command::Collect(args) => collect::run(&global, args),
        Command::Runbook(args) => runbook::run(&global, args),
    }
}

/// A command's `--as-of YYYY-MM-DD`, default today (UTC).
pub fn as_of_date(arg: Option<&str>) -> Result<chrono::NaiveDate, crate::error::UsageError> {
    match arg {
        Some(d) => day_arg("as-of", d),
        None => Ok(chrono::Utc::now().date_naive()),
    }
}

/// The years a date on the command line may name: what patch governance can be about. chrono
/// reads `+262142-12-31` as a date, which no period, file name or SQL date can hold.
pub const DAY_ARG_YEARS: std::ops::RangeInclusive<i32> = 2000..=2999;

/// A date option (`--flag YYYY-MM-DD`): four-digit year, month and day, in `DAY_ARG_YEARS`.
pub fn day_arg(flag: &str, text: &str) -> Result<chrono::NaiveDate, crate::error::UsageError> {
    let bad = |why: &str| crate::error::UsageError(format!("--{flag}: `{text}` {why}"));
    let shaped = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    let day = shaped
        .then(|| chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| bad("is not a date (YYYY-MM-DD)"))?;
    if !DAY_ARG_YEARS.contains(&chrono::Datelike::year(&day)) {
        return Err(bad(&format!(
            "is outside the years govpack works in ({} to {})",
            DAY_ARG_YEARS.start(),
            DAY_ARG_YEARS.end()
        )));
    }
    Ok(day)
}

impl GlobalArgs {
    pub fn load_config(&self) -> Result<Config> {
        Ok(Config::load(self.config.as_deref())?)
    }

    /// The configured lake, created when it is not there yet: for the commands that fill it
    /// (`ingest`, `run`).
    pub fn open_lake(&self, config: &Config) -> Result<Lake> {
        finish_interrupted_commit(Lake::open(&config.lake_dir(self.lake.as_deref()))?)
    }

    /// The configured lake, which must exist: for the commands that read it. A mistyped
    /// `--lake` is an error (exit 2) that creates nothing.
    pub fn open_existing_lake(&self, config: &Config) -> Result<Lake> {
        finish_interrupted_commit(Lake::open_existing(&config.lake_dir(self.lake.as_deref()))?)
    }
}

/// A commit an ingest did not finish (killed, power loss) is finished by whichever command comes
/// next and can take the lock, so readers do not see a file's rows without its ledger line. A
/// commit still being applied holds the lock and is left alone.
fn finish_interrupted_commit(lake: Lake) -> Result<Lake> {
    if lake.has_interrupted_commit()
        && let Ok(_lock) = crate::operations::lock::lock_for_command(&lake, "recovery")
    {
        lake.finish_interrupted_commit()?;
    }
    Ok(lake)
}
