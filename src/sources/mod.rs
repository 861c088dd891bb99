//! Adapters: each turns one kind of export into canonical batches. Nothing after this layer
//! knows which tool a row came from.

pub mod canonical_csv;
pub mod text;
pub mod timestamps;

use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use std::collections::{BTreeMap, HashMap};

use crate::canonical::{self, Batch, Problem, Reason, Table, Value};

/// An export file read into memory, with the digest that identifies it in the ingest ledger.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    pub sha256: String,
}

impl SourceFile {
    pub fn read(path: &Path) -> Result<Self, FileError> {
        let bytes = std::fs::read(path).map_err(|e| FileError::whole(path, format!("cannot read: {e}")))?;
        let sha256 = sha256_hex(&bytes);
        Ok(SourceFile {
            path: path.to_path_buf(),
            bytes,
            sha256,
        })
    }

    /// The name recorded in the lake's lineage columns and quarantine.
    pub fn name(&self) -> String {
        self.path.file_name().map_or_else(
            || self.path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A row an adapter refused, with where it stood in its file.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub table: String,
    pub line: u64,
    pub problem: Problem,
}

/// What an adapter made of one file.
#[derive(Debug)]
pub struct AdapterOutput {
    pub batches: Vec<Batch>,
    pub rejections: Vec<Rejection>,
    /// Data rows read from the file (loaded + rejected).
    pub rows_read: u64,
    /// Things worth a reader's attention that did not stop a row (e.g. ignored columns).
    pub warnings: Vec<String>,
    pub encoding: text::TextEncoding,
}

impl AdapterOutput {
    /// Rows refused, counted once however many of their cells were wrong.
    pub fn rows_rejected(&self) -> u64 {
        let mut lines: Vec<(&str, u64)> = self
            .rejections
            .iter()
            .map(|r| (r.table.as_str(), r.line))
            .collect();
        lines.sort_unstable();
        lines.dedup();
        lines.len() as u64
    }

    pub fn reasons(&self) -> Vec<Reason> {
        let mut reasons: Vec<Reason> = self.rejections.iter().map(|r| r.problem.reason).collect();
        reasons.sort_unstable();
        reasons.dedup();
        reasons
    }
}

/// Collects the canonical rows an adapter builds from text cells and validates each exactly as a
/// canonical CSV row is validated (required columns, types, vocabularies, spans, duplicate keys
/// within the file): a refused row becomes a rejection with its line, never a silent drop.
#[derive(Debug)]
pub struct RowSink {
    source_name: String,
    batches: BTreeMap<&'static str, (Batch, HashMap<String, u64>)>,
    rejections: Vec<Rejection>,
}

impl RowSink {
    pub fn new(source_name: &str) -> Self {
        RowSink {
            source_name: source_name.to_string(),
            batches: BTreeMap::new(),
            rejections: Vec::new(),
        }
    }

    /// Validates and keeps one row given as (canonical column, text) pairs; columns not named
    /// are empty. `line` is where the row stands in its file (a record number for JSON).
    pub fn push(&mut self, table: &'static Table, line: u64, cells: &[(&str, String)]) {
        debug_assert!(
            cells.iter().all(|(name, _)| table.column(name).is_some()),
            "unknown column in {cells:?} for {}",
            table.name
        );
        let mut values = Vec::with_capacity(table.columns.len());
        let mut problems = Vec::new();
        for column in table.columns {
            let raw = cells.iter().find(|(name, _)| *name == column.name).map_or("", |(_, v)| v.as_str());
            match canonical::parse_cell(column, raw) {
                Ok(v) => values.push(v),
                Err(p) => {
                    problems.push(p);
                    values.push(Value::Null);
                }
            }
        }
        if problems.is_empty() {
            problems = canonical::check_row(table, &values);
        }
        let (batch, first_line_of_key) = self
            .batches
            .entry(table.name)
            .or_insert_with(|| (Batch::new(table, &self.source_name), HashMap::new()));
        if problems.is_empty() {
            let key = table
                .key
                .iter()
                .map(|k| values[table.column_index(k).expect("key column")].to_key_text())
                .collect::<Vec<_>>()
                .join("\u{1f}");
            match first_line_of_key.get(&key) {
                Some(first) => problems.push(Problem {
                    column: table.key.join("+"),
                    value: key.replace('\u{1f}', "|"),
                    reason: Reason::DuplicateKey,
                    detail: format!("same natural key as line {first}, which is kept"),
                }),
                None => {
                    first_line_of_key.insert(key, line);
                }
            }
        }
        if problems.is_empty() {
            batch.push_row(values, line);
        } else {
            for problem in problems {
                self.reject(table, line, problem);
            }
        }
    }

    /// Records a row refused before it could be built (e.g. a vendor value with no meaning).
    pub fn reject(&mut self, table: &Table, line: u64, problem: Problem) {
        self.rejections.push(Rejection {
            table: table.name.to_string(),
            line,
            problem,
        });
    }

    pub fn finish(self, rows_read: u64, warnings: Vec<String>, encoding: text::TextEncoding) -> AdapterOutput {
        AdapterOutput {
            batches: self.batches.into_values().map(|(b, _)| b).collect(),
            rejections: self.rejections,
            rows_read,
            warnings,
            encoding,
        }
    }
}

/// A file that cannot be read at all: it stops that file and names where the trouble is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub path: PathBuf,
    pub line: Option<u64>,
    pub column: Option<u64>,
    pub message: String,
}

impl FileError {
    pub fn whole(path: &Path, message: impl Into<String>) -> Self {
        FileError {
            path: path.to_path_buf(),
            line: None,
            column: None,
            message: message.into(),
        }
    }

    pub fn at(path: &Path, line: u64, column: Option<u64>, message: impl Into<String>) -> Self {
        FileError {
            path: path.to_path_buf(),
            line: Some(line),
            column,
            message: message.into(),
        }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for FileError {}
