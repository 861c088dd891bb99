//! `exec-brief.pptx`: the client briefing deck of a scope and period, eight slides with speaker
//! notes that define their figures. The figures are the summary's (`summary::build`, the same as
//! the workbook's Summary sheet and the proof brief's page 1) and the period's KPI outputs through
//! `queries/reports/deck.sql`; the words are `report_templates/deck.toml`. A client's deck reads
//! only a session scoped to that client, so it names no other client, in slides, notes or chart
//! data.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use duckdb::Connection;
use serde::Deserialize;

use super::Brand;
use super::pptx::{Frame, LineChart, Paragraph, Series, Shape, Slide, TableCell};
use super::summary::{plain, shown};
use crate::calendar::Period;
use crate::sql::{self, Cell};

pub const FILE: &str = "deck.toml";
const QUERIES: &str = "reports/deck.sql";
/// Rows a table on a slide shows; the workbook has the rest.
const ROWS: usize = 6;
/// Caveat lines the scorecard has room for above its table; the rest are counted on the last line.
const MAX_CAVEATS: usize = 4;
/// The figures a not-measured caveat names on the slide; its notes name them all.
const GAP_KPIS: usize = 3;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Words {
    pub title: String,
    pub subtitle: Vec<String>,
    pub portfolio: String,
    pub msp: String,
    pub slides: BTreeMap<String, String>,
    pub labels: BTreeMap<String, toml::Value>,
    pub notes: BTreeMap<String, String>,
}

impl Words {
    pub fn load() -> Result<Words> {
        let file = crate::installed::TEMPLATES.read(FILE)?;
        toml::from_str(file.text()?)
            .map_err(|e| anyhow::anyhow!("{}: {}", file.origin, e.to_string().trim_end()))
    }

    fn label(&self, key: &str) -> String {
        match self.labels.get(key) {
            Some(toml::Value::String(s)) => s.clone(),
            _ => key.to_string(),
        }
    }

    fn headers(&self, key: &str) -> Vec<String> {
        match self.labels.get(key) {
            Some(toml::Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
            _ => vec![key.to_string()],
        }
    }

    fn slide(&self, key: &str) -> String {
        self.slides.get(key).cloned().unwrap_or_else(|| key.to_string())
    }

    fn note(&self, key: &str) -> String {
        self.notes.get(key).cloned().unwrap_or_default()
    }
}

const GREEN: &str = "2E7D32";
const RED: &str = "B3261E";
const AMBER: &str = "B26A00";
const GREY: &str = "595959";
const NAVY: &str = "1F3864";
const ORANGE: &str = "D9731A";

fn status_color(status: &str) -> Option<&'static str> {
    match status {
        "met" | "improving" => Some(GREEN),
        "not_improving" => Some(RED),
        "not_measured" | "stale" | "no_data" | "lower_bound" => Some(AMBER),
        _ => Some(GREY),
    }
}

fn number(cell: &Cell) -> Option<f64> {
    match cell {
        Cell::Float(f) => Some(*f),
        Cell::Int(i) => Some(*i as f64),
        _ => None,
    }
}

/// The text of a table's rows, cut to `ROWS`, and the line saying how many more there are.
fn cut(rows: &[Vec<Cell>], total: usize, words: &Words) -> (Vec<Vec<TableCell>>, Option<String>) {
    let shown: Vec<Vec<TableCell>> = rows
        .iter()
        .take(ROWS)
        .map(|r| r.iter().map(|c| TableCell::from(c.to_text())).collect())
        .collect();
    let more = (total > shown.len()).then(|| {
        words
            .label("more")
            .replace("{shown}", &shown.len().to_string())
            .replace("{more}", &(total - shown.len()).to_string())
            .replace("{all}", &total.to_string())
    });
    (shown, more)
}

