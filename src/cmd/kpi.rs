//! `govpack kpi`: computes the KPIs of kpi-definitions.md for a period.
//!
//! Not built yet (the KPI engine issue): it will read the lake through DuckDB views, run the SQL
//! files in `queries/`, and write `kpi_summary`, the drill-down tables, the failure patterns and
//! the scorecard into the lake under `kpi/<table>/period=YYYY-MM/`.

use anyhow::{Result, bail};

use crate::cli::GlobalArgs;

/// Compute the KPIs for a period (not built yet)
#[derive(Debug, clap::Args)]
#[command(after_help = "Example (once built):\n  govpack kpi --period 2026-10")]
pub struct Args {
    /// Calendar month to compute, YYYY-MM [default: the month of the latest devices snapshot]
    #[arg(long, value_name = "YYYY-MM")]
    pub period: Option<String>,
    /// First day of a custom period, YYYY-MM-DD
    #[arg(long, value_name = "DATE", requires = "to", conflicts_with = "period")]
    pub from: Option<String>,
    /// Last day of a custom period, YYYY-MM-DD
    #[arg(long, value_name = "DATE", requires = "from")]
    pub to: Option<String>,
}

pub fn run(_global: &GlobalArgs, _args: Args) -> Result<i32> {
    bail!(
        "`govpack kpi` is not built yet: it will compute patch compliance, remediation, change and \
         release-safety KPIs from the lake with the SQL in queries/ and write kpi_summary and its \
         drill-down tables to the lake. Nothing was computed."
    )
}
