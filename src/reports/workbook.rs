//! `kpi-and-risk-register.xlsx`: the workbook a service manager opens at the monthly governance
//! review. Every sheet is an Excel table (filters, banded rows) with a frozen header, real dates
//! and numbers, and widths fitted to the content. Text from exports is always written as text:
//! a ticket title starting with `=` stays a title, never a formula.
//!
//! Each sheet is one DuckDB query over the lake's KPI outputs for the period, scoped to one
//! tenant when asked (through the bound `report_scope` table, never pasted into the SQL).

use std::path::Path;

use anyhow::{Context, Result};
use duckdb::Connection;
use rust_xlsxwriter::{
    Chart, ChartType, Color, ConditionalFormatText, ConditionalFormatTextRule, ExcelDateTime, Format,
    FormatAlign, Image, Sparkline, Table, TableColumn, TableStyle, Workbook, Worksheet,
};

use crate::calendar::Period;
use crate::sql::{self, Cell};

/// The data sheets after the Summary and Scorecard, in order: one named query per sheet
/// (`queries/reports/workbook.sql`), for the period bound in the session; `getvariable('version')`
/// is govpack's version.
pub(crate) const SHEETS_FILE: &str = "reports/workbook.sql";

/// The Scorecard sheet's queries and each chart's data, by the chart's title.
const CHARTS_FILE: &str = "reports/workbook_charts.sql";

/// The cell formats every sheet shares.
pub(crate) struct Styles {
    header: Format,
    date: Format,
    datetime: Format,
    ratio: Format,
    number: Format,
    plain: Format,
    /// Long prose in a cell: wrapped, top-aligned.
    prose: Format,
    met: Format,
    improving: Format,
    not_improving: Format,
    /// Statuses in plain words (`summary::Words::statuses`), coloured as their codes are.
    status_words: std::collections::BTreeMap<String, String>,
}

impl Styles {
    pub(crate) fn new() -> Self {
        let fill = |color: u32| Format::new().set_background_color(Color::RGB(color));
        Styles {
            header: Format::new()
                .set_bold()
                .set_background_color(Color::RGB(0x1F3864))
                .set_font_color(Color::White),
            date: Format::new().set_num_format("yyyy-mm-dd"),
            datetime: Format::new().set_num_format("yyyy-mm-dd hh:mm"),
            ratio: Format::new().set_num_format("0.0%"),
            number: Format::new().set_num_format("#,##0.##"),
            plain: Format::new().set_align(FormatAlign::Top),
            prose: Format::new().set_text_wrap().set_align(FormatAlign::Top),
            met: fill(0xC6EFCE),
            improving: fill(0xFFEB9C),
            not_improving: fill(0xFFC7CE),
            status_words: Default::default(),
        }
    }

    /// With the statuses' plain words, where a sheet shows them instead of their codes.
    pub(crate) fn with_status_words(self, words: &std::collections::BTreeMap<String, String>) -> Self {
        Styles {
            status_words: words.clone(),
            ..self
        }
    }
}

