//! Commits: an ingest's rows are staged aside, planned into the lake, and made visible together
//! through a journal that a crash cannot leave half applied.

use super::ledger::ledger_batch;
use super::*;

/// One ingest's rows, written aside until `Lake::apply_commit` (dropped uncommitted: removed).
///
/// An ingest stages the rows of one export file, or of several read as one (the pages of a
/// collected dataset): each staged part remembers which of them it came from (`from_source`), so
/// the commit can say what each did and each gets its own ledger line.
#[derive(Debug)]
pub struct Staging {
    pub(super) dir: tempfile::TempDir,
    /// Staged quarantine files, in the order they were written.
    quarantine: Vec<PathBuf>,
    /// The staged files of each partition, in the order they were written.
    parts: std::collections::BTreeMap<(&'static str, Option<NaiveDate>), StagedPartition>,
    files: usize,
    /// The source file the next staged rows come from (an index into the ingest's files).
    source: usize,
    /// How many source files the staging has taken rows from (the highest index plus one).
    sources: usize,
    /// The tenants whose rows each source file staged (`INGEST_TENANTS`).
    tenants: std::collections::BTreeMap<usize, std::collections::BTreeSet<String>>,
}

impl Staging {
    /// Says which of the ingest's source files the rows staged from now on come from.
    pub fn from_source(&mut self, index: usize) {
        self.source = index;
        self.sources = self.sources.max(index + 1);
    }
}

/// A partition's table and the files staged for it.
type StagedPartition = (&'static Table, Vec<StagedPart>);

#[derive(Debug)]
struct StagedPart {
    path: PathBuf,
    rows: u64,
    /// The source file its rows came from (`Staging::from_source`).
    source: usize,
}

/// The journal of the commit being applied, at the lake's root. Its paths are relative to the
/// lake, so a commit a killed ingest left is finished the same from any working directory.
const JOURNAL: &str = ".commit-journal.json";

/// The journal's contents: the version says its paths are relative to the lake (govpack before
/// it wrote a bare list of steps with paths as the killed run named them).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Journal {
    paths: JournalPaths,
    steps: Vec<Step>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum JournalPaths {
    LakeRelative,
}

/// One file operation of a commit; each is safe to apply twice.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
enum Step {
    /// Rename a staged file into place.
    Move { from: PathBuf, to: PathBuf },
    /// Remove a file the commit replaces.
    Remove { path: PathBuf },
}

impl Step {
    fn map_paths(&self, f: impl Fn(&Path) -> Result<PathBuf>) -> Result<Step> {
        Ok(match self {
            Step::Move { from, to } => Step::Move {
                from: f(from)?,
                to: f(to)?,
            },
            Step::Remove { path } => Step::Remove { path: f(path)? },
        })
    }
}

/// Staged rows, planned into the lake (`Lake::prepare_commit`), not yet visible.
#[derive(Debug)]
pub struct Commit {
    staging: Staging,
    steps: Vec<Step>,
    /// What the commit will have done once applied.
    pub stats: MergeStats,
    /// The same, for each source file of the staging (by `Staging::from_source` index), as if
    /// they had been committed one after the other in that order.
    pub by_source: Vec<MergeStats>,
}

/// Applies commit steps, each at most once in effect: a move whose file is already in place, or a
/// removal of a file already gone, is done. Every folder touched is synced.
fn apply_steps(steps: &[Step]) -> Result<()> {
    let mut dirs = std::collections::BTreeSet::new();
    for step in steps {
        match step {
            Step::Move { from, to } => {
                if from.exists() {
                    std::fs::rename(from, to)
                        .with_context(|| format!("cannot move {} to {}", from.display(), to.display()))?;
                } else if !to.exists() {
                    anyhow::bail!(
                        "the commit journal moves {} to {}, and neither is there",
                        from.display(),
                        to.display()
                    );
                }
                dirs.extend(to.parent().map(Path::to_path_buf));
            }
            Step::Remove { path } => {
                if path.exists() {
                    std::fs::remove_file(path)
                        .with_context(|| format!("cannot remove {}", path.display()))?;
                }
                dirs.extend(path.parent().map(Path::to_path_buf));
            }
        }
    }
    for dir in dirs {
        sync_dir(&dir)?;
    }
    Ok(())
}

fn sync_file(path: &Path) -> Result<()> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot sync {}", path.display()))
}

impl Lake {
    /// A place to write one ingest's rows before they become part of the lake: the rows of a
    /// large file arrive a chunk at a time, and none of them may be seen until all are written.
    pub fn staging(&self) -> Result<Staging> {
        self.finish_interrupted_commit()?;
        let root = self.root.join(".staging");
        // Anything left here is from an ingest that died before committing: the lake never
        // counted it (ingests hold the lake's lock, so no other one is running).
        for leftover in list(&root)? {
            std::fs::remove_dir_all(&leftover)
                .or_else(|_| std::fs::remove_file(&leftover))
                .ok();
        }
        std::fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
        let dir = tempfile::Builder::new()
            .prefix("ingest-")
            .tempdir_in(&root)
            .with_context(|| format!("cannot create a staging folder in {}", root.display()))?;
        Ok(Staging {
            dir,
            quarantine: Vec::new(),
            parts: Default::default(),
            files: 0,
            source: 0,
            sources: 1,
            tenants: Default::default(),
        })
    }

