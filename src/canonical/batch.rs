//! Validated rows of one table, held by column with their real types, and their conversion to a
//! Polars frame with the lake's column types. Every adapter hands its output over as a `Batch`.

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use polars::prelude::*;

use super::parse::{common_date, common_timestamp};
use super::{
    Cell, Column as CanonicalColumn, ColumnType, IDENTIFIER_BYTES, LINEAGE_EXPORT_DATE, LINEAGE_SOURCE_FILE,
    LINEAGE_SOURCE_LINE, Partitioning, Problem, TEXT_BYTES, Table, Value, parse_cell,
};

/// A text column as one buffer and the end of each cell in it: a cell costs its bytes and a few
/// more, never an allocation of its own.
#[derive(Debug, Clone, Default)]
struct TextColumn {
    bytes: String,
    /// Where each cell ends in `bytes`; a null cell ends where the previous one did.
    ends: Vec<usize>,
    valid: Vec<bool>,
}

impl TextColumn {
    fn push(&mut self, cell: Option<&str>) {
        if let Some(s) = cell {
            self.bytes.push_str(s);
        }
        self.ends.push(self.bytes.len());
        self.valid.push(cell.is_some());
    }

    fn get(&self, row: usize) -> Option<&str> {
        let start = if row == 0 { 0 } else { self.ends[row - 1] };
        self.valid[row].then(|| &self.bytes[start..self.ends[row]])
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn iter(&self) -> impl Iterator<Item = Option<&str>> {
        (0..self.len()).map(|row| self.get(row))
    }

    /// The column rebuilt from its cells as `cell` gives them, row by row.
    fn rebuilt<'a>(&'a self, mut cell: impl FnMut(usize, Option<&'a str>) -> Option<&'a str>) -> TextColumn {
        let mut out = TextColumn::default();
        for row in 0..self.len() {
            out.push(cell(row, self.get(row)));
        }
        out
    }
}

#[derive(Debug, Clone)]
enum ColumnData {
    Text(TextColumn),
    Date(Vec<Option<NaiveDate>>),
    Timestamp(Vec<Option<DateTime<Utc>>>),
    Bool(Vec<Option<bool>>),
    Int(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
}

impl ColumnData {
    /// An empty column with room for `rows` cells (and `text_bytes` bytes of text).
    fn for_type(ty: ColumnType, rows: usize, text_bytes: usize) -> Self {
        match ty {
            ColumnType::Text | ColumnType::Enum(_) => ColumnData::Text(TextColumn {
                bytes: String::with_capacity(text_bytes),
                ends: Vec::with_capacity(rows),
                valid: Vec::with_capacity(rows),
            }),
            ColumnType::Date => ColumnData::Date(Vec::with_capacity(rows)),
            ColumnType::Timestamp => ColumnData::Timestamp(Vec::with_capacity(rows)),
            ColumnType::Bool => ColumnData::Bool(Vec::with_capacity(rows)),
            ColumnType::Int { .. } => ColumnData::Int(Vec::with_capacity(rows)),
            ColumnType::Float => ColumnData::Float(Vec::with_capacity(rows)),
        }
    }

    fn text_bytes(&self) -> usize {
        match self {
            ColumnData::Text(v) => v.bytes.len(),
            _ => 0,
        }
    }

    /// Appends a cell parsed for this column's type (`parse_cell` guarantees the match).
    fn push(&mut self, cell: Cell) {
        match (self, cell) {
            (ColumnData::Text(v), Cell::Text(s)) => v.push(Some(s)),
            (ColumnData::Text(v), Cell::Null) => v.push(None),
            (ColumnData::Date(v), Cell::Date(d)) => v.push(Some(d)),
            (ColumnData::Date(v), Cell::Null) => v.push(None),
            (ColumnData::Timestamp(v), Cell::Timestamp(t)) => v.push(Some(t)),
            (ColumnData::Timestamp(v), Cell::Null) => v.push(None),
            (ColumnData::Bool(v), Cell::Bool(b)) => v.push(Some(b)),
            (ColumnData::Bool(v), Cell::Null) => v.push(None),
            (ColumnData::Int(v), Cell::Int(i)) => v.push(Some(i)),
            (ColumnData::Int(v), Cell::Null) => v.push(None),
            (ColumnData::Float(v), Cell::Float(x)) => v.push(Some(x)),
            (ColumnData::Float(v), Cell::Null) => v.push(None),
            (column, cell) => panic!("cell {cell:?} does not fit column {column:?}"),
        }
    }

