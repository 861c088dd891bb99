//! The KPI engine: runs the SQL files of `queries/` over the lake's DuckDB views for one period
//! and writes their outputs into the lake under `kpi/<output>/period=<label>/<output>.parquet`.
//!
//! The SQL is read at run time, so that what govpack computes can be read and reviewed where it
//! is installed. Run parameters reach the SQL through the `params`, `required_classifications` and
//! `grace_days` tables, filled with bound values: nothing from the command line or the config is
//! pasted into SQL text. Re-running a period replaces that period's files and nothing else.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use anyhow::{Context, Result, bail};
use chrono::{Datelike, Duration, NaiveDate};
use duckdb::{Connection, params};
use serde::Deserialize;

use crate::calendar::Period;
use crate::catalog::{Better, CONTROL_TESTS, KPIS};
use crate::config::{Config, GraceDays};
use crate::error::UsageError;
use crate::lake::Lake;
use crate::sql::{self, string_literal};

/// One step of the KPI run: a file of `queries/` and what it reads, leaves and writes
/// (`queries/manifest.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub file: String,
    /// Runs once the earlier steps' outputs are written, over every period's (`kpi_history`).
    #[serde(default)]
    pub history: bool,
    pub reads: Vec<String>,
    pub leaves: Vec<String>,
    pub outputs: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    step: Vec<Step>,
}

/// The steps, in the order they run. Read from the copy built into govpack, never from an
/// installed folder: which tables a run leaves and writes is what the reports and the lake's
/// earlier periods rely on, while what each query computes may be changed where installed.
pub fn steps() -> &'static [Step] {
    static STEPS: LazyLock<Vec<Step>> = LazyLock::new(|| {
        let text = crate::installed::QUERIES.built_in_text("manifest.toml");
        let manifest: Manifest =
            toml::from_str(text).expect("queries/manifest.toml is valid (a test reads it)");
        manifest.step
    });
    &STEPS
}

/// The tables a period's run writes to the lake, in the order it writes them.
pub fn outputs() -> impl Iterator<Item = &'static str> {
    steps().iter().flat_map(|s| s.outputs.iter().map(String::as_str))
}

/// What one KPI run computed.
#[derive(Debug, Clone)]
pub struct KpiRun {
    pub period: Period,
    pub as_of: NaiveDate,
    /// Output name, rows written, file.
    pub outputs: Vec<(String, i64, PathBuf)>,
}

/// The month of the latest devices snapshot in the lake: the default period.
pub fn default_period(conn: &Connection) -> Result<Period> {
    match latest_snapshot(conn)? {
        Some(d) => Ok(Period::month(d.year(), d.month()).expect("valid month")),
        None => bail!(UsageError(
            "the lake has no devices snapshot yet: ingest one, or name the period with --period".into()
        )),
    }
}

fn latest_snapshot(conn: &Connection) -> Result<Option<NaiveDate>> {
    let text: Option<String> = conn.query_row(
        "select cast(max(snapshot_date) as varchar) from devices",
        [],
        |r| r.get(0),
    )?;
    Ok(text.and_then(|t| NaiveDate::parse_from_str(&t, "%Y-%m-%d").ok()))
}

/// Whether the lake holds a devices snapshot dated in the period.
pub fn has_snapshot_in(conn: &Connection, period: Period) -> Result<bool> {
    let found: bool = conn.query_row(
        "select exists (select 1 from devices where snapshot_date between cast(? as date) and cast(? as date))",
        params![period.start.to_string(), period.end.to_string()],
        |r| r.get(0),
    )?;
    Ok(found)
}

