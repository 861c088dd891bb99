//! What people hold in their hands: the governance workbook, the proof-brief PDF,
//! the failure-pattern analysis and evidence bundles. Reports read only the lake's KPI outputs
//! and canonical tables, through DuckDB.

pub mod bundle;
pub mod controls;
pub mod deck;
pub mod failure_patterns;
pub mod objectives;
mod pdf;
pub mod pptx;
pub mod proof_brief;
pub mod registers;
pub mod runbook;
pub mod signature;
pub mod summary;
pub mod template;
pub mod workbook;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use duckdb::{Connection, params};

use crate::calendar::Period;
use crate::lake::Lake;

/// A DuckDB session over the lake with the report scope bound (`queries/reports/session.sql`):
/// `in_scope(tenant_id)` is true for the tenant asked for (every tenant for the portfolio),
/// `scoped()` when one was asked for, `own_scope(tenant_id)` for the scope's own KPI rows, and
/// `client_name(tenant_id)` is what people call a client: its `tenant_name`, else its id.
pub fn session(lake: &Lake, tenant: Option<&str>) -> Result<Connection> {
    let conn = crate::sql::open_for_publishing(lake)?;
    let setup = crate::installed::QUERIES.read("reports/session.sql")?;
    conn.execute_batch(setup.text()?)
        .with_context(|| format!("cannot set up the report scope ({})", setup.origin))?;
    if let Some(tenant) = tenant {
        conn.execute("insert into report_scope values (?)", params![tenant])?;
    }
    Ok(conn)
}

/// Binds the period a report is written for: every report query reads its first day as
/// `getvariable('period_start')` (a DATE, never pasted into SQL text). Each writer binds it on
/// entry, so a writer called on its own reads the period it was given.
pub fn bind_period(conn: &Connection, period: Period) -> Result<()> {
    crate::sql::bind(conn, &[("period_start", crate::sql::date(period.start))])
}

/// The MSP's brand, read once from `[report]`: a logo that is not a PNG or a template that is not
/// a PowerPoint file stops the report before anything is written.
#[derive(Debug, Clone, Default)]
pub struct Brand {
    pub msp_name: Option<String>,
    pub logo: Option<Vec<u8>>,
    pub paper: crate::config::Paper,
    /// The template's file name (for messages) and bytes.
    pub deck_template: Option<(String, Vec<u8>)>,
}

impl Brand {
    pub fn configured(config: &crate::config::Config) -> Result<Brand, crate::error::UsageError> {
        use crate::error::UsageError;
        let read = |key: &str, path: &Path| {
            let path = config.base_dir.join(path);
            std::fs::read(&path)
                .map(|bytes| (path.display().to_string(), bytes))
                .map_err(|e| UsageError(format!("report.{key}: cannot read {}: {e}", path.display())))
        };
        let report = &config.report;
        let logo = match &report.logo {
            Some(path) => {
                let (shown, bytes) = read("logo", path)?;
                // Decoded whole now, so a damaged file stops the report before anything is written.
                if pptx::png_size(&bytes).is_none() || pdf::decoded_png(&bytes).is_err() {
                    return Err(UsageError(format!("report.logo: {shown} is not a PNG image")));
                }
                Some(bytes)
            }
            None => None,
        };
        let deck_template = match &report.deck_template {
            Some(path) => {
                let (shown, bytes) = read("deck_template", path)?;
                pptx::Base::from_template(&bytes, &shown)
                    .map_err(|e| UsageError(format!("report.deck_template: {e:#}")))?;
                Some((shown, bytes))
            }
            None => None,
        };
        Ok(Brand {
            msp_name: report.msp_name.clone().filter(|n| !n.trim().is_empty()),
            logo,
            paper: report.paper,
            deck_template,
        })
    }
}

