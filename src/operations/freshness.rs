//! How fresh the lake is: the latest export date of each tenant in each table, and which tenants'
//! exports have stopped arriving. A KPI computed over a tenant whose RMM export broke three weeks
//! ago still reads as a number; this is what makes that visible.

use anyhow::{Result, bail};
use chrono::NaiveDate;
use duckdb::Connection;

use crate::sql::{self, Cell, NamedQueries};

/// The lake's freshness on a day (`queries/ops/freshness.sql`): the tables whose latest date says
/// whether a tenant's exports arrive, devices first, and every tenant's dates.
#[derive(Debug, Clone, PartialEq)]
pub struct Freshness {
    pub tables: Vec<String>,
    pub tenants: Vec<TenantFreshness>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TenantFreshness {
    pub tenant_id: String,
    pub tenant_name: String,
    /// Latest date on or before as_of, per table of `Freshness::tables`, in that order (devices
    /// first).
    pub latest: Vec<Option<NaiveDate>>,
    /// Days from the latest devices snapshot to as_of; `None` when the tenant has none.
    pub devices_age_days: Option<i64>,
    /// The devices export is older than the configured days, or there never was one.
    pub stale: bool,
}

/// Every tenant of the lake, as of a day (later rows are ignored, so history reruns agree).
pub fn tenants(conn: &Connection, as_of: NaiveDate, stale_after_days: u32) -> Result<Freshness> {
    let file = "ops/freshness.sql";
    sql::bind(conn, &[("day", sql::date(as_of))])?;
    let queries = NamedQueries::read(file)?;
    let (names, rows) = sql::rows(conn, queries.bound(conn, "latest-exports")?)?;
    let tables = names.get(2..).unwrap_or_default().to_vec();
    // A tenant is judged on its devices export: an installed copy must keep it where it is read.
    if tables.first().map(String::as_str) != Some("devices") {
        bail!("{file}: `latest-exports` must list tenant_id, tenant_name, then devices: it lists {names:?}");
    }
    let mut out = Vec::new();
    for row in rows {
        let latest: Vec<Option<NaiveDate>> = row[2..]
            .iter()
            .map(|cell| match cell {
                Cell::Text(day) => NaiveDate::parse_from_str(day, "%Y-%m-%d").ok(),
                _ => None,
            })
            .collect();
        let devices_age_days = latest[0].map(|d| (as_of - d).num_days());
        out.push(TenantFreshness {
            tenant_id: row[0].to_text(),
            tenant_name: row[1].to_text(),
            stale: devices_age_days.is_none_or(|age| age > i64::from(stale_after_days)),
            devices_age_days,
            latest,
        });
    }
    Ok(Freshness { tables, tenants: out })
}