/// Computes every KPI output for a period and writes it to the lake. A period with no devices
/// snapshot is refused (a usage error) before anything is written: nothing in it was measured,
/// and its figures would read as measured zeros and become later periods' baselines.
pub fn compute(config: &Config, lake: &Lake, period: Period) -> Result<KpiRun> {
    let conn = sql::open_for_publishing(lake)?;
    if !has_snapshot_in(&conn, period)? {
        bail!(UsageError(format!(
            "no devices snapshot between {} and {}: a period without an RMM devices export has nothing \
             to measure; ingest its exports first (govpack ingest), or choose a period the lake covers",
            period.start, period.end
        )));
    }
    // as_of = min(period_end, latest devices snapshot); with no snapshot at all, period_end.
    let as_of = latest_snapshot(&conn)?.map_or(period.end, |latest| latest.min(period.end));
    bind_parameters(&conn, config, period, as_of)?;
    let steps = steps();
    let mut unwritten: Vec<&str> = Vec::new();
    let mut outputs = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        if step.history {
            for output in unwritten.drain(..) {
                outputs.push(write_output(&conn, lake, period, output)?);
            }
            // The history now includes this period.
            conn.execute_batch(&format!(
                "create or replace temp view kpi_history as select * from read_parquet({})",
                string_literal(
                    &lake
                        .root()
                        .join("kpi")
                        .join("kpi_summary")
                        .join("*")
                        .join("*.parquet")
                        .to_string_lossy()
                )
            ))?;
        }
        let started = std::time::Instant::now();
        run_query_file(&conn, &step.file)?;
        // Where a period's time goes (`-vv`): a step that grows shows here first.
        tracing::debug!(file = %step.file, seconds = started.elapsed().as_secs_f64(), "KPI step");
        unwritten.extend(step.outputs.iter().map(String::as_str));
        drop_finished_tables(&conn, &steps[..=i], &steps[i + 1..])?;
    }
    for output in unwritten {
        outputs.push(write_output(&conn, lake, period, output)?);
    }
    Ok(KpiRun {
        period,
        as_of,
        outputs,
    })
}

/// What `forget` removed.
#[derive(Debug, Clone)]
pub struct Forgotten {
    pub files: Vec<PathBuf>,
    /// Later periods whose stored scorecard took its baseline from the forgotten period: their
    /// status holds until they are computed again.
    pub baseline_of: Vec<String>,
}

/// Removes a computed period's KPI outputs (every output folder's `period=<label>`), so that it
/// is neither reported nor a baseline any more. `kpi_summary` goes first: from then on the
/// period is not listed as computed, and an interrupted run is finished by running it again.
/// Reports already written (packs, bundles) are not touched: what was issued stays issued.
pub fn forget(lake: &Lake, period: Period) -> Result<Forgotten> {
    let label = period.label();
    // A month and its month to date share a slot (`Period::label`): the slot is what is forgotten.
    if !output_file(lake, period, "kpi_summary").is_file() {
        bail!(UsageError(format!(
            "no KPIs computed for period {label} in {}: nothing to forget",
            lake.root().display()
        )));
    }
    let conn = sql::open(lake)?;
    let baseline_of: Vec<String> = {
        let mut statement = conn.prepare(
            "select distinct strftime(period_start, '%Y-%m-%d') || '..' || strftime(period_end, '%Y-%m-%d') as p
             from kpi_scorecard
             where baseline_period_start = cast(? as date) and period_start > cast(? as date)
             order by p",
        )?;
        let rows = statement.query_map(params![period.start.to_string(), period.start.to_string()], |r| {
            r.get::<_, String>(0)
        })?;
        rows.collect::<Result<_, _>>()?
    };
    drop(conn);
    let mut outputs = sql::kpi_outputs(lake)?;
    outputs.sort_by_key(|o| o != "kpi_summary");
    let mut files = Vec::new();
    for output in outputs {
        let dir = lake
            .root()
            .join("kpi")
            .join(&output)
            .join(format!("period={label}"));
        if !dir.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))? {
            let path = entry?.path();
            std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
            files.push(path);
        }
        std::fs::remove_dir(&dir).with_context(|| format!("cannot remove {}", dir.display()))?;
        crate::files::sync_dir(dir.parent().expect("a period folder has a parent"))?;
    }
    Ok(Forgotten { files, baseline_of })
}

/// Runs one file of `queries/` (the copy `installed::QUERIES` finds).
fn run_query_file(conn: &Connection, file: &str) -> Result<()> {
    let query = crate::installed::QUERIES
        .read(file)
        .context("cannot read a KPI query file")?;
    conn.execute_batch(query.text()?)
        .with_context(|| format!("{}: DuckDB refused it", query.origin))
}