    /// Writes a batch's rows aside, one file per partition they fall in, sorted by key.
    pub fn stage(&self, staging: &mut Staging, batch: Batch) -> Result<()> {
        let table = batch.table;
        if !table.is_reference() {
            // Exports list a client's rows together: a run of one tenant is one comparison a row.
            let mut previous = None;
            for tenant in batch.texts("tenant_id").flatten() {
                if previous != Some(tenant) {
                    let seen = staging.tenants.entry(staging.source).or_default();
                    if !seen.contains(tenant) {
                        seen.insert(tenant.to_string());
                    }
                    previous = Some(tenant);
                }
            }
        }
        let key: Vec<String> = table.key.iter().map(|k| k.to_string()).collect();
        for (day, part) in split_by_partition(table, batch.into_frame()?)? {
            let mut sorted = in_key_order(part, &key)?;
            let parts = staging
                .parts
                .entry((table.name, day))
                .or_insert_with(|| (table, Vec::new()));
            let path = staging
                .dir
                .path()
                .join(format!("{}-{}.parquet", table.name, staging.files));
            staging.files += 1;
            let mut file =
                File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
            write_parquet(&mut file, &mut sorted).with_context(|| format!("writing {}", path.display()))?;
            parts.1.push(StagedPart {
                path,
                rows: sorted.height() as u64,
                source: staging.source,
            });
        }
        Ok(())
    }

    /// Plans making staged rows part of the lake; nothing visible changes yet. A partition that
    /// holds nothing takes the staged files of one source file as they are (a new day costs only
    /// its own rows); one that holds rows, or that several source files staged rows for (a row
    /// may be on two pages of one dataset), is merged by key into one new file, written aside too.
    /// The refused rows are planned into the quarantine log. `apply_commit` then does it all.
    pub fn prepare_commit(&self, staging: Staging) -> Result<Commit> {
        let mut by_source = vec![MergeStats::default(); staging.sources];
        let mut steps = Vec::new();
        let mut merges = 0;
        for ((_, day), (table, parts)) in &staging.parts {
            for part in parts {
                by_source[part.source].rows_written += part.rows;
            }
            let target = self.partition_file(table, *day);
            let dir = self.partition_dir(&target)?;
            let old_files = self.partition_files(table, *day)?;
            let one_source = parts.iter().all(|p| p.source == parts[0].source);
            let fresh_day = matches!(table.partitioning, Partitioning::Day { .. }) && old_files.is_empty();
            if fresh_day && one_source {
                for (i, part) in parts.iter().enumerate() {
                    let to = if parts.len() == 1 {
                        target.clone()
                    } else {
                        let stem = target.file_stem().expect("a file name").to_string_lossy();
                        dir.join(format!("{stem}-{:04}.parquet", i + 1))
                    };
                    sync_file(&part.path)?;
                    by_source[part.source].files.push(to.clone());
                    steps.push(Step::Move {
                        from: part.path.clone(),
                        to,
                    });
                }
            } else {
                let new_files: Vec<PathBuf> = parts.iter().map(|p| p.path.clone()).collect();
                let sources: Vec<usize> = parts.iter().map(|p| p.source).collect();
                let staged = staging.dir.path().join(format!("merged-{merges}.parquet"));
                merges += 1;
                let merged = self.merge_files(table, &old_files, &new_files, &sources, &staged)?;
                sync_file(&staged)?;
                for (source, merged) in merged {
                    let stats = &mut by_source[source];
                    stats.rows_replaced += merged.replaced;
                    stats.rows_stale += merged.stale;
                    stats.rows_written -= merged.stale.min(stats.rows_written);
                    stats.files.push(target.clone());
                }
                steps.push(Step::Move {
                    from: staged,
                    to: target.clone(),
                });
                steps.extend(
                    old_files
                        .into_iter()
                        .filter(|f| *f != target)
                        .map(|path| Step::Remove { path }),
                );
            }
        }
        let mut stats = MergeStats::default();
        for one in &by_source {
            stats.rows_written += one.rows_written;
            stats.rows_replaced += one.rows_replaced;
            stats.rows_stale += one.rows_stale;
            for file in &one.files {
                if !stats.files.contains(file) {
                    stats.files.push(file.clone());
                }
            }
        }
        if !staging.quarantine.is_empty() {
            let dir = self.table_dir(QUARANTINE.name);
            self.partition_dir(&dir.join("any"))?;
            for part in &staging.quarantine {
                sync_file(part)?;
                steps.push(Step::Move {
                    from: part.clone(),
                    to: dir.join(log_file_name(QUARANTINE.name)),
                });
            }
        }
        Ok(Commit {
            staging,
            steps,
            stats,
            by_source,
        })
    }

