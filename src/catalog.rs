//! What govpack knows about each KPI of kpi-definitions.md, in one place: its id, family, unit,
//! which way is better, and the rows that explain it (its drill-down); its name and definition
//! for people come from `report_templates/kpis.toml`. And the calendar the KPIs are computed
//! over: periods, and Microsoft's Patch Tuesday. Everything that needs a KPI's facts reads them
//! here; this module reads nothing of govpack's but the shipped templates.

use std::collections::BTreeMap;

use anyhow::Result;
use chrono::{Datelike, Duration, NaiveDate, Weekday};
use serde::Deserialize;

use crate::error::UsageError;

/// Which way a KPI should move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
    /// A count with no better direction: excluded devices are exceptions approved on purpose,
    /// so fewer is not better. Its status is `info`, and it takes no target.
    Neither,
}

/// The KPI families of kpi-definitions.md, one query file each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Compliance,
    Vulnerability,
    TimeToPatch,
    Remediation,
    Change,
    ReleaseSafety,
}

/// The unit `kpi_summary` gives a KPI's value in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Ratio,
    Hours,
    Days,
    Count,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Ratio => "ratio",
            Unit::Hours => "hours",
            Unit::Days => "days",
            Unit::Count => "count",
        }
    }
}

/// The KPI output that lists the rows behind a KPI, and the filter that keeps those that count
/// against it. `kpi_summary` where no output lists them: the figure, by scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrillDown {
    pub output: &'static str,
    pub filter: &'static str,
}

/// No output lists the rows: the figure itself, by scope.
pub const FIGURE: DrillDown = DrillDown {
    output: "kpi_summary",
    filter: "",
};

const fn rows(output: &'static str) -> DrillDown {
    DrillDown { output, filter: "" }
}

/// A canonical table a KPI is computed from: without its rows for a client at as_of, the KPI is
/// not measured for that client (kpi-definitions.md v3, "Measured or not"; queries/coverage.sql
/// says when a table's rows count as there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Devices,
    PatchStatus,
    DevicePatchSummary,
    PatchAttempts,
    Tickets,
    Changes,
    Kev,
    PatchCves,
}

impl Input {
    /// The canonical table's name.
    pub fn table(self) -> &'static str {
        match self {
            Input::Devices => "devices",
            Input::PatchStatus => "patch_status",
            Input::DevicePatchSummary => "device_patch_summary",
            Input::PatchAttempts => "patch_attempts",
            Input::Tickets => "tickets",
            Input::Changes => "changes",
            Input::Kev => "kev",
            Input::PatchCves => "patch_cves",
        }
    }
}

/// What a KPI needs, as groups that must all be there, each met by any one of its tables.
pub type Needs = &'static [&'static [Input]];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kpi {
    pub id: &'static str,
    pub family: Family,
    pub unit: Unit,
    pub better: Better,
    pub drill_down: DrillDown,
    pub needs: Needs,
}

const fn kpi(
    id: &'static str,
    family: Family,
    unit: Unit,
    better: Better,
    drill_down: DrillDown,
    needs: Needs,
) -> Kpi {
    Kpi {
        id,
        family,
        unit,
        better,
        drill_down,
        needs,
    }
}

/// The device state at as_of: who is in the population.
const DEVICES: Needs = &[&[Input::Devices]];
/// Device compliance: the devices, and their patch state per patch or per device.
const PATCH_STATE: Needs = &[
    &[Input::Devices],
    &[Input::PatchStatus, Input::DevicePatchSummary],
];
/// Instances: the devices and their patches.
const PATCHES: Needs = &[&[Input::Devices], &[Input::PatchStatus]];
const ATTEMPTS: Needs = &[&[Input::PatchAttempts]];
/// Open episodes count only devices still reported (v3), and pilot rings come from the devices.
const ATTEMPTS_ON_DEVICES: Needs = &[&[Input::Devices], &[Input::PatchAttempts]];
const TICKETS: Needs = &[&[Input::Tickets]];
const CHANGES: Needs = &[&[Input::Changes]];
const KEV: Needs = &[
    &[Input::Devices],
    &[Input::PatchStatus],
    &[Input::Kev],
    &[Input::PatchCves],
];
const EXPLOITED: Needs = &[&[Input::Devices], &[Input::PatchStatus], &[Input::PatchCves]];

