//! `govpack demo`: the whole pipeline on the bundled sample data.
//!
//! Ingests `sample_data/` (or `--data DIR`) into `govpack-demo/lake/` (or `--out DIR`), reads the
//! lake back through DuckDB and prints what it holds and where, computes the KPIs of every month
//! the data covers (so the scorecard has a history), and prints the latest month's portfolio
//! scorecard, and writes the KPI workbook of that month for the portfolio and one tenant. Running
//! it again skips files already ingested, which shows the ledger at work, and recomputes the same
//! KPIs. `--vendor` writes into `govpack-demo-vendor/`: the vendor-shaped sample is the same MSP,
//! and a lake holding both would count its tickets and changes twice. A demo refuses a lake made
//! by the other kind of demo (exit 2).

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::calendar::Period;
use crate::cmd::cli::GlobalArgs;
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
    /// Folder to write the demo lake and outputs into [default: govpack-demo, or
    /// govpack-demo-vendor with --vendor]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Folder of exports to use instead of the bundled sample_data/
    #[arg(long, value_name = "DIR", conflicts_with = "vendor")]
    pub data: Option<PathBuf>,
    /// Use the vendor-shaped sample (sample_data/vendor/): tenants, tickets and changes as
    /// Autotask exports, summary-only devices as Datto RMM pages, the rest as canonical CSV.
    /// Gives the same KPIs.
    #[arg(long)]
    pub vendor: bool,
}

/// Which data a demo lake was made from, written in the lake (`KIND_FILE`): the vendor-shaped
/// sample holds the same MSP as the canonical one, so the two in one lake would count every
/// ticket and change twice while every ratio stayed the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sample,
    Vendor,
    Data,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Sample => "sample",
            Kind::Vendor => "vendor",
            Kind::Data => "data",
        }
    }

    fn command(self) -> &'static str {
        match self {
            Kind::Sample => "govpack demo",
            Kind::Vendor => "govpack demo --vendor",
            Kind::Data => "govpack demo --data DIR",
        }
    }
}

const KIND_FILE: &str = ".govpack-demo";

/// Refuses a lake that holds another demo's data; records this demo's kind in a new one.
fn claim(lake_dir: &Path, kind: Kind) -> Result<()> {
    let recorded = std::fs::read_to_string(lake_dir.join(KIND_FILE)).ok();
    let other = match recorded.as_deref().map(str::trim) {
        Some(name) => {
            let recorded = [Kind::Sample, Kind::Vendor, Kind::Data]
                .into_iter()
                .find(|k| k.name() == name)
                .ok_or_else(|| {
                    UsageError(format!(
                        "{}: `{name}` is not a demo govpack knows; give `govpack demo` another --out",
                        lake_dir.join(KIND_FILE).display()
                    ))
                })?;
            (recorded != kind).then_some(recorded)
        }
        // A demo lake from before the record: its ingest ledger tells the vendor sample (Autotask
        // exports) from the canonical one.
        None if Lake::is_lake(lake_dir) => {
            let formats = Lake::open(lake_dir)?.ingested_formats()?;
            let vendor = formats.values().any(|f| f.starts_with("autotask"));
            let found = if vendor { Kind::Vendor } else { Kind::Sample };
            (found != kind && kind != Kind::Data && !formats.is_empty()).then_some(found)
        }
        None => None,
    };
    if let Some(other) = other {
        return Err(UsageError(format!(
            "{} holds the lake of `{}`; `{}` would add the same MSP again in another shape and \
             count its tickets and changes twice: give it another --out, or remove that folder",
            lake_dir.display(),
            other.command(),
            kind.command()
        ))
        .into());
    }
    std::fs::create_dir_all(lake_dir)?;
    crate::files::write_atomic(&lake_dir.join(KIND_FILE), |f| {
        use std::io::Write;
        writeln!(f, "{}", kind.name()).map_err(Into::into)
    })
}

pub fn run(global: &GlobalArgs, args: Args) -> Result<i32> {
    let config = global.load_config()?;
    let kind = match (&args.data, args.vendor) {
        (Some(_), _) => Kind::Data,
        (None, false) => Kind::Sample,
        (None, true) => Kind::Vendor,
    };
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from(if kind == Kind::Vendor {
            "govpack-demo-vendor"
        } else {
            "govpack-demo"
        })
    });
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
    let lake_dir = global.lake.clone().unwrap_or_else(|| out.join("lake"));
    claim(&lake_dir, kind)?;
    let lake = Lake::open(&lake_dir)?;
    let _lock = crate::operations::lock::lock_for_command(&lake, "demo")?;
    let from = inputs
        .first()
        .and_then(|p| if p.is_dir() { Some(p.as_path()) } else { p.parent() });
    outln!(
        "govpack demo: {} input(s) from {} -> {}",
        inputs.len(),
        from.map_or_else(String::new, |p| p.display().to_string()),
        out.display()
    );
    let report = ingest::ingest(&config, &lake, &inputs)?;
    print_summary(&report, &lake)?;

    let conn = sql::open(&lake)?;
    outln!("\nThe lake, as DuckDB reads it:");
    for (table, rows) in sql::row_counts(&conn)? {
        outln!("  {:>8} rows  {}", rows, lake.table_dir(&table).display());
    }

    let months = months_covered(&conn)?;
    drop(conn);
    outln!("\nKPIs, month by month:");
    let mut latest = None;
    for period in months {
        let run = kpi::compute(&config, &lake, period)?;
        let rows = run
            .outputs
            .iter()
            .find(|(name, _, _)| name == "kpi_summary")
            .map_or(0, |o| o.1);
        outln!(
            "  {}: {rows} kpi_summary rows (as of {})",
            period.label(),
            run.as_of
        );
        latest = Some(period);
    }
    if let Some(period) = latest {
        print_scorecard(&lake, period)?;
        outln!("KPI outputs: {}", lake.root().join("kpi").display());
        // The governance pack of the latest month, for the portfolio and its first tenant.
        let reports_dir = out.join("reports").join(period.label());
        let first_tenant = crate::reports::tenant_ids(&lake)?.into_iter().next();
        let key = crate::reports::signature::EvidenceKey::configured(&config)?;
        let brand = crate::reports::Brand::configured(&config)?;
        for tenant in [None, first_tenant] {
            let written = crate::reports::write_pack(
                &lake,
                period,
                tenant.as_deref(),
                &reports_dir,
                key.as_ref(),
                &brand,
            )?;
            let (bundle, files) = written.split_last().expect("a pack always has its bundle");
            for file in files {
                outln!("Report: {}", file.display());
            }
            outln!("Evidence: {} (govpack verify checks it)", bundle.display());
        }
    }
    outln!(
        "\nTry it: govpack --lake {} query \"select kpi_id, value from kpi_summary where tenant_id is null\"",
        lake.root().display()
    );
    outln!("Power BI: Get Data > Folder (or Parquet) on any table folder above.");
    Ok(if report.failed() > 0 { 1 } else { 0 })
}

/// Every calendar month with a devices snapshot (a month without one has nothing to measure).
fn months_covered(conn: &duckdb::Connection) -> Result<Vec<Period>> {
    let mut statement =
        conn.prepare("select distinct strftime(snapshot_date, '%Y-%m') as m from devices order by m")?;
    let months = statement.query_map([], |r| r.get::<_, String>(0))?;
    months.map(|m| Ok(Period::parse_month(&m?)?)).collect()
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
