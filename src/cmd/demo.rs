//! `govpack demo`: the whole pipeline on the bundled sample data.
//!
//! Ingests `sample_data/` (or `--data DIR`) into `govpack-demo/lake/` (or `--out DIR`), then reads
//! the lake back through DuckDB and prints what it holds and where. Running it again skips files
//! already ingested, which shows the ledger at work.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::cli::GlobalArgs;
use crate::cmd::ingest::print_summary;
use crate::error::UsageError;
use crate::lake::Lake;
use crate::{ingest, sql};

/// Run the pipeline on the bundled sample data into ./govpack-demo/
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  govpack demo\n  govpack demo --out /tmp/demo --data my-canonical-exports/"
)]
pub struct Args {
    /// Folder to write the demo lake and outputs into
    #[arg(long, value_name = "DIR", default_value = "govpack-demo")]
    pub out: PathBuf,
    /// Canonical CSV folder to use instead of the bundled sample_data/
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
}

pub fn run(global: &GlobalArgs, args: Args) -> Result<i32> {
    let config = global.load_config()?;
    let data = match args.data {
        Some(d) => d,
        None => bundled_sample_data()?,
    };
    let lake = Lake::open(&global.lake.clone().unwrap_or_else(|| args.out.join("lake")))?;
    println!("govpack demo: {} -> {}", data.display(), args.out.display());
    let report = ingest::ingest(&config, &lake, &[data])?;
    print_summary(&report, &lake);

    let conn = sql::open(&lake)?;
    println!("\nThe lake, as DuckDB reads it:");
    for (table, rows) in sql::row_counts(&conn)? {
        println!("  {:>8} rows  {}", rows, lake.table_dir(&table).display());
    }
    println!(
        "\nTry it: duckdb -c \"select tenant_id, count(*) from read_parquet('{}') group by 1\"",
        lake.parquet_glob("devices")
    );
    println!("Power BI: Get Data > Folder (or Parquet) on any table folder above.");
    Ok(if report.failed() > 0 { 1 } else { 0 })
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
