//! The canonical model (docs/canonical-model.md): the ten tables every adapter produces
//! and the KPI layer reads. This file is the one place that knows their columns, types,
//! vocabularies, natural keys and how the lake partitions them; everything else asks it.

mod batch;
mod parse;
pub mod system;

pub use batch::{Batch, BatchSize, lake_dtype, lake_schema};
pub use parse::{
    IDENTIFIER_BYTES, RowChecks, TEXT_BYTES, YEARS, clipped, clipped_to, parse_bool, parse_cell, parse_date,
    parse_timestamp,
};

use chrono::{DateTime, NaiveDate, Utc};

/// The type of a canonical column, with what it accepts when parsed from text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    Date,
    /// An instant, stored as UTC microseconds.
    Timestamp,
    Bool,
    Int {
        min: i64,
        max: i64,
    },
    /// A measurement (a KPI value, a threshold): 64-bit floating point, finite.
    Float,
    /// One of a fixed list of lower-case words.
    Enum(&'static [&'static str]),
}

#[derive(Debug)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColumnType,
    /// A row without a value here is rejected.
    pub required: bool,
    /// Stored when the cell is empty (the spec's "default ...").
    pub default: Option<&'static str>,
}

impl Column {
    /// Whether the column names something (every text key column of the model is an `*_id` or
    /// `source_system`): such a cell is never cut, since a cut id could be another's.
    pub fn is_identifier(&self) -> bool {
        self.name.ends_with("_id") || self.name == "source_system"
    }
}

/// How a table's rows are spread over files in its lake folder. Rows with the same natural key
/// always land in the same file, so replacing a key touches one file and leaves the rest alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Partitioning {
    /// One file for the whole table (tenants, tickets, changes: thousands of rows, not millions).
    Whole,
    /// One Hive-style folder per calendar day of a date or timestamp column that is part of the
    /// natural key (`patch_status/snapshot_date=2026-10-26/`), as DuckDB, Spark, Fabric and Power
    /// BI read them. A daily export writes its own day's folder, so an ingest costs what it brings,
    /// not what the lake already holds.
    Day {
        column: &'static str,
        /// The folder's `name=` part: the column itself for dates, a `_date` name for timestamps.
        folder: &'static str,
    },
    /// Append-only: every write adds a file of its own (the quarantine, the ingest ledger), and
    /// the lake compacts the folder when it holds many. Its rows are never replaced.
    Log,
}

/// The earliest day a partition may have: nothing an RMM or PSA exports predates 2000, and a date
/// before it is a parsing accident (the Windows zero date 1601-01-01, an epoch 0) that would
/// otherwise become a partition of its own.
pub fn earliest_partition_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).expect("valid date")
}

/// The latest day a partition may have: one year after the day the export describes (or is
/// ingested). A later date is a typo (2062 for 2026) and is quarantined, never a folder.
pub fn latest_partition_day(reference: NaiveDate) -> NaiveDate {
    reference + chrono::Days::new(365)
}

#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [Column],
    /// The natural key: a newer export of the same key replaces the older row.
    pub key: &'static [&'static str],
    pub partitioning: Partitioning,
}

impl Table {
    /// The column that orders two rows of one key by when the source changed them (tickets and
    /// changes), if the table has one.
    pub fn freshness(&self) -> Option<&'static str> {
        self.column(FRESHNESS).map(|c| c.name)
    }

    /// Whether the export date says which of two rows of one key is newer (after the freshness
    /// column, where there is one): tables with a freshness column, and the vulnerability
    /// reference tables, whose documents carry their own release date (a newer KEV catalog or a
    /// revised CVRF document wins, in whatever order they are ingested).
    pub fn newest_by_export_date(&self) -> bool {
        self.freshness().is_some() || self.name == KEV.name || self.name == PATCH_CVES.name
    }

    /// Reference data of no client (the KEV catalog, which update fixes which CVE): its rows
    /// carry no tenant, and every client's figures may be computed from them.
    pub fn is_reference(&self) -> bool {
        self.column("tenant_id").is_none()
    }

    pub fn column(&self, name: &str) -> Option<&'static Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    pub fn required_columns(&self) -> impl Iterator<Item = &'static Column> {
        self.columns.iter().filter(|c| c.required)
    }

    pub fn column_names(&self) -> Vec<&'static str> {
        self.columns.iter().map(|c| c.name).collect()
    }
}

