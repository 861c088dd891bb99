//! The KPI engine: runs the SQL files of `queries/` over the lake's DuckDB views for one period
//! and writes their outputs into the lake under `kpi/<output>/period=<label>/<output>.parquet`.
//!
//! The SQL is read at run time, so that what govpack computes can be read and reviewed where it
//! is installed. Run parameters reach the SQL through the `params`, `required_classifications` and
//! `grace_days` tables, filled with bound values: nothing from the command line or the config is
//! pasted into SQL text. Re-running a period replaces that period's files and nothing else.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::{Datelike, Duration, NaiveDate};
use duckdb::{Connection, params};

use crate::config::{Config, GraceDays};
use crate::error::UsageError;
use crate::lake::Lake;
use crate::sql::{self, string_literal};

/// The SQL files, in the order they run (later files read the tables earlier ones create).
pub const QUERY_FILES: [&str; 9] = [
    "compliance.sql",
    "vulnerability.sql",
    "time_to_patch.sql",
    "remediation.sql",
    "change.sql",
    "release_safety.sql",
    "workflow_controls.sql",
    "failure_patterns.sql",
    "kpi_summary.sql",
];

/// Run after the period's kpi_summary is in the lake, over the whole KPI history.
pub const SCORECARD_FILE: &str = "scorecard.sql";

/// The tables the queries leave behind that are written to the lake, one folder each.
pub const OUTPUTS: [&str; 18] = [
    "kpi_summary",
    "kpi_parameters",
    "compliance_devices",
    "overdue_patches",
    "kev_exposure",
    "chronic_devices",
    "failure_episodes",
    "change_controls",
    "change_data_quality",
    "pilot_soak",
    "deployment_tickets",
    "retry_root_causes",
    "driver_approvals",
    "pending_reviews",
    "daytime_reboots",
    "emergency_reviews",
    "failure_patterns",
    "failure_classes",
];

/// Which way a KPI should move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
    /// A count with no better direction: excluded devices are exceptions approved on purpose,
    /// so fewer is not better. Its status is `info`, and it takes no target.
    Neither,
}

/// Every KPI of kpi-definitions.md, with the direction that counts as improvement.
pub const KPIS: [(&str, Better); 29] = [
    ("patch_compliance_rate", Better::Higher),
    ("patch_instance_compliance_rate", Better::Higher),
    ("excluded_devices", Better::Neither),
    ("stale_devices", Better::Lower),
    ("chronic_noncompliant_devices", Better::Lower),
    ("failed_patch_recurrence_rate", Better::Lower),
    ("mttr_hours_mean", Better::Lower),
    ("mttr_hours_median", Better::Lower),
    ("mttr_hours_p90", Better::Lower),
    ("open_failure_episodes", Better::Lower),
    ("open_episode_age_hours_mean", Better::Lower),
    ("first_pass_success_rate", Better::Higher),
    ("remediation_ticket_mttr_hours_mean", Better::Lower),
    ("remediation_sla_breach_rate", Better::Lower),
    ("change_success_rate", Better::Higher),
    ("emergency_change_ratio", Better::Lower),
    ("rollback_effectiveness_rate", Better::Higher),
    ("cab_compliance_rate", Better::Higher),
    ("change_intake_completeness_rate", Better::Higher),
    ("change_window_compliance_rate", Better::Higher),
    ("post_change_verification_rate", Better::Higher),
    ("pilot_soak_compliance_rate", Better::Higher),
    ("kev_exposed_devices", Better::Lower),
    ("kev_overdue_devices", Better::Lower),
    ("exploited_exposed_devices", Better::Lower),
    ("kev_open_instances", Better::Lower),
    ("patch_latency_days_median", Better::Lower),
    ("patch_latency_days_p90", Better::Lower),
    ("installed_within_grace_rate", Better::Higher),
];

pub fn direction(kpi_id: &str) -> Option<Better> {
    KPIS.iter().find(|(id, _)| *id == kpi_id).map(|(_, b)| *b)
}

pub fn kpi_ids() -> Vec<&'static str> {
    KPIS.iter().map(|(id, _)| *id).collect()
}

