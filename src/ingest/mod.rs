//! The ingest job: export files in, canonical rows into the lake, refused rows into quarantine,
//! one ledger line per file. Used by `govpack ingest`, `govpack demo` and the scheduled jobs.
//!
//! A file already in the ledger (same SHA-256) is skipped. A file that cannot be read stops that
//! file and, when it is one page of an export found in a folder, that export (its pages are
//! committed together); the others still load. Within one call, tenants files load first, so that
//! the policy-tier rules see the criticality of tenants that arrive in the same batch of files.

pub mod lookups;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::Result;
use chrono::Utc;
use indicatif::{ProgressBar, ProgressStyle};

use crate::canonical::{self, Batch, TABLES};
use crate::config::Config;
use crate::error::UsageError;
use crate::lake::{self, FileIdentity, Lake, LedgerEntry, Staging};
use crate::sources::{self, Context, FileError, Format, Recognised, SourceFile};
use chrono::NaiveDate;

/// What happened to one file.
#[derive(Debug, Clone)]
pub struct FileReport {
    pub path: PathBuf,
    pub outcome: Outcome,
}

#[derive(Debug, Clone)]
pub enum Outcome {
    Loaded(LoadedFile),
    /// Already in the ledger (or earlier in the same run); nothing was changed.
    Skipped {
        previously: String,
    },
    /// The file could not be read; nothing of it was loaded.
    Failed {
        error: String,
    },
    /// The file was read, but `with`, another file of the same export (a folder's pages of one
    /// format and day), could not be: an export loads whole or not at all.
    NotLoaded {
        with: PathBuf,
    },
}

#[derive(Debug, Clone, Default)]
pub struct LoadedFile {
    pub tables: Vec<String>,
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rows_quarantined: u64,
    pub rows_replaced: u64,
    /// Rows older than the lake's row of their key (an older export ingested after a newer one):
    /// not applied.
    pub rows_stale: u64,
    /// Refused rows by reason (a row with two bad cells counts under each reason).
    pub reasons: BTreeMap<String, u64>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct IngestReport {
    pub files: Vec<FileReport>,
}

impl IngestReport {
    pub fn loaded(&self) -> impl Iterator<Item = &LoadedFile> {
        self.files.iter().filter_map(|f| match &f.outcome {
            Outcome::Loaded(l) => Some(l),
            _ => None,
        })
    }

    pub fn count(&self, pick: fn(&Outcome) -> bool) -> usize {
        self.files.iter().filter(|f| pick(&f.outcome)).count()
    }

    /// Files not loaded: those that could not be read and the others of their exports.
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed { .. } | Outcome::NotLoaded { .. }))
    }

    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skipped { .. }))
    }

    pub fn total(&self, field: fn(&LoadedFile) -> u64) -> u64 {
        self.loaded().map(field).sum()
    }
}

/// The files a list of paths names: files as given, folders searched for `*.csv` and `*.json`, in
/// path order.
/// A path that does not exist is a usage error, reported before anything is ingested.
pub fn expand_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, UsageError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found = Vec::new();
            collect_csv(path, &mut found).map_err(|e| UsageError(format!("{}: {e}", path.display())))?;
            found.sort();
            files.extend(found);
        } else if path.is_file() {
            files.push(path.clone());
        } else if path.exists() {
            return Err(UsageError(format!(
                "{}: not a regular file (a pipe, socket or device): govpack reads only files",
                path.display()
            )));
        } else {
            return Err(UsageError(format!("{}: no such file or folder", path.display())));
        }
    }
    Ok(files)
}

/// The exports in a folder and its subfolders. A link inside a folder is refused, not followed:
/// it could lead out of the export (or round in a circle); name a linked file itself instead.
fn collect_csv(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            return Err(std::io::Error::other(format!(
                "{} is a symbolic link: govpack does not follow links inside a folder it reads",
                path.display()
            )));
        } else if kind.is_dir() {
            collect_csv(&path, out)?;
        } else if kind.is_file()
            && path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("csv") || e.eq_ignore_ascii_case("json"))
        {
            out.push(path);
        }
    }
    Ok(())
}

