//! `govpack demo`: the whole pipeline on the bundled sample data.
//!
//! Ingests `sample_data/` (or `--data DIR`) into `govpack-demo/lake/` (or `--out DIR`), reads the
//! lake back through DuckDB and prints what it holds and where, computes the KPIs of every month
//! the data covers (so the scorecard has a history), and prints the latest month's portfolio
//! scorecard, and writes the KPI workbook of that month for the portfolio and one tenant. Running
//! it again skips files already ingested, which shows the ledger at work, and recomputes the same
//! KPIs.

use std::path::{Path, PathBuf};

use anyhow::Result;

use chrono::Datelike;

use crate::catalog::Period;
use crate::cli::GlobalArgs;
use crate::cmd::ingest::print_summary;
use crate::cmd::kpi::print_scorecard;
use crate::error::UsageError;
use crate::kpi;
use crate::lake::Lake;
use crate::{ingest, sql};

/// Run the pipeline on the bundled sample data into ./govpack-demo/: ingest, every month's
/// KPIs, and the latest month's governance pack for the portfolio and one tenant
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  govpack demo\n  govpack demo --out /tmp/demo --data my-canonical-exports/"
)]
pub struct Args {
    /// Folder to write the demo lake and outputs into
    #[arg(long, value_name = "DIR", default_value = "govpack-demo")]
    pub out: PathBuf,
    /// Folder of exports to use instead of the bundled sample_data/
    #[arg(long, value_name = "DIR", conflicts_with = "vendor")]
    pub data: Option<PathBuf>,
    /// Use the vendor-shaped sample (sample_data/vendor/): tenants, tickets and changes as
    /// Autotask exports, summary-only devices as Datto RMM pages, the rest as canonical CSV.
    /// Gives the same KPIs.
    #[arg(long)]
    pub vendor: bool,
}

pub fn run(global: &GlobalArgs, args: Args) -> Result<i32> {
    let config = global.load_config()?;
    let inputs: Vec<PathBuf> = match (args.data, args.vendor) {
        (Some(d), _) => vec![d],
        // The files at the top only: vendor/ below holds the same MSP in another shape.
        (None, false) => top_level_files(&bundled_sample_data()?)?,
        (None, true) => {
            let data = bundled_sample_data()?;
            // The vendor exports carry tenants, tickets, changes and the Datto tenant's devices;
            // the tables with no vendor shape here come from the canonical set (its rows for the
            // Datto tenant are replaced by the Datto pages, key for key).
            let mut inputs = vec![data.join("vendor")];
            // The vulnerability reference files are the publishers' own shapes already.
            inputs.extend(
                top_level_files(&data)?
                    .into_iter()
                    .filter(|p| p.extension().is_some_and(|e| e == "json")),
            );
            for table in [
                "devices",
                "device_patch_summary",
                "patch_status",
                "patch_attempts",
                "exceptions",
            ] {
                inputs.push(data.join(format!("{table}.csv")));
            }
            inputs
        }
    };
    let lake = Lake::open(&global.lake.clone().unwrap_or_else(|| args.out.join("lake")))?;
    let _lock = crate::ops::lock::lock_for_command(&lake, "demo")?;
    let from = inputs
        .first()
        .and_then(|p| if p.is_dir() { Some(p.as_path()) } else { p.parent() });
    println!(
        "govpack demo: {} input(s) from {} -> {}",
        inputs.len(),
        from.map_or_else(String::new, |p| p.display().to_string()),
        args.out.display()
    );
    let report = ingest::ingest(&config, &lake, &inputs)?;
    print_summary(&report, &lake);

    let conn = sql::open(&lake)?;
    println!("\nThe lake, as DuckDB reads it:");
    for (table, rows) in sql::row_counts(&conn)? {
        println!("  {:>8} rows  {}", rows, lake.table_dir(&table).display());
    }

    let months = months_covered(&conn)?;
    drop(conn);
    println!("\nKPIs, month by month:");
    let mut latest = None;
    for period in months {
        let run = kpi::compute(&config, &lake, period)?;
        let rows = run
            .outputs
            .iter()
            .find(|(name, _, _)| name == "kpi_summary")
            .map_or(0, |o| o.1);
        println!(
            "  {}: {rows} kpi_summary rows (as of {})",
            period.label(),
            run.as_of
        );
        latest = Some(period);
    }
    if let Some(period) = latest {
        print_scorecard(&lake, period)?;
        println!("KPI outputs: {}", lake.root().join("kpi").display());
        // The governance pack of the latest month, for the portfolio and its first tenant.
        let reports_dir = args.out.join("reports").join(period.label());
        let first_tenant = crate::reports::tenant_ids(&lake)?.into_iter().next();
        let key = crate::reports::signature::EvidenceKey::configured(&config)?;
        for tenant in [None, first_tenant] {
            let written = crate::reports::write_pack(
                &lake,
                &period.start.to_string(),
                tenant.as_deref(),
                &reports_dir,
                key.as_ref(),
            )?;
            let (bundle, files) = written.split_last().expect("a pack always has its bundle");
            for file in files {
                println!("Report: {}", file.display());
            }
            println!("Evidence: {} (govpack verify checks it)", bundle.display());
        }
    }
    println!(
        "\nTry it: govpack --lake {} query \"select kpi_id, value from kpi_summary where tenant_id is null\"",
        lake.root().display()
    );
    println!("Power BI: Get Data > Folder (or Parquet) on any table folder above.");
    Ok(if report.failed() > 0 { 1 } else { 0 })
}

/// Every calendar month from the first to the last devices snapshot.
fn months_covered(conn: &duckdb::Connection) -> Result<Vec<Period>> {
    let (first, last): (Option<String>, Option<String>) = conn.query_row(
        "select strftime(min(snapshot_date), '%Y-%m'), strftime(max(snapshot_date), '%Y-%m') from devices",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let (Some(first), Some(last)) = (first, last) else {
        return Ok(Vec::new());
    };
    let (mut period, last) = (Period::parse_month(&first)?, Period::parse_month(&last)?);
    let mut months = vec![period];
    while period != last {
        period = Period::month(
            if period.start.month() == 12 {
                period.start.year() + 1
            } else {
                period.start.year()
            },
            period.start.month() % 12 + 1,
        )
        .expect("valid month");
        months.push(period);
    }
    Ok(months)
}

/// The sample's canonical CSV files and the vulnerability reference (KEV catalog, CVRF JSON).
fn top_level_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "csv" || e == "json"))
        .collect();
    files.sort();
    Ok(files)
}

/// `sample_data/` beside the working directory, else in the source tree govpack was built from.
fn bundled_sample_data() -> Result<PathBuf, UsageError> {
    let candidates = [
        PathBuf::from("sample_data"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data"),
    ];
    candidates.into_iter().find(|p| p.is_dir()).ok_or_else(|| {
        UsageError(
            "no sample_data/ folder here or in the source tree: pass --data DIR, \
             or make one with `govpack sample --out sample_data`"
                .into(),
        )
    })
}
