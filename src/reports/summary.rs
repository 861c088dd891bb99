//! The executive summary: page 1 of the proof brief and the first sheet of the workbook. First
//! what the figures rest on (clients whose RMM exports stopped, exports a client never sent, so
//! that no figure is read before its caveat), then how the period went on the headline measures
//! (status against the baseline and the target, one way for every row; the change since the
//! previous month beside it as its own column), the largest moves better and worse, the devices
//! and clients that need action, and the controls that found exceptions or could not be tested.
//! Every figure is a `kpi_summary` / `kpi_scorecard` value or a row of the period's KPI outputs,
//! so it can be traced to the sheets and the bundle's CSVs; the words come from
//! `report_templates/proof_brief.toml` (`[summary]`).

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use duckdb::Connection;
use serde::Deserialize;

use crate::calendar::Period;
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
/// The largest moves since the previous period the summary names, better and worse each.
const MOVES: usize = 4;

/// The summary's wording (`[summary]` of proof_brief.toml).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Words {
    pub heading: String,
    /// A rate over a small population with its counts: `{value}`, `{numerator}`, `{denominator}`.
    pub with_counts: String,
    /// Statuses and control results in plain words, for every report a client reads; a status not
    /// listed is its code written as words (`plain`).
    pub statuses: BTreeMap<String, String>,
    /// `{clients}`: the clients whose RMM exports stopped, each with the date of its last one.
    pub stale_clients: String,
    /// After the names shown, when there are more: `{more}`.
    pub stale_more: String,
    /// A client's own pack: `{date}`.
    pub stale_client: String,
    /// `{clients}`, `{missing}`, `{kpis}`.
    pub not_measured: String,
    /// After the four KPIs named: `{more}`.
    pub more_kpis: String,
    /// `{clients}` when every client in scope lacks the export: `{count}`.
    pub clients_every: String,
    /// `{clients}` when more lack it than are named: `{count}`, `{names}`, `{more}`.
    pub clients_many: String,
    pub headline_table: Vec<String>,
    pub overdue_devices: String,
    /// `{previous}`: the previous period's month.
    pub moved: String,
    pub first_period: String,
    pub nothing_moved: String,
    /// `{kpi}`, `{from}`, `{to}`.
    pub better: String,
    pub worse: String,
    /// The change-since-previous column: `{arrow}` and `{change}` (its size), better or worse;
    /// `unchanged` (`{arrow}`) when the value did not move.
    pub change_better: String,
    pub change_worse: String,
    pub unchanged: String,
    pub action: String,
    pub nothing_to_act_on: String,
    /// Instead of `nothing_to_act_on` when some figures were not measured or are stale.
    pub nothing_measured_to_act_on: String,
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
    /// `{control}`, `{note}`.
    pub control_not_tested: String,
    /// A control with no exception in a stale client's last export: `{control}`, `{note}`.
    pub control_stale: String,
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
    /// Against the baseline and target (`kpi_scorecard.status`), or `not_measured`, `stale`.
    pub status: String,
    /// `kpi_scorecard.measurement_note`: why a figure is not measured, stale, a lower bound, or
    /// leaves clients out.
    pub note: Option<String>,
}

impl Headline {
    /// The change since the previous month: its size (rates in points, others in the unit) and
    /// whether it is better; `None` when either month has no value.
    pub fn change(&self) -> Option<(f64, Option<bool>)> {
        let (now, before) = (number(&self.value)?, number(&self.previous)?);
        let better = match self.measure.as_str() {
            "overdue_devices" => Some(Better::Lower),
            id => catalog::find(id).map(|k| k.better),
        };
        let better = match better? {
            _ if now == before => None,
            Better::Higher => Some(now > before),
            Better::Lower => Some(now < before),
            Better::Neither => None,
        };
        let scale = if self.unit == "ratio" { 100.0 } else { 1.0 };
        Some(((now - before) * scale, better))
    }
}

fn count(cell: &Cell) -> i64 {
    match cell {
        Cell::Int(i) => *i,
        _ => 0,
    }
}

fn number(cell: &Cell) -> Option<f64> {
    match cell {
        Cell::Float(f) => Some(*f),
        Cell::Int(i) => Some(*i as f64),
        _ => None,
    }
}

