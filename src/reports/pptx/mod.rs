//! A small PresentationML writer: the slides of a deck (titles, text, tables, native line charts
//! with their data embedded as a workbook, pictures, speaker notes) into a `.pptx` package. No
//! well-kept crate writes PPTX, so this writes the OOXML parts itself, with `zip` (the version
//! rust_xlsxwriter builds) and `quick-xml` for escaping and for reading a template.
//!
//! Every deck starts from a base package whose slide masters, layouts and theme it uses: the
//! built-in one (`theme.xml` and the masters beside this file), or an MSP's own `.pptx`
//! (`[report] deck_template`) with its slides taken out. Both go through the same steps, so the
//! built-in deck tests the template path. Slides are laid out on a 13.33 x 7.5 inch canvas and
//! scaled to the base's slide size.
//!
//! The package is byte-for-byte the same for the same deck and date (zip times and document
//! dates come from the caller), so a bundle's manifest digest can be derived again.

mod base;
mod chart;

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

pub use base::Base;

/// Where a shape sits, in inches on a 13.33 x 7.5 inch (16:9) canvas.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Frame {
    pub const fn new(x: f64, y: f64, w: f64, h: f64) -> Frame {
        Frame { x, y, w, h }
    }
}

/// A colour as six hex digits (`1F3864`).
pub type Rgb = &'static str;

/// One paragraph of a text box.
#[derive(Debug, Clone)]
pub struct Paragraph {
    pub text: String,
    pub size: f64,
    pub bold: bool,
    pub color: Option<Rgb>,
    pub bullet: bool,
}

impl Paragraph {
    pub fn new(text: impl Into<String>, size: f64) -> Paragraph {
        Paragraph {
            text: text.into(),
            size,
            bold: false,
            color: None,
            bullet: false,
        }
    }
    pub fn bold(mut self) -> Paragraph {
        self.bold = true;
        self
    }
    pub fn color(mut self, color: Rgb) -> Paragraph {
        self.color = Some(color);
        self
    }
    pub fn bullet(mut self) -> Paragraph {
        self.bullet = true;
        self
    }
}

/// A table cell: its text, and a colour for the text when it carries a judgement.
#[derive(Debug, Clone, Default)]
pub struct TableCell {
    pub text: String,
    pub color: Option<Rgb>,
    pub bold: bool,
}

impl From<String> for TableCell {
    fn from(text: String) -> TableCell {
        TableCell {
            text,
            ..TableCell::default()
        }
    }
}

impl From<&str> for TableCell {
    fn from(text: &str) -> TableCell {
        TableCell::from(text.to_string())
    }
}

/// A series of a line chart: its name, colour and one value per category (`None`: no point).
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub color: Rgb,
    pub values: Vec<Option<f64>>,
}

/// A native line chart, editable in PowerPoint (its data is an embedded workbook).
#[derive(Debug, Clone)]
pub struct LineChart {
    pub title: String,
    pub categories: Vec<String>,
    pub series: Vec<Series>,
    /// The value axis and data's number format, as Excel writes it (`0%`, `0.0`).
    pub number_format: String,
    /// The value axis' bounds, when they are fixed (0 to 1 for a rate).
    pub min: Option<f64>,
    pub max: Option<f64>,
}

#[derive(Debug, Clone)]
pub enum Shape {
    Text {
        frame: Frame,
        paragraphs: Vec<Paragraph>,
        /// A filled box (a callout) rather than plain text.
        fill: Option<Rgb>,
    },
    Table {
        frame: Frame,
        /// Each column's share of the width.
        widths: Vec<f64>,
        header: Vec<String>,
        rows: Vec<Vec<TableCell>>,
        size: f64,
    },
    LineChart {
        frame: Frame,
        chart: LineChart,
    },
    /// A PNG picture, fitted into the frame with its aspect kept.
    Picture {
        frame: Frame,
        png: Vec<u8>,
    },
}

/// One slide: the layout's title placeholder, the shapes, and the speaker notes.
#[derive(Debug, Clone)]
pub struct Slide {
    pub title: String,
    /// The title slide's subtitle lines (the title slide layout); `None` for a content slide.
    pub subtitle: Option<Vec<String>>,
    pub shapes: Vec<Shape>,
    pub notes: String,
}

/// What the package says of itself (docProps/core.xml).
pub struct Properties<'a> {
    pub title: &'a str,
    pub subject: &'a str,
    /// The document's date, which is also every zip entry's time.
    pub created: chrono::NaiveDateTime,
}