    fn len(&self) -> usize {
        match self {
            ColumnData::Text(v) => v.len(),
            ColumnData::Date(v) => v.len(),
            ColumnData::Timestamp(v) => v.len(),
            ColumnData::Bool(v) => v.len(),
            ColumnData::Int(v) => v.len(),
            ColumnData::Float(v) => v.len(),
        }
    }

    /// One cell, borrowed.
    fn cell(&self, row: usize) -> Cell<'_> {
        match self {
            ColumnData::Text(v) => v.get(row).map_or(Cell::Null, Cell::Text),
            ColumnData::Date(v) => v[row].map_or(Cell::Null, Cell::Date),
            ColumnData::Timestamp(v) => v[row].map_or(Cell::Null, Cell::Timestamp),
            ColumnData::Bool(v) => v[row].map_or(Cell::Null, Cell::Bool),
            ColumnData::Int(v) => v[row].map_or(Cell::Null, Cell::Int),
            ColumnData::Float(v) => v[row].map_or(Cell::Null, Cell::Float),
        }
    }

    /// Appends cells parsed from text, a column at a time (see `Batch::append_column`).
    fn append_parsed<'a>(
        &mut self,
        column: &CanonicalColumn,
        cells: impl Iterator<Item = Option<&'a str>>,
        problems: &mut Vec<(usize, Problem)>,
    ) -> u64 {
        let mut cut = 0;
        // Every cell of a shape the fast reading does not take is `parse_cell`'s to decide; a
        // refused one is held by a null.
        let mut decide =
            |row: usize, raw: Option<&'a str>| match raw.map(|raw| (raw, parse_cell(column, raw))) {
                None => Cell::Null,
                Some((raw, Ok(cell))) => {
                    if matches!(column.ty, ColumnType::Text)
                        && matches!(cell, Cell::Text(t) if t.len() < raw.trim().len())
                    {
                        cut += 1;
                    }
                    cell
                }
                Some((_, Err(problem))) => {
                    problems.push((row, problem));
                    Cell::Null
                }
            };
        match (column.ty, &mut *self) {
            (ColumnType::Text, ColumnData::Text(v)) => {
                let longest = if column.is_identifier() {
                    IDENTIFIER_BYTES
                } else {
                    TEXT_BYTES
                };
                for (row, raw) in cells.enumerate() {
                    match raw.map(trimmed) {
                        Some(text) if !text.is_empty() && text.len() <= longest => v.push(Some(text)),
                        _ => v.push(decide(row, raw).text()),
                    }
                }
            }
            (ColumnType::Enum(words), ColumnData::Text(v)) => {
                for (row, raw) in cells.enumerate() {
                    // Exports mostly write the words as the model does: an exact match first,
                    // then one without regard to case (lengths told apart before letters).
                    let word = raw.map(trimmed).filter(|text| !text.is_empty()).and_then(|text| {
                        words.iter().find(|w| **w == text).or_else(|| {
                            words
                                .iter()
                                .find(|w| w.len() == text.len() && w.eq_ignore_ascii_case(text))
                        })
                    });
                    match word {
                        Some(word) => v.push(Some(word)),
                        None => v.push(decide(row, raw).text()),
                    }
                }
            }
            (ColumnType::Date, ColumnData::Date(v)) => {
                // A column of dates repeats a few (the snapshot's day, Patch Tuesdays): the text
                // of the last one read is compared before any is read again.
                let mut last: Option<(&str, NaiveDate)> = None;
                for (row, raw) in cells.enumerate() {
                    let text = raw.map(trimmed);
                    let date = match (text, last) {
                        (Some(text), Some((same, date))) if text == same => Some(date),
                        (Some(text), _) => common_date(text).inspect(|date| last = Some((text, *date))),
                        (None, _) => None,
                    };
                    match date {
                        Some(date) => v.push(Some(date)),
                        None => v.push(match decide(row, raw) {
                            Cell::Date(date) => Some(date),
                            _ => None,
                        }),
                    }
                }
            }
            (ColumnType::Timestamp, ColumnData::Timestamp(v)) => {
                for (row, raw) in cells.enumerate() {
                    match raw.and_then(|r| common_timestamp(trimmed(r))) {
                        Some(time) => v.push(Some(time)),
                        None => v.push(decide(row, raw).as_timestamp()),
                    }
                }
            }
            _ => {
                for (row, raw) in cells.enumerate() {
                    let cell = decide(row, raw);
                    self.push(cell);
                }
            }
        }
        cut
    }

    /// The cells from `row` on, taken off this column.
    fn split_off(&mut self, row: usize) -> ColumnData {
        match self {
            ColumnData::Text(v) => {
                let start = if row == 0 { 0 } else { v.ends[row - 1] };
                ColumnData::Text(TextColumn {
                    bytes: v.bytes.split_off(start),
                    ends: v.ends.split_off(row).into_iter().map(|end| end - start).collect(),
                    valid: v.valid.split_off(row),
                })
            }
            ColumnData::Date(v) => ColumnData::Date(v.split_off(row)),
            ColumnData::Timestamp(v) => ColumnData::Timestamp(v.split_off(row)),
            ColumnData::Bool(v) => ColumnData::Bool(v.split_off(row)),
            ColumnData::Int(v) => ColumnData::Int(v.split_off(row)),
            ColumnData::Float(v) => ColumnData::Float(v.split_off(row)),
        }
    }

    /// Keeps the cells whose flag is true, in order.
    fn retain(&mut self, keep: &[bool]) {
        fn filter<T>(v: &mut Vec<T>, keep: &[bool]) {
            let mut flags = keep.iter();
            v.retain(|_| *flags.next().expect("one flag per row"));
        }
        match self {
            ColumnData::Text(v) => {
                let mut kept = TextColumn::default();
                for (cell, _) in v.iter().zip(keep).filter(|(_, k)| **k) {
                    kept.push(cell);
                }
                *v = kept;
            }
            ColumnData::Date(v) => filter(v, keep),
            ColumnData::Timestamp(v) => filter(v, keep),
            ColumnData::Bool(v) => filter(v, keep),
            ColumnData::Int(v) => filter(v, keep),
            ColumnData::Float(v) => filter(v, keep),
        }
    }

    /// Appends another column of the same type.
    fn extend(&mut self, other: ColumnData) {
        match (self, other) {
            (ColumnData::Text(v), ColumnData::Text(o)) => {
                for cell in o.iter() {
                    v.push(cell);
                }
            }
            (ColumnData::Date(v), ColumnData::Date(o)) => v.extend(o),
            (ColumnData::Timestamp(v), ColumnData::Timestamp(o)) => v.extend(o),
            (ColumnData::Bool(v), ColumnData::Bool(o)) => v.extend(o),
            (ColumnData::Int(v), ColumnData::Int(o)) => v.extend(o),
            (ColumnData::Float(v), ColumnData::Float(o)) => v.extend(o),
            (column, other) => panic!("column {other:?} does not fit column {column:?}"),
        }
    }

    fn get(&self, row: usize) -> Value {
        match self {
            ColumnData::Text(v) => v.get(row).map_or(Value::Null, |s| Value::Text(s.to_string())),
            ColumnData::Date(v) => v[row].map_or(Value::Null, Value::Date),
            ColumnData::Timestamp(v) => v[row].map_or(Value::Null, Value::Timestamp),
            ColumnData::Bool(v) => v[row].map_or(Value::Null, Value::Bool),
            ColumnData::Int(v) => v[row].map_or(Value::Null, Value::Int),
            ColumnData::Float(v) => v[row].map_or(Value::Null, Value::Float),
        }
    }

    fn into_column(self, name: &str) -> Result<Column> {
        let name = PlSmallStr::from_str(name);
        Ok(match self {
            // The text becomes the frame's as it is: its buffer and cell ends are what Arrow's
            // large UTF-8 array holds, and Polars' string views point into that buffer.
            ColumnData::Text(v) => {
                let ends = std::iter::once(0).chain(v.ends.iter().map(|end| *end as i64));
                let validity = (!v.valid.iter().all(|valid| *valid))
                    .then(|| v.valid.iter().copied().collect::<polars_arrow::bitmap::Bitmap>());
                let array = polars_arrow::array::Utf8Array::<i64>::try_new(
                    ArrowDataType::LargeUtf8,
                    ends.collect::<Vec<i64>>().try_into()?,
                    v.bytes.into_bytes().into(),
                    validity,
                )?;
                Series::from_arrow(name, Box::new(array))?.into()
            }
            ColumnData::Bool(v) => Column::new(name, v),
            ColumnData::Int(v) => Column::new(name, v),
            ColumnData::Float(v) => Column::new(name, v),
            ColumnData::Date(v) => {
                let days: Int32Chunked = v.iter().map(|d| d.map(days_since_epoch)).collect();
                days.with_name(name).into_date().into_series().into()
            }
            ColumnData::Timestamp(v) => {
                let micros: Int64Chunked = v.iter().map(|t| t.map(|t| t.timestamp_micros())).collect();
                micros
                    .with_name(name)
                    .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
                    .into_series()
                    .into()
            }
        })
    }
}

