//! The Parquet lake: all reading and writing of its files happens here.
//!
//! Layout: one folder per table, named after it (`lake/devices/`, `lake/patch_status/`, ...,
//! `lake/quarantine/`, `lake/ingest_ledger/`), holding plain `*.parquet` files that DuckDB
//! (`read_parquet('lake/devices/*.parquet')`) and Power BI (Get Data > Folder) combine. Snapshot
//! and attempt tables get one file per month of their date (`devices-2026-10.parquet`); the others
//! one file per table. Rows with the same natural key always land in the same file.
//!
//! Profile, for Power BI and every other reader: flat columns; Int64, Float64, UTF-8 strings,
//! booleans, DATE, TIMESTAMP(MICROS, adjusted to UTC); Parquet v1 data pages; SNAPPY.
//!
//! Writes are atomic: a file is written under a hidden temporary name in the same folder, synced,
//! then renamed over the old one, so a reader or a crash sees the old file or the new, never half
//! of one. An ingest writes its table files first and its ledger entry last: a crash in between
//! leaves the file unrecorded, and ingesting it again converges to the same lake (merges are by key).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use polars::prelude::*;

use crate::canonical::{self, Batch, COUNT, ColumnType, Partitioning, Table, Value, col, req};
use crate::sources::{Rejection, SourceFile};

const TEXT: ColumnType = ColumnType::Text;

/// Rows refused at ingest: which file, which line and cell, and why.
pub static QUARANTINE: Table = Table {
    name: "quarantine",
    columns: &[
        req("source_file", TEXT),
        req("source_sha256", TEXT),
        req("table_name", TEXT),
        req("line", COUNT),
        col("column_name", TEXT),
        col("value", TEXT),
        req("reason", TEXT),
        col("detail", TEXT),
        req("quarantined_utc", ColumnType::Timestamp),
    ],
    key: &["source_sha256", "line", "column_name", "reason"],
    partitioning: Partitioning::Whole,
};

/// Every file ingested: its digest (which makes a repeat a no-op), counts and time.
pub static INGEST_LEDGER: Table = Table {
    name: "ingest_ledger",
    columns: &[
        req("source_sha256", TEXT),
        req("source_path", TEXT),
        req("source_file", TEXT),
        req("source_format", TEXT),
        col("encoding", TEXT),
        col("tables", TEXT),
        req("rows_read", COUNT),
        req("rows_loaded", COUNT),
        req("rows_quarantined", COUNT),
        req("rows_replaced", COUNT),
        // What the adapter noticed without refusing a row (ignored columns, unknown vendor
        // words counted as other/no_data), so the data-quality report can show it.
        col("warnings", TEXT),
        req("ingested_utc", ColumnType::Timestamp),
        req("govpack_version", TEXT),
    ],
    key: &["source_sha256"],
    partitioning: Partitioning::Whole,
};

/// Facts an adapter keeps between exports of one tool that are not canonical rows: a PSA's
/// picklist labels, change approvals, links between tickets. Only the adapters read it.
pub static SOURCE_LOOKUPS: Table = Table {
    name: "source_lookups",
    columns: &[
        req("source", TEXT),
        req("kind", TEXT),
        req("record_id", TEXT),
        col("key", TEXT),
        col("label", TEXT),
        col("parent", TEXT),
        col("flag", ColumnType::Bool),
        col("at_utc", ColumnType::Timestamp),
    ],
    key: &["source", "kind", "record_id"],
    partitioning: Partitioning::Whole,
};

/// One row of `source_lookups`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lookup {
    pub source: String,
    pub kind: String,
    pub record_id: String,
    pub key: Option<String>,
    pub label: Option<String>,
    pub parent: Option<String>,
    pub flag: Option<bool>,
    pub at_utc: Option<DateTime<Utc>>,
}

/// What one merge did to the lake.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MergeStats {
    /// Rows of the batch now in the lake.
    pub rows_written: u64,
    /// Rows already in the lake that rows of the batch replaced (same natural key).
    pub rows_replaced: u64,
    pub files: Vec<PathBuf>,
}