    /// Adds the file's ledger line and the tenants whose rows it staged to a commit, so that its
    /// rows, its refused rows and the lines that say it was ingested become visible together.
    pub fn stage_ingest_record(
        &self,
        commit: &mut Commit,
        entries: &[LedgerEntry],
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.stage_log_file(commit, &ledger_batch(entries, at))?;
        if !commit.staging.tenants.is_empty() {
            let mut batch = Batch::without_lineage(&INGEST_TENANTS);
            for (source, tenants) in &commit.staging.tenants {
                let entry = entries
                    .get(*source)
                    .context("a ledger line for every source file of the staging")?;
                for tenant in tenants {
                    batch.push_row(
                        vec![
                            Value::Text(entry.source_sha256.clone()),
                            entry.snapshot_date.map_or(Value::Null, Value::Date),
                            Value::Text(tenant.clone()),
                        ],
                        0,
                    );
                }
            }
            self.stage_log_file(commit, &batch)?;
        }
        Ok(())
    }

    /// Writes a log table's rows aside and plans their file into the log.
    fn stage_log_file(&self, commit: &mut Commit, batch: &Batch) -> Result<()> {
        let name = batch.table.name;
        let mut frame = batch.to_frame()?;
        let staged = commit.staging.dir.path().join(format!("{name}.parquet"));
        let mut out = File::create(&staged).with_context(|| format!("cannot create {}", staged.display()))?;
        write_parquet(&mut out, &mut frame).with_context(|| format!("writing {}", staged.display()))?;
        out.sync_all()?;
        let dir = self.table_dir(name);
        self.partition_dir(&dir.join("any"))?;
        commit.steps.push(Step::Move {
            from: staged,
            to: dir.join(log_file_name(name)),
        });
        Ok(())
    }

    /// Makes a prepared commit part of the lake: its steps are written to a journal first, then
    /// applied, then the journal goes. A commit cut short (power loss, a kill) is finished by the
    /// next ingest from the journal (`finish_interrupted_commit`): a file's rows, quarantine and
    /// ledger line are in the lake together, or none of them is.
    pub fn apply_commit(&self, commit: Commit) -> Result<MergeStats> {
        let journal = self.root.join(JOURNAL);
        let record = Journal {
            paths: JournalPaths::LakeRelative,
            steps: commit
                .steps
                .iter()
                .map(|step| step.map_paths(|p| self.lake_relative(p)))
                .collect::<Result<_>>()?,
        };
        let text = serde_json::to_string_pretty(&record).context("cannot write the commit journal")?;
        write_atomic(&journal, |f| f.write_all(text.as_bytes()).map_err(Into::into))?;
        // From here the staged files belong to the journal: kept if applying fails.
        let staged = commit.staging.dir.keep();
        // Fault injection for the crash-recovery test: the process dies after that many steps.
        let crash_after = std::env::var("GOVPACK_FAULT_AFTER_COMMIT_STEPS")
            .ok()
            .and_then(|n| n.parse::<usize>().ok());
        if let Some(n) = crash_after {
            apply_steps(&commit.steps[..n.min(commit.steps.len())])?;
            std::process::abort();
        }
        apply_steps(&commit.steps)?;
        std::fs::remove_file(&journal).with_context(|| format!("cannot remove {}", journal.display()))?;
        sync_dir(&self.root)?;
        std::fs::remove_dir_all(&staged).ok();
        for log in [&QUARANTINE, &INGEST_LEDGER, &INGEST_TENANTS] {
            if self.table_files(log.name)?.len() > LOG_FILES_BEFORE_COMPACTION {
                self.compact_log(log)?;
            }
        }
        Ok(commit.stats)
    }

