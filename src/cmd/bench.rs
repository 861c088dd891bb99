//! `govpack bench`: measures ingest and KPIs on a generated MSP of any size.
//!
//! Writes a scaled MSP (`--devices N --days D`, canonical CSV, one drop folder per day) into a
//! work folder, then runs each step as a child process of this binary and reports its wall time,
//! rows per second and peak resident memory (the child's own high-water mark, from `wait4`):
//! the two references (DuckDB alone converting the same files to Parquet with the canonical
//! types; then computing every KPI over that Parquet with the same SQL), measured in the same run
//! since shared machines are too noisy for absolute times to compare, each day's ingest into the
//! growing lake, the KPIs of the whole period, a 100-row file into the full lake, and a large KEV
//! catalog (`--kev-entries`). Ingest is compared with the conversion and the KPIs with the
//! reference's KPIs, each ratio on its own, so a fast step never hides a slow one. The ingest,
//! the KPIs and their references each run `--runs` times (3), a step and its reference in turn,
//! and the least wall time of each is reported. Speed and memory targets live here, never in
//! timed tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;

use crate::bench::ScaledMsp;
use crate::cmd::cli::GlobalArgs;
use crate::error::UsageError;

/// Measure ingest and KPIs on a generated MSP of any size
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  govpack bench --devices 100000 --days 1      one day of the largest MSPs\n  \
    govpack bench --devices 10000 --days 30      a month, day by day\n  \
    govpack bench --devices 300 --days 2 --work /tmp/bench --keep"
)]
pub struct Args {
    /// Endpoints of the generated MSP (~67 per client, 25 patch rows each per day)
    #[arg(long, default_value_t = 10_000)]
    pub devices: u64,
    /// Daily snapshots, each ingested into the lake in turn
    #[arg(long, default_value_t = 1)]
    pub days: u64,
    /// First snapshot day, YYYY-MM-DD
    #[arg(long, value_name = "DATE", default_value = "2026-10-01")]
    pub start: String,
    /// Random seed: the same seed and options give the same files
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Folder for the data and the lake [default: a temporary folder]
    #[arg(long, value_name = "DIR")]
    pub work: Option<PathBuf>,
    /// Keep the work folder afterwards (a temporary one is removed by default)
    #[arg(long)]
    pub keep: bool,
    /// Skip the two DuckDB reference steps (the conversion and its KPIs)
    #[arg(long)]
    pub no_reference: bool,
    /// Times the ingest, the KPIs and their references are each run, alternating, the best kept
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub runs: u32,
    /// Entries of the CISA KEV catalog ingested last (the real one has ~1,500; 0 skips the step)
    #[arg(long, default_value_t = 100_000)]
    pub kev_entries: u64,
    /// (internal) Run the DuckDB reference's CSV -> Parquet conversion of a data folder
    #[arg(long, hide = true, value_name = "DIR")]
    pub duckdb_convert: Option<PathBuf>,
    /// (internal) Run every KPI over the DuckDB reference's Parquet of a data folder
    #[arg(long, hide = true, value_name = "DIR")]
    pub duckdb_kpi: Option<PathBuf>,
}

