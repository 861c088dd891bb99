//! `govpack kpi`: computes the KPIs of kpi-definitions.md for a period.
//!
//! Reads the lake through DuckDB views, runs the SQL files of `queries/` (read at run time, so
//! they can be reviewed where govpack is installed) and writes `kpi_summary` and the drill-down
//! tables (`compliance_devices`, `overdue_patches`, `chronic_devices`, `failure_episodes`,
//! `change_controls`, `change_data_quality`, `pilot_soak`, `failure_patterns`, `failure_classes`)
//! to `lake/kpi/<table>/period=<label>/`. Re-running a period replaces that period's outputs and
//! nothing else. A missing or broken query file is an error naming the file and DuckDB's message.

use anyhow::Result;

use crate::catalog::Period;
use crate::cli::GlobalArgs;
use crate::error::UsageError;
use crate::kpi;
use crate::sql;

/// Compute the KPIs for a period and write them to the lake
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  govpack kpi                       the month of the latest devices snapshot\n  \
    govpack kpi --period 2026-10\n  govpack kpi --from 2026-10-01 --to 2026-10-15"
)]
pub struct Args {
    /// Calendar month to compute, YYYY-MM [default: the month of the latest devices snapshot]
    #[arg(long, value_name = "YYYY-MM")]
    pub period: Option<String>,
    /// First day of a custom period, YYYY-MM-DD
    #[arg(long, value_name = "DATE", requires = "to", conflicts_with = "period")]
    pub from: Option<String>,
    /// Last day of a custom period, YYYY-MM-DD (included)
    #[arg(long, value_name = "DATE", requires = "from")]
    pub to: Option<String>,
}

pub fn run(global: &GlobalArgs, args: Args) -> Result<i32> {
    let config = global.load_config()?;
    let lake = global.open_lake(&config)?;
    let _lock = crate::ops::lock::lock_for_command(&lake, "kpi")?;
    let period = match (&args.period, &args.from, &args.to) {
        (Some(p), _, _) => Period::parse_month(p)?,
        (None, Some(from), Some(to)) => {
            let date = super::day_arg;
            let period = Period {
                start: date("from", from)?,
                end: date("to", to)?,
            };
            if period.end < period.start {
                return Err(UsageError("--to is before --from".into()).into());
            }
            period
        }
        _ => kpi::default_period(&sql::open(&lake)?)?,
    };
    let run = kpi::compute(&config, &lake, period)?;
    print_run(&run);
    print_scorecard(&lake, run.period)?;
    Ok(0)
}

/// The portfolio rows of a period's scorecard, as a table for the terminal.
pub fn print_scorecard(lake: &crate::lake::Lake, period: Period) -> Result<()> {
    let conn = sql::open(lake)?;
    let date = |day: chrono::NaiveDate| format!("date {}", sql::string_literal(&day.to_string()));
    let query = sql::NamedQueries::read(crate::reports::PERIODS)?.fill(
        "portfolio-scorecard",
        &[
            ("p", &format!("period_start = {}", date(period.start))),
            ("period_end", &date(period.end)),
        ],
    )?;
    println!("\nPortfolio scorecard, {} to {}:", period.start, period.end);
    print!("{}", sql::pretty_table(&conn, &query)?);
    Ok(())
}

pub fn print_run(run: &kpi::KpiRun) {
    println!(
        "KPIs for {} to {} (as of {}):",
        run.period.start, run.period.end, run.as_of
    );
    for (name, rows, file) in &run.outputs {
        println!("  {rows:>7} rows  {name:<20} {}", file.display());
    }
}
