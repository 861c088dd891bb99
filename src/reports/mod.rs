//! What people hold in their hands: the governance workbook, the proof-brief PDF,
//! the failure-pattern analysis and evidence bundles. Reports read only the lake's KPI outputs
//! and canonical tables, through DuckDB.

pub mod bundle;
pub mod controls;
pub mod failure_patterns;
pub mod proof_brief;
pub mod registers;
pub mod workbook;

use std::path::{Path, PathBuf};

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

/// Where the report templates are: `$GOVPACK_TEMPLATES`, else `report_templates/` beside the
/// executable, in the working directory, or in the source tree govpack was built from (the first
/// that holds `file`).
pub fn templates_dir(file: &str) -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("GOVPACK_TEMPLATES") {
        return Ok(PathBuf::from(dir));
    }
    let mut candidates = Vec::new();
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        candidates.push(dir.join("report_templates"));
    }
    candidates.push(PathBuf::from("report_templates"));
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("report_templates"));
    candidates
        .into_iter()
        .find(|d| d.join(file).is_file())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "cannot find report_templates/{file}: set GOVPACK_TEMPLATES to the templates folder"
            )
        })
}
