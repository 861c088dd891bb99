//! The ingest ledger: which files were ingested, for which snapshot date, as what.

use super::*;

/// What makes a file the same file: its SHA-256 and the snapshot date it is read for.
pub type FileIdentity = (String, Option<NaiveDate>);

/// The files the ledger holds, by identity.
#[derive(Debug, Default)]
pub struct IngestedFiles {
    dated: std::collections::HashMap<FileIdentity, DateTime<Utc>>,
    /// Files recorded by a govpack before the ledger kept snapshot dates: the date each was read
    /// for is unknown, so their bytes count as ingested for any date (never loaded twice).
    undated: std::collections::HashMap<String, DateTime<Utc>>,
    /// The days of `dated`.
    days: std::collections::HashSet<Option<NaiveDate>>,
}

impl IngestedFiles {
    /// When the file was ingested, if it was.
    pub fn get(&self, identity: &FileIdentity) -> Option<&DateTime<Utc>> {
        self.dated.get(identity).or_else(|| self.undated.get(&identity.0))
    }

    /// Whether any file the ledger holds was read for `day`: if none was, no file read for that
    /// day can be one of them, whatever its bytes (an ingest need not hash it before reading).
    pub fn any_for(&self, day: Option<NaiveDate>) -> bool {
        !self.undated.is_empty() || self.days.contains(&day)
    }
}

/// A ledger line for a file about to be recorded.
#[derive(Debug, Clone)]
pub struct LedgerEntry {
    /// The file's name: the key of its rows' lineage and its quarantine rows.
    pub source_file: String,
    pub source_path: String,
    pub source_sha256: String,
    pub source_format: String,
    pub snapshot_date: Option<NaiveDate>,
    pub encoding: String,
    pub tables: Vec<String>,
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rows_quarantined: u64,
    pub rows_replaced: u64,
    pub rows_stale: u64,
    pub warnings: Vec<String>,
}

impl Lake {
    /// The format each file name was ingested as, from the ledger (a name ingested in several
    /// formats keeps the latest).
    pub fn ingested_formats(&self) -> Result<std::collections::HashMap<String, String>> {
        match self.read_columns(INGEST_LEDGER.name, Some(&["source_file", "source_format"]))? {
            Some(ledger) => text_pairs(&ledger, "source_file", "source_format"),
            None => Ok(std::collections::HashMap::new()),
        }
    }

    /// When each file already ingested was ingested, by SHA-256 and the snapshot date it was read
    /// for. Reads three columns of the ledger, one row per file ever ingested: small however large
    /// the lake.
    pub fn ingested_files(&self) -> Result<IngestedFiles> {
        let mut files = IngestedFiles::default();
        for path in self.table_files(INGEST_LEDGER.name)? {
            let dated = parquet_columns(&path)?.iter().any(|c| c == "snapshot_date");
            let columns: &[&str] = if dated {
                &["source_sha256", "ingested_utc", "snapshot_date"]
            } else {
                &["source_sha256", "ingested_utc"]
            };
            let ledger = read_parquet_columns(&path, Some(columns))?;
            let shas = ledger.column("source_sha256")?.str()?;
            let times = ledger.column("ingested_utc")?.datetime()?.physical();
            let days: Vec<Option<NaiveDate>> = if dated {
                ledger.column("snapshot_date")?.date()?.as_date_iter().collect()
            } else {
                vec![None; ledger.height()]
            };
            for ((sha, at), day) in shas.iter().zip(times.iter()).zip(days) {
                let (Some(sha), Some(at)) = (sha, at.and_then(DateTime::<Utc>::from_timestamp_micros)) else {
                    continue;
                };
                if dated {
                    files.days.insert(day);
                    files.dated.insert((sha.to_string(), day), at);
                } else {
                    files.undated.insert(sha.to_string(), at);
                }
            }
        }
        Ok(files)
    }
}

/// The ledger lines of ingested files.
pub(super) fn ledger_batch(entries: &[LedgerEntry], at: DateTime<Utc>) -> Batch {
    let mut batch = Batch::without_lineage(&INGEST_LEDGER);
    let text = |s: &str| Value::Text(s.to_string());
    let count = |n: u64| Value::Int(n as i64);
    for entry in entries {
        batch.push_row(
            vec![
                text(&entry.source_sha256),
                text(&entry.source_path),
                text(&entry.source_file),
                text(&entry.source_format),
                entry.snapshot_date.map_or(Value::Null, Value::Date),
                text(&entry.encoding),
                text(&entry.tables.join(",")),
                count(entry.rows_read),
                count(entry.rows_loaded),
                count(entry.rows_quarantined),
                count(entry.rows_replaced),
                count(entry.rows_stale),
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
    }
    batch
}
