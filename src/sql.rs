//! DuckDB over the lake: one view per lake table, named after it, so SQL reads `devices`, not a
//! file glob. A table with no files yet is an empty view with the right columns, so a query over
//! a young lake returns nothing rather than failing. KPI outputs (`lake/kpi/<name>/period=*/`)
//! get a view each too, holding every computed period.
//!
//! Timestamps are UTC instants in the lake (Parquet TIMESTAMP adjusted to UTC). DuckDB reads
//! those as TIMESTAMP WITH TIME ZONE, whose arithmetic needs the ICU extension, which govpack
//! does not ship (no network at run time, and a much longer build). The views hand them over as
//! plain TIMESTAMP holding the same UTC wall-clock values, so date arithmetic works everywhere.

use std::path::Path;

use anyhow::{Context, Result};
use duckdb::Connection;
use duckdb::types::ValueRef;

use crate::canonical::{
    ColumnType, LINEAGE_EXPORT_DATE, LINEAGE_SOURCE_FILE, LINEAGE_SOURCE_LINE, Partitioning, TABLES, Table,
    system,
};
use crate::lake::Lake;
pub use crate::sql_quote::{identifier, string_literal};

/// Every table the lake holds, canonical first.
pub fn lake_tables() -> Vec<&'static Table> {
    TABLES.iter().copied().chain(system::QUERIED).collect()
}

/// An in-memory DuckDB session with a view per lake table and KPI output.
pub fn open(lake: &Lake) -> Result<Connection> {
    let conn = Connection::open_in_memory().context("cannot start DuckDB")?;
    create_views(&conn, lake)?;
    Ok(conn)
}

/// The memory a KPI or report session may hold before DuckDB spills to disk. Its default is 80%
/// of the machine, which lets the KPIs' memory grow with the lake; with a limit, a month of the
/// largest MSPs runs in the same memory as a day, a little slower (measured in README).
const PUBLISHED_QUERY_MEMORY: &str = "1GB";

/// `open`, for what govpack publishes (the KPIs and the reports): every core, and the same data
/// gives the same bits on every run all the same, because nothing computed depends on the order
/// rows arrive in: means of durations are summed as whole microseconds (an integer sum is the
/// same in any order), every window, `arg_max` and `string_agg` has a total order, and every
/// KPI output and report query ends in a total order (DuckDB keeps a table's insertion order
/// whatever the number of threads). Memory is bounded, spilling into `lake/.duckdb-spill/`.
pub fn open_for_publishing(lake: &Lake) -> Result<Connection> {
    let conn = open(lake)?;
    let spill = lake.root().join(".duckdb-spill");
    conn.execute_batch(&format!(
        "set memory_limit = {}; set temp_directory = {};",
        string_literal(PUBLISHED_QUERY_MEMORY),
        string_literal(&spill.to_string_lossy())
    ))
    .context("cannot configure DuckDB")?;
    Ok(conn)
}

/// Writes a DuckDB database file holding the same views (over the lake's files, by absolute
/// path), replacing the file atomically. Returns the number of views.
pub fn write_duckdb(lake: &Lake, path: &Path) -> Result<usize> {
    let root = lake
        .root()
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", lake.root().display()))?;
    let lake = Lake::open(&root)?;
    crate::files::write_atomic_path(path, |temp| {
        std::fs::remove_file(temp).ok();
        let conn = Connection::open(temp).with_context(|| format!("cannot create {}", temp.display()))?;
        create_views(&conn, &lake)?;
        Ok(())
    })?;
    Ok(lake_tables().len() + kpi_outputs(&lake)?.len())
}