/// Where a period's output table lives: `kpi/<output>/period=<label>/<output>.parquet`.
pub fn output_file(lake: &Lake, period: Period, output: &str) -> PathBuf {
    lake.root()
        .join("kpi")
        .join(output)
        .join(format!("period={}", period.label()))
        .join(format!("{output}.parquet"))
}

/// The outputs this version writes that a period computed by an earlier version lacks.
pub fn missing_outputs(lake: &Lake, period: Period) -> Vec<&'static str> {
    outputs()
        .filter(|output| !output_file(lake, period, output).is_file())
        .collect()
}

/// Drops the working tables no later step reads: a month's instances need not stay in memory
/// while the change and failure queries run. Outputs stay until they are written.
fn drop_finished_tables(conn: &Connection, done: &[Step], later: &[Step]) -> Result<()> {
    let tables = temp_tables(conn)?;
    for step in done {
        for name in &step.leaves {
            let needed = step.outputs.contains(name) || later.iter().any(|s| s.reads.contains(name));
            if !needed && tables.contains(name) {
                conn.execute_batch(&format!("drop table {}", sql::identifier(name)))?;
            }
        }
    }
    Ok(())
}

/// The temporary tables of a session.
fn temp_tables(conn: &Connection) -> Result<std::collections::BTreeSet<String>> {
    let mut statement = conn.prepare("select table_name from duckdb_tables() where temporary")?;
    let names = statement.query_map([], |r| r.get::<_, String>(0))?;
    Ok(names.collect::<Result<_, _>>()?)
}

/// Writes one output table of the period to `output_file`.
fn write_output(
    conn: &Connection,
    lake: &Lake,
    period: Period,
    output: &str,
) -> Result<(String, i64, PathBuf)> {
    let file = output_file(lake, period, output);
    let dir = file.parent().expect("an output file is in its period's folder");
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // Every output carries its period, so one view can hold them all.
    let select = if matches!(output, "kpi_summary" | "kpi_scorecard" | "kpi_parameters") {
        format!("select * from {output}")
    } else {
        // Scalar subqueries, not a join: a projection keeps the table's order on every core.
        format!(
            "select (select period_start from params) as period_start, (select period_end from params) as period_end, \
             (select as_of from params) as as_of, t.* from {output} as t"
        )
    };
    // Rows in the order the query made them (every output's query ends in a total order, and
    // DuckDB keeps a table's insertion order on every core): the same content, the same file.
    let select = sql::utc_instants(conn, &select)?;
    crate::files::write_atomic_path(&file, |temp| {
        conn.execute_batch(&format!(
            "copy ({select}) to {} (format parquet, compression snappy)",
            string_literal(&temp.to_string_lossy())
        ))
        .with_context(|| format!("cannot write KPI output {output}"))
    })?;
    remove_other_files(dir, &file)?;
    let rows: i64 = conn.query_row(&format!("select count(*) from {output}"), [], |r| r.get(0))?;
    Ok((output.to_string(), rows, file))
}

