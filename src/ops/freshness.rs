//! How fresh the lake is: the latest export date of each tenant in each table, and which tenants'
//! exports have stopped arriving. A KPI computed over a tenant whose RMM export broke three weeks
//! ago still reads as a number; this is what makes that visible.

use anyhow::Result;
use chrono::NaiveDate;
use duckdb::Connection;

/// The tables whose latest date says whether a tenant's exports arrive, and the date of each row.
pub const FRESHNESS_TABLES: [(&str, &str); 6] = [
    ("devices", "snapshot_date"),
    ("patch_status", "snapshot_date"),
    ("device_patch_summary", "snapshot_date"),
    ("patch_attempts", "cast(attempt_utc as date)"),
    ("tickets", "cast(created_utc as date)"),
    ("changes", "cast(created_utc as date)"),
];

#[derive(Debug, Clone, PartialEq)]
pub struct TenantFreshness {
    pub tenant_id: String,
    pub tenant_name: String,
    /// Latest date on or before as_of, per table of `FRESHNESS_TABLES`, in that order.
    pub latest: Vec<Option<NaiveDate>>,
    /// Days from the latest devices snapshot to as_of; `None` when the tenant has none.
    pub devices_age_days: Option<i64>,
    /// The devices export is older than the configured days, or there never was one.
    pub stale: bool,
}

/// Every tenant of the lake, as of a day (later rows are ignored, so history reruns agree).
pub fn tenants(conn: &Connection, as_of: NaiveDate, stale_after_days: u32) -> Result<Vec<TenantFreshness>> {
    let day = as_of.format("%Y-%m-%d").to_string();
    let mut columns = Vec::new();
    for (table, date) in FRESHNESS_TABLES {
        columns.push(format!(
            "(select cast(max({date}) as varchar) from {table} as x
              where x.tenant_id = t.tenant_id and {date} <= date '{day}') as {table}"
        ));
    }
    let query = format!(
        "select t.tenant_id, t.tenant_name, {} from tenants as t order by t.tenant_id",
        columns.join(", ")
    );
    let mut statement = conn.prepare(&query)?;
    let rows = statement.query_map([], |r| {
        let mut latest = Vec::new();
        for i in 0..FRESHNESS_TABLES.len() {
            let text: Option<String> = r.get(2 + i)?;
            latest.push(text.and_then(|t| NaiveDate::parse_from_str(&t, "%Y-%m-%d").ok()));
        }
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, latest))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (tenant_id, tenant_name, latest) = row?;
        let devices_age_days = latest[0].map(|d| (as_of - d).num_days());
        out.push(TenantFreshness {
            tenant_id,
            tenant_name,
            stale: devices_age_days.is_none_or(|age| age > i64::from(stale_after_days)),
            devices_age_days,
            latest,
        });
    }
    Ok(out)
}