pub(crate) fn create_views(conn: &Connection, lake: &Lake) -> Result<()> {
    // govpack runs on servers without internet access: never try to download an extension.
    conn.execute_batch("set autoinstall_known_extensions = false; set autoload_known_extensions = false;")
        .context("cannot configure DuckDB")?;
    for name in kpi_outputs(lake)? {
        let glob = lake.root().join("kpi").join(&name).join("*").join("*.parquet");
        let source = format!(
            "read_parquet({}, union_by_name = true, hive_partitioning = false)",
            string_literal(&glob.to_string_lossy())
        );
        let timestamps: Vec<String> = describe(conn, &format!("select * from {source}"))?
            .into_iter()
            .filter(|(_, ty)| ty == "TIMESTAMP WITH TIME ZONE")
            .map(|(column, _)| column)
            .collect();
        conn.execute_batch(&format!(
            "create or replace view {} as select *{} from {source}",
            identifier(&name),
            naive_timestamps(&timestamps)
        ))
        .with_context(|| format!("cannot create the DuckDB view of KPI output {name}"))?;
    }
    // Each lake table is a view in schema `lake`, and under its plain name in `main` for ad hoc
    // SQL and Power BI. The KPI files import `lake.devices`: `main.devices` would not do, since
    // DuckDB looks `main` up in the temp catalog first, where a session's own objects live.
    conn.execute_batch("create schema lake")
        .context("cannot create the DuckDB schema lake")?;
    for table in lake_tables() {
        let files = lake.table_files(table.name)?;
        let sql = if files.is_empty() {
            empty_view(table)
        } else {
            // Partition values are inside the files: folder names add no columns.
            let log = table.partitioning == Partitioning::Log && files.len() > 1;
            let source = format!(
                "read_parquet({}, union_by_name = true, hive_partitioning = false{})",
                string_literal(&lake.parquet_glob(table.name)),
                if log { ", filename = 'log_file'" } else { "" }
            );
            let present: Vec<String> = match describe(conn, &format!("select * from {source}")) {
                Ok(columns) => columns.into_iter().map(|(name, _)| name).collect(),
                Err(e) => return Err(damaged_file(conn, &files).unwrap_or(e)),
            };
            let select = view_columns(table, &present, log);
            if log {
                latest_record_view(table, &select, &source)
            } else {
                format!("create view lake.{} as select {select} from {source}", table.name)
            }
        };
        conn.execute_batch(&sql)
            .and_then(|()| {
                conn.execute_batch(&format!("create view {0} as select * from lake.{0}", table.name))
            })
            .with_context(|| format!("cannot create the DuckDB view of {}", table.name))?;
    }
    Ok(())
}

/// The KPI outputs the lake holds (folders under `lake/kpi/` with at least one file).
pub fn kpi_outputs(lake: &Lake) -> Result<Vec<String>> {
    let dir = lake.root().join("kpi");
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        let has_files = std::fs::read_dir(&path)
            .map(|periods| {
                periods.filter_map(|p| p.ok()).any(|p| {
                    std::fs::read_dir(p.path()).is_ok_and(|mut files| {
                        files.any(|f| f.is_ok_and(|f| f.path().extension().is_some_and(|e| e == "parquet")))
                    })
                })
            })
            .unwrap_or(false);
        if has_files && let Some(name) = path.file_name().and_then(|n| n.to_str()) {
            names.push(name.to_string());
        }
    }
    names.sort();
    Ok(names)
}

/// A cell of a query result, reduced to what CSV and JSON can carry.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl Cell {
    pub fn to_text(&self) -> String {
        match self {
            Cell::Null => String::new(),
            Cell::Bool(b) => b.to_string(),
            Cell::Int(i) => i.to_string(),
            Cell::Float(f) => f.to_string(),
            Cell::Text(s) => s.clone(),
        }
    }

    /// The cell as a CSV file govpack writes holds it: text made inert (`inert_csv_text`),
    /// numbers and booleans as they are.
    pub fn to_csv(&self) -> String {
        match self {
            Cell::Text(s) => inert_csv_text(s).into_owned(),
            other => other.to_text(),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Cell::Null => serde_json::Value::Null,
            Cell::Bool(b) => (*b).into(),
            Cell::Int(i) => (*i).into(),
            Cell::Float(f) => serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into),
            Cell::Text(s) => s.clone().into(),
        }
    }
}

/// Text as a CSV file govpack writes holds it: a cell a spreadsheet would read as a formula
/// (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`, OWASP's rule
/// against CSV injection, so a hostname or a ticket title from an export opens in Excel as the
/// text it is and runs nothing. Numbers are not text and are never prefixed.
pub fn inert_csv_text(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}").into()
    } else {
        text.into()
    }
}

