//! The canonical interchange format: one canonical table per CSV file, recognised by its header
//! (any column order), as described in docs/canonical-model.md. Also the import format for tools that
//! have no adapter, and the format of the sample data.
//!
//! Each row is validated cell by cell; a row with any bad cell is refused whole (every problem of
//! it is reported) and the rest of the file still loads. A plain UTF-8 file is read from disk a
//! chunk of rows at a time, so its size never decides the memory an ingest needs; a UTF-16 file
//! (Windows PowerShell's) is decoded whole first.

use std::io::{BufRead, Read};

use super::records::{RecordBlock, Splitter, split_records};
use super::registry::{Adapter, FormatSpec, Reads, Stage};
use super::{AdapterOutput, FileError, RowSink, SourceFile, TextRows, text};
use crate::canonical::{Problem, Reason, TABLES, Table};
use crate::sources::settings::DateCulture;

/// The import format for tools without an adapter. Its files load with the vendors' rows, each
/// file by its table in canonical order (tenants first).
pub static ADAPTER: Adapter = Adapter {
    settings_key: "canonical_csv",
    default_date_culture: DateCulture::Iso,
    formats: &[FormatSpec {
        name: "canonical-csv",
        stage: Stage::Rows,
        reads: Reads::Canonical,
    }],
};

/// Rows handed on at a time: enough that a chunk's Parquet files are of a useful size, few enough
/// that a chunk holds tens of megabytes, not the file.
pub const CHUNK_ROWS: usize = 200_000;

/// Reads a canonical CSV in plain UTF-8 from disk, a chunk at a time.
pub fn read_from_disk(
    file: &SourceFile,
    on_chunk: &mut dyn FnMut(AdapterOutput) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let (input, encoding) = file.utf8_reader(1 << 20)?;
    read_records(file, input, encoding, on_chunk)
}

/// Reads a canonical CSV already decoded to text (a UTF-16 export).
pub fn read_text(
    file: &SourceFile,
    text: &str,
    encoding: text::TextEncoding,
    on_chunk: &mut dyn FnMut(AdapterOutput) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    read_records(file, text.as_bytes(), encoding, on_chunk)
}

