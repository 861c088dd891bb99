//! The executive summary: page 1 of the proof brief and the first sheet of the workbook. How
//! the period went on the headline measures (against the previous period, the baseline and the
//! target), what moved since the previous period, the devices and clients that need action, and
//! the controls that found exceptions. Every figure is a `kpi_summary` / `kpi_scorecard` value or
//! a row of the period's KPI outputs, so it can be traced to the sheets and the bundle's CSVs; the
//! words come from `report_templates/proof_brief.toml` (`[summary]`).

use anyhow::{Context, Result};
use duckdb::Connection;
use serde::Deserialize;

use crate::catalog::{self, Better};
use crate::sql::{self, Cell};

/// The KPIs the summary leads with, in order; `overdue_devices` (devices with an overdue patch,
/// from `compliance_devices`) sits after compliance. KEV exposure reads n/a (`no_data`) until the
/// KEV catalog and CVRF documents are ingested.
pub const HEADLINE_KPIS: [&str; 4] = [
    "patch_compliance_rate",
    "kev_overdue_devices",
    "mttr_hours_mean",
    "change_success_rate",
];

/// What the summary lists of each kind (the workbook's sheets hold the rest).
pub const LISTED: usize = 5;
/// The largest moves since the previous period the summary names.
const MOVES: usize = 8;

/// The summary's wording (`[summary]` of proof_brief.toml).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Words {
    pub heading: String,
    pub headline_table: Vec<String>,
    pub overdue_devices: String,
    /// `{previous}`: the previous period's month.
    pub moved: String,
    pub first_period: String,
    pub nothing_moved: String,
    /// `{kpi}`, `{from}`, `{to}`.
    pub better: String,
    pub worse: String,
    pub action: String,
    pub nothing_to_act_on: String,
    /// `{count}`, `{devices}`.
    pub chronic: String,
    /// `{count}`.
    pub overdue: String,
    pub overdue_table: Vec<String>,
    /// `{count}`.
    pub open_episodes: String,
    pub episodes_table: Vec<String>,
    pub controls: String,
    /// `{control}`, `{exceptions}`, `{population}`.
    pub control_exceptions: String,
    pub controls_clean: String,
    /// What each row of the workbook's Summary sheet is, in the order of `sheet_rows`' parts.
    pub sheet_sections: Vec<String>,
}

/// One headline measure.
pub struct Headline {
    /// A KPI id, or `overdue_devices`.
    pub measure: String,
    pub unit: String,
    pub value: Cell,
    pub previous: Cell,
    pub baseline: Cell,
    pub target: Cell,
    pub status: String,
}

/// A KPI whose value changed since the previous period.
pub struct Move {
    pub kpi_id: String,
    pub unit: String,
    pub from: f64,
    pub to: f64,
    pub better: bool,
}

/// The summary of one scope and period.
pub struct Summary {
    /// The previous period's month (`2026-09`), when it was computed.
    pub previous: Option<String>,
    pub headline: Vec<Headline>,
    /// Largest moves first.
    pub moves: Vec<Move>,
    /// Chronic devices: hostname, client, current reason.
    pub chronic: Vec<Vec<Cell>>,
    pub chronic_total: usize,
    /// Oldest overdue patches: hostname, client, patch, severity, days since release.
    pub overdue: Vec<Vec<Cell>>,
    pub overdue_total: usize,
    /// Oldest open failure episodes: hostname, client, patch, first error, days open.
    pub open_episodes: Vec<Vec<Cell>>,
    pub open_total: usize,
    /// Controls whose test found exceptions: control, population, exceptions.
    pub controls: Vec<(String, i64, i64)>,
}

/// The summary's figures and lists, as named queries.
const QUERIES: &str = "reports/summary.sql";