pub fn run(_global: &GlobalArgs, args: Args) -> Result<i32> {
    if let Some(data) = &args.duckdb_convert {
        duckdb_convert(data)?;
        return Ok(0);
    }
    if let Some(data) = &args.duckdb_kpi {
        duckdb_kpi(data)?;
        return Ok(0);
    }
    let start = super::day_arg("start", &args.start)?;
    if args.devices == 0 || args.days == 0 || args.runs == 0 {
        return Err(UsageError("--devices, --days and --runs must be at least 1".into()).into());
    }
    let msp = ScaledMsp {
        devices: args.devices,
        days: args.days,
        start,
        seed: args.seed,
    };
    let temp;
    let work = match &args.work {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            dir.clone()
        }
        None => {
            temp = tempfile::Builder::new().prefix("govpack-bench-").tempdir()?;
            temp.path().to_path_buf()
        }
    };
    // Every step runs inside the work folder, so every path it is given must be absolute.
    let work = work
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", work.display()))?;
    let data = work.join("data");
    let lake = work.join("lake");
    if lake.exists() {
        bail!(
            "{} already holds a lake: benchmark into an empty work folder",
            lake.display()
        );
    }

    outln!(
        "govpack bench: {} devices, {} clients, {} day(s) from {start}, seed {}; the best of {} run(s)",
        msp.devices,
        msp.tenants(),
        msp.days,
        msp.seed,
        args.runs
    );
    let generating = Instant::now();
    let written = msp.write(&data)?;
    outln!(
        "data: {} rows ({} patch_status), {:.0} MB of canonical CSV, written in {:.1} s to {}\n",
        written.rows(),
        written.patch_status,
        written.bytes as f64 / 1e6,
        generating.elapsed().as_secs_f64(),
        data.display()
    );

    let exe = std::env::current_exe().context("cannot find the govpack binary")?;
    let lake_arg = lake.to_string_lossy().into_owned();
    let mut steps: Vec<(String, u64, Measured)> = Vec::new();
    let print_header = || -> Result<()> {
        outln!("| step | rows | wall (s) | rows/s | peak RSS (MB) |");
        outln!("|---|---:|---:|---:|---:|");
        Ok(())
    };
    print_header()?;
    let report = |name: &str, rows: u64, m: &Measured| -> Result<()> {
        outln!(
            "| {name} | {rows} | {:.2} | {:.0} | {} |",
            m.wall.as_secs_f64(),
            rows as f64 / m.wall.as_secs_f64().max(1e-9),
            m.peak_rss_mb()
                .map_or_else(|| "n/a".into(), |mb| format!("{mb:.0}"))
        );
        Ok(())
    };

    // A shared machine only ever slows a step down: each step's least wall time of several runs
    // is the one that says what it costs. A step and its reference take turns, so a slow spell
    // falls on both.
    let data_arg = data.to_string_lossy().into_owned();
    let mut convert: Option<Measured> = None;
    let mut ingests: Option<Vec<(String, u64, Measured)>> = None;
    for run in 0..args.runs {
        if !args.no_reference {
            let m = measure(&exe, &["bench", "--duckdb-convert", &data_arg], &work)?;
            keep_best(&mut convert, m);
        }
        if run > 0 {
            std::fs::remove_dir_all(&lake).with_context(|| format!("cannot remove {}", lake.display()))?;
        }
        let mut days = Vec::new();
        for index in 0..msp.days {
            let day_dir = msp.day_dir(&data, index);
            let rows = count_data_rows(&day_dir)?;
            let m = measure(
                &exe,
                &["--lake", &lake_arg, "ingest", &day_dir.to_string_lossy()],
                &work,
            )?;
            let name = if index == 0 {
                format!("ingest {} (empty lake)", msp.day(index))
            } else {
                format!("ingest {} (lake of {index} day(s))", msp.day(index))
            };
            days.push((name, rows, m));
        }
        let wall = |days: &[(String, u64, Measured)]| days.iter().map(|(_, _, m)| m.wall).sum::<Duration>();
        if ingests.as_ref().is_none_or(|best| wall(&days) < wall(best)) {
            ingests = Some(days);
        }
    }
    let (from, to) = (msp.day(0).to_string(), msp.day(msp.days - 1).to_string());
    let mut kpi_reference: Option<Measured> = None;
    let mut kpi: Option<Measured> = None;
    for _ in 0..args.runs {
        if !args.no_reference {
            let m = measure(&exe, &["bench", "--duckdb-kpi", &data_arg], &work)?;
            keep_best(&mut kpi_reference, m);
        }
        let m = measure(
            &exe,
            &["--lake", &lake_arg, "kpi", "--from", &from, "--to", &to],
            &work,
        )?;
        keep_best(&mut kpi, m);
    }
    if let (Some(convert), Some(kpi_reference)) = (convert, kpi_reference) {
        report(
            "reference: DuckDB alone, CSV -> Parquet with the canonical types",
            written.rows(),
            &convert,
        )?;
        steps.push(("reference-convert".into(), written.rows(), convert));
        report(
            "reference: every KPI over DuckDB's Parquet",
            written.patch_status,
            &kpi_reference,
        )?;
        steps.push(("reference-kpi".into(), written.patch_status, kpi_reference));
    }
    for (index, (name, rows, m)) in ingests.into_iter().flatten().enumerate() {
        report(&name, rows, &m)?;
        steps.push((format!("ingest-{index}"), rows, m));
    }
    let kpi = kpi.expect("at least one run");
    report("kpi, every KPI of the period", written.patch_status, &kpi)?;
    steps.push(("kpi".into(), written.patch_status, kpi));
    let tickets = work.join("tickets_small.csv");
    msp.write_tickets(&tickets, 100)?;
    let m = measure(
        &exe,
        &["--lake", &lake_arg, "ingest", &tickets.to_string_lossy()],
        &work,
    )?;
    report("a 100-row file into the full lake", 100, &m)?;
    steps.push(("small".into(), 100, m));
    if args.kev_entries > 0 {
        let catalog = work.join("known_exploited_vulnerabilities.json");
        let bytes = msp.write_kev_catalog(&catalog, args.kev_entries)?;
        let m = measure(
            &exe,
            &["--lake", &lake_arg, "ingest", &catalog.to_string_lossy()],
            &work,
        )?;
        report(
            &format!("a KEV catalog of {:.0} MB", bytes as f64 / 1e6),
            args.kev_entries,
            &m,
        )?;
        steps.push(("kev".into(), args.kev_entries, m));
    }

    summarise(&steps)?;
    if args.keep || args.work.is_some() {
        outln!("\nkept: {}", work.display());
    }
    Ok(0)
}