/// Writes the workbook of one period (and one tenant, or the portfolio) to `path`, atomically.
/// The MSP's name and logo (`brand`) go beside the Summary sheet's table and into the file's
/// properties (Company).
pub fn write(conn: &Connection, period: Period, brand: &super::Brand, path: &Path) -> Result<()> {
    super::bind_period(conn, period)?;
    sql::bind(conn, &[("version", sql::text(env!("CARGO_PKG_VERSION")))])?;
    let registers = super::registers::load()?;
    let mut workbook = Workbook::new();
    let mut properties = super::workbook_properties(conn, period, "KPI and risk register")?;
    if let Some(msp) = &brand.msp_name {
        properties = properties.set_company(msp);
    }
    workbook.set_properties(&properties);
    // Values a workbook cannot hold, as written (`fill_sheet`), listed on the Data quality
    // sheet, which is filled last for that.
    let template = super::template::template()?;
    let styles = Styles::new().with_status_words(&template.summary.statuses);
    let summary = super::summary::build(conn, period)?;
    let (names, types, rows) = summary.sheet_rows(&template.summary, &|id| template.measure_name(id));
    let sheet = workbook.add_worksheet();
    let mut adjusted = fill_sheet(sheet, "Summary", &names, &types, &rows, &styles)?;
    // One column clear of the table, so a filter or a new row never runs under the logo.
    let beside = names.len() as u16 + 1;
    let mut brand_row = 0;
    if let Some(png) = &brand.logo {
        let logo = Image::new_from_buffer(png)?
            .set_scale_to_size(LOGO_SIZE.0, LOGO_SIZE.1, true)
            .set_alt_text(brand.msp_name.as_deref().unwrap_or("Logo"));
        sheet.insert_image(0, beside, &logo)?;
        brand_row = 3;
    }
    if let Some(msp) = &brand.msp_name {
        let words = template.labels.prepared_by.replace("{msp}", msp);
        sheet.write_string_with_format(brand_row, beside, words, &Format::new().set_bold())?;
    }
    adjusted.extend(write_scorecard(
        workbook.add_worksheet(),
        conn,
        &styles,
        &template,
    )?);
    let mut data_quality = None;
    let sheets = sql::NamedQueries::read(SHEETS_FILE)?;
    for (sheet, _) in sheets.iter() {
        let query = sheets.bound(conn, sheet)?;
        let (names, types, rows) = query_sheet(conn, sheet, query)?;
        // Its place among the sheets, for filling it last.
        let index = workbook.worksheets().len();
        let worksheet = workbook.add_worksheet();
        if sheet == DATA_QUALITY {
            data_quality = Some((index, names, types, rows));
            continue;
        }
        adjusted.extend(fill_sheet(worksheet, sheet, &names, &types, &rows, &styles)?);
    }
    write_charts(&mut workbook, conn, &styles)?;
    for (name, names, rows) in registers.sheets(conn, period)? {
        let types = vec!["VARCHAR".to_string(); names.len()];
        adjusted.extend(fill_sheet(
            workbook.add_worksheet(),
            name,
            &names,
            &types,
            &rows,
            &styles,
        )?);
    }
    let objectives: Vec<Vec<Cell>> = super::objectives::build(conn, period, &template.objectives)?
        .into_iter()
        .map(|o| {
            [o.id, o.objective, o.time_frame, o.evidence, o.result]
                .into_iter()
                .map(Cell::Text)
                .collect()
        })
        .collect();
    let names: Vec<String> = ["objective", "requirement", "time_frame", "evidence", "result"]
        .into_iter()
        .map(String::from)
        .collect();
    let sheet = workbook.add_worksheet();
    adjusted.extend(fill_sheet(
        sheet,
        "Assessment objectives",
        &names,
        &vec!["VARCHAR".to_string(); names.len()],
        &objectives,
        &styles,
    )?);
    // Sentences, not values: fixed widths and wrapped text, read like the brief's table. Excel
    // does not grow a row for wrapped text it did not type itself, so each row gets the height
    // of its longest cell (about a character per unit of column width).
    let widths = [12.0, 40.0, 60.0, 40.0, 40.0];
    for (c, width) in widths.into_iter().enumerate() {
        sheet.set_column_width(c as u16, width)?;
    }
    for (r, row) in objectives.iter().enumerate() {
        let mut lines = 1;
        for (c, cell) in row.iter().enumerate() {
            let text = cell.to_text();
            lines = lines.max(text.chars().count().div_ceil(widths[c] as usize - 2));
            sheet.write_string_with_format(r as u32 + 1, c as u16, text, &styles.prose)?;
        }
        sheet.set_row_height(r as u32 + 1, 15.0 * lines as f64)?;
    }
    if let Some((index, names, types, mut rows)) = data_quality {
        rows.extend(adjusted.iter().map(Adjusted::finding));
        fill_sheet(
            workbook.worksheet_from_index(index)?,
            DATA_QUALITY,
            &names,
            &types,
            &rows,
            &styles,
        )?;
    }
    crate::files::write_atomic_path(path, |temp| workbook.save(temp).map_err(anyhow::Error::from))
}

/// The most room the MSP's logo takes on the Summary sheet, width and height in pixels (about
/// three rows high).
const LOGO_SIZE: (u32, u32) = (180, 56);