pub fn build(conn: &Connection, period_start: &str) -> Result<Summary> {
    let queries = sql::NamedQueries::read(QUERIES)?;
    let day = format!("date {}", sql::string_literal(period_start));
    let previous: Option<String> = conn.query_row(
        &queries.fill("previous-period", &[("period_start", &day)])?,
        [],
        |r| r.get(0),
    )?;
    let previous_day = previous.as_deref().map_or_else(
        || "null".to_string(),
        |p| format!("date {}", sql::string_literal(p)),
    );
    let period = format!("period_start = {day}");
    let query = |name: &str| {
        queries.fill(
            name,
            &[
                ("p", &period),
                ("period_start", &day),
                ("previous_start", &previous_day),
            ],
        )
    };

    let (_, kpis) = sql::rows(conn, &query("kpis")?).context("reading the period's KPIs for the summary")?;
    let (_, overdue_counts) = sql::rows(conn, &query("overdue-devices")?)?;
    let overdue_in = |this: bool| {
        overdue_counts
            .iter()
            .find(|r| r[0] == Cell::Bool(this))
            .map_or(Cell::Null, |r| r[1].clone())
    };

    let mut headline = Vec::new();
    for id in HEADLINE_KPIS {
        if let Some(r) = kpis.iter().find(|r| r[0].to_text() == id) {
            headline.push(Headline {
                measure: id.to_string(),
                unit: r[1].to_text(),
                value: r[2].clone(),
                previous: r[3].clone(),
                baseline: r[4].clone(),
                target: r[5].clone(),
                status: r[6].to_text(),
            });
        }
        if id == "patch_compliance_rate" {
            let now = overdue_in(true);
            let before = if previous.is_some() {
                overdue_in(false)
            } else {
                Cell::Null
            };
            // Fewer is better; none is the best there is.
            let status = match (&now, &before) {
                (Cell::Int(0), _) => "met",
                (Cell::Int(n), Cell::Int(b)) if n < b => "improving",
                (Cell::Int(_), Cell::Int(_)) => "not_improving",
                _ => "no_baseline",
            };
            headline.push(Headline {
                measure: "overdue_devices".into(),
                unit: "count".into(),
                value: now,
                previous: before,
                baseline: Cell::Null,
                target: Cell::Null,
                status: status.into(),
            });
        }
    }

    let mut moves: Vec<Move> = kpis
        .iter()
        .filter_map(|r| {
            let (Cell::Float(to), Cell::Float(from)) = (&r[2], &r[3]) else {
                return None;
            };
            let better = match catalog::find(&r[0].to_text())?.better {
                Better::Higher => to > from,
                Better::Lower => to < from,
                Better::Neither => return None,
            };
            (to != from).then(|| Move {
                kpi_id: r[0].to_text(),
                unit: r[1].to_text(),
                from: *from,
                to: *to,
                better,
            })
        })
        .collect();
    // Rates move in points; counts and hours relative to where they were.
    let size = |m: &Move| {
        let change = (m.to - m.from).abs();
        if m.unit == "ratio" {
            change
        } else {
            change / m.from.abs().max(1.0)
        }
    };
    moves.sort_by(|a, b| size(b).total_cmp(&size(a)).then_with(|| a.kpi_id.cmp(&b.kpi_id)));
    moves.truncate(MOVES);

    let listed = |name: &str| -> Result<(Vec<Vec<Cell>>, usize)> {
        let (_, rows) = sql::rows(conn, &query(name)?)?;
        let total = rows.len();
        Ok((rows.into_iter().take(LISTED).collect(), total))
    };
    let (chronic, chronic_total) = listed("chronic-devices")?;
    let (overdue, overdue_total) = listed("overdue-patches")?;
    let (open_episodes, open_total) = listed("open-episodes")?;

    let registers = super::registers::load()?;
    let mut controls = Vec::new();
    for (name, _, rows) in registers.sheets(conn, period_start)? {
        if name != "Control register" {
            continue;
        }
        for r in rows {
            if let (Cell::Int(population), Cell::Int(exceptions)) = (&r[7], &r[8])
                && *exceptions > 0
            {
                controls.push((
                    format!("{} {}", r[0].to_text(), r[1].to_text()),
                    *population,
                    *exceptions,
                ));
            }
        }
    }
    Ok(Summary {
        previous: previous.map(|p| p.get(..7).unwrap_or(&p).to_string()),
        headline,
        moves,
        chronic,
        chronic_total,
        overdue,
        overdue_total,
        open_episodes,
        open_total,
        controls,
    })
}

impl Summary {
    /// The summary as the workbook's first sheet: one row per figure, each saying what it is
    /// (`Words::sheet_sections`), with the KPI id or the row's particulars in `detail`.
    pub fn sheet_rows(
        &self,
        words: &Words,
        kpi_name: &dyn Fn(&str) -> String,
    ) -> (Vec<String>, Vec<String>, Vec<Vec<Cell>>) {
        let names = [
            "section",
            "item",
            "client",
            "unit",
            "value",
            "previous_value",
            "baseline_value",
            "target",
            "status",
            "detail",
        ];
        let types = [
            "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE", "VARCHAR",
            "VARCHAR",
        ];
        let section = |i: usize| Cell::Text(words.sheet_sections.get(i).cloned().unwrap_or_default());
        let text = |s: String| Cell::Text(s);
        let mut rows = Vec::new();
        for h in &self.headline {
            rows.push(vec![
                section(0),
                text(kpi_name(&h.measure)),
                Cell::Null,
                text(h.unit.clone()),
                h.value.clone(),
                h.previous.clone(),
                h.baseline.clone(),
                h.target.clone(),
                text(h.status.clone()),
                text(h.measure.clone()),
            ]);
        }
        for m in &self.moves {
            rows.push(vec![
                section(1),
                text(kpi_name(&m.kpi_id)),
                Cell::Null,
                text(m.unit.clone()),
                Cell::Float(m.to),
                Cell::Float(m.from),
                Cell::Null,
                Cell::Null,
                text(if m.better { "better" } else { "worse" }.into()),
                text(m.kpi_id.clone()),
            ]);
        }
        let device_rows =
            |i: usize, list: &[Vec<Cell>], value: Option<usize>, detail: &dyn Fn(&[Cell]) -> String| {
                list.iter()
                    .map(|r| {
                        vec![
                            section(i),
                            r[0].clone(),
                            r[1].clone(),
                            text(if value.is_some() {
                                "days".into()
                            } else {
                                String::new()
                            }),
                            value.map_or(Cell::Null, |v| r[v].clone()),
                            Cell::Null,
                            Cell::Null,
                            Cell::Null,
                            Cell::Null,
                            text(detail(r)),
                        ]
                    })
                    .collect::<Vec<_>>()
            };
        rows.extend(device_rows(2, &self.chronic, None, &|r| r[2].to_text()));
        rows.extend(device_rows(3, &self.overdue, Some(4), &|r| {
            format!("{} ({})", r[2].to_text(), r[3].to_text())
        }));
        rows.extend(device_rows(4, &self.open_episodes, Some(4), &|r| {
            format!("{} ({})", r[2].to_text(), r[3].to_text())
        }));
        for (control, population, exceptions) in &self.controls {
            rows.push(vec![
                section(5),
                text(control.clone()),
                Cell::Null,
                text("count".into()),
                Cell::Int(*exceptions),
                Cell::Null,
                Cell::Null,
                Cell::Null,
                Cell::Null,
                text(format!("population {population}")),
            ]);
        }
        (
            names.iter().map(|s| s.to_string()).collect(),
            types.iter().map(|s| s.to_string()).collect(),
            rows,
        )
    }
}