/// The ratios the targets are stated in: against the reference, day over day, memory growth.
fn summarise(steps: &[(String, u64, Measured)]) -> Result<()> {
    let step = |name: &str| steps.iter().find(|(n, _, _)| n == name).map(|(_, _, m)| m);
    let ingests: Vec<&Measured> = steps
        .iter()
        .filter(|(n, _, _)| n.starts_with("ingest-"))
        .map(|(_, _, m)| m)
        .collect();
    let ingest_wall: f64 = ingests.iter().map(|m| m.wall.as_secs_f64()).sum();
    let ingest_peak = ingests.iter().filter_map(|m| m.peak_rss_mb()).fold(0.0, f64::max);
    outln!();
    let mb = |m: &Measured| {
        m.peak_rss_mb()
            .map_or_else(|| "n/a".into(), |mb| format!("{mb:.0} MB"))
    };
    if let Some(convert) = step("reference-convert") {
        outln!(
            "ingest: {ingest_wall:.2} s = {:.2}x DuckDB converting the same files to Parquet ({:.2} s); \
             peak memory {ingest_peak:.0} MB against {}",
            ingest_wall / convert.wall.as_secs_f64().max(1e-9),
            convert.wall.as_secs_f64(),
            mb(convert)
        );
    }
    if let (Some(reference), Some(kpi)) = (step("reference-kpi"), step("kpi")) {
        outln!(
            "kpi: {:.2} s = {:.2}x the same SQL over DuckDB's Parquet ({:.2} s); peak memory {} against {}",
            kpi.wall.as_secs_f64(),
            kpi.wall.as_secs_f64() / reference.wall.as_secs_f64().max(1e-9),
            reference.wall.as_secs_f64(),
            mb(kpi),
            mb(reference)
        );
    }
    if let (Some(first), Some(last)) = (ingests.first(), ingests.last())
        && ingests.len() > 1
    {
        outln!(
            "last day / first day: {:.2}x wall, {:.2}x peak memory (flat is 1x)",
            last.wall.as_secs_f64() / first.wall.as_secs_f64().max(1e-9),
            last.peak_rss_mb().unwrap_or(0.0) / first.peak_rss_mb().unwrap_or(1.0).max(1e-9)
        );
    }
    Ok(())
}