const NOT_COMPLIANT: DrillDown = DrillDown {
    output: "compliance_devices",
    filter: " and not compliant",
};

const PAST_KEV_DEADLINE: DrillDown = DrillDown {
    output: "kev_exposure",
    filter: " and days_past_deadline is not null",
};

/// Every KPI of kpi-definitions.md.
#[rustfmt::skip]
pub const KPIS: [Kpi; 29] = {
    use Better::{Higher, Lower, Neither};
    use Family::*;
    use Unit::*;
    [
        kpi("patch_compliance_rate",              Compliance,    Ratio, Higher,  NOT_COMPLIANT, PATCH_STATE),
        kpi("patch_instance_compliance_rate",     Compliance,    Ratio, Higher,  rows("overdue_patches"), PATCHES),
        kpi("excluded_devices",                   Compliance,    Count, Neither, NOT_COMPLIANT, DEVICES),
        kpi("stale_devices",                      Compliance,    Count, Lower,   NOT_COMPLIANT, DEVICES),
        kpi("chronic_noncompliant_devices",       Compliance,    Count, Lower,   rows("chronic_devices"), PATCH_STATE),
        kpi("failed_patch_recurrence_rate",       Remediation,   Ratio, Lower,   rows("failure_episodes"), ATTEMPTS),
        kpi("mttr_hours_mean",                    Remediation,   Hours, Lower,   rows("failure_episodes"), ATTEMPTS),
        kpi("mttr_hours_median",                  Remediation,   Hours, Lower,   rows("failure_episodes"), ATTEMPTS),
        kpi("mttr_hours_p90",                     Remediation,   Hours, Lower,   rows("failure_episodes"), ATTEMPTS),
        kpi("open_failure_episodes",              Remediation,   Count, Lower,   rows("failure_episodes"), ATTEMPTS_ON_DEVICES),
        kpi("open_episode_age_hours_mean",        Remediation,   Hours, Lower,   rows("failure_episodes"), ATTEMPTS_ON_DEVICES),
        kpi("first_pass_success_rate",            Remediation,   Ratio, Higher,  FIGURE, ATTEMPTS),
        kpi("remediation_ticket_mttr_hours_mean", Remediation,   Hours, Lower,   FIGURE, TICKETS),
        kpi("remediation_sla_breach_rate",        Remediation,   Ratio, Lower,   FIGURE, TICKETS),
        kpi("change_success_rate",                Change,        Ratio, Higher,  rows("change_controls"), CHANGES),
        kpi("emergency_change_ratio",             Change,        Ratio, Lower,   rows("change_controls"), CHANGES),
        kpi("rollback_effectiveness_rate",        Change,        Ratio, Higher,  rows("change_controls"), CHANGES),
        kpi("cab_compliance_rate",                Change,        Ratio, Higher,  rows("change_controls"), CHANGES),
        kpi("change_intake_completeness_rate",    Change,        Ratio, Higher,  rows("change_controls"), CHANGES),
        kpi("change_window_compliance_rate",      Change,        Ratio, Higher,  rows("change_controls"), CHANGES),
        kpi("post_change_verification_rate",      Change,        Ratio, Higher,  rows("change_controls"), CHANGES),
        kpi("pilot_soak_compliance_rate",         ReleaseSafety, Ratio, Higher,  rows("pilot_soak"), ATTEMPTS_ON_DEVICES),
        kpi("kev_exposed_devices",                Vulnerability, Count, Lower,   rows("kev_exposure"), KEV),
        kpi("kev_overdue_devices",                Vulnerability, Count, Lower,   PAST_KEV_DEADLINE, KEV),
        kpi("exploited_exposed_devices",          Vulnerability, Count, Lower,   FIGURE, EXPLOITED),
        kpi("kev_open_instances",                 Vulnerability, Count, Lower,   rows("kev_exposure"), KEV),
        kpi("patch_latency_days_median",          TimeToPatch,   Days,  Lower,   FIGURE, PATCHES),
        kpi("patch_latency_days_p90",             TimeToPatch,   Days,  Lower,   FIGURE, PATCHES),
        kpi("installed_within_grace_rate",        TimeToPatch,   Ratio, Higher,  FIGURE, PATCHES),
    ]
};