/// A period folder holds one file: anything else there is from an older layout and would be
/// read alongside the new file.
fn remove_other_files(dir: &Path, keep: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path != keep && path.extension().is_some_and(|e| e == "parquet") {
            std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    Ok(())
}

/// The breach rules in force, as a reader says them: `name (kpi per tenant below 0.9)`.
fn alert_rules(config: &Config) -> String {
    let rules: Vec<String> = config
        .alerts
        .rules
        .iter()
        .map(|r| {
            let condition = match (r.kind.as_str(), &r.kpi, r.below, r.above) {
                ("kpi", Some(kpi), Some(below), _) => {
                    format!(
                        "{kpi} per {} below {below}",
                        r.scope.as_deref().unwrap_or("portfolio")
                    )
                }
                ("kpi", Some(kpi), None, Some(above)) => {
                    format!(
                        "{kpi} per {} above {above}",
                        r.scope.as_deref().unwrap_or("portfolio")
                    )
                }
                (kind, _, _, _) => kind.replace('_', " "),
            };
            format!("{} ({condition})", r.name)
        })
        .collect();
    if rules.is_empty() {
        "none".into()
    } else {
        rules.join("; ")
    }
}

fn bind_parameters(conn: &Connection, config: &Config, period: Period, as_of: NaiveDate) -> Result<()> {
    let kpi = &config.kpi;
    let day = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
    conn.execute_batch(
        "create temp table params (
            period_start date, period_end date, as_of date,
            period_start_instant timestamp, period_end_instant timestamp,
            stale_after_days integer, pending_reboot_compliant boolean,
            pilot_soak_days integer, chronic_snapshots integer, baseline_period_start date,
            stale_tenant_days integer, ticket_open_after_hours integer, ticket_due_hours varchar,
            alert_rules varchar, kev_due_days integer, ticket_within_hours integer, review_days integer,
            daytime_reboot_days integer);
         create temp table required_classifications (classification varchar);
         create temp table kpi_catalogue (kpi_id varchar, higher_is_better boolean, target_change double);
         create temp table figure_inputs (figure varchar, kind varchar, input_group integer, input_table varchar);
         create temp table grace_days (policy_tier varchar, severity varchar, days integer);
         create temp table run_settings (settings varchar);",
    )?;
    // The whole configuration in force, kept with the period: the period's runbook states the
    // procedures as they stood then, not as configured when a report is written later.
    conn.execute(
        "insert into run_settings values (?)",
        params![toml::to_string(config).context("cannot record the configuration in force")?],
    )?;
    conn.execute(
        "insert into params values (cast(? as date), cast(? as date), cast(? as date),
            cast(? as timestamp), cast(? as timestamp), ?, ?, ?, ?, cast(? as date), ?, ?, ?, ?, ?, ?, ?, ?)",
        params![
            day(period.start),
            day(period.end),
            day(as_of),
            day(period.start),
            day(period.end + Duration::days(1)),
            kpi.stale_after_days,
            kpi.pending_reboot_compliant,
            kpi.pilot_soak_days,
            kpi.chronic_snapshots,
            kpi.baseline_period
                .as_deref()
                .and_then(|p| Period::parse_month(p).ok())
                .map(|p| day(p.start)),
            // The operations' time frames in force, recorded with the period's figures: an
            // assessor asks when flaws must be reported, not only when they must be corrected.
            config.run.stale_tenant_days,
            config.tickets.open_after_hours,
            format!(
                "priority 1: {} h, 2: {} h, 3: {} h",
                config.tickets.due_hours[0], config.tickets.due_hours[1], config.tickets.due_hours[2]
            ),
            alert_rules(config),
            kpi.kev_due_days,
            kpi.ticket_within_hours,
            kpi.review_days,
            kpi.daytime_reboot_days,
        ],
    )?;
    for entry in KPIS {
        conn.execute(
            "insert into kpi_catalogue values (?, ?, ?)",
            params![
                entry.id,
                match entry.better {
                    Better::Higher => Some(true),
                    Better::Lower => Some(false),
                    Better::Neither => None,
                },
                kpi.targets.get(entry.id).copied()
            ],
        )?;
    }
    // What each KPI and control test is computed from (queries/coverage.sql).
    let figures = KPIS.iter().map(|k| (k.id, "kpi", k.needs)).chain(
        CONTROL_TESTS
            .iter()
            .map(|(name, needs)| (*name, "control_test", *needs)),
    );
    for (figure, kind, needs) in figures {
        for (group, inputs) in needs.iter().enumerate() {
            for input in *inputs {
                conn.execute(
                    "insert into figure_inputs values (?, ?, ?, ?)",
                    params![figure, kind, group as i64, input.table()],
                )?;
            }
        }
    }
    for c in &kpi.required_classifications {
        conn.execute("insert into required_classifications values (?)", params![c])?;
    }
    let insert_grace = |tier: Option<&str>, grace: GraceDays| -> Result<()> {
        for severity in ["critical", "important", "moderate", "low", "unspecified"] {
            conn.execute(
                "insert into grace_days values (?, ?, ?)",
                params![tier, severity, grace.for_severity(severity)],
            )?;
        }
        Ok(())
    };
    insert_grace(None, kpi.grace_days)?;
    for tier in kpi.tier_grace_days.keys() {
        insert_grace(Some(tier), kpi.grace_days_for_tier(Some(tier)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The session's temporary tables and macros.
    fn temp_objects(conn: &Connection) -> BTreeSet<String> {
        let mut names = temp_tables(conn).unwrap();
        let mut macros = conn
            .prepare("select function_name from duckdb_functions() where database_name = 'temp' and function_type like '%macro'")
            .unwrap();
        names.extend(
            macros
                .query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .map(Result::unwrap),
        );
        names
    }

    #[test]
    fn each_step_needs_only_what_the_manifest_says_it_reads_and_leaves_what_it_says() {
        let dir = tempfile::TempDir::new().unwrap();
        let lake = Lake::open(&dir.path().join("lake")).unwrap();
        let period = Period::month(2026, 10).unwrap();
        let steps = steps();
        for (i, step) in steps.iter().enumerate() {
            let conn = sql::open_for_publishing(&lake).unwrap();
            bind_parameters(&conn, &Config::default(), period, period.end).unwrap();
            let parameters = temp_objects(&conn);
            for earlier in &steps[..i] {
                run_query_file(&conn, &earlier.file).unwrap();
            }
            // Everything an earlier step left that this one does not declare goes away first.
            let left = &temp_objects(&conn) - &parameters;
            for name in left.iter().filter(|n| !step.reads.contains(n)) {
                let kind = if temp_tables(&conn).unwrap().contains(name) {
                    "table"
                } else {
                    "macro"
                };
                conn.execute_batch(&format!("drop {kind} {name}")).unwrap();
            }
            if step.history {
                conn.execute_batch("create temp view kpi_history as select * from kpi_summary")
                    .unwrap();
            }
            let declared: BTreeSet<String> = step.reads.iter().cloned().collect();
            assert!(
                declared.is_subset(&left),
                "{}: reads what no earlier step leaves",
                step.file
            );
            run_query_file(&conn, &step.file).unwrap_or_else(|e| panic!("{}: {e:#}", step.file));
            let leaves = &(&temp_objects(&conn) - &parameters) - &declared;
            let expected: BTreeSet<String> = step.leaves.iter().cloned().collect();
            assert_eq!(leaves, expected, "{}: what it leaves", step.file);
            let outputs: BTreeSet<String> = step.outputs.iter().cloned().collect();
            assert!(
                outputs.is_subset(&expected),
                "{}: an output it does not leave",
                step.file
            );
        }
        let files: BTreeSet<&str> = steps.iter().map(|s| s.file.as_str()).collect();
        assert_eq!(files.len(), steps.len(), "a file runs once");
    }

    #[test]
    fn every_statement_reads_the_lake_through_its_import_ctes() {
        // DuckDB looks an unqualified name up in the temp schema before main: a decoy there takes
        // each lake table's plain name, so a statement that reads `devices` without an import CTE
        // (`devices as not materialized (select * from main.devices)`) binds to the decoy and
        // fails on the first column it asks for.
        let dir = tempfile::TempDir::new().unwrap();
        let lake = Lake::open(&dir.path().join("lake")).unwrap();
        let period = Period::month(2026, 10).unwrap();
        let conn = sql::open_for_publishing(&lake).unwrap();
        bind_parameters(&conn, &Config::default(), period, period.end).unwrap();
        for table in sql::lake_tables() {
            conn.execute_batch(&format!(
                "create temp view {0} as select 1 as not_imported_{0}",
                table.name
            ))
            .unwrap();
        }
        for step in steps() {
            if step.history {
                conn.execute_batch("create or replace temp view kpi_history as select * from kpi_summary")
                    .unwrap();
            }
            run_query_file(&conn, &step.file).unwrap_or_else(|e| panic!("{}: {e:#}", step.file));
        }
    }
}