/// Data rows (lines after each header) of the CSV files in a folder.
fn count_data_rows(dir: &Path) -> Result<u64> {
    use std::io::BufRead;
    let mut rows = 0;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let reader = std::io::BufReader::new(std::fs::File::open(&path)?);
        rows += reader.split(b'\n').count().saturating_sub(1) as u64;
    }
    Ok(rows)
}

/// The ingest reference: what an analyst's one-process DuckDB pipeline does with the same files.
/// DuckDB reads every table's CSV files of every day (with the canonical types, absent canonical
/// columns as typed nulls) and writes them to Parquet as a lake govpack can read, one file per
/// table. No validation, no quarantine, no lineage, no replace-by-key: the floor govpack's ingest
/// is measured against.
fn duckdb_convert(data: &Path) -> Result<()> {
    use crate::canonical::{
        ColumnType, DEVICE_PATCH_SUMMARY, DEVICES, PATCH_ATTEMPTS, PATCH_STATUS, Partitioning, TENANTS,
    };
    let root = data.join("duckdb-reference");
    // Each run converts from scratch, as the ingest it is compared with starts from an empty lake.
    if root.exists() {
        std::fs::remove_dir_all(&root).with_context(|| format!("cannot remove {}", root.display()))?;
    }
    let conn = duckdb::Connection::open_in_memory()?;
    conn.execute_batch("set autoinstall_known_extensions = false; set autoload_known_extensions = false;")?;
    let quoted = |p: &Path| format!("'{}'", p.to_string_lossy().replace('\'', "''"));
    for table in [
        &TENANTS,
        &DEVICES,
        &DEVICE_PATCH_SUMMARY,
        &PATCH_STATUS,
        &PATCH_ATTEMPTS,
    ] {
        let first_day = data.join(format!("day-{}", first_day(data)?));
        let header_file = std::fs::read_dir(&first_day)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| csv_of(&n.to_string_lossy(), table.name))
            })
            .with_context(|| format!("no {} file in {}", table.name, first_day.display()))?;
        let header = std::io::BufRead::lines(std::io::BufReader::new(std::fs::File::open(&header_file)?))
            .next()
            .transpose()?
            .unwrap_or_default();
        let present: Vec<&str> = header.split(',').collect();
        // Read instants with their offset (`...Z`) as instants; the rest as the views type them.
        let duckdb_type = |ty: ColumnType| match ty {
            ColumnType::Timestamp => "timestamptz",
            other => crate::sql::duckdb_type(other),
        };
        let types: Vec<String> = table
            .columns
            .iter()
            .filter(|c| present.contains(&c.name))
            .map(|c| format!("'{}': '{}'", c.name, duckdb_type(c.ty)))
            .collect();
        let columns: Vec<String> = table
            .columns
            .iter()
            .map(|c| match present.contains(&c.name) {
                true => c.name.to_string(),
                false => format!("cast(null as {}) as {}", duckdb_type(c.ty), c.name),
            })
            .collect();
        let glob = data.join("day-*").join(format!("{}_*.csv", table.name));
        let glob = if table.name == TENANTS.name {
            data.join("day-*").join("tenants.csv")
        } else {
            glob
        };
        let dir = match table.partitioning {
            Partitioning::Day { folder, .. } => root.join(table.name).join(format!("{folder}=all")),
            _ => root.join(table.name),
        };
        std::fs::create_dir_all(&dir)?;
        conn.execute_batch(&format!(
            "copy (select {} from read_csv({}, header = true, types = {{{}}})) to {} \
             (format parquet, compression snappy)",
            columns.join(", "),
            quoted(&glob),
            types.join(", "),
            quoted(&dir.join(format!("{}.parquet", table.name)))
        ))
        .with_context(|| format!("DuckDB reference for {}", table.name))?;
    }
    Ok(())
}

