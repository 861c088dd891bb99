//! `proof-brief.pdf`: the evidence summary an auditor or a client executive reads in five
//! minutes. Wording and fonts come from `report_templates/` (proof_brief.toml, an embedded open
//! font); the figures from the period's KPI outputs. A4 pages with a running header, page
//! numbers, text wrapped by the font's real glyph widths, tables that repeat their header when
//! they break across pages, and bar charts drawn in the PDF.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use duckdb::{Connection, OptionalExt};
use printpdf::{
    Color, FontId, Line, LinePoint, Mm, OffsetDateTime, Op, PaintMode, ParsedFont, PdfDocument, PdfFont,
    PdfFontHandle, PdfPage, PdfSaveOptions, Point, Pt, RawImage, RawImageData, RawImageFormat, Rect, Rgb,
    TextItem, XObject, XObjectId, XObjectTransform,
};
use serde::Deserialize;

use super::summary::{plain, shown};
use crate::sql::{self, Cell};

pub const FILE: &str = "proof_brief.toml";

/// The proof brief's wording, from `report_templates/proof_brief.toml`, with the KPIs' names and
/// definitions (`catalog::words`).
pub fn template() -> Result<Template> {
    let file = crate::shipped::TEMPLATES.read(FILE)?;
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

fn headers(labels: &[String]) -> Vec<&str> {
    labels.iter().map(String::as_str).collect()
}

/// Clients the brief's league table shows; the workbook's Clients sheet has them all.
const LEAGUE_ROWS: usize = 25;

/// The brief's figures and tables, as named queries.
const QUERIES: &str = "reports/proof_brief.sql";

const MARGIN: f32 = 50.0;
/// The most room the MSP's logo takes on the first page, width and height in points.
const LOGO_BOX: (f32, f32) = (130.0, 40.0);
const BODY: f32 = 9.5;

struct Font {
    id: FontId,
    parsed: ParsedFont,
}

impl Font {
    /// The width of a text at a size, from the font's glyph advances.
    fn width(&self, text: &str, size: f32) -> f32 {
        self.points(text.chars().map(|c| self.advance(c)).sum(), size)
    }

    /// A character's advance in font units (whole numbers, so sums are exact in any order).
    fn advance(&self, c: char) -> u32 {
        let gid = self.parsed.lookup_glyph_index(c as u32).unwrap_or(0);
        u32::from(self.parsed.get_glyph_width(gid).unwrap_or(500))
    }

    /// A sum of advances as a width at a size.
    fn points(&self, advances: u32, size: f32) -> f32 {
        advances as f32 * size / f32::from(self.parsed.units_per_em.max(1))
    }
}

/// A word cut into pieces that each fit (`fits`), with their advances. A word wider than the
/// column (a file path, a long id) is broken after a `/`, `-`, `_` or `.` in the second half of
/// what fits, else after the last character that fits, so it never runs into the next column.
fn word_pieces<'w>(word: &'w str, font: &Font, fits: &dyn Fn(u32) -> bool) -> Vec<(&'w str, u32)> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut advances = 0u32;
    // Where the piece may break (the byte after the mark) and the advances up to there.
    let mut last_mark: Option<(usize, u32)> = None;
    for (at, c) in word.char_indices() {
        let advance = font.advance(c);
        if at > start && !fits(advances + advance) {
            let (cut, cut_advances) = match last_mark {
                Some((mark, upto)) if mark - start > (at - start) / 2 => (mark, upto),
                _ => (at, advances),
            };
            pieces.push((&word[start..cut], cut_advances));
            start = cut;
            advances -= cut_advances;
            last_mark = None;
            if at > start && !fits(advances + advance) {
                pieces.push((&word[start..at], advances));
                start = at;
                advances = 0;
            }
        }
        advances += advance;
        if matches!(c, '/' | '-' | '_' | '.') {
            last_mark = Some((at + c.len_utf8(), advances));
        }
    }
    if start < word.len() {
        pieces.push((&word[start..], advances));
    }
    pieces
}

/// A page being filled top to bottom.
struct Writer {
    pages: Vec<Vec<Op>>,
    /// The page's width and height in points (`[report] paper`).
    page_w: f32,
    page_h: f32,
    y: f32,
    regular: Font,
    bold: Font,
    running_header: String,
}

