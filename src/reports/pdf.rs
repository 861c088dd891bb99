//! The PDF typesetter the proof brief is printed with: pages of the configured paper with a
//! running header and page numbers, text wrapped by the font's real glyph widths, tables that
//! repeat their header when they break across pages, bar and line charts drawn in the PDF, and a
//! logo. The same document is the same bytes: fonts, the logo and the document ID are named from
//! what they are, never from printpdf's process-wide sequences.

use std::path::Path;

use anyhow::{Context, Result};
use printpdf::{
    Color, FontId, Line, LinePoint, Mm, OffsetDateTime, Op, PaintMode, ParsedFont, PdfDocument, PdfFont,
    PdfFontHandle, PdfPage, PdfSaveOptions, Point, Pt, RawImage, RawImageData, RawImageFormat, Rect, Rgb,
    TextItem, XObject, XObjectId, XObjectTransform,
};

use crate::config::Paper;

/// The page's margin on every side, in points.
pub(super) const MARGIN: f32 = 50.0;
/// The body text's size, in points.
const BODY: f32 = 9.5;
/// The most room a logo takes, width and height in points.
const LOGO_BOX: (f32, f32) = (130.0, 40.0);

/// What a document says of itself (its Info dictionary).
pub(super) struct DocumentInfo {
    pub title: String,
    pub subject: String,
    /// When it was made, as seconds since 1970 (the period's as-of, so the bytes stay the same).
    pub created: i64,
}

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
pub(super) struct Writer {
    doc: PdfDocument,
    paper: Paper,
    pages: Vec<Vec<Op>>,
    /// The page's width and height in points (`[report] paper`).
    pub(super) page_w: f32,
    pub(super) page_h: f32,
    /// Where the next line goes, in points from the page's foot.
    pub(super) y: f32,
    regular: Font,
    bold: Font,
    running_header: String,
}