/// `str::trim`, answered at once for the text nearly every cell is: one that starts and ends with
/// a visible ASCII character has nothing to trim.
fn trimmed(text: &str) -> &str {
    match text.as_bytes() {
        [first, .., last] if first.is_ascii_graphic() && last.is_ascii_graphic() => text,
        [only] if only.is_ascii_graphic() => text,
        _ => text.trim(),
    }
}

fn days_since_epoch(d: NaiveDate) -> i32 {
    /// Days from 0001-01-01 (day 1 of chrono's count) to 1970-01-01.
    const UNIX_EPOCH_FROM_CE: i32 = 719_163;
    chrono::Datelike::num_days_from_ce(&d) - UNIX_EPOCH_FROM_CE
}

/// The Polars type a canonical column has in the lake: timestamps are UTC microseconds (never
/// nanoseconds, which Power BI and older readers mis-read), counts are signed 64-bit.
pub fn lake_dtype(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::Text | ColumnType::Enum(_) => DataType::String,
        ColumnType::Date => DataType::Date,
        ColumnType::Timestamp => DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC)),
        ColumnType::Bool => DataType::Boolean,
        ColumnType::Int { .. } => DataType::Int64,
        ColumnType::Float => DataType::Float64,
    }
}

/// How large a batch grew: its rows and the text bytes of each column. The next chunk of the same
/// table is allocated at that size at once instead of growing by doubling, which copies every
/// column several times and touches fresh pages each time.
#[derive(Debug, Clone, Default)]
pub struct BatchSize {
    rows: usize,
    text_bytes: Vec<usize>,
}

