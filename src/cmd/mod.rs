//! One file per command. Each opens with its usage: what it reads, writes and refuses.

pub mod bench;
pub mod config;
pub mod demo;
pub mod ingest;
pub mod init;
pub mod kpi;
pub mod query;
pub mod report;
pub mod run;
pub mod sample;
pub mod status;
pub mod verify;

use anyhow::Result;

use crate::cli::{Cli, Command, GlobalArgs};
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
    }
}

/// A command's `--as-of YYYY-MM-DD`, default today (UTC).
pub fn as_of_date(arg: Option<&str>) -> Result<chrono::NaiveDate, crate::error::UsageError> {
    match arg {
        Some(d) => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| crate::error::UsageError(format!("--as-of: `{d}` is not a date (YYYY-MM-DD)"))),
        None => Ok(chrono::Utc::now().date_naive()),
    }
}

impl GlobalArgs {
    pub fn load_config(&self) -> Result<Config> {
        Ok(Config::load(self.config.as_deref())?)
    }

    pub fn open_lake(&self, config: &Config) -> Result<Lake> {
        let lake = Lake::open(&config.lake_dir(self.lake.as_deref()))?;
        // A commit an ingest did not finish (killed, power loss) is finished by whichever command
        // comes next and can take the lock, so readers do not see a file's rows without its
        // ledger line. A commit still being applied holds the lock and is left alone.
        if lake.has_interrupted_commit()
            && let Ok(_lock) = crate::ops::lock::lock_for_command(&lake, "recovery")
        {
            lake.finish_interrupted_commit()?;
        }
        Ok(lake)
    }
}