/// A KPI whose value changed since the previous period.
pub struct Move {
    pub kpi_id: String,
    pub unit: String,
    pub from: f64,
    pub to: f64,
    pub better: bool,
}

/// An export some clients in scope never sent, and what is therefore not measured.
pub struct Unmeasured {
    /// The export (or the alternatives of one), as `data_coverage.export` says it.
    pub missing: String,
    /// How many clients in scope lack it, and the first five of them by name.
    pub clients: i64,
    pub first_clients: String,
    /// How many clients the scope has.
    pub scope_clients: i64,
    pub kpis: Vec<String>,
}

impl Unmeasured {
    /// Who lacks it, in the words of `Words`: a name or five, or a count.
    pub fn clients_words(&self, words: &Words) -> String {
        let named = self.first_clients.split(", ").count() as i64;
        if self.clients == self.scope_clients && self.clients > 1 {
            words.clients_every.replace("{count}", &self.clients.to_string())
        } else if self.clients > named {
            words
                .clients_many
                .replace("{count}", &self.clients.to_string())
                .replace("{names}", &self.first_clients)
                .replace("{more}", &(self.clients - named).to_string())
        } else {
            self.first_clients.clone()
        }
    }
}

/// The summary of one scope and period.
pub struct Summary {
    /// Clients in scope whose RMM exports stopped: client, date of the last devices export.
    pub stale_clients: Vec<(String, String)>,
    /// The exports clients in scope lack, each once, with the KPIs not measured for want of it.
    pub not_measured: Vec<Unmeasured>,
    /// The previous period's month (`2026-09`), when it was computed.
    pub previous: Option<String>,
    pub headline: Vec<Headline>,
    /// Largest moves first: the better ones, then the worse ones.
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
    /// Controls whose test could not be run for the scope (`not_tested`), or found nothing in
    /// the last export of a client whose exports stopped (`stale`): control, result, why.
    pub not_tested: Vec<(String, String, String)>,
    /// Each KPI of the scope's numerator and denominator, for `value_shown`.
    pub counts: BTreeMap<String, (Cell, Cell)>,
}

/// A rate over fewer than this many is shown with its counts.
pub const SMALL_POPULATION: i64 = 100;

impl Summary {
    /// A KPI's value as shown, with its counts when it is a rate over a small population
    /// ("50.0% (1 of 2)"): a rate over two devices says little on its own.
    pub fn value_shown(&self, id: &str, value: &Cell, unit: &str, words: &Words) -> String {
        let text = shown(value, unit);
        match self.small_counts(id, value, unit) {
            Some((numerator, denominator)) => words
                .with_counts
                .replace("{value}", &text)
                .replace("{numerator}", &numerator)
                .replace("{denominator}", &denominator.to_string()),
            None => text,
        }
    }

    /// A rate's numerator (as shown) and denominator when it is over a small population.
    /// kpi_summary holds both as doubles (the spec's long format).
    fn small_counts(&self, id: &str, value: &Cell, unit: &str) -> Option<(String, i64)> {
        let (numerator, denominator) = self.counts.get(id)?;
        let denominator = number(denominator)?;
        let small = unit == "ratio" && denominator < SMALL_POPULATION as f64 && number(value).is_some();
        small.then(|| (shown(numerator, "count"), denominator.round() as i64))
    }
}

impl Words {
    /// A status in plain words: `not_improving` -> "Not improving".
    pub fn status(&self, status: &str) -> String {
        self.statuses
            .get(status)
            .cloned()
            .unwrap_or_else(|| plain(status))
    }
}

