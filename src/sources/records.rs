//! A CSV file split into records by `csv_core` (the parser of the `csv` crate: RFC 4180 quoting,
//! any of CR, LF or CRLF ending a record, blank lines skipped) into flat blocks, each record with
//! the line it starts on. Every CSV an adapter reads is split here: the canonical import format a
//! block at a time from disk, a vendor's CSV whole.

use std::io::BufRead;

use super::{FileError, SourceFile};

/// Records split from a file: every field's text in one buffer, where each field ends, where
/// each record's fields end, and the line each record starts on. A block is
/// refilled, not reallocated, as it goes back and forth between the splitter and the checker.
#[derive(Debug, Default)]
pub struct RecordBlock {
    /// The fields' bytes; only the first `text_len` are this block's (the rest is room).
    bytes: Vec<u8>,
    text_len: usize,
    /// The end of each field in `bytes`; only the first `ends_len` are this block's.
    field_ends: Vec<usize>,
    ends_len: usize,
    /// For each record, the end of its fields in `field_ends`.
    record_ends: Vec<usize>,
    pub lines: Vec<u64>,
}

impl RecordBlock {
    pub fn len(&self) -> usize {
        self.record_ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.record_ends.is_empty()
    }

    pub fn clear(&mut self) {
        self.text_len = 0;
        self.ends_len = 0;
        self.record_ends.clear();
        self.lines.clear();
    }

    /// The block's text: checked as UTF-8 once for all its records.
    pub fn text(&self) -> Result<&str, std::str::Utf8Error> {
        super::text::utf8(&self.bytes[..self.text_len])
    }

    /// Where the fields of `row` are in `field_ends`.
    pub fn fields(&self, row: usize) -> std::ops::Range<usize> {
        let first = if row == 0 { 0 } else { self.record_ends[row - 1] };
        first..self.record_ends[row]
    }

    pub fn width(&self, row: usize) -> usize {
        self.fields(row).len()
    }

    /// Field `index` of `row`, from the block's `text`.
    pub fn field<'t>(&self, text: &'t str, row: usize, index: usize) -> &'t str {
        let at = self.fields(row).start + index;
        let start = if at == 0 { 0 } else { self.field_ends[at - 1] };
        &text[start..self.field_ends[at]]
    }

    /// The error of text that is no UTF-8, at the line and field it is in.
    pub fn utf8_error(&self, file: &SourceFile, e: &std::str::Utf8Error) -> FileError {
        let at = e.valid_up_to();
        let field = self.field_ends[..self.ends_len].partition_point(|end| *end <= at);
        let row = self.record_ends.partition_point(|end| *end <= field);
        let (line, column) = match self.lines.get(row) {
            Some(line) => (*line, Some((field - self.fields(row).start) as u64 + 1)),
            None => (0, None),
        };
        FileError::at(
            &file.path,
            line,
            column,
            format!("unreadable CSV: the text is not UTF-8 ({e})"),
        )
    }
}

/// Splits a CSV into records with `csv_core` (the parser of the `csv` crate: RFC 4180 quoting,
/// any of CR, LF or CRLF ending a record, blank lines skipped), counting lines itself: the
/// `csv` crate reports the line of a record one too low when the record before it ended in CRLF
/// (rust-csv issue #395), which Windows exports all do.
pub struct Splitter<R> {
    core: csv_core::Reader,
    input: R,
    /// Line breaks (LF) read so far.
    newlines: u64,
}

impl<R: BufRead> Splitter<R> {
    pub fn new(input: R, delimiter: u8) -> Self {
        Splitter {
            core: csv_core::ReaderBuilder::new().delimiter(delimiter).build(),
            input,
            newlines: 0,
        }
    }

    /// Line breaks (LF) among `bytes`.
    fn newlines_in(bytes: &[u8]) -> u64 {
        memchr::memchr_iter(b'\n', bytes).count() as u64
    }

    /// Appends the next record to `block`; `false` at the end of the file.
    pub fn next_record(&mut self, block: &mut RecordBlock) -> std::io::Result<bool> {
        // A record starts after the end of the one before and any blank lines: its line is
        // counted from its first byte.
        loop {
            let buffered = self.input.fill_buf()?;
            let skip = buffered
                .iter()
                .position(|b| *b != b'\n' && *b != b'\r')
                .unwrap_or(buffered.len());
            let (all, empty) = (skip == buffered.len(), buffered.is_empty());
            self.newlines += Self::newlines_in(&buffered[..skip]);
            self.input.consume(skip);
            if !all || empty {
                break;
            }
        }
        let line = self.newlines + 1;
        let (text_start, ends_start) = (block.text_len, block.ends_len);
        loop {
            // Room for the record's text and its field ends, grown as a record needs it.
            if block.bytes.len() < block.text_len + 4096 {
                block
                    .bytes
                    .resize((2 * block.bytes.len()).max(block.text_len + 64 * 1024), 0);
            }
            if block.field_ends.len() < block.ends_len + 64 {
                block
                    .field_ends
                    .resize((2 * block.field_ends.len()).max(block.ends_len + 1024), 0);
            }
            let buffered = self.input.fill_buf()?;
            let (result, read, written, ended) = self.core.read_record(
                buffered,
                &mut block.bytes[block.text_len..],
                &mut block.field_ends[block.ends_len..],
            );
            self.newlines += Self::newlines_in(&buffered[..read]);
            self.input.consume(read);
            block.text_len += written;
            block.ends_len += ended;
            match result {
                csv_core::ReadRecordResult::InputEmpty
                | csv_core::ReadRecordResult::OutputFull
                | csv_core::ReadRecordResult::OutputEndsFull => {}
                csv_core::ReadRecordResult::Record => {
                    // The parser counts a record's field ends from the record's first byte.
                    for end in &mut block.field_ends[ends_start..block.ends_len] {
                        *end += text_start;
                    }
                    block.record_ends.push(block.ends_len);
                    block.lines.push(line);
                    return Ok(true);
                }
                csv_core::ReadRecordResult::End => return Ok(false),
            }
        }
    }
}

/// Records split from the file at a time: large enough that the hand-over costs nothing per row,
/// small enough that the blocks in flight hold a few megabytes.
pub const BLOCK_RECORDS: usize = 4096;

/// Splits the file into records, handing them over a block at a time and refilling the blocks
/// the checker gives back. Stops at the end of the file, at the first read that fails (handed
/// over as the error), or when the checker stops listening.
pub fn split_records<R: BufRead>(
    mut splitter: Splitter<R>,
    blocks: &std::sync::mpsc::SyncSender<std::io::Result<RecordBlock>>,
    spare: &std::sync::mpsc::Receiver<RecordBlock>,
) {
    loop {
        let mut block = spare.try_recv().unwrap_or_default();
        block.clear();
        let mut error = None;
        while block.len() < BLOCK_RECORDS {
            match splitter.next_record(&mut block) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        let last = block.len() < BLOCK_RECORDS;
        if !block.is_empty() && blocks.send(Ok(block)).is_err() {
            return;
        }
        if let Some(e) = error {
            blocks.send(Err(e)).ok();
            return;
        }
        if last {
            return;
        }
    }
}