impl Writer {
    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = self.page_h - MARGIN;
        let header = self.running_header.clone();
        self.text_at(
            &header,
            MARGIN,
            self.page_h - 30.0,
            8.0,
            false,
            Rgb::new(0.4, 0.4, 0.4, None),
        );
        self.rule(self.page_h - 35.0);
    }

    fn ensure(&mut self, height: f32) {
        if self.pages.is_empty() || self.y - height < MARGIN + 20.0 {
            self.new_page();
        }
    }

    fn ops(&mut self) -> &mut Vec<Op> {
        self.pages.last_mut().expect("a page")
    }

    fn text_at(&mut self, text: &str, x: f32, y: f32, size: f32, bold: bool, color: Rgb) {
        let font = if bold {
            self.bold.id.clone()
        } else {
            self.regular.id.clone()
        };
        self.ops().extend([
            Op::StartTextSection,
            Op::SetFillColor {
                col: Color::Rgb(color),
            },
            Op::SetFont {
                font: PdfFontHandle::External(font),
                size: Pt(size),
            },
            Op::SetTextCursor {
                pos: Point { x: Pt(x), y: Pt(y) },
            },
            Op::ShowText {
                items: vec![TextItem::Text(text.to_string())],
            },
            Op::EndTextSection,
        ]);
    }

    fn rule(&mut self, y: f32) {
        let right = self.page_w - MARGIN;
        self.ops().extend([
            Op::SetOutlineColor {
                col: Color::Rgb(Rgb::new(0.75, 0.75, 0.75, None)),
            },
            Op::SetOutlineThickness { pt: Pt(0.5) },
            Op::DrawLine {
                line: Line {
                    points: vec![
                        LinePoint {
                            p: Point {
                                x: Pt(MARGIN),
                                y: Pt(y),
                            },
                            bezier: false,
                        },
                        LinePoint {
                            p: Point {
                                x: Pt(right),
                                y: Pt(y),
                            },
                            bezier: false,
                        },
                    ],
                    is_closed: false,
                },
            },
        ]);
    }

    fn polyline(&mut self, points: &[(f32, f32)], color: Rgb, thickness: f32) {
        if points.len() < 2 {
            return;
        }
        self.ops().extend([
            Op::SetOutlineColor {
                col: Color::Rgb(color),
            },
            Op::SetOutlineThickness { pt: Pt(thickness) },
            Op::DrawLine {
                line: Line {
                    points: points
                        .iter()
                        .map(|&(x, y)| LinePoint {
                            p: Point { x: Pt(x), y: Pt(y) },
                            bezier: false,
                        })
                        .collect(),
                    is_closed: false,
                },
            },
        ]);
    }

    /// A line chart of rates (0 to 100%) over months: one line per series, a marker per month
    /// with a value, a gap where a month has none, gridlines at 0, 50 and 100%, a legend below.
    fn line_chart(&mut self, title: &str, months: &[String], series: &[(String, Rgb, Vec<Option<f64>>)]) {
        if months.len() < 2 {
            return;
        }
        let (height, axis_w) = (110.0, 34.0);
        self.ensure(height + 70.0);
        self.y -= 14.0;
        self.text_at(title, MARGIN, self.y, 9.5, true, Rgb::new(0.2, 0.2, 0.2, None));
        let (left, bottom) = (MARGIN + axis_w, self.y - 12.0 - height);
        let width = self.page_w - 2.0 * MARGIN - axis_w - 10.0;
        let grey = Rgb::new(0.45, 0.45, 0.45, None);
        for share in [0.0f32, 0.5, 1.0] {
            let y = bottom + share * height;
            self.polyline(
                &[(left, y), (left + width, y)],
                Rgb::new(0.85, 0.85, 0.85, None),
                0.5,
            );
            self.text_at(
                &format!("{:.0}%", share * 100.0),
                MARGIN,
                y - 3.0,
                7.5,
                false,
                grey.clone(),
            );
        }
        let step = width / (months.len() - 1) as f32;
        let x_of = |i: usize| left + i as f32 * step;
        // Month labels, thinned so they never overlap.
        let every = months.len().div_ceil(12);
        for (i, month) in months
            .iter()
            .enumerate()
            .filter(|(i, _)| i % every == 0 || *i == months.len() - 1)
        {
            let w = self.regular.width(month, 7.5);
            self.text_at(month, x_of(i) - w / 2.0, bottom - 11.0, 7.5, false, grey.clone());
        }
        for (_, color, values) in series {
            let points: Vec<Option<(f32, f32)>> = values
                .iter()
                .enumerate()
                .map(|(i, v)| v.map(|v| (x_of(i), bottom + v.clamp(0.0, 1.0) as f32 * height)))
                .collect();
            for run in points.split(Option::is_none) {
                let run: Vec<(f32, f32)> = run.iter().flatten().copied().collect();
                self.polyline(&run, color.clone(), 1.5);
            }
            for &(x, y) in points.iter().flatten() {
                self.rect(x - 1.8, y - 1.8, 3.6, 3.6, color.clone());
            }
        }
        self.y = bottom - 26.0;
        let mut x = MARGIN + axis_w;
        for (name, color, _) in series {
            self.rect(x, self.y + 1.0, 10.0, 3.0, color.clone());
            self.text_at(
                name,
                x + 14.0,
                self.y - 1.0,
                8.0,
                false,
                Rgb::new(0.0, 0.0, 0.0, None),
            );
            x += 24.0 + self.regular.width(name, 8.0);
        }
        self.y -= 8.0;
    }

    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Rgb) {
        self.ops().extend([
            Op::SetFillColor {
                col: Color::Rgb(color),
            },
            Op::DrawRectangle {
                rectangle: Rect {
                    mode: Some(PaintMode::Fill),
                    ..Rect::from_xywh(Pt(x), Pt(y), Pt(w), Pt(h))
                },
            },
        ]);
    }

    /// `text`, shortened with an ellipsis until it fits `width` at `size`.
    fn fit(&self, text: &str, width: f32, size: f32) -> String {
        let mut t = text.to_string();
        if self.regular.width(&t, size) <= width {
            return t;
        }
        while t.chars().count() > 1 && self.regular.width(&format!("{t}…"), size) > width {
            t.pop();
        }
        format!("{}…", t.trim_end())
    }

    /// Lines of `text` that fit `width` at `size`, broken at spaces.
    /// Breaks a text into lines no wider than `width`, in one pass over its characters (each
    /// character's advance is looked up once), so a text of any length takes time in proportion
    /// to it: a 5 MB client name once took an hour in a wrapper that re-measured every prefix.
    fn wrap(&self, text: &str, width: f32, size: f32, bold: bool) -> Vec<String> {
        let font = if bold { &self.bold } else { &self.regular };
        let fits = |advances: u32| font.points(advances, size) <= width;
        let space = font.advance(' ');
        let mut lines = Vec::new();
        let mut line = String::new();
        let mut line_advances = 0u32;
        for word in text.split_whitespace() {
            for (i, (piece, advances)) in word_pieces(word, font, &fits).into_iter().enumerate() {
                // The first piece of a word follows a space; the others continue the word.
                let gap = if line.is_empty() || i > 0 { 0 } else { space };
                if !line.is_empty() && !fits(line_advances + gap + advances) {
                    lines.push(std::mem::take(&mut line));
                    line_advances = 0;
                } else if gap > 0 {
                    line.push(' ');
                    line_advances += gap;
                }
                line.push_str(piece);
                line_advances += advances;
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
        lines
    }

    fn heading(&mut self, text: &str) {
        // A heading keeps the start of its section with it: never alone at a page's foot.
        self.ensure(150.0);
        self.y -= 18.0;
        self.text_at(text, MARGIN, self.y, 13.0, true, Rgb::new(0.12, 0.22, 0.39, None));
        self.y -= 8.0;
    }

    /// A bold line that opens a part of a section, kept with what follows.
    fn subheading(&mut self, text: &str) {
        self.ensure(60.0);
        self.y -= 16.0;
        self.text_at(text, MARGIN, self.y, 10.5, true, Rgb::new(0.2, 0.2, 0.2, None));
        self.y -= 2.0;
    }

    fn paragraph(&mut self, text: &str) {
        self.styled_paragraph(text, false, Rgb::new(0.0, 0.0, 0.0, None));
    }

    /// A paragraph in bold dark red: what a reader must know before reading the figures.
    fn warning(&mut self, text: &str) {
        self.styled_paragraph(text, true, Rgb::new(0.6, 0.1, 0.1, None));
    }

    fn styled_paragraph(&mut self, text: &str, bold: bool, color: Rgb) {
        for line in self.wrap(text, self.page_w - 2.0 * MARGIN, BODY, bold) {
            self.ensure(14.0);
            self.y -= 13.0;
            self.text_at(&line, MARGIN, self.y, BODY, bold, color.clone());
        }
        self.y -= 4.0;
    }

    /// A table: column widths as shares of the text width; the header repeats on a new page.
    fn table(&mut self, headers: &[&str], shares: &[f32], rows: &[Vec<String>]) {
        let total = self.page_w - 2.0 * MARGIN;
        let widths: Vec<f32> = shares.iter().map(|s| s * total).collect();
        let draw_header = |w: &mut Writer| {
            w.ensure(30.0);
            w.y -= 15.0;
            w.rect(MARGIN, w.y - 4.0, total, 15.0, Rgb::new(0.12, 0.22, 0.39, None));
            let mut x = MARGIN + 3.0;
            for (h, width) in headers.iter().zip(&widths) {
                w.text_at(h, x, w.y, 8.5, true, Rgb::new(1.0, 1.0, 1.0, None));
                x += width;
            }
        };
        draw_header(self);
        for row in rows {
            let cells: Vec<Vec<String>> = row
                .iter()
                .zip(&widths)
                .map(|(c, width)| self.wrap(c, width - 6.0, 8.5, false))
                .collect();
            let height = cells.iter().map(Vec::len).max().unwrap_or(1).max(1) as f32 * 11.0 + 3.0;
            if self.y - height < MARGIN + 20.0 {
                self.new_page();
                draw_header(self);
            }
            let mut x = MARGIN + 3.0;
            for (lines, width) in cells.iter().zip(&widths) {
                for (i, line) in lines.iter().enumerate() {
                    self.text_at(
                        line,
                        x,
                        self.y - 13.0 - i as f32 * 11.0,
                        8.5,
                        false,
                        Rgb::new(0.0, 0.0, 0.0, None),
                    );
                }
                x += width;
            }
            self.y -= height;
            self.rule(self.y - 2.0);
        }
        self.y -= 6.0;
    }

    /// Horizontal bars of values in 0..=max with their labels and printed values.
    fn bars(&mut self, title: &str, items: &[(String, f64, String)], max: f64) {
        if items.is_empty() {
            return;
        }
        self.ensure(30.0 + items.len() as f32 * 16.0);
        self.y -= 14.0;
        self.text_at(title, MARGIN, self.y, 9.5, true, Rgb::new(0.2, 0.2, 0.2, None));
        let (label_w, bar_w) = (165.0, self.page_w - 2.0 * MARGIN - 165.0 - 130.0);
        for (label, value, shown) in items {
            self.y -= 16.0;
            let label = self.fit(label, label_w - 8.0, 8.5);
            self.text_at(
                &label,
                MARGIN,
                self.y + 2.0,
                8.5,
                false,
                Rgb::new(0.0, 0.0, 0.0, None),
            );
            let w = if max > 0.0 {
                (value / max).clamp(0.0, 1.0) as f32 * bar_w
            } else {
                0.0
            };
            self.rect(
                MARGIN + label_w,
                self.y,
                bar_w,
                11.0,
                Rgb::new(0.92, 0.92, 0.92, None),
            );
            self.rect(
                MARGIN + label_w,
                self.y,
                w,
                11.0,
                Rgb::new(0.27, 0.45, 0.77, None),
            );
            self.text_at(
                shown,
                MARGIN + label_w + bar_w + 6.0,
                self.y + 2.0,
                8.5,
                false,
                Rgb::new(0.0, 0.0, 0.0, None),
            );
        }
        self.y -= 10.0;
    }
}

fn load_font(doc: &mut PdfDocument, file: &str) -> Result<Font> {
    let font = crate::shipped::TEMPLATES
        .read(file)
        .context("cannot read a font of the brief")?;
    let parsed = ParsedFont::from_bytes(&font.bytes, 0, &mut Vec::new())
        .ok_or_else(|| anyhow::anyhow!("{} is not a font govpack can embed", font.origin))?;
    // printpdf's `add_font` names a font from a process-wide random sequence, so the second brief
    // a process wrote differed in bytes from the first, and so did the bundle's digest. The
    // font's name here comes from its file instead.
    let name: String = file.chars().filter(char::is_ascii_alphanumeric).collect();
    let id = FontId(format!("Govpack{name}"));
    doc.resources
        .fonts
        .map
        .insert(id.clone(), PdfFont::new(parsed.clone()));
    Ok(Font { id, parsed })
}

/// A PNG as the pixels printpdf embeds (8 bits a sample; the alpha becomes the image's mask).
pub(super) fn decoded_png(bytes: &[u8]) -> Result<RawImage> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info()?;
    let mut pixels = vec![0; reader.output_buffer_size().context("the PNG is too large")?];
    let frame = reader.next_frame(&mut pixels)?;
    pixels.truncate(frame.buffer_size());
    let data_format = match frame.color_type {
        png::ColorType::Grayscale => RawImageFormat::R8,
        png::ColorType::GrayscaleAlpha => RawImageFormat::RG8,
        png::ColorType::Rgb => RawImageFormat::RGB8,
        png::ColorType::Rgba => RawImageFormat::RGBA8,
        // normalize_to_color8 expands palettes: an indexed frame never comes out.
        png::ColorType::Indexed => anyhow::bail!("an indexed PNG the decoder did not expand"),
    };
    Ok(RawImage {
        pixels: RawImageData::U8(pixels),
        width: frame.width as usize,
        height: frame.height as usize,
        data_format,
        tag: Vec::new(),
    })
}

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
    period_start: &str,
    scope: &str,
    evidence_digest: Option<&str>,
    brand: &super::Brand,
    path: &Path,
) -> Result<()> {
    let template = template()?;
    let section = |key: &str| {
        template
            .sections
            .get(key)
            .cloned()
            .unwrap_or_else(|| key.to_string())
    };
    let period = format!("period_start = date {}", sql::string_literal(period_start));
    let label = period_start.get(..7).unwrap_or(period_start);
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

    let mut doc = PdfDocument::new(&template.title);
    let (regular, bold) = (
        load_font(&mut doc, &template.font)?,
        load_font(&mut doc, &template.bold_font)?,
    );
    let (page_w, page_h) = brand.paper.points();
    let mut w = Writer {
        pages: Vec::new(),
        page_w,
        page_h,
        y: 0.0,
        regular,
        bold,
        running_header: format!("{} | {} | {}", template.title, scope_name, label),
    };
    w.new_page();
    if let Some(png) = &brand.logo {
        // Top right of the first page, within LOGO_BOX, the title below it (a long title would
        // run under a logo beside it).
        let image = decoded_png(png).context("report.logo")?;
        let (width, height) = (image.width as f32, image.height as f32);
        let fit = (LOGO_BOX.0 / width).min(LOGO_BOX.1 / height);
        let id = XObjectId("GovpackLogo".into());
        doc.resources
            .xobjects
            .map
            .insert(id.clone(), XObject::Image(image));
        let (x, top) = (w.page_w - MARGIN - width * fit, w.page_h - MARGIN + 8.0);
        w.ops().push(Op::UseXobject {
            id,
            transform: XObjectTransform {
                translate_x: Some(Pt(x)),
                translate_y: Some(Pt(top - height * fit)),
                scale_x: Some(fit),
                scale_y: Some(fit),
                dpi: Some(72.0),
                ..Default::default()
            },
        });
        w.y = top - height * fit;
    }
    w.y -= 20.0;
    let title = template.title.clone();
    w.text_at(&title, MARGIN, w.y, 18.0, true, Rgb::new(0.12, 0.22, 0.39, None));
    w.y -= 10.0;

    let queries = sql::NamedQueries::read(QUERIES)?;
    let day = format!("date {}", sql::string_literal(period_start));
    let query = |name: &str| queries.fill(name, &[("p", &period), ("period_start", &day)]);
    let (_, facts) = sql::rows(conn, &query("period")?)?;
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
    let summary = super::summary::build(conn, period_start)?;
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
    let (_, kpis) = sql::rows(conn, &query("kpis")?)?;
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
        let (_, clients) = sql::rows(conn, &league.fill("Clients", &[("p", &period)])?)?;
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

    write_kev_exposure(&mut w, conn, &period, &section("vulnerability"), labels)?;

    w.heading(&section("compliance"));
    // The trend: this period's month and the 11 before it, as the workbook's sparklines.
    let trend_kpis = [
        ("patch_compliance_rate", Rgb::new(0.12, 0.22, 0.39, None)),
        ("change_success_rate", Rgb::new(0.85, 0.45, 0.1, None)),
    ];
    let (_, history) = sql::rows(conn, &query("trend")?)?;
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
    let (_, tiers) = sql::rows(conn, &query("tiers")?)?;
    let tier_bars: Vec<(String, f64, String)> = tiers
        .iter()
        .map(|r| {
            let v = if let Cell::Float(f) = r[1] { f } else { 0.0 };
            (plain(&r[0].to_text()), v, shown(&r[1], "ratio"))
        })
        .collect();
    w.bars(&labels.tier_chart, &tier_bars, 1.0);
    let (_, ages) = sql::rows(conn, &query("age-buckets")?)?;
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
        let (_, patterns) = sql::rows(conn, &query("failure-patterns")?)?;
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
    let sheets = registers.sheets(conn, period_start)?;
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
    let objectives: Vec<Vec<String>> = super::objectives::build(conn, period_start, words)?
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

    // Page numbers, now that the page count is known.
    let count = w.pages.len();
    for i in 0..count {
        let text = format!("Page {} of {count}", i + 1);
        let width = w.regular.width(&text, 8.0);
        let font = w.regular.id.clone();
        w.pages[i].extend([
            Op::StartTextSection,
            Op::SetFillColor {
                col: Color::Rgb(Rgb::new(0.4, 0.4, 0.4, None)),
            },
            Op::SetFont {
                font: PdfFontHandle::External(font),
                size: Pt(8.0),
            },
            Op::SetTextCursor {
                pos: Point {
                    x: Pt(w.page_w - MARGIN - width),
                    y: Pt(25.0),
                },
            },
            Op::ShowText {
                items: vec![TextItem::Text(text)],
            },
            Op::EndTextSection,
        ]);
    }
    doc.metadata.info.document_title = format!("{} ({scope_shown}, {label})", template.title);
    doc.metadata.info.author = "govpack".into();
    let now = OffsetDateTime::from_unix_timestamp(super::document_instant(conn, period_start)?.timestamp())
        .map_err(|e| anyhow::anyhow!("cannot date the proof brief: {e}"))?;
    doc.metadata.info.creation_date = now;
    doc.metadata.info.modification_date = now;
    doc.metadata.info.metadata_date = now;
    doc.metadata.info.creator = format!("govpack {}", env!("CARGO_PKG_VERSION"));
    doc.metadata.info.subject = format!("Patch and change governance evidence, {scope_shown}, {label}");
    let pages: Vec<PdfPage> = w
        .pages
        .into_iter()
        .map(|ops| {
            let (width, height) = brand.paper.millimetres();
            PdfPage::new(Mm(width), Mm(height), ops)
        })
        .collect();
    let mut bytes = doc
        .with_pages(pages)
        .save(&PdfSaveOptions::default(), &mut Vec::new());
    pin_document_id(&mut bytes)?;
    crate::files::write_atomic(path, |f| {
        use std::io::Write;
        f.write_all(&bytes).map_err(Into::into)
    })
}