/// A snake_case word as people write it: `critical_servers` -> "Critical servers".
pub fn plain(word: &str) -> String {
    let spaced = word.replace('_', " ");
    let mut chars = spaced.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The summary's figures and lists, as named queries.
const QUERIES: &str = "reports/summary.sql";

pub fn build(conn: &Connection, period: Period) -> Result<Summary> {
    super::bind_period(conn, period)?;
    let period_start = period.start.to_string();
    let period_start = period_start.as_str();
    let queries = sql::NamedQueries::read(QUERIES)?;
    let previous: Option<String> =
        conn.query_row(queries.bound(conn, "previous-period")?, [], |r| r.get(0))?;
    let previous_day = previous
        .as_deref()
        .and_then(|p| chrono::NaiveDate::parse_from_str(p, "%Y-%m-%d").ok());
    sql::bind(
        conn,
        &[(
            "previous_start",
            previous_day.map_or(duckdb::types::Value::Null, sql::date),
        )],
    )?;
    let query = |name: &str| queries.bound(conn, name);

    let (_, kpis) = sql::rows(conn, query("kpis")?).context("reading the period's KPIs for the summary")?;
    let (_, overdue_counts) = sql::rows(conn, query("overdue-devices")?)?;
    let overdue_in = |period: Option<&str>| {
        overdue_counts
            .iter()
            .find(|r| Some(r[0].to_text().as_str()) == period)
            .map_or(Cell::Null, |r| r[1].clone())
    };
    let note = |r: &[Cell]| match &r[8] {
        Cell::Null => None,
        c => Some(c.to_text()),
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
                note: note(r),
            });
        }
        if id == "patch_compliance_rate" {
            headline.push(overdue_devices(
                &kpis,
                &overdue_in,
                period_start,
                previous.as_deref(),
            ));
        }
    }

    let mut moves: Vec<Move> = kpis
        .iter()
        // A stale client's figures moved because its exports stopped (every device turns stale),
        // not because anything got better or worse: they are not moves.
        .filter(|r| r[6].to_text() != "stale")
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
    moves.sort_by(|a, b| {
        b.better
            .cmp(&a.better)
            .then_with(|| size(b).total_cmp(&size(a)))
            .then_with(|| a.kpi_id.cmp(&b.kpi_id))
    });
    // The largest moves each way: a month of many small gains must not hide its one big loss.
    let mut kept = (0, 0);
    moves.retain(|m| {
        let count = if m.better { &mut kept.0 } else { &mut kept.1 };
        *count += 1;
        *count <= MOVES
    });

    let listed = |name: &str| -> Result<(Vec<Vec<Cell>>, usize)> {
        let (_, rows) = sql::rows(conn, query(name)?)?;
        let total = rows.len();
        Ok((rows.into_iter().take(LISTED).collect(), total))
    };
    let (chronic, chronic_total) = listed("chronic-devices")?;
    let (overdue, overdue_total) = listed("overdue-patches")?;
    let (open_episodes, open_total) = listed("open-episodes")?;

    let registers = super::registers::load()?;
    let mut controls = Vec::new();
    let mut not_tested = Vec::new();
    for (name, _, rows) in registers.sheets(conn, period)? {
        if name != "Control register" {
            continue;
        }
        for r in rows {
            let control = format!("{} {}", r[0].to_text(), r[1].to_text());
            let result = r[9].to_text();
            if result == "not_tested" || result == "stale" {
                not_tested.push((control, result, r[10].to_text()));
            } else if let (Cell::Int(population), Cell::Int(exceptions)) = (&r[7], &r[8])
                && *exceptions > 0
            {
                controls.push((control, *population, *exceptions));
            }
        }
    }
    let coverage = sql::NamedQueries::read(super::controls::COVERAGE)?;
    let (_, stale) = sql::rows(conn, coverage.bound(conn, "stale-clients")?)?;
    let (_, unmeasured) = sql::rows(conn, coverage.bound(conn, "unmeasured-clients")?)?;
    let (_, counts) = sql::rows(conn, query("counts")?)?;
    Ok(Summary {
        counts: counts
            .into_iter()
            .map(|r| (r[0].to_text(), (r[1].clone(), r[2].clone())))
            .collect(),
        stale_clients: stale.iter().map(|r| (r[0].to_text(), r[2].to_text())).collect(),
        not_measured: unmeasured
            .iter()
            .map(|r| Unmeasured {
                missing: r[0].to_text(),
                clients: count(&r[1]),
                first_clients: r[2].to_text(),
                scope_clients: count(&r[3]),
                kpis: r[4].to_text().split(',').map(str::to_string).collect(),
            })
            .collect(),
        previous: previous_day.map(|d| d.format("%Y-%m").to_string()),
        headline,
        moves,
        chronic,
        chronic_total,
        overdue,
        overdue_total,
        open_episodes,
        open_total,
        controls,
        not_tested,
    })
}