/// Rows of one table that passed validation, in arrival order, with where each came from.
#[derive(Debug, Clone)]
pub struct Batch {
    pub table: &'static Table,
    columns: Vec<ColumnData>,
    /// The file each row came from (its name as given) and its line there; `None` for tables
    /// the lake writes itself (quarantine, ledger), which carry no lineage columns.
    lineage: Option<(String, Vec<i64>)>,
    /// The day the rows' export describes, when known (lineage too).
    export_date: Option<NaiveDate>,
}

impl Batch {
    /// An empty batch of a canonical table whose rows came from `source_file`.
    pub fn new(table: &'static Table, source_file: &str) -> Self {
        let mut batch = Self::without_lineage(table);
        batch.lineage = Some((source_file.to_string(), Vec::new()));
        batch
    }

    /// An empty batch like `new`, with room for rows of the size a previous batch reached.
    pub fn with_size(table: &'static Table, source_file: &str, size: &BatchSize) -> Self {
        let mut batch = Self::sized(table, size);
        batch.lineage = Some((source_file.to_string(), Vec::with_capacity(size.rows)));
        batch
    }

    pub fn without_lineage(table: &'static Table) -> Self {
        Self::sized(table, &BatchSize::default())
    }

    fn sized(table: &'static Table, size: &BatchSize) -> Self {
        Batch {
            table,
            columns: table
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    ColumnData::for_type(c.ty, size.rows, size.text_bytes.get(i).copied().unwrap_or(0))
                })
                .collect(),
            lineage: None,
            export_date: None,
        }
    }

    /// The size these rows reached (see `with_size`).
    pub fn size(&self) -> BatchSize {
        BatchSize {
            rows: self.len(),
            text_bytes: self.columns.iter().map(ColumnData::text_bytes).collect(),
        }
    }

    /// Records the day the export describes, for every row of the batch.
    pub fn set_export_date(&mut self, day: Option<NaiveDate>) {
        self.export_date = day;
    }

    /// Appends one row of values, in the table's column order.
    pub fn push_row(&mut self, values: Vec<Value>, line: u64) {
        let cells: Vec<Cell> = values.iter().map(Value::as_cell).collect();
        self.push_cells(&cells, line);
    }

    /// Appends one row of cells, in the table's column order, as `parse_cell` gave them.
    pub fn push_cells(&mut self, cells: &[Cell], line: u64) {
        assert_eq!(
            cells.len(),
            self.columns.len(),
            "row width of {}",
            self.table.name
        );
        for (column, cell) in self.columns.iter_mut().zip(cells) {
            column.push(*cell);
        }
        if let Some((_, lines)) = &mut self.lineage {
            lines.push(line as i64);
        }
    }

    /// Parses a block of rows' cells of column `index` from text and appends them: the block is
    /// read a column at a time, each column's type decided once (a column of dates is a loop of
    /// date reading, not a question per cell). A row given as `None` is not read; like a refused
    /// cell (its problem recorded with its row in the block), it is held by a null until the
    /// caller drops the block's refused rows (`keep_rows`). Returns the text cells cut to
    /// `TEXT_BYTES`. Every column of the table and the lines (`append_lines`) get the same rows.
    pub fn append_column<'a>(
        &mut self,
        index: usize,
        cells: impl Iterator<Item = Option<&'a str>>,
        problems: &mut Vec<(usize, Problem)>,
    ) -> u64 {
        self.columns[index].append_parsed(&self.table.columns[index], cells, problems)
    }

    /// The source lines of rows appended a column at a time (`append_column`).
    pub fn append_lines(&mut self, lines: impl Iterator<Item = u64>) {
        if let Some((_, kept)) = &mut self.lineage {
            kept.extend(lines.map(|line| line as i64));
        }
    }

    /// One cell, borrowed, by column position.
    pub fn cell(&self, row: usize, index: usize) -> Cell<'_> {
        self.columns[index].cell(row)
    }

    /// A row's cells in the table's column order.
    pub fn cells(&self, row: usize) -> smallvec::SmallVec<[Cell<'_>; 24]> {
        self.columns.iter().map(|c| c.cell(row)).collect()
    }

    /// Keeps the rows from `first` on whose flag is true (the rows before it stay).
    pub fn keep_rows(&mut self, first: usize, keep: &[bool]) {
        assert_eq!(
            first + keep.len(),
            self.len(),
            "one flag per row of {}",
            self.table.name
        );
        if keep.iter().all(|k| *k) {
            return;
        }
        // Only the block's rows are rebuilt, never the rows the batch held before it.
        for column in &mut self.columns {
            let mut tail = column.split_off(first);
            tail.retain(keep);
            column.extend(tail);
        }
        if let Some((_, lines)) = &mut self.lineage {
            let mut flags = keep.iter();
            let mut tail = lines.split_off(first);
            tail.retain(|_| *flags.next().expect("one flag per row"));
            lines.extend(tail);
        }
    }

    pub fn len(&self) -> usize {
        self.columns.first().map_or(0, ColumnData::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One cell, by column name.
    pub fn value(&self, row: usize, column: &str) -> Value {
        let index = self
            .table
            .column_index(column)
            .unwrap_or_else(|| panic!("{} has no column {column}", self.table.name));
        self.columns[index].get(row)
    }

    /// The cells of a text column, in row order (`None` for an empty cell).
    pub fn texts(&self, column: &str) -> impl Iterator<Item = Option<&str>> {
        let index = self
            .table
            .column_index(column)
            .unwrap_or_else(|| panic!("{} has no column {column}", self.table.name));
        match &self.columns[index] {
            ColumnData::Text(v) => v.iter(),
            other => panic!("{column} is not text: {other:?}"),
        }
    }

    /// Replaces the empty cells of a text column with what `fill` says for that row.
    pub fn fill_text<'f>(&mut self, column: &str, fill: impl Fn(usize) -> Option<&'f str>) {
        let index = self.table.column_index(column).expect("known column");
        let ColumnData::Text(v) = &self.columns[index] else {
            panic!("{column} is not text: {:?}", self.columns[index]);
        };
        if (0..v.len()).all(|row| v.get(row).is_some() || fill(row).is_none()) {
            return;
        }
        let rebuilt = v.rebuilt(|row, cell| cell.or_else(|| fill(row)));
        self.columns[index] = ColumnData::Text(rebuilt);
    }

    /// The line of a row in its source file (0 for tables without lineage).
    pub fn line(&self, row: usize) -> u64 {
        self.lineage.as_ref().map_or(0, |(_, lines)| lines[row] as u64)
    }

    /// The calendar day of each row's partition column, for a table partitioned by day.
    pub fn partition_days(&self) -> Option<Vec<NaiveDate>> {
        let Partitioning::Day { column, .. } = self.table.partitioning else {
            return None;
        };
        let index = self.table.column_index(column).expect("partition column");
        // The partition column is required: validation never lets a row through without it.
        let days = match &self.columns[index] {
            ColumnData::Date(v) => v.iter().map(|d| d.expect("required date")).collect(),
            ColumnData::Timestamp(v) => v
                .iter()
                .map(|t| t.expect("required timestamp").date_naive())
                .collect(),
            other => panic!("{column} is not a date: {other:?}"),
        };
        Some(days)
    }

    /// Keeps the rows whose flag is true, in order.
    pub fn retain(&mut self, keep: &[bool]) {
        self.keep_rows(0, keep);
    }

    /// The frame of these rows with the lake's schema (canonical columns, then lineage).
    pub fn to_frame(&self) -> Result<DataFrame> {
        self.clone().into_frame()
    }

    /// `to_frame`, the rows' text handed to the frame without a copy.
    pub fn into_frame(self) -> Result<DataFrame> {
        let height = self.len();
        let table = self.table;
        let mut columns: Vec<Column> = table
            .columns
            .iter()
            .zip(self.columns)
            .map(|(c, data)| data.into_column(c.name))
            .collect::<Result<_>>()?;
        if let Some((file, lines)) = self.lineage {
            let files: Vec<&str> = vec![file.as_str(); lines.len()];
            columns.push(Column::new(LINEAGE_SOURCE_FILE.into(), files));
            let export_dates = ColumnData::Date(vec![self.export_date; lines.len()]);
            columns.push(Column::new(LINEAGE_SOURCE_LINE.into(), lines));
            columns.push(export_dates.into_column(LINEAGE_EXPORT_DATE)?);
        }
        DataFrame::new(height, columns)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("building the {} frame", table.name))
    }
}