/// What each automated control test of the reports (`queries/reports/control_tests.sql`) is
/// computed from, as a KPI's `needs`: for a client without it the test is not tested, never a
/// pass over a population nobody reported. Intake validation and the weekly review read govpack's
/// own records (the ingest ledger, the run ledger).
#[rustfmt::skip]
pub const CONTROL_TESTS: [(&str, Needs); 14] = {
    const FAILURES_AND_TICKETS: Needs = &[&[Input::PatchAttempts], &[Input::Tickets]];
    [
        ("intake-validation",        &[]),
        ("patch-compliance",         PATCH_STATE),
        ("overdue-patches",          PATCHES),
        ("change-cab-approval",      CHANGES),
        ("change-intake",            CHANGES),
        ("pilot-soak",               ATTEMPTS_ON_DEVICES),
        ("remediation-sla",          TICKETS),
        ("weekly-review",            &[]),
        ("failed-deployment-ticket", FAILURES_AND_TICKETS),
        ("root-cause-before-retry",  FAILURES_AND_TICKETS),
        ("drivers-declined",         PATCHES),
        ("manual-review",            PATCHES),
        ("daytime-reboot",           PATCHES),
        ("emergency-change-review",  CHANGES),
    ]
};

/// The KPI of an id.
pub fn find(kpi_id: &str) -> Option<&'static Kpi> {
    KPIS.iter().find(|k| k.id == kpi_id)
}

pub fn ids() -> Vec<&'static str> {
    KPIS.iter().map(|k| k.id).collect()
}

/// What people call each KPI and how it is defined, from `report_templates/kpis.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Words {
    pub names: BTreeMap<String, String>,
    pub definitions: BTreeMap<String, String>,
}

impl Words {
    /// A KPI's name, else its id.
    pub fn name(&self, kpi_id: &str) -> String {
        self.names
            .get(kpi_id)
            .cloned()
            .unwrap_or_else(|| kpi_id.to_string())
    }
}

pub const WORDS_FILE: &str = "kpis.toml";

pub fn words() -> Result<Words> {
    let file = crate::shipped::TEMPLATES.read(WORDS_FILE)?;
    toml::from_str(file.text()?).map_err(|e| anyhow::anyhow!("{}: {}", file.origin, e.to_string().trim_end()))
}

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

    #[test]
    fn every_kpi_says_what_it_is_computed_from() {
        for kpi in KPIS {
            assert!(!kpi.needs.is_empty(), "{}", kpi.id);
            assert!(kpi.needs.iter().all(|group| !group.is_empty()), "{}", kpi.id);
        }
    }

    #[test]
    fn every_kpi_has_a_name_and_a_definition_in_the_shipped_words() {
        let words = words().unwrap();
        for id in ids() {
            assert!(words.names.contains_key(id), "{id} has no name in kpis.toml");
            assert!(
                words.definitions.contains_key(id),
                "{id} has no definition in kpis.toml"
            );
        }
        let mut named: Vec<&str> = words.names.keys().map(String::as_str).collect();
        named.sort();
        let mut known = ids();
        known.sort();
        assert_eq!(named, known, "kpis.toml names a KPI govpack does not compute");
    }
}