/// Columns the lake adds to every canonical table so that a figure can be traced back to the
/// export line it came from.
pub const LINEAGE_SOURCE_FILE: &str = "_source_file";
/// The source system of a ticket or change from a canonical file that names none.
pub const CANONICAL_SOURCE_SYSTEM: &str = "canonical";
pub const LINEAGE_SOURCE_LINE: &str = "_source_line";
/// The day the export describes (its snapshot date: `--snapshot-date` or the date in its file
/// name), when known: of two rows of a key the PSA changed at the same time, the later export's
/// wins.
pub const LINEAGE_EXPORT_DATE: &str = "_export_date";
/// The column saying when the source system last changed a row, in tables that have one: of two
/// rows with one key the newer wins, not the one ingested last.
pub const FRESHNESS: &str = "updated_utc";

pub const CRITICALITY: &[&str] = &["critical", "high", "standard", "low"];
pub const DEVICE_CLASS: &[&str] = &["server", "workstation", "other"];
pub const RING: &[&str] = &["pilot", "test", "regular", "production"];
pub const TRACK: &[&str] = &["overnight", "daytime"];
pub const PATCH_POLICY: &[&str] = &[
    "do_not_patch",
    "manual",
    "auto_install_manual_reboot",
    "auto_install_auto_reboot",
];
pub const CLASSIFICATION: &[&str] = &[
    "security",
    "critical",
    "update_rollup",
    "feature",
    "driver",
    "definition",
    "optional",
    "other",
];
pub const SEVERITY: &[&str] = &["critical", "important", "moderate", "low", "unspecified"];
pub const APPROVAL: &[&str] = &["approved", "not_approved", "declined", "pending_review"];
pub const PATCH_STATE: &[&str] = &[
    "installed",
    "missing",
    "failed",
    "pending_reboot",
    "not_applicable",
];
pub const SUMMARY_STATUS: &[&str] = &[
    "fully_patched",
    "approved_pending",
    "install_error",
    "reboot_required",
    "no_policy",
    "no_data",
];
pub const ATTEMPT_RESULT: &[&str] = &["success", "failure"];
pub const TICKET_TYPE: &[&str] = &[
    "incident",
    "problem",
    "service_request",
    "change_request",
    "alert",
    "remediation",
];
pub const TICKET_STATUS: &[&str] = &["new", "in_progress", "waiting", "complete", "cancelled"];
pub const CHANGE_TYPE: &[&str] = &["standard", "normal", "emergency"];
pub const RISK: &[&str] = &["low", "medium", "high"];
pub const CAB_DECISION: &[&str] = &["approved", "rejected", "pending", "none"];
pub const CHANGE_OUTCOME: &[&str] = &[
    "successful",
    "successful_with_issues",
    "failed",
    "rolled_back",
    "cancelled",
    "in_progress",
];

pub(crate) const fn col(name: &'static str, ty: ColumnType) -> Column {
    Column {
        name,
        ty,
        required: false,
        default: None,
    }
}

pub(crate) const fn req(name: &'static str, ty: ColumnType) -> Column {
    Column {
        name,
        ty,
        required: true,
        default: None,
    }
}

pub(crate) const fn with_default(name: &'static str, ty: ColumnType, default: &'static str) -> Column {
    Column {
        name,
        ty,
        required: false,
        default: Some(default),
    }
}

use ColumnType::{Bool, Date, Enum, Text, Timestamp};

pub static TENANTS: Table = Table {
    name: "tenants",
    columns: &[
        req("tenant_id", Text),
        req("tenant_name", Text),
        with_default("criticality", Enum(CRITICALITY), "standard"),
        col("psa_company_id", Text),
        col("rmm_site_id", Text),
    ],
    key: &["tenant_id"],
    partitioning: Partitioning::Whole,
};

