//! Checks shared by the test files.

use std::fs;
use std::path::Path;

use govpack::lake::Lake;
use govpack::sql;
use parquet::basic::{Compression, ConvertedType, LogicalType, PageType, TimeUnit, Type as Physical};
use parquet::file::reader::{FileReader, SerializedFileReader};

/// Asserts the Parquet profile Power BI reads cleanly, read back with the `parquet` crate (not
/// the writer that made the file): no INT96, no unsigned integers, timestamps in microseconds
/// adjusted to UTC, SNAPPY, v1 data pages. Returns the number of timestamp columns.
#[allow(dead_code)] // not every test binary checks a profile
pub fn assert_power_bi_profile(path: &Path) -> usize {
    let reader = SerializedFileReader::new(fs::File::open(path).unwrap()).unwrap();
    let meta = reader.metadata();
    let mut timestamps = 0;
    for column in meta.file_metadata().schema_descr().columns() {
        let name = format!("{}:{}", path.display(), column.name());
        assert_ne!(column.physical_type(), Physical::INT96, "{name}");
        assert!(
            !matches!(
                column.converted_type(),
                ConvertedType::UINT_8
                    | ConvertedType::UINT_16
                    | ConvertedType::UINT_32
                    | ConvertedType::UINT_64
            ),
            "{name}"
        );
        match column.logical_type_ref() {
            Some(LogicalType::Timestamp(t)) => {
                timestamps += 1;
                assert!(t.is_adjusted_to_u_t_c, "{name}");
                assert!(matches!(t.unit, TimeUnit::MICROS), "{name}: {:?}", t.unit);
            }
            Some(LogicalType::Integer(i)) => assert!(i.is_signed, "{name}"),
            Some(LogicalType::String) | Some(LogicalType::Date) | None => {}
            other => panic!("{name}: unexpected logical type {other:?}"),
        }
    }
    for (g, group) in meta.row_groups().iter().enumerate() {
        for (c, column) in group.columns().iter().enumerate() {
            assert_eq!(column.compression(), Compression::SNAPPY, "{}", path.display());
            let pages = reader
                .get_row_group(g)
                .unwrap()
                .get_column_page_reader(c)
                .unwrap();
            for page in pages {
                let kind = page.unwrap().page_type();
                assert!(
                    matches!(kind, PageType::DATA_PAGE | PageType::DICTIONARY_PAGE),
                    "{}: {kind:?}",
                    path.display()
                );
            }
        }
    }
    timestamps
}

/// A query's rows over the lake, every cell as text (NULL as "NULL"); cast non-text columns
/// with `::varchar`.
#[allow(dead_code)]
pub fn query_strings(lake: &Lake, sql_text: &str) -> Vec<Vec<String>> {
    let conn = sql::open(lake).unwrap();
    let mut stmt = conn.prepare(sql_text).unwrap();
    let mut rows = stmt.query([]).unwrap();
    let mut out = Vec::new();
    while let Some(row) = rows.next().unwrap() {
        let n = row.as_ref().column_count();
        out.push(
            (0..n)
                .map(|i| {
                    let v: Option<String> = row.get(i).unwrap();
                    v.unwrap_or_else(|| "NULL".into())
                })
                .collect(),
        );
    }
    out
}