const EMU_PER_INCH: f64 = 914_400.0;
const CANVAS: (f64, f64) = (13.333_333, 7.5);
/// Where the built-in layout's title ends and a content slide's shapes begin, in canvas inches.
const CONTENT_TOP: f64 = 1.2;

pub const NS_A: &str = "http://schemas.openxmlformats.org/drawingml/2006/main";
pub const NS_P: &str = "http://schemas.openxmlformats.org/presentationml/2006/main";
pub const NS_R: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
const REL: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
const CT_SLIDE: &str = "application/vnd.openxmlformats-officedocument.presentationml.slide+xml";
const CT_NOTES: &str = "application/vnd.openxmlformats-officedocument.presentationml.notesSlide+xml";
const CT_CHART: &str = "application/vnd.openxmlformats-officedocument.drawingml.chart+xml";

/// Text for an XML element or attribute.
pub fn esc(text: &str) -> std::borrow::Cow<'_, str> {
    // XML 1.0 has no place for most control characters: an export's stray one must not make a
    // file PowerPoint refuses to open.
    if text.chars().any(|c| c < ' ' && !matches!(c, '\t' | '\n' | '\r')) {
        let kept: String = text
            .chars()
            .filter(|c| *c >= ' ' || matches!(c, '\t' | '\n' | '\r'))
            .collect();
        return std::borrow::Cow::Owned(quick_xml::escape::escape(kept.as_str()).into_owned());
    }
    quick_xml::escape::escape(text)
}

/// Writes the deck to `path` (atomically) on `base`.
pub fn write(slides: &[Slide], base: Base, properties: &Properties, path: &Path) -> Result<()> {
    let package = build(slides, base, properties)?;
    crate::files::write_atomic(path, |f| {
        f.write_all(&package)?;
        Ok(())
    })
    .with_context(|| format!("cannot write {}", path.display()))
}

/// The whole package, as bytes.
pub fn build(slides: &[Slide], mut base: Base, properties: &Properties) -> Result<Vec<u8>> {
    let scale = (
        base.slide_size.0 as f64 / (CANVAS.0 * EMU_PER_INCH),
        base.slide_size.1 as f64 / (CANVAS.1 * EMU_PER_INCH),
    );
    // Where content starts, in canvas inches: below a template's title, with a little air.
    let content_top = base
        .title_bottom
        .map(|emu| emu as f64 / EMU_PER_INCH / scale.1 + 0.1)
        .unwrap_or(CONTENT_TOP)
        .clamp(CONTENT_TOP, CANVAS.1 / 2.0);
    let notes_master = base.ensure_notes_master()?;
    let mut slide_ids = Vec::new();
    let mut charts = 0;
    let mut pictures = 0;
    for (i, slide) in slides.iter().enumerate() {
        let n = i + 1;
        let slide_part = format!("ppt/slides/slide{n}.xml");
        let layout = if slide.subtitle.is_some() {
            &base.title_layout
        } else {
            &base.content_layout
        };
        let mut rels = Rels::default();
        rels.add(&format!("{REL}/slideLayout"), &relative("ppt/slides", layout));
        rels.add(
            &format!("{REL}/notesSlide"),
            &format!("../notesSlides/notesSlide{n}.xml"),
        );
        let mut tree = String::new();
        let mut id = 2;
        // A content slide's shapes go below the layout's title.
        let place = |frame: &Frame| match slide.subtitle {
            Some(_) => *frame,
            None => below_title(*frame, content_top),
        };
        for shape in &slide.shapes {
            id += 1;
            match shape {
                Shape::Text {
                    frame,
                    paragraphs,
                    fill,
                } => text_box(&mut tree, id, place(frame), scale, paragraphs, *fill),
                Shape::Table {
                    frame,
                    widths,
                    header,
                    rows,
                    size,
                } => table(&mut tree, id, place(frame), scale, widths, header, rows, *size),
                Shape::LineChart { frame, chart } => {
                    charts += 1;
                    let chart_part = format!("ppt/charts/chart{charts}.xml");
                    let workbook = format!("ppt/embeddings/govpack_chart{charts}.xlsx");
                    base.put(&chart_part, CT_CHART, chart::xml(chart).into_bytes());
                    base.put_default(
                        "xlsx",
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    );
                    base.put_raw(&workbook, chart::workbook(chart, properties.created)?);
                    let mut chart_rels = Rels::default();
                    chart_rels.add(
                        &format!("{REL}/package"),
                        &format!("../embeddings/govpack_chart{charts}.xlsx"),
                    );
                    base.put_raw(
                        &format!("ppt/charts/_rels/chart{charts}.xml.rels"),
                        chart_rels.xml().into_bytes(),
                    );
                    let rid = rels.add(&format!("{REL}/chart"), &format!("../charts/chart{charts}.xml"));
                    chart_frame(&mut tree, id, place(frame), scale, &rid, &chart.title);
                }
                Shape::Picture { frame, png } => {
                    pictures += 1;
                    let media = format!("ppt/media/govpack_image{pictures}.png");
                    base.put_default("png", "image/png");
                    base.put_raw(&media, png.clone());
                    let rid = rels.add(
                        &format!("{REL}/image"),
                        &format!("../media/govpack_image{pictures}.png"),
                    );
                    picture(&mut tree, id, place(frame), scale, &rid, png);
                }
            }
        }
        let title = title_shape(&slide.title, slide.subtitle.as_deref());
        let xml = format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<p:sld xmlns:a="{NS_A}" xmlns:r="{NS_R}" xmlns:p="{NS_P}"><p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr><p:grpSpPr/>{title}{tree}</p:spTree></p:cSld><p:clrMapOvr><a:masterClrMapping/></p:clrMapOvr></p:sld>"#
        );
        base.put(&slide_part, CT_SLIDE, xml.into_bytes());
        base.put_raw(
            &format!("ppt/slides/_rels/slide{n}.xml.rels"),
            rels.xml().into_bytes(),
        );

        let mut notes_rels = Rels::default();
        notes_rels.add(
            &format!("{REL}/notesMaster"),
            &relative("ppt/notesSlides", &notes_master),
        );
        notes_rels.add(&format!("{REL}/slide"), &format!("../slides/slide{n}.xml"));
        base.put(
            &format!("ppt/notesSlides/notesSlide{n}.xml"),
            CT_NOTES,
            notes_xml(&slide.notes).into_bytes(),
        );
        base.put_raw(
            &format!("ppt/notesSlides/_rels/notesSlide{n}.xml.rels"),
            notes_rels.xml().into_bytes(),
        );
        slide_ids.push(slide_part);
    }
    base.finish(&slide_ids, properties, slides.len())
}

