//! What people hold in their hands: the governance workbook (and, to come, the proof-brief PDF,
//! the failure-pattern analysis and evidence bundles). Reports read only the lake's KPI outputs
//! and canonical tables, through DuckDB.

pub mod bundle;
pub mod controls;
pub mod registers;
pub mod workbook;

use anyhow::{Context, Result};
use duckdb::{Connection, params};

use crate::lake::Lake;

/// A DuckDB session over the lake with the report scope bound: `in_scope(tenant_id)` is true for
/// the tenant asked for (every tenant for the portfolio), `scoped()` when one was asked for.
pub fn session(lake: &Lake, tenant: Option<&str>) -> Result<Connection> {
    let conn = crate::sql::open(lake)?;
    conn.execute_batch(
        "create temp table report_scope (tenant_id varchar);
         create temp macro scoped() as ((select count(*) from report_scope) > 0);
         create temp macro in_scope(t) as (not scoped() or t in (select tenant_id from report_scope));",
    )
    .context("cannot set up the report scope")?;
    if let Some(tenant) = tenant {
        conn.execute("insert into report_scope values (?)", params![tenant])?;
    }
    Ok(conn)
}
