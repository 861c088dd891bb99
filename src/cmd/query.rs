//! `govpack query "SQL"`: ad hoc SQL over the lake.
//!
//! Runs DuckDB SQL against views named after every canonical table (`devices`, `patch_status`,
//! ..., also as `lake.devices`..., the names the KPI files read), `quarantine`, `ingest_ledger`, and every KPI output (`kpi_summary`, `compliance_devices`,
//! ...; a KPI view holds every computed period: filter on `period_start`). Without `--out` the
//! result goes to standard output (table, csv or json, with column names as header or keys), so it
//! composes with other tools; `--format parquet` needs `--out`. The SQL must be one statement DuckDB
//! reads as a SELECT, run in a locked session (`read_only_sql`): a query cannot write over the lake
//! or a bundle, and `--out` files are written from the result, not by DuckDB. `--write-duckdb FILE` instead
//! writes a DuckDB database of those views (over the lake's files) for the DuckDB CLI, DBeaver or
//! Python. A folder that holds no lake is refused (exit 2) and nothing is created: a mistyped
//! `--lake` never answers "(no rows)".

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::ValueEnum;

use crate::cmd::cli::GlobalArgs;
use crate::error::UsageError;
use crate::read_only_sql::ReadOnlySession;
use crate::sql::{self, Cell};

/// Run ad hoc SQL over the lake's tables and KPI outputs
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    govpack query \"select tenant_id, count(*) as devices from devices group by 1\"\n  \
    govpack query \"select kpi_id, value from kpi_summary where tenant_id is null\" --format csv\n  \
    govpack query \"select * from compliance_devices where not compliant\" --format parquet --out nc.parquet\n  \
    govpack query --write-duckdb govpack.duckdb")]
pub struct Args {
    /// The SQL to run (DuckDB dialect): one statement DuckDB reads as a SELECT (select, with,
    /// from, describe, summarize, ...); COPY, ATTACH, SET or a second statement are refused
    #[arg(required_unless_present = "write_duckdb")]
    pub sql: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the result to this file instead of standard output
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Write a DuckDB database holding a view per lake table and KPI output
    #[arg(long, value_name = "FILE", conflicts_with_all = ["sql", "out"])]
    pub write_duckdb: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
    Parquet,
}

pub fn run(global: &GlobalArgs, args: Args) -> Result<i32> {
    let config = global.load_config()?;
    let lake = global.open_existing_lake(&config)?;
    if let Some(db) = &args.write_duckdb {
        let views = sql::write_duckdb(&lake, db)?;
        outln!(
            "wrote {} with {views} views over {}",
            db.display(),
            lake.root().display()
        );
        return Ok(0);
    }
    let query = args.sql.as_deref().expect("clap requires sql");
    if args.format == Format::Parquet && args.out.is_none() {
        return Err(UsageError("--format parquet needs --out FILE".into()).into());
    }
    let session = ReadOnlySession::open(&lake)?;
    session.check(query)?;
    let conn = session.conn();
    if let (Format::Parquet, Some(out)) = (args.format, &args.out) {
        sql::write_parquet(conn, query, out)?;
        outln!("wrote {}", out.display());
        return Ok(0);
    }
    let text = match args.format {
        Format::Table => sql::pretty_table(conn, query)?,
        Format::Csv => to_csv(&sql::rows(conn, query)?)?,
        Format::Json => to_json(&sql::rows(conn, query)?)?,
        Format::Parquet => unreachable!("handled above"),
    };
    match &args.out {
        Some(path) => crate::files::write_atomic(path, |f| f.write_all(text.as_bytes()).map_err(Into::into))?,
        None => out!("{text}"),
    }
    Ok(0)
}

fn to_csv((names, rows): &(Vec<String>, Vec<Vec<Cell>>)) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(names)?;
    for row in rows {
        w.write_record(row.iter().map(Cell::to_csv))?;
    }
    Ok(String::from_utf8(w.into_inner().map_err(|e| e.into_error())?)?)
}

fn to_json((names, rows): &(Vec<String>, Vec<Vec<Cell>>)) -> Result<String> {
    let objects: Vec<serde_json::Value> = rows
        .iter()
        .map(|row| {
            let map = names.iter().cloned().zip(row.iter().map(Cell::to_json)).collect();
            serde_json::Value::Object(map)
        })
        .collect();
    Ok(serde_json::to_string_pretty(&objects)? + "\n")
}
