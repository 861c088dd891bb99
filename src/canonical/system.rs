//! The lake's own tables beside the canonical ones, defined like them (columns, key,
//! partitioning) so that the lake stores, the SQL session shows and `govpack query`, DuckDB and
//! Power BI read them the same way: what ingest records (the quarantine, the ingest ledger, whose
//! rows each file brought, the adapters' lookups) and what the scheduled jobs record (runs,
//! alerts, remediation tickets).

use chrono::{DateTime, Utc};

use super::{COUNT, ColumnType, Partitioning, Table, col, req};

const TEXT: ColumnType = ColumnType::Text;

/// Rows refused at ingest: which file, which line and cell, and why.
pub static QUARANTINE: Table = Table {
    name: "quarantine",
    columns: &[
        req("source_file", TEXT),
        req("source_sha256", TEXT),
        req("table_name", TEXT),
        req("line", COUNT),
        col("column_name", TEXT),
        col("value", TEXT),
        req("reason", TEXT),
        col("detail", TEXT),
        req("quarantined_utc", ColumnType::Timestamp),
    ],
    key: &["source_sha256", "line", "column_name", "reason"],
    partitioning: Partitioning::Log,
};

/// Every file ingested: its digest (which makes a repeat a no-op), counts and time.
pub static INGEST_LEDGER: Table = Table {
    name: "ingest_ledger",
    columns: &[
        req("source_sha256", TEXT),
        req("source_path", TEXT),
        req("source_file", TEXT),
        req("source_format", TEXT),
        // The day the file was read for (`--snapshot-date` or the date in its name): the same
        // bytes saved for two days are two snapshots.
        col("snapshot_date", ColumnType::Date),
        col("encoding", TEXT),
        col("tables", TEXT),
        req("rows_read", COUNT),
        req("rows_loaded", COUNT),
        req("rows_quarantined", COUNT),
        req("rows_replaced", COUNT),
        // Rows older than the lake's row of their key (an old export ingested late): not applied.
        col("rows_stale", COUNT),
        // What the adapter noticed without refusing a row (ignored columns, unknown vendor
        // words counted as other/no_data), so the data-quality report can show it.
        col("warnings", TEXT),
        req("ingested_utc", ColumnType::Timestamp),
        req("govpack_version", TEXT),
    ],
    key: &["source_sha256", "snapshot_date"],
    partitioning: Partitioning::Log,
};

/// Whose rows each ingested file brought, a row per file and tenant: a tenant's evidence bundle
/// lists its own inputs only, found here rather than by scanning every table of the lake.
pub static INGEST_TENANTS: Table = Table {
    name: "ingest_tenants",
    columns: &[
        req("source_sha256", TEXT),
        col("snapshot_date", ColumnType::Date),
        req("tenant_id", TEXT),
    ],
    key: &["source_sha256", "snapshot_date", "tenant_id"],
    partitioning: Partitioning::Log,
};

/// Facts an adapter keeps between exports of one tool that are not canonical rows: a PSA's
/// picklist labels, change approvals, links between tickets. Only the adapters read it.
/// One row of `source_lookups`: what an earlier export of a tool left for the next (picklist
/// labels, change approvals, links, which sites a tool claimed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lookup {
    pub source: String,
    pub kind: String,
    pub record_id: String,
    pub key: Option<String>,
    pub label: Option<String>,
    pub parent: Option<String>,
    pub flag: Option<bool>,
    pub at_utc: Option<DateTime<Utc>>,
}

pub static SOURCE_LOOKUPS: Table = Table {
    name: "source_lookups",
    columns: &[
        req("source", TEXT),
        req("kind", TEXT),
        req("record_id", TEXT),
        col("key", TEXT),
        col("label", TEXT),
        col("parent", TEXT),
        col("flag", ColumnType::Bool),
        col("at_utc", ColumnType::Timestamp),
    ],
    key: &["source", "kind", "record_id"],
    partitioning: Partitioning::Whole,
};

// What the scheduled jobs record in the lake, beside the data (`operations::ledger` writes them). They
// are logs: each run appends a file, and a record that changes (a run ending, an alert delivered,
// a ticket created) is appended again and wins over the earlier one by key.