/// The columns a query returns: (name, DuckDB type).
pub fn describe(conn: &Connection, query: &str) -> Result<Vec<(String, String)>> {
    let mut stmt = conn
        .prepare(&format!("describe {query}\n"))
        .context("DuckDB refused the query")?;
    let columns = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(columns)
}

/// The query with every column CSV, JSON and a text table can carry as it is (booleans,
/// integers, floats, text) kept, decimals as doubles, and the rest (dates, timestamps, intervals,
/// lists...) as DuckDB's own text for them. Returns the column names and the wrapped query.
fn plain_query(conn: &Connection, query: &str) -> Result<(Vec<String>, String)> {
    let query = query.trim().trim_end_matches(';');
    let described = describe(conn, query)?;
    let exprs: Vec<String> = described
        .iter()
        .map(|(name, ty)| {
            let column = identifier(name);
            let keep = matches!(
                ty.as_str(),
                "BOOLEAN"
                    | "TINYINT"
                    | "SMALLINT"
                    | "INTEGER"
                    | "BIGINT"
                    | "UTINYINT"
                    | "USMALLINT"
                    | "UINTEGER"
                    | "UBIGINT"
                    | "HUGEINT"
                    | "FLOAT"
                    | "DOUBLE"
                    | "VARCHAR"
            );
            if keep {
                column
            } else if ty.starts_with("DECIMAL") {
                format!("cast({column} as double) as {column}")
            } else {
                format!("cast({column} as varchar) as {column}")
            }
        })
        .collect();
    let names = described.into_iter().map(|(n, _)| n).collect();
    // The newline ends a trailing `--` comment of the query inside its parentheses.
    Ok((
        names,
        format!("select {} from ({query}\n) as q", exprs.join(", ")),
    ))
}

/// Runs a query and returns its column names and rows (see `plain_query` for the types).
pub fn rows(conn: &Connection, query: &str) -> Result<(Vec<String>, Vec<Vec<Cell>>)> {
    let (names, query) = plain_query(conn, query)?;
    let mut stmt = conn.prepare(&query)?;
    let mut result = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = result.next()? {
        let mut cells = Vec::with_capacity(names.len());
        for i in 0..names.len() {
            cells.push(match row.get_ref(i)? {
                ValueRef::Null => Cell::Null,
                ValueRef::Boolean(b) => Cell::Bool(b),
                ValueRef::TinyInt(v) => Cell::Int(v.into()),
                ValueRef::SmallInt(v) => Cell::Int(v.into()),
                ValueRef::Int(v) => Cell::Int(v.into()),
                ValueRef::BigInt(v) => Cell::Int(v),
                ValueRef::UTinyInt(v) => Cell::Int(v.into()),
                ValueRef::USmallInt(v) => Cell::Int(v.into()),
                ValueRef::UInt(v) => Cell::Int(v.into()),
                ValueRef::UBigInt(v) => {
                    i64::try_from(v).map_or_else(|_| Cell::Text(v.to_string()), Cell::Int)
                }
                ValueRef::HugeInt(v) => {
                    i64::try_from(v).map_or_else(|_| Cell::Text(v.to_string()), Cell::Int)
                }
                ValueRef::Float(v) => Cell::Float(v.into()),
                ValueRef::Double(v) => Cell::Float(v),
                ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                other => Cell::Text(format!("{other:?}")),
            });
        }
        out.push(cells);
    }
    Ok((names, out))
}

/// A query's result as a text table for a terminal.
pub fn pretty_table(conn: &Connection, query: &str) -> Result<String> {
    let (_, query) = plain_query(conn, query)?;
    let mut stmt = conn.prepare(&query).context("DuckDB refused the query")?;
    let batches: Vec<_> = stmt.query_arrow([])?.collect();
    if batches.is_empty() {
        return Ok("(no rows)\n".into());
    }
    Ok(format!(
        "{}\n",
        duckdb::arrow::util::pretty::pretty_format_batches(&batches)?
    ))
}

