//! The inbox of the scheduled job: exporters (RMM scripts, PSA API pulls, a person) drop files
//! or folders there; each run ingests what is new and moves it out, so the inbox only ever holds
//! what has not been read. Nothing is deleted: a read entry goes to `processed/YYYY-MM-DD/`, one
//! that could not be read to `failed/YYYY-MM-DD/` with `<name>.reason.txt` beside it saying why.
//!
//! An entry is a top-level file or folder (a folder is one export, such as Autotask query pages;
//! its files of one format and day are committed together, `ingest::ingest_with`).
//! Names starting with `.` or ending `.tmp`, `.partial` or `.crdownload` are being written and are
//! left for the next run: an exporter should write under such a name and rename when done. An
//! exporter that writes in place is covered too: an entry is read only once nothing in it was
//! modified for `run.inbox_settle_seconds`, and one that changed while it was read stays in the
//! inbox for the next run to read whole. A dataset a collector moved in (one rename, once whole)
//! is read by the same run at once.
//!
//! The inbox takes regular files and folders of them. A symbolic link (at the top or inside a
//! folder), a pipe, a socket or a device is never opened: the entry goes to `failed/` with a reason
//! that names the path, and no reason or log line ever repeats what a file holds.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

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
    /// Entries left in the inbox for the next run, and why (still being written).
    pub left: Vec<(String, String)>,
    pub ingest: IngestReport,
}

impl InboxReport {
    pub fn count(&self, pick: fn(&EntryOutcome) -> bool) -> u64 {
        self.entries.iter().filter(|e| pick(&e.outcome)).count() as u64
    }
}

/// Ingests every new entry of `inbox` and moves it to `processed/<day>/` or `failed/<day>/`.
/// `collected` names entries a collector moved in whole just now: they are read at once.
pub fn process(
    config: &Config,
    lake: &Lake,
    inbox: &Path,
    day: NaiveDate,
    collected: &[String],
) -> Result<InboxReport> {
    std::fs::create_dir_all(inbox).with_context(|| format!("cannot create the inbox {}", inbox.display()))?;
    let listed = new_entries(inbox)?;
    if listed.is_empty() {
        return Ok(InboxReport::default());
    }
    let mut out = InboxReport::default();
    let settle_for = Duration::from_secs(config.run.inbox_settle_seconds);
    let now = SystemTime::now();
    // An entry that cannot even be listed (a folder the job may not read, a link, a pipe) goes
    // to `failed/` with its reason; it must not stop the other entries, every day.
    let mut unreadable = Vec::new();
    let mut entries = Vec::new();
    for entry in listed {
        match look(&entry).and_then(|l| {
            ingest::expand_paths(std::slice::from_ref(&entry))
                .map(|_| l)
                .map_err(|e| e.to_string())
        }) {
            Err(reason) => unreadable.push((entry, reason)),
            // A modification time in the future (a clock elsewhere) cannot say; the look after
            // reading still catches a file that changes.
            Ok(l)
                if !collected.contains(&name_of(&entry))
                    && now.duration_since(l.newest).is_ok_and(|age| age < settle_for) =>
            {
                out.left.push((
                    name_of(&entry),
                    format!(
                        "modified less than {}s ago: still being written? read by the next run",
                        settle_for.as_secs()
                    ),
                ));
            }
            Ok(l) => entries.push((entry, l)),
        }
    }
    for (entry, reason) in unreadable {
        match settle(inbox, day, &entry, EntryOutcome::Failed(reason)) {
            Ok(settled) => out.entries.push(settled),
            Err(e) => tracing::warn!("inbox entry {} left where it is: {e:#}", entry.display()),
        }
    }
    // One ingest call for all entries, so tenants load before the devices that need them.
    let paths: Vec<PathBuf> = entries.iter().map(|(p, _)| p.clone()).collect();
    let report = ingest::ingest_with(config, lake, &paths, IngestOptions::default())?;
    for (entry, before) in &entries {
        let files: Vec<_> = report
            .files
            .iter()
            .filter(|f| f.path.starts_with(entry))
            .collect();
        let mut failures: Vec<String> = Vec::new();
        let mut not_loaded = 0;
        for file in &files {
            match &file.outcome {
                Outcome::Failed { error } => {
                    let failure = format!("{}: {error}", file.path.display());
                    // An export that could not be committed fails each of its files alike.
                    if !failures.iter().any(|f| f.ends_with(error.as_str())) {
                        failures.push(failure);
                    }
                }
                Outcome::NotLoaded { .. } => not_loaded += 1,
                _ => {}
            }
        }
        if not_loaded > 0 {
            failures.push(format!(
                "{not_loaded} other file(s) of the same export were read but not loaded: an \
                 export loads whole or not at all"
            ));
        }
        if look(entry).as_ref() != Ok(before) {
            // Written to while it was read: what was read may be a part. Left for the next run,
            // which reads the finished export (a new SHA-256) whole.
            out.left.push((
                name_of(entry),
                "changed while it was being read: left for the next run to read whole".into(),
            ));
            continue;
        }
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
    for (name, why) in &out.left {
        tracing::info!(entry = %name, "inbox entry left for the next run: {why}");
    }
    out.ingest = report;
    Ok(out)
}

/// What an entry looked like: its files' total size, their count and the newest modification
/// (of a file or of a folder, which changes when a file is added or removed).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Look {
    bytes: u64,
    files: u64,
    newest: SystemTime,
}

/// An entry's `Look`, without following a link or opening anything; the reason it cannot be
/// read otherwise, naming the path and never its content.
fn look(entry: &Path) -> Result<Look, String> {
    let mut look = Look {
        bytes: 0,
        files: 0,
        newest: SystemTime::UNIX_EPOCH,
    };
    add_to_look(entry, entry, &mut look)?;
    Ok(look)
}

fn add_to_look(entry: &Path, path: &Path, look: &mut Look) -> Result<(), String> {
    let shown = || {
        path.strip_prefix(entry)
            .ok()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| "it".to_string(), |p| format!("{} inside it", p.display()))
    };
    let meta = std::fs::symlink_metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let kind = meta.file_type();
    if let Ok(modified) = meta.modified() {
        look.newest = look.newest.max(modified);
    }
    if kind.is_symlink() {
        Err(format!(
            "{} is a symbolic link: govpack never follows links in the inbox (the inbox takes \
             files and folders placed in it; copy the export in)",
            shown()
        ))
    } else if kind.is_file() {
        look.bytes += meta.len();
        look.files += 1;
        Ok(())
    } else if kind.is_dir() {
        let listing = std::fs::read_dir(path).map_err(|e| format!("{}: {e}", path.display()))?;
        for child in listing {
            let child = child.map_err(|e| format!("{}: {e}", path.display()))?;
            add_to_look(entry, &child.path(), look)?;
        }
        Ok(())
    } else {
        Err(format!(
            "{} is not a regular file (a pipe, socket or device): govpack reads only files",
            shown()
        ))
    }
}

fn name_of(entry: &Path) -> String {
    entry
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().to_string())
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
        let entry = entry?;
        let path = entry.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let being_written = name.starts_with('.')
            || [".tmp", ".partial", ".crdownload"]
                .iter()
                .any(|s| name.to_ascii_lowercase().ends_with(s));
        let own_folder = entry.file_type().is_ok_and(|t| t.is_dir()) && (name == PROCESSED || name == FAILED);
        if being_written || own_folder {
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
