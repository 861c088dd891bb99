//! `failure-patterns-YYYY-MM.xlsx`: the monthly failure-pattern analysis. Top failing patterns
//! (patch, error code, OS, classification) in Pareto order, each with a recommendation from the
//! rules in `report_templates/failure_rules.toml` (decline or defer the update, fix the device,
//! raise with the vendor); recurring device/patch pairs; and the failure rate of each update
//! class, to find noisy ones. Portfolio only: patterns are counted across tenants.

use std::path::Path;

use anyhow::Result;
use duckdb::Connection;
use rust_xlsxwriter::Workbook;
use serde::Deserialize;

use super::workbook::{Styles, fill_sheet, query_sheet};
use crate::calendar::Period;
use crate::sql::{self, Cell};

pub const FILE: &str = "failure_rules.toml";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub rule: Vec<Rule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    #[serde(default)]
    pub error_codes: Vec<String>,
    pub min_devices: Option<i64>,
    pub min_tenants: Option<i64>,
    pub min_share: Option<f64>,
    pub min_recurring_pairs: Option<i64>,
    pub text: String,
}

/// One pattern's facts, as the rules read them.
#[derive(Debug, Clone, Default)]
pub struct Pattern {
    pub patch_id: String,
    pub error_code: String,
    pub os_name: String,
    pub classification: String,
    pub failures: i64,
    pub devices: i64,
    pub tenants: i64,
    pub recurring_pairs: i64,
    pub share: f64,
}

pub fn load() -> Result<Rules> {
    let file = crate::installed::TEMPLATES.read(FILE)?;
    let (path, text) = (&file.origin, file.text()?);
    toml::from_str(text).map_err(|e| anyhow::anyhow!("{}: {}", path, e.to_string().trim_end()))
}

impl Rule {
    fn matches(&self, p: &Pattern) -> bool {
        (self.error_codes.is_empty()
            || self
                .error_codes
                .iter()
                .any(|c| c.eq_ignore_ascii_case(&p.error_code)))
            && self.min_devices.is_none_or(|n| p.devices >= n)
            && self.min_tenants.is_none_or(|n| p.tenants >= n)
            && self.min_share.is_none_or(|n| p.share >= n)
            && self.min_recurring_pairs.is_none_or(|n| p.recurring_pairs >= n)
    }
}

impl Rules {
    /// The first matching rule's name and its text with the pattern's values filled in.
    pub fn recommend(&self, p: &Pattern) -> (String, String) {
        let Some(rule) = self.rule.iter().find(|r| r.matches(p)) else {
            return (String::new(), String::new());
        };
        let text = rule
            .text
            .replace("{patch_id}", &p.patch_id)
            .replace("{error_code}", &p.error_code)
            .replace("{os_name}", &p.os_name)
            .replace("{classification}", &p.classification)
            .replace("{failures}", &p.failures.to_string())
            .replace("{devices}", &p.devices.to_string())
            .replace("{tenants}", &p.tenants.to_string())
            .replace("{recurring_pairs}", &p.recurring_pairs.to_string());
        (rule.name.clone(), text)
    }
}

/// Writes the analysis of one period to `path`, atomically.
pub fn write(conn: &Connection, period: Period, path: &Path) -> Result<()> {
    super::bind_period(conn, period)?;
    let rules = load()?;
    let styles = Styles::new();
    let mut workbook = Workbook::new();
    workbook.set_properties(&super::workbook_properties(
        conn,
        period,
        "Failure-pattern analysis",
    )?);

    let queries = sql::NamedQueries::read("reports/failure_patterns.sql")?;
    let patterns_query = queries.bound(conn, "top-patterns")?;
    let (mut names, mut rows) = sql::rows(conn, patterns_query)?;
    let mut types: Vec<String> = sql::describe(conn, patterns_query)?
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    let column = |n: &str| {
        names
            .iter()
            .position(|x| x == n)
            .expect("failure_patterns column")
    };
    let (ci, cf, cd, ct, cr, cs) = (
        column("patch_id"),
        column("failures"),
        column("devices"),
        column("tenants"),
        column("recurring_pairs"),
        column("share"),
    );
    let (ce, co, cc) = (column("error_code"), column("os_name"), column("classification"));
    for row in &mut rows {
        let int = |c: usize| if let Cell::Int(i) = row[c] { i } else { 0 };
        let pattern = Pattern {
            patch_id: row[ci].to_text(),
            error_code: row[ce].to_text(),
            os_name: row[co].to_text(),
            classification: row[cc].to_text(),
            failures: int(cf),
            devices: int(cd),
            tenants: int(ct),
            recurring_pairs: int(cr),
            share: if let Cell::Float(f) = row[cs] { f } else { 0.0 },
        };
        let (rule, text) = rules.recommend(&pattern);
        row.push(Cell::Text(rule));
        row.push(Cell::Text(text));
    }
    names.push("rule".into());
    names.push("recommendation".into());
    types.extend(["VARCHAR".to_string(), "VARCHAR".to_string()]);
    // This workbook has no Data quality sheet: a value it could not hold is logged (its cell
    // carries the marker); the governance workbook beside it lists the same rows' values.
    let mut adjusted = fill_sheet(
        workbook.add_worksheet(),
        "Top patterns",
        &names,
        &types,
        &rows,
        &styles,
    )?;

    for (name, _) in queries.iter().filter(|(name, _)| *name != "top-patterns") {
        let (names, types, rows) = query_sheet(conn, name, queries.bound(conn, name)?)?;
        adjusted.extend(fill_sheet(
            workbook.add_worksheet(),
            name,
            &names,
            &types,
            &rows,
            &styles,
        )?);
    }
    for value in &adjusted {
        tracing::warn!(workbook = %path.display(), "{}", value.described());
    }
    crate::files::write_atomic_path(path, |temp| workbook.save(temp).map_err(anyhow::Error::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(error: &str, devices: i64, tenants: i64, recurring: i64) -> Pattern {
        Pattern {
            patch_id: "KB1".into(),
            error_code: error.into(),
            os_name: "Windows 10".into(),
            devices,
            tenants,
            recurring_pairs: recurring,
            ..Pattern::default()
        }
    }

    #[test]
    fn the_first_matching_shipped_rule_recommends() {
        let rules = load().unwrap();
        let (rule, text) = rules.recommend(&pattern("0x80070643", 5, 3, 0));
        assert_eq!(rule, "decline or defer");
        assert!(
            text.contains("KB1 on Windows 10") && text.contains("5 devices across 3 tenants"),
            "{text}"
        );
        assert_eq!(
            rules.recommend(&pattern("0x800f0922", 1, 1, 0)).0,
            "fix the device"
        );
        assert_eq!(
            rules.recommend(&pattern("1603", 1, 1, 1)).0,
            "recurring on the same devices"
        );
        assert_eq!(
            rules.recommend(&pattern("1603", 1, 1, 0)).0,
            "raise with the vendor"
        );
    }
}