/// A titled table in a frame, or "None this period." under its title. `list` names its words in
/// deck.toml: `<list>_heading` and the columns `<list>_table`.
fn listing(
    shapes: &mut Vec<Shape>,
    frame: Frame,
    list: &str,
    widths: Vec<f64>,
    rows: &[Vec<Cell>],
    total: usize,
    words: &Words,
) {
    let (heading, header) = (
        words.label(&format!("{list}_heading")),
        words.headers(&format!("{list}_table")),
    );
    shapes.push(Shape::Text {
        frame: Frame::new(frame.x, frame.y, frame.w, 0.35),
        paragraphs: vec![Paragraph::new(heading, 13.0).bold().color(NAVY)],
        fill: None,
    });
    if rows.is_empty() {
        shapes.push(Shape::Text {
            frame: Frame::new(frame.x, frame.y + 0.4, frame.w, 0.4),
            paragraphs: vec![Paragraph::new(words.label("none"), 11.0).color(GREY)],
            fill: None,
        });
        return;
    }
    let (body, more) = cut(rows, total, words);
    // How many more, said between the heading and the table: below the table it would sit where
    // rows that wrap (a narrower template, long names) grow to.
    let mut table_y = frame.y + 0.4;
    if let Some(more) = more {
        shapes.push(Shape::Text {
            frame: Frame::new(frame.x, table_y - 0.05, frame.w, 0.3),
            paragraphs: vec![Paragraph::new(more, 9.0).color(GREY)],
            fill: None,
        });
        table_y += 0.3;
    }
    let table_h = (body.len() + 1) as f64 * 0.3;
    shapes.push(Shape::Table {
        frame: Frame::new(frame.x, table_y, frame.w, table_h),
        widths,
        header,
        rows: body,
        size: 9.0,
    });
}

