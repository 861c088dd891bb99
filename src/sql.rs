//! DuckDB over the lake: one view per lake table, named after it, so SQL reads `devices`, not a
//! file glob. A table with no files yet is an empty view with the right columns, so a query over
//! a young lake returns nothing rather than failing.

use anyhow::{Context, Result};
use duckdb::Connection;

use crate::canonical::{ColumnType, LINEAGE_SOURCE_FILE, LINEAGE_SOURCE_LINE, TABLES, Table};
use crate::lake::{INGEST_LEDGER, Lake, QUARANTINE};

/// Every table the lake holds, canonical first.
pub fn lake_tables() -> Vec<&'static Table> {
    TABLES
        .iter()
        .copied()
        .chain([&QUARANTINE, &INGEST_LEDGER])
        .collect()
}

/// An in-memory DuckDB session with a view per lake table.
pub fn open(lake: &Lake) -> Result<Connection> {
    let conn = Connection::open_in_memory().context("cannot start DuckDB")?;
    // govpack runs on servers without internet access: never try to download an extension.
    conn.execute_batch("set autoinstall_known_extensions = false; set autoload_known_extensions = false;")
        .context("cannot configure DuckDB")?;
    for table in lake_tables() {
        let sql = if lake.table_files(table.name)?.is_empty() {
            empty_view(table)
        } else {
            format!(
                "create view {} as select * from read_parquet({})",
                table.name,
                string_literal(&lake.parquet_glob(table.name))
            )
        };
        conn.execute_batch(&sql)
            .with_context(|| format!("cannot create the DuckDB view of {}", table.name))?;
    }
    Ok(conn)
}

/// Row count of every lake table, as DuckDB reads them.
pub fn row_counts(conn: &Connection) -> Result<Vec<(String, i64)>> {
    lake_tables()
        .iter()
        .map(|t| {
            let n: i64 = conn.query_row(&format!("select count(*) from {}", t.name), [], |r| r.get(0))?;
            Ok((t.name.to_string(), n))
        })
        .collect()
}

fn empty_view(table: &Table) -> String {
    let mut columns: Vec<String> = table
        .columns
        .iter()
        .map(|c| format!("cast(null as {}) as {}", duckdb_type(c.ty), c.name))
        .collect();
    if TABLES.iter().any(|t| t.name == table.name) {
        columns.push(format!("cast(null as varchar) as {LINEAGE_SOURCE_FILE}"));
        columns.push(format!("cast(null as bigint) as {LINEAGE_SOURCE_LINE}"));
    }
    format!(
        "create view {} as select {} where false",
        table.name,
        columns.join(", ")
    )
}

fn duckdb_type(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Text | ColumnType::Enum(_) => "varchar",
        ColumnType::Date => "date",
        ColumnType::Timestamp => "timestamptz",
        ColumnType::Bool => "boolean",
        ColumnType::Int { .. } => "bigint",
    }
}

/// A SQL string literal (paths may hold quotes).
pub fn string_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