/// Devices with an overdue patch, judged as the scorecard judges a count where fewer is better
/// (queries/scorecard.sql): against the count in the baseline period of patch instance
/// compliance, of which it is the device view; no target is configured for it. Not measured
/// where instance compliance is not (no per-patch export), stale where it is.
fn overdue_devices(
    kpis: &[Vec<Cell>],
    overdue_in: &dyn Fn(Option<&str>) -> Cell,
    period_start: &str,
    previous: Option<&str>,
) -> Headline {
    let instances = kpis
        .iter()
        .find(|r| r[0].to_text() == "patch_instance_compliance_rate");
    let status_of = |r: &Vec<Cell>| r[6].to_text();
    let measured = instances.is_some_and(|r| status_of(r) != "not_measured");
    let baseline_period = instances.map(|r| r[9].to_text()).filter(|p| !p.is_empty());
    let value = if measured {
        overdue_in(Some(period_start))
    } else {
        Cell::Null
    };
    let baseline = baseline_period
        .as_deref()
        .filter(|_| measured)
        .map_or(Cell::Null, |p| overdue_in(Some(p)));
    let status = match (instances.map(status_of).as_deref(), &value, &baseline) {
        (None | Some("not_measured"), _, _) => "not_measured",
        (Some("stale"), _, _) => "stale",
        (_, Cell::Int(0), _) => "met",
        _ if baseline_period.as_deref().is_none_or(|p| p >= period_start) => "no_baseline",
        (_, Cell::Int(n), Cell::Int(b)) if n < b => "improving",
        (_, Cell::Int(_), Cell::Int(_)) => "not_improving",
        _ => "no_baseline",
    };
    Headline {
        measure: "overdue_devices".into(),
        unit: "count".into(),
        value,
        previous: if measured {
            overdue_in(previous)
        } else {
            Cell::Null
        },
        baseline,
        target: Cell::Null,
        status: status.into(),
        note: instances.and_then(|r| match &r[8] {
            Cell::Null => None,
            c => Some(c.to_text()),
        }),
    }
}

impl Summary {
    /// Whether some figure of the scope was not measured or stands on exports that stopped.
    pub fn has_gaps(&self) -> bool {
        !self.stale_clients.is_empty() || !self.not_measured.is_empty()
    }

