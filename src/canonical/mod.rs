//! The canonical model (docs/canonical-model.md): the ten tables every adapter produces
//! and the KPI layer reads. This file is the one place that knows their columns, types,
//! vocabularies, natural keys and how the lake partitions them; everything else asks it.

mod batch;
pub mod system;

pub use batch::{Batch, BatchSize, lake_dtype, lake_schema};

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};

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

impl Cell<'_> {
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

/// The longest text cell the lake keeps, in bytes of UTF-8: the most an Excel cell holds, so any
/// cell of the lake fits a workbook cell whole. A patch title, a ticket summary, a client's name
/// or an exception's justification is far shorter; a cell past it is an export gone wrong or
/// someone's attack on the reports (a 5 MB name once kept the PDF typesetter busy for an hour,
/// and a 50 MB one ran DuckDB out of memory). Free text is cut to it (counted in the file's
/// warnings); an identifier past `IDENTIFIER_BYTES` refuses its row.
pub const TEXT_BYTES: usize = 32_767;
/// The longest identifier (a key column or one named `*_id`) a row may carry.
pub const IDENTIFIER_BYTES: usize = 512;
/// What a quarantine row keeps of a refused cell, and what a message repeats of it.
const QUARANTINED_VALUE_BYTES: usize = 1024;
const SHOWN_VALUE_BYTES: usize = 100;

/// The years a date or time of the model may fall in. 1601 is the first year Windows writes (its
/// FILETIME zero, which exports carry for "never" and the reports flag); a year 0 or 9999 is a
/// placeholder or a typing slip, and arithmetic on it (a patch 8,000 years overdue) would read as
/// a finding. Such a row is refused with the reason, not counted.
pub const YEARS: std::ops::RangeInclusive<i32> = 1601..=2199;

fn plausible_year(year: i32) -> Result<(), String> {
    if YEARS.contains(&year) {
        Ok(())
    } else {
        Err(format!(
            "year {year} is outside {}-{}: a placeholder, not a date",
            YEARS.start(),
            YEARS.end()
        ))
    }
}

/// At most `max` bytes of `text`, cut at a character boundary.
pub fn clipped_to(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `clipped_to`, marked with an ellipsis when cut.
pub fn clipped(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match clipped_to(text, max) {
        whole if whole.len() == text.len() => whole.into(),
        part => format!("{part}...").into(),
    }
}

/// Parses one cell of a column (text already trimmed). An empty cell is null, or the column's
/// default; a required column without a value is refused.
pub fn parse_cell<'a>(column: &Column, raw: &'a str) -> Result<Cell<'a>, Problem> {
    let problem = |reason: Reason, detail: String| Problem {
        column: column.name.to_string(),
        value: clipped(raw, QUARANTINED_VALUE_BYTES).into_owned(),
        reason,
        detail,
    };
    let raw = raw.trim();
    // What a refusal repeats of the cell: enough to find it, never a megabyte.
    // (Only on a refusal: a valid title longer than that must not cost an allocation.)
    let shown = || clipped(raw, SHOWN_VALUE_BYTES);
    if raw.is_empty() {
        return match column.default {
            Some(default) => Ok(Cell::Text(default)),
            None if column.required => Err(problem(
                Reason::MissingRequired,
                format!("`{}` is required and is empty", column.name),
            )),
            None => Ok(Cell::Null),
        };
    }
    match column.ty {
        ColumnType::Text if column.is_identifier() && raw.len() > IDENTIFIER_BYTES => Err(problem(
            Reason::TextTooLong,
            format!(
                "{} bytes: an identifier is at most {IDENTIFIER_BYTES} and is never cut (two ids \
                 could become one)",
                raw.len()
            ),
        )),
        ColumnType::Text => Ok(Cell::Text(clipped_to(raw, TEXT_BYTES))),
        ColumnType::Date => {
            let date = parse_date(raw).ok_or_else(|| {
                problem(
                    Reason::InvalidDate,
                    format!("`{}` is not a date (expected YYYY-MM-DD)", shown()),
                )
            })?;
            plausible_year(date.year()).map_err(|why| problem(Reason::OutOfRange, why))?;
            Ok(Cell::Date(date))
        }
        ColumnType::Timestamp => {
            let time = parse_timestamp(raw).ok_or_else(|| {
                problem(
                    Reason::InvalidTimestamp,
                    format!(
                        "`{}` is not an ISO-8601 timestamp (expected e.g. 2026-10-14T02:13:00Z)",
                        shown()
                    ),
                )
            })?;
            plausible_year(time.year()).map_err(|why| problem(Reason::OutOfRange, why))?;
            Ok(Cell::Timestamp(time))
        }
        ColumnType::Bool => parse_bool(raw).map(Cell::Bool).ok_or_else(|| {
            problem(
                Reason::InvalidBool,
                format!(
                    "`{}` is not a boolean (expected true/false, 1/0 or yes/no)",
                    shown()
                ),
            )
        }),
        ColumnType::Int { min, max } => {
            let n: i64 = raw.parse().map_err(|_| {
                problem(
                    Reason::InvalidInteger,
                    format!("`{}` is not a whole number", shown()),
                )
            })?;
            if n < min || n > max {
                let range = if max == i64::MAX {
                    format!("at least {min}")
                } else {
                    format!("from {min} to {max}")
                };
                return Err(problem(
                    Reason::OutOfRange,
                    format!("{n} is out of range (expected {range})"),
                ));
            }
            Ok(Cell::Int(n))
        }
        ColumnType::Float => match raw.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(Cell::Float(x)),
            _ => Err(problem(
                Reason::InvalidInteger,
                format!("`{}` is not a number", shown()),
            )),
        },
        ColumnType::Enum(words) => {
            // Case is not information here: `Security` and `security` mean the same.
            match words.iter().find(|w| w.eq_ignore_ascii_case(raw)) {
                Some(w) => Ok(Cell::Text(w)),
                None => Err(problem(
                    Reason::InvalidEnum,
                    format!("`{}` is not one of: {}", shown(), words.join(", ")),
                )),
            }
        }
    }
}

