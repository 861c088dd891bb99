//! A cell and a row as text becomes them: what each column type accepts, what a refused cell
//! reports, and the checks that look past one cell. `parse_cell` decides every cell; the column
//! parsers of `batch.rs` read the common shapes faster and ask it about everything else.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};

use super::{Cell, Column, ColumnType, Problem, Reason, Table};

/// The longest text cell the lake keeps, in bytes of UTF-8: the most an Excel cell holds, so any
/// cell of the lake fits a workbook cell whole. A patch title, a ticket summary, a client's name
/// or an exception's justification is far shorter; a cell past it is an export gone wrong or
/// someone's attack on the reports (a 5 MB name once kept the PDF typesetter busy for an hour,
/// and a 50 MB one ran DuckDB out of memory). Free text is cut to it (counted in the file's
/// warnings); an identifier past `IDENTIFIER_BYTES` refuses its row.
pub const TEXT_BYTES: usize = 32_767;
/// The longest identifier (a key column or one named `*_id`) a row may carry.
pub const IDENTIFIER_BYTES: usize = 512;
/// What a quarantine row keeps of a refused cell, and what a message repeats of it.
const QUARANTINED_VALUE_BYTES: usize = 1024;
const SHOWN_VALUE_BYTES: usize = 100;

/// The years a date or time of the model may fall in. 1601 is the first year Windows writes (its
/// FILETIME zero, which exports carry for "never" and the reports flag); a year 0 or 9999 is a
/// placeholder or a typing slip, and arithmetic on it (a patch 8,000 years overdue) would read as
/// a finding. Such a row is refused with the reason, not counted.
pub const YEARS: std::ops::RangeInclusive<i32> = 1601..=2199;

fn plausible_year(year: i32) -> Result<(), String> {
    if YEARS.contains(&year) {
        Ok(())
    } else {
        Err(format!(
            "year {year} is outside {}-{}: a placeholder, not a date",
            YEARS.start(),
            YEARS.end()
        ))
    }
}

/// At most `max` bytes of `text`, cut at a character boundary.
pub fn clipped_to(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `clipped_to`, marked with an ellipsis when cut.
pub fn clipped(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match clipped_to(text, max) {
        whole if whole.len() == text.len() => whole.into(),
        part => format!("{part}...").into(),
    }
}

/// Parses one cell of a column (text already trimmed). An empty cell is null, or the column's
/// default; a required column without a value is refused.
pub fn parse_cell<'a>(column: &Column, raw: &'a str) -> Result<Cell<'a>, Problem> {
    let problem = |reason: Reason, detail: String| Problem {
        column: column.name.to_string(),
        value: clipped(raw, QUARANTINED_VALUE_BYTES).into_owned(),
        reason,
        detail,
    };
    let raw = raw.trim();
    // What a refusal repeats of the cell: enough to find it, never a megabyte.
    // (Only on a refusal: a valid title longer than that must not cost an allocation.)
    let shown = || clipped(raw, SHOWN_VALUE_BYTES);
    if raw.is_empty() {
        return match column.default {
            Some(default) => Ok(Cell::Text(default)),
            None if column.required => Err(problem(
                Reason::MissingRequired,
                format!("`{}` is required and is empty", column.name),
            )),
            None => Ok(Cell::Null),
        };
    }
    match column.ty {
        ColumnType::Text if column.is_identifier() && raw.len() > IDENTIFIER_BYTES => Err(problem(
            Reason::TextTooLong,
            format!(
                "{} bytes: an identifier is at most {IDENTIFIER_BYTES} and is never cut (two ids \
                 could become one)",
                raw.len()
            ),
        )),
        ColumnType::Text => Ok(Cell::Text(clipped_to(raw, TEXT_BYTES))),
        ColumnType::Date => {
            let date = parse_date(raw).ok_or_else(|| {
                problem(
                    Reason::InvalidDate,
                    format!("`{}` is not a date (expected YYYY-MM-DD)", shown()),
                )
            })?;
            plausible_year(date.year()).map_err(|why| problem(Reason::OutOfRange, why))?;
            Ok(Cell::Date(date))
        }
        ColumnType::Timestamp => {
            let time = parse_timestamp(raw).ok_or_else(|| {
                problem(
                    Reason::InvalidTimestamp,
                    format!(
                        "`{}` is not an ISO-8601 timestamp (expected e.g. 2026-10-14T02:13:00Z)",
                        shown()
                    ),
                )
            })?;
            plausible_year(time.year()).map_err(|why| problem(Reason::OutOfRange, why))?;
            Ok(Cell::Timestamp(time))
        }
        ColumnType::Bool => parse_bool(raw).map(Cell::Bool).ok_or_else(|| {
            problem(
                Reason::InvalidBool,
                format!(
                    "`{}` is not a boolean (expected true/false, 1/0 or yes/no)",
                    shown()
                ),
            )
        }),
        ColumnType::Int { min, max } => {
            let n: i64 = raw.parse().map_err(|_| {
                problem(
                    Reason::InvalidInteger,
                    format!("`{}` is not a whole number", shown()),
                )
            })?;
            if n < min || n > max {
                let range = if max == i64::MAX {
                    format!("at least {min}")
                } else {
                    format!("from {min} to {max}")
                };
                return Err(problem(
                    Reason::OutOfRange,
                    format!("{n} is out of range (expected {range})"),
                ));
            }
            Ok(Cell::Int(n))
        }
        ColumnType::Float => match raw.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(Cell::Float(x)),
            _ => Err(problem(
                Reason::InvalidInteger,
                format!("`{}` is not a number", shown()),
            )),
        },
        ColumnType::Enum(words) => {
            // Case is not information here: `Security` and `security` mean the same.
            match words.iter().find(|w| w.eq_ignore_ascii_case(raw)) {
                Some(w) => Ok(Cell::Text(w)),
                None => Err(problem(
                    Reason::InvalidEnum,
                    format!("`{}` is not one of: {}", shown(), words.join(", ")),
                )),
            }
        }
    }
}

