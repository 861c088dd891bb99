//! Adapters: each turns one kind of export into canonical batches. Nothing after this layer
//! knows which tool a row came from.

pub mod canonical_csv;
pub mod text;
pub mod timestamps;

use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::canonical::{Batch, Problem, Reason};

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