impl Writer {
    pub(super) fn new_page(&mut self) {
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

    pub(super) fn ensure(&mut self, height: f32) {
        if self.pages.is_empty() || self.y - height < MARGIN + 20.0 {
            self.new_page();
        }
    }

    pub(super) fn ops(&mut self) -> &mut Vec<Op> {
        self.pages.last_mut().expect("a page")
    }

    pub(super) fn text_at(&mut self, text: &str, x: f32, y: f32, size: f32, bold: bool, color: Rgb) {
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

    pub(super) fn rule(&mut self, y: f32) {
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

    pub(super) fn polyline(&mut self, points: &[(f32, f32)], color: Rgb, thickness: f32) {
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
    pub(super) fn line_chart(
        &mut self,
        title: &str,
        months: &[String],
        series: &[(String, Rgb, Vec<Option<f64>>)],
    ) {
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

    pub(super) fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Rgb) {
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
    pub(super) fn fit(&self, text: &str, width: f32, size: f32) -> String {
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
    pub(super) fn wrap(&self, text: &str, width: f32, size: f32, bold: bool) -> Vec<String> {
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

    pub(super) fn heading(&mut self, text: &str) {
        // A heading keeps the start of its section with it: never alone at a page's foot.
        self.ensure(150.0);
        self.y -= 18.0;
        self.text_at(text, MARGIN, self.y, 13.0, true, Rgb::new(0.12, 0.22, 0.39, None));
        self.y -= 8.0;
    }

    /// A bold line that opens a part of a section, kept with what follows.
    pub(super) fn subheading(&mut self, text: &str) {
        self.ensure(60.0);
        self.y -= 16.0;
        self.text_at(text, MARGIN, self.y, 10.5, true, Rgb::new(0.2, 0.2, 0.2, None));
        self.y -= 2.0;
    }

    pub(super) fn paragraph(&mut self, text: &str) {
        self.styled_paragraph(text, false, Rgb::new(0.0, 0.0, 0.0, None));
    }

    /// A paragraph in bold dark red: what a reader must know before reading the figures.
    pub(super) fn warning(&mut self, text: &str) {
        self.styled_paragraph(text, true, Rgb::new(0.6, 0.1, 0.1, None));
    }

    pub(super) fn styled_paragraph(&mut self, text: &str, bold: bool, color: Rgb) {
        for line in self.wrap(text, self.page_w - 2.0 * MARGIN, BODY, bold) {
            self.ensure(14.0);
            self.y -= 13.0;
            self.text_at(&line, MARGIN, self.y, BODY, bold, color.clone());
        }
        self.y -= 4.0;
    }

    /// A table: column widths as shares of the text width; the header repeats on a new page.
    pub(super) fn table(&mut self, headers: &[&str], shares: &[f32], rows: &[Vec<String>]) {
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
    pub(super) fn bars(&mut self, title: &str, items: &[(String, f64, String)], max: f64) {
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
    let font = crate::installed::TEMPLATES
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

impl Writer {
    /// A document of `paper` in the template's fonts, with its first page begun.
    pub(super) fn new(
        title: &str,
        paper: Paper,
        font: &str,
        bold_font: &str,
        running_header: String,
    ) -> Result<Writer> {
        let mut doc = PdfDocument::new(title);
        let (regular, bold) = (load_font(&mut doc, font)?, load_font(&mut doc, bold_font)?);
        let (page_w, page_h) = paper.points();
        let mut w = Writer {
            doc,
            paper,
            pages: Vec::new(),
            page_w,
            page_h,
            y: 0.0,
            regular,
            bold,
            running_header,
        };
        w.new_page();
        Ok(w)
    }

    /// A PNG logo at the top right of the page, within LOGO_BOX; what follows goes below it.
    pub(super) fn logo(&mut self, png: &[u8]) -> Result<()> {
        let image = decoded_png(png)?;
        let (width, height) = (image.width as f32, image.height as f32);
        let fit = (LOGO_BOX.0 / width).min(LOGO_BOX.1 / height);
        let id = XObjectId("GovpackLogo".into());
        self.doc
            .resources
            .xobjects
            .map
            .insert(id.clone(), XObject::Image(image));
        let (x, top) = (self.page_w - MARGIN - width * fit, self.page_h - MARGIN + 8.0);
        self.ops().push(Op::UseXobject {
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
        self.y = top - height * fit;
        Ok(())
    }

    /// Numbers the pages ("Page 1 of 8"), now that their count is known, and writes the document
    /// to `path` atomically.
    pub(super) fn finish(mut self, info: DocumentInfo, path: &Path) -> Result<()> {
        let count = self.pages.len();
        for i in 0..count {
            let text = format!("Page {} of {count}", i + 1);
            let width = self.regular.width(&text, 8.0);
            let font = self.regular.id.clone();
            self.pages[i].extend([
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
                        x: Pt(self.page_w - MARGIN - width),
                        y: Pt(25.0),
                    },
                },
                Op::ShowText {
                    items: vec![TextItem::Text(text)],
                },
                Op::EndTextSection,
            ]);
        }
        let mut doc = self.doc;
        doc.metadata.info.document_title = info.title;
        doc.metadata.info.author = "govpack".into();
        let created = OffsetDateTime::from_unix_timestamp(info.created)
            .map_err(|e| anyhow::anyhow!("cannot date the document: {e}"))?;
        doc.metadata.info.creation_date = created;
        doc.metadata.info.modification_date = created;
        doc.metadata.info.metadata_date = created;
        doc.metadata.info.creator = format!("govpack {}", env!("CARGO_PKG_VERSION"));
        doc.metadata.info.subject = info.subject;
        let (width, height) = self.paper.millimetres();
        let pages: Vec<PdfPage> = self
            .pages
            .into_iter()
            .map(|ops| PdfPage::new(Mm(width), Mm(height), ops))
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
        .ok_or_else(|| anyhow::anyhow!("the PDF has no trailer"))?;
    let start = pdf[trailer..]
        .windows(OPEN.len())
        .position(|w| w == OPEN)
        .map(|at| trailer + at + OPEN.len())
        .ok_or_else(|| anyhow::anyhow!("the PDF's trailer has no document ID"))?;
    let second = start + ID_LEN + 2;
    if pdf.get(start + ID_LEN..second) != Some(b")(".as_slice())
        || pdf.get(second + ID_LEN..second + ID_LEN + 2) != Some(b")]".as_slice())
    {
        anyhow::bail!("the PDF's document ID is not two {ID_LEN}-character strings");
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
        Writer::new(
            "test",
            Paper::A4,
            "fonts/DejaVuSans.ttf",
            "fonts/DejaVuSans-Bold.ttf",
            String::new(),
        )
        .unwrap()
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