/// Whole UTC days, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl Period {
    pub fn month(year: i32, month: u32) -> Option<Period> {
        let start = NaiveDate::from_ymd_opt(year, month, 1)?;
        let next = if month == 12 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)?
        } else {
            NaiveDate::from_ymd_opt(year, month + 1, 1)?
        };
        Some(Period {
            start,
            end: next - Duration::days(1),
        })
    }

    /// `YYYY-MM`.
    pub fn parse_month(text: &str) -> Result<Period, UsageError> {
        let bad = || UsageError(format!("--period: `{text}` is not a month (expected YYYY-MM)"));
        let (y, m) = text.split_once('-').ok_or_else(bad)?;
        let digits = |t: &str, n: usize| t.len() == n && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(y, 4) || !digits(m, 2) {
            return Err(bad());
        }
        let (y, m) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        Period::month(y, m).ok_or_else(bad)
    }

    /// The calendar month before the month of `day` (the month the monthly job closes).
    pub fn previous_month(day: NaiveDate) -> Period {
        let last_day = day.with_day(1).expect("day 1 exists") - Duration::days(1);
        Period::month(last_day.year(), last_day.month()).expect("a valid month")
    }

    /// The month from its first day to `day` (the daily job's month to date).
    pub fn month_to_date(day: NaiveDate) -> Period {
        Period {
            start: day.with_day(1).expect("day 1 exists"),
            end: day,
        }
    }

    /// The folder label: `YYYY-MM` for a calendar month or a month to date (which the month's
    /// close replaces: every report keys a period by its first day, so a month has one slot),
    /// else `YYYY-MM-DD_YYYY-MM-DD`.
    pub fn label(&self) -> String {
        let month = Period::month(self.start.year(), self.start.month());
        if month.is_some_and(|m| m.start == self.start && self.end <= m.end) {
            self.start.format("%Y-%m").to_string()
        } else {
            format!(
                "{}_{}",
                self.start.format("%Y-%m-%d"),
                self.end.format("%Y-%m-%d")
            )
        }
    }
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

/// Computes every KPI output for a period and writes it to the lake.
pub fn compute(config: &Config, lake: &Lake, period: Period) -> Result<KpiRun> {
    let conn = sql::open_for_publishing(lake)?;
    // as_of = min(period_end, latest devices snapshot); with no snapshot at all, period_end.
    let as_of = latest_snapshot(&conn)?.map_or(period.end, |latest| latest.min(period.end));
    bind_parameters(&conn, config, period, as_of)?;
    for file in QUERY_FILES {
        run_query_file(&conn, file)?;
    }
    let mut outputs = Vec::new();
    for output in OUTPUTS {
        outputs.push(write_output(&conn, lake, period, output)?);
    }
    // The scorecard compares this period with the history, which now includes it.
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
    run_query_file(&conn, SCORECARD_FILE)?;
    outputs.push(write_output(&conn, lake, period, "kpi_scorecard")?);
    Ok(KpiRun {
        period,
        as_of,
        outputs,
    })
}

/// Runs one file of `queries/` (the copy `shipped::QUERIES` finds).
fn run_query_file(conn: &Connection, file: &str) -> Result<()> {
    let query = crate::shipped::QUERIES
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
    OUTPUTS
        .into_iter()
        .filter(|output| !output_file(lake, period, output).is_file())
        .collect()
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
         create temp table grace_days (policy_tier varchar, severity varchar, days integer);",
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
    for (id, better) in KPIS {
        conn.execute(
            "insert into kpi_catalogue values (?, ?, ?)",
            params![
                id,
                match better {
                    Better::Higher => Some(true),
                    Better::Lower => Some(false),
                    Better::Neither => None,
                },
                kpi.targets.get(id).copied()
            ],
        )?;
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
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_month_to_date_shares_its_months_slot_and_other_custom_periods_do_not() {
        let mtd = Period::month_to_date(day("2026-11-21"));
        assert_eq!((mtd.start, mtd.end), (day("2026-11-01"), day("2026-11-21")));
        assert_eq!(mtd.label(), "2026-11");
        assert_eq!(Period::parse_month("2026-11").unwrap().label(), "2026-11");
        let mid = Period {
            start: day("2026-11-05"),
            end: day("2026-11-21"),
        };
        assert_eq!(mid.label(), "2026-11-05_2026-11-21");
        let across = Period {
            start: day("2026-10-01"),
            end: day("2026-11-15"),
        };
        assert_eq!(across.label(), "2026-10-01_2026-11-15");
    }

    #[test]
    fn the_monthly_close_takes_the_month_before_the_run_day() {
        assert_eq!(
            Period::previous_month(day("2026-11-01")),
            Period::parse_month("2026-10").unwrap()
        );
        assert_eq!(
            Period::previous_month(day("2026-11-30")),
            Period::parse_month("2026-10").unwrap()
        );
        assert_eq!(
            Period::previous_month(day("2027-01-01")),
            Period::parse_month("2026-12").unwrap()
        );
        assert_eq!(Period::previous_month(day("2028-03-01")).end, day("2028-02-29"));
    }
}