/// Writes a query's result to a Parquet file (SNAPPY), atomically, from the Arrow batches DuckDB
/// hands back: the query text is never pasted into a `COPY ... TO`, which a `) to 'file' --` in
/// it could redirect.
pub fn write_parquet(conn: &Connection, query: &str, out: &Path) -> Result<()> {
    let mut stmt = conn.prepare(query).context("DuckDB refused the query")?;
    let batches = stmt.query_arrow([]).context("DuckDB could not run the query")?;
    let schema = batches.get_schema();
    crate::files::write_atomic(out, |file| {
        let props = parquet::file::properties::WriterProperties::builder()
            .set_compression(parquet::basic::Compression::SNAPPY)
            .build();
        let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, Some(props))?;
        for batch in batches {
            writer.write(&batch)?;
        }
        writer.close()?;
        Ok(())
    })
}

/// ` replace (...)` turning UTC instants (TIMESTAMP WITH TIME ZONE) into plain TIMESTAMP holding
/// the same UTC wall-clock time, which DuckDB can do arithmetic on without ICU.
fn naive_timestamps(columns: &[String]) -> String {
    if columns.is_empty() {
        return String::new();
    }
    let list: Vec<String> = columns
        .iter()
        .map(|c| format!("make_timestamp(epoch_us({0})) as {0}", identifier(c)))
        .collect();
    format!(" replace ({})", list.join(", "))
}

/// The opposite of the views' conversion, for files govpack writes: plain TIMESTAMP columns
/// (UTC by convention) become UTC instants, so Parquet marks them adjusted to UTC.
pub fn utc_instants(conn: &Connection, query: &str) -> Result<String> {
    let timestamps: Vec<String> = describe(conn, query)?
        .into_iter()
        .filter(|(_, ty)| ty == "TIMESTAMP")
        .map(|(c, _)| format!("to_timestamp(epoch_us({0}) / 1000000) as {0}", identifier(&c)))
        .collect();
    if timestamps.is_empty() {
        return Ok(query.to_string());
    }
    Ok(format!(
        "select * replace ({}) from ({query}) as q",
        timestamps.join(", ")
    ))
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

/// The first of a table's files DuckDB cannot read, as a damaged lake file naming it (the glob's
/// error names only the glob).
fn damaged_file(conn: &Connection, files: &[std::path::PathBuf]) -> Option<anyhow::Error> {
    files.iter().find_map(|file| {
        let one = format!(
            "select * from read_parquet({})",
            string_literal(&file.to_string_lossy())
        );
        describe(conn, &one).err().map(|e| {
            crate::lake::DamagedLakeFile {
                path: file.clone(),
                detail: format!("{:#}", e).lines().next().unwrap_or_default().to_string(),
            }
            .into()
        })
    })
}

/// The columns of a table's view over its files: every column the table has now, in the
/// files or not (a file of an earlier govpack that lacked a column reads it as empty, and the
/// next merge of its partition writes it), timestamps as plain UTC timestamps, then whatever else
/// the files hold (lineage). A log's file name column stays out.
fn view_columns(table: &Table, present: &[String], log: bool) -> String {
    let has = |name: &str| present.iter().any(|p| p == name);
    let mut columns: Vec<String> = table
        .columns
        .iter()
        .map(|c| {
            let name = identifier(c.name);
            match (has(c.name), c.ty) {
                (false, ty) => format!("cast(null as {}) as {name}", duckdb_type(ty)),
                (true, ColumnType::Timestamp) => format!("make_timestamp(epoch_us({name})) as {name}"),
                (true, _) => name,
            }
        })
        .collect();
    columns.extend(
        present
            .iter()
            .filter(|p| table.column(p).is_none() && !(log && p.as_str() == "log_file"))
            .map(|p| identifier(p)),
    );
    columns.join(", ")
}

/// The view of a log table holding several files: for each key, the record of the latest file
/// (files are named by the time they were written; within one file a key is unique). A run's
/// `running` record and its end, an alert's delivery, a ticket's creation are appended, never
/// rewritten, and the view shows each as it stands, as compaction will keep it.
fn latest_record_view(table: &Table, select: &str, source: &str) -> String {
    let key: Vec<String> = table.key.iter().map(|k| identifier(k)).collect();
    format!(
        "create view lake.{} as select {select} from {source} \
         qualify row_number() over (partition by {} order by log_file desc) = 1",
        table.name,
        key.join(", ")
    )
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
        columns.push(format!("cast(null as date) as {LINEAGE_EXPORT_DATE}"));
    }
    format!(
        "create view lake.{} as select {} where false",
        table.name,
        columns.join(", ")
    )
}