/// Periods of history a Scorecard trend shows.
const TREND_PERIODS: usize = 12;

/// The Scorecard: every KPI of the scope by its name (the brief's catalogue) with its id in a
/// column of its own, the scope by client name, value against baseline and target, the status,
/// and the trend as a sparkline drawn from the month values in the columns beside it (the last
/// 12 months), so the line and its numbers are both there.
fn write_scorecard(
    worksheet: &mut Worksheet,
    conn: &Connection,
    styles: &Styles,
    template: &super::template::Template,
) -> Result<Vec<Adjusted>> {
    let charts = sql::NamedQueries::read(CHARTS_FILE)?;
    let query = charts.bound(conn, "Scorecard")?;
    let (names, rows) = sql::rows(conn, query).context("building the Scorecard")?;
    let types: Vec<String> = sql::describe(conn, query)?.into_iter().map(|(_, t)| t).collect();
    // Month values of the same KPI and scope, this period's month the last.
    let (_, history) =
        sql::rows(conn, charts.bound(conn, "Scorecard trends")?).context("building the Scorecard trends")?;
    let mut months: Vec<String> = history.iter().map(|r| r[2].to_text()).collect();
    months.dedup();
    let months = months.split_off(months.len().saturating_sub(TREND_PERIODS));
    let values: std::collections::HashMap<(String, String, String), Cell> = history
        .into_iter()
        .map(|r| ((r[0].to_text(), r[1].to_text(), r[2].to_text()), r[3].clone()))
        .collect();

    let mut out_names = vec!["kpi".to_string()];
    out_names.extend(names.iter().cloned());
    out_names.push("trend".into());
    let first_month_col = out_names.len();
    out_names.extend(months.iter().map(|m| format!("value {m}")));
    let mut out_types = vec!["VARCHAR".to_string()];
    out_types.extend(types);
    out_types.push("VARCHAR".into());
    out_types.extend(months.iter().map(|_| "DOUBLE".to_string()));
    let out_rows: Vec<Vec<Cell>> = rows
        .iter()
        .map(|r| {
            let id = r[0].to_text();
            let mut row = vec![Cell::Text(template.measure_name(&id))];
            row.extend(r.iter().cloned());
            row.push(Cell::Null);
            let tenant = r[2].to_text();
            row.extend(months.iter().map(|m| {
                values
                    .get(&(id.clone(), tenant.clone(), m.clone()))
                    .cloned()
                    .unwrap_or(Cell::Null)
            }));
            row
        })
        .collect();
    let adjusted = fill_sheet(worksheet, "Scorecard", &out_names, &out_types, &out_rows, styles)?;
    // A line needs two months (and Excel's group of sparklines a 2D range).
    if !out_rows.is_empty() && months.len() > 1 {
        let (last_row, trend_col) = (out_rows.len() as u32, first_month_col as u16 - 1);
        let last_month_col = (first_month_col + months.len() - 1) as u16;
        let sparkline = Sparkline::new()
            .set_range(("Scorecard", 1, first_month_col as u16, last_row, last_month_col))
            .show_markers(true);
        worksheet.add_sparkline_group(1, trend_col, last_row, trend_col, &sparkline)?;
        worksheet.set_column_width(trend_col, 16)?;
    }
    Ok(adjusted)
}

/// A sheet's column names, their DuckDB types (dates and times are written as such) and rows.
pub(crate) type SheetData = (Vec<String>, Vec<String>, Vec<Vec<Cell>>);

pub(crate) fn query_sheet(conn: &Connection, name: &str, query: &str) -> Result<SheetData> {
    let (names, rows) = sql::rows(conn, query).with_context(|| format!("building the {name} sheet"))?;
    let types = sql::describe(conn, query)?.into_iter().map(|(_, t)| t).collect();
    Ok((names, types, rows))
}

/// The sheet of findings about the data: quarantined rows, incomplete records, and values this
/// workbook could not hold as they are.
const DATA_QUALITY: &str = "Data quality";

/// A value written otherwise than it is, because an Excel cell cannot hold it.
pub(crate) struct Adjusted {
    sheet: String,
    /// The row as Excel numbers it (the header is row 1).
    row: u32,
    column: String,
    what: String,
}

