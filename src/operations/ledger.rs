//! What the scheduled jobs record in the lake, beside the data: every run (`runs`), every breach
//! evaluated and what became of its alert (`alerts`), and every remediation ticket prepared or
//! created (`remediation_tickets`). They are lake tables like the others, so `govpack query`,
//! DuckDB and Power BI read them, and an auditor can see that the monitoring itself ran. They are
//! logs: each run appends a file, and a record that changes (a run ending, an alert delivered, a
//! ticket created) is appended again and wins over the earlier one by key.

use anyhow::Result;
use chrono::{DateTime, NaiveDate, Utc};
use duckdb::OptionalExt;

use crate::canonical::system::RUNS;
use crate::canonical::{Batch, Value};
use crate::lake::Lake;

/// The run ledger's lookups (`queries/ops/runs.sql`).
pub const RUN_QUERIES: &str = "ops/runs.sql";

/// A run's counts and outcome, for its ledger row.
#[derive(Debug, Clone, Default)]
pub struct RunRecord {
    pub run_id: String,
    pub job: String,
    pub as_of: NaiveDate,
    pub started_utc: DateTime<Utc>,
    pub ended_utc: Option<DateTime<Utc>>,
    pub status: String,
    pub files_ingested: u64,
    pub files_skipped: u64,
    pub files_failed: u64,
    pub rows_quarantined: u64,
    pub periods_computed: Vec<String>,
    pub outputs: Vec<String>,
    pub alerts_new: u64,
    pub alerts_undelivered: u64,
    pub tickets_prepared: u64,
    pub tickets_created: u64,
    pub tickets_failed: u64,
    pub packs_failed: u64,
    /// Datasets of `collect.sources` that could not be collected.
    pub collections_failed: u64,
    pub error: Option<String>,
    /// Why the run was made, when it changes no data (`govpack kpi --forget`).
    pub note: Option<String>,
    pub host: String,
    pub pid: u32,
}

pub fn record_run(lake: &Lake, run: &RunRecord) -> Result<()> {
    let mut batch = Batch::without_lineage(&RUNS);
    let text = |s: &str| Value::Text(s.to_string());
    let count = |n: u64| Value::Int(n as i64);
    let list = |items: &[String]| {
        if items.is_empty() {
            Value::Null
        } else {
            Value::Text(items.join("\n"))
        }
    };
    batch.push_row(
        vec![
            text(&run.run_id),
            text(&run.job),
            Value::Date(run.as_of),
            Value::Timestamp(run.started_utc),
            run.ended_utc.map_or(Value::Null, Value::Timestamp),
            text(&run.status),
            count(run.files_ingested),
            count(run.files_skipped),
            count(run.files_failed),
            count(run.rows_quarantined),
            list(&run.periods_computed),
            count(run.outputs.len() as u64),
            list(&run.outputs),
            count(run.alerts_new),
            count(run.alerts_undelivered),
            count(run.tickets_prepared),
            count(run.tickets_created),
            count(run.tickets_failed),
            count(run.packs_failed),
            run.error.as_deref().map_or(Value::Null, text),
            text(&run.host),
            count(u64::from(run.pid)),
            text(env!("CARGO_PKG_VERSION")),
            run.note.as_deref().map_or(Value::Null, text),
            count(run.collections_failed),
        ],
        0,
    );
    lake.merge(&batch).map(|_| ())
}

/// Marks a run whose process died (its lock was taken over) as abandoned, if the ledger has it.
pub fn mark_abandoned(lake: &Lake, run_id: &str, noticed_by: &str) -> Result<()> {
    let conn = crate::sql::open(lake)?;
    crate::sql::bind(&conn, &[("run_id", crate::sql::text(run_id))])?;
    let queries = crate::sql::NamedQueries::read(RUN_QUERIES)?;
    let found: Option<(String, String, String, String)> = conn
        .query_row(queries.bound(&conn, "running")?, [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    let Some((job, as_of, started, host)) = found else {
        return Ok(());
    };
    let record = RunRecord {
        run_id: run_id.to_string(),
        job,
        as_of: NaiveDate::parse_from_str(&as_of, "%Y-%m-%d")?,
        started_utc: DateTime::parse_from_rfc3339(&started)?.with_timezone(&Utc),
        ended_utc: None,
        status: "abandoned".into(),
        error: Some(format!(
            "the process ended without finishing the run; its lock was taken over by run {noticed_by}"
        )),
        host,
        ..RunRecord::default()
    };
    record_run(lake, &record)
}