/// `target` (a part name) as seen from a part in `from_dir`.
fn relative(from_dir: &str, target: &str) -> String {
    let from: Vec<&str> = from_dir.split('/').filter(|s| !s.is_empty()).collect();
    let to: Vec<&str> = target.split('/').collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut path = "../".repeat(from.len() - common);
    path.push_str(&to[common..].join("/"));
    path
}

/// A package's relationships part, built up.
#[derive(Default)]
pub struct Rels {
    entries: Vec<(String, String, String, bool)>,
}

impl Rels {
    /// Adds a relationship and returns its id.
    pub fn add(&mut self, kind: &str, target: &str) -> String {
        let id = format!("rId{}", self.entries.len() + 1);
        self.entries
            .push((id.clone(), kind.to_string(), target.to_string(), false));
        id
    }

    /// Adds a relationship under a given id.
    pub fn add_with_id(&mut self, id: &str, kind: &str, target: &str, external: bool) {
        self.entries
            .push((id.to_string(), kind.to_string(), target.to_string(), external));
    }

    pub fn xml(&self) -> String {
        let mut xml = String::from(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">"#,
        );
        for (id, kind, target, external) in &self.entries {
            let mode = if *external {
                r#" TargetMode="External""#
            } else {
                ""
            };
            let _ = write!(
                xml,
                r#"<Relationship Id="{}" Type="{}" Target="{}"{mode}/>"#,
                esc(id),
                esc(kind),
                esc(target)
            );
        }
        xml.push_str("</Relationships>");
        xml
    }
}

/// A frame of a content slide moved into the room below a title that ends at `top` (canvas
/// inches) instead of `CONTENT_TOP`: positions and heights below `CONTENT_TOP` are squeezed in
/// proportion, so the shapes keep their order and nothing runs off the slide's foot.
fn below_title(frame: Frame, top: f64) -> Frame {
    if top <= CONTENT_TOP || frame.y < CONTENT_TOP - 0.2 {
        return frame;
    }
    let squeeze = (CANVAS.1 - top) / (CANVAS.1 - CONTENT_TOP);
    Frame {
        y: top + (frame.y - CONTENT_TOP).max(0.0) * squeeze,
        h: frame.h * squeeze,
        ..frame
    }
}

