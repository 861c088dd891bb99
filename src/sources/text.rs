//! Turning an export's bytes into text. Exports arrive as UTF-8 (with or without a BOM, as
//! PowerShell 7 and most tools write) or UTF-16 with a BOM (Windows PowerShell's `Out-File` and
//! Excel's "Unicode text"). Anything else is refused with the line and column of the first byte
//! that does not decode, never guessed at: a mis-decoded hostname would silently split a device.

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE};

/// Where and why decoding stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub line: u64,
    pub column: u64,
    pub message: String,
}

/// The encoding a file was read with, for the ingest ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    Utf8,
    Utf8Bom,
    Utf16Le,
    Utf16Be,
}

impl TextEncoding {
    pub fn as_str(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "utf-8",
            TextEncoding::Utf8Bom => "utf-8-bom",
            TextEncoding::Utf16Le => "utf-16le",
            TextEncoding::Utf16Be => "utf-16be",
        }
    }
}

/// `std::str::from_utf8`, with a SIMD check first: an export's megabytes of ASCII pass at memory
/// speed, and only text that fails it is read again for the error's place.
pub fn utf8(bytes: &[u8]) -> Result<&str, std::str::Utf8Error> {
    match simdutf8::basic::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(_) => std::str::from_utf8(bytes),
    }
}

pub fn decode(bytes: &[u8]) -> Result<(String, TextEncoding), DecodeError> {
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return decode_utf8(rest).map(|s| (s, TextEncoding::Utf8Bom));
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return decode_utf16(rest, UTF_16LE).map(|s| (s, TextEncoding::Utf16Le));
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return decode_utf16(rest, UTF_16BE).map(|s| (s, TextEncoding::Utf16Be));
    }
    decode_utf8(bytes).map(|s| (s, TextEncoding::Utf8))
}

fn decode_utf8(bytes: &[u8]) -> Result<String, DecodeError> {
    match utf8(bytes) {
        Ok(s) => {
            if let Some(at) = s.find('\0') {
                let (line, column) = position(&s[..at]);
                return Err(DecodeError {
                    line,
                    column,
                    message: "NUL byte: this looks like UTF-16 without a byte-order mark; \
                              save the export as UTF-8 or as UTF-16 with a BOM"
                        .into(),
                });
            }
            Ok(s.to_string())
        }
        Err(e) => {
            let valid = std::str::from_utf8(&bytes[..e.valid_up_to()]).expect("valid prefix");
            let (line, column) = position(valid);
            Err(DecodeError {
                line,
                column,
                message: format!(
                    "byte 0x{:02X} is not UTF-8; save the export as UTF-8 (or UTF-16 with a BOM)",
                    bytes[e.valid_up_to()]
                ),
            })
        }
    }
}

fn decode_utf16(bytes: &[u8], encoding: &'static Encoding) -> Result<String, DecodeError> {
    if let Some(text) = encoding.decode_without_bom_handling_and_without_replacement(bytes) {
        return Ok(text.into_owned());
    }
    // Decode again with replacement only to say where the first bad code unit is.
    let (lossy, _) = encoding.decode_without_bom_handling(bytes);
    let at = lossy.find('\u{FFFD}').unwrap_or(lossy.len());
    let (line, column) = position(&lossy[..at]);
    Err(DecodeError {
        line,
        column,
        message: format!(
            "invalid {} (an unpaired surrogate or an odd number of bytes)",
            encoding.name()
        ),
    })
}

/// The 1-based line and column (in characters) just after `prefix`.
fn position(prefix: &str) -> (u64, u64) {
    let line = prefix.matches('\n').count() as u64 + 1;
    let column = prefix.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u64 + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le_with_bom(s: &str) -> Vec<u8> {
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(s.encode_utf16().flat_map(u16::to_le_bytes));
        bytes
    }

    #[test]
    fn utf8_with_and_without_bom_decode_to_the_same_text() {
        let plain = decode("a,b\né,2\n".as_bytes()).unwrap();
        let mut with_bom = vec![0xEF, 0xBB, 0xBF];
        with_bom.extend("a,b\né,2\n".as_bytes());
        let bom = decode(&with_bom).unwrap();
        assert_eq!(plain.0, bom.0);
        assert_eq!((plain.1, bom.1), (TextEncoding::Utf8, TextEncoding::Utf8Bom));
    }

    #[test]
    fn utf16le_with_bom_is_read() {
        let (text, encoding) = decode(&utf16le_with_bom("host,ü\nPC-01,1\n")).unwrap();
        assert_eq!(text, "host,ü\nPC-01,1\n");
        assert_eq!(encoding, TextEncoding::Utf16Le);
    }

    #[test]
    fn invalid_utf8_names_line_and_column() {
        let err = decode(b"a,b\nab,c\xFFd\n").unwrap_err();
        assert_eq!((err.line, err.column), (2, 5));
        assert!(err.message.contains("0xFF"));
    }

    #[test]
    fn utf16_without_bom_is_refused_with_a_hint() {
        let bytes: Vec<u8> = "a,b\n".encode_utf16().flat_map(u16::to_le_bytes).collect();
        let err = decode(&bytes).unwrap_err();
        assert!(
            err.message.contains("UTF-16 without a byte-order mark"),
            "{}",
            err.message
        );
    }

    #[test]
    fn truncated_utf16_is_refused_with_its_position() {
        let mut bytes = utf16le_with_bom("a,b\nc");
        bytes.push(0x41);
        let err = decode(&bytes).unwrap_err();
        assert_eq!((err.line, err.column), (2, 2));
    }
}
