//! `proof-brief.pdf`: the evidence summary an auditor or a client executive reads in five
//! minutes. Wording and fonts come from `report_templates/` (proof_brief.toml, an embedded open
//! font); the figures from the period's KPI outputs; the printing from the typesetter (`pdf`).

use std::path::Path;

use anyhow::{Context, Result};
use duckdb::{Connection, OptionalExt};
use printpdf::Rgb;

use super::pdf::{DocumentInfo, MARGIN, Writer};
use super::summary::{plain, shown};
use super::template::{Labels, Template, template};
use crate::calendar::Period;
use crate::sql::{self, Cell};

fn headers(labels: &[String]) -> Vec<&str> {
    labels.iter().map(String::as_str).collect()
}

/// Clients the brief's league table shows; the workbook's Clients sheet has them all.
const LEAGUE_ROWS: usize = 25;

/// The brief's figures and tables, as named queries.
const QUERIES: &str = "reports/proof_brief.sql";

/// A status as the brief prints it, with how the figure was measured when that qualifies it (a
/// lower bound, a portfolio figure that leaves clients out).
fn status_words(words: &super::summary::Words, status: &str, measurement: &str) -> String {
    let status = words.status(status);
    match measurement {
        "lower_bound" | "partial" => format!("{status} ({})", measurement.replace('_', " ")),
        _ => status,
    }
}