fn emu(inches: f64) -> i64 {
    (inches * EMU_PER_INCH).round() as i64
}

fn xfrm(frame: Frame, scale: (f64, f64)) -> String {
    format!(
        r#"<a:off x="{}" y="{}"/><a:ext cx="{}" cy="{}"/>"#,
        emu(frame.x * scale.0),
        emu(frame.y * scale.1),
        emu(frame.w * scale.0),
        emu(frame.h * scale.1)
    )
}

/// The run properties of a piece of text: size in points, bold, colour.
fn run_properties(size: f64, bold: bool, color: Option<Rgb>) -> String {
    let fill = color.map_or_else(String::new, |c| {
        format!(r#"<a:solidFill><a:srgbClr val="{c}"/></a:solidFill>"#)
    });
    format!(
        r#"<a:rPr lang="en-US" sz="{}" b="{}" dirty="0">{fill}</a:rPr>"#,
        (size * 100.0).round() as i64,
        u8::from(bold)
    )
}

/// Paragraphs of text; each line of a text becomes its own paragraph.
fn paragraphs_xml(paragraphs: &[Paragraph]) -> String {
    let mut xml = String::new();
    for p in paragraphs {
        for line in p.text.split('\n') {
            let bullet = if p.bullet {
                r#"<a:pPr marL="228600" indent="-228600"><a:buFont typeface="Arial"/><a:buChar char="&#8226;"/></a:pPr>"#
            } else {
                r#"<a:pPr marL="0" indent="0"><a:buNone/></a:pPr>"#
            };
            let _ = write!(
                xml,
                "<a:p>{bullet}<a:r>{}<a:t>{}</a:t></a:r></a:p>",
                run_properties(p.size, p.bold, p.color),
                esc(line)
            );
        }
    }
    if xml.is_empty() {
        xml.push_str("<a:p/>");
    }
    xml
}

fn title_shape(title: &str, subtitle: Option<&[String]>) -> String {
    let (kind, sub) = match subtitle {
        Some(lines) => {
            let paragraphs: String = lines
                .iter()
                .map(|l| {
                    format!(
                        r#"<a:p><a:r><a:rPr lang="en-US" dirty="0"/><a:t>{}</a:t></a:r></a:p>"#,
                        esc(l)
                    )
                })
                .collect();
            (
                "ctrTitle",
                format!(
                    r#"<p:sp><p:nvSpPr><p:cNvPr id="3" name="Subtitle 2"/><p:cNvSpPr><a:spLocks noGrp="1"/></p:cNvSpPr><p:nvPr><p:ph type="subTitle" idx="1"/></p:nvPr></p:nvSpPr><p:spPr/><p:txBody><a:bodyPr><a:normAutofit/></a:bodyPr><a:lstStyle/>{paragraphs}</p:txBody></p:sp>"#
                ),
            )
        }
        None => ("title", String::new()),
    };
    format!(
        r#"<p:sp><p:nvSpPr><p:cNvPr id="2" name="Title 1"/><p:cNvSpPr><a:spLocks noGrp="1"/></p:cNvSpPr><p:nvPr><p:ph type="{kind}"/></p:nvPr></p:nvSpPr><p:spPr/><p:txBody><a:bodyPr><a:normAutofit/></a:bodyPr><a:lstStyle/><a:p><a:r><a:rPr lang="en-US" dirty="0"/><a:t>{}</a:t></a:r></a:p></p:txBody></p:sp>{sub}"#,
        esc(title)
    )
}

fn text_box(
    xml: &mut String,
    id: usize,
    frame: Frame,
    scale: (f64, f64),
    paragraphs: &[Paragraph],
    fill: Option<Rgb>,
) {
    let (fill, inset) = match fill {
        Some(c) => (
            format!(r#"<a:solidFill><a:srgbClr val="{c}"/></a:solidFill>"#),
            91440,
        ),
        None => ("<a:noFill/>".to_string(), 0),
    };
    let _ = write!(
        xml,
        r#"<p:sp><p:nvSpPr><p:cNvPr id="{id}" name="Text {id}"/><p:cNvSpPr txBox="1"/><p:nvPr/></p:nvSpPr><p:spPr><a:xfrm>{}</a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom>{fill}</p:spPr><p:txBody><a:bodyPr wrap="square" lIns="{inset}" tIns="{inset}" rIns="{inset}" bIns="{inset}" anchor="t"><a:normAutofit/></a:bodyPr><a:lstStyle/>{}</p:txBody></p:sp>"#,
        xfrm(frame, scale),
        paragraphs_xml(paragraphs)
    );
}

const HEADER_FILL: Rgb = "1F3864";
const BAND_FILL: Rgb = "EEF1F6";
const RULE: Rgb = "C9D1DE";

#[allow(clippy::too_many_arguments)]
fn table(
    xml: &mut String,
    id: usize,
    frame: Frame,
    scale: (f64, f64),
    widths: &[f64],
    header: &[String],
    rows: &[Vec<TableCell>],
    size: f64,
) {
    let total: f64 = widths.iter().sum::<f64>().max(f64::EPSILON);
    let columns: Vec<i64> = widths
        .iter()
        .map(|w| emu(frame.w * scale.0 * w / total))
        .collect();
    let grid: String = columns
        .iter()
        .map(|w| format!(r#"<a:gridCol w="{w}"/>"#))
        .collect();
    // Rows as tall as the text: PowerPoint grows a row to fit, LibreOffice too.
    let row_h = emu(size / 72.0 * 1.9 * scale.1);
    let border = format!(r#"<a:lnB w="6350"><a:solidFill><a:srgbClr val="{RULE}"/></a:solidFill></a:lnB>"#);
    let cell = |c: &TableCell, fill: Option<Rgb>, color: Option<Rgb>, bold: bool| {
        let fill = fill.map_or_else(String::new, |f| {
            format!(r#"<a:solidFill><a:srgbClr val="{f}"/></a:solidFill>"#)
        });
        format!(
            r#"<a:tc><a:txBody><a:bodyPr/><a:lstStyle/><a:p><a:r>{}<a:t>{}</a:t></a:r></a:p></a:txBody><a:tcPr marL="64008" marR="64008" marT="27432" marB="27432" anchor="ctr">{border}{fill}</a:tcPr></a:tc>"#,
            run_properties(size, bold || c.bold, c.color.or(color)),
            esc(&c.text)
        )
    };
    let mut body = String::new();
    let _ = write!(body, r#"<a:tr h="{row_h}">"#);
    for h in header {
        body.push_str(&cell(
            &TableCell::from(h.as_str()),
            Some(HEADER_FILL),
            Some("FFFFFF"),
            true,
        ));
    }
    body.push_str("</a:tr>");
    for (i, row) in rows.iter().enumerate() {
        let band = (i % 2 == 1).then_some(BAND_FILL);
        let _ = write!(body, r#"<a:tr h="{row_h}">"#);
        for c in row.iter().take(header.len()) {
            body.push_str(&cell(c, band, None, false));
        }
        // A short row still has every column, as the schema asks.
        for _ in row.len()..header.len() {
            body.push_str(&cell(&TableCell::default(), band, None, false));
        }
        body.push_str("</a:tr>");
    }
    let height = row_h * (rows.len() as i64 + 1);
    let _ = write!(
        xml,
        r#"<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id="{id}" name="Table {id}"/><p:cNvGraphicFramePr><a:graphicFrameLocks noGrp="1"/></p:cNvGraphicFramePr><p:nvPr/></p:nvGraphicFramePr><p:xfrm><a:off x="{}" y="{}"/><a:ext cx="{}" cy="{height}"/></p:xfrm><a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/table"><a:tbl><a:tblPr firstRow="1" bandRow="1"/><a:tblGrid>{grid}</a:tblGrid>{body}</a:tbl></a:graphicData></a:graphic></p:graphicFrame>"#,
        emu(frame.x * scale.0),
        emu(frame.y * scale.1),
        columns.iter().sum::<i64>()
    );
}

fn chart_frame(xml: &mut String, id: usize, frame: Frame, scale: (f64, f64), rid: &str, title: &str) {
    let _ = write!(
        xml,
        r#"<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id="{id}" name="Chart {id}" descr="{}"/><p:cNvGraphicFramePr><a:graphicFrameLocks noGrp="1"/></p:cNvGraphicFramePr><p:nvPr/></p:nvGraphicFramePr><p:xfrm>{}</p:xfrm><a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/chart"><c:chart xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart" r:id="{rid}"/></a:graphicData></a:graphic></p:graphicFrame>"#,
        esc(title),
        xfrm(frame, scale)
    );
}

/// A PNG's width and height in pixels, from its header.
pub fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if png.len() < 24 || &png[..8] != SIGNATURE || &png[12..16] != b"IHDR" {
        return None;
    }
    let w = u32::from_be_bytes(png[16..20].try_into().ok()?);
    let h = u32::from_be_bytes(png[20..24].try_into().ok()?);
    (w > 0 && h > 0).then_some((w, h))
}

fn picture(xml: &mut String, id: usize, frame: Frame, scale: (f64, f64), rid: &str, png: &[u8]) {
    // Fitted into the frame, aspect kept, against its left edge.
    let (w, h) = png_size(png).unwrap_or((1, 1));
    let aspect = f64::from(w) / f64::from(h);
    let (fw, fh) = if frame.w / frame.h > aspect {
        (frame.h * aspect, frame.h)
    } else {
        (frame.w, frame.w / aspect)
    };
    let fitted = Frame::new(frame.x, frame.y + (frame.h - fh) / 2.0, fw, fh);
    let _ = write!(
        xml,
        r#"<p:pic><p:nvPicPr><p:cNvPr id="{id}" name="Picture {id}"/><p:cNvPicPr><a:picLocks noChangeAspect="1"/></p:cNvPicPr><p:nvPr/></p:nvPicPr><p:blipFill><a:blip r:embed="{rid}"/><a:stretch><a:fillRect/></a:stretch></p:blipFill><p:spPr><a:xfrm>{}</a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom></p:spPr></p:pic>"#,
        xfrm(fitted, scale)
    );
}

fn notes_xml(notes: &str) -> String {
    let paragraphs: String = notes
        .split('\n')
        .map(|l| {
            format!(
                r#"<a:p><a:r><a:rPr lang="en-US" dirty="0"/><a:t>{}</a:t></a:r></a:p>"#,
                esc(l)
            )
        })
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<p:notes xmlns:a="{NS_A}" xmlns:r="{NS_R}" xmlns:p="{NS_P}"><p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr><p:grpSpPr/><p:sp><p:nvSpPr><p:cNvPr id="2" name="Slide Image Placeholder 1"/><p:cNvSpPr><a:spLocks noGrp="1" noRot="1" noChangeAspect="1"/></p:cNvSpPr><p:nvPr><p:ph type="sldImg" idx="2"/></p:nvPr></p:nvSpPr><p:spPr/></p:sp><p:sp><p:nvSpPr><p:cNvPr id="3" name="Notes Placeholder 2"/><p:cNvSpPr><a:spLocks noGrp="1"/></p:cNvSpPr><p:nvPr><p:ph type="body" sz="quarter" idx="3"/></p:nvPr></p:nvSpPr><p:spPr/><p:txBody><a:bodyPr/><a:lstStyle/>{paragraphs}</p:txBody></p:sp></p:spTree></p:cSld><p:clrMapOvr><a:masterClrMapping/></p:clrMapOvr></p:notes>"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_goes_below_a_template_title_that_ends_lower_and_still_fits_the_slide() {
        let table = Frame::new(0.5, 1.2, 12.3, 3.0);
        let foot = Frame::new(0.5, 4.2, 12.3, 3.3);
        // The built-in title leaves the frames where they are.
        assert_eq!(below_title(table, CONTENT_TOP).y, 1.2);
        // A title ending at 1.65 inches: everything moves below it, in order, within 7.5 inches.
        let (table, foot) = (below_title(table, 1.65), below_title(foot, 1.65));
        assert!((table.y - 1.65).abs() < 1e-9);
        assert!(table.y + table.h <= foot.y + 1e-9);
        assert!((foot.y + foot.h - CANVAS.1).abs() < 1e-9, "{foot:?}");
    }

    #[test]
    fn a_relative_target_climbs_out_of_the_parts_folder() {
        assert_eq!(
            relative("ppt/slides", "ppt/slideLayouts/slideLayout2.xml"),
            "../slideLayouts/slideLayout2.xml"
        );
        assert_eq!(
            relative("ppt/notesSlides", "ppt/notesMasters/n.xml"),
            "../notesMasters/n.xml"
        );
        assert_eq!(relative("ppt", "ppt/slides/slide1.xml"), "slides/slide1.xml");
    }

    #[test]
    fn a_png_header_gives_its_size_and_anything_else_none() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend(300u32.to_be_bytes());
        png.extend(100u32.to_be_bytes());
        assert_eq!(png_size(&png), Some((300, 100)));
        assert_eq!(png_size(b"GIF89a"), None);
    }

    #[test]
    fn control_characters_an_export_carried_are_dropped_from_the_xml() {
        assert_eq!(esc("a\u{1}b<c>&\"d\""), "ab&lt;c&gt;&amp;&quot;d&quot;");
        assert_eq!(esc("line\nnext"), "line\nnext");
    }
}