/// What the command line can tell an ingest beyond the files.
#[derive(Debug, Clone, Copy, Default)]
pub struct IngestOptions {
    /// The day a snapshot export describes, when neither the file nor its name says.
    pub snapshot_date: Option<NaiveDate>,
    /// Read every file as this format instead of recognising it.
    pub source: Option<Format>,
}

/// Ingests files (and folders of exports) into the lake, recognising each file's format.
pub fn ingest(config: &Config, lake: &Lake, paths: &[PathBuf]) -> Result<IngestReport> {
    ingest_with(config, lake, paths, IngestOptions::default())
}

pub fn ingest_with(
    config: &Config,
    lake: &Lake,
    paths: &[PathBuf],
    options: IngestOptions,
) -> Result<IngestReport> {
    name_source_systems(lake)?;
    // Each file, with the folder it was found in (none for a file named itself).
    let mut files: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
    for path in paths {
        let found = expand_paths(std::slice::from_ref(path))?;
        let folder = path.is_dir().then(|| path.clone());
        files.extend(found.into_iter().map(|f| (f, folder.clone())));
    }
    let mut report = IngestReport::default();
    let mut pending: Vec<Pending> = Vec::new();
    let mut seen: HashMap<FileIdentity, PathBuf> = HashMap::new();
    let ingested = lake.ingested_files()?;
    let files: Vec<_> = files
        .into_iter()
        .map(|(path, folder)| (SourceFile::read(&path), path, folder))
        .collect();
    // A file is the same file as another only if they are read for the same day and have the same
    // size. One that can be neither a file of this run nor one the ledger holds for its day is
    // hashed while it is read, not before: the hash of a day's 300 MB of patch rows is the one
    // step of an ingest nothing else would overlap.
    let mut same_day_and_size: HashMap<(Option<NaiveDate>, u64), usize> = HashMap::new();
    for (file, _, _) in &files {
        if let Ok(file) = file {
            *same_day_and_size
                .entry((snapshot_date_of(file, options), file.size))
                .or_default() += 1;
        }
    }
    for (file, path, folder) in files {
        let outcome = match file {
            Err(e) => Some(Outcome::Failed { error: e.to_string() }),
            Ok(file) => {
                let day = snapshot_date_of(&file, options);
                let may_repeat = ingested.any_for(day) || same_day_and_size[&(day, file.size)] > 1;
                let sha256 = match may_repeat.then(|| file.sha256()).transpose() {
                    Ok(sha256) => sha256,
                    Err(e) => {
                        report.files.push(FileReport {
                            path,
                            outcome: Outcome::Failed { error: e.to_string() },
                        });
                        continue;
                    }
                };
                let identity = sha256.clone().map(|sha| (sha, day));
                let when = day.map(|d| format!(" for {d}")).unwrap_or_default();
                let previously = identity.as_ref().and_then(|i| match ingested.get(i) {
                    Some(at) => Some(format!("{}{when}", at.format("%Y-%m-%d %H:%M:%S UTC"))),
                    None => seen
                        .get(i)
                        .map(|earlier| format!("earlier in this run{when}, as {}", earlier.display())),
                });
                match previously {
                    Some(previously) => Some(Outcome::Skipped { previously }),
                    None => match sources::recognise(&file, options.source) {
                        Err(e) => Some(Outcome::Failed { error: e.to_string() }),
                        Ok(recognised) => {
                            if let Some(identity) = identity {
                                seen.insert(identity, path.clone());
                            }
                            // Canonical files load in table order (tenants first).
                            let table_order = match recognised.format.is_canonical() {
                                true => recognised
                                    .canonical_table(&file)
                                    .and_then(|t| TABLES.iter().position(|x| x.name == t.name))
                                    .unwrap_or(usize::MAX),
                                false => 0,
                            };
                            // The files of one folder, format, table and day are one export
                            // (a collected dataset's pages): read and committed together.
                            let export = folder.map(|_| ExportKey {
                                folder: path.parent().map(Path::to_path_buf).unwrap_or_default(),
                                format: recognised.format.name(),
                                snapshot_date: day,
                            });
                            pending.push(Pending {
                                order: (recognised.format.load_order(), table_order),
                                export,
                                file,
                                sha256,
                                recognised,
                            });
                            None
                        }
                    },
                }
            }
        };
        if let Some(outcome) = outcome {
            report.files.push(FileReport { path, outcome });
        }
    }
    // Stable: within its place in the load, each folder's files stay together in name order.
    pending.sort_by_key(|p| p.order);

    let progress = ProgressBar::new(pending.iter().map(|p| p.file.size).sum());
    progress.set_style(
        ProgressStyle::with_template("{spinner} ingesting [{bar:30}] {bytes}/{total_bytes} {wide_msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    // Keeps the spinner moving through a large file; drawn only when stderr is a terminal.
    progress.enable_steady_tick(std::time::Duration::from_millis(120));
    let mut pending = pending.into_iter().peekable();
    while let Some(first) = pending.next() {
        let mut unit = vec![first];
        while let Some(next) =
            pending.next_if(|p| p.export.is_some() && p.export == unit[0].export && p.order == unit[0].order)
        {
            unit.push(next);
        }
        let paths: Vec<PathBuf> = unit.iter().map(|p| p.file.path.clone()).collect();
        let outcomes: Vec<Outcome> = match ingest_export(config, lake, unit, options, &progress) {
            Ok(loaded) => loaded.into_iter().map(Outcome::Loaded).collect(),
            // The lake, not the export, is at fault: stop here (what was committed stays).
            Err(failed) if failed.error.downcast_ref::<lake::DamagedLakeFile>().is_some() => {
                progress.finish_and_clear();
                let about = failed.file.map_or(&paths[0], |i| &paths[i]);
                return Err(failed.error.context(format!("ingesting {}", about.display())));
            }
            // One file could not be read: it fails, its export's other files are not loaded.
            Err(ExportFailed {
                file: Some(culprit),
                error,
            }) => (0..paths.len())
                .map(|i| match i == culprit {
                    true => Outcome::Failed {
                        error: format!("{error:#}"),
                    },
                    false => Outcome::NotLoaded {
                        with: paths[culprit].clone(),
                    },
                })
                .collect(),
            // The export was read but could not be committed: none of it is in the lake.
            Err(ExportFailed { file: None, error }) => {
                let error = format!("{error:#}");
                paths
                    .iter()
                    .map(|_| Outcome::Failed { error: error.clone() })
                    .collect()
            }
        };
        for (path, outcome) in paths.into_iter().zip(outcomes) {
            report.files.push(FileReport { path, outcome });
        }
    }
    progress.finish_and_clear();
    Ok(report)
}

/// A recognised file waiting to be read, with its place in the load (by stage and format, then
/// by table) and, for a file found in a folder, the export it belongs to.
struct Pending {
    order: ((sources::registry::Stage, usize), usize),
    export: Option<ExportKey>,
    file: SourceFile,
    /// Its SHA-256 if it was hashed before reading (it may have been a file already ingested).
    sha256: Option<String>,
    recognised: Recognised,
}

/// What makes files found in a folder one export: the folder they are in, their format (and, as
/// part of the load order, their canonical table) and the day they describe.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ExportKey {
    folder: PathBuf,
    format: &'static str,
    snapshot_date: Option<NaiveDate>,
}

/// An export that could not be loaded: which of its files could not be read (an index into
/// them; none when the export was read but could not be committed) and why.
struct ExportFailed {
    file: Option<usize>,
    error: anyhow::Error,
}

/// The files the ledger records as exports of the same tool as `format` (Datto RMM, NinjaOne...):
/// the only ones whose device ids that format's ids may be matched against. NinjaOne and Automate
/// number devices from 1: device 1042 of one is not device 1042 of the other.
fn files_of_source(lake: &Lake, format: Format) -> Result<HashSet<String>> {
    Ok(lake
        .ingested_formats()?
        .into_iter()
        .filter(|(_, name)| Format::from_name(name).is_some_and(|f| f.source() == format.source()))
        .map(|(file, _)| file)
        .collect())
}

/// The day a file is read for: `--snapshot-date`, else the date in its name.
fn snapshot_date_of(file: &SourceFile, options: IngestOptions) -> Option<NaiveDate> {
    options
        .snapshot_date
        .or_else(|| sources::date_in_file_name(&file.path))
}

/// Tickets and changes written before they had a `source_system` get the one of the export they
/// came from (by their lineage and the ledger's format), so the next Autotask export replaces its
/// tickets instead of adding a second copy of each beside them. Runs once: afterwards every file
/// has the column.
fn name_source_systems(lake: &Lake) -> Result<()> {
    let mut systems: Option<HashMap<String, String>> = None;
    for table in [&canonical::TICKETS, &canonical::CHANGES] {
        if lake.table_files(table.name)?.is_empty() {
            continue;
        }
        let systems = match &mut systems {
            Some(s) => s,
            None => systems.insert(
                lake.ingested_formats()?
                    .into_iter()
                    .filter_map(|(file, name)| {
                        let format = Format::from_name(&name)?;
                        (!format.is_canonical()).then(|| (file, format.source().to_string()))
                    })
                    .collect(),
            ),
        };
        lake.add_missing_column(
            table,
            "source_system",
            systems,
            canonical::CANONICAL_SOURCE_SYSTEM,
        )?;
    }
    Ok(())
}

/// Reads the files of one export (one file, or a folder's pages of one format and day) and
/// commits them together: their rows, refused rows and ledger lines (one per file) become part of
/// the lake at once, or nothing of them does. The pages of a 400-page dataset then cost one merge
/// into their partitions, not one each.
///
/// Every file is read against the lake as it stood before the export, plus the tenants its
/// earlier files brought. What each file did (loaded, replaced, stale) is counted as if its files
/// had been committed one after the other.
fn ingest_export(
    config: &Config,
    lake: &Lake,
    files: Vec<Pending>,
    options: IngestOptions,
    progress: &ProgressBar,
) -> Result<Vec<LoadedFile>, ExportFailed> {
    let mut reading = 0;
    let format = files[0].recognised.format;
    let mut hashed = Vec::with_capacity(files.len());
    let (files, recognised): (Vec<SourceFile>, Vec<Recognised>) = files
        .into_iter()
        .map(|p| {
            hashed.push(p.sha256);
            (p.file, p.recognised)
        })
        .unzip();
    // One time for the export's refused rows and ledger lines.
    let now = Utc::now();
    let read = read_export(
        config,
        lake,
        &files,
        recognised,
        hashed,
        options,
        now,
        progress,
        &mut reading,
    )
    .map_err(|error| ExportFailed {
        file: Some(reading),
        error,
    })?;
    commit_export(lake, format, &files, read, options, now)
        .map_err(|error| ExportFailed { file: None, error })
}

/// An export's files read and staged: what each gave, the encoding each was read in, and its
/// SHA-256.
struct ReadExport {
    staging: Staging,
    loaded: Vec<LoadedFile>,
    encodings: Vec<sources::text::TextEncoding>,
    sha256: Vec<String>,
}

/// Reads an export's files into a staging, setting `reading` to the index of the file being read
/// (the one an error is about). A file not hashed yet (`hashed`) is hashed on a thread of its own
/// while it is read.
#[allow(clippy::too_many_arguments)]
fn read_export(
    config: &Config,
    lake: &Lake,
    files: &[SourceFile],
    recognised: Vec<Recognised>,
    hashed: Vec<Option<String>>,
    options: IngestOptions,
    now: chrono::DateTime<Utc>,
    progress: &ProgressBar,
    reading: &mut usize,
) -> Result<ReadExport> {
    let format = recognised[0].format;
    let snapshot_date = snapshot_date_of(&files[0], options);
    // Canonical rows name their tenant: only vendor exports need the lake's tenants, devices and
    // picklists to resolve theirs, and a canonical file of millions of rows reads none of it.
    let ctx = if format.is_canonical() {
        Context {
            mapping: &config.mapping,
            source_settings: &config.sources,
            snapshot_date,
            source: format.source(),
            claimed_sites: HashSet::new(),
            claimed_companies: HashSet::new(),
            site_tenants: HashMap::new(),
            tenant_names: HashMap::new(),
            device_tenants: HashMap::new(),
            lookups: Vec::new(),
            tenants: HashMap::new(),
        }
    } else {
        Context {
            mapping: &config.mapping,
            source_settings: &config.sources,
            snapshot_date,
            source: format.source(),
            claimed_sites: lookups::lookup_ids_of_other_sources(lake, format.source(), sources::SITE_LINK)?,
            claimed_companies: lookups::lookup_ids_of_other_sources(
                lake,
                format.source(),
                sources::COMPANY_LINK,
            )?,
            site_tenants: lookups::tenant_lookup(lake, "tenants", "rmm_site_id", false)?,
            tenant_names: lookups::tenant_lookup(lake, "tenants", "tenant_name", true)?,
            device_tenants: lookups::tenant_lookup_from(
                lake,
                "devices",
                "device_id",
                false,
                Some(&files_of_source(lake, format)?),
            )?,
            lookups: lookups::source_lookups(lake, format.source())?,
            tenants: lookups::tenant_facts(lake)?,
        }
    };
    let reference_day = snapshot_date.unwrap_or_default().max(now.date_naive());
    let mut criticality: Option<HashMap<String, String>> = None;
    // Rows are written aside chunk by chunk and become part of the lake together at the end; a
    // file that fails half-way leaves nothing of its export behind. A second thread writes them
    // (columns, sort, Parquet) while this one reads and checks the next chunk; the hand-over
    // waits for it, so at most two chunks are held.
    let staging = lake.staging()?;
    // Tenants the lake has, and those this export brings (a tenants file, Datto sites, Manage
    // companies) as they are read.
    let mut known_tenants: HashSet<String> = lookups::tenant_facts(lake)?.into_keys().collect();
    let mut loaded = Vec::with_capacity(files.len());
    let mut encodings = Vec::with_capacity(files.len());
    // Each file's SHA-256, for its refused rows and its ledger line: given, or set by the thread
    // that hashes it.
    let digests: Vec<std::sync::OnceLock<Result<String, String>>> = hashed
        .into_iter()
        .map(|sha256| sha256.map(Ok).map(std::sync::OnceLock::from).unwrap_or_default())
        .collect();
    let digests = &digests;
    let staging = std::thread::scope(|scope| -> Result<Staging> {
        let (hand_over, handed) = std::sync::mpsc::sync_channel::<(usize, sources::AdapterOutput)>(0);
        let mut writer_stopped = false;
        let writer = scope.spawn(move || -> Result<Staging> {
            let mut staging = staging;
            for (index, chunk) in handed {
                let file = &files[index];
                staging.from_source(index);
                if !chunk.rejections.is_empty() {
                    // Refused rows name their file's digest: wait for it if it is being made.
                    let sha256 = digests[index]
                        .wait()
                        .as_ref()
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    lake.stage_quarantine(&mut staging, &file.name(), sha256, &chunk.rejections, now)?;
                }
                for batch in chunk.batches.into_iter().filter(|b| !b.is_empty()) {
                    lake.stage(&mut staging, batch)?;
                }
            }
            Ok(staging)
        });
        let mut read = Ok(());
        for (index, (file, recognised)) in files.iter().zip(recognised).enumerate() {
            *reading = index;
            progress.set_message(file.name());
            if digests[index].get().is_none() {
                let digest = &digests[index];
                scope.spawn(move || {
                    let hashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| file.sha256()))
                        .unwrap_or_else(|_| Err(FileError::whole(&file.path, "hashing it failed")));
                    // Set even if hashing failed: the writer may be waiting for it.
                    let _ = digest.set(hashed.map_err(|e| e.to_string()));
                });
            }
            let mut this = LoadedFile::default();
            let mut encoding = sources::text::TextEncoding::Utf8;
            let mut tenants_without_criticality = BTreeSet::new();
            read = sources::read(file, recognised, &ctx, &mut |mut chunk| {
                quarantine_out_of_range_days(&mut chunk, reference_day);
                quarantine_unknown_tenants(&mut chunk, &mut known_tenants);
                for batch in &mut chunk.batches {
                    batch.set_export_date(snapshot_date.or(chunk.document_date));
                    if batch.table.name == canonical::DEVICES.name {
                        let criticality = match &mut criticality {
                            Some(c) => c,
                            None => criticality.insert(lookups::tenant_criticality(lake)?),
                        };
                        assign_policy_tiers(config, criticality, batch, &mut tenants_without_criticality);
                    }
                }
                this.rows_read += chunk.rows_read;
                this.rows_quarantined += chunk.rows_rejected();
                this.warnings.append(&mut chunk.warnings);
                encoding = chunk.encoding;
                for rejection in &chunk.rejections {
                    *this
                        .reasons
                        .entry(rejection.problem.reason.to_string())
                        .or_default() += 1;
                }
                for batch in chunk.batches.iter().filter(|b| !b.is_empty()) {
                    if !this.tables.iter().any(|t| t == batch.table.name) {
                        this.tables.push(batch.table.name.to_string());
                    }
                }
                if hand_over.send((index, chunk)).is_err() {
                    // The writer stopped on an error of its own, returned below.
                    writer_stopped = true;
                    anyhow::bail!("the staging writer stopped");
                }
                Ok(())
            });
            if read.is_err() {
                break;
            }
            if options.source.is_some() && this.rows_read == 0 && file.size > 0 {
                this.warnings.push(format!(
                    "read as `{}` (forced with --source), this non-empty file gave no rows: check \
                     that it is that export",
                    format.name()
                ));
            }
            if !tenants_without_criticality.is_empty() {
                this.warnings.push(format!(
                    "policy tiers were assigned as for criticality `standard` to devices of tenants \
                     not in the tenants table: {}",
                    tenants_without_criticality
                        .into_iter()
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            loaded.push(this);
            encodings.push(encoding);
            progress.inc(file.size);
        }
        drop(hand_over);
        let written = writer
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        match (read, written) {
            (Ok(()), written) => written,
            (Err(_), Err(writer_error)) if writer_stopped => Err(writer_error),
            (Err(e), _) => Err(e),
        }
    })?;
    // Every hashing thread has ended with the scope.
    let mut sha256 = Vec::with_capacity(files.len());
    for (index, digest) in digests.iter().enumerate() {
        *reading = index;
        match digest.get() {
            Some(Ok(hex)) => sha256.push(hex.clone()),
            Some(Err(e)) => anyhow::bail!("{e}"),
            None => anyhow::bail!("{} was not hashed", files[index].path.display()),
        }
    }
    Ok(ReadExport {
        staging,
        loaded,
        encodings,
        sha256,
    })
}

/// Makes an export's staged rows part of the lake with a ledger line for each of its files.
fn commit_export(
    lake: &Lake,
    format: Format,
    files: &[SourceFile],
    read: ReadExport,
    options: IngestOptions,
    now: chrono::DateTime<Utc>,
) -> Result<Vec<LoadedFile>> {
    let ReadExport {
        staging,
        mut loaded,
        encodings,
        sha256,
    } = read;
    let mut commit = lake.prepare_commit(staging)?;
    let mut entries = Vec::with_capacity(files.len());
    for (index, (file, loaded)) in files.iter().zip(&mut loaded).enumerate() {
        let stats = commit.by_source.get(index).cloned().unwrap_or_default();
        loaded.rows_loaded = stats.rows_written;
        loaded.rows_replaced = stats.rows_replaced;
        loaded.rows_stale = stats.rows_stale;
        entries.push(LedgerEntry {
            source_file: file.name(),
            source_path: file.path.display().to_string(),
            source_sha256: sha256[index].clone(),
            source_format: format.name().into(),
            snapshot_date: snapshot_date_of(file, options),
            encoding: encodings[index].as_str().into(),
            tables: loaded.tables.clone(),
            rows_read: loaded.rows_read,
            rows_loaded: loaded.rows_loaded,
            rows_quarantined: loaded.rows_quarantined,
            rows_replaced: loaded.rows_replaced,
            rows_stale: loaded.rows_stale,
            warnings: loaded.warnings.clone(),
        });
    }
    lake.stage_ingest_record(&mut commit, &entries, now)?;
    lake.apply_commit(commit)?;
    for (file, loaded) in files.iter().zip(&loaded) {
        tracing::info!(
            file = %file.path.display(),
            rows = loaded.rows_loaded,
            quarantined = loaded.rows_quarantined,
            "ingested"
        );
    }
    Ok(loaded)
}

/// Refuses rows whose partition day is before 2000 or more than a year after `reference` (the
/// later of the file's snapshot date and the ingest date): a parsing accident or a typo must not
/// become a partition of its own, and a row nobody can place in time cannot count in a period.
fn quarantine_out_of_range_days(output: &mut sources::AdapterOutput, reference: NaiveDate) {
    let (earliest, latest) = (
        canonical::earliest_partition_day(),
        canonical::latest_partition_day(reference),
    );
    for batch in &mut output.batches {
        let (Some(days), canonical::Partitioning::Day { column, .. }) =
            (batch.partition_days(), batch.table.partitioning)
        else {
            continue;
        };
        let keep: Vec<bool> = days.iter().map(|d| (earliest..=latest).contains(d)).collect();
        if keep.iter().all(|k| *k) {
            continue;
        }
        for (row, day) in days.iter().enumerate().filter(|(row, _)| !keep[*row]) {
            output.rejections.push(sources::Rejection {
                table: batch.table.name.to_string(),
                line: batch.line(row),
                problem: canonical::Problem {
                    column: column.to_string(),
                    value: batch.value(row, column).to_key_text(),
                    reason: canonical::Reason::OutOfRange,
                    detail: format!(
                        "{day} is outside the days an export can describe ({earliest} to {latest}, one \
                         year after the file's snapshot or ingest date)"
                    ),
                },
            });
        }
        batch.retain(&keep);
    }
}

/// Refuses rows whose tenant is in no tenants row, of the lake or of the file itself: a row that
/// belongs to no known client must not count for any (docs/canonical-model.md, "every row's tenant
/// exists"). Tenants rows of the chunk join `known` first.
fn quarantine_unknown_tenants(output: &mut sources::AdapterOutput, known: &mut HashSet<String>) {
    for batch in output
        .batches
        .iter()
        .filter(|b| b.table.name == canonical::TENANTS.name)
    {
        known.extend(batch.texts("tenant_id").flatten().map(str::to_string));
    }
    for batch in &mut output.batches {
        if batch.table.name == canonical::TENANTS.name || batch.table.is_reference() {
            continue;
        }
        // Exports list a client's rows together: a run of one tenant is looked up once.
        let mut previous: Option<(&str, bool)> = None;
        let keep: Vec<bool> = batch
            .texts("tenant_id")
            .map(|t| {
                let t = t?;
                match previous {
                    Some((same, was_known)) if same == t => Some(was_known),
                    _ => {
                        let is_known = known.contains(t);
                        previous = Some((t, is_known));
                        Some(is_known)
                    }
                }
            })
            .map(|is_known| is_known == Some(true))
            .collect();
        if keep.iter().all(|k| *k) {
            continue;
        }
        for row in (0..keep.len()).filter(|row| !keep[*row]) {
            let tenant = batch.value(row, "tenant_id").to_key_text();
            output.rejections.push(sources::Rejection {
                table: batch.table.name.to_string(),
                line: batch.line(row),
                problem: canonical::Problem {
                    column: "tenant_id".into(),
                    detail: format!(
                        "no tenants row has tenant_id `{tenant}`: ingest the tenants (or the PSA's \
                         companies) before the files that refer to them"
                    ),
                    value: tenant,
                    reason: canonical::Reason::UnknownTenant,
                },
            });
        }
        batch.retain(&keep);
    }
}

/// Fills the policy tier of devices whose export names none, from the config's rules. Tenants not
/// in the tenants table are taken as criticality `standard` and noted in `unknown_tenants`.
fn assign_policy_tiers(
    config: &Config,
    criticality: &HashMap<String, String>,
    batch: &mut Batch,
    unknown_tenants: &mut BTreeSet<String>,
) {
    let rules = &config.policy_tiers;
    // A tier follows from the tenant's criticality, the device class and the role: a batch holds
    // few of those, so each is decided once, not once a row.
    let tiers: Vec<Option<&str>> = {
        let mut decided: HashMap<(&str, &str, Option<&str>), &str> = HashMap::new();
        batch
            .texts("policy_tier")
            .zip(batch.texts("tenant_id"))
            .zip(batch.texts("device_class"))
            .zip(batch.texts("role"))
            .map(|(((tier, tenant), class), role)| {
                if tier.is_some() {
                    return None;
                }
                let (tenant, class) = (tenant.unwrap_or_default(), class.unwrap_or_default());
                Some(*decided.entry((tenant, class, role)).or_insert_with(|| {
                    let tenant_criticality = criticality.get(tenant).map_or_else(
                        || {
                            unknown_tenants.insert(tenant.to_string());
                            "standard"
                        },
                        String::as_str,
                    );
                    rules.tier_for(tenant_criticality, class, role)
                }))
            })
            .collect()
    };
    batch.fill_text("policy_tier", |row| tiers[row]);
}