/// Builds the deck's slides for the scope the session is bound to.
pub fn slides(conn: &Connection, period: Period, scope: &str, brand: &Brand) -> Result<Vec<Slide>> {
    super::bind_period(conn, period)?;
    let words = Words::load()?;
    let brief = super::template::template()?;
    let queries = sql::NamedQueries::read(QUERIES)?;
    let brief_queries = sql::NamedQueries::read("reports/proof_brief.sql")?;
    let rows = |name: &str| -> Result<Vec<Vec<Cell>>> {
        Ok(sql::rows(conn, queries.bound(conn, name)?)
            .with_context(|| format!("reading the deck's {name}"))?
            .1)
    };
    let scoped: bool = conn.query_row("select scoped()", [], |r| r.get(0))?;
    let scope_name = if scoped {
        conn.query_row("select client_name(?)", [scope], |r| r.get::<_, String>(0))?
    } else {
        words.portfolio.clone()
    };
    let (_, facts) = sql::rows(conn, brief_queries.bound(conn, "period")?)?;
    let fact = |i: usize| facts.first().map(|r| r[i].to_text()).unwrap_or_default();
    let month = period.start.format("%B %Y").to_string();
    let msp = brand.msp_name.clone().unwrap_or_else(|| words.msp.clone());
    let fill = |text: &str| {
        text.replace("{scope}", &scope_name)
            .replace("{month}", &month)
            .replace("{start}", &fact(0))
            .replace("{end}", &fact(1))
            .replace("{as_of}", &fact(2))
            .replace("{msp}", &msp)
            .replace("{portfolio}", &words.portfolio)
    };
    let summary = super::summary::build(conn, period)?;
    let value_of = |id: &str, value: &Cell, unit: &str| summary.value_shown(id, value, unit, &brief.summary);
    let mut slides = Vec::new();

    // 1. Title.
    let mut title_shapes = Vec::new();
    if let Some(png) = &brand.logo {
        title_shapes.push(Shape::Picture {
            frame: Frame::new(0.75, 0.6, 2.6, 1.2),
            png: png.clone(),
        });
    }
    slides.push(Slide {
        title: words.title.clone(),
        subtitle: Some(words.subtitle.iter().map(|l| fill(l)).collect()),
        shapes: title_shapes,
        notes: fill(&words.note("title")),
    });

    // 2. Scorecard: the caveats first, then the headline measures.
    let mut shapes = Vec::new();
    let mut caveats: Vec<Paragraph> = summary
        .stale_clients
        .iter()
        .map(|(client, date)| {
            Paragraph::new(
                words
                    .label("stale")
                    .replace("{date}", date)
                    .replace("{client}", client),
                12.0,
            )
            .bold()
            .color(RED)
        })
        .collect();
    // Every caveat is in the slide's notes, whole; the slide shows as many as fit, each gap with
    // its first few figures (a line of twelve KPI names shrinks to unreadable on a slide).
    let mut caveat_notes: Vec<String> = caveats.iter().map(|c| c.text.clone()).collect();
    for gap in &summary.not_measured {
        let kpis: Vec<String> = gap.kpis.iter().map(|k| brief.measure_name(k)).collect();
        let line = |kpis: &str| {
            words
                .label("gap")
                .replace("{missing}", &gap.missing)
                .replace("{kpis}", kpis)
        };
        caveat_notes.push(line(&kpis.join(", ")));
        let shown = if kpis.len() > GAP_KPIS {
            words
                .label("gap_more")
                .replace("{kpis}", &kpis[..GAP_KPIS].join(", "))
                .replace("{more}", &(kpis.len() - GAP_KPIS).to_string())
        } else {
            kpis.join(", ")
        };
        caveats.push(Paragraph::new(line(&shown), 11.0).color(AMBER));
    }
    let caveats = fit_caveats(caveats, &words.label("more_caveats"));
    let top = if caveats.is_empty() {
        1.3
    } else {
        // Room for two lines a caveat: a gap's line names its export and three figures.
        1.3 + 0.5 * caveats.len() as f64 + 0.2
    };
    if !caveats.is_empty() {
        shapes.push(Shape::Text {
            frame: Frame::new(0.5, 1.2, 12.3, top - 1.3),
            paragraphs: caveats,
            fill: Some("FFF4E5"),
        });
    }
    let score_rows: Vec<Vec<TableCell>> = summary
        .headline
        .iter()
        .map(|h| {
            let change = summary.change_words(h, &brief.summary);
            let last = if change.is_empty() {
                shown(&h.previous, &h.unit)
            } else {
                format!("{} ({change})", shown(&h.previous, &h.unit))
            };
            vec![
                TableCell::from(brief.measure_name(&h.measure)),
                TableCell {
                    bold: true,
                    ..TableCell::from(value_of(&h.measure, &h.value, &h.unit))
                },
                TableCell::from(last),
                TableCell::from(shown(&h.baseline, &h.unit)),
                TableCell::from(shown(&h.target, &h.unit)),
                TableCell {
                    text: brief.summary.status(&h.status),
                    color: status_color(&h.status),
                    bold: true,
                },
            ]
        })
        .collect();
    shapes.push(Shape::Table {
        frame: Frame::new(0.5, top, 12.3, 3.0),
        widths: vec![3.4, 2.0, 2.4, 1.4, 1.4, 1.9],
        header: words.headers("scorecard_table"),
        rows: score_rows,
        size: 13.0,
    });
    let headline_notes: Vec<String> = summary
        .headline
        .iter()
        .map(|h| {
            let definition = brief
                .kpis
                .definitions
                .get(&h.measure)
                .cloned()
                .unwrap_or_default();
            let note = h.note.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
            format!("{}: {definition}{note}", brief.measure_name(&h.measure))
        })
        .collect();
    slides.push(Slide {
        title: words.slide("scorecard"),
        subtitle: None,
        shapes,
        notes: [words.note("scorecard")]
            .into_iter()
            .chain(caveat_notes)
            .chain(headline_notes)
            .collect::<Vec<_>>()
            .join("\n"),
    });

    // 3. Progress against the targets since the baseline.
    let progress = rows("progress")?;
    let mut shapes = Vec::new();
    let baseline = progress.iter().find_map(|r| match (&r[6], &r[7]) {
        (Cell::Text(p), Cell::Int(d)) => Some((p.clone(), *d)),
        _ => None,
    });
    shapes.push(Shape::Text {
        frame: Frame::new(0.5, 1.2, 12.3, 0.4),
        paragraphs: vec![
            Paragraph::new(
                baseline.map_or_else(
                    || words.label("first_month"),
                    |(p, d)| {
                        words
                            .label("baseline_since")
                            .replace("{period}", &p)
                            .replace("{days}", &d.to_string())
                    },
                ),
                13.0,
            )
            .color(GREY),
        ],
        fill: None,
    });
    let progress_rows: Vec<Vec<TableCell>> = progress
        .iter()
        .map(|r| {
            let (id, unit, status) = (r[0].to_text(), r[1].to_text(), r[5].to_text());
            let way = match (number(&r[2]), number(&r[3]), number(&r[4])) {
                (Some(b), Some(v), Some(t))
                    if (t - b).abs() > f64::EPSILON
                        && !matches!(status.as_str(), "not_measured" | "stale") =>
                {
                    format!("{:.0}%", ((v - b) / (t - b) * 100.0).max(0.0))
                }
                _ => "n/a".into(),
            };
            vec![
                TableCell::from(brief.measure_name(&id)),
                TableCell::from(shown(&r[2], &unit)),
                TableCell {
                    bold: true,
                    ..TableCell::from(value_of(&id, &r[3], &unit))
                },
                TableCell::from(shown(&r[4], &unit)),
                TableCell::from(way),
                TableCell {
                    text: brief.summary.status(&status),
                    color: status_color(&status),
                    bold: true,
                },
            ]
        })
        .collect();
    shapes.push(Shape::Table {
        frame: Frame::new(0.5, 1.8, 12.3, 3.5),
        widths: vec![3.6, 1.6, 2.2, 1.6, 1.4, 1.9],
        header: words.headers("progress_table"),
        rows: progress_rows,
        size: 12.0,
    });
    slides.push(Slide {
        title: words.slide("progress"),
        subtitle: None,
        shapes,
        notes: words.note("progress"),
    });

    // 4. Trends: native line charts of the last 12 months.
    let (_, history) = sql::rows(conn, brief_queries.bound(conn, "trend")?)?;
    let mut months: Vec<String> = history.iter().map(|r| r[0].to_text()).collect();
    months.dedup();
    let months = months.split_off(months.len().saturating_sub(12));
    let series_of = |kpi: &str| -> Vec<Option<f64>> {
        months
            .iter()
            .map(|m| {
                history.iter().find_map(|r| match &r[2] {
                    Cell::Float(v) if r[0].to_text() == *m && r[1].to_text() == kpi => Some(*v),
                    _ => None,
                })
            })
            .collect()
    };
    let chart = |title: String, kpi: &str, color: &'static str| LineChart {
        title,
        categories: months.clone(),
        series: vec![Series {
            name: brief.measure_name(kpi),
            color,
            values: series_of(kpi),
        }],
        number_format: "0%".into(),
        min: Some(0.0),
        max: Some(1.0),
    };
    slides.push(Slide {
        title: words.slide("trends"),
        subtitle: None,
        shapes: vec![
            Shape::LineChart {
                frame: Frame::new(0.5, 1.3, 6.0, 5.2),
                chart: chart(words.label("compliance_chart"), "patch_compliance_rate", NAVY),
            },
            Shape::LineChart {
                frame: Frame::new(6.8, 1.3, 6.0, 5.2),
                chart: chart(words.label("change_chart"), "change_success_rate", ORANGE),
            },
        ],
        notes: words.note("trends"),
    });

    // 5. Risks and actions, by device name.
    let mut shapes = Vec::new();
    let kev = rows("kev-devices")?;
    let kev_measured = summary
        .headline
        .iter()
        .find(|h| h.measure == "kev_overdue_devices")
        .is_none_or(|h| h.status != "not_measured");
    if kev_measured {
        listing(
            &mut shapes,
            Frame::new(0.4, 1.2, 6.1, 2.7),
            "kev",
            vec![2.0, 1.6, 2.4, 1.3, 1.0],
            &kev,
            kev.len(),
            &words,
        );
    } else {
        let note = summary
            .headline
            .iter()
            .find(|h| h.measure == "kev_overdue_devices")
            .and_then(|h| h.note.clone())
            .unwrap_or_default();
        shapes.push(Shape::Text {
            frame: Frame::new(0.4, 1.2, 6.1, 1.0),
            paragraphs: vec![
                Paragraph::new(words.label("kev_heading"), 13.0)
                    .bold()
                    .color(NAVY),
                Paragraph::new(words.label("not_measured").replace("{note}", &note), 11.0).color(AMBER),
            ],
            fill: None,
        });
    }
    listing(
        &mut shapes,
        Frame::new(6.8, 1.2, 6.1, 2.7),
        "chronic",
        vec![2.0, 1.8, 3.0],
        &summary.chronic,
        summary.chronic_total,
        &words,
    );
    listing(
        &mut shapes,
        Frame::new(0.4, 4.1, 6.1, 2.9),
        "overdue",
        vec![1.8, 1.5, 1.4, 1.2, 1.2],
        &summary.overdue,
        summary.overdue_total,
        &words,
    );
    listing(
        &mut shapes,
        Frame::new(6.8, 4.1, 6.1, 2.9),
        "episodes",
        vec![1.8, 1.5, 1.4, 1.3, 1.0],
        &summary.open_episodes,
        summary.open_total,
        &words,
    );
    slides.push(Slide {
        title: words.slide("risks"),
        subtitle: None,
        shapes,
        notes: words.note("risks"),
    });

    // 6. Change safety.
    let (_, scorecard) = sql::rows(conn, brief_queries.bound(conn, "kpis")?)?;
    let change_rows: Vec<Vec<TableCell>> = [
        "change_success_rate",
        "emergency_change_ratio",
        "rollback_effectiveness_rate",
    ]
    .iter()
    .filter_map(|id| scorecard.iter().find(|r| r[0].to_text() == *id))
    .map(|r| {
        let (id, unit, status) = (r[0].to_text(), r[1].to_text(), r[5].to_text());
        vec![
            TableCell::from(brief.measure_name(&id)),
            TableCell {
                bold: true,
                ..TableCell::from(value_of(&id, &r[2], &unit))
            },
            TableCell::from(shown(&r[3], &unit)),
            TableCell::from(shown(&r[4], &unit)),
            TableCell {
                text: brief.summary.status(&status),
                color: status_color(&status),
                bold: true,
            },
        ]
    })
    .collect();
    let failed: Vec<Vec<Cell>> = rows("failed-changes")?
        .into_iter()
        .map(|mut r| {
            for at in [3, 4] {
                r[at] = Cell::Text(plain(&r[at].to_text()));
            }
            r
        })
        .collect();
    let mut shapes = vec![Shape::Table {
        frame: Frame::new(0.5, 1.3, 12.3, 1.6),
        widths: vec![3.6, 2.6, 1.8, 1.8, 2.5],
        header: words.headers("changes_table"),
        rows: change_rows,
        size: 13.0,
    }];
    listing(
        &mut shapes,
        Frame::new(0.5, 3.4, 12.3, 3.5),
        "failed",
        vec![1.4, 2.0, 4.6, 1.2, 1.6, 1.5],
        &failed,
        failed.len(),
        &words,
    );
    slides.push(Slide {
        title: words.slide("changes"),
        subtitle: None,
        shapes,
        notes: words.note("changes"),
    });

    // 7. Decisions for the client.
    let mut shapes = Vec::new();
    let expiring = rows("expiring-exceptions")?;
    listing(
        &mut shapes,
        Frame::new(0.5, 1.2, 12.3, 2.8),
        "expiring",
        vec![1.8, 1.8, 1.6, 3.4, 2.0, 1.4],
        &expiring,
        expiring.len(),
        &words,
    );
    let awaiting: Vec<Vec<Cell>> = rows("awaiting-approval")?
        .into_iter()
        .map(|mut r| {
            r[4] = Cell::Text(plain(&r[4].to_text()));
            r
        })
        .collect();
    listing(
        &mut shapes,
        Frame::new(0.5, 4.2, 12.3, 2.8),
        "approval",
        vec![1.8, 1.8, 1.6, 5.0, 1.2],
        &awaiting,
        awaiting.len(),
        &words,
    );
    slides.push(Slide {
        title: words.slide("decisions"),
        subtitle: None,
        shapes,
        notes: words.note("decisions"),
    });

    // 8. Next month: the failure-pattern recommendations that touch the scope's devices.
    let rules = super::failure_patterns::load()?;
    let mut advice: Vec<Vec<TableCell>> = Vec::new();
    for r in rows("patterns")? {
        let int = |c: &Cell| if let Cell::Int(i) = c { *i } else { 0 };
        let pattern = super::failure_patterns::Pattern {
            patch_id: r[0].to_text(),
            error_code: r[1].to_text(),
            os_name: r[2].to_text(),
            classification: r[3].to_text(),
            failures: int(&r[4]),
            devices: int(&r[5]),
            tenants: int(&r[6]),
            recurring_pairs: int(&r[7]),
            share: number(&r[8]).unwrap_or(0.0),
        };
        let (_, text) = rules.recommend(&pattern);
        let name = format!("{} / {}", pattern.patch_id, pattern.error_code);
        // One line per failure: a pattern is also split by OS and classification.
        if !text.is_empty() && !advice.iter().any(|a| a[0].text == name) {
            advice.push(vec![TableCell::from(name), TableCell::from(text)]);
        }
    }
    let shapes = if advice.is_empty() {
        vec![Shape::Text {
            frame: Frame::new(0.5, 1.3, 12.3, 0.6),
            paragraphs: vec![Paragraph::new(words.label("nothing_next"), 14.0)],
            fill: None,
        }]
    } else {
        advice.truncate(ROWS);
        vec![Shape::Table {
            frame: Frame::new(0.5, 1.3, 12.3, 5.0),
            widths: vec![3.0, 9.3],
            header: words.headers("next_table"),
            rows: advice,
            size: 11.0,
        }]
    };
    slides.push(Slide {
        title: words.slide("next"),
        subtitle: None,
        shapes,
        notes: words.note("next"),
    });
    Ok(slides)
}