/// The KPI reference: every KPI of the period over the conversion's Parquet, with govpack's own
/// SQL: what the KPIs cost over a lake with no lineage columns and one file per table.
fn duckdb_kpi(data: &Path) -> Result<()> {
    let lake = crate::lake::Lake::open(&data.join("duckdb-reference"))?;
    let (from, to) = {
        let conn = crate::sql::open(&lake)?;
        conn.query_row(
            "select cast(min(snapshot_date) as varchar), cast(max(snapshot_date) as varchar) from devices",
            [],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
        )?
    };
    let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").context("a snapshot date");
    let period = crate::calendar::Period {
        start: day(&from)?,
        end: day(&to)?,
    };
    crate::kpi::compute(&crate::config::Config::default(), &lake, period)?;
    Ok(())
}

/// The first day folder of the generated data (`day-YYYY-MM-DD`, in name order).
fn first_day(data: &Path) -> Result<String> {
    let mut days: Vec<String> = std::fs::read_dir(data)?
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_prefix("day-")
                .map(str::to_string)
        })
        .collect();
    days.sort();
    days.into_iter()
        .next()
        .context("no day folder in the generated data")
}

/// Whether a generated file holds a table: `devices_2026-10-01.csv` is devices, not
/// device_patch_summary; `tenants.csv` is tenants.
fn csv_of(name: &str, table: &str) -> bool {
    name == format!("{table}.csv")
        || name
            .strip_prefix(table)
            .is_some_and(|rest| rest.starts_with("_2"))
}

/// Keeps the faster of two measurements of a step.
fn keep_best(best: &mut Option<Measured>, m: Measured) {
    if best.as_ref().is_none_or(|b| m.wall < b.wall) {
        *best = Some(m);
    }
}

/// A child process's wall time and peak resident memory.
struct Measured {
    wall: Duration,
    /// The child's high-water mark in KiB (Linux reports `ru_maxrss` in KiB).
    peak_rss_kib: Option<u64>,
}

impl Measured {
    fn peak_rss_mb(&self) -> Option<f64> {
        self.peak_rss_kib.map(|k| k as f64 * 1024.0 / 1e6)
    }
}

/// Runs this binary with `args` in `dir`, its output into a log beside the data; fails with the
/// log's tail when the step fails.
fn measure(exe: &Path, args: &[&str], dir: &Path) -> Result<Measured> {
    let log_path = dir.join("bench-steps.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)?;
    let started = Instant::now();
    let child = Command::new(exe)
        .args(args)
        .current_dir(dir)
        .env_remove("GOVPACK_LOG")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("cannot start govpack")?;
    let (code, peak_rss_kib) = wait_with_peak_memory(child)?;
    let wall = started.elapsed();
    if code != Some(0) {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        bail!(
            "govpack {} failed ({code:?}):\n{}",
            args.join(" "),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    Ok(Measured { wall, peak_rss_kib })
}

/// Waits for a child and returns its exit code and peak resident memory: `wait4` reports the
/// child's own high-water mark, which no reading from outside can catch between two samples.
#[cfg(unix)]
fn wait_with_peak_memory(child: std::process::Child) -> Result<(Option<i32>, Option<u64>)> {
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain data that wait4 fills; the pid is our own child, not yet reaped
    // (the `Child` handle is dropped without waiting, which neither kills nor reaps it).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    drop(child);
    if reaped != pid {
        bail!("waiting for govpack: {}", std::io::Error::last_os_error());
    }
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Ok((code, Some(usage.ru_maxrss as u64)))
}

#[cfg(not(unix))]
fn wait_with_peak_memory(mut child: std::process::Child) -> Result<(Option<i32>, Option<u64>)> {
    Ok((child.wait()?.code(), None))
}
