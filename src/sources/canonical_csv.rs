//! The canonical interchange format: one canonical table per CSV file, recognised by its header
//! (any column order), as described in canonical-model.md. Also the import format for tools that
//! have no adapter, and the format of the sample data.
//!
//! Each row is validated cell by cell; a row with any bad cell is refused whole (every problem of
//! it is reported) and the rest of the file still loads.

use super::{AdapterOutput, FileError, RowSink, SourceFile, text};
use crate::canonical::{Problem, Reason, TABLES, Table};

/// Reads one canonical CSV file.
pub fn read(file: &SourceFile) -> Result<AdapterOutput, FileError> {
    let Opened {
        text,
        encoding,
        headers,
        table,
    } = open(file)?;
    if let Some(duplicate) = headers
        .iter()
        .enumerate()
        .find(|(i, h)| !h.is_empty() && headers[..*i].contains(h))
    {
        return Err(FileError::at(
            &file.path,
            1,
            Some(duplicate.0 as u64 + 1),
            format!("column `{}` appears twice in the header", duplicate.1),
        ));
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(text.as_bytes());

    let mut warnings = Vec::new();
    let unknown: Vec<&str> = headers
        .iter()
        .filter(|h| table.column(h).is_none())
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        warnings.push(format!(
            "columns not in the canonical `{}` table were ignored: {}",
            table.name,
            unknown.join(", ")
        ));
    }
    // Where each canonical column sits in the file; absent optional columns read as empty.
    let positions: Vec<Option<usize>> = table
        .columns
        .iter()
        .map(|c| headers.iter().position(|h| h == c.name))
        .collect();

    let mut sink = RowSink::new(&file.name());
    let mut rows_read = 0;
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(file, &e))?;
        let line = record.position().map_or(0, |p| p.line());
        rows_read += 1;
        if record.len() != headers.len() {
            let problem = Problem {
                column: String::new(),
                value: record.iter().collect::<Vec<_>>().join(","),
                reason: Reason::WrongFieldCount,
                detail: format!("{} fields where the header has {}", record.len(), headers.len()),
            };
            sink.reject(table, line, problem);
            continue;
        }
        let cells: Vec<(&str, String)> = table
            .columns
            .iter()
            .zip(&positions)
            .filter_map(|(column, position)| position.map(|p| (column.name, record[p].to_string())))
            .collect();
        sink.push(table, line, &cells);
    }
    Ok(sink.finish(rows_read, warnings, encoding))
}

/// Which canonical table a file holds, from its header alone.
pub fn detect_file_table(file: &SourceFile) -> Result<&'static Table, FileError> {
    open(file).map(|opened| opened.table)
}

/// A file decoded, with its normalised header and the table that header names.
struct Opened {
    text: String,
    encoding: text::TextEncoding,
    headers: Vec<String>,
    table: &'static Table,
}

fn open(file: &SourceFile) -> Result<Opened, FileError> {
    let (text, encoding) = text::decode(&file.bytes)
        .map_err(|e| FileError::at(&file.path, e.line, Some(e.column), e.message))?;
    let headers: Vec<String> = csv::ReaderBuilder::new()
        .from_reader(text.as_bytes())
        .headers()
        .map_err(|e| csv_error(file, &e))?
        .iter()
        .map(normalise_header)
        .collect();
    let table = detect_table(&headers, &file.name()).map_err(|m| FileError::at(&file.path, 1, None, m))?;
    Ok(Opened {
        text,
        encoding,
        headers,
        table,
    })
}

fn normalise_header(h: &str) -> String {
    h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase()
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
        "the header matches no canonical table (found: {}). Expected the columns of:\n{}",
        headers.join(", "),
        tables.iter().map(|t| describe(t)).collect::<Vec<_>>().join("\n")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(s: &str) -> Vec<String> {
        s.split(',').map(String::from).collect()
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
        assert!(err.contains("found: host, when"), "{err}");
        let err = detect_table(&headers("host,when"), "stuff.csv").unwrap_err();
        for table in TABLES {
            assert!(err.contains(&format!("  {}: required", table.name)), "{err}");
        }
    }
}