/// A ledger line for a file about to be recorded.
#[derive(Debug, Clone)]
pub struct LedgerEntry {
    pub source_format: String,
    pub encoding: String,
    pub tables: Vec<String>,
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rows_quarantined: u64,
    pub rows_replaced: u64,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Lake {
    root: PathBuf,
}

impl Lake {
    /// Opens the lake at `root`, creating the folder when it does not exist.
    pub fn open(root: &Path) -> Result<Lake> {
        std::fs::create_dir_all(root)
            .with_context(|| format!("cannot create the lake folder {}", root.display()))?;
        Ok(Lake {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn table_dir(&self, table: &str) -> PathBuf {
        self.root.join(table)
    }

    /// The table's Parquet files, in name order.
    pub fn table_files(&self, table: &str) -> Result<Vec<PathBuf>> {
        let dir = self.table_dir(table);
        if !dir.exists() {
            return Ok(Vec::new());
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("cannot list {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
            .collect();
        files.sort();
        Ok(files)
    }

    /// The glob DuckDB reads a table through.
    pub fn parquet_glob(&self, table: &str) -> String {
        self.table_dir(table)
            .join("*.parquet")
            .to_string_lossy()
            .into_owned()
    }

    /// The whole table, or `None` when nothing has been written to it yet.
    pub fn read_table(&self, table: &str) -> Result<Option<DataFrame>> {
        let mut frame: Option<DataFrame> = None;
        for file in self.table_files(table)? {
            let part = read_parquet(&file)?;
            match &mut frame {
                None => frame = Some(part),
                Some(f) => {
                    let stacked = f.vstack_mut_owned(part).map_err(anyhow::Error::from);
                    stacked.with_context(|| {
                        format!(
                            "{} does not have the layout of the other {table} files",
                            file.display()
                        )
                    })?;
                }
            }
        }
        Ok(frame)
    }

    /// Adds a batch to its table: rows whose natural key is already there replace the old ones;
    /// every file touched is rewritten atomically and sorted by key, so the same content always
    /// gives the same file.
    pub fn merge(&self, batch: &Batch) -> Result<MergeStats> {
        let table = batch.table;
        let dir = self.table_dir(table.name);
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let key: Vec<String> = table.key.iter().map(|k| k.to_string()).collect();
        let mut stats = MergeStats::default();
        for (partition, new) in batch.to_partitioned_frames()? {
            let path = dir.join(format!("{partition}.parquet"));
            let new_rows = new.height();
            let combined = if path.exists() {
                let old = read_parquet(&path)?;
                let old = old
                    .select(new.get_column_names().into_iter().cloned())
                    .map_err(anyhow::Error::from);
                let old = old.with_context(|| {
                    format!(
                        "{} lacks columns govpack writes now; move it aside and ingest again",
                        path.display()
                    )
                })?;
                old.vstack(&new).map_err(anyhow::Error::from).with_context(|| {
                    format!(
                        "{} has other column types than govpack writes now",
                        path.display()
                    )
                })?
            } else {
                new
            };
            let merged = combined.unique_stable(Some(key.as_slice()), UniqueKeepStrategy::Last, None)?;
            let replaced = combined.height() - merged.height();
            let mut sorted = merged.sort(&key, SortMultipleOptions::default().with_maintain_order(true))?;
            write_parquet_atomic(&path, &mut sorted)?;
            stats.rows_written += new_rows as u64;
            stats.rows_replaced += replaced as u64;
            stats.files.push(path);
        }
        Ok(stats)
    }

    /// When a file with this digest was ingested, if it was.
    pub fn ingested_at(&self, sha256: &str) -> Result<Option<DateTime<Utc>>> {
        let Some(ledger) = self.read_table(INGEST_LEDGER.name)? else {
            return Ok(None);
        };
        let shas = ledger.column("source_sha256")?.str()?;
        let Some(row) = shas.iter().position(|s| s == Some(sha256)) else {
            return Ok(None);
        };
        let times = ledger.column("ingested_utc")?.datetime()?;
        Ok(times
            .physical()
            .get(row)
            .and_then(DateTime::<Utc>::from_timestamp_micros))
    }

    /// Records a file as ingested. Called last, after its rows and quarantine are in the lake.
    pub fn record_ingest(&self, file: &SourceFile, entry: &LedgerEntry, at: DateTime<Utc>) -> Result<()> {
        let mut batch = Batch::without_lineage(&INGEST_LEDGER);
        let text = |s: &str| Value::Text(s.to_string());
        let count = |n: u64| Value::Int(n as i64);
        batch.push_row(
            vec![
                text(&file.sha256),
                text(&file.path.display().to_string()),
                text(&file.name()),
                text(&entry.source_format),
                text(&entry.encoding),
                text(&entry.tables.join(",")),
                count(entry.rows_read),
                count(entry.rows_loaded),
                count(entry.rows_quarantined),
                count(entry.rows_replaced),
                if entry.warnings.is_empty() {
                    Value::Null
                } else {
                    text(&entry.warnings.join(" | "))
                },
                Value::Timestamp(at),
                text(env!("CARGO_PKG_VERSION")),
            ],
            0,
        );
        self.merge(&batch).map(|_| ())
    }

    /// Adds a file's refused rows to the quarantine table.
    pub fn record_quarantine(
        &self,
        file: &SourceFile,
        rejections: &[Rejection],
        at: DateTime<Utc>,
    ) -> Result<()> {
        if rejections.is_empty() {
            return Ok(());
        }
        let mut batch = Batch::without_lineage(&QUARANTINE);
        for r in rejections {
            let text = |s: &str| {
                if s.is_empty() {
                    Value::Null
                } else {
                    Value::Text(s.to_string())
                }
            };
            batch.push_row(
                vec![
                    Value::Text(file.name()),
                    Value::Text(file.sha256.clone()),
                    Value::Text(r.table.clone()),
                    Value::Int(r.line as i64),
                    text(&r.problem.column),
                    text(&r.problem.value),
                    Value::Text(r.problem.reason.to_string()),
                    text(&r.problem.detail),
                    Value::Timestamp(at),
                ],
                r.line,
            );
        }
        // A row with one problem twice (same cell, same reason) would be one key: keep it once.
        self.merge(&batch).map(|_| ())
    }

    /// Every `source_lookups` row of one source.
    pub fn lookups(&self, source: &str) -> Result<Vec<Lookup>> {
        let Some(frame) = self.read_table(SOURCE_LOOKUPS.name)? else {
            return Ok(Vec::new());
        };
        let text = |name: &str| -> Result<Vec<Option<String>>> {
            Ok(frame
                .column(name)?
                .str()?
                .iter()
                .map(|v| v.map(str::to_string))
                .collect())
        };
        let (sources, kinds, ids, keys, labels, parents) = (
            text("source")?,
            text("kind")?,
            text("record_id")?,
            text("key")?,
            text("label")?,
            text("parent")?,
        );
        let flags: Vec<Option<bool>> = frame.column("flag")?.bool()?.iter().collect();
        let times: Vec<Option<i64>> = frame.column("at_utc")?.datetime()?.physical().iter().collect();
        let mut out = Vec::new();
        for i in 0..frame.height() {
            if sources[i].as_deref() != Some(source) {
                continue;
            }
            out.push(Lookup {
                source: source.to_string(),
                kind: kinds[i].clone().unwrap_or_default(),
                record_id: ids[i].clone().unwrap_or_default(),
                key: keys[i].clone(),
                label: labels[i].clone(),
                parent: parents[i].clone(),
                flag: flags[i],
                at_utc: times[i].and_then(DateTime::<Utc>::from_timestamp_micros),
            });
        }
        Ok(out)
    }

    /// `key column -> tenant_id` over the rows of a table in the lake (later rows win), for
    /// adapters whose exports name a site, a client name or a device but not the tenant.
    pub fn tenant_lookup(
        &self,
        table: &str,
        key: &str,
        lower_case: bool,
    ) -> Result<std::collections::HashMap<String, String>> {
        let mut map = std::collections::HashMap::new();
        if let Some(frame) = self.read_table(table)? {
            let frame = match frame.column("snapshot_date") {
                Ok(_) => frame.sort(["snapshot_date"], SortMultipleOptions::default())?,
                Err(_) => frame,
            };
            let tenants = frame.column("tenant_id")?.str()?;
            let keys = frame.column(key)?.str()?;
            for (tenant, k) in tenants.iter().zip(keys.iter()) {
                if let (Some(tenant), Some(k)) = (tenant, k) {
                    let k = if lower_case {
                        k.to_lowercase()
                    } else {
                        k.to_string()
                    };
                    map.insert(k, tenant.to_string());
                }
            }
        }
        Ok(map)
    }

    /// Each tenant's (criticality, psa_company_id, rmm_site_id), for adapters that know only some.
    pub fn tenant_facts(&self) -> Result<std::collections::HashMap<String, [Option<String>; 3]>> {
        let mut map = std::collections::HashMap::new();
        if let Some(tenants) = self.read_table(canonical::TENANTS.name)? {
            let column = |name: &str| -> Result<Vec<Option<String>>> {
                Ok(tenants
                    .column(name)?
                    .str()?
                    .iter()
                    .map(|v| v.map(str::to_string))
                    .collect())
            };
            let (ids, crit, psa, rmm) = (
                column("tenant_id")?,
                column("criticality")?,
                column("psa_company_id")?,
                column("rmm_site_id")?,
            );
            for i in 0..ids.len() {
                if let Some(id) = &ids[i] {
                    map.insert(id.clone(), [crit[i].clone(), psa[i].clone(), rmm[i].clone()]);
                }
            }
        }
        Ok(map)
    }

    /// The criticality of each tenant in the lake, for the policy-tier rules.
    pub fn tenant_criticality(&self) -> Result<std::collections::HashMap<String, String>> {
        let mut map = std::collections::HashMap::new();
        if let Some(tenants) = self.read_table(canonical::TENANTS.name)? {
            let ids = tenants.column("tenant_id")?.str()?;
            let criticality = tenants.column("criticality")?.str()?;
            for (id, c) in ids.iter().zip(criticality.iter()) {
                if let (Some(id), Some(c)) = (id, c) {
                    map.insert(id.to_string(), c.to_string());
                }
            }
        }
        Ok(map)
    }
}

pub fn read_parquet(path: &Path) -> Result<DataFrame> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    ParquetReader::new(file)
        .finish()
        .map_err(anyhow::Error::from)
        .with_context(|| format!("cannot read {} as Parquet", path.display()))
}

/// Writes a frame with the lake's Parquet profile, atomically.
pub fn write_parquet_atomic(path: &Path, frame: &mut DataFrame) -> Result<()> {
    write_atomic(path, |file| {
        ParquetWriter::new(file)
            .with_compression(ParquetCompression::Snappy)
            .with_statistics(StatisticsOptions::default())
            .finish(frame)
            .map(|_| ())
            .map_err(anyhow::Error::from)
    })
}

/// Writes through `write` into a hidden temporary file beside `path`, then renames it over
/// `path`. If `write` fails, the temporary file is removed and `path` is untouched.
pub fn write_atomic(path: &Path, write: impl FnOnce(&mut File) -> Result<()>) -> Result<()> {
    let mut temp = temp_beside(path)?;
    write(temp.as_file_mut()).with_context(|| format!("writing {}", path.display()))?;
    temp.as_file_mut().flush()?;
    put_in_place(temp, path)
}

/// Like `write_atomic`, for writers that take a path (DuckDB's COPY): `write` gets the path of
/// the temporary file to fill.
pub fn write_atomic_path(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let temp = temp_beside(path)?;
    write(temp.path()).with_context(|| format!("writing {}", path.display()))?;
    put_in_place(temp, path)
}

fn temp_beside(path: &Path) -> Result<tempfile::NamedTempFile> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".govpack-").suffix(".partial");
    // Temporary files are private by default; the lake is read by other accounts (a Power BI
    // gateway, an auditor), so the file takes the usual permissions of a data file.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    builder
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))
}

fn put_in_place(temp: tempfile::NamedTempFile, path: &Path) -> Result<()> {
    // Sync by path: a writer that took the path may have replaced the file behind the handle.
    File::open(temp.path())
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot sync {}", path.display()))?;
    temp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot move the new {} into place", path.display()))?;
    Ok(())
}
