//! `govpack report`: writes the governance pack for a period.
//!
//! Not built yet (the reports issue): it will write the KPI and risk register workbook, the
//! proof-brief PDF, the failure-pattern analysis and auditor evidence bundles with a SHA-256
//! manifest, for the portfolio and per tenant.

use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::cli::GlobalArgs;

/// Write the workbook, proof brief and evidence bundles (not built yet)
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example (once built):\n  govpack report --period 2026-10 --all-tenants --out reports/"
)]
pub struct Args {
    /// Calendar month, YYYY-MM [default: the latest computed period]
    #[arg(long, value_name = "YYYY-MM")]
    pub period: Option<String>,
    /// One tenant's pack and evidence bundle
    #[arg(long, value_name = "ID", conflicts_with = "all_tenants")]
    pub tenant: Option<String>,
    /// The portfolio pack plus one pack per tenant
    #[arg(long)]
    pub all_tenants: bool,
    /// Output folder
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub fn run(_global: &GlobalArgs, _args: Args) -> Result<i32> {
    bail!(
        "`govpack report` is not built yet: it will write kpi-and-risk-register.xlsx, proof-brief.pdf, \
         the failure-pattern analysis and evidence bundles with a SHA-256 manifest. Nothing was written."
    )
}
