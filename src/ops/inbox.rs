//! The inbox of the scheduled job: exporters (RMM scripts, PSA API pulls, a person) drop files
//! or folders there; each run ingests what is new and moves it out, so the inbox only ever holds
//! what has not been read. Nothing is deleted: a read entry goes to `processed/YYYY-MM-DD/`, one
//! that could not be read to `failed/YYYY-MM-DD/` with `<name>.reason.txt` beside it saying why.
//!
//! An entry is a top-level file or folder (a folder is one export, such as Autotask query pages).
//! Names starting with `.` or ending `.tmp`, `.partial` or `.crdownload` are being written and are
//! left for the next run: an exporter should write under such a name and rename when done.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::NaiveDate;

use crate::config::Config;
use crate::ingest::{self, IngestOptions, IngestReport, Outcome};
use crate::lake::Lake;

pub const PROCESSED: &str = "processed";
pub const FAILED: &str = "failed";

/// What became of one inbox entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryOutcome {
    Loaded,
    /// Every file of it was already in the lake (same SHA-256).
    Duplicate,
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct InboxEntry {
    pub name: String,
    pub outcome: EntryOutcome,
    pub moved_to: PathBuf,
}

#[derive(Debug, Default)]
pub struct InboxReport {
    pub entries: Vec<InboxEntry>,
    pub ingest: IngestReport,
}

impl InboxReport {
    pub fn count(&self, pick: fn(&EntryOutcome) -> bool) -> u64 {
        self.entries.iter().filter(|e| pick(&e.outcome)).count() as u64
    }
}

/// Ingests every new entry of `inbox` and moves it to `processed/<day>/` or `failed/<day>/`.
pub fn process(config: &Config, lake: &Lake, inbox: &Path, day: NaiveDate) -> Result<InboxReport> {
    std::fs::create_dir_all(inbox).with_context(|| format!("cannot create the inbox {}", inbox.display()))?;
    let mut entries = new_entries(inbox)?;
    if entries.is_empty() {
        return Ok(InboxReport::default());
    }
    // An entry that cannot even be listed (a folder the job may not read, a link to nothing)
    // goes to `failed/` with its reason; it must not stop the other entries, every day.
    let mut out = InboxReport::default();
    let mut unreadable = Vec::new();
    entries.retain(|entry| match ingest::expand_paths(std::slice::from_ref(entry)) {
        Ok(_) => true,
        Err(e) => {
            unreadable.push((entry.clone(), e.to_string()));
            false
        }
    });
    for (entry, reason) in unreadable {
        match settle(inbox, day, &entry, EntryOutcome::Failed(reason)) {
            Ok(settled) => out.entries.push(settled),
            Err(e) => tracing::warn!("inbox entry {} left where it is: {e:#}", entry.display()),
        }
    }
    // One ingest call for all entries, so tenants load before the devices that need them.
    let report = ingest::ingest_with(config, lake, &entries, IngestOptions::default())?;
    for entry in &entries {
        let files: Vec<_> = report
            .files
            .iter()
            .filter(|f| f.path.starts_with(entry))
            .collect();
        let failures: Vec<String> = files
            .iter()
            .filter_map(|f| match &f.outcome {
                Outcome::Failed { error } => Some(format!("{}: {error}", f.path.display())),
                _ => None,
            })
            .collect();
        let outcome = if files.is_empty() {
            EntryOutcome::Failed("no .csv or .json export in it".into())
        } else if !failures.is_empty() {
            EntryOutcome::Failed(failures.join("\n"))
        } else if files.iter().all(|f| matches!(f.outcome, Outcome::Skipped { .. })) {
            EntryOutcome::Duplicate
        } else {
            EntryOutcome::Loaded
        };
        out.entries.push(settle(inbox, day, entry, outcome)?);
    }
    out.ingest = report;
    Ok(out)
}

/// Moves an entry to `processed/<day>/` or, with a `.reason.txt` beside it, to `failed/<day>/`.
fn settle(inbox: &Path, day: NaiveDate, entry: &Path, outcome: EntryOutcome) -> Result<InboxEntry> {
    let name = entry
        .file_name()
        .expect("an inbox entry has a name")
        .to_string_lossy()
        .to_string();
    let folder = match outcome {
        EntryOutcome::Failed(_) => FAILED,
        _ => PROCESSED,
    };
    let target_dir = inbox.join(folder).join(day.format("%Y-%m-%d").to_string());
    std::fs::create_dir_all(&target_dir)
        .with_context(|| format!("cannot create {}", target_dir.display()))?;
    let target = free_name(&target_dir, &name);
    if let EntryOutcome::Failed(reason) = &outcome {
        let reason_file = target.with_file_name(format!(
            "{}.reason.txt",
            target.file_name().expect("a name").to_string_lossy()
        ));
        std::fs::write(
            &reason_file,
            format!(
                "{name} could not be ingested; nothing of it is in the lake.\n\n{reason}\n\n\
                 Once the cause is fixed (a corrected export, or the lake's disk), move {name} back \
                 into the inbox: the next run picks it up. Newer exports ingested meanwhile are \
                 safe: a row older than the lake's row of its key changes nothing.\n"
            ),
        )
        .with_context(|| format!("cannot write {}", reason_file.display()))?;
    }
    std::fs::rename(entry, &target)
        .with_context(|| format!("cannot move {} to {}", entry.display(), target.display()))?;
    Ok(InboxEntry {
        name,
        outcome,
        moved_to: target,
    })
}

fn new_entries(inbox: &Path) -> Result<Vec<PathBuf>> {
    let mut entries = Vec::new();
    for entry in
        std::fs::read_dir(inbox).with_context(|| format!("cannot read the inbox {}", inbox.display()))?
    {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let being_written = name.starts_with('.')
            || [".tmp", ".partial", ".crdownload"]
                .iter()
                .any(|s| name.to_ascii_lowercase().ends_with(s));
        if being_written || (path.is_dir() && (name == PROCESSED || name == FAILED)) {
            continue;
        }
        entries.push(path);
    }
    entries.sort();
    Ok(entries)
}

/// `dir/name`, or `dir/name-2`, `-3`... when an entry of that name was moved there before (the
/// same export name dropped twice in a day).
fn free_name(dir: &Path, name: &str) -> PathBuf {
    let first = dir.join(name);
    if !first.exists() {
        return first;
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_string(), format!(".{e}")),
        _ => (name.to_string(), String::new()),
    };
    (2..)
        .map(|n| dir.join(format!("{stem}-{n}{ext}")))
        .find(|p| !p.exists())
        .expect("a free name")
}
