//! The one tolerant timestamp parser every adapter uses (docs/exports.md, "Timestamps"). It accepts:
//! - epoch milliseconds (Datto RMM) and epoch seconds, with or without a fraction (NinjaOne,
//!   Datto activity logs), as JSON numbers or text;
//! - ISO-8601 with `Z`, an offset or no zone, `T` or a space, 0-7 fractional digits (Autotask,
//!   ConnectWise Manage, WUfB portal exports), and a bare date;
//! - `2020/05/14 09:26:03.478 AM` (Microsoft docs), MySQL `2017-05-14 03:12`;
//! - culture-dependent forms, read with the source's configured culture, never guessed: US
//!   `05/15/2017 9:41` and PowerShell `7/16/2024 12:00:00 PM`; day-first `16.07.2024 12:00:00` and
//!   `16/07/2024 12:00`.
//!
//! Sentinels (`-62135596800000`, `0001-01-01T00:00:00`, `0`, empty) mean "no value". A time
//! without a zone is in the source's configured time zone (UTC unless configured: Automate's
//! database times are server-local).

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::sources::settings::DateCulture;

/// How one source writes times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeStyle {
    pub culture: DateCulture,
    pub zone: Tz,
}

impl Default for TimeStyle {
    fn default() -> Self {
        TimeStyle {
            culture: DateCulture::Iso,
            zone: Tz::UTC,
        }
    }
}

/// .NET's DateTime.MinValue as epoch milliseconds: what Datto writes for "never".
const DOTNET_MIN_MS: i64 = -62_135_596_800_000;

/// Epoch values below this many seconds (1990-01-01) are taken as "unset" rather than as dates:
/// no patch was installed in 1970.
const EARLIEST_PLAUSIBLE_SECONDS: f64 = 631_152_000.0;

impl TimeStyle {
    /// Parses a timestamp cell: `Ok(None)` for empty cells and sentinels, `Err` with the reason
    /// when the text is no timestamp this source could write.
    pub fn parse(&self, raw: &str) -> Result<Option<DateTime<Utc>>, String> {
        let raw = raw.trim().trim_matches('"');
        if raw.is_empty() || raw.eq_ignore_ascii_case("null") || raw.starts_with("0001-01-01") {
            return Ok(None);
        }
        if let Ok(number) = raw.parse::<f64>() {
            // Before 1970 no vendor writes an epoch; a negative one other than .NET's "never"
            // is a broken value, refused rather than read as a date in 1916.
            if number < 0.0 && number as i64 != DOTNET_MIN_MS {
                return Err(format!(
                    "`{}` is a negative epoch, not a time this source writes",
                    crate::canonical::clipped(raw, 40)
                ));
            }
            return Ok(epoch(number));
        }
        if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
            return Ok(Some(t.with_timezone(&Utc)));
        }
        for format in [
            "%Y-%m-%dT%H:%M:%S%.f%:z",
            "%Y-%m-%d %H:%M:%S%.f%:z",
            "%Y-%m-%dT%H:%M:%S%.f%z",
        ] {
            if let Ok(t) = DateTime::parse_from_str(raw, format) {
                return Ok(Some(t.with_timezone(&Utc)));
            }
        }
        let raw = raw.trim_end_matches(" UTC").trim_end_matches('Z');
        let unambiguous = [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M",
            "%Y/%m/%d %I:%M:%S%.f %p",
            "%Y/%m/%d %H:%M:%S%.f",
            "%Y/%m/%d %H:%M",
        ];
        for format in unambiguous {
            if let Ok(t) = NaiveDateTime::parse_from_str(raw, format) {
                return Ok(Some(self.local(t)));
            }
        }
        if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
            return Ok(Some(self.local(d.and_hms_opt(0, 0, 0).expect("midnight"))));
        }
        let cultural: &[&str] = match self.culture {
            DateCulture::Iso => &[],
            DateCulture::Us => &[
                "%m/%d/%Y %I:%M:%S %p",
                "%m/%d/%Y %I:%M %p",
                "%m/%d/%Y %H:%M:%S",
                "%m/%d/%Y %H:%M",
            ],
            DateCulture::DayFirst => &[
                "%d.%m.%Y %H:%M:%S",
                "%d.%m.%Y %H:%M",
                "%d/%m/%Y %H:%M:%S",
                "%d/%m/%Y %H:%M",
                "%d-%m-%Y %H:%M:%S",
            ],
        };
        for format in cultural {
            if let Ok(t) = NaiveDateTime::parse_from_str(raw, format) {
                return Ok(Some(self.local(t)));
            }
        }
        let date_only: &[&str] = match self.culture {
            DateCulture::Iso => &[],
            DateCulture::Us => &["%m/%d/%Y"],
            DateCulture::DayFirst => &["%d.%m.%Y", "%d/%m/%Y"],
        };
        for format in date_only {
            if let Ok(d) = NaiveDate::parse_from_str(raw, format) {
                return Ok(Some(self.local(d.and_hms_opt(0, 0, 0).expect("midnight"))));
            }
        }
        let hint = if raw.contains('/') || raw.contains('.') {
            " (a culture-dependent date: set date_culture for this source to us or day_first)"
        } else {
            ""
        };
        Err(format!(
            "`{}` is not a timestamp this source writes{hint}",
            crate::canonical::clipped(raw, 100)
        ))
    }

    /// A date cell (e.g. a release date): the date part of whatever `parse` accepts.
    pub fn parse_date(&self, raw: &str) -> Result<Option<NaiveDate>, String> {
        let raw = raw.trim();
        if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
            return Ok(Some(d));
        }
        Ok(self.parse(raw)?.map(|t| t.with_timezone(&self.zone).date_naive()))
    }

    fn local(&self, t: NaiveDateTime) -> DateTime<Utc> {
        // A wall-clock time that a DST change skipped or repeated takes its earliest reading.
        match self.zone.from_local_datetime(&t).earliest() {
            Some(local) => local.with_timezone(&Utc),
            None => self.zone.from_utc_datetime(&t).with_timezone(&Utc),
        }
    }
}