/// Writes the brief for one period and scope. `evidence_digest` is the SHA-256 of the evidence
/// manifest of the bundle's other files, when the brief goes into a bundle.
pub fn write(
    conn: &Connection,
    period: Period,
    scope: &str,
    evidence_digest: Option<&str>,
    brand: &super::Brand,
    path: &Path,
) -> Result<()> {
    super::bind_period(conn, period)?;
    let template = template()?;
    let section = |key: &str| {
        template
            .sections
            .get(key)
            .cloned()
            .unwrap_or_else(|| key.to_string())
    };
    let label = period.label();
    let labels = &template.labels;
    // Clients are named as people name them; the id stays beside the name for the PSA.
    let scoped: bool = conn.query_row("select scoped()", [], |r| r.get(0))?;
    let (scope_name, scope_shown) = if !scoped {
        (labels.portfolio.clone(), labels.portfolio.clone())
    } else {
        let name: String = conn.query_row("select client_name(?)", [scope], |r| r.get(0))?;
        let shown = labels
            .client_scope
            .replace("{name}", &name)
            .replace("{id}", scope);
        (name, shown)
    };

    let mut w = Writer::new(
        &template.title,
        brand.paper,
        &template.font,
        &template.bold_font,
        format!("{} | {} | {}", template.title, scope_name, label),
    )?;
    if let Some(png) = &brand.logo {
        // Above the title: a long title would run under a logo beside it.
        w.logo(png).context("report.logo")?;
    }
    w.y -= 20.0;
    let title = template.title.clone();
    w.text_at(&title, MARGIN, w.y, 18.0, true, Rgb::new(0.12, 0.22, 0.39, None));
    w.y -= 10.0;

    let queries = sql::NamedQueries::read(QUERIES)?;
    let query = |name: &str| queries.bound(conn, name);
    let (_, facts) = sql::rows(conn, query("period")?)?;
    let fact = |i: usize| facts.first().map(|r| r[i].to_text()).unwrap_or_default();
    // Who and when, under the title; then page 1 is the executive summary.
    let subtitle = format!(
        "{scope_shown} | {} to {} | {} {}",
        fact(0),
        fact(1),
        labels.as_of,
        fact(2)
    );
    let prepared_by = brand
        .msp_name
        .as_ref()
        .map(|msp| labels.prepared_by.replace("{msp}", msp));
    let lines: Vec<String> = std::iter::once(subtitle.as_str())
        .chain(prepared_by.as_deref())
        .flat_map(|text| w.wrap(text, w.page_w - 2.0 * MARGIN, 11.0, false))
        .collect();
    for line in lines {
        w.y -= 14.0;
        w.text_at(&line, MARGIN, w.y, 11.0, false, Rgb::new(0.2, 0.2, 0.2, None));
    }
    let summary = super::summary::build(conn, period)?;
    write_summary(&mut w, &template, &summary, scoped);

    w.heading(&section("scope"));
    w.paragraph(&template.intro);
    w.table(
        &headers(&labels.scope_table),
        &[0.35, 0.65],
        &[
            vec![labels.scope.clone(), scope_shown.clone()],
            vec![labels.period.clone(), format!("{} to {}", fact(0), fact(1))],
            vec![labels.as_of.clone(), fact(2)],
            vec![labels.version.clone(), env!("CARGO_PKG_VERSION").into()],
        ],
    );

    w.heading(&section("kpis"));
    let (_, kpis) = sql::rows(conn, query("kpis")?)?;
    let kpi_rows: Vec<Vec<String>> = kpis
        .iter()
        .map(|r| {
            let id = r[0].to_text();
            let unit = r[1].to_text();
            vec![
                template.kpis.name(&id),
                summary.value_shown(&id, &r[2], &unit, &template.summary),
                shown(&r[3], &unit),
                shown(&r[4], &unit),
                status_words(&template.summary, &r[5].to_text(), &r[6].to_text()),
            ]
        })
        .collect();
    w.table(
        &headers(&labels.kpi_table),
        &[0.44, 0.14, 0.14, 0.12, 0.16],
        &kpi_rows,
    );

    if !scoped {
        // Worst first; the brief stays a few pages with 1,500 clients, the workbook has them all.
        w.heading(&section("clients"));
        // The league table: the workbook's Clients sheet.
        let league = sql::NamedQueries::read(super::workbook::SHEETS_FILE)?;
        let (_, clients) = sql::rows(conn, league.bound(conn, "Clients")?)?;
        let rows: Vec<Vec<String>> = clients
            .iter()
            .take(LEAGUE_ROWS)
            .map(|r| {
                vec![
                    r[0].to_text(),
                    shown(&r[2], "count"),
                    shown(&r[3], "ratio"),
                    shown(&r[4], "count"),
                    shown(&r[5], "count"),
                    shown(&r[6], "count"),
                    match &r[10] {
                        Cell::Null => template.summary.status(&r[9].to_text()),
                        note => format!(
                            "{} ({})",
                            template.summary.status(&r[9].to_text()),
                            note.to_text()
                        ),
                    },
                ]
            })
            .collect();
        w.table(
            &headers(&labels.clients_table),
            &[0.34, 0.09, 0.12, 0.10, 0.10, 0.11, 0.14],
            &rows,
        );
        if clients.len() > LEAGUE_ROWS {
            w.paragraph(
                &labels
                    .clients_more
                    .replace("{shown}", &LEAGUE_ROWS.to_string())
                    .replace("{more}", &(clients.len() - LEAGUE_ROWS).to_string())
                    .replace("{all}", &clients.len().to_string()),
            );
        }
    }

    write_kev_exposure(&mut w, conn, &section("vulnerability"), labels)?;

    w.heading(&section("compliance"));
    // The trend: this period's month and the 11 before it, as the workbook's sparklines.
    let trend_kpis = [
        ("patch_compliance_rate", Rgb::new(0.12, 0.22, 0.39, None)),
        ("change_success_rate", Rgb::new(0.85, 0.45, 0.1, None)),
    ];
    let (_, history) = sql::rows(conn, query("trend")?)?;
    let mut months: Vec<String> = history.iter().map(|r| r[0].to_text()).collect();
    months.dedup();
    let months = months.split_off(months.len().saturating_sub(12));
    let series: Vec<(String, Rgb, Vec<Option<f64>>)> = trend_kpis
        .iter()
        .map(|(kpi, color)| {
            let values = months
                .iter()
                .map(|m| {
                    history.iter().find_map(|r| match &r[2] {
                        Cell::Float(v) if r[0].to_text() == *m && r[1].to_text() == *kpi => Some(*v),
                        _ => None,
                    })
                })
                .collect();
            (template.measure_name(kpi), color.clone(), values)
        })
        .collect();
    w.line_chart(&labels.trend_chart, &months, &series);
    let (_, tiers) = sql::rows(conn, query("tiers")?)?;
    let tier_bars: Vec<(String, f64, String)> = tiers
        .iter()
        .map(|r| {
            let v = if let Cell::Float(f) = r[1] { f } else { 0.0 };
            (plain(&r[0].to_text()), v, shown(&r[1], "ratio"))
        })
        .collect();
    w.bars(&labels.tier_chart, &tier_bars, 1.0);
    let (_, ages) = sql::rows(conn, query("age-buckets")?)?;
    let max_required = ages
        .iter()
        .filter_map(|r| if let Cell::Float(f) = r[1] { Some(f) } else { None })
        .fold(0.0, f64::max);
    let age_bars: Vec<(String, f64, String)> = ages
        .iter()
        .map(|r| {
            let n = if let Cell::Float(f) = r[1] { f } else { 0.0 };
            (
                labels.age_bucket.replace("{bucket}", &r[0].to_text()),
                n,
                labels
                    .age_value
                    .replace("{required}", &format!("{n:.0}"))
                    .replace("{installed}", &shown(&r[2], "ratio")),
            )
        })
        .collect();
    w.bars(&labels.age_chart, &age_bars, max_required);

    if !scoped {
        w.heading(&section("failures"));
        let (_, patterns) = sql::rows(conn, query("failure-patterns")?)?;
        let max_failures = patterns
            .iter()
            .filter_map(|r| {
                if let Cell::Int(i) = r[2] {
                    Some(i as f64)
                } else {
                    None
                }
            })
            .fold(0.0, f64::max);
        let pareto: Vec<(String, f64, String)> = patterns
            .iter()
            .map(|r| {
                let n = if let Cell::Int(i) = r[2] { i as f64 } else { 0.0 };
                (
                    format!("{} {}", r[0].to_text(), r[1].to_text()),
                    n,
                    labels
                        .pareto_value
                        .replace("{failures}", &format!("{n:.0}"))
                        .replace("{devices}", &r[3].to_text())
                        .replace("{share}", &shown(&r[4], "ratio")),
                )
            })
            .collect();
        w.bars(&labels.pareto_chart, &pareto, max_failures);
    }

    w.heading(&section("controls"));
    let registers = super::registers::load()?;
    let mut control_rows = Vec::new();
    let sheets = registers.sheets(conn, period)?;
    for (_, _, rows) in sheets.iter().filter(|(name, _, _)| *name == "Control register") {
        for r in rows {
            control_rows.push(vec![
                format!("{} {}", r[0].to_text(), r[1].to_text()),
                r[5].to_text(),
                r[7].to_text(),
                r[8].to_text(),
                match &r[10] {
                    Cell::Null => template.summary.status(&r[9].to_text()),
                    note => format!("{}: {}", template.summary.status(&r[9].to_text()), note.to_text()),
                },
            ]);
        }
    }
    w.table(
        &headers(&labels.control_table),
        &[0.30, 0.30, 0.12, 0.12, 0.16],
        &control_rows,
    );
    // Every framework code of the table, said once.
    w.subheading(&labels.frameworks);
    for (_, _, rows) in sheets
        .iter()
        .filter(|(name, _, _)| *name == super::registers::FRAMEWORKS)
    {
        for r in rows {
            w.paragraph(&format!("{}: {}", r[0].to_text(), r[1].to_text()));
        }
    }

    let words = &template.objectives;
    w.heading(&words.heading);
    w.paragraph(&words.intro);
    let objectives: Vec<Vec<String>> = super::objectives::build(conn, period, words)?
        .into_iter()
        .map(|o| {
            vec![
                format!("{} {}", o.id, o.objective),
                o.time_frame,
                o.evidence,
                o.result,
            ]
        })
        .collect();
    w.table(&headers(&words.table), &[0.24, 0.30, 0.24, 0.22], &objectives);

    w.heading(&section("definitions"));
    for (id, definition) in &template.kpis.definitions {
        let name = template.kpis.name(id);
        w.paragraph(&format!("{name}: {definition}"));
    }

    w.heading(&section("evidence"));
    w.paragraph(&match evidence_digest {
        Some(d) => labels.evidence_in_bundle.replace("{digest}", d),
        None => labels.evidence_standalone.clone(),
    });

    w.finish(
        DocumentInfo {
            title: format!("{} ({scope_shown}, {label})", template.title),
            subject: format!("Patch and change governance evidence, {scope_shown}, {label}"),
            created: super::document_instant(conn, period)?.timestamp(),
        },
        path,
    )
}

