//! The wording of the reports, from `report_templates/proof_brief.toml`: the brief's title,
//! sections and labels, and the words the brief, the workbook and the deck share (the KPIs'
//! names and definitions, the summary's statuses, the NIST objectives).

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Deserialize;

pub const FILE: &str = "proof_brief.toml";

/// The proof brief's wording, from `report_templates/proof_brief.toml`, with the KPIs' names and
/// definitions (`catalog::words`).
pub fn template() -> Result<Template> {
    let file = crate::installed::TEMPLATES.read(FILE)?;
    let mut template: Template = toml::from_str(file.text()?)
        .map_err(|e| anyhow::anyhow!("{}: {}", file.origin, e.to_string().trim_end()))?;
    template.kpis = crate::catalog::words()?;
    Ok(template)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub title: String,
    pub intro: String,
    pub font: String,
    pub bold_font: String,
    pub sections: BTreeMap<String, String>,
    #[serde(skip)]
    pub kpis: crate::catalog::Words,
    pub labels: Labels,
    pub summary: super::summary::Words,
    pub objectives: super::objectives::Words,
}

impl Template {
    /// What a KPI (or the summary's `overdue_devices`) is called.
    pub fn measure_name(&self, id: &str) -> String {
        match id {
            "overdue_devices" => self.summary.overdue_devices.clone(),
            _ => self.kpis.name(id),
        }
    }
}

/// Every other word the brief prints: table headers, chart titles, value layouts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Labels {
    pub scope_table: Vec<String>,
    pub scope: String,
    /// The portfolio's scope, as people say it.
    pub portfolio: String,
    /// A client's scope: `{name}` and `{id}`.
    pub client_scope: String,
    pub period: String,
    pub as_of: String,
    pub version: String,
    pub kpi_table: Vec<String>,
    pub tier_chart: String,
    pub age_chart: String,
    pub age_bucket: String,
    pub age_value: String,
    pub pareto_chart: String,
    pub pareto_value: String,
    pub control_table: Vec<String>,
    pub frameworks: String,
    pub kev_clients_table: Vec<String>,
    pub kev_cves_table: Vec<String>,
    pub kev_none: String,
    /// Not measured for the scope: `{note}` says which export or file is missing.
    pub kev_missing: String,
    /// Measured with a caveat (a lower bound, clients left out): `{note}`.
    pub kev_caveat: String,
    pub trend_chart: String,
    pub clients_table: Vec<String>,
    /// Under the league table when it is cut: `{shown}`, `{more}`, `{all}`.
    pub clients_more: String,
    pub evidence_in_bundle: String,
    pub evidence_standalone: String,
    /// Under the title when `[report] msp_name` is set: `{msp}`.
    pub prepared_by: String,
}