pub fn parse_date(raw: &str) -> Option<NaiveDate> {
    // Nearly every date is exactly `YYYY-MM-DD`: read its digits directly (an export has
    // millions) and leave any other shape to chrono's format parser, which decides as before.
    let b = raw.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b[range].iter().try_fold(0u32, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    if b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && let (Some(year), Some(month), Some(day)) = (digits(0..4), digits(5..7), digits(8..10))
    {
        return NaiveDate::from_ymd_opt(year as i32, month, day);
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()
}

/// ISO-8601 as the spec allows it: `Z`, an offset, or no zone (meaning UTC); `T` or a space
/// between date and time; optional fraction. A bare date is midnight UTC.
pub fn parse_timestamp(raw: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(raw, format) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(raw, format) {
            return Some(t.and_utc());
        }
    }
    parse_date(raw).map(|d| d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc())
}

pub fn parse_bool(raw: &str) -> Option<bool> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// The checks of a row that look past one cell, with their columns found once per table rather
/// than by name on every row of a file of millions.
#[derive(Debug, Clone)]
pub struct RowChecks {
    /// Positions of the natural key's columns, in key order.
    pub key: Vec<usize>,
    /// (start, end) column pairs where an end before its start would make a negative duration
    /// (an MTTR, a change window) that no KPI can count honestly.
    spans: Vec<(usize, usize)>,
    table: &'static Table,
}

impl RowChecks {
    pub fn of(table: &'static Table) -> Self {
        let pairs: &[(&str, &str)] = match table.name {
            "tickets" => &[("created_utc", "resolved_utc")],
            "changes" => &[
                ("planned_start_utc", "planned_end_utc"),
                ("actual_start_utc", "actual_end_utc"),
            ],
            _ => &[],
        };
        RowChecks {
            key: table
                .key
                .iter()
                .map(|k| table.column_index(k).expect("key column"))
                .collect(),
            spans: pairs
                .iter()
                .filter_map(|(start, end)| Some((table.column_index(start)?, table.column_index(end)?)))
                .collect(),
            table,
        }
    }

    /// The row's spans that end before they start.
    pub fn problems(&self, values: &[Cell]) -> Vec<Problem> {
        let mut problems = Vec::new();
        for &(si, ei) in &self.spans {
            if let (Some(s), Some(e)) = (values[si].as_timestamp(), values[ei].as_timestamp())
                && e < s
            {
                let (start, end) = (self.table.columns[si].name, self.table.columns[ei].name);
                problems.push(Problem {
                    column: end.to_string(),
                    value: values[ei].to_key_text(),
                    reason: Reason::EndBeforeStart,
                    detail: format!("`{end}` is before `{start}` ({})", values[si].to_key_text()),
                });
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_or_time_outside_the_years_of_the_model_is_refused_as_out_of_range() {
        let column = |ty| Column {
            name: "release_date",
            ty,
            required: false,
            default: None,
        };
        for (ty, raw) in [
            (ColumnType::Date, "0000-01-01"),
            (ColumnType::Date, "9999-12-31"),
            (ColumnType::Timestamp, "9999-12-31T23:59:59Z"),
            (ColumnType::Timestamp, "0200-01-01T00:00:00Z"),
        ] {
            let problem = parse_cell(&column(ty), raw).unwrap_err();
            assert_eq!(problem.reason, Reason::OutOfRange, "{raw}");
            assert!(problem.detail.contains("a placeholder, not a date"), "{raw}");
        }
        // Windows' "never" (its FILETIME zero) is a date the reports flag, and is kept.
        assert!(parse_cell(&column(ColumnType::Date), "1601-01-01").is_ok());
        assert!(parse_cell(&column(ColumnType::Timestamp), "2199-12-31T23:59:59Z").is_ok());
    }

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

    #[test]
    fn timestamps_without_zone_are_utc_and_offsets_are_converted() {
        let z = parse_timestamp("2026-10-14T02:13:00Z").unwrap();
        assert_eq!(parse_timestamp("2026-10-14T02:13:00").unwrap(), z);
        assert_eq!(parse_timestamp("2026-10-14 02:13:00").unwrap(), z);
        assert_eq!(parse_timestamp("2026-10-14T04:13:00+02:00").unwrap(), z);
        assert_eq!(
            parse_timestamp("2026-10-14T02:13:00.250Z").unwrap(),
            z + chrono::Duration::milliseconds(250)
        );
        assert_eq!(
            parse_timestamp("2026-10-14").unwrap(),
            parse_timestamp("2026-10-14T00:00:00Z").unwrap()
        );
        assert_eq!(parse_timestamp("14/10/2026 02:13"), None);
    }

    #[test]
    fn dates_are_year_month_day_and_impossible_days_are_refused() {
        assert_eq!(parse_date("2026-10-31"), NaiveDate::from_ymd_opt(2026, 10, 31));
        assert_eq!(parse_date("2024-02-29"), NaiveDate::from_ymd_opt(2024, 2, 29));
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-10-32",
            "2026-1O-01",
            "31/10/2026",
            "",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        // Shapes other than ten characters go to chrono, as before: it takes a one-digit month.
        assert_eq!(
            parse_date("2026-1-05"),
            NaiveDate::parse_from_str("2026-1-05", "%Y-%m-%d").ok()
        );
    }

    #[test]
    fn booleans_accept_the_three_spellings_in_any_case() {
        for t in ["true", "TRUE", "1", "yes", "Yes"] {
            assert_eq!(parse_bool(t), Some(true));
        }
        for f in ["false", "False", "0", "no", "NO"] {
            assert_eq!(parse_bool(f), Some(false));
        }
        assert_eq!(parse_bool("y"), None);
    }

    #[test]
    fn empty_cells_take_the_default_or_are_refused_when_required() {
        let severity = PATCH_STATUS.column("severity").unwrap();
        assert_eq!(parse_cell(severity, "").unwrap(), Cell::Text("unspecified"));
        let state = PATCH_STATUS.column("state").unwrap();
        assert_eq!(
            parse_cell(state, " ").unwrap_err().reason,
            Reason::MissingRequired
        );
        let installed = PATCH_STATUS.column("installed_utc").unwrap();
        assert_eq!(parse_cell(installed, "").unwrap(), Cell::Null);
    }

    #[test]
    fn enum_words_are_matched_without_regard_to_case_and_stored_lower_case() {
        let class = DEVICES.column("device_class").unwrap();
        assert_eq!(parse_cell(class, "Server").unwrap(), Cell::Text("server"));
        let err = parse_cell(class, "laptop").unwrap_err();
        assert_eq!(err.reason, Reason::InvalidEnum);
        assert!(err.detail.contains("server, workstation, other"));
    }

    #[test]
    fn priority_outside_one_to_four_is_out_of_range() {
        let priority = TICKETS.column("priority").unwrap();
        assert_eq!(parse_cell(priority, "4").unwrap(), Cell::Int(4));
        assert_eq!(parse_cell(priority, "5").unwrap_err().reason, Reason::OutOfRange);
        assert_eq!(
            parse_cell(priority, "high").unwrap_err().reason,
            Reason::InvalidInteger
        );
    }
}
