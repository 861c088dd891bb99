//! An export file as the ingest meets it: where it is, its size, whether its text can be streamed,
//! its SHA-256 when the ingest asks for it, and the error that stops a file, naming where.

use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::text;

/// An export file: where it is, its size, and whether its text can be streamed from disk. Its
/// bytes are read only by adapters that need the whole file at once (a JSON document, a vendor
/// CSV); a canonical CSV is read a chunk at a time. Its SHA-256, which identifies it in the ingest
/// ledger, is `sha256`'s: the ingest decides when it is needed.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub size: u64,
    /// Valid UTF-8 (after an optional BOM) without NUL bytes: safe to read as text in pieces.
    /// Anything else goes through `text::decode`, which names the line and column at fault.
    pub plain_utf8: bool,
}

impl SourceFile {
    /// Reads the file: its size and whether it is plain UTF-8. An ingest waits for this before it
    /// can start, so a large file is checked in two halves on two threads, split after a line
    /// break (an ASCII byte: never inside a character).
    pub fn read(path: &Path) -> Result<Self, FileError> {
        /// Below this, one thread reads the file faster than two start.
        const SPLIT_FROM: u64 = 8 << 20;
        let cannot = |e: std::io::Error| FileError::whole(path, format!("cannot read: {e}"));
        let size = std::fs::metadata(path).map_err(cannot)?.len();
        let middle = match size >= SPLIT_FROM {
            true => Self::line_start_after(path, size / 2).map_err(cannot)?,
            false => None,
        };
        let ((first_size, first_plain), (second_size, second_plain)) = match middle {
            None => (Self::check_utf8(path, 0, None).map_err(cannot)?, (0, true)),
            Some(middle) => std::thread::scope(|scope| {
                let second = scope.spawn(|| Self::check_utf8(path, middle, None));
                let first = Self::check_utf8(path, 0, Some(middle));
                let second = second
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                Ok::<_, FileError>((first.map_err(cannot)?, second.map_err(cannot)?))
            })?,
        };
        Ok(SourceFile {
            path: path.to_path_buf(),
            size: first_size + second_size,
            plain_utf8: first_plain && second_plain,
        })
    }

    /// Where the first line that starts after byte `at` starts, if one does.
    fn line_start_after(path: &Path, at: u64) -> std::io::Result<Option<u64>> {
        use std::io::{Read, Seek};
        let mut file = std::fs::File::open(path)?;
        file.seek(std::io::SeekFrom::Start(at))?;
        let mut window = Vec::with_capacity(1 << 16);
        file.take(1 << 16).read_to_end(&mut window)?;
        Ok(memchr::memchr(b'\n', &window).map(|i| at + i as u64 + 1))
    }

    /// Checks the file's bytes from `start` to `end` (or its end) as UTF-8 (a byte-order mark
    /// allowed at the start of the file) without NUL bytes; the bytes read, and the verdict.
    fn check_utf8(path: &Path, start: u64, end: Option<u64>) -> std::io::Result<(u64, bool)> {
        use std::io::{Read, Seek};
        let mut file = std::fs::File::open(path)?;
        file.seek(std::io::SeekFrom::Start(start))?;
        let input = file.take(end.map_or(u64::MAX, |end| end - start));
        let mut utf8 = Utf8Check {
            started: start > 0,
            ..Utf8Check::default()
        };
        let size = Self::blocks(input, &mut |block| utf8.feed(block))?;
        Ok((size, utf8.finish()))
    }

