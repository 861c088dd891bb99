//! One writer at a time: every command that writes the lake holds `lake/.govpack.lock`.
//!
//! The lock is the operating system's advisory lock on that file (`File::try_lock`), so it is
//! released by the kernel when its holder exits, however it exits: a crashed run cannot leave the
//! lake locked. The file's content says who holds it (job, run id, process, host, start), for the
//! message a second run prints. A holder that ends normally empties the file; finding it not empty
//! while the lock is free means the previous holder died mid-run, which is reported (its run is
//! marked abandoned in the ledger) and the lock taken over.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::LakeBusy;
use crate::lake::Lake;

pub const LOCK_FILE: &str = ".govpack.lock";

/// Who holds the lock, as written into the lock file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Holder {
    pub job: String,
    pub run_id: String,
    pub pid: u32,
    pub host: String,
    pub started_utc: DateTime<Utc>,
}

impl Holder {
    pub fn this_process(job: &str, run_id: &str, started_utc: DateTime<Utc>) -> Holder {
        Holder {
            job: job.to_string(),
            run_id: run_id.to_string(),
            pid: std::process::id(),
            host: host_name(),
            started_utc,
        }
    }

    fn describe(&self) -> String {
        format!(
            "`{}` (run {}, process {} on {}, started {})",
            self.job,
            self.run_id,
            self.pid,
            self.host,
            self.started_utc.format("%Y-%m-%d %H:%M:%S UTC")
        )
    }
}

/// The held lock; dropping it releases it.
#[derive(Debug)]
pub struct RunLock {
    file: File,
    path: PathBuf,
    /// The holder found in the file when the lock was free: a run that died without releasing.
    pub took_over_from: Option<Holder>,
}

impl RunLock {
    /// Takes the lake's lock, or fails with `LakeBusy` (exit 3) naming the run that holds it.
    pub fn acquire(lake: &Lake, holder: &Holder) -> Result<RunLock> {
        let path = lake.root().join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                // Windows forbids reading a locked range; the holder is then unknown.
                let who = read_holder(&mut file)
                    .map_or_else(|| "another govpack run".to_string(), |h| h.describe());
                return Err(LakeBusy(format!(
                    "the lake {} is in use by {who}; nothing was done. Run again when it has finished \
                     (the lock is {}; it is released automatically when that process ends)",
                    lake.root().display(),
                    path.display()
                ))
                .into());
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
        let took_over_from = read_holder(&mut file);
        if let Some(previous) = &took_over_from {
            tracing::warn!(
                "the previous run {} ended without releasing the lake's lock (its process is gone); \
                 taking the lock over",
                previous.describe()
            );
        }
        let text = serde_json::to_string_pretty(holder)?;
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        Ok(RunLock {
            file,
            path,
            took_over_from,
        })
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // An empty file marks a clean release; the OS lock goes with the handle.
        if let Err(e) = self.file.set_len(0) {
            tracing::warn!("cannot clear the lock file {}: {e}", self.path.display());
        }
        let _ = self.file.unlock();
    }
}

/// Takes the lake's lock for a command that writes it; a run that died holding it is marked
/// abandoned in the run ledger. `run_id` names this holder in the lock file and the ledger.
pub fn lock_lake(lake: &Lake, job: &str, run_id: &str, started_utc: DateTime<Utc>) -> Result<RunLock> {
    let lock = RunLock::acquire(lake, &Holder::this_process(job, run_id, started_utc))?;
    if let Some(previous) = &lock.took_over_from {
        eprintln!(
            "warning: {} ended without finishing (its process is gone); took the lake's lock over",
            previous.describe()
        );
        crate::operations::ledger::mark_abandoned(lake, &previous.run_id, run_id)?;
    }
    Ok(lock)
}

/// `lock_lake`, retrying every few seconds while another run holds the lake, up to `wait`.
pub fn lock_lake_waiting(
    lake: &Lake,
    job: &str,
    run_id: &str,
    started_utc: DateTime<Utc>,
    wait: std::time::Duration,
) -> Result<RunLock> {
    let deadline = std::time::Instant::now() + wait;
    loop {
        match lock_lake(lake, job, run_id, started_utc) {
            Err(e) if e.downcast_ref::<LakeBusy>().is_some() && std::time::Instant::now() < deadline => {
                tracing::info!("{e}; waiting");
                std::thread::sleep(
                    std::time::Duration::from_secs(2).min(deadline - std::time::Instant::now()),
                );
            }
            other => return other,
        }
    }
}

/// A lock for a one-off command (`ingest`, `kpi`, `demo`): the run id is the command and time.
pub fn lock_for_command(lake: &Lake, command: &str) -> Result<RunLock> {
    let now = Utc::now();
    lock_lake(
        lake,
        command,
        &format!("{command}-{}", now.format("%Y%m%dT%H%M%S%.3fZ")),
        now,
    )
}

fn read_holder(file: &mut File) -> Option<Holder> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    if text.trim().is_empty() {
        return None;
    }
    // A lock file written by something else still means "not released": say so plainly.
    Some(serde_json::from_str(&text).unwrap_or_else(|_| Holder {
        job: "unknown".into(),
        run_id: "unknown".into(),
        pid: 0,
        host: "unknown".into(),
        started_utc: DateTime::<Utc>::MIN_UTC,
    }))
}

fn host_name() -> String {
    std::env::var("HOSTNAME")
        .or_else(|_| std::env::var("COMPUTERNAME"))
        .ok()
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|s| s.trim().to_string())
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown host".into())
}