    /// Whether a commit journal is there: a commit being applied, or one a crash cut short.
    pub fn has_interrupted_commit(&self) -> bool {
        self.root.join(JOURNAL).exists()
    }

    /// Finishes a commit a crash interrupted, from its journal (every step is safe to repeat).
    /// Runs before an ingest stages anything, under the lake's lock.
    pub fn finish_interrupted_commit(&self) -> Result<()> {
        let journal = self.root.join(JOURNAL);
        if !journal.exists() {
            return Ok(());
        }
        let text = std::fs::read_to_string(&journal)
            .with_context(|| format!("cannot read {}", journal.display()))?;
        let steps = if let Ok(record) = serde_json::from_str::<Journal>(&text) {
            record
                .steps
                .iter()
                .map(|step| step.map_paths(|p| self.in_lake(p)))
                .collect::<Result<Vec<_>>>()?
        } else if let Ok(older) = serde_json::from_str::<Vec<Step>>(&text) {
            older
                .iter()
                .map(|step| step.map_paths(|p| self.older_journal_path(p, &journal)))
                .collect::<Result<Vec<_>>>()?
        } else {
            anyhow::bail!("{} is not a commit journal govpack wrote", journal.display());
        };
        apply_steps(&steps)?;
        std::fs::remove_file(&journal).with_context(|| format!("cannot remove {}", journal.display()))?;
        sync_dir(&self.root)?;
        tracing::warn!(
            steps = steps.len(),
            "finished a commit an earlier ingest did not finish"
        );
        Ok(())
    }

    /// A path of this lake as the journal stores it.
    fn lake_relative(&self, path: &Path) -> Result<PathBuf> {
        if let Ok(inside) = path.strip_prefix(&self.root) {
            return Ok(inside.to_path_buf());
        }
        // A staging folder is named absolutely (tempfile makes it so) while the lake may be
        // named from the working directory.
        let root = std::path::absolute(&self.root)?;
        std::path::absolute(path)?
            .strip_prefix(&root)
            .map(Path::to_path_buf)
            .with_context(|| {
                format!(
                    "{} is not inside the lake {}",
                    path.display(),
                    self.root.display()
                )
            })
    }

    /// A journal's lake-relative path, refused if it could lead out of the lake.
    fn in_lake(&self, path: &Path) -> Result<PathBuf> {
        if path
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
        {
            Ok(self.root.join(path))
        } else {
            anyhow::bail!(
                "the commit journal names {}, which is not a path inside the lake; \
                 nothing was moved",
                path.display()
            )
        }
    }

    /// A path of an older govpack's journal, relative to the folder the killed ingest ran in:
    /// used only when it resolves, from here, to a place inside this lake; otherwise the
    /// operator is told where to run from, and nothing moves.
    fn older_journal_path(&self, path: &Path, journal: &Path) -> Result<PathBuf> {
        let inside = (|| {
            let root = self.root.canonicalize().ok()?;
            let parent = std::path::absolute(path).ok()?.parent()?.canonicalize().ok()?;
            let name = path.file_name()?;
            parent.starts_with(&root).then(|| parent.join(name))
        })();
        inside.ok_or_else(|| {
            UsageError(format!(
                "{} was left by an older govpack, with paths relative to the folder its ingest ran \
                 in ({} is not in this lake from here): run the command again from that folder \
                 to finish it; nothing was moved",
                journal.display(),
                path.display()
            ))
            .into()
        })
    }

    /// Writes a chunk's refused rows aside with the rest of its file's rows: they join the
    /// quarantine when the file is committed, a file of any size of them in the memory of a chunk.
    pub fn stage_quarantine(
        &self,
        staging: &mut Staging,
        source_file: &str,
        source_sha256: &str,
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
                    Value::Text(source_file.to_string()),
                    Value::Text(source_sha256.to_string()),
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
        // A row with one problem twice (same cell, same reason) is one key: keep it once. A row
        // stands in one chunk, so no key repeats across a file's chunks.
        let key: Vec<String> = QUARANTINE.key.iter().map(|k| k.to_string()).collect();
        let frame = batch.to_frame()?;
        let unique = frame.unique_stable(Some(key.as_slice()), UniqueKeepStrategy::Last, None)?;
        let mut sorted = in_key_order(unique, &key)?;
        let path = staging
            .dir
            .path()
            .join(format!("quarantine-{}.parquet", staging.files));
        staging.files += 1;
        let mut out = File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        write_parquet(&mut out, &mut sorted).with_context(|| format!("writing {}", path.display()))?;
        staging.quarantine.push(path);
        Ok(())
    }
}