impl Adjusted {
    /// The Data quality sheet's row for it: finding, subject, detail, count.
    fn finding(&self) -> Vec<Cell> {
        vec![
            Cell::Text("value the workbook cannot hold".into()),
            Cell::Text(self.cell()),
            Cell::Text(self.what.clone()),
            Cell::Int(1),
        ]
    }

    fn cell(&self) -> String {
        format!("{} row {}, {}", self.sheet, self.row, self.column)
    }

    pub(crate) fn described(&self) -> String {
        format!("{}: {}", self.cell(), self.what)
    }
}

/// The rows under a sheet's header Excel holds (1,048,576 rows in all).
const EXCEL_DATA_ROWS: usize = 1_048_575;

/// The rows a sheet can hold, and how many there were when they do not all fit.
fn rows_that_fit(rows: &[Vec<Cell>], limit: usize) -> (&[Vec<Cell>], Option<usize>) {
    if rows.len() > limit {
        (&rows[..limit], Some(rows.len()))
    } else {
        (rows, None)
    }
}

/// One sheet: a header row, typed cells, an Excel table over them, a frozen header, fitted widths.
/// Returns the values written otherwise than they are (a date before 1900 as text, a text cut).
pub(crate) fn fill_sheet(
    worksheet: &mut Worksheet,
    sheet_name: &str,
    names: &[String],
    types: &[String],
    rows: &[Vec<Cell>],
    styles: &Styles,
) -> Result<Vec<Adjusted>> {
    let mut adjusted = Vec::new();
    worksheet.set_name(sheet_name)?;
    // A sheet holds 1,048,575 rows under its header: a longer list (the portfolio's missing
    // patches at a very large MSP) is cut there, said on the Data quality sheet, never a failed pack.
    let (rows, cut) = rows_that_fit(rows, EXCEL_DATA_ROWS);
    if let Some(all) = cut {
        adjusted.push(Adjusted {
            sheet: sheet_name.to_string(),
            row: EXCEL_DATA_ROWS as u32 + 1,
            column: "every column".into(),
            what: format!(
                "{all} rows in all; a sheet holds {EXCEL_DATA_ROWS}: the rest are in the lake's KPI outputs (govpack query)"
            ),
        });
    }
    // Values are rates unless a unit column says otherwise (hours, counts).
    let unit_column = names.iter().position(|n| n == "unit");
    for (c, name) in names.iter().enumerate() {
        worksheet.write_string_with_format(0, c as u16, name, &styles.header)?;
    }
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, cell) in row.iter().enumerate() {
            let (c16, name, ty) = (c as u16, names[c].as_str(), types[c].as_str());
            let mut adjust = |what: String| {
                adjusted.push(Adjusted {
                    sheet: sheet_name.to_string(),
                    row: r + 1,
                    column: name.to_string(),
                    what,
                })
            };
            match cell {
                Cell::Null => {}
                Cell::Bool(b) => {
                    worksheet.write_boolean(r, c16, *b)?;
                }
                Cell::Int(i) => {
                    worksheet.write_number_with_format(r, c16, *i as f64, &styles.number)?;
                }
                Cell::Float(f) => {
                    let unit = unit_column.and_then(|u| row.get(u));
                    let percent = name.contains("share")
                        || name.ends_with("_rate")
                        || ((matches!(name, "value" | "previous_value" | "baseline_value" | "target")
                            || name.starts_with("value "))
                            && unit.is_none_or(|u| *u == Cell::Text("ratio".into())));
                    let format = if percent { &styles.ratio } else { &styles.number };
                    worksheet.write_number_with_format(r, c16, *f, format)?;
                }
                // A date Excel cannot hold (before 1900, e.g. Windows' zero date 1601-01-01 in a
                // release date) is written as the text it is, not a failed workbook.
                Cell::Text(t) if ty == "DATE" => match ExcelDateTime::parse_from_str(t) {
                    Ok(day) => {
                        worksheet.write_datetime_with_format(r, c16, day, &styles.date)?;
                    }
                    Err(_) => {
                        worksheet.write_string(r, c16, t)?;
                        adjust(format!(
                            "the date {t} is outside Excel's dates (1900 to 9999): written as text"
                        ));
                    }
                },
                Cell::Text(t) if ty.starts_with("TIMESTAMP") => {
                    // DuckDB writes `2026-10-14 02:13:00[.ffffff][+00]`: minutes are enough here.
                    let minutes = t.get(..16).unwrap_or(t);
                    match ExcelDateTime::parse_from_str(minutes) {
                        Ok(dt) => worksheet.write_datetime_with_format(r, c16, dt, &styles.datetime)?,
                        Err(_) => {
                            adjust(format!(
                                "the time {t} is outside Excel's dates (1900 to 9999): written as text"
                            ));
                            worksheet.write_string(r, c16, t)?
                        }
                    };
                }
                Cell::Text(t) => {
                    let text = cell_text(t);
                    if let std::borrow::Cow::Owned(_) = text {
                        adjust(format!(
                            "a text of {} characters, cut to Excel's {EXCEL_CELL_CHARS} with a marker: whole in the bundle's CSVs and the lake",
                            t.chars().count()
                        ));
                    }
                    worksheet.write_string(r, c16, text)?;
                }
            }
        }
    }
    // Statuses and control results are colour-coded by conditional formatting, so a value edited
    // or filtered in Excel keeps its colour.
    for (c, name) in names.iter().enumerate() {
        if (name == "status" || name == "result") && !rows.is_empty() {
            let rules = [
                ("met", &styles.met),
                ("pass", &styles.met),
                ("improving", &styles.improving),
                ("no_population", &styles.improving),
                ("manual_evidence", &styles.improving),
                ("not_improving", &styles.not_improving),
                ("exceptions_found", &styles.not_improving),
                ("not met", &styles.not_improving),
                // Nothing measured, or figures from exports that stopped: a gap, not a pass.
                ("not_measured", &styles.not_improving),
                ("not_tested", &styles.not_improving),
                ("not tested", &styles.not_improving),
                ("stale", &styles.not_improving),
                ("not judged", &styles.not_improving),
                ("lower_bound", &styles.improving),
                ("no_baseline", &styles.plain),
                ("info", &styles.plain),
                ("no_data", &styles.plain),
            ];
            // A code, and its plain words where a sheet shows those.
            let words = rules.iter().flat_map(|&(code, format)| {
                std::iter::once((code, format))
                    .chain(styles.status_words.get(code).map(|w| (w.as_str(), format)))
            });
            for (word, format) in words {
                let rule = ConditionalFormatText::new()
                    .set_rule(ConditionalFormatTextRule::BeginsWith(word.to_string()))
                    .set_format(format);
                worksheet.add_conditional_format(1, c as u16, rows.len() as u32, c as u16, &rule)?;
            }
        }
    }
    if !names.is_empty() {
        let columns: Vec<TableColumn> = names.iter().map(|n| TableColumn::new().set_header(n)).collect();
        let table = Table::new().set_columns(&columns).set_style(TableStyle::Medium2);
        worksheet.add_table(0, 0, rows.len().max(1) as u32, names.len() as u16 - 1, &table)?;
    }
    worksheet.set_freeze_panes(1, 0)?;
    worksheet.autofit();
    // Printed (or saved as PDF) for a review meeting: whole rows across, the header on each page.
    worksheet.set_landscape();
    worksheet.set_print_fit_to_pages(1, 0);
    worksheet.set_repeat_rows(0, 0)?;
    Ok(adjusted)
}

