//! What govpack knows about each KPI of docs/kpi-definitions.md, in one place: its id, family,
//! unit, which way is better, the rows that explain it (its drill-down), the exports it is
//! computed from and its default target; its name and definition for people come from
//! `report_templates/kpis.toml`. Everything that needs a KPI's facts reads them here; this module
//! reads nothing of govpack's but the shipped templates.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Deserialize;

/// Which way a KPI should move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
    /// A count with no better direction: excluded devices are exceptions approved on purpose,
    /// so fewer is not better. Its status is `info`, and it takes no target.
    Neither,
}

/// The KPI families of docs/kpi-definitions.md, one query file each.
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
/// not measured for that client (docs/kpi-definitions.md, "Measured or not"; queries/coverage.sql
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

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Kpi {
    pub id: &'static str,
    pub family: Family,
    pub unit: Unit,
    pub better: Better,
    pub drill_down: DrillDown,
    pub needs: Needs,
    /// The default target: a relative change from the KPI's baseline (`[kpi.targets]` replaces
    /// these), `-0.2` a 20% reduction. None: the KPI is judged against its baseline only.
    pub target: Option<f64>,
}

const fn kpi(
    id: &'static str,
    family: Family,
    unit: Unit,
    better: Better,
    drill_down: DrillDown,
    needs: Needs,
    target: Option<f64>,
) -> Kpi {
    Kpi {
        id,
        family,
        unit,
        better,
        drill_down,
        needs,
        target,
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

/// Every KPI of docs/kpi-definitions.md, with the governance programme's default targets.
#[rustfmt::skip]
pub const KPIS: [Kpi; 29] = {
    use Better::{Higher, Lower, Neither};
    use Family::*;
    use Unit::*;
    [
        kpi("patch_compliance_rate",              Compliance,    Ratio, Higher,  NOT_COMPLIANT,            PATCH_STATE,         Some(0.10)),
        kpi("patch_instance_compliance_rate",     Compliance,    Ratio, Higher,  rows("overdue_patches"),  PATCHES,             None),
        kpi("excluded_devices",                   Compliance,    Count, Neither, NOT_COMPLIANT,            DEVICES,             None),
        kpi("stale_devices",                      Compliance,    Count, Lower,   NOT_COMPLIANT,            DEVICES,             None),
        kpi("chronic_noncompliant_devices",       Compliance,    Count, Lower,   rows("chronic_devices"),  PATCH_STATE,         None),
        kpi("failed_patch_recurrence_rate",       Remediation,   Ratio, Lower,   rows("failure_episodes"), ATTEMPTS,            Some(-0.10)),
        kpi("mttr_hours_mean",                    Remediation,   Hours, Lower,   rows("failure_episodes"), ATTEMPTS,            Some(-0.20)),
        kpi("mttr_hours_median",                  Remediation,   Hours, Lower,   rows("failure_episodes"), ATTEMPTS,            None),
        kpi("mttr_hours_p90",                     Remediation,   Hours, Lower,   rows("failure_episodes"), ATTEMPTS,            None),
        kpi("open_failure_episodes",              Remediation,   Count, Lower,   rows("failure_episodes"), ATTEMPTS_ON_DEVICES, None),
        kpi("open_episode_age_hours_mean",        Remediation,   Hours, Lower,   rows("failure_episodes"), ATTEMPTS_ON_DEVICES, None),
        kpi("first_pass_success_rate",            Remediation,   Ratio, Higher,  FIGURE,                   ATTEMPTS,            None),
        kpi("remediation_ticket_mttr_hours_mean", Remediation,   Hours, Lower,   FIGURE,                   TICKETS,             None),
        kpi("remediation_sla_breach_rate",        Remediation,   Ratio, Lower,   FIGURE,                   TICKETS,             None),
        kpi("change_success_rate",                Change,        Ratio, Higher,  rows("change_controls"),  CHANGES,             Some(0.10)),
        kpi("emergency_change_ratio",             Change,        Ratio, Lower,   rows("change_controls"),  CHANGES,             Some(-0.10)),
        kpi("rollback_effectiveness_rate",        Change,        Ratio, Higher,  rows("change_controls"),  CHANGES,             Some(0.10)),
        kpi("cab_compliance_rate",                Change,        Ratio, Higher,  rows("change_controls"),  CHANGES,             None),
        kpi("change_intake_completeness_rate",    Change,        Ratio, Higher,  rows("change_controls"),  CHANGES,             None),
        kpi("change_window_compliance_rate",      Change,        Ratio, Higher,  rows("change_controls"),  CHANGES,             None),
        kpi("post_change_verification_rate",      Change,        Ratio, Higher,  rows("change_controls"),  CHANGES,             None),
        kpi("pilot_soak_compliance_rate",         ReleaseSafety, Ratio, Higher,  rows("pilot_soak"),       ATTEMPTS_ON_DEVICES, None),
        kpi("kev_exposed_devices",                Vulnerability, Count, Lower,   rows("kev_exposure"),     KEV,                 None),
        kpi("kev_overdue_devices",                Vulnerability, Count, Lower,   PAST_KEV_DEADLINE,        KEV,                 None),
        kpi("exploited_exposed_devices",          Vulnerability, Count, Lower,   FIGURE,                   EXPLOITED,           None),
        kpi("kev_open_instances",                 Vulnerability, Count, Lower,   rows("kev_exposure"),     KEV,                 None),
        kpi("patch_latency_days_median",          TimeToPatch,   Days,  Lower,   FIGURE,                   PATCHES,             None),
        kpi("patch_latency_days_p90",             TimeToPatch,   Days,  Lower,   FIGURE,                   PATCHES,             None),
        kpi("installed_within_grace_rate",        TimeToPatch,   Ratio, Higher,  FIGURE,                   PATCHES,             None),
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
    let file = crate::installed::TEMPLATES.read(WORDS_FILE)?;
    toml::from_str(file.text()?).map_err(|e| anyhow::anyhow!("{}: {}", file.origin, e.to_string().trim_end()))
}

#[cfg(test)]
mod tests {
    use super::*;

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