/// The governance pack of one scope and period: the evidence bundle, and beside it the reports it
/// holds (the workbook, the proof brief, for the portfolio the failure-pattern analysis), copied
/// out of it so that a report handed round has the very digest the bundle's manifest lists.
/// `tenant` is the scope (`None`: the portfolio). The portfolio's pack goes into `period_dir`, a
/// tenant's into `period_dir/<tenant_folder>`; `key` signs the bundle's manifest. Returns the
/// reports, then the bundle folder.
pub fn write_pack(
    lake: &Lake,
    period: Period,
    tenant: Option<&str>,
    period_dir: &Path,
    key: Option<&signature::EvidenceKey>,
    brand: &Brand,
) -> Result<Vec<PathBuf>> {
    let dir = &tenant.map_or_else(|| period_dir.to_path_buf(), |t| period_dir.join(tenant_folder(t)));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let session = session(lake, tenant)?;
    let bundle = bundle::write(&session, period, tenant.unwrap_or("portfolio"), dir, key, brand)?;
    let mut written = Vec::new();
    for entry in std::fs::read_dir(&bundle)? {
        let source = entry?.path();
        let is_report = matches!(
            source.extension().and_then(|e| e.to_str()),
            Some("xlsx" | "pdf" | "pptx" | "docx")
        );
        if !is_report {
            continue;
        }
        let target = dir.join(source.file_name().expect("a file in the bundle"));
        crate::files::write_atomic(&target, |f| {
            std::io::copy(&mut std::fs::File::open(&source)?, f)?;
            Ok(())
        })?;
        written.push(target);
    }
    written.sort();
    written.push(bundle);
    Ok(written)
}

/// What there is to report: the periods computed, a period's as-of day, the lake's tenants.
pub const PERIODS: &str = "reports/periods.sql";

/// Every tenant id in the lake, in order.
pub fn tenant_ids(lake: &Lake) -> Result<Vec<String>> {
    let conn = crate::sql::open(lake)?;
    let queries = crate::sql::NamedQueries::read(PERIODS)?;
    let mut statement = conn.prepare(queries.get("tenants")?)?;
    let ids = statement.query_map([], |r| r.get(0))?;
    Ok(ids.collect::<Result<_, _>>()?)
}

/// The months whose KPIs are computed (`YYYY-MM`), oldest first.
pub fn computed_periods(conn: &Connection) -> Result<Vec<String>> {
    let queries = crate::sql::NamedQueries::read(PERIODS)?;
    let mut statement = conn.prepare(queries.get("computed-periods")?)?;
    let labels = statement.query_map([], |r| r.get(0))?;
    Ok(labels.collect::<Result<_, _>>()?)
}

/// The day a period's figures stand at (`YYYY-MM-DD`), if its KPIs are computed.
pub fn as_of(conn: &Connection, period: Period) -> Result<Option<String>> {
    bind_period(conn, period)?;
    let queries = crate::sql::NamedQueries::read(PERIODS)?;
    Ok(conn.query_row(queries.bound(conn, "as-of")?, [], |r| r.get(0))?)
}

/// When a report of the period is dated: the end of its as-of day (UTC), never the wall clock, so
/// that a pack regenerated from the same lake is byte for byte the same and its manifest digest
/// can be re-derived by anyone holding the lake.
pub fn document_instant(conn: &Connection, period: Period) -> Result<chrono::DateTime<chrono::Utc>> {
    let as_of = as_of(conn, period).context("cannot read the period's as-of date")?;
    let day = as_of
        .as_deref()
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .unwrap_or(period.start);
    Ok(day.and_hms_opt(23, 59, 59).expect("a valid time").and_utc())
}

/// The document properties every workbook carries: dated as `document_instant` says.
pub fn workbook_properties(
    conn: &Connection,
    period: Period,
    title: &str,
) -> Result<rust_xlsxwriter::DocProperties> {
    use chrono::{Datelike, Timelike};
    let at = document_instant(conn, period)?;
    let when = rust_xlsxwriter::ExcelDateTime::from_ymd(at.year() as u16, at.month() as u8, at.day() as u8)?
        .and_hms(at.hour() as u16, at.minute() as u8, at.second())?;
    Ok(rust_xlsxwriter::DocProperties::new()
        .set_title(title)
        .set_author("govpack")
        .set_creation_datetime(&when))
}