/// Epoch milliseconds or seconds (told apart by size), `None` for the sentinels.
pub fn epoch(number: f64) -> Option<DateTime<Utc>> {
    if !number.is_finite() || number as i64 == DOTNET_MIN_MS || number.abs() < EARLIEST_PLAUSIBLE_SECONDS {
        return None;
    }
    // Seconds reach 1e11 only in the year 5138; milliseconds pass it in 1973.
    let micros = if number.abs() >= 1e11 {
        number * 1_000.0
    } else {
        number * 1_000_000.0
    };
    DateTime::from_timestamp_micros(micros.round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> Option<DateTime<Utc>> {
        Some(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc))
    }

    fn style(culture: DateCulture, zone: &str) -> TimeStyle {
        TimeStyle {
            culture,
            zone: zone.parse().unwrap(),
        }
    }

    #[test]
    fn epoch_milliseconds_and_seconds_with_fractions() {
        let s = TimeStyle::default();
        assert_eq!(s.parse("1721131200000").unwrap(), utc("2024-07-16T12:00:00Z"));
        assert_eq!(
            s.parse("1721131180.884").unwrap(),
            utc("2024-07-16T11:59:40.884Z")
        );
        assert_eq!(s.parse("1721102400").unwrap(), utc("2024-07-16T04:00:00Z"));
    }

    #[test]
    fn iso_with_and_without_zone_and_fraction() {
        let s = TimeStyle::default();
        assert_eq!(
            s.parse("2016-03-30T13:10:35.563").unwrap(),
            utc("2016-03-30T13:10:35.563Z")
        );
        assert_eq!(
            s.parse("2018-11-13T17:32:34Z").unwrap(),
            utc("2018-11-13T17:32:34Z")
        );
        assert_eq!(
            s.parse("2024-07-17T14:22:05.18Z").unwrap(),
            utc("2024-07-17T14:22:05.180Z")
        );
        assert_eq!(
            s.parse("2024-07-17T14:22:05.1234567Z").unwrap(),
            utc("2024-07-17T14:22:05.1234567Z")
        );
        assert_eq!(
            s.parse("2024-07-17T16:22:05+02:00").unwrap(),
            utc("2024-07-17T14:22:05Z")
        );
        assert_eq!(s.parse("2024-07-17").unwrap(), utc("2024-07-17T00:00:00Z"));
    }

    #[test]
    fn microsoft_and_mysql_forms() {
        let s = TimeStyle::default();
        assert_eq!(
            s.parse("2020/05/14 09:26:03.478 AM").unwrap(),
            utc("2020-05-14T09:26:03.478Z")
        );
        assert_eq!(
            s.parse("2020/05/14 09:26:03.478 PM").unwrap(),
            utc("2020-05-14T21:26:03.478Z")
        );
        assert_eq!(s.parse("2017-05-14 03:12").unwrap(), utc("2017-05-14T03:12:00Z"));
    }

    #[test]
    fn culture_dependent_forms_follow_the_configured_culture_and_zone() {
        let us = style(DateCulture::Us, "UTC");
        assert_eq!(us.parse("05/15/2017 9:41").unwrap(), utc("2017-05-15T09:41:00Z"));
        assert_eq!(
            us.parse("7/16/2024 12:00:00 PM").unwrap(),
            utc("2024-07-16T12:00:00Z")
        );
        assert_eq!(
            us.parse("7/16/2024 4:00:00 AM").unwrap(),
            utc("2024-07-16T04:00:00Z")
        );
        let de = style(DateCulture::DayFirst, "Europe/Berlin");
        assert_eq!(
            de.parse("16.07.2024 12:00:00").unwrap(),
            utc("2024-07-16T10:00:00Z")
        );
        let automate = style(DateCulture::Us, "America/New_York");
        assert_eq!(
            automate.parse("05/15/2017 9:41").unwrap(),
            utc("2017-05-15T13:41:00Z")
        );
        // Never guessed: without a culture, a slashed date is refused with a hint.
        let err = TimeStyle::default().parse("05/15/2017 9:41").unwrap_err();
        assert!(err.contains("date_culture"), "{err}");
    }

    #[test]
    fn sentinels_and_empty_cells_are_no_value() {
        let s = TimeStyle::default();
        for sentinel in [
            "",
            "null",
            "-62135596800000",
            "0001-01-01T00:00:00",
            "0",
            "0001-01-01T00:00:00Z",
        ] {
            assert_eq!(s.parse(sentinel).unwrap(), None, "{sentinel}");
        }
        assert!(s.parse("yesterday").is_err());
    }

    #[test]
    fn a_negative_epoch_is_refused_not_read_as_a_date_before_1970() {
        let s = TimeStyle::default();
        for broken in ["-1721131200000", "-1721131180.884", "-1"] {
            let err = s.parse(broken).unwrap_err();
            assert!(err.contains("negative epoch"), "{broken}: {err}");
        }
    }
}