/// The DuckDB type a canonical column has in the views (instants as plain UTC timestamps).
pub fn duckdb_type(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Text | ColumnType::Enum(_) => "varchar",
        ColumnType::Date => "date",
        ColumnType::Timestamp => "timestamp",
        ColumnType::Bool => "boolean",
        ColumnType::Int { .. } => "bigint",
        ColumnType::Float => "double",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_text_that_a_spreadsheet_would_run_gets_a_leading_quote_and_numbers_do_not() {
        for (text, written) in [
            ("=1+1", "'=1+1"),
            ("+1", "'+1"),
            ("-2145124329", "'-2145124329"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tcmd", "'\tcmd"),
            ("\rcmd", "'\rcmd"),
            ("PC-01", "PC-01"),
            ("", ""),
        ] {
            assert_eq!(inert_csv_text(text), written, "{text:?}");
        }
        assert_eq!(Cell::Int(-1).to_csv(), "-1");
        assert_eq!(Cell::Float(-0.5).to_csv(), "-0.5");
        assert_eq!(Cell::Text("-0.5".into()).to_csv(), "'-0.5");
    }
}

/// A file of named queries in `queries/` (the reports' and alerts' SELECTs): `-- name: <name>`
/// opens each query, which runs to the next name; comment lines just above a name belong to the
/// query after it. Read like the KPI SQL (`installed::QUERIES`), so that what a report lists can be
/// read and reviewed where govpack is installed.
#[derive(Debug, Clone)]
pub struct NamedQueries {
    origin: String,
    queries: Vec<(String, String)>,
}

impl NamedQueries {
    pub fn read(file: &str) -> Result<NamedQueries> {
        let installed = crate::installed::QUERIES
            .read(file)
            .context("cannot read a report query file")?;
        NamedQueries::parse(&installed.origin, installed.text()?)
    }

    fn parse(origin: &str, text: &str) -> Result<NamedQueries> {
        let mut queries: Vec<(String, String)> = Vec::new();
        for line in text.lines() {
            if let Some(name) = line.strip_prefix("-- name:") {
                let name = name.trim();
                if name.is_empty() || queries.iter().any(|(n, _)| n == name) {
                    anyhow::bail!("{origin}: query name `{name}` is empty or given twice");
                }
                queries.push((name.to_string(), String::new()));
            } else if let Some((_, query)) = queries.last_mut() {
                query.push_str(line);
                query.push('\n');
            }
        }
        for (name, query) in &mut queries {
            // A query is one statement: the comments that introduce the next one, and its `;`, go.
            let mut lines: Vec<&str> = query.lines().collect();
            while lines
                .last()
                .is_some_and(|l| l.trim().is_empty() || l.trim_start().starts_with("--"))
            {
                lines.pop();
            }
            let statement = lines.join("\n");
            *query = statement.trim_end().trim_end_matches(';').to_string();
            if query.trim().is_empty() {
                anyhow::bail!("{origin}: query `{name}` has no SQL");
            }
        }
        Ok(NamedQueries {
            origin: origin.to_string(),
            queries,
        })
    }

    /// A query by name; a file that lacks it (an installed copy older than govpack) is an error
    /// naming the file.
    fn find(&self, name: &str) -> Result<&str> {
        self.queries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, q)| q.as_str())
            .with_context(|| format!("{} has no query named `{name}`", self.origin))
    }

    /// A query that reads no bound value, by name. One that reads some is refused: it runs through
    /// `bound`, which checks they are there.
    pub fn get(&self, name: &str) -> Result<&str> {
        let query = self.find(name)?;
        if let Some(value) = variables_read(query).next() {
            anyhow::bail!(
                "{}: query `{name}` reads the bound value `{value}`: govpack must bind it first",
                self.origin
            );
        }
        Ok(query)
    }

    /// Whether the file has a query of that name.
    pub fn contains(&self, name: &str) -> bool {
        self.queries.iter().any(|(n, _)| n == name)
    }

    /// A query by name, for a session that has bound every value it reads (`bind`): a
    /// `getvariable('...')` of the query that the session never bound is an error naming it, since
    /// DuckDB reads an unset variable as NULL, and a filter on it as no rows at all.
    pub fn bound(&self, conn: &Connection, name: &str) -> Result<&str> {
        let query = self.find(name)?;
        let bound: Vec<String> = conn
            .prepare("select name from duckdb_variables()")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        if let Some(missing) = variables_read(query).find(|v| !bound.iter().any(|b| b == v)) {
            anyhow::bail!(
                "{}: query `{name}` reads `{missing}`, which govpack did not bind",
                self.origin
            );
        }
        Ok(query)
    }

    /// Every query, in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.queries.iter().map(|(n, q)| (n.as_str(), q.as_str()))
    }
}