/// The Charts sheet: each chart beside the small table it draws, so the numbers stay visible.
/// Compliance by policy tier, required instances by patch age, the compliance and change-success
/// trend over every computed period, and the failure Pareto (portfolio only).
fn write_charts(workbook: &mut Workbook, conn: &Connection, styles: &Styles) -> Result<()> {
    let charts = sql::NamedQueries::read(CHARTS_FILE)?;
    // Each chart's data is the named query of its title.
    let blocks: [(&str, ChartType, &str); 4] = [
        ("Patch compliance by policy tier", ChartType::Column, "0%"),
        (
            "Required patch instances by age (days since release)",
            ChartType::Column,
            "0",
        ),
        (
            "Trend: patch compliance and change success",
            ChartType::Line,
            "0%",
        ),
        ("Failure Pareto (top 10 patterns)", ChartType::Column, "0"),
    ];
    let sheet = workbook.add_worksheet();
    sheet.set_name("Charts")?;
    let mut row: u32 = 0;
    for (title, kind, number_format) in blocks {
        let (names, rows) = sql::rows(conn, charts.bound(conn, title)?)
            .with_context(|| format!("building the chart data of {title}"))?;
        sheet.write_string_with_format(row, 0, title, &styles.header)?;
        for (c, name) in names.iter().enumerate() {
            sheet.write_string_with_format(row + 1, c as u16, name, &styles.header)?;
        }
        for (r, cells) in rows.iter().enumerate() {
            for (c, cell) in cells.iter().enumerate() {
                let (r, c) = (row + 2 + r as u32, c as u16);
                match cell {
                    Cell::Int(i) => sheet.write_number(r, c, *i as f64)?,
                    // The chart's own numbers read as the chart does: rates as percentages.
                    Cell::Float(f) if number_format == "0%" => {
                        sheet.write_number_with_format(r, c, *f, &styles.ratio)?
                    }
                    Cell::Float(f) => sheet.write_number(r, c, *f)?,
                    Cell::Null => sheet,
                    other => sheet.write_string(r, c, cell_text(&other.to_text()))?,
                };
            }
        }
        if !rows.is_empty() {
            let (first, last) = (row + 2, row + 1 + rows.len() as u32);
            let mut chart = Chart::new(kind);
            chart.title().set_name(title);
            // The Pareto's cumulative share is a different scale: the failures bars carry it.
            let series_columns = if title.starts_with("Failure") {
                1..2
            } else {
                1..names.len()
            };
            for c in series_columns {
                chart
                    .add_series()
                    .set_name(("Charts", row + 1, c as u16))
                    .set_categories(("Charts", first, 0, last, 0))
                    .set_values(("Charts", first, c as u16, last, c as u16));
            }
            chart.y_axis().set_num_format(number_format);
            if number_format == "0%" {
                chart.y_axis().set_min(0.0).set_max(1.0);
            }
            sheet.insert_chart(row, 5, &chart)?;
        }
        // Room for the chart (15 rows) or the table, whichever is taller.
        row += (rows.len() as u32 + 3).max(17);
    }
    sheet.set_column_width(0, 34)?;
    Ok(())
}

