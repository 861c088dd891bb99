//! `govpack kpi`: computes the KPIs of docs/kpi-definitions.md for a period.
//!
//! Reads the lake through DuckDB views, runs the SQL files of `queries/` (read at run time, so
//! they can be reviewed where govpack is installed) and writes `kpi_summary` and the drill-down
//! tables (`compliance_devices`, `overdue_patches`, `chronic_devices`, `failure_episodes`,
//! `change_controls`, `change_data_quality`, `pilot_soak`, `failure_patterns`, `failure_classes`)
//! to `lake/kpi/<table>/period=<label>/`. Re-running a period replaces that period's outputs and
//! nothing else. A missing or broken query file is an error naming the file and DuckDB's message.
//!
//! Refuses (exit 2, writing nothing): a lake folder that holds no lake, and a period with no
//! devices snapshot (nothing in it was measured; its zeros would read "met" and become the
//! baseline of every later month).
//!
//! `--forget --period P --reason TEXT` removes a computed period's outputs, so it is neither
//! reported nor anyone's baseline any more, and records the reason in the run ledger (`runs`, job
//! `forget`). Packs and bundles already written are left as they were issued.

use anyhow::Result;

use crate::calendar::Period;
use crate::cmd::cli::GlobalArgs;
use crate::error::UsageError;
use crate::kpi;
use crate::sql;

/// Compute the KPIs for a period and write them to the lake
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  govpack kpi                       the month of the latest devices snapshot\n  \
    govpack kpi --period 2026-10\n  govpack kpi --from 2026-10-01 --to 2026-10-15\n  \
    govpack kpi --forget --period 2025-01 --reason \"computed before the client's exports started\""
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
    /// Remove the period's computed outputs instead of computing them (needs --period or
    /// --from/--to, and --reason)
    #[arg(long, requires = "reason")]
    pub forget: bool,
    /// Why the period is forgotten: written to the run ledger
    #[arg(long, value_name = "TEXT", requires = "forget")]
    pub reason: Option<String>,
}

pub fn run(global: &GlobalArgs, args: Args) -> Result<i32> {
    let config = global.load_config()?;
    // The arguments first: a mistyped date is said as such, whatever the lake.
    let named = match (&args.period, &args.from, &args.to) {
        (Some(p), _, _) => Some(Period::parse_month(p)?),
        (None, Some(from), Some(to)) => {
            let date = super::day_arg;
            let period = Period {
                start: date("from", from)?,
                end: date("to", to)?,
            };
            if period.end < period.start {
                return Err(UsageError("--to is before --from".into()).into());
            }
            Some(period)
        }
        _ if args.forget => {
            return Err(
                UsageError("--forget needs the period to forget: --period or --from/--to".into()).into(),
            );
        }
        _ => None,
    };
    let lake = global.open_existing_lake(&config)?;
    let _lock = crate::operations::lock::lock_for_command(&lake, "kpi")?;
    let period = match named {
        Some(period) => period,
        None => kpi::default_period(&sql::open(&lake)?)?,
    };
    if args.forget {
        let reason = args.reason.as_deref().unwrap_or_default().trim();
        if reason.is_empty() {
            return Err(UsageError("--reason: say why the period is forgotten".into()).into());
        }
        return forget(&lake, period, reason);
    }
    let run = kpi::compute(&config, &lake, period)?;
    print_run(&run)?;
    print_scorecard(&lake, run.period)?;
    Ok(0)
}

/// Removes the period's outputs and records why in the run ledger.
fn forget(lake: &crate::lake::Lake, period: Period, reason: &str) -> Result<i32> {
    let forgotten = kpi::forget(lake, period)?;
    let now = chrono::Utc::now();
    let note = format!(
        "forgot the KPIs of period {} ({} to {}): {reason}",
        period.label(),
        period.start,
        period.end
    );
    let holder = crate::operations::lock::Holder::this_process("forget", "", now);
    crate::operations::ledger::record_run(
        lake,
        &crate::operations::ledger::RunRecord {
            run_id: format!("forget-{}-{}", period.label(), now.format("%Y%m%dT%H%M%S%.3fZ")),
            job: "forget".into(),
            as_of: now.date_naive(),
            started_utc: now,
            ended_utc: Some(chrono::Utc::now()),
            status: "succeeded".into(),
            note: Some(note.clone()),
            host: holder.host,
            pid: holder.pid,
            ..Default::default()
        },
    )?;
    outln!("{note}");
    outln!("  {} files removed", forgotten.files.len());
    if !forgotten.baseline_of.is_empty() {
        outln!(
            "  These periods took their baseline from it; compute them again for their status: {}",
            forgotten.baseline_of.join(", ")
        );
    }
    Ok(0)
}

/// The portfolio rows of a period's scorecard, as a table for the terminal.
pub fn print_scorecard(lake: &crate::lake::Lake, period: Period) -> Result<()> {
    let conn = sql::open(lake)?;
    sql::bind(
        &conn,
        &[
            ("period_start", sql::date(period.start)),
            ("period_end", sql::date(period.end)),
        ],
    )?;
    let queries = sql::NamedQueries::read(crate::reports::PERIODS)?;
    outln!("\nPortfolio scorecard, {} to {}:", period.start, period.end);
    out!(
        "{}",
        sql::pretty_table(&conn, queries.bound(&conn, "portfolio-scorecard")?)?
    );
    Ok(())
}

pub fn print_run(run: &kpi::KpiRun) -> Result<()> {
    outln!(
        "KPIs for {} to {} (as of {}):",
        run.period.start,
        run.period.end,
        run.as_of
    );
    for (name, rows, file) in &run.outputs {
        outln!("  {rows:>7} rows  {name:<20} {}", file.display());
    }
    Ok(())
}