/// The variables a query reads: the names of its `getvariable('...')` calls.
fn variables_read(query: &str) -> impl Iterator<Item = &str> {
    query
        .split("getvariable('")
        .skip(1)
        .filter_map(|rest| rest.split_once('\'').map(|(name, _)| name))
}

/// Binds the values the next queries of a session read, each as `getvariable('<name>')`: DuckDB
/// variables set from bound parameters, so no value is ever pasted into SQL text, and a date stays
/// a DATE, a constant DuckDB prunes partitions and row groups by as it would a literal. The one way
/// govpack hands a session a value (the KPI run's settings are the rows of its `params` tables).
pub fn bind(conn: &Connection, values: &[(&str, duckdb::types::Value)]) -> Result<()> {
    for (name, value) in values {
        conn.execute(&format!("set variable {} = ?", identifier(name)), [value])
            .with_context(|| format!("cannot bind `{name}`"))?;
    }
    Ok(())
}

/// A day as a bound value.
pub fn date(day: chrono::NaiveDate) -> duckdb::types::Value {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date");
    duckdb::types::Value::Date32((day - epoch).num_days() as i32)
}

/// Text as a bound value.
pub fn text(value: &str) -> duckdb::types::Value {
    duckdb::types::Value::Text(value.to_string())
}

#[cfg(test)]
mod named_query_tests {
    use super::NamedQueries;

    #[test]
    fn a_named_query_runs_from_its_name_to_its_semicolon() {
        let file = "-- header\n\n-- name: a\nselect 1\nfrom t;\n\n-- about b; and c\n-- name: b\nselect 2;\n";
        let queries = NamedQueries::parse("f.sql", file).unwrap();
        assert_eq!(queries.get("a").unwrap(), "select 1\nfrom t");
        assert_eq!(queries.get("b").unwrap(), "select 2");
        let names: Vec<&str> = queries.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["a", "b"]);
        assert!(
            queries
                .get("c")
                .unwrap_err()
                .to_string()
                .contains("f.sql has no query named `c`")
        );
        assert!(NamedQueries::parse("f.sql", "-- name: a\nselect 1;\n-- name: a\nselect 2;").is_err());
        assert!(NamedQueries::parse("f.sql", "-- name: a\n-- name: b\nselect 2;").is_err());
    }

    #[test]
    fn a_named_query_reads_bound_values_and_names_one_nobody_bound() {
        let conn = duckdb::Connection::open_in_memory().unwrap();
        let queries = NamedQueries::parse(
            "f.sql",
            "-- name: a\nselect getvariable('day') + 1, getvariable('who');",
        )
        .unwrap();
        let day = chrono::NaiveDate::from_ymd_opt(2026, 10, 31).unwrap();
        super::bind(&conn, &[("day", super::date(day))]).unwrap();
        let err = queries.bound(&conn, "a").unwrap_err().to_string();
        assert!(err.contains("reads `who`, which govpack did not bind"), "{err}");
        // A value with a quote in it stays a value: it is never SQL text.
        super::bind(&conn, &[("who", super::text("o'brien; drop table x"))]).unwrap();
        let query = queries.bound(&conn, "a").unwrap();
        let (next, who): (String, String) = conn
            .query_row(
                &format!("select cast(d as varchar), w from ({query}) as t(d, w)"),
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(
            (next.as_str(), who.as_str()),
            ("2026-11-01", "o'brien; drop table x")
        );
    }
}