/// The most characters an Excel cell holds.
const EXCEL_CELL_CHARS: usize = 32_767;

/// Text as a cell can hold it: a text longer than Excel allows (a cell of a lake written before
/// ingest bounded text, a list joined from many rows) is cut, with a marker that says so, instead
/// of failing the workbook; the CSVs of the bundle and the lake keep it whole.
fn cell_text(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().count() <= EXCEL_CELL_CHARS {
        return text.into();
    }
    let marker = format!(
        " [... cut: {} characters in all; the whole text is in the bundle's CSVs and the lake]",
        text.chars().count()
    );
    let kept: String = text
        .chars()
        .take(EXCEL_CELL_CHARS - marker.chars().count())
        .collect();
    format!("{kept}{marker}").into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_longer_than_a_sheet_is_cut_at_the_limit_and_says_how_long_it_was() {
        let rows: Vec<Vec<Cell>> = (0..5).map(|i| vec![Cell::Int(i)]).collect();
        let (kept, cut) = rows_that_fit(&rows, 3);
        assert_eq!(kept.len(), 3);
        assert_eq!(cut, Some(5));
        let (kept, cut) = rows_that_fit(&rows, 5);
        assert_eq!((kept.len(), cut), (5, None));
    }

    #[test]
    fn a_text_longer_than_a_cell_is_cut_with_a_marker_and_a_text_that_fits_is_whole() {
        let fits = "é".repeat(EXCEL_CELL_CHARS);
        assert_eq!(cell_text(&fits), fits.as_str());
        let long = "x".repeat(40_000);
        let cut = cell_text(&long);
        assert_eq!(cut.chars().count(), EXCEL_CELL_CHARS);
        assert!(cut.ends_with(
            " [... cut: 40000 characters in all; the whole text is in the bundle's CSVs and the lake]"
        ));
    }
}