pub fn parse_date(raw: &str) -> Option<NaiveDate> {
    // Nearly every date is exactly `YYYY-MM-DD`: read its digits directly (an export has
    // millions) and leave any other shape to chrono's format parser, which decides as before.
    let b = raw.as_bytes();
    if b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && let (Some(year), Some(month), Some(day)) = (digits(&b[0..4]), digits(&b[5..7]), digits(&b[8..10]))
    {
        return NaiveDate::from_ymd_opt(year as i32, month, day);
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()
}

/// The number `text` spells when it is all ASCII digits (and short enough not to overflow).
fn digits(text: &[u8]) -> Option<u32> {
    text.iter().try_fold(0u32, |n, d| {
        d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
    })
}

/// A date of the model written `YYYY-MM-DD`, the shape nearly every export writes, read digit by
/// digit. `None` is no verdict: the text is of another shape, an impossible day or outside
/// `YEARS`, and `parse_cell` decides it. What this accepts, `parse_cell` accepts as the same day.
pub(super) fn common_date(raw: &str) -> Option<NaiveDate> {
    let b = raw.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(digits(&b[0..4])? as i32, digits(&b[5..7])?, digits(&b[8..10])?)?;
    YEARS.contains(&date.year()).then_some(date)
}

/// An instant written `YYYY-MM-DDTHH:MM:SSZ`, as the exports and the samples write nearly every
/// one, read digit by digit; `None` leaves the text to `parse_cell` (as `common_date`). RFC 3339
/// reads this shape as the same instant.
pub(super) fn common_timestamp(raw: &str) -> Option<DateTime<Utc>> {
    let b = raw.as_bytes();
    if b.len() != 20 || b[10] != b'T' || b[13] != b':' || b[16] != b':' || b[19] != b'Z' {
        return None;
    }
    let time = common_date(&raw[..10])?.and_hms_opt(
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    )?;
    Some(time.and_utc())
}

/// ISO-8601 as the spec allows it: `Z`, an offset, or no zone (meaning UTC); `T` or a space
/// between date and time; optional fraction. A bare date is midnight UTC.
pub fn parse_timestamp(raw: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(raw, format) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(raw, format) {
            return Some(t.and_utc());
        }
    }
    parse_date(raw).map(|d| d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc())
}

pub fn parse_bool(raw: &str) -> Option<bool> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// The checks of a row that look past one cell, with their columns found once per table rather
/// than by name on every row of a file of millions.
#[derive(Debug, Clone)]
pub struct RowChecks {
    /// Positions of the natural key's columns, in key order.
    pub key: Vec<usize>,
    /// (start, end) column pairs where an end before its start would make a negative duration
    /// (an MTTR, a change window) that no KPI can count honestly.
    spans: Vec<(usize, usize)>,
    table: &'static Table,
}

impl RowChecks {
    pub fn of(table: &'static Table) -> Self {
        let pairs: &[(&str, &str)] = match table.name {
            "tickets" => &[("created_utc", "resolved_utc")],
            "changes" => &[
                ("planned_start_utc", "planned_end_utc"),
                ("actual_start_utc", "actual_end_utc"),
            ],
            _ => &[],
        };
        RowChecks {
            key: table
                .key
                .iter()
                .map(|k| table.column_index(k).expect("key column"))
                .collect(),
            spans: pairs
                .iter()
                .filter_map(|(start, end)| Some((table.column_index(start)?, table.column_index(end)?)))
                .collect(),
            table,
        }
    }