    /// The file's SHA-256 in hex, read from disk (about 0.2 s of a core for a 300 MB file).
    pub fn sha256(&self) -> Result<String, FileError> {
        let mut hasher = Sha256::new();
        std::fs::File::open(&self.path)
            .and_then(|file| Self::blocks(file, &mut |block| hasher.update(block)))
            .map_err(|e| FileError::whole(&self.path, format!("cannot read: {e}")))?;
        Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Reads a file a block at a time, handing each to `each`; the bytes read.
    fn blocks(mut reader: impl std::io::Read, each: &mut dyn FnMut(&[u8])) -> std::io::Result<u64> {
        let mut block = vec![0u8; 1 << 20];
        let mut size = 0u64;
        loop {
            let n = reader.read(&mut block)?;
            if n == 0 {
                return Ok(size);
            }
            each(&block[..n]);
            size += n as u64;
        }
    }

    /// The whole file, for adapters that parse it at once.
    pub fn bytes(&self) -> Result<Vec<u8>, FileError> {
        std::fs::read(&self.path).map_err(|e| FileError::whole(&self.path, format!("cannot read: {e}")))
    }

    /// The text of a plain UTF-8 file as it streams from disk, after its byte-order mark if it
    /// has one (which the encoding says).
    pub fn utf8_reader(
        &self,
        capacity: usize,
    ) -> Result<(std::io::BufReader<std::fs::File>, text::TextEncoding), FileError> {
        use std::io::BufRead;
        let cannot = |e: std::io::Error| FileError::whole(&self.path, format!("cannot read: {e}"));
        let mut input =
            std::io::BufReader::with_capacity(capacity, std::fs::File::open(&self.path).map_err(cannot)?);
        let bom = input.fill_buf().map_err(cannot)?.starts_with(&[0xEF, 0xBB, 0xBF]);
        if bom {
            input.consume(3);
            return Ok((input, text::TextEncoding::Utf8Bom));
        }
        Ok((input, text::TextEncoding::Utf8))
    }

    /// The name recorded in the lake's lineage columns and quarantine.
    pub fn name(&self) -> String {
        self.path.file_name().map_or_else(
            || self.path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }
}

/// UTF-8 validation of a file fed in blocks: a character split between two blocks is carried
/// over to the next one. A byte-order mark at the start is allowed; a NUL byte anywhere is not.
#[derive(Debug, Default)]
struct Utf8Check {
    carry: Vec<u8>,
    started: bool,
    bad: bool,
}

impl Utf8Check {
    fn feed(&mut self, mut block: &[u8]) {
        if self.bad {
            return;
        }
        if memchr::memchr(0, block).is_some() {
            self.bad = true;
            return;
        }
        if !self.started {
            self.started = true;
            block = block.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(block);
        }
        // A character begun in the previous block ends at the start of this one.
        while !self.carry.is_empty() && !block.is_empty() {
            self.carry.push(block[0]);
            block = &block[1..];
            match std::str::from_utf8(&self.carry) {
                Ok(_) => self.carry.clear(),
                Err(e) if e.error_len().is_none() => {}
                Err(_) => {
                    self.bad = true;
                    return;
                }
            }
        }
        match text::utf8(block) {
            Ok(_) => {}
            // Cut short at the end of the block: the rest of the character comes next.
            Err(e) if e.error_len().is_none() => self.carry = block[e.valid_up_to()..].to_vec(),
            Err(_) => self.bad = true,
        }
    }

    fn finish(self) -> bool {
        !self.bad && self.carry.is_empty()
    }
}

/// A file that cannot be read at all: it stops that file and names where the trouble is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub path: PathBuf,
    pub line: Option<u64>,
    pub column: Option<u64>,
    pub message: String,
}

impl FileError {
    pub fn whole(path: &Path, message: impl Into<String>) -> Self {
        FileError {
            path: path.to_path_buf(),
            line: None,
            column: None,
            message: message.into(),
        }
    }

    pub fn at(path: &Path, line: u64, column: Option<u64>, message: impl Into<String>) -> Self {
        FileError {
            path: path.to_path_buf(),
            line: Some(line),
            column,
            message: message.into(),
        }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for FileError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_file_is_plain_utf8_only_if_both_halves_are_and_its_size_counts_both() {
        let dir = tempfile::TempDir::new().unwrap();
        // 16 MB of lines of multi-byte text, so the middle falls inside a character.
        let line = "é€😀 patch, ok\n";
        let good = line.repeat((16 << 20) / line.len());
        let cases: [(&str, Vec<u8>, bool); 5] = [
            ("plain", good.clone().into_bytes(), true),
            ("bom", [&[0xEF, 0xBB, 0xBF][..], good.as_bytes()].concat(), true),
            ("nul late", [good.as_bytes(), b"\0\n"].concat(), false),
            ("bad byte late", [good.as_bytes(), &[0xFF, b'\n']].concat(), false),
            (
                "cut character at the end",
                [good.as_bytes(), &[0xE2, 0x82]].concat(),
                false,
            ),
        ];
        for (name, bytes, plain) in cases {
            let path = dir.path().join(format!("{name}.csv"));
            std::fs::write(&path, &bytes).unwrap();
            let file = SourceFile::read(&path).unwrap();
            assert_eq!(file.plain_utf8, plain, "{name}");
            assert_eq!(file.size, bytes.len() as u64, "{name}");
        }
        // A bad byte just before the middle is in the first half.
        let mut early = good.clone().into_bytes();
        early[good.len() / 2 - 3] = 0xFF;
        let path = dir.path().join("early.csv");
        std::fs::write(&path, &early).unwrap();
        assert!(!SourceFile::read(&path).unwrap().plain_utf8);
    }
}