/// The brief's vulnerability exposure: exposed and overdue devices by client (the worst 25), and
/// the KEV CVEs still open with their deadlines; or, without the reference data, which file to
/// ingest (the KPIs are null then, never 0).
fn write_kev_exposure(
    w: &mut Writer,
    conn: &Connection,
    period: &str,
    heading: &str,
    labels: &Labels,
) -> Result<()> {
    w.heading(heading);
    let queries = sql::NamedQueries::read(QUERIES)?;
    let query = |name: &str| queries.fill(name, &[("p", period)]);
    let (measurement, note): (Option<String>, Option<String>) = conn
        .query_row(&query("kev-measurement")?, [], |r| Ok((r.get(0)?, r.get(1)?)))
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
    let (_, mut clients) = sql::rows(conn, &query("kev-clients")?)?;
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
    let (_, cves) = sql::rows(conn, &query("kev-cves")?)?;
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

/// printpdf fills the trailer's document ID (`/ID[(..)(..)]`, two 32-character strings) from a
/// process-wide sequence, so a brief's bytes (and its bundle's digest) depended on how many PDFs
/// the process had written before: `report --all-tenants` and `report --tenant X` gave one
/// tenant two digests. The ID becomes a digest of the document itself, as the PDF standard
/// suggests (ISO 32000-1, 14.4), written over the same bytes so no offset moves.
fn pin_document_id(pdf: &mut [u8]) -> Result<()> {
    const OPEN: &[u8] = b"/ID[(";
    const ID_LEN: usize = 32;
    let trailer = pdf
        .windows(b"trailer".len())
        .rposition(|w| w == b"trailer")
        .ok_or_else(|| anyhow::anyhow!("the proof brief has no PDF trailer"))?;
    let start = pdf[trailer..]
        .windows(OPEN.len())
        .position(|w| w == OPEN)
        .map(|at| trailer + at + OPEN.len())
        .ok_or_else(|| anyhow::anyhow!("the proof brief's trailer has no document ID"))?;
    let second = start + ID_LEN + 2;
    if pdf.get(start + ID_LEN..second) != Some(b")(".as_slice())
        || pdf.get(second + ID_LEN..second + ID_LEN + 2) != Some(b")]".as_slice())
    {
        anyhow::bail!("the proof brief's document ID is not two {ID_LEN}-character strings");
    }
    for at in [start, second] {
        pdf[at..at + ID_LEN].fill(b'0');
    }
    let hex = crate::files::sha256_hex(pdf);
    for at in [start, second] {
        pdf[at..at + ID_LEN].copy_from_slice(&hex.as_bytes()[..ID_LEN]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer() -> Writer {
        let mut doc = PdfDocument::new("test");
        let (page_w, page_h) = crate::config::Paper::A4.points();
        Writer {
            pages: Vec::new(),
            page_w,
            page_h,
            y: 0.0,
            regular: load_font(&mut doc, "fonts/DejaVuSans.ttf").unwrap(),
            bold: load_font(&mut doc, "fonts/DejaVuSans-Bold.ttf").unwrap(),
            running_header: String::new(),
        }
    }

    #[test]
    fn every_wrapped_line_fits_and_the_lines_hold_the_text_in_order() {
        let w = writer();
        let text = "Patch compliance at Harbor Freight Logistics: C:/ProgramData/CentraStage/AEMAgent/\
                    RMM.AdvancedThreatDetection/logs/agent-2026-10-31.log was rotated; KB5044284 \
                    failed 3 times.";
        for width in [40.0, 90.0, 200.0, 495.0] {
            let lines = w.wrap(text, width, BODY, false);
            for line in &lines {
                assert!(
                    w.regular.width(line, BODY) <= width || line.chars().count() == 1,
                    "{line:?} is wider than {width}"
                );
            }
            let squashed: String = text.split_whitespace().collect();
            assert_eq!(lines.concat().replace(' ', ""), squashed, "at {width}");
        }
        // A path breaks after a separator in the second half of what fits, not mid-name.
        let lines = w.wrap(
            "C:/ProgramData/CentraStage/AEMAgent/RMM.AdvancedThreatDetection",
            120.0,
            BODY,
            false,
        );
        assert!(lines[0].ends_with('/') || lines[0].ends_with('.'), "{lines:?}");
    }

    #[test]
    fn a_text_of_megabytes_wraps_in_one_pass() {
        // A 5 MB client name kept `report` busy for an hour in a wrapper that re-measured every
        // prefix; in one pass it is a few million glyph lookups.
        let w = writer();
        let name = "Acme".repeat(1_250_000);
        let lines = w.wrap(&name, 495.0, BODY, true);
        assert_eq!(lines.concat(), name);
        assert!(lines.len() > 1000);
    }
}
