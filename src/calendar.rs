//! The calendar KPIs are computed over: periods of whole UTC days, the month slot each is kept
//! in, and Microsoft's Patch Tuesday.

use chrono::{Datelike, Duration, NaiveDate, Weekday};

use crate::error::UsageError;

/// Whole UTC days, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl Period {
    pub fn month(year: i32, month: u32) -> Option<Period> {
        let start = NaiveDate::from_ymd_opt(year, month, 1)?;
        let next = if month == 12 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)?
        } else {
            NaiveDate::from_ymd_opt(year, month + 1, 1)?
        };
        Some(Period {
            start,
            end: next - Duration::days(1),
        })
    }

    /// `YYYY-MM`.
    pub fn parse_month(text: &str) -> Result<Period, UsageError> {
        let bad = || UsageError(format!("--period: `{text}` is not a month (expected YYYY-MM)"));
        let (y, m) = text.split_once('-').ok_or_else(bad)?;
        let digits = |t: &str, n: usize| t.len() == n && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(y, 4) || !digits(m, 2) {
            return Err(bad());
        }
        let (y, m) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        Period::month(y, m).ok_or_else(bad)
    }

    /// The calendar month before the month of `day` (the month the monthly job closes).
    pub fn previous_month(day: NaiveDate) -> Period {
        let last_day = day.with_day(1).expect("day 1 exists") - Duration::days(1);
        Period::month(last_day.year(), last_day.month()).expect("a valid month")
    }

    /// The month from its first day to `day` (the daily job's month to date).
    pub fn month_to_date(day: NaiveDate) -> Period {
        Period {
            start: day.with_day(1).expect("day 1 exists"),
            end: day,
        }
    }

    /// The folder label: `YYYY-MM` for a calendar month or a month to date (which the month's
    /// close replaces: every report keys a period by its first day, so a month has one slot),
    /// else `YYYY-MM-DD_YYYY-MM-DD`.
    pub fn label(&self) -> String {
        let month = Period::month(self.start.year(), self.start.month());
        if month.is_some_and(|m| m.start == self.start && self.end <= m.end) {
            self.start.format("%Y-%m").to_string()
        } else {
            format!(
                "{}_{}",
                self.start.format("%Y-%m-%d"),
                self.end.format("%Y-%m-%d")
            )
        }
    }
}

/// The second Tuesday of a month: Microsoft's Patch Tuesday.
pub fn patch_tuesday(year: i32, month: u32) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Tue, 2).expect("every month has two Tuesdays")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_month_to_date_shares_its_months_slot_and_other_custom_periods_do_not() {
        let mtd = Period::month_to_date(day("2026-11-21"));
        assert_eq!((mtd.start, mtd.end), (day("2026-11-01"), day("2026-11-21")));
        assert_eq!(mtd.label(), "2026-11");
        assert_eq!(Period::parse_month("2026-11").unwrap().label(), "2026-11");
        let mid = Period {
            start: day("2026-11-05"),
            end: day("2026-11-21"),
        };
        assert_eq!(mid.label(), "2026-11-05_2026-11-21");
        let across = Period {
            start: day("2026-10-01"),
            end: day("2026-11-15"),
        };
        assert_eq!(across.label(), "2026-10-01_2026-11-15");
    }

    #[test]
    fn the_monthly_close_takes_the_month_before_the_run_day() {
        assert_eq!(
            Period::previous_month(day("2026-11-01")),
            Period::parse_month("2026-10").unwrap()
        );
        assert_eq!(
            Period::previous_month(day("2026-11-30")),
            Period::parse_month("2026-10").unwrap()
        );
        assert_eq!(
            Period::previous_month(day("2027-01-01")),
            Period::parse_month("2026-12").unwrap()
        );
        assert_eq!(Period::previous_month(day("2028-03-01")).end, day("2028-02-29"));
    }

    #[test]
    fn patch_tuesday_is_the_second_tuesday() {
        assert_eq!(
            patch_tuesday(2026, 10),
            NaiveDate::from_ymd_opt(2026, 10, 13).unwrap()
        );
        assert_eq!(
            patch_tuesday(2026, 9),
            NaiveDate::from_ymd_opt(2026, 9, 8).unwrap()
        );
    }
}