    /// The row's spans that end before they start (`cell` gives the row's cell by position).
    #[inline]
    pub fn problems<'c>(&self, cell: impl Fn(usize) -> Cell<'c>) -> Vec<Problem> {
        let mut problems = Vec::new();
        for &(si, ei) in &self.spans {
            let (start_cell, end_cell) = (cell(si), cell(ei));
            if let (Some(s), Some(e)) = (start_cell.as_timestamp(), end_cell.as_timestamp())
                && e < s
            {
                let (start, end) = (self.table.columns[si].name, self.table.columns[ei].name);
                problems.push(Problem {
                    column: end.to_string(),
                    value: end_cell.to_key_text(),
                    reason: Reason::EndBeforeStart,
                    detail: format!("`{end}` is before `{start}` ({})", start_cell.to_key_text()),
                });
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::{DEVICES, PATCH_STATUS, TICKETS};

    #[test]
    fn a_date_or_time_outside_the_years_of_the_model_is_refused_as_out_of_range() {
        let column = |ty| Column {
            name: "release_date",
            ty,
            required: false,
            default: None,
        };
        for (ty, raw) in [
            (ColumnType::Date, "0000-01-01"),
            (ColumnType::Date, "9999-12-31"),
            (ColumnType::Timestamp, "9999-12-31T23:59:59Z"),
            (ColumnType::Timestamp, "0200-01-01T00:00:00Z"),
        ] {
            let problem = parse_cell(&column(ty), raw).unwrap_err();
            assert_eq!(problem.reason, Reason::OutOfRange, "{raw}");
            assert!(problem.detail.contains("a placeholder, not a date"), "{raw}");
        }
        // Windows' "never" (its FILETIME zero) is a date the reports flag, and is kept.
        assert!(parse_cell(&column(ColumnType::Date), "1601-01-01").is_ok());
        assert!(parse_cell(&column(ColumnType::Timestamp), "2199-12-31T23:59:59Z").is_ok());
    }

    #[test]
    fn timestamps_without_zone_are_utc_and_offsets_are_converted() {
        let z = parse_timestamp("2026-10-14T02:13:00Z").unwrap();
        assert_eq!(parse_timestamp("2026-10-14T02:13:00").unwrap(), z);
        assert_eq!(parse_timestamp("2026-10-14 02:13:00").unwrap(), z);
        assert_eq!(parse_timestamp("2026-10-14T04:13:00+02:00").unwrap(), z);
        assert_eq!(
            parse_timestamp("2026-10-14T02:13:00.250Z").unwrap(),
            z + chrono::Duration::milliseconds(250)
        );
        assert_eq!(
            parse_timestamp("2026-10-14").unwrap(),
            parse_timestamp("2026-10-14T00:00:00Z").unwrap()
        );
        assert_eq!(parse_timestamp("14/10/2026 02:13"), None);
    }

    #[test]
    fn dates_are_year_month_day_and_impossible_days_are_refused() {
        assert_eq!(parse_date("2026-10-31"), NaiveDate::from_ymd_opt(2026, 10, 31));
        assert_eq!(parse_date("2024-02-29"), NaiveDate::from_ymd_opt(2024, 2, 29));
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-10-32",
            "2026-1O-01",
            "31/10/2026",
            "",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        // Shapes other than ten characters go to chrono, as before: it takes a one-digit month.
        assert_eq!(
            parse_date("2026-1-05"),
            NaiveDate::parse_from_str("2026-1-05", "%Y-%m-%d").ok()
        );
    }

    #[test]
    fn booleans_accept_the_three_spellings_in_any_case() {
        for t in ["true", "TRUE", "1", "yes", "Yes"] {
            assert_eq!(parse_bool(t), Some(true));
        }
        for f in ["false", "False", "0", "no", "NO"] {
            assert_eq!(parse_bool(f), Some(false));
        }
        assert_eq!(parse_bool("y"), None);
    }

    #[test]
    fn empty_cells_take_the_default_or_are_refused_when_required() {
        let severity = PATCH_STATUS.column("severity").unwrap();
        assert_eq!(parse_cell(severity, "").unwrap(), Cell::Text("unspecified"));
        let state = PATCH_STATUS.column("state").unwrap();
        assert_eq!(
            parse_cell(state, " ").unwrap_err().reason,
            Reason::MissingRequired
        );
        let installed = PATCH_STATUS.column("installed_utc").unwrap();
        assert_eq!(parse_cell(installed, "").unwrap(), Cell::Null);
    }

    #[test]
    fn enum_words_are_matched_without_regard_to_case_and_stored_lower_case() {
        let class = DEVICES.column("device_class").unwrap();
        assert_eq!(parse_cell(class, "Server").unwrap(), Cell::Text("server"));
        let err = parse_cell(class, "laptop").unwrap_err();
        assert_eq!(err.reason, Reason::InvalidEnum);
        assert!(err.detail.contains("server, workstation, other"));
    }

    #[test]
    fn priority_outside_one_to_four_is_out_of_range() {
        let priority = TICKETS.column("priority").unwrap();
        assert_eq!(parse_cell(priority, "4").unwrap(), Cell::Int(4));
        assert_eq!(parse_cell(priority, "5").unwrap_err().reason, Reason::OutOfRange);
        assert_eq!(
            parse_cell(priority, "high").unwrap_err().reason,
            Reason::InvalidInteger
        );
    }
}