pub static DEVICES: Table = Table {
    name: "devices",
    columns: &[
        req("snapshot_date", Date),
        req("tenant_id", Text),
        req("device_id", Text),
        req("hostname", Text),
        req("device_class", Enum(DEVICE_CLASS)),
        col("role", Text),
        col("os_name", Text),
        col("policy_tier", Text),
        col("ring", Enum(RING)),
        col("track", Enum(TRACK)),
        col("patch_policy", Enum(PATCH_POLICY)),
        col("excluded", Bool),
        col("exclusion_reason", Text),
        col("last_seen_utc", Timestamp),
    ],
    key: &["snapshot_date", "tenant_id", "device_id"],
    partitioning: Partitioning::Day {
        column: "snapshot_date",
        folder: "snapshot_date",
    },
};

pub static PATCH_STATUS: Table = Table {
    name: "patch_status",
    columns: &[
        req("snapshot_date", Date),
        req("tenant_id", Text),
        req("device_id", Text),
        req("patch_id", Text),
        col("patch_title", Text),
        col("vendor", Text),
        req("classification", Enum(CLASSIFICATION)),
        with_default("severity", Enum(SEVERITY), "unspecified"),
        col("release_date", Date),
        req("approval", Enum(APPROVAL)),
        req("state", Enum(PATCH_STATE)),
        col("installed_utc", Timestamp),
    ],
    key: &["snapshot_date", "tenant_id", "device_id", "patch_id"],
    partitioning: Partitioning::Day {
        column: "snapshot_date",
        folder: "snapshot_date",
    },
};

/// A count: a whole number, never negative.
pub(crate) const COUNT: ColumnType = ColumnType::Int {
    min: 0,
    max: i64::MAX,
};

pub static DEVICE_PATCH_SUMMARY: Table = Table {
    name: "device_patch_summary",
    columns: &[
        req("snapshot_date", Date),
        req("tenant_id", Text),
        req("device_id", Text),
        req("status", Enum(SUMMARY_STATUS)),
        col("approved_pending_count", COUNT),
        col("not_approved_count", COUNT),
        col("installed_count", COUNT),
    ],
    key: &["snapshot_date", "tenant_id", "device_id"],
    partitioning: Partitioning::Day {
        column: "snapshot_date",
        folder: "snapshot_date",
    },
};

pub static PATCH_ATTEMPTS: Table = Table {
    name: "patch_attempts",
    columns: &[
        req("attempt_utc", Timestamp),
        req("tenant_id", Text),
        req("device_id", Text),
        req("patch_id", Text),
        req("result", Enum(ATTEMPT_RESULT)),
        col("error_code", Text),
        col("error_message", Text),
        col("job_id", Text),
    ],
    key: &["attempt_utc", "tenant_id", "device_id", "patch_id", "result"],
    partitioning: Partitioning::Day {
        column: "attempt_utc",
        folder: "attempt_date",
    },
};

pub static TICKETS: Table = Table {
    name: "tickets",
    columns: &[
        req("ticket_id", Text),
        req("tenant_id", Text),
        col("ticket_number", Text),
        req("ticket_type", Enum(TICKET_TYPE)),
        col("title", Text),
        col("priority", ColumnType::Int { min: 1, max: 4 }),
        req("status", Enum(TICKET_STATUS)),
        req("created_utc", Timestamp),
        col("resolved_utc", Timestamp),
        col("due_utc", Timestamp),
        col("queue", Text),
        col("device_id", Text),
        col("patch_id", Text),
        col("root_cause", Text),
        // v2: the PSA instance the id belongs to (ticket 100 of Autotask and of ConnectWise Manage
        // are two tickets), and when the PSA last changed the record (the newer row wins).
        with_default("source_system", Text, CANONICAL_SOURCE_SYSTEM),
        col("updated_utc", Timestamp),
    ],
    key: &["source_system", "ticket_id"],
    partitioning: Partitioning::Whole,
};