/// The brief's vulnerability exposure: exposed and overdue devices by client (the worst 25), and
/// the KEV CVEs still open with their deadlines; or, without the reference data, which file to
/// ingest (the KPIs are null then, never 0).
fn write_kev_exposure(w: &mut Writer, conn: &Connection, heading: &str, labels: &Labels) -> Result<()> {
    w.heading(heading);
    let queries = sql::NamedQueries::read(QUERIES)?;
    let query = |name: &str| queries.bound(conn, name);
    let (measurement, note): (Option<String>, Option<String>) = conn
        .query_row(query("kev-measurement")?, [], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .context("reading how the period's KEV exposure was measured")?
        .unwrap_or((None, None));
    if measurement.as_deref().is_none_or(|m| m == "not_measured") {
        let note = note.unwrap_or_else(|| "the period has no KEV exposure figure".into());
        w.paragraph(&labels.kev_missing.replace("{note}", &note));
        return Ok(());
    }
    // A lower bound, clients left out, stale figures: said before the figures.
    if let Some(note) = &note {
        w.paragraph(&labels.kev_caveat.replace("{note}", note));
    }
    let (_, mut clients) = sql::rows(conn, query("kev-clients")?)?;
    clients.truncate(LEAGUE_ROWS);
    if clients.is_empty() {
        w.paragraph(&labels.kev_none);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = clients
        .iter()
        .map(|r| r.iter().map(|c| shown(c, "")).collect())
        .collect();
    w.table(
        &headers(&labels.kev_clients_table),
        &[0.46, 0.18, 0.18, 0.18],
        &rows,
    );
    let (_, cves) = sql::rows(conn, query("kev-cves")?)?;
    let rows: Vec<Vec<String>> = cves
        .iter()
        .map(|r| r.iter().map(|c| shown(c, "")).collect())
        .collect();
    w.table(&headers(&labels.kev_cves_table), &[0.34, 0.24, 0.18, 0.24], &rows);
    Ok(())
}

/// The executive summary (`summary::build`), worded by the template's `[summary]`: what the
/// figures rest on first, so no figure is read before its caveat.
fn write_summary(w: &mut Writer, template: &Template, summary: &super::summary::Summary, scoped: bool) {
    let words = &template.summary;
    let name = |id: &str| template.measure_name(id);
    w.heading(&words.heading);
    if !summary.stale_clients.is_empty() {
        let text = if scoped {
            words.stale_client.replace("{date}", &summary.stale_clients[0].1)
        } else {
            // By name, as many as the league table shows; the workbook lists every one.
            let clients: Vec<String> = summary
                .stale_clients
                .iter()
                .take(LEAGUE_ROWS)
                .map(|(client, since)| format!("{client} (since {since})"))
                .collect();
            let more = summary.stale_clients.len().saturating_sub(LEAGUE_ROWS);
            let mut clients = clients.join(", ");
            if more > 0 {
                clients.push_str(&words.stale_more.replace("{more}", &more.to_string()));
            }
            words.stale_clients.replace("{clients}", &clients)
        };
        w.warning(&text);
    }
    for gap in &summary.not_measured {
        // Four by name; the KPI table below marks every one.
        let mut kpis: Vec<String> = gap.kpis.iter().take(4).map(|k| name(k)).collect();
        if gap.kpis.len() > 4 {
            kpis.push(
                words
                    .more_kpis
                    .replace("{more}", &(gap.kpis.len() - 4).to_string()),
            );
        }
        w.warning(
            &words
                .not_measured
                .replace("{clients}", &gap.clients_words(words))
                .replace("{missing}", &gap.missing)
                .replace("{kpis}", &kpis.join(", ")),
        );
    }
    let rows: Vec<Vec<String>> = summary
        .headline
        .iter()
        .map(|h| {
            vec![
                name(&h.measure),
                summary.value_shown(&h.measure, &h.value, &h.unit, words),
                shown(&h.baseline, &h.unit),
                shown(&h.target, &h.unit),
                words.status(&h.status),
                shown(&h.previous, &h.unit),
                summary.change_words(h, words),
            ]
        })
        .collect();
    w.table(
        &headers(&words.headline_table),
        &[0.24, 0.12, 0.10, 0.09, 0.14, 0.12, 0.19],
        &rows,
    );

    match &summary.previous {
        None => w.paragraph(&words.first_period),
        Some(previous) => {
            w.subheading(&words.moved.replace("{previous}", previous));
            if summary.moves.is_empty() {
                w.paragraph(&words.nothing_moved);
            }
            for m in &summary.moves {
                let line = if m.better { &words.better } else { &words.worse };
                w.paragraph(
                    &line
                        .replace("{kpi}", &name(&m.kpi_id))
                        .replace("{from}", &shown(&Cell::Float(m.from), &m.unit))
                        .replace("{to}", &shown(&Cell::Float(m.to), &m.unit)),
                );
            }
        }
    }

    w.subheading(&words.action);
    if summary.chronic_total + summary.overdue_total + summary.open_total == 0 {
        w.paragraph(if summary.has_gaps() {
            &words.nothing_measured_to_act_on
        } else {
            &words.nothing_to_act_on
        });
    }
    if summary.chronic_total > 0 {
        let devices: Vec<String> = summary
            .chronic
            .iter()
            .map(|r| format!("{} ({})", r[0].to_text(), r[1].to_text()))
            .collect();
        let more = summary.chronic_total - summary.chronic.len();
        let devices = if more > 0 {
            format!("{} +{more}", devices.join(", "))
        } else {
            devices.join(", ")
        };
        w.paragraph(
            &words
                .chronic
                .replace("{count}", &summary.chronic_total.to_string())
                .replace("{devices}", &devices),
        );
    }
    let listed = |rows: &[Vec<Cell>]| -> Vec<Vec<String>> {
        rows.iter()
            .map(|r| r.iter().map(|c| shown(c, "")).collect())
            .collect()
    };
    if summary.overdue_total > 0 {
        w.paragraph(
            &words
                .overdue
                .replace("{count}", &summary.overdue_total.to_string()),
        );
        w.table(
            &headers(&words.overdue_table),
            &[0.22, 0.30, 0.20, 0.12, 0.16],
            &listed(&summary.overdue),
        );
    }
    if summary.open_total > 0 {
        w.paragraph(
            &words
                .open_episodes
                .replace("{count}", &summary.open_total.to_string()),
        );
        w.table(
            &headers(&words.episodes_table),
            &[0.22, 0.30, 0.20, 0.16, 0.12],
            &listed(&summary.open_episodes),
        );
    }

    w.subheading(&words.controls);
    if summary.controls.is_empty() && summary.not_tested.is_empty() {
        w.paragraph(&words.controls_clean);
    }
    for (control, population, exceptions) in &summary.controls {
        w.paragraph(
            &words
                .control_exceptions
                .replace("{control}", control)
                .replace("{exceptions}", &exceptions.to_string())
                .replace("{population}", &population.to_string()),
        );
    }
    for (control, result, note) in &summary.not_tested {
        let line = if result == "stale" {
            &words.control_stale
        } else {
            &words.control_not_tested
        };
        w.paragraph(&line.replace("{control}", control).replace("{note}", note));
    }
}