/// The lake schema of a table: its canonical columns, then the lineage columns when it has them.
pub fn lake_schema(table: &Table, with_lineage: bool) -> Schema {
    let mut schema: Schema = table
        .columns
        .iter()
        .map(|c| Field::new(c.name.into(), lake_dtype(c.ty)))
        .collect();
    if with_lineage {
        schema.with_column(LINEAGE_SOURCE_FILE.into(), DataType::String);
        schema.with_column(LINEAGE_SOURCE_LINE.into(), DataType::Int64);
        schema.with_column(LINEAGE_EXPORT_DATE.into(), DataType::Date);
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::TENANTS;

    fn tenant(id: &str, psa: Option<&str>) -> Vec<Value> {
        vec![
            Value::Text(id.into()),
            Value::Text(format!("Name of {id}")),
            Value::Text("standard".into()),
            psa.map_or(Value::Null, |p| Value::Text(p.into())),
            Value::Text(String::new()),
        ]
    }

    #[test]
    fn text_cells_keep_null_apart_from_empty_through_retain_fill_and_the_frame() {
        let mut batch = Batch::new(&TENANTS, "t.csv");
        batch.push_row(tenant("a", Some("100")), 2);
        batch.push_row(tenant("b", None), 3);
        batch.push_row(tenant("c", Some("300")), 4);
        batch.push_row(tenant("d", None), 5);
        assert_eq!(batch.value(1, "psa_company_id"), Value::Null);
        assert_eq!(batch.value(1, "rmm_site_id"), Value::Text(String::new()));

        batch.retain(&[true, true, false, true]);
        assert_eq!(batch.len(), 3);
        assert_eq!(
            (batch.value(2, "tenant_id"), batch.line(2)),
            (Value::Text("d".into()), 5)
        );

        let filled: Vec<String> = batch
            .texts("tenant_id")
            .map(|tenant| format!("from-{}", tenant.unwrap_or_default()))
            .collect();
        batch.fill_text("psa_company_id", |row| Some(filled[row].as_str()));
        let frame = batch.to_frame().unwrap();
        let psa: Vec<Option<&str>> = frame
            .column("psa_company_id")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(psa, vec![Some("100"), Some("from-b"), Some("from-d")]);
        let site: Vec<Option<&str>> = frame
            .column("rmm_site_id")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(site, vec![Some(""), Some(""), Some("")]);
    }
}