/// The folder a tenant's pack goes in, below the period's. Tenant ids come from exports, and the
/// folder must hold one tenant on every file system the pack may be copied to: an id that is
/// already a plain name (lower-case letters, digits, `-`, `_` and inner spaces; not a Windows
/// device name; not a name of the portfolio's own files, which all hold a `.` or start with
/// `evidence-`; at most 64 characters) is its own folder. Any other id gets a plain form of itself
/// cut to 48 characters, then `~` and 12 hex digits of its SHA-256: `~` is in no plain name, so no
/// two ids share a folder, whatever the case sensitivity of the file system (`Acme` and `acme`
/// differ), and no folder can leave the period's or be a report of another scope. Each bundle's
/// `run.json` names its tenant and its folder.
pub fn tenant_folder(tenant_id: &str) -> String {
    const RESERVED: [&str; 4] = ["con", "prn", "aux", "nul"];
    let plain_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | ' ');
    let device = |name: &str| {
        RESERVED.contains(&name)
            || ((name.starts_with("com") || name.starts_with("lpt"))
                && name.len() == 4
                && name.as_bytes()[3].is_ascii_digit())
    };
    let is_plain = !tenant_id.is_empty()
        && tenant_id.len() <= 64
        && tenant_id.chars().all(plain_char)
        && !tenant_id.starts_with(' ')
        && !tenant_id.ends_with(' ')
        && !tenant_id.starts_with("evidence-")
        && !device(tenant_id);
    if is_plain {
        return tenant_id.to_string();
    }
    let plain: String = tenant_id
        .to_lowercase()
        .chars()
        .map(|c| if plain_char(c) && c != ' ' { c } else { '_' })
        .take(48)
        .collect();
    let digest = crate::files::sha256_hex(tenant_id.as_bytes());
    format!("{plain}~{}", &digest[..12])
}

#[cfg(test)]
mod tests {
    use super::tenant_folder;

    #[test]
    fn a_tenant_folder_never_leaves_the_periods_folder_and_holds_one_tenant_on_any_file_system() {
        // Plain ids are their own folders.
        assert_eq!(tenant_folder("29683500"), "29683500");
        assert_eq!(tenant_folder("northwind-dental"), "northwind-dental");
        assert_eq!(tenant_folder("acme dental"), "acme dental");
        // Anything else: a plain form and a digest of the id, after a `~` no plain id holds.
        let folders: Vec<String> = [
            "a/b",
            "a_b",
            "A_B",
            "Acme",
            "acme~",
            "../../etc",
            "..",
            "",
            "C:\\x",
            "con",
            "COM1",
            "lpt9",
            "trailing.",
            "trailing ",
            "evidence-portfolio-2026-10",
            "proof-brief.pdf",
            "x<y>z|?*\"",
            &"long".repeat(40),
        ]
        .iter()
        .map(|id| tenant_folder(id))
        .collect();
        for (id, folder) in [
            "a/b",
            "..",
            "",
            "con",
            "evidence-portfolio-2026-10",
            "proof-brief.pdf",
        ]
        .iter()
        .zip([
            &folders[0],
            &folders[6],
            &folders[7],
            &folders[9],
            &folders[14],
            &folders[15],
        ]) {
            assert!(folder.contains('~'), "{id:?} -> {folder}");
        }
        assert!(folders[0].starts_with("a_b~") && folders[1] == "a_b");
        assert!(folders[6].starts_with("__~"));
        let mut folded: Vec<String> = folders.iter().map(|f| f.to_lowercase()).collect();
        folded.sort();
        folded.dedup();
        assert_eq!(folded.len(), folders.len(), "two ids share a folder: {folders:?}");
        for folder in &folders {
            assert!(folder.len() <= 64, "{folder}");
            assert!(
                !folder.contains(['/', '\\', ':', '<', '>', '|', '?', '*', '"', '.']),
                "{folder}"
            );
            assert!(!folder.ends_with(' '), "{folder}");
            assert!(
                !folder.starts_with("evidence-") || folder.contains('~'),
                "{folder}"
            );
        }
        assert_eq!(
            tenant_folder("Acme"),
            tenant_folder("Acme"),
            "the same id, the same folder"
        );
    }
}
