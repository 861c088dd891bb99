//! `govpack query "SQL"`: ad hoc SQL over the lake.
//!
//! Runs DuckDB SQL against views named after every canonical table (`devices`, `patch_status`,
//! ..., also as `lake.devices`..., the names the KPI files read), `quarantine`, `ingest_ledger`, and every KPI output (`kpi_summary`, `compliance_devices`,
//! ...; a KPI view holds every computed period: filter on `period_start`). Without `--out` the
//! result goes to standard output (table, csv or json, with column names as header or keys), so it
//! composes with other tools; `--format parquet` needs `--out`. The SQL is one statement that
//! reads (`read_only_query`): a query cannot write over the lake or a bundle. `--write-duckdb FILE` instead
//! writes a DuckDB database of those views (over the lake's files) for the DuckDB CLI, DBeaver or
//! Python. A folder that holds no lake is refused (exit 2) and nothing is created: a mistyped
//! `--lake` never answers "(no rows)".

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::ValueEnum;

use crate::cli::GlobalArgs;
use crate::error::UsageError;
use crate::sql::{self, Cell};

/// Run ad hoc SQL over the lake's tables and KPI outputs
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    govpack query \"select tenant_id, count(*) as devices from devices group by 1\"\n  \
    govpack query \"select kpi_id, value from kpi_summary where tenant_id is null\" --format csv\n  \
    govpack query \"select * from compliance_devices where not compliant\" --format parquet --out nc.parquet\n  \
    govpack query --write-duckdb govpack.duckdb")]
pub struct Args {
    /// The SQL to run (DuckDB dialect): one statement that reads (select, with, from, describe,
    /// ...); COPY, ATTACH or a second statement are refused
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
        println!(
            "wrote {} with {views} views over {}",
            db.display(),
            lake.root().display()
        );
        return Ok(0);
    }
    let query = read_only_query(args.sql.as_deref().expect("clap requires sql"))?;
    let conn = sql::open(&lake)?;
    if args.format == Format::Parquet {
        let out = args
            .out
            .as_ref()
            .ok_or_else(|| UsageError("--format parquet needs --out FILE".into()))?;
        sql::copy_to_parquet(&conn, query, out)?;
        println!("wrote {}", out.display());
        return Ok(0);
    }
    let text = match args.format {
        Format::Table => sql::pretty_table(&conn, query)?,
        Format::Csv => to_csv(&sql::rows(&conn, query)?)?,
        Format::Json => to_json(&sql::rows(&conn, query)?)?,
        Format::Parquet => unreachable!("handled above"),
    };
    match &args.out {
        Some(path) => crate::files::write_atomic(path, |f| f.write_all(text.as_bytes()).map_err(Into::into))?,
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .context("writing to standard output")?,
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

/// The statements a query may start with: each reads, none writes a file or changes a setting.
const READING_STATEMENTS: [&str; 10] = [
    "select",
    "with",
    "from",
    "values",
    "table",
    "describe",
    "show",
    "summarize",
    "pivot",
    "unpivot",
];

/// The user's SQL when it is one statement that only reads. `query` is for looking at the lake:
/// a `COPY ... TO` could overwrite a lake file or an issued bundle, and DuckDB runs every
/// statement of a text it is given, so a second statement after a `;` is refused too. Semicolons
/// inside string literals, quoted names, dollar-quoted strings and comments do not count.
fn read_only_query(sql: &str) -> Result<&str, UsageError> {
    let text = sql
        .trim()
        .trim_end_matches(|c: char| c == ';' || c.is_whitespace());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        let skip_to = |end: &str, from: usize| {
            rest[from..]
                .find(end)
                .map_or(rest.len(), |e| from + e + end.len())
        };
        i += match bytes[i] {
            b'\'' => skip_to("'", 1),
            b'"' => skip_to("\"", 1),
            b'-' if rest.starts_with("--") => skip_to("\n", 2),
            b'/' if rest.starts_with("/*") => skip_to("*/", 2),
            b'$' if rest.starts_with("$$") => skip_to("$$", 2),
            b';' => {
                return Err(UsageError(
                    "query runs one statement at a time: remove the `;` between statements".into(),
                ));
            }
            _ => 1,
        };
    }
    // The first word after any leading comments.
    let mut start = text;
    loop {
        start = start.trim_start();
        if let Some(rest) = start.strip_prefix("--") {
            start = rest.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(rest) = start.strip_prefix("/*") {
            start = rest.split_once("*/").map_or("", |(_, r)| r);
        } else {
            break;
        }
    }
    let first = start
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    if !READING_STATEMENTS.contains(&first.as_str()) && !start.starts_with('(') {
        return Err(UsageError(format!(
            "query only reads: `{first}` is not one of {} (write results with --out FILE)",
            READING_STATEMENTS.join(", ")
        )));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::read_only_query;

    #[test]
    fn a_query_is_one_statement_that_reads() {
        for ok in [
            "select 1",
            "select 1;",
            "  -- a note\nwith t as (select 'a;b' as x) select * from t",
            "from devices where hostname = 'x;y' /* ; */",
            "select \"odd;name\" from t",
            "(select 1) union (select 2)",
            "describe devices",
        ] {
            assert!(read_only_query(ok).is_ok(), "{ok}");
        }
        for refused in [
            "copy (select 1) to '/tmp/x.csv'",
            "select 1; copy (select 1) to '/tmp/x.csv'",
            "select 1 as q; attach 'x.db'",
            "attach '/tmp/x.db' as x",
            "install httpfs",
            "set enable_external_access = true",
            "/* hi */ export database '/tmp/x'",
            "pragma version; select 1",
        ] {
            assert!(read_only_query(refused).is_err(), "{refused}");
        }
    }
}