pub static CHANGES: Table = Table {
    name: "changes",
    columns: &[
        req("change_id", Text),
        req("tenant_id", Text),
        col("title", Text),
        req("change_type", Enum(CHANGE_TYPE)),
        req("risk", Enum(RISK)),
        req("created_utc", Timestamp),
        col("planned_start_utc", Timestamp),
        col("planned_end_utc", Timestamp),
        col("actual_start_utc", Timestamp),
        col("actual_end_utc", Timestamp),
        with_default("cab_decision", Enum(CAB_DECISION), "none"),
        col("cab_decided_utc", Timestamp),
        col("approver", Text),
        col("has_rollback_plan", Bool),
        col("has_test_evidence", Bool),
        col("has_comm_plan", Bool),
        col("has_validation_checklist", Bool),
        req("outcome", Enum(CHANGE_OUTCOME)),
        col("rollback_attempted", Bool),
        col("rollback_succeeded", Bool),
        col("post_change_verified", Bool),
        col("customer_impact_declared", Bool),
        col("caused_incident", Bool),
        with_default("source_system", Text, CANONICAL_SOURCE_SYSTEM),
        col("updated_utc", Timestamp),
    ],
    key: &["source_system", "change_id"],
    partitioning: Partitioning::Whole,
};

pub static EXCEPTIONS: Table = Table {
    name: "exceptions",
    columns: &[
        req("tenant_id", Text),
        col("device_id", Text),
        col("patch_id", Text),
        req("reason", Text),
        req("approved_by", Text),
        req("approved_utc", Timestamp),
        col("expires_utc", Timestamp),
    ],
    key: &["tenant_id", "device_id", "patch_id", "approved_utc"],
    partitioning: Partitioning::Whole,
};

/// The CISA Known Exploited Vulnerabilities catalog, one row per CVE (docs/canonical-model.md).
/// Reference data of no tenant: the same for every client. A newer catalog's row replaces an
/// older one (the catalog's release date is its export date).
pub static KEV: Table = Table {
    name: "kev",
    columns: &[
        req("cve_id", Text),
        col("vendor_project", Text),
        col("product", Text),
        col("vulnerability_name", Text),
        req("date_added", Date),
        col("due_date", Date),
        col("known_ransomware_use", Bool),
        col("catalog_version", Text),
    ],
    key: &["cve_id"],
    partitioning: Partitioning::Whole,
};

/// Which update fixes which CVE (docs/canonical-model.md): from MSRC CVRF documents, or canonical
/// CSV for other vendors. Reference data of no tenant.
pub static PATCH_CVES: Table = Table {
    name: "patch_cves",
    columns: &[
        req("patch_id", Text),
        req("cve_id", Text),
        col("cvss_base_score", ColumnType::Float),
        col("severity", Enum(SEVERITY)),
        col("exploited", Bool),
        col("publicly_disclosed", Bool),
        col("source_document", Text),
    ],
    key: &["patch_id", "cve_id"],
    partitioning: Partitioning::Whole,
};

/// Every canonical table, in the order a batch of files is ingested: tenants first, because the
/// policy-tier rules read a device's tenant criticality; the vulnerability reference tables last.
pub static TABLES: [&Table; 10] = [
    &TENANTS,
    &DEVICES,
    &DEVICE_PATCH_SUMMARY,
    &PATCH_STATUS,
    &PATCH_ATTEMPTS,
    &TICKETS,
    &CHANGES,
    &EXCEPTIONS,
    &KEV,
    &PATCH_CVES,
];

pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().copied().find(|t| t.name == name)
}