fn read_records<R: BufRead + Send>(
    file: &SourceFile,
    input: R,
    encoding: text::TextEncoding,
    on_chunk: &mut dyn FnMut(AdapterOutput) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut splitter = Splitter::new(input, b',');
    let mut header = RecordBlock::default();
    // An empty file has no header: no table fits it, and the message says what was expected.
    let has_header = splitter
        .next_record(&mut header)
        .map_err(|e| cannot_read(file, &e))?;
    let headers: Vec<String> = match header.text() {
        Ok(_) if !has_header => Vec::new(),
        Ok(text) => (0..header.width(0))
            .map(|i| normalise_header(header.field(text, 0, i)))
            .collect(),
        Err(e) => return Err(header.utf8_error(file, &e).into()),
    };
    let table = detect_table(&headers, &file.name()).map_err(|m| FileError::at(&file.path, 1, None, m))?;
    if let Some(duplicate) = headers
        .iter()
        .enumerate()
        .find(|(i, h)| !h.is_empty() && headers[..*i].contains(h))
    {
        return Err(FileError::at(
            &file.path,
            1,
            Some(duplicate.0 as u64 + 1),
            format!(
                "column `{}` appears twice in the header",
                clipped(duplicate.1, 64)
            ),
        )
        .into());
    }
    let unknown: Vec<&str> = headers
        .iter()
        .filter(|h| table.column(h).is_none())
        .map(String::as_str)
        .collect();
    let mut warnings = Vec::new();
    if !unknown.is_empty() {
        // A file with thousands of stray columns gets a line, not a page, in the log.
        const NAMED: usize = 10;
        let mut named: Vec<String> = unknown.iter().take(NAMED).map(|h| clipped(h, 64)).collect();
        if unknown.len() > NAMED {
            named.push(format!("and {} more", unknown.len() - NAMED));
        }
        warnings.push(format!(
            "{} column(s) not in the canonical `{}` table were ignored: {}",
            unknown.len(),
            table.name,
            named.join(", ")
        ));
    }
    // Where each canonical column sits in the file; absent optional columns read as empty.
    let positions: Vec<Option<usize>> = table
        .columns
        .iter()
        .map(|c| headers.iter().position(|h| h == c.name))
        .collect();

    let mut sink = RowSink::new(&file.name());
    let mut rows_read: u64 = 0;
    std::thread::scope(|scope| -> anyhow::Result<()> {
        // Splitting records (a second thread) and checking them (this one) overlap: each is
        // about half of the work of reading a file.
        let (blocks, records) = std::sync::mpsc::sync_channel::<std::io::Result<RecordBlock>>(2);
        let (give_back, spare) = std::sync::mpsc::channel::<RecordBlock>();
        scope.spawn(move || split_records(splitter, &blocks, &spare));
        for block in records {
            let block = block.map_err(|e| cannot_read(file, &e))?;
            let text = block.text().map_err(|e| block.utf8_error(file, &e))?;
            let mut start = 0;
            while start < block.len() {
                // A chunk ends after `CHUNK_ROWS` records, wherever that falls in a block.
                let end = block.len().min(start + CHUNK_ROWS - rows_read as usize);
                let rows = Records {
                    block: &block,
                    text,
                    rows: start..end,
                    positions: &positions,
                    width: headers.len(),
                };
                sink.push_rows(table, &rows);
                rows_read += (end - start) as u64;
                start = end;
                if rows_read as usize == CHUNK_ROWS {
                    on_chunk(sink.take_chunk(rows_read, std::mem::take(&mut warnings), encoding))?;
                    rows_read = 0;
                }
            }
            // The splitter may have stopped already (end of file): its block is then dropped.
            give_back.send(block).ok();
        }
        on_chunk(sink.take_chunk(rows_read, std::mem::take(&mut warnings), encoding))
    })
}

/// The records of a block, or some of them, as the rows of a canonical table.
struct Records<'r> {
    block: &'r RecordBlock,
    text: &'r str,
    rows: std::ops::Range<usize>,
    /// Where each canonical column sits in a record (`None`: the file lacks it).
    positions: &'r [Option<usize>],
    /// The header's width: a record of another width is refused whole.
    width: usize,
}

impl TextRows for Records<'_> {
    fn len(&self) -> usize {
        self.rows.len()
    }

    fn line(&self, row: usize) -> u64 {
        self.block.lines[self.rows.start + row]
    }

    #[inline]
    fn cell(&self, row: usize, column: usize) -> &str {
        self.positions[column].map_or("", |p| self.block.field(self.text, self.rows.start + row, p))
    }

    #[inline]
    fn misshapen(&self, row: usize) -> Option<Problem> {
        let row = self.rows.start + row;
        let width = self.block.width(row);
        (width != self.width).then(|| Problem {
            column: String::new(),
            value: (0..width)
                .map(|i| self.block.field(self.text, row, i))
                .collect::<Vec<_>>()
                .join(","),
            reason: Reason::WrongFieldCount,
            detail: format!("{width} fields where the header has {}", self.width),
        })
    }
}

/// Which canonical table a plain UTF-8 file on disk holds, from its first line alone.
pub fn table_on_disk(file: &SourceFile) -> Result<&'static Table, FileError> {
    let (mut input, _) = file.utf8_reader(1 << 16)?;
    let start = input
        .fill_buf()
        .map_err(|e| FileError::whole(&file.path, format!("cannot read: {e}")))?;
    if super::json::starts_as_json(start) {
        return Err(FileError::whole(&file.path, "a JSON document, not a CSV file"));
    }
    let mut reader = csv::ReaderBuilder::new().from_reader(input);
    let headers = normalised_headers(file, &mut reader)?;
    detect_table(&headers, &file.name()).map_err(|m| FileError::at(&file.path, 1, None, m))
}