    /// The summary as the workbook's first sheet: one row per figure, each saying what it is
    /// (`Words::sheet_sections`), with the KPI id or the row's particulars in `detail`.
    pub fn sheet_rows(
        &self,
        words: &Words,
        kpi_name: &dyn Fn(&str) -> String,
    ) -> (Vec<String>, Vec<String>, Vec<Vec<Cell>>) {
        let columns = [
            ("section", "VARCHAR"),
            ("item", "VARCHAR"),
            ("client", "VARCHAR"),
            ("unit", "VARCHAR"),
            ("value", "DOUBLE"),
            ("previous_value", "DOUBLE"),
            ("change_since_previous", "VARCHAR"),
            ("baseline_value", "DOUBLE"),
            ("target", "DOUBLE"),
            ("status", "VARCHAR"),
            ("detail", "VARCHAR"),
        ];
        let section = |i: usize| Cell::Text(words.sheet_sections.get(i).cloned().unwrap_or_default());
        let text = |s: &str| Cell::Text(s.to_string());
        // A row of the sheet: its section, then the other columns in order, empty where not given.
        let row = |i: usize, cells: Vec<(usize, Cell)>| {
            let mut row = vec![Cell::Null; columns.len()];
            row[0] = section(i);
            for (at, cell) in cells {
                row[at] = cell;
            }
            row
        };
        let mut rows = Vec::new();
        for (client, since) in &self.stale_clients {
            rows.push(row(
                6,
                vec![
                    (1, text(&words.stale_client.replace("{date}", since))),
                    (2, text(client)),
                    (9, text(&words.status("stale"))),
                ],
            ));
        }
        for gap in &self.not_measured {
            let names: Vec<String> = gap.kpis.iter().map(|k| kpi_name(k)).collect();
            rows.push(row(
                7,
                vec![
                    (1, text(&gap.missing)),
                    (2, text(&gap.clients_words(words))),
                    (9, text(&words.status("not_measured"))),
                    (10, text(&names.join(", "))),
                ],
            ));
        }
        for h in &self.headline {
            rows.push(row(
                0,
                vec![
                    (1, text(&kpi_name(&h.measure))),
                    (3, text(&h.unit)),
                    (4, h.value.clone()),
                    (5, h.previous.clone()),
                    (6, text(&self.change_words(h, words))),
                    (7, h.baseline.clone()),
                    (8, h.target.clone()),
                    (9, text(&words.status(&h.status))),
                    (10, {
                        // The id, the counts of a rate over a small population, the note.
                        let mut detail = h.measure.clone();
                        if let Some((n, d)) = self.small_counts(&h.measure, &h.value, &h.unit) {
                            detail.push_str(&format!(" ({n} of {d})"));
                        }
                        if let Some(note) = &h.note {
                            detail.push_str(&format!(": {note}"));
                        }
                        text(&detail)
                    }),
                ],
            ));
        }
        for m in &self.moves {
            rows.push(row(
                1,
                vec![
                    (1, text(&kpi_name(&m.kpi_id))),
                    (3, text(&m.unit)),
                    (4, Cell::Float(m.to)),
                    (5, Cell::Float(m.from)),
                    (9, text(&words.status(if m.better { "better" } else { "worse" }))),
                    (10, text(&m.kpi_id)),
                ],
            ));
        }
        let device_rows =
            |i: usize, list: &[Vec<Cell>], value: Option<usize>, detail: &dyn Fn(&[Cell]) -> String| {
                list.iter()
                    .map(|r| {
                        row(
                            i,
                            vec![
                                (1, r[0].clone()),
                                (2, r[1].clone()),
                                (3, text(if value.is_some() { "days" } else { "" })),
                                (4, value.map_or(Cell::Null, |v| r[v].clone())),
                                (10, text(&detail(r))),
                            ],
                        )
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
            rows.push(row(
                5,
                vec![
                    (1, text(control)),
                    (3, text("count")),
                    (4, Cell::Int(*exceptions)),
                    (9, text(&words.status("exceptions_found"))),
                    (10, text(&format!("population {population}"))),
                ],
            ));
        }
        for (control, result, why) in &self.not_tested {
            rows.push(row(
                8,
                vec![
                    (1, text(control)),
                    (9, text(&words.status(result))),
                    (10, text(why)),
                ],
            ));
        }
        (
            columns.iter().map(|(n, _)| n.to_string()).collect(),
            columns.iter().map(|(_, t)| t.to_string()).collect(),
            rows,
        )
    }

    /// The change-since-previous column in words: an arrow, the size, and better or worse.
    pub fn change_words(&self, h: &Headline, words: &Words) -> String {
        let Some((delta, better)) = h.change() else {
            return String::new();
        };
        let arrow = if delta > 0.0 {
            "\u{2191}"
        } else if delta < 0.0 {
            "\u{2193}"
        } else {
            "\u{2192}"
        };
        let size = match h.unit.as_str() {
            "ratio" => format!("{delta:+.1} pts"),
            "count" => format!("{delta:+.0}"),
            "hours" => format!("{delta:+.1} h"),
            "days" => format!("{delta:+.1} d"),
            _ => format!("{delta:+}"),
        };
        let template = match better {
            _ if delta == 0.0 => words.unchanged.as_str(),
            Some(true) => words.change_better.as_str(),
            Some(false) => words.change_worse.as_str(),
            // A change with no better direction: its size alone.
            None => "{arrow} {change}",
        };
        template.replace("{arrow}", arrow).replace("{change}", &size)
    }
}

/// A value in its unit, as the brief and workbook print it.
pub fn shown(value: &Cell, unit: &str) -> String {
    match (value, unit) {
        (Cell::Float(v), "ratio") => format!("{:.1}%", v * 100.0),
        (Cell::Float(v), "hours") => format!("{v:.1} h"),
        (Cell::Float(v), "days") => format!("{v:.1} d"),
        (Cell::Float(v), _) => format!("{v:.0}"),
        (Cell::Int(v), _) => v.to_string(),
        (Cell::Null, _) => "n/a".into(),
        (other, _) => other.to_text(),
    }
}