/// Writes the deck of the session's scope to `path`.
pub fn write(conn: &Connection, period: Period, scope: &str, brand: &Brand, path: &Path) -> Result<()> {
    let slides = slides(conn, period, scope, brand)?;
    let base = match &brand.deck_template {
        Some((origin, bytes)) => super::pptx::Base::from_template(bytes, origin)?,
        None => super::pptx::Base::builtin(),
    };
    let words = Words::load()?;
    let created = super::document_instant(conn, period)?.naive_utc();
    super::pptx::write(
        &slides,
        base,
        &super::pptx::Properties {
            title: &words.title,
            subject: &period.label(),
            created,
        },
        path,
    )
}

/// The caveats the scorecard has room for: all of them, or the first few and a line counting the
/// rest (`more`, with `{count}`), so none disappears without a word.
fn fit_caveats(mut caveats: Vec<Paragraph>, more: &str) -> Vec<Paragraph> {
    if caveats.len() > MAX_CAVEATS {
        let rest = caveats.len() - (MAX_CAVEATS - 1);
        caveats.truncate(MAX_CAVEATS - 1);
        caveats.push(Paragraph::new(more.replace("{count}", &rest.to_string()), 11.0).bold());
    }
    caveats
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(n: usize) -> Vec<Paragraph> {
        (1..=n)
            .map(|i| Paragraph::new(format!("caveat {i}"), 11.0))
            .collect()
    }

    fn texts(caveats: &[Paragraph]) -> Vec<&str> {
        caveats.iter().map(|p| p.text.as_str()).collect()
    }

    #[test]
    fn caveats_that_fit_are_all_shown() {
        let shown = fit_caveats(lines(MAX_CAVEATS), "{count} more");
        assert_eq!(texts(&shown), ["caveat 1", "caveat 2", "caveat 3", "caveat 4"]);
    }

    #[test]
    fn caveats_beyond_the_room_are_counted_on_the_last_line() {
        let shown = fit_caveats(lines(MAX_CAVEATS + 3), "{count} more");
        assert_eq!(texts(&shown), ["caveat 1", "caveat 2", "caveat 3", "4 more"]);
    }
}