/// One row per scheduled run: a record appended when it starts (`running`) and one when it ends;
/// the view shows the latest.
pub static RUNS: Table = Table {
    name: "runs",
    columns: &[
        req("run_id", TEXT),
        req("job", TEXT),
        req("as_of", ColumnType::Date),
        req("started_utc", ColumnType::Timestamp),
        col("ended_utc", ColumnType::Timestamp),
        // running, succeeded, partial (finished, but an inbox entry failed, an alert or a ticket
        // could not be delivered, or a scope's pack could not be written), failed, abandoned
        // (its process died mid-run).
        req("status", TEXT),
        req("files_ingested", COUNT),
        req("files_skipped", COUNT),
        req("files_failed", COUNT),
        req("rows_quarantined", COUNT),
        col("periods_computed", TEXT),
        req("outputs_written", COUNT),
        col("outputs", TEXT),
        req("alerts_new", COUNT),
        req("alerts_undelivered", COUNT),
        req("tickets_prepared", COUNT),
        req("tickets_created", COUNT),
        req("tickets_failed", COUNT),
        // Governance packs (a scope's reports and bundle) the monthly close could not write; empty
        // in runs recorded before the column existed.
        col("packs_failed", COUNT),
        col("error", TEXT),
        req("host", TEXT),
        req("pid", COUNT),
        req("govpack_version", TEXT),
        // Why a run that changes no data was made: a forgotten period's reason
        // (`govpack kpi --forget`). Empty in runs recorded before the column existed.
        col("note", TEXT),
        // Datasets of collect.sources a run could not collect; empty in runs recorded before
        // the column existed.
        col("collections_failed", COUNT),
    ],
    key: &["run_id"],
    partitioning: Partitioning::Log,
};

/// Every breach found by a daily evaluation, and whether its alert went out.
pub static ALERTS: Table = Table {
    name: "alerts",
    columns: &[
        req("evaluated_on", ColumnType::Date),
        req("breach_key", TEXT),
        req("rule", TEXT),
        req("kind", TEXT),
        col("tenant_id", TEXT),
        col("tenant_name", TEXT),
        col("kpi_id", TEXT),
        col("subject", TEXT),
        col("value", ColumnType::Float),
        col("threshold", ColumnType::Float),
        col("comparison", TEXT),
        col("detail", TEXT),
        // New: not breached at the previous evaluation (so it is alerted).
        req("is_new", ColumnType::Bool),
        // posted, dry_run (--dry-run), failed, undelivered (no URL for its channel), not_new (a
        // breach that persists is not re-sent).
        req("delivery", TEXT),
        // The environment variable of the channel, never the URL.
        col("channel", TEXT),
        col("card_file", TEXT),
        col("delivered_utc", ColumnType::Timestamp),
        req("run_id", TEXT),
    ],
    key: &["evaluated_on", "breach_key"],
    partitioning: Partitioning::Log,
};

/// Remediation tickets govpack prepared (for review) or created in Autotask, one per failure
/// episode: what makes a second ticket for the same device and patch impossible.
pub static REMEDIATION_TICKETS: Table = Table {
    name: "remediation_tickets",
    columns: &[
        req("external_id", TEXT),
        req("tenant_id", TEXT),
        req("device_id", TEXT),
        req("patch_id", TEXT),
        req("episode_start_utc", ColumnType::Timestamp),
        req("prepared_on", ColumnType::Date),
        req("priority", COUNT),
        col("due_utc", ColumnType::Timestamp),
        // prepared (in the review file), created (in Autotask), existing (Autotask already had it).
        req("status", TEXT),
        col("autotask_ticket_id", TEXT),
        col("created_utc", ColumnType::Timestamp),
        req("run_id", TEXT),
    ],
    key: &["external_id"],
    partitioning: Partitioning::Log,
};

/// Every dataset a collector pulled, or tried to, from a vendor's API: one row per source,
/// dataset and attempt. `status` says whether it reached the inbox; a failed one says why.
pub static COLLECTIONS: Table = Table {
    name: "collections",
    columns: &[
        // cisa-kev, msrc-cvrf, datto-rmm, ninjaone
        req("source", TEXT),
        // What was pulled: catalog, 2026-Oct (a CVRF month), sites, devices, alerts-open, ...
        req("dataset", TEXT),
        req("snapshot_date", ColumnType::Date),
        req("started_utc", ColumnType::Timestamp),
        req("ended_utc", ColumnType::Timestamp),
        // collected (every page reached the inbox), failed (nothing of it did), absent (the API
        // has no such document yet: a CVRF month not yet published).
        req("status", TEXT),
        req("pages", COUNT),
        req("records", COUNT),
        req("bytes", COUNT),
        req("requests", COUNT),
        // The inbox entry it was written as.
        col("inbox_entry", TEXT),
        col("error", TEXT),
        // The run that collected it; empty for `govpack collect`.
        col("run_id", TEXT),
    ],
    key: &["source", "dataset", "started_utc"],
    partitioning: Partitioning::Log,
};

/// The system tables people query, in the order the SQL session lists them after the canonical
/// ones (`source_lookups` is the adapters' alone).
pub const QUERIED: [&Table; 7] = [
    &QUARANTINE,
    &INGEST_LEDGER,
    &INGEST_TENANTS,
    &RUNS,
    &ALERTS,
    &REMEDIATION_TICKETS,
    &COLLECTIONS,
];
