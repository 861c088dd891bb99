//! `govpack report`: writes the governance pack for a period, through `reports::write_pack`:
//! `kpi-and-risk-register.xlsx` (with the risk and control registers of
//! `report_templates/registers.toml` and each control's automated test), `proof-brief.pdf`
//! (wording and font from `report_templates/`), for the portfolio `failure-patterns-YYYY-MM.xlsx`
//! (recommendations from `report_templates/failure_rules.toml`), and an evidence bundle
//! `evidence-<scope>-YYYY-MM/` holding them with each control's population and exceptions as
//! CSV, `run.json`, a SHA-256 manifest and its hash.
//!
//! Into `--out` (default `reports/<period>/`) for the portfolio, `<out>/<tenant>/` for one tenant
//! (`--tenant ID`, that tenant's rows only), or both for every tenant (`--all-tenants`). The period
//! must have been computed with `govpack kpi`; the default is the latest computed one. A folder
//! that holds no lake is refused (exit 2), creating nothing.

use std::path::PathBuf;

use anyhow::Result;

use crate::calendar::Period;
use crate::cmd::cli::GlobalArgs;
use crate::error::UsageError;
use crate::{reports, sql};

/// Write the governance pack for a period (workbook, proof-brief PDF, client deck, runbook,
/// failure-pattern analysis, evidence bundle), for the portfolio and tenants
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  govpack report\n  \
    govpack report --period 2026-10 --all-tenants --out reports/2026-10/\n  \
    govpack report --period 2026-10 --tenant 29683500")]
pub struct Args {
    /// Calendar month, YYYY-MM [default: the latest period computed by `govpack kpi`]
    #[arg(long, value_name = "YYYY-MM")]
    pub period: Option<String>,
    /// One tenant's pack (that tenant's rows only)
    #[arg(long, value_name = "ID", conflicts_with = "all_tenants")]
    pub tenant: Option<String>,
    /// The portfolio's pack plus one per tenant
    #[arg(long)]
    pub all_tenants: bool,
    /// Output folder [default: reports/<period>]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub fn run(global: &GlobalArgs, args: Args) -> Result<i32> {
    let config = global.load_config()?;
    let lake = global.open_existing_lake(&config)?;
    let conn = reports::session(&lake, None)?;
    // With no KPI output at all there is no kpi_summary view to read; any other failure (a
    // damaged file, an installed query copy missing a query) is said as it is.
    if !sql::kpi_outputs(&lake)?.iter().any(|o| o == "kpi_summary") {
        return Err(
            UsageError("no KPIs computed yet: run `govpack kpi --period YYYY-MM` first".into()).into(),
        );
    }
    let computed = reports::computed_periods(&conn)?;
    let period = match &args.period {
        Some(p) => Period::parse_month(p)?,
        None => Period::parse_month(
            computed
                .last()
                .ok_or_else(|| UsageError("no KPIs computed yet".into()))?,
        )?,
    };
    if !computed.contains(&period.label()) {
        return Err(UsageError(format!(
            "no KPIs computed for {}: run `govpack kpi --period {}` first (computed: {})",
            period.label(),
            period.label(),
            computed.join(", ")
        ))
        .into());
    }
    // A period computed by an earlier govpack lacks the outputs added since: its pack would
    // miss controls or fail half-way, so it is computed again first.
    let missing = crate::kpi::missing_outputs(&lake, period);
    if !missing.is_empty() {
        return Err(UsageError(format!(
            "the KPIs for {} were computed by an earlier govpack and lack {}: run `govpack kpi --period {}` again",
            period.label(),
            missing.join(", "),
            period.label()
        ))
        .into());
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("reports").join(period.label()));
    let tenants = reports::tenant_ids(&lake)?;
    let mut scopes: Vec<Option<String>> = Vec::new();
    match (&args.tenant, args.all_tenants) {
        // A mistyped id would give an empty pack that reads as a clean tenant: refuse it.
        (Some(t), _) if !tenants.contains(t) => {
            let shown: Vec<&str> = tenants.iter().take(20).map(String::as_str).collect();
            return Err(UsageError(format!(
                "no tenant {t:?} in the lake; its {} tenant ids include: {}",
                tenants.len(),
                shown.join(", ")
            ))
            .into());
        }
        (Some(t), _) => scopes.push(Some(t.clone())),
        (None, true) => {
            scopes.push(None);
            scopes.extend(tenants.into_iter().map(Some));
        }
        (None, false) => scopes.push(None),
    }
    let key = reports::signature::EvidenceKey::configured(&config)?;
    let brand = reports::Brand::configured(&config)?;
    for scope in scopes {
        let written = reports::write_pack(&lake, period, scope.as_deref(), &out, key.as_ref(), &brand)?;
        let (bundle, files) = written.split_last().expect("a pack always has its bundle");
        for file in files {
            outln!("wrote {}", file.display());
        }
        outln!(
            "wrote {} (check it with `govpack verify` or `sha256sum -c manifest.sha256`)",
            bundle.display()
        );
    }

    Ok(0)
}