/// A parsed cell.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Text(String),
    Date(NaiveDate),
    Timestamp(DateTime<Utc>),
    Bool(bool),
    Int(i64),
    Float(f64),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_timestamp(&self) -> Option<DateTime<Utc>> {
        match self {
            Value::Timestamp(t) => Some(*t),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The calendar date of a date or timestamp value.
    pub fn as_date(&self) -> Option<NaiveDate> {
        match self {
            Value::Date(d) => Some(*d),
            Value::Timestamp(t) => Some(t.date_naive()),
            _ => None,
        }
    }

    /// The value as a cell borrowed from it.
    pub fn as_cell(&self) -> Cell<'_> {
        match self {
            Value::Null => Cell::Null,
            Value::Text(s) => Cell::Text(s),
            Value::Date(d) => Cell::Date(*d),
            Value::Timestamp(t) => Cell::Timestamp(*t),
            Value::Bool(b) => Cell::Bool(*b),
            Value::Int(i) => Cell::Int(*i),
            Value::Float(x) => Cell::Float(*x),
        }
    }

    /// The value as it is written to a key or a message.
    pub fn to_key_text(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Text(s) => s.clone(),
            Value::Date(d) => d.format("%Y-%m-%d").to_string(),
            Value::Timestamp(t) => t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(x) => x.to_string(),
        }
    }
}

/// A cell of a row being validated: text borrowed from the export line (or a vocabulary word),
/// never copied, so that validating millions of rows allocates nothing per cell.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cell<'a> {
    Null,
    Text(&'a str),
    Date(NaiveDate),
    Timestamp(DateTime<Utc>),
    Bool(bool),
    Int(i64),
    Float(f64),
}

impl<'a> Cell<'a> {
    /// The text of a text cell; `None` for any other.
    pub fn text(self) -> Option<&'a str> {
        match self {
            Cell::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_timestamp(&self) -> Option<DateTime<Utc>> {
        match self {
            Cell::Timestamp(t) => Some(*t),
            _ => None,
        }
    }

    /// The owned value, for whoever keeps it.
    pub fn to_value(self) -> Value {
        match self {
            Cell::Null => Value::Null,
            Cell::Text(s) => Value::Text(s.to_string()),
            Cell::Date(d) => Value::Date(d),
            Cell::Timestamp(t) => Value::Timestamp(t),
            Cell::Bool(b) => Value::Bool(b),
            Cell::Int(i) => Value::Int(i),
            Cell::Float(x) => Value::Float(x),
        }
    }

    /// The cell as it is written to a key or a message.
    pub fn to_key_text(self) -> String {
        self.to_value().to_key_text()
    }
}

/// Why a row was refused. The words are what the quarantine table's `reason` column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    MissingRequired,
    InvalidDate,
    InvalidTimestamp,
    InvalidBool,
    InvalidInteger,
    OutOfRange,
    InvalidEnum,
    WrongFieldCount,
    DuplicateKey,
    EndBeforeStart,
    /// The row's tenant is in no tenants row (of the lake, or of the file itself).
    UnknownTenant,
    /// An item of a JSON page that is no record (not an object).
    MalformedRecord,
    /// An identifier longer than `IDENTIFIER_BYTES`: cutting it could make two ids one.
    TextTooLong,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::MissingRequired => "missing_required",
            Reason::InvalidDate => "invalid_date",
            Reason::InvalidTimestamp => "invalid_timestamp",
            Reason::InvalidBool => "invalid_bool",
            Reason::InvalidInteger => "invalid_integer",
            Reason::OutOfRange => "out_of_range",
            Reason::InvalidEnum => "invalid_enum",
            Reason::WrongFieldCount => "wrong_field_count",
            Reason::DuplicateKey => "duplicate_key",
            Reason::EndBeforeStart => "end_before_start",
            Reason::UnknownTenant => "unknown_tenant",
            Reason::MalformedRecord => "malformed_record",
            Reason::TextTooLong => "text_too_long",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A row refused on its way into the lake, with where it stood in its file: a quarantine row.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub table: String,
    pub line: u64,
    pub problem: Problem,
}

/// A refused cell: the reason word and a sentence for the person reading the quarantine.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub column: String,
    pub value: String,
    pub reason: Reason,
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_natural_key_and_partition_column_is_a_required_column_or_nullable_key_part() {
        for table in TABLES {
            for key in table.key {
                assert!(table.column(key).is_some(), "{}.{key}", table.name);
            }
            if let Partitioning::Day { column: c, .. } = table.partitioning {
                let column = table.column(c).unwrap();
                assert!(column.required && table.key.contains(&c), "{}.{c}", table.name);
            }
        }
    }
}