/// Which canonical table a decoded file holds, from its header.
pub fn table_of(file: &SourceFile, text: &str) -> Result<&'static Table, FileError> {
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers = normalised_headers(file, &mut reader)?;
    detect_table(&headers, &file.name()).map_err(|m| FileError::at(&file.path, 1, None, m))
}

fn normalised_headers<R: Read>(
    file: &SourceFile,
    reader: &mut csv::Reader<R>,
) -> Result<Vec<String>, FileError> {
    Ok(reader
        .headers()
        .map_err(|e| csv_error(file, &e))?
        .iter()
        .map(normalise_header)
        .collect())
}

fn normalise_header(h: &str) -> String {
    h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase()
}

fn cannot_read(file: &SourceFile, e: &std::io::Error) -> FileError {
    FileError::whole(&file.path, format!("cannot read: {e}"))
}

fn csv_error(file: &SourceFile, e: &csv::Error) -> FileError {
    match e.position() {
        Some(p) => FileError::at(&file.path, p.line(), None, format!("unreadable CSV: {e}")),
        None => FileError::whole(&file.path, format!("unreadable CSV: {e}")),
    }
}

/// The table whose required columns the header holds. When several fit, the one the header
/// covers best; when that ties, the one the file is named after. When none fits, the message
/// lists what was expected.
pub fn detect_table(headers: &[String], file_name: &str) -> Result<&'static Table, String> {
    let fits = |t: &Table| t.required_columns().all(|c| headers.iter().any(|h| h == c.name));
    let coverage = |t: &Table| headers.iter().filter(|h| t.column(h).is_some()).count();
    let named = |t: &Table| file_name.to_ascii_lowercase().starts_with(t.name);
    let mut candidates: Vec<&'static Table> = TABLES.iter().copied().filter(|t| fits(t)).collect();
    candidates.sort_by_key(|t| std::cmp::Reverse((coverage(t), named(t))));
    if let Some(best) = candidates.first() {
        if let Some(second) = candidates.get(1)
            && (coverage(best), named(best)) == (coverage(second), named(second))
        {
            return Err(format!(
                "the header fits both `{}` and `{}`; name the file after its table (e.g. {}.csv)",
                best.name, second.name, best.name
            ));
        }
        return Ok(best);
    }
    let describe = |t: &Table| {
        let missing: Vec<&str> = t
            .required_columns()
            .filter(|c| !headers.iter().any(|h| h == c.name))
            .map(|c| c.name)
            .collect();
        format!(
            "  {}: required {}; optional {} (missing: {})",
            t.name,
            t.required_columns()
                .map(|c| c.name)
                .collect::<Vec<_>>()
                .join(", "),
            t.columns
                .iter()
                .filter(|c| !c.required)
                .map(|c| c.name)
                .collect::<Vec<_>>()
                .join(", "),
            missing.join(", ")
        )
    };
    let tables: Vec<&Table> = match TABLES.iter().copied().find(|t| named(t)) {
        Some(t) => vec![t],
        None => TABLES.to_vec(),
    };
    Err(format!(
        "the header matches no canonical table ({}). Expected the columns of:\n{}",
        known_columns(headers),
        tables.iter().map(|t| describe(t)).collect::<Vec<_>>().join("\n")
    ))
}

/// At most `max` characters of a header name, marked when cut.
fn clipped(name: &str, max: usize) -> String {
    match name.char_indices().nth(max) {
        Some((end, _)) => format!("{}...", &name[..end]),
        None => name.to_string(),
    }
}

/// What a header that fits no table holds, in words that repeat nothing of the file but the
/// names of canonical columns: a file that is no export at all (a password file dropped or
/// linked into the inbox) must not have its first line copied into a reason file or a log.
fn known_columns(headers: &[String]) -> String {
    const SHOWN: usize = 20;
    let mut known: Vec<&str> = Vec::new();
    for header in headers {
        if let Some(column) = TABLES.iter().find_map(|t| t.column(header))
            && !known.contains(&column.name)
        {
            known.push(column.name);
        }
    }
    let columns = match headers.len() {
        1 => "1 column".to_string(),
        n => format!("{n} columns"),
    };
    match known.len() {
        0 => format!("{columns}, none of them a canonical column"),
        n if n <= SHOWN => format!("{columns}; canonical among them: {}", known.join(", ")),
        n => format!(
            "{columns}; canonical among them: {} and {} more",
            known[..SHOWN].join(", "),
            n - SHOWN
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(s: &str) -> Vec<String> {
        s.split(',').map(String::from).collect()
    }

    /// The lines of a file's kept rows and of its refused ones, as the lake records them.
    fn lines_of(text: &str) -> (Vec<u64>, Vec<u64>) {
        let file = SourceFile {
            path: "patch_status_2026-10-01.csv".into(),
            size: text.len() as u64,
            plain_utf8: true,
        };
        let (mut kept, mut refused) = (Vec::new(), Vec::new());
        read_text(&file, text, text::TextEncoding::Utf8, &mut |chunk| {
            for batch in &chunk.batches {
                kept.extend((0..batch.len()).map(|row| batch.line(row)));
            }
            refused.extend(chunk.rejections.iter().map(|r| r.line));
            Ok(())
        })
        .unwrap();
        (kept, refused)
    }

    #[test]
    fn a_row_is_placed_on_the_line_it_starts_on_whatever_ends_the_lines() {
        // Windows exports end their lines in CRLF; a title may hold a line break; a blank line
        // is no row. The `csv` crate counts a record after a CRLF a line too low (rust-csv #395).
        for end in ["\n", "\r\n"] {
            let text = [
                "snapshot_date,tenant_id,device_id,patch_id,patch_title,classification,approval,state",
                "2026-10-01,t1,d1,KB1,One,security,approved,installed",
                "2026-10-01,t1,d1,KB2,\"Two\nlines\",security,approved,installed",
                "",
                "2026-10-01,t1,d1,KB3,Three,bogus,approved,installed",
                "2026-10-01,t1,d1,KB4,Four,security,approved,installed",
                "2026-10-01,t1,d1,KB4,Four again,security,approved,installed",
                "",
            ]
            .join(end);
            assert_eq!(
                lines_of(&text),
                (vec![2, 3, 7], vec![6, 8]),
                "lines ending {end:?}"
            );
        }
    }

    #[test]
    fn tables_are_recognised_by_header_in_any_order() {
        let t = detect_table(
            &headers("hostname,device_id,tenant_id,snapshot_date,device_class"),
            "x.csv",
        );
        assert_eq!(t.unwrap().name, "devices");
        let t = detect_table(&headers("tenant_id,device_id,snapshot_date,status"), "export.csv");
        assert_eq!(t.unwrap().name, "device_patch_summary");
    }

    #[test]
    fn an_unknown_header_is_refused_listing_the_expected_columns() {
        let err = detect_table(&headers("host,when"), "devices_2026-10-01.csv").unwrap_err();
        assert!(
            err.contains("devices: required snapshot_date, tenant_id, device_id, hostname, device_class"),
            "{err}"
        );
        assert!(
            err.contains("2 columns, none of them a canonical column"),
            "{err}"
        );
        let err = detect_table(&headers("hostname,root:$6$secret:19000"), "x.csv").unwrap_err();
        assert!(err.contains("2 columns; canonical among them: hostname"), "{err}");
        assert!(
            !err.contains("secret"),
            "the file's content stays out of the message: {err}"
        );
        let err = detect_table(&headers("host,when"), "stuff.csv").unwrap_err();
        for table in TABLES {
            assert!(err.contains(&format!("  {}: required", table.name)), "{err}");
        }
    }
}
