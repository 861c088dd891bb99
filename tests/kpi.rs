//! Every KPI of docs/kpi-definitions.md on hand-built canonical rows, each answer computed by hand in
//! the comments, plus invariants over the sample MSP.

use std::fs;
use std::path::Path;

use govpack::calendar::Period;
use govpack::config::Config;
use govpack::ingest;
use govpack::kpi;
use govpack::lake::Lake;
use govpack::sql;
use tempfile::TempDir;

mod common;

const OCTOBER: Period = Period {
    start: chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
    end: chrono::NaiveDate::from_ymd_opt(2026, 10, 31).unwrap(),
};

/// A lake holding the given canonical CSV files (name, text), with the KPIs of October computed.
/// The file a KPI output of a period is written to.
fn output_file(lake: &Lake, output: &str, period: &str) -> std::path::PathBuf {
    lake.root()
        .join("kpi")
        .join(output)
        .join(format!("period={period}"))
        .join(format!("{output}.parquet"))
}

/// The committed sample MSP (sample_data/), ingested into a fresh lake.
fn sample_lake() -> (TempDir, Lake) {
    let dir = TempDir::new().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data");
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    ingest::ingest(&Config::default(), &lake, &[data]).unwrap();
    (dir, lake)
}

fn lake_with(files: &[(&str, String)]) -> (TempDir, Lake) {
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    fs::create_dir_all(&data).unwrap();
    for (name, text) in files {
        fs::write(data.join(name), text).unwrap();
    }
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let report = ingest::ingest(&Config::default(), &lake, &[data]).unwrap();
    assert_eq!(report.failed(), 0, "{report:?}");
    assert_eq!(report.total(|l| l.rows_quarantined), 0, "{report:?}");
    kpi::compute(&Config::default(), &lake, OCTOBER).unwrap();
    (dir, lake)
}

fn strings(lake: &Lake, query: &str) -> Vec<Vec<String>> {
    let (_, rows) = sql::rows(&sql::open(lake).unwrap(), query).unwrap();
    rows.into_iter()
        .map(|r| r.iter().map(|c| c.to_text()).collect())
        .collect()
}

/// (numerator, denominator, value) of one kpi_summary row; "" for null.
fn kpi(lake: &Lake, id: &str, scope: &str) -> (String, String, String) {
    let query = format!(
        "select coalesce(cast(numerator as varchar), ''), coalesce(cast(denominator as varchar), ''),
                coalesce(cast(round(value, 6) as varchar), '')
         from kpi_summary where kpi_id = '{id}' and {scope}"
    );
    let rows = strings(lake, &query);
    assert_eq!(rows.len(), 1, "{id} where {scope}: {rows:?}");
    (rows[0][0].clone(), rows[0][1].clone(), rows[0][2].clone())
}

const PORTFOLIO: &str =
    "tenant_id is null and policy_tier is null and device_class is null and age_bucket is null";

fn t(n: &str, d: &str, v: &str) -> (String, String, String) {
    (n.into(), d.into(), v.into())
}

fn csv(header: &str, rows: &[&str]) -> String {
    let mut s = format!("{header}\n");
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    s
}

const TENANTS: &str = "tenant_id,tenant_name,criticality";
const DEVICES: &str = "snapshot_date,tenant_id,device_id,hostname,device_class,policy_tier,ring,patch_policy,excluded,last_seen_utc";
const PATCHES: &str =
    "snapshot_date,tenant_id,device_id,patch_id,classification,severity,release_date,approval,state";
const SUMMARY: &str = "snapshot_date,tenant_id,device_id,status";
const EXCEPTIONS: &str = "tenant_id,device_id,patch_id,reason,approved_by,approved_utc,expires_utc";
const ATTEMPTS: &str = "attempt_utc,tenant_id,device_id,patch_id,result,error_code";
const TICKETS: &str = "ticket_id,tenant_id,ticket_type,status,created_utc,resolved_utc,due_utc";
const CHANGES: &str = "change_id,tenant_id,change_type,risk,created_utc,planned_start_utc,planned_end_utc,actual_start_utc,actual_end_utc,cab_decision,cab_decided_utc,has_rollback_plan,has_test_evidence,has_comm_plan,has_validation_checklist,outcome,rollback_attempted,rollback_succeeded,post_change_verified,customer_impact_declared,caused_incident";

fn device(id: &str, tier: &str, policy: &str, excluded: &str, last_seen: &str) -> String {
    format!(
        "2026-10-31,a,{id},{},workstation,{tier},regular,{policy},{excluded},{last_seen}",
        id.to_uppercase()
    )
}

/// Tenant `a` at its 2026-10-31 snapshot; tenant `b` has no devices at all.
fn compliance_lake() -> (TempDir, Lake) {
    let seen = "2026-10-30T09:00:00Z";
    let devices = vec![
        device("d1", "gold", "", "false", seen), // KB1 missing, 30 days old > 14: overdue
        device("d2", "gold", "", "false", seen), // KB1 installed: compliant
        device("d3", "gold", "", "false", "2026-10-20T09:00:00Z"), // stale (10-20 < 10-24)
        device("d4", "gold", "", "true", seen),  // excluded
        device("d5", "gold", "do_not_patch", "", seen), // excluded by policy
        device("d6", "gold", "", "false", seen), // KB1 missing, active exception: compliant
        device("d7", "gold", "", "false", seen), // KB1 missing, exception expired: overdue
        device("d8", "gold", "", "false", seen), // KB2 missing, unknown release date: overdue
        device("d9", "silver", "", "false", seen), // KB3 missing, 11 days old <= 30: compliant
        device("d10", "silver", "", "false", seen), // KB1 pending reboot: overdue
        device("d11", "silver", "", "false", seen), // summary only, fully_patched: compliant
        device("d12", "silver", "", "false", seen), // summary only, approved_pending
        device("d13", "silver", "", "false", seen), // no data at all
        device("d14", "silver", "", "false", seen), // KB1 optional: nothing required
        device("d15", "silver", "", "false", seen), // KB1 not applicable
        device("d16", "silver", "", "false", seen), // KB4 missing, tenant-wide exception
        // Retired: in an older snapshot only, so not in the population.
        "2026-10-24,a,old,OLD,workstation,gold,regular,,false,2026-10-24T09:00:00Z".to_string(),
    ];
    let kb1 =
        |d: &str, state: &str| format!("2026-10-31,a,{d},KB1,security,critical,2026-10-01,approved,{state}");
    let patches = vec![
        kb1("d1", "missing"),
        kb1("d2", "installed"),
        kb1("d3", "installed"),
        kb1("d4", "missing"),
        kb1("d6", "missing"),
        kb1("d7", "missing"),
        "2026-10-31,a,d8,KB2,security,critical,,approved,missing".into(),
        "2026-10-31,a,d9,KB3,critical,important,2026-10-20,approved,missing".into(),
        kb1("d10", "pending_reboot"),
        "2026-10-31,a,d14,KB1,optional,critical,2026-10-01,approved,missing".into(),
        kb1("d15", "not_applicable"),
        "2026-10-31,a,d16,KB4,security,low,2026-06-01,approved,missing".into(),
    ];
    let devices: Vec<&str> = devices.iter().map(String::as_str).collect();
    let patches: Vec<&str> = patches.iter().map(String::as_str).collect();
    lake_with(&[
        ("tenants.csv", csv(TENANTS, &["a,Alpha,critical", "b,Beta,low"])),
        ("devices.csv", csv(DEVICES, &devices)),
        ("patch_status.csv", csv(PATCHES, &patches)),
        (
            "device_patch_summary.csv",
            csv(
                SUMMARY,
                &[
                    "2026-10-30,a,d11,fully_patched",
                    "2026-10-30,a,d12,approved_pending",
                ],
            ),
        ),
        (
            "exceptions.csv",
            csv(
                EXCEPTIONS,
                &[
                    "a,d6,KB1,vendor,CIO,2026-10-05T00:00:00Z,2026-11-30T00:00:00Z",
                    "a,d7,KB1,travel,CIO,2026-10-05T00:00:00Z,2026-10-20T00:00:00Z",
                    "a,,KB4,all devices,CIO,2026-07-01T00:00:00Z,",
                    // Approved after as_of end: not active.
                    "a,d1,KB1,late,CIO,2026-11-01T00:00:01Z,",
                ],
            ),
        ),
    ])
}

#[test]
fn patch_compliance_counts_stale_no_data_and_summary_devices_and_leaves_out_excluded_ones() {
    let (_dir, lake) = compliance_lake();
    // Non-excluded: d1-d3, d6-d16 = 14. Compliant: d2, d6, d9, d11, d14, d15, d16 = 7.
    assert_eq!(
        kpi(&lake, "patch_compliance_rate", PORTFOLIO),
        t("7.0", "14.0", "0.5")
    );
    assert_eq!(kpi(&lake, "excluded_devices", PORTFOLIO), t("2.0", "", "2.0"));
    assert_eq!(kpi(&lake, "stale_devices", PORTFOLIO), t("1.0", "", "1.0"));
    // Tier gold, non-excluded: d1 d2 d3 d6 d7 d8; compliant d2 d6.
    assert_eq!(
        kpi(
            &lake,
            "patch_compliance_rate",
            "policy_tier = 'gold' and tenant_id is null"
        ),
        t("2.0", "6.0", "0.333333")
    );
    // A tenant with no devices still has its row: not measured (v3), not an empty population.
    assert_eq!(
        kpi(
            &lake,
            "patch_compliance_rate",
            "tenant_id = 'b' and policy_tier is null"
        ),
        t("", "", "")
    );
    let reasons = strings(
        &lake,
        "select device_id, coalesce(reason, '') from compliance_devices order by cast(substr(device_id, 2) as int)",
    );
    let expected = [
        ("d1", "overdue_patch"),
        ("d2", ""),
        ("d3", "stale"),
        ("d4", "excluded"),
        ("d5", "excluded"),
        ("d6", ""),
        ("d7", "overdue_patch"),
        ("d8", "overdue_patch"),
        ("d9", ""),
        ("d10", "overdue_patch"),
        ("d11", ""),
        ("d12", "summary_status"),
        ("d13", "no_data"),
        ("d14", ""),
        ("d15", ""),
        ("d16", ""),
    ];
    let expected: Vec<Vec<String>> = expected
        .iter()
        .map(|(d, r)| vec![d.to_string(), r.to_string()])
        .collect();
    assert_eq!(reasons, expected);
}

#[test]
fn instance_compliance_counts_required_instances_by_age_bucket() {
    let (_dir, lake) = compliance_lake();
    // Required: d1 d2 d3 d7 (KB1), d8 (KB2), d9 (KB3), d10 (KB1); installed: d2, d3.
    assert_eq!(
        kpi(&lake, "patch_instance_compliance_rate", PORTFOLIO),
        t("2.0", "7.0", "0.285714")
    );
    let bucket = |b: &str| format!("tenant_id is null and policy_tier is null and age_bucket = '{b}'");
    assert_eq!(
        kpi(&lake, "patch_instance_compliance_rate", &bucket("15-30")),
        t("2.0", "5.0", "0.4")
    );
    assert_eq!(
        kpi(&lake, "patch_instance_compliance_rate", &bucket("unknown")),
        t("0.0", "1.0", "0.0")
    );
    assert_eq!(
        kpi(&lake, "patch_instance_compliance_rate", &bucket("8-14")),
        t("0.0", "1.0", "0.0")
    );
    // Only buckets with a required instance have rows.
    let buckets = strings(
        &lake,
        "select count(*) from kpi_summary where kpi_id = 'patch_instance_compliance_rate'
         and tenant_id is null and policy_tier is null and age_bucket is not null",
    );
    assert_eq!(buckets[0][0], "3");
    let overdue = strings(
        &lake,
        "select device_id, patch_id from overdue_patches order by 1, 2",
    );
    assert_eq!(overdue.len(), 4, "{overdue:?}"); // d1, d10, d7 (KB1) and d8 (KB2)
}

#[test]
fn chronic_devices_are_non_compliant_at_as_of_and_the_two_previous_snapshots() {
    let snapshot = |date: &str, d: &str| {
        format!(
            "{date},a,{d},{},workstation,gold,regular,,false,{date}T05:00:00Z",
            d.to_uppercase()
        )
    };
    let patch = |date: &str, d: &str, state: &str| {
        format!("{date},a,{d},KB1,security,critical,2026-09-01,approved,{state}")
    };
    let mut devices = Vec::new();
    let mut patches = Vec::new();
    for date in ["2026-10-17", "2026-10-24", "2026-10-31"] {
        for d in ["c1", "c2", "c3"] {
            devices.push(snapshot(date, d));
        }
        patches.push(patch(date, "c1", "missing")); // non-compliant at all three: chronic
        // c2 was fixed in the middle: not chronic.
        patches.push(patch(
            date,
            "c2",
            if date == "2026-10-24" {
                "installed"
            } else {
                "missing"
            },
        ));
        patches.push(patch(date, "c3", "installed"));
    }
    let devices: Vec<&str> = devices.iter().map(String::as_str).collect();
    let patches: Vec<&str> = patches.iter().map(String::as_str).collect();
    let (_dir, lake) = lake_with(&[
        ("tenants.csv", csv(TENANTS, &["a,Alpha,standard"])),
        ("devices.csv", csv(DEVICES, &devices)),
        ("patch_status.csv", csv(PATCHES, &patches)),
    ]);
    assert_eq!(
        kpi(&lake, "chronic_noncompliant_devices", PORTFOLIO),
        t("1.0", "", "1.0")
    );
    assert_eq!(
        strings(&lake, "select device_id from chronic_devices"),
        vec![vec!["c1".to_string()]]
    );
}

/// Tenant `a`'s devices x1-x6 in an October snapshot (a period needs one; open episodes count
/// only devices still reported).
fn remediation_devices() -> String {
    let devices: Vec<String> = (1..=6)
        .map(|i| device(&format!("x{i}"), "gold", "", "false", "2026-10-31T05:00:00Z"))
        .collect();
    csv(DEVICES, &devices.iter().map(String::as_str).collect::<Vec<_>>())
}

fn remediation_lake() -> (TempDir, Lake) {
    lake_with(&[
        ("tenants.csv", csv(TENANTS, &["a,Alpha,standard", "b,Beta,low"])),
        ("devices.csv", remediation_devices()),
        (
            "patch_attempts.csv",
            csv(
                ATTEMPTS,
                &[
                    // P1: fails 09-28 and 10-02, fixed 10-03: 120 h, recurring.
                    "2026-09-28T10:00:00Z,a,x1,KB1,failure,0x1",
                    "2026-10-02T10:00:00Z,a,x1,KB1,failure,0x1",
                    "2026-10-03T10:00:00Z,a,x1,KB1,success,",
                    // P2: failure and success at the same instant: the failure sorts first (0 h).
                    "2026-10-05T08:00:00Z,a,x2,KB1,success,",
                    "2026-10-05T08:00:00Z,a,x2,KB1,failure,0x2",
                    // P3: first-ever attempt in P, a success.
                    "2026-10-10T00:00:00Z,a,x3,KB2,success,",
                    // P4: two failures the same day, never fixed: open, 282 h old at P's end.
                    "2026-10-20T06:00:00Z,a,x4,KB2,failure,0x3",
                    "2026-10-20T18:00:00Z,a,x4,KB2,failure,0x3",
                    // P5: fixed only after P: open at P's end, 36 h old.
                    "2026-10-30T12:00:00Z,a,x5,KB3,failure,0x4",
                    "2026-11-02T00:00:00Z,a,x5,KB3,success,",
                    // P6: installed in September, failed and fixed in October: 6 h.
                    "2026-09-01T00:00:00Z,a,x6,KB3,success,",
                    "2026-10-15T00:00:00Z,a,x6,KB3,failure,0x5",
                    "2026-10-15T06:00:00Z,a,x6,KB3,success,",
                ],
            ),
        ),
        (
            "tickets.csv",
            csv(
                TICKETS,
                &[
                    "1,a,remediation,complete,2026-10-01T00:00:00Z,2026-10-02T00:00:00Z,2026-10-01T12:00:00Z",
                    "2,a,remediation,complete,2026-10-10T00:00:00Z,2026-10-10T12:00:00Z,2026-10-11T00:00:00Z",
                    "3,b,remediation,complete,2026-10-12T00:00:00Z,2026-10-13T00:00:00Z,",
                    "4,a,incident,complete,2026-10-12T00:00:00Z,2026-10-13T00:00:00Z,",
                    "5,a,remediation,in_progress,2026-10-12T00:00:00Z,,",
                    "6,a,remediation,complete,2026-10-30T00:00:00Z,2026-11-01T00:00:00Z,",
                ],
            ),
        ),
    ])
}

#[test]
fn mttr_counts_episodes_that_end_in_the_period_with_ties_failure_first() {
    let (_dir, lake) = remediation_lake();
    // Episodes ending in October: 120 h, 0 h, 6 h.
    assert_eq!(kpi(&lake, "mttr_hours_mean", PORTFOLIO), t("", "3.0", "42.0"));
    assert_eq!(kpi(&lake, "mttr_hours_median", PORTFOLIO), t("", "3.0", "6.0"));
    // quantile_cont 0.9 of [0, 6, 120]: 6 + 0.8 x 114 = 97.2.
    assert_eq!(kpi(&lake, "mttr_hours_p90", PORTFOLIO), t("", "3.0", "97.2"));
    // Tenant b sent no patch history at all: not measured, not an empty population.
    assert_eq!(kpi(&lake, "mttr_hours_mean", "tenant_id = 'b'"), t("", "", ""));
}

#[test]
fn open_episodes_are_those_without_a_success_before_the_period_end_instant() {
    let (_dir, lake) = remediation_lake();
    assert_eq!(
        kpi(&lake, "open_failure_episodes", PORTFOLIO),
        t("2.0", "", "2.0")
    );
    // (282 + 36) / 2.
    assert_eq!(
        kpi(&lake, "open_episode_age_hours_mean", PORTFOLIO),
        t("", "2.0", "159.0")
    );
}

#[test]
fn recurrence_needs_an_earlier_failure_on_an_earlier_utc_day() {
    let (_dir, lake) = remediation_lake();
    // Pairs failing in October: P1 P2 P4 P5 P6; only P1 failed on an earlier day.
    assert_eq!(
        kpi(&lake, "failed_patch_recurrence_rate", PORTFOLIO),
        t("1.0", "5.0", "0.2")
    );
}

#[test]
fn first_pass_success_counts_pairs_whose_first_ever_attempt_is_in_the_period() {
    let (_dir, lake) = remediation_lake();
    // First attempts in October: P2 (the tie: failure first), P3 success, P4, P5.
    assert_eq!(
        kpi(&lake, "first_pass_success_rate", PORTFOLIO),
        t("1.0", "4.0", "0.25")
    );
}

#[test]
fn remediation_tickets_resolved_in_the_period_give_mttr_and_sla_breaches() {
    let (_dir, lake) = remediation_lake();
    // Tickets 1 (24 h), 2 (12 h), 3 (24 h).
    assert_eq!(
        kpi(&lake, "remediation_ticket_mttr_hours_mean", PORTFOLIO),
        t("", "3.0", "20.0")
    );
    // With a due time: 1 (breached) and 2.
    assert_eq!(
        kpi(&lake, "remediation_sla_breach_rate", PORTFOLIO),
        t("1.0", "2.0", "0.5")
    );
    assert_eq!(
        kpi(&lake, "remediation_sla_breach_rate", "tenant_id = 'b'"),
        t("0.0", "0.0", "")
    );
}

fn change_lake() -> (TempDir, Lake) {
    lake_with(&[
        (
            "tenants.csv",
            csv(TENANTS, &["a,Alpha,standard", "b,Beta,low", "c,Gamma,low"]),
        ),
        ("devices.csv", remediation_devices()),
        (
            "changes.csv",
            csv(
                CHANGES,
                &[
                    // C1: passes every control.
                    "c1,a,normal,medium,2026-10-01T00:00:00Z,2026-10-05T22:00:00Z,2026-10-06T02:00:00Z,2026-10-05T22:10:00Z,2026-10-06T01:00:00Z,approved,2026-10-03T00:00:00Z,true,true,true,true,successful,false,,true,true,false",
                    // C2: emergency, caused an incident, CAB after start, no plan times, impact not declared.
                    "c2,a,emergency,high,2026-10-07T00:00:00Z,,,2026-10-07T01:00:00Z,2026-10-07T03:00:00Z,approved,2026-10-07T09:00:00Z,true,false,true,true,successful,,,true,false,true",
                    // C3: rolled back successfully, overran its window.
                    "c3,a,normal,low,2026-10-08T00:00:00Z,2026-10-10T22:00:00Z,2026-10-11T00:00:00Z,2026-10-10T22:00:00Z,2026-10-11T01:00:00Z,none,,true,true,true,true,rolled_back,true,true,true,true,false",
                    // C4: failed, rollback failed, incomplete intake, started early.
                    "c4,a,standard,low,2026-10-08T00:00:00Z,2026-10-12T22:00:00Z,2026-10-13T02:00:00Z,2026-10-12T21:00:00Z,2026-10-12T23:00:00Z,none,,true,false,true,true,failed,true,false,false,true,false",
                    // C5: high risk without CAB, otherwise in order.
                    "c5,b,normal,high,2026-10-08T00:00:00Z,2026-10-14T22:00:00Z,2026-10-15T02:00:00Z,2026-10-14T22:00:00Z,2026-10-15T01:00:00Z,none,,true,true,true,true,successful_with_issues,false,,true,true,false",
                    // C6: closed without an end time: a data-quality finding, not a KPI row.
                    "c6,a,normal,low,2026-10-08T00:00:00Z,,,2026-10-09T00:00:00Z,,none,,true,true,true,true,successful,,,,,",
                    // C7: closed in September.
                    "c7,a,normal,low,2026-09-08T00:00:00Z,,,2026-09-09T00:00:00Z,2026-09-09T02:00:00Z,none,,true,true,true,true,successful,,,,,",
                    // C8: cancelled.
                    "c8,a,normal,low,2026-10-08T00:00:00Z,,,,,none,,,,,,cancelled,,,,,",
                    // C9: tenant c's only change, closed in September.
                    "c9,c,normal,low,2026-09-01T00:00:00Z,,,2026-09-02T00:00:00Z,2026-09-02T02:00:00Z,none,,true,true,true,true,successful,,,,,",
                ],
            ),
        ),
    ])
}

#[test]
fn change_kpis_count_closed_changes_ending_in_the_period() {
    let (_dir, lake) = change_lake();
    // Closed in October: c1-c5.
    assert_eq!(
        kpi(&lake, "change_success_rate", PORTFOLIO),
        t("1.0", "5.0", "0.2")
    );
    assert_eq!(
        kpi(&lake, "emergency_change_ratio", PORTFOLIO),
        t("1.0", "5.0", "0.2")
    );
    assert_eq!(
        kpi(&lake, "rollback_effectiveness_rate", PORTFOLIO),
        t("1.0", "2.0", "0.5")
    );
    // Medium/high: c1 (approved before start), c2 (after), c5 (none).
    assert_eq!(
        kpi(&lake, "cab_compliance_rate", PORTFOLIO),
        t("1.0", "3.0", "0.333333")
    );
    // c1, c3, c5 complete; c2 lacks plan times; c4 lacks test evidence.
    assert_eq!(
        kpi(&lake, "change_intake_completeness_rate", PORTFOLIO),
        t("3.0", "5.0", "0.6")
    );
    // All four times: c1 c3 c4 c5; within: c1, c5.
    assert_eq!(
        kpi(&lake, "change_window_compliance_rate", PORTFOLIO),
        t("2.0", "4.0", "0.5")
    );
    assert_eq!(
        kpi(&lake, "post_change_verification_rate", PORTFOLIO),
        t("3.0", "5.0", "0.6")
    );
    assert_eq!(
        kpi(&lake, "change_success_rate", "tenant_id = 'b'"),
        t("0.0", "1.0", "0.0")
    );
    assert_eq!(
        strings(&lake, "select change_id from change_data_quality"),
        vec![vec!["c6".to_string()]]
    );
}

#[test]
fn a_tenant_whose_changes_closed_before_the_period_shows_a_zero_denominator_and_no_value() {
    // Measured and empty: its PSA sent changes, none closed in October.
    let (_dir, lake) = change_lake();
    assert_eq!(
        kpi(&lake, "change_success_rate", "tenant_id = 'c'"),
        t("0.0", "0.0", "")
    );
}

#[test]
fn a_tenant_whose_psa_sent_no_changes_at_all_is_not_measured() {
    let (_dir, lake) = compliance_lake();
    assert_eq!(
        kpi(&lake, "change_success_rate", "tenant_id = 'b'"),
        t("", "", "")
    );
    // Nobody's changes: the portfolio is not measured either.
    assert_eq!(kpi(&lake, "change_success_rate", PORTFOLIO), t("", "", ""));
    assert_eq!(
        strings(
            &lake,
            &format!(
                "select status, measurement_note from kpi_scorecard where kpi_id = 'change_success_rate' and {PORTFOLIO}"
            )
        ),
        [[
            "not_measured",
            "no client has the exports this figure needs (PSA changes export)"
        ]
        .map(String::from)
        .to_vec()]
    );
}

#[test]
fn every_family_reports_on_exactly_the_tenants_table() {
    // compliance_lake has tenants a (devices, patches) and b (nothing at all): every
    // tenant-scoped KPI has one row for each of them and none for any other tenant.
    let (_dir, lake) = compliance_lake();
    let not_a_and_b = strings(
        &lake,
        "select k.kpi_id, coalesce(string_agg(s.tenant_id, ',' order by s.tenant_id), '')
         from (select distinct kpi_id from kpi_summary) as k
         left join kpi_summary as s
             on s.kpi_id = k.kpi_id and s.tenant_id is not null and s.policy_tier is null
                 and s.device_class is null and s.age_bucket is null
         group by k.kpi_id
         having coalesce(string_agg(s.tenant_id, ',' order by s.tenant_id), '') <> 'a,b'",
    );
    assert_eq!(not_a_and_b, Vec::<Vec<String>>::new());
}

#[test]
fn a_lake_holding_rows_of_a_tenant_the_tenants_table_lacks_is_refused_by_name() {
    // Ingest quarantines such rows (unknown_tenant); Parquet copied into the lake by hand does
    // not pass through it. Counted, the copied device would be in the portfolio and in no
    // client's row.
    let (_dir, lake) = compliance_lake();
    let november = Period {
        start: chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        end: chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
    };
    let day = lake.root().join("devices").join("snapshot_date=2026-11-02");
    fs::create_dir_all(&day).unwrap();
    let db = duckdb::Connection::open_in_memory().unwrap();
    db.execute_batch(&format!(
        "copy (select * replace ('zz' as tenant_id, date '2026-11-02' as snapshot_date)
               from read_parquet('{}/devices/*/*.parquet') limit 2)
         to '{}' (format parquet)",
        lake.root().display(),
        day.join("copied.parquet").display()
    ))
    .unwrap();
    let err = kpi::compute(&Config::default(), &lake, november).unwrap_err();
    let message = format!("{err:#}");
    assert!(message.contains("scopes.sql"), "{message}");
    assert!(message.contains("devices has 2 rows of tenant 'zz'"), "{message}");
    // Refused before anything of the period was written.
    assert_eq!(
        kpi::missing_outputs(&lake, november).len(),
        kpi::outputs().count()
    );
}

#[test]
fn pilot_soak_needs_a_pilot_success_at_least_the_soak_time_before_the_first_production_success() {
    let ring = |d: &str, ring: &str| {
        format!(
            "2026-10-31,a,{d},{},workstation,gold,{ring},,false,2026-10-31T05:00:00Z",
            d.to_uppercase()
        )
    };
    let devices = [
        ring("p1", "pilot"),
        ring("r1", "regular"),
        ring("r2", "production"),
    ];
    let devices: Vec<&str> = devices.iter().map(String::as_str).collect();
    let (_dir, lake) = lake_with(&[
        ("tenants.csv", csv(TENANTS, &["a,Alpha,standard"])),
        ("devices.csv", csv(DEVICES, &devices)),
        (
            "patch_attempts.csv",
            csv(
                ATTEMPTS,
                &[
                    // KB1: exactly 7 x 24 h of soak: pass.
                    "2026-10-01T02:00:00Z,a,p1,KB1,success,",
                    "2026-10-08T02:00:00Z,a,r1,KB1,success,",
                    "2026-10-09T02:00:00Z,a,r2,KB1,success,",
                    // KB2: 3 days of soak: too short.
                    "2026-10-05T02:00:00Z,a,p1,KB2,success,",
                    "2026-10-08T02:00:00Z,a,r2,KB2,success,",
                    // KB3: never on a pilot device.
                    "2026-10-10T02:00:00Z,a,r1,KB3,success,",
                    // KB4: reached production in September: not promoted in October.
                    "2026-09-20T02:00:00Z,a,r1,KB4,success,",
                    "2026-10-20T02:00:00Z,a,r2,KB4,success,",
                ],
            ),
        ),
    ]);
    assert_eq!(
        kpi(&lake, "pilot_soak_compliance_rate", PORTFOLIO),
        t("1.0", "3.0", "0.333333")
    );
    assert_eq!(
        strings(&lake, "select patch_id, verdict from pilot_soak order by 1"),
        vec![
            vec!["KB1".to_string(), "pass".into()],
            vec!["KB2".into(), "too_short".into()],
            vec!["KB3".into(), "no_pilot".into()]
        ]
    );
}

#[test]
fn every_kpi_of_the_spec_has_a_portfolio_row_and_every_tenant_a_row() {
    let (_dir, lake) = compliance_lake();
    let ids = strings(
        &lake,
        &format!("select kpi_id from kpi_summary where {PORTFOLIO} order by 1"),
    );
    let ids: Vec<&str> = ids.iter().map(|r| r[0].as_str()).collect();
    let mut expected = vec![
        "patch_compliance_rate",
        "patch_instance_compliance_rate",
        "excluded_devices",
        "stale_devices",
        "chronic_noncompliant_devices",
        "failed_patch_recurrence_rate",
        "mttr_hours_mean",
        "mttr_hours_median",
        "mttr_hours_p90",
        "open_failure_episodes",
        "open_episode_age_hours_mean",
        "first_pass_success_rate",
        "remediation_ticket_mttr_hours_mean",
        "remediation_sla_breach_rate",
        "change_success_rate",
        "emergency_change_ratio",
        "rollback_effectiveness_rate",
        "cab_compliance_rate",
        "change_intake_completeness_rate",
        "change_window_compliance_rate",
        "post_change_verification_rate",
        "pilot_soak_compliance_rate",
        "kev_exposed_devices",
        "kev_overdue_devices",
        "exploited_exposed_devices",
        "kev_open_instances",
        "patch_latency_days_median",
        "patch_latency_days_p90",
        "installed_within_grace_rate",
    ];
    expected.sort();
    assert_eq!(ids, expected);
    let per_tenant = strings(
        &lake,
        "select count(distinct kpi_id) from kpi_summary where tenant_id = 'b' and policy_tier is null and age_bucket is null",
    );
    assert_eq!(per_tenant[0][0], "29");
    // The catalogue every other part reads a KPI's facts from holds the same KPIs, in the units
    // the SQL gives them.
    let units = strings(
        &lake,
        &format!("select kpi_id, unit from kpi_summary where {PORTFOLIO} order by 1"),
    );
    for row in &units {
        let entry =
            govpack::catalog::find(&row[0]).unwrap_or_else(|| panic!("{} not in the catalogue", row[0]));
        assert_eq!(entry.unit.as_str(), row[1], "{}", row[0]);
    }
    assert_eq!(units.len(), govpack::catalog::KPIS.len());
}

#[test]
fn over_the_sample_msp_rates_are_ratios_and_tenant_denominators_add_up_to_the_portfolio() {
    let (_dir, lake) = sample_lake();
    for month in [8, 9, 10] {
        kpi::compute(&Config::default(), &lake, Period::month(2026, month).unwrap()).unwrap();
    }
    let bad_rates = strings(
        &lake,
        "select count(*) from kpi_summary where unit = 'ratio' and (value < 0 or value > 1 or numerator > denominator)",
    );
    assert_eq!(bad_rates[0][0], "0");
    // Rates and counts whose tenant rows partition the portfolio.
    let mismatches = strings(
        &lake,
        "with tenant_sums as (
            select period_start, kpi_id, sum(coalesce(denominator, numerator)) as total
            from kpi_summary where tenant_id is not null and policy_tier is null and age_bucket is null
            group by all
         )
         select p.period_start, p.kpi_id, coalesce(p.denominator, p.numerator), s.total
         from kpi_summary p join tenant_sums s using (period_start, kpi_id)
         where p.tenant_id is null and p.policy_tier is null and p.device_class is null and p.age_bucket is null
           and coalesce(p.denominator, p.numerator) <> s.total",
    );
    assert!(mismatches.is_empty(), "{mismatches:?}");
    let tenants_without_rows = strings(
        &lake,
        "select count(*) from tenants t where not exists (
            select 1 from kpi_summary k where k.tenant_id = t.tenant_id and k.period_start = date '2026-10-01')",
    );
    assert_eq!(tenants_without_rows[0][0], "0");
    // Re-running a period replaces that period only.
    let before = strings(&lake, "select count(*) from kpi_summary")[0][0].clone();
    kpi::compute(&Config::default(), &lake, Period::month(2026, 9).unwrap()).unwrap();
    assert_eq!(strings(&lake, "select count(*) from kpi_summary")[0][0], before);
}

// --- history, baselines and targets -----------------------------------------------------------

#[test]
fn the_scorecard_compares_each_kpi_with_its_first_period_and_its_target() {
    // Four devices; compliance 1/4 in September, 3/4 in October (target 0.25 x 1.1 = 0.275: met),
    // stale devices 0 then 1 (lower is better: not improving).
    let device = |date: &str, d: &str, seen: &str| {
        format!(
            "{date},a,{d},{},workstation,gold,regular,,false,{seen}",
            d.to_uppercase()
        )
    };
    let patch = |date: &str, d: &str, state: &str| {
        format!("{date},a,{d},KB1,security,critical,2026-08-01,approved,{state}")
    };
    let mut devices = Vec::new();
    let mut patches = Vec::new();
    for (date, fixed) in [("2026-09-30", 1), ("2026-10-31", 3)] {
        for (i, d) in ["d1", "d2", "d3", "d4"].iter().enumerate() {
            let seen = if date == "2026-10-31" && *d == "d4" {
                "2026-10-01T00:00:00Z".to_string()
            } else {
                format!("{date}T01:00:00Z")
            };
            devices.push(device(date, d, &seen));
            patches.push(patch(date, d, if i < fixed { "installed" } else { "missing" }));
        }
    }
    let devices: Vec<&str> = devices.iter().map(String::as_str).collect();
    let patches: Vec<&str> = patches.iter().map(String::as_str).collect();
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    fs::create_dir_all(&data).unwrap();
    fs::write(data.join("tenants.csv"), csv(TENANTS, &["a,Alpha,standard"])).unwrap();
    fs::write(data.join("devices.csv"), csv(DEVICES, &devices)).unwrap();
    fs::write(data.join("patch_status.csv"), csv(PATCHES, &patches)).unwrap();
    // One high-risk change a month, approved by the CAB before it started: 100% both months.
    let change = |id: &str, month: &str| {
        format!(
            "{id},a,normal,high,2026-{month}-01T00:00:00Z,2026-{month}-05T00:00:00Z,2026-{month}-05T02:00:00Z,\
             2026-{month}-05T00:00:00Z,2026-{month}-05T01:00:00Z,approved,2026-{month}-02T00:00:00Z,\
             true,true,true,true,successful,false,,true,false,false"
        )
    };
    fs::write(
        data.join("changes.csv"),
        csv(CHANGES, &[&change("c9", "09"), &change("c10", "10")]),
    )
    .unwrap();
    // A patch history with one install that went through first time: no failure episode.
    fs::write(
        data.join("patch_attempts.csv"),
        csv(ATTEMPTS, &["2026-10-10T00:00:00Z,a,d1,KB1,success,"]),
    )
    .unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    ingest::ingest(&Config::default(), &lake, &[data]).unwrap();
    for month in [9, 10] {
        kpi::compute(&Config::default(), &lake, Period::month(2026, month).unwrap()).unwrap();
    }
    let row = |id: &str, month: &str| {
        strings(
            &lake,
            &format!(
                "select coalesce(cast(round(baseline_value, 4) as varchar), ''), coalesce(cast(round(target, 4) as varchar), ''), status
                 from kpi_scorecard where kpi_id = '{id}' and period_start = date '2026-{month}-01' and {PORTFOLIO}"
            ),
        )[0]
            .clone()
    };
    assert_eq!(
        row("patch_compliance_rate", "09"),
        vec!["0.25", "0.275", "no_baseline"]
    );
    // October: d4 is stale, d1-d3 compliant: 3/4 = 0.75 >= 0.275.
    assert_eq!(row("patch_compliance_rate", "10"), vec!["0.25", "0.275", "met"]);
    assert_eq!(row("stale_devices", "10"), vec!["0.0", "", "not_improving"]);
    // The best there is cannot improve: 0 stale devices, and CAB approval at 100% against a 100%
    // baseline (no target configured for it), are met, the first as the baseline period too.
    assert_eq!(row("stale_devices", "09"), vec!["0.0", "", "met"]);
    assert_eq!(row("cab_compliance_rate", "10"), vec!["1.0", "", "met"]);
    // No failure episode ended: no MTTR this period, which is no data, not "not improving".
    assert_eq!(row("mttr_hours_mean", "10"), vec!["", "", "no_data"]);
    // Excluded devices are approved on purpose: reported, not judged, whatever they do.
    assert_eq!(row("excluded_devices", "10"), vec!["0.0", "", "info"]);
    // With the baseline pinned to October, September is before it.
    let mut config = Config::default();
    config.kpi.baseline_period = Some("2026-10".into());
    kpi::compute(&config, &lake, Period::month(2026, 9).unwrap()).unwrap();
    assert_eq!(
        row("patch_compliance_rate", "09"),
        vec!["0.75", "0.825", "no_baseline"]
    );
}

// --- failure patterns -----------------------------------------------------------------------

/// One tenant `a` with these devices (which carry os_name), patch states and attempts.
fn failure_lake(devices: &str, patches: &str, attempts: String) -> (TempDir, Lake) {
    lake_with(&[
        ("tenants.csv", csv(TENANTS, &["a,Alpha,standard"])),
        ("devices.csv", devices.to_string()),
        ("patch_status.csv", patches.to_string()),
        ("patch_attempts.csv", attempts),
    ])
}

#[test]
fn failure_patterns_rank_failures_by_patch_error_os_and_class_with_pareto_shares() {
    // These devices need os_name, which the DEVICES header above leaves out.
    let devices = "snapshot_date,tenant_id,device_id,hostname,device_class,os_name,last_seen_utc\n\
        2026-10-31,a,w1,W1,workstation,Windows 10,2026-10-31T01:00:00Z\n\
        2026-10-31,a,w2,W2,workstation,Windows 10,2026-10-31T01:00:00Z\n\
        2026-10-31,a,w3,W3,workstation,Windows 11,2026-10-31T01:00:00Z\n";
    let patches = "snapshot_date,tenant_id,device_id,patch_id,classification,approval,state\n\
        2026-10-31,a,w1,KB1,security,approved,failed\n\
        2026-10-31,a,w3,KB9,driver,approved,installed\n";
    let attempts = csv(
        ATTEMPTS,
        &[
            // KB1 0xA on Windows 10: w1 on two days (a recurring pair), w2 once: 3 failures.
            "2026-10-02T02:00:00Z,a,w1,KB1,failure,0xA",
            "2026-10-03T02:00:00Z,a,w1,KB1,failure,0xA",
            "2026-10-03T02:00:00Z,a,w2,KB1,failure,0xA",
            // KB9 (a driver) on Windows 11: one failure, one success.
            "2026-10-04T02:00:00Z,a,w3,KB9,failure,0xB",
            "2026-10-05T02:00:00Z,a,w3,KB9,success,",
            // September: outside the month.
            "2026-09-04T02:00:00Z,a,w3,KB9,failure,0xB",
        ],
    );
    let (_dir, lake) = failure_lake(devices, patches, attempts);
    assert_eq!(
        strings(
            &lake,
            "select pareto_rank, patch_id, error_code, os_name, classification, failures, devices, recurring_pairs,
                    round(share, 4), round(cumulative_share, 4)
             from failure_patterns order by pareto_rank"
        ),
        vec![
            vec!["1", "KB1", "0xA", "Windows 10", "security", "3", "2", "1", "0.75", "0.75"],
            vec!["2", "KB9", "0xB", "Windows 11", "driver", "1", "1", "0", "0.25", "1"],
        ]
    );
    // Failure rate per class: security 3/3, driver 1/2.
    assert_eq!(
        strings(
            &lake,
            "select classification, attempts, failures, failure_rate from failure_classes"
        ),
        vec![vec!["security", "3", "3", "1"], vec!["driver", "2", "1", "0.5"]]
    );
}

// --- the engine's own contract ----------------------------------------------------------------

#[test]
fn a_patch_two_devices_classify_differently_on_its_latest_day_takes_the_later_word_whatever_the_scan_order() {
    // KB1 is `driver` on w1 and `security` on w2 in the 31 October snapshot, and `update_rollup`
    // on w1 a day earlier. The latest day counts; on it the tie is broken by the word itself
    // (`security` > `driver`), not by which row is met first (w1's, in the file's key order), so
    // the answer never depends on which file or thread came first.
    let devices = "snapshot_date,tenant_id,device_id,hostname,device_class,os_name,last_seen_utc\n\
        2026-10-31,a,w1,W1,workstation,Windows 11,2026-10-31T01:00:00Z\n\
        2026-10-31,a,w2,W2,workstation,Windows 11,2026-10-31T01:00:00Z\n";
    let patches = "snapshot_date,tenant_id,device_id,patch_id,classification,approval,state\n\
        2026-10-30,a,w1,KB1,update_rollup,approved,failed\n\
        2026-10-31,a,w1,KB1,driver,approved,failed\n\
        2026-10-31,a,w2,KB1,security,approved,failed\n";
    let attempts = csv(ATTEMPTS, &["2026-10-03T02:00:00Z,a,w1,KB1,failure,0xA"]);
    let (_dir, lake) = failure_lake(devices, patches, attempts);
    assert_eq!(
        strings(&lake, "select patch_id, classification from failure_patterns"),
        vec![vec!["KB1", "security"]]
    );
}

#[test]
fn a_broken_query_file_is_an_error_naming_the_file_and_duckdbs_message() {
    let dir = TempDir::new().unwrap();
    let queries = dir.path().join("queries");
    fs::create_dir_all(&queries).unwrap();
    for file in kpi::steps().iter().map(|s| &s.file) {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("queries").join(file);
        fs::copy(source, queries.join(file)).unwrap();
    }
    fs::write(queries.join("change.sql"), "create temp table x as selec 1;").unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_govpack"))
        .args(["--lake", "lake", "ingest"])
        .arg(&data)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_govpack"))
        .args(["--lake", "lake", "kpi", "--period", "2026-10"])
        .env("GOVPACK_QUERIES", &queries)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("change.sql: DuckDB refused it") && err.contains("selec"),
        "{err}"
    );
}

#[test]
fn recomputing_a_period_on_every_core_gives_byte_identical_outputs() {
    // The KPI session runs DuckDB on all cores: nothing it writes may depend on the order its
    // threads finish in (exact means, total window orders, every output's query in a total order).
    let (_dir, lake) = sample_lake();
    let digests = || {
        kpi::compute(&Config::default(), &lake, Period::month(2026, 10).unwrap()).unwrap();
        let mut files: Vec<(String, String)> = Vec::new();
        for output in kpi::outputs() {
            let bytes = std::fs::read(output_file(&lake, output, "2026-10")).unwrap();
            files.push((output.to_string(), govpack::files::sha256_hex(&bytes)));
        }
        files
    };
    let first = digests();
    for _ in 0..3 {
        assert_eq!(digests(), first);
    }
}

#[test]
fn kpi_outputs_are_written_with_the_lake_profile_and_are_queryable_by_name() {
    let (dir, lake) = compliance_lake();
    let mut timestamps = 0;
    for output in kpi::outputs() {
        let file = output_file(&lake, output, "2026-10");
        timestamps += common::assert_power_bi_profile(&file);
        // Every output carries its period.
        let columns = strings(
            &lake,
            &format!("select count(*) from (describe {output}) where column_name = 'period_start'"),
        );
        assert_eq!(columns[0][0], "1", "{output}");
    }
    assert!(timestamps > 0);
    // The CLI: csv with a header, json with keys, a DuckDB database with the views.
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_govpack"))
            .args(["--lake", "lake"])
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let out = run(&[
        "query",
        "select kpi_id, value from kpi_summary where kpi_id = 'excluded_devices' and tenant_id is null",
        "--format",
        "csv",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "kpi_id,value\nexcluded_devices,2\n"
    );
    let out = run(&[
        "query",
        "select device_id, compliant from compliance_devices where device_id = 'd2'",
        "--format",
        "json",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json, serde_json::json!([{"device_id": "d2", "compliant": true}]));
    let out = run(&["query", "--write-duckdb", "views.duckdb"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let db = duckdb::Connection::open(dir.path().join("views.duckdb")).unwrap();
    let n: i64 = db
        .query_row("select count(*) from compliance_devices", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 16);
}

// --- an independent recomputation from the canonical CSVs -------------------------------------

/// Plain Rust over `sample_data/*.csv`, sharing nothing with the SQL, for three KPIs of October.
mod recomputed {
    use std::collections::{BTreeMap, HashMap};
    use std::path::Path;

    use chrono::{DateTime, NaiveDate, Utc};

    type Row = HashMap<String, String>;

    fn read(name: &str) -> Vec<Row> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("sample_data")
            .join(name);
        csv::Reader::from_path(path)
            .unwrap()
            .deserialize()
            .map(|r| r.unwrap())
            .collect()
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn instant(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    pub fn patch_compliance_rate(as_of: NaiveDate) -> f64 {
        let as_of_end = as_of.succ_opt().unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc();
        let devices = read("devices.csv");
        let patches = read("patch_status.csv");
        let summaries = read("device_patch_summary.csv");
        let exceptions = read("exceptions.csv");
        let mut current: HashMap<&str, NaiveDate> = HashMap::new();
        for d in devices.iter().filter(|d| date(&d["snapshot_date"]) <= as_of) {
            let e = current
                .entry(&d["tenant_id"])
                .or_insert(date(&d["snapshot_date"]));
            *e = (*e).max(date(&d["snapshot_date"]));
        }
        let (mut compliant, mut population) = (0, 0);
        for d in devices
            .iter()
            .filter(|d| date(&d["snapshot_date"]) == current[d["tenant_id"].as_str()])
        {
            if d["excluded"] == "true" || d["patch_policy"] == "do_not_patch" {
                continue;
            }
            population += 1;
            let stale = d["last_seen_utc"].is_empty()
                || instant(&d["last_seen_utc"]).date_naive() < as_of - chrono::Duration::days(7);
            if stale {
                continue;
            }
            let (tenant, device) = (&d["tenant_id"], &d["device_id"]);
            let mine = |r: &&Row| {
                &r["tenant_id"] == tenant && &r["device_id"] == device && date(&r["snapshot_date"]) <= as_of
            };
            let patch_snapshot = patches
                .iter()
                .filter(mine)
                .map(|r| date(&r["snapshot_date"]))
                .max();
            let ok = match patch_snapshot {
                Some(snap) => !patches
                    .iter()
                    .filter(mine)
                    .filter(|r| date(&r["snapshot_date"]) == snap)
                    .any(|r| {
                        let exempt = exceptions.iter().any(|e| {
                            &e["tenant_id"] == tenant
                                && (e["device_id"].is_empty() || &e["device_id"] == device)
                                && (e["patch_id"].is_empty() || e["patch_id"] == r["patch_id"])
                                && instant(&e["approved_utc"]) <= as_of_end
                                && (e["expires_utc"].is_empty() || instant(&e["expires_utc"]) > as_of_end)
                        });
                        let required = r["approval"] == "approved"
                            && (r["classification"] == "security" || r["classification"] == "critical")
                            && r["state"] != "not_applicable"
                            && !exempt;
                        let grace = match r["severity"].as_str() {
                            "critical" => 14,
                            "important" => 30,
                            "moderate" => 60,
                            "low" => 90,
                            _ => 30,
                        };
                        let late = r["release_date"].is_empty()
                            || (as_of - date(&r["release_date"])).num_days() > grace;
                        required
                            && matches!(r["state"].as_str(), "missing" | "failed" | "pending_reboot")
                            && late
                    }),
                None => summaries
                    .iter()
                    .filter(mine)
                    .max_by_key(|r| date(&r["snapshot_date"]))
                    .is_some_and(|r| r["status"] == "fully_patched"),
            };
            if ok {
                compliant += 1;
            }
        }
        compliant as f64 / population as f64
    }

    pub fn change_success_rate(start: DateTime<Utc>, end: DateTime<Utc>) -> f64 {
        let closed: Vec<Row> = read("changes.csv")
            .into_iter()
            .filter(|c| {
                ["successful", "successful_with_issues", "failed", "rolled_back"]
                    .contains(&c["outcome"].as_str())
                    && !c["actual_end_utc"].is_empty()
                    && (start..end).contains(&instant(&c["actual_end_utc"]))
            })
            .collect();
        let ok = closed
            .iter()
            .filter(|c| c["outcome"] == "successful" && c["caused_incident"] != "true")
            .count();
        ok as f64 / closed.len() as f64
    }

    pub fn mttr_hours_mean(start: DateTime<Utc>, end: DateTime<Utc>) -> f64 {
        // (tenant, device, patch) -> [(time, success)]
        type Pair = (String, String, String);
        let mut pairs: BTreeMap<Pair, Vec<(DateTime<Utc>, bool)>> = BTreeMap::new();
        for a in read("patch_attempts.csv") {
            let key = (
                a["tenant_id"].clone(),
                a["device_id"].clone(),
                a["patch_id"].clone(),
            );
            pairs
                .entry(key)
                .or_default()
                .push((instant(&a["attempt_utc"]), a["result"] == "success"));
        }
        let mut hours = Vec::new();
        for attempts in pairs.values_mut() {
            attempts.sort(); // by time, and false (failure) before true (success)
            let mut open: Option<DateTime<Utc>> = None;
            for (at, success) in attempts.iter() {
                match (open, success) {
                    (None, false) => open = Some(*at),
                    (Some(began), true) => {
                        if (start..end).contains(at) {
                            hours.push((*at - began).num_seconds() as f64 / 3600.0);
                        }
                        open = None;
                    }
                    _ => {}
                }
            }
        }
        hours.iter().sum::<f64>() / hours.len() as f64
    }
}

#[test]
fn the_sql_agrees_with_an_independent_recomputation_from_the_sample_csvs() {
    let dir = TempDir::new().unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    ingest::ingest(
        &Config::default(),
        &lake,
        &[Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data")],
    )
    .unwrap();
    kpi::compute(&Config::default(), &lake, OCTOBER).unwrap();
    let value = |id: &str| -> f64 {
        strings(
            &lake,
            &format!("select value from kpi_summary where kpi_id = '{id}' and {PORTFOLIO}"),
        )[0][0]
            .parse()
            .unwrap()
    };
    let start = chrono::DateTime::parse_from_rfc3339("2026-10-01T00:00:00Z")
        .unwrap()
        .to_utc();
    let end = chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
        .unwrap()
        .to_utc();
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    let expected = recomputed::patch_compliance_rate(OCTOBER.end);
    assert!(
        close(value("patch_compliance_rate"), expected),
        "{} vs {expected}",
        value("patch_compliance_rate")
    );
    let expected = recomputed::change_success_rate(start, end);
    assert!(
        close(value("change_success_rate"), expected),
        "{} vs {expected}",
        value("change_success_rate")
    );
    let expected = recomputed::mttr_hours_mean(start, end);
    assert!(
        close(value("mttr_hours_mean"), expected),
        "{} vs {expected}",
        value("mttr_hours_mean")
    );
}

// --- vulnerability exposure (docs/kpi-definitions.md) -------------------------------------------

const KEV_HEADER: &str = "cve_id,vendor_project,date_added,due_date,known_ransomware_use";
const PATCH_CVES_HEADER: &str = "patch_id,cve_id,severity,exploited,source_document";

/// Tenant `a` on 31 October 2026 with five devices (d3 excluded), every update a critical
/// security one released 8 October, and the KEV catalog and update-to-CVE rows given.
fn exposure_lake(kev: &[&str], patch_cves: &[&str]) -> (TempDir, Lake) {
    let seen = "2026-10-30T09:00:00Z";
    let devices: Vec<String> = ["d1", "d2", "d3", "d4", "d5"]
        .iter()
        .map(|d| device(d, "gold", "", if *d == "d3" { "true" } else { "false" }, seen))
        .collect();
    let patch = |d: &str, kb: &str, state: &str| {
        format!("2026-10-31,a,{d},{kb},security,critical,2026-10-08,approved,{state}")
    };
    let patches = [
        patch("d1", "KB1", "missing"),
        patch("d1", "KB2", "missing"),
        patch("d2", "KB1", "installed"),
        patch("d2", "KB3", "failed"),
        patch("d2", "KB5", "missing"),
        patch("d2", "KB6", "missing"),
        patch("d3", "KB1", "missing"),
        patch("d4", "KB1", "missing"),
        patch("d4", "KB4", "missing"),
        patch("d5", "KB7", "missing"),
    ];
    let devices: Vec<&str> = devices.iter().map(String::as_str).collect();
    let patches: Vec<&str> = patches.iter().map(String::as_str).collect();
    lake_with(&[
        ("tenants.csv", csv(TENANTS, &["a,Alpha,standard"])),
        ("devices.csv", csv(DEVICES, &devices)),
        ("patch_status.csv", csv(PATCHES, &patches)),
        (
            "exceptions.csv",
            csv(
                EXCEPTIONS,
                &[
                    // d4's exception for KB1 expired before as_of: KB1 is required there again.
                    "a,d4,KB1,vendor hold,M. Chen,2026-10-01T00:00:00Z,2026-10-15T00:00:00Z",
                    // d2's for KB5 is active: KB5 is not a required instance.
                    "a,d2,KB5,vendor hold,M. Chen,2026-10-01T00:00:00Z,",
                ],
            ),
        ),
        ("kev.csv", csv(KEV_HEADER, kev)),
        ("patch_cves.csv", csv(PATCH_CVES_HEADER, patch_cves)),
    ])
}

const KEV_ROWS: [&str; 6] = [
    "CVE-A,Microsoft,2026-10-01,2026-10-20,false",
    "CVE-B,Microsoft,2026-10-25,,false",
    "CVE-C,Microsoft,2026-10-02,2026-11-30,true",
    "CVE-E,Microsoft,2026-11-05,2026-11-26,false",
    "CVE-F,Microsoft,2026-10-10,2026-10-31,false",
    "CVE-G,Microsoft,2026-10-03,2026-10-24,false",
];

const PATCH_CVE_ROWS: [&str; 9] = [
    "KB1,CVE-A,critical,true,2026-Oct",
    // KB2 fixes two KEV CVEs; CVE-A is fixed by KB1 and KB3.
    "KB2,CVE-B,important,false,2026-Oct",
    "KB2,CVE-C,important,false,2026-Oct",
    "KB3,CVE-A,critical,true,2026-Oct",
    "KB4,CVE-D,important,true,2026-Oct",
    "KB5,CVE-G,critical,false,2026-Oct",
    // CVE-E joined the catalog after as_of.
    "KB6,CVE-E,critical,false,2026-Oct",
    // CVE-F's deadline is as_of itself: not yet past.
    "KB7,CVE-F,critical,false,2026-Oct",
    "KB8,CVE-A,critical,true,2026-Oct",
];

#[test]
fn kev_exposure_counts_devices_instances_and_deadlines_as_defined() {
    let (_dir, lake) = exposure_lake(&KEV_ROWS, &PATCH_CVE_ROWS);
    // KEV instances: d1 KB1 (CVE-A, deadline 20 Oct, past), d1 KB2 (CVE-B, added 25 Oct with no
    // due date: 8 Nov; CVE-C due 30 Nov: the earlier, 8 Nov), d2 KB3 (CVE-A, past), d4 KB1 (its exception expired; past), d5 KB7
    // (deadline 31 Oct = as_of: not past). Not d2 KB5 (active exception), d2 KB6 (CVE-E added
    // after as_of), d3 (excluded), d2 KB1 (installed).
    assert_eq!(kpi(&lake, "kev_open_instances", PORTFOLIO), t("5.0", "", "5.0"));
    assert_eq!(kpi(&lake, "kev_exposed_devices", PORTFOLIO), t("4.0", "", "4.0"));
    assert_eq!(kpi(&lake, "kev_overdue_devices", PORTFOLIO), t("3.0", "", "3.0"));
    // Exploited CVEs, KEV or not: d1 (KB1), d2 (KB3), d4 (KB1, KB4); not d3.
    assert_eq!(
        kpi(&lake, "exploited_exposed_devices", PORTFOLIO),
        t("3.0", "", "3.0")
    );
    assert_eq!(
        kpi(
            &lake,
            "kev_exposed_devices",
            "tenant_id = 'a' and policy_tier is null"
        ),
        t("4.0", "", "4.0")
    );
    assert_eq!(
        strings(
            &lake,
            "select device_id, patch_id, cves, cast(date_added as varchar), cast(kev_deadline as varchar),
                    coalesce(cast(days_past_deadline as varchar), ''), cast(known_ransomware_use as varchar)
             from kev_exposure order by device_id, patch_id"
        ),
        [
            ["d1", "KB1", "CVE-A", "2026-10-01", "2026-10-20", "11", "false"],
            [
                "d1",
                "KB2",
                "CVE-B, CVE-C",
                "2026-10-02",
                "2026-11-08",
                "",
                "true"
            ],
            ["d2", "KB3", "CVE-A", "2026-10-01", "2026-10-20", "11", "false"],
            ["d4", "KB1", "CVE-A", "2026-10-01", "2026-10-20", "11", "false"],
            ["d5", "KB7", "CVE-F", "2026-10-10", "2026-10-31", "", "false"],
        ]
        .map(|r| r.map(String::from).to_vec())
    );
}

#[test]
fn the_kev_deadline_is_the_earliest_of_each_cves_own_deadline() {
    // v3: KB7 fixes CVE-H (added 1 Oct, no due date: 15 Oct) and CVE-I (due 1 Dec). Taking the
    // earliest due date first (1 Dec) would hide that CVE-H is past its deadline at 31 Oct.
    let (_dir, lake) = exposure_lake(
        &[
            "CVE-H,Microsoft,2026-10-01,,false",
            "CVE-I,Microsoft,2026-10-05,2026-12-01,false",
        ],
        &[
            "KB7,CVE-H,critical,false,2026-Oct",
            "KB7,CVE-I,critical,false,2026-Oct",
        ],
    );
    assert_eq!(kpi(&lake, "kev_overdue_devices", PORTFOLIO), t("1.0", "", "1.0"));
    assert_eq!(
        strings(
            &lake,
            "select device_id, cast(kev_deadline as varchar), cast(days_past_deadline as varchar) from kev_exposure"
        ),
        [["d5", "2026-10-15", "16"].map(String::from).to_vec()]
    );
}

#[test]
fn without_the_reference_data_the_exposure_kpis_are_null_and_say_which_file_to_ingest() {
    let gap = |lake: &Lake| {
        strings(
            lake,
            "select coalesce(vulnerability_reference_gap, '') from kpi_parameters",
        )[0][0]
            .clone()
    };
    // No KEV catalog: null, not a reassuring 0; exploited exposure needs only patch_cves.
    let (_dir, lake) = exposure_lake(&[], &PATCH_CVE_ROWS);
    assert_eq!(kpi(&lake, "kev_exposed_devices", PORTFOLIO), t("", "", ""));
    assert_eq!(kpi(&lake, "kev_overdue_devices", PORTFOLIO), t("", "", ""));
    assert_eq!(
        kpi(&lake, "exploited_exposed_devices", PORTFOLIO),
        t("3.0", "", "3.0")
    );
    assert!(
        gap(&lake).contains("ingest known_exploited_vulnerabilities.json (cisa-kev-json)"),
        "{}",
        gap(&lake)
    );
    // No update-to-CVE data: every exposure KPI is null.
    let (_dir, lake) = exposure_lake(&KEV_ROWS, &[]);
    assert_eq!(kpi(&lake, "kev_open_instances", PORTFOLIO), t("", "", ""));
    assert_eq!(kpi(&lake, "exploited_exposed_devices", PORTFOLIO), t("", "", ""));
    assert!(gap(&lake).contains("msrc-cvrf-json"), "{}", gap(&lake));
    // The scorecard says why, for the client and the portfolio.
    let (_dir, lake) = exposure_lake(&[], &PATCH_CVE_ROWS);
    let notes = strings(
        &lake,
        "select coalesce(tenant_id, 'portfolio'), status, measurement_note from kpi_scorecard
         where kpi_id = 'kev_overdue_devices' order by 1",
    );
    assert_eq!(notes.len(), 2, "{notes:?}");
    for row in &notes {
        assert_eq!(row[1], "not_measured", "{row:?}");
        assert!(row[2].contains("CISA KEV catalog"), "{row:?}");
    }
}

#[test]
fn reference_data_that_lags_the_patches_gives_a_lower_bound_not_a_blank() {
    // v3: the CVRF document is September's while updates were released in October. The exposure
    // found in the rows present is reported, marked a lower bound with what to ingest.
    let september: Vec<String> = PATCH_CVE_ROWS
        .iter()
        .map(|r| r.replace("2026-Oct", "2026-Sep"))
        .collect();
    let september: Vec<&str> = september.iter().map(String::as_str).collect();
    let (_dir, lake) = exposure_lake(&KEV_ROWS, &september);
    assert_eq!(kpi(&lake, "kev_exposed_devices", PORTFOLIO), t("4.0", "", "4.0"));
    assert_eq!(kpi(&lake, "kev_overdue_devices", PORTFOLIO), t("3.0", "", "3.0"));
    let gap = strings(
        &lake,
        "select vulnerability_reference_gap, cast(vulnerability_lower_bound as varchar) from kpi_parameters",
    );
    assert!(
        gap[0][0].contains("(2026-Sep) is older than updates released in 2026-Oct"),
        "{gap:?}"
    );
    assert_eq!(gap[0][1], "true");
    let scorecard = strings(
        &lake,
        &format!(
            "select measurement, status, measurement_note from kpi_scorecard where kpi_id = 'kev_overdue_devices' and {PORTFOLIO}"
        ),
    );
    assert_eq!(scorecard[0][0], "lower_bound");
    // A lower bound of a count where fewer is better is never "met".
    assert_eq!(scorecard[0][1], "lower_bound");
    assert!(
        scorecard[0][2].starts_with("lower bound: the latest MSRC CVRF document"),
        "{scorecard:?}"
    );
}

// --- time to patch (docs/kpi-definitions.md) ----------------------------------------------------

#[test]
fn time_to_patch_counts_each_required_install_of_the_period_once_from_its_release() {
    let seen = "2026-10-30T09:00:00Z";
    let devices = [
        device("d1", "gold", "", "false", seen),
        device("d2", "silver", "", "false", seen),
        device("d3", "gold", "", "true", seen),
    ];
    let header = "snapshot_date,tenant_id,device_id,patch_id,classification,severity,release_date,approval,state,installed_utc";
    let rows = [
        // d1 KB1: seen installed in two snapshots, once: 5 - 1 = 4 days (critical, grace 14).
        "2026-10-15,a,d1,KB1,security,critical,2026-10-01,approved,installed,2026-10-05T10:00:00Z",
        "2026-10-31,a,d1,KB1,security,critical,2026-10-01,approved,installed,2026-10-05T10:00:00Z",
        // d1 KB2: 28 days (important, grace 30).
        "2026-10-31,a,d1,KB2,security,important,2026-10-01,approved,installed,2026-10-29T23:00:00Z",
        // d2 KB1: 19 days, past a critical's 14.
        "2026-10-31,a,d2,KB1,security,critical,2026-10-01,approved,installed,2026-10-20T08:00:00Z",
        // d2 KB3: released after it was installed: 0 days.
        "2026-10-31,a,d2,KB3,security,critical,2026-10-10,approved,installed,2026-10-08T08:00:00Z",
        // d2 KB4: installed in September (its earliest install): not this period's.
        "2026-09-30,a,d2,KB4,security,critical,2026-09-10,approved,installed,2026-09-25T08:00:00Z",
        "2026-10-31,a,d2,KB4,security,critical,2026-09-10,approved,installed,2026-10-03T08:00:00Z",
        // Not required, not approved, no release date, an excluded device: none counts.
        "2026-10-31,a,d1,KB5,feature,low,2026-10-01,approved,installed,2026-10-05T10:00:00Z",
        "2026-10-31,a,d1,KB6,security,critical,2026-10-01,pending_review,installed,2026-10-05T10:00:00Z",
        "2026-10-31,a,d1,KB7,security,critical,,approved,installed,2026-10-05T10:00:00Z",
        "2026-10-31,a,d3,KB1,security,critical,2026-10-01,approved,installed,2026-10-02T10:00:00Z",
    ];
    let devices: Vec<&str> = devices.iter().map(String::as_str).collect();
    let (_dir, lake) = lake_with(&[
        ("tenants.csv", csv(TENANTS, &["a,Alpha,standard"])),
        ("devices.csv", csv(DEVICES, &devices)),
        ("patch_status.csv", csv(header, &rows)),
    ]);
    let tier = |t: &str| format!("tenant_id is null and policy_tier = '{t}'");
    // Latencies 0, 4, 19, 28: median (4 + 19) / 2; p90 at 0.9 x 3 = 2.7 -> 19 + 0.7 x 9.
    assert_eq!(
        kpi(&lake, "patch_latency_days_median", PORTFOLIO),
        t("", "4.0", "11.5")
    );
    assert_eq!(
        kpi(&lake, "patch_latency_days_p90", PORTFOLIO),
        t("", "4.0", "25.3")
    );
    assert_eq!(
        kpi(&lake, "installed_within_grace_rate", PORTFOLIO),
        t("3.0", "4.0", "0.75")
    );
    // gold (d1): 4 and 28, both within; silver (d2): 0 and 19, one within.
    assert_eq!(
        kpi(&lake, "patch_latency_days_median", &tier("gold")),
        t("", "2.0", "16.0")
    );
    assert_eq!(
        kpi(&lake, "patch_latency_days_p90", &tier("silver")),
        t("", "2.0", "17.1")
    );
    assert_eq!(
        kpi(&lake, "installed_within_grace_rate", &tier("silver")),
        t("1.0", "2.0", "0.5")
    );
    assert_eq!(
        kpi(
            &lake,
            "installed_within_grace_rate",
            "tenant_id = 'a' and policy_tier is null"
        ),
        t("3.0", "4.0", "0.75")
    );
    // A tier's own grace days: 21 for a critical update on silver puts d2 KB1 within.
    let mut config = Config::default();
    config.kpi.tier_grace_days.insert(
        "silver".into(),
        govpack::config::GraceDaysOverride {
            critical: Some(21),
            ..Default::default()
        },
    );
    kpi::compute(&config, &lake, OCTOBER).unwrap();
    assert_eq!(
        kpi(&lake, "installed_within_grace_rate", &tier("silver")),
        t("2.0", "2.0", "1.0")
    );
}

#[test]
fn a_client_with_a_device_past_a_kev_deadline_breaches_the_default_teams_rule() {
    let (_dir, lake) = exposure_lake(&KEV_ROWS, &PATCH_CVE_ROWS);
    let conn = sql::open(&lake).unwrap();
    let breaches =
        govpack::operations::alerts::evaluate(&Config::default(), &conn, Some(OCTOBER), &[]).unwrap();
    let kev: Vec<_> = breaches
        .iter()
        .filter(|b| b.rule == "tenant_kev_overdue")
        .collect();
    assert_eq!(kev.len(), 1, "{breaches:#?}");
    assert_eq!(
        (
            kev[0].tenant_id.as_deref(),
            kev[0].value,
            kev[0].comparison.as_str()
        ),
        (Some("a"), Some(3.0), "above")
    );
    // The card's command lists the KEV instances past their deadline.
    assert!(kev[0].detail.contains("kev_exposure"), "{}", kev[0].detail);
    assert!(
        kev[0].detail.contains("days_past_deadline is not null"),
        "{}",
        kev[0].detail
    );
    // Without a catalog the figure is unknown: no breach, rather than a false all-clear or alarm.
    let (_dir, lake) = exposure_lake(&[], &PATCH_CVE_ROWS);
    let conn = sql::open(&lake).unwrap();
    let breaches =
        govpack::operations::alerts::evaluate(&Config::default(), &conn, Some(OCTOBER), &[]).unwrap();
    assert!(
        breaches.iter().all(|b| b.rule != "tenant_kev_overdue"),
        "{breaches:#?}"
    );
}

// --- measured or not, stale clients, periods that need data (docs/kpi-definitions.md) ----------

/// Tenant `a` sends every export; `s` only per-device summaries and nothing from a PSA (the
/// sample's Cedar Valley); `z`'s RMM exports stopped on 12 October, its PSA still sends tickets.
fn coverage_lake() -> (TempDir, Lake) {
    let at = |date: &str, tenant: &str, d: &str| {
        format!(
            "{date},{tenant},{d},{},workstation,gold,regular,,false,{date}T05:00:00Z",
            d.to_uppercase()
        )
    };
    let devices = [
        at("2026-10-31", "a", "a1"),
        at("2026-10-31", "a", "a2"),
        at("2026-10-31", "s", "s1"),
        at("2026-10-05", "z", "z1"),
        at("2026-10-12", "z", "z1"),
    ];
    let devices: Vec<&str> = devices.iter().map(String::as_str).collect();
    lake_with(&[
        (
            "tenants.csv",
            csv(
                TENANTS,
                &["a,Alpha,standard", "s,Summit Clinic,low", "z,Zephyr Freight,high"],
            ),
        ),
        ("devices.csv", csv(DEVICES, &devices)),
        (
            "patch_status.csv",
            csv(
                PATCHES,
                &[
                    "2026-10-31,a,a1,KB1,security,critical,2026-10-01,approved,installed",
                    "2026-10-31,a,a2,KB1,security,critical,2026-10-01,approved,missing",
                    "2026-10-12,z,z1,KB1,security,critical,2026-10-01,approved,installed",
                ],
            ),
        ),
        (
            "device_patch_summary.csv",
            csv(SUMMARY, &["2026-10-31,s,s1,fully_patched"]),
        ),
        (
            "patch_attempts.csv",
            csv(
                ATTEMPTS,
                &[
                    "2026-10-02T00:00:00Z,a,a2,KB1,failure,0x1",
                    "2026-10-02T00:00:00Z,z,z1,KB1,success,",
                ],
            ),
        ),
        (
            "tickets.csv",
            csv(
                TICKETS,
                &[
                    "1,a,remediation,complete,2026-10-03T00:00:00Z,2026-10-04T00:00:00Z,",
                    "2,z,remediation,complete,2026-10-20T00:00:00Z,2026-10-21T00:00:00Z,",
                ],
            ),
        ),
    ])
}

/// (status, measurement, note) of a scope's scorecard row.
fn judged(lake: &Lake, id: &str, scope: &str) -> (String, String, String) {
    let rows = strings(
        lake,
        &format!(
            "select status, measurement, coalesce(measurement_note, '') from kpi_scorecard
             where kpi_id = '{id}' and {scope} and policy_tier is null and device_class is null and age_bucket is null"
        ),
    );
    assert_eq!(rows.len(), 1, "{id} where {scope}: {rows:?}");
    (rows[0][0].clone(), rows[0][1].clone(), rows[0][2].clone())
}

#[test]
fn a_kpi_whose_export_a_client_never_sent_is_not_measured_never_a_zero_that_reads_met() {
    let (_dir, lake) = coverage_lake();
    let summit = "tenant_id = 's' and policy_tier is null and device_class is null";
    // Compliance is measured from its summaries ...
    assert_eq!(
        kpi(&lake, "patch_compliance_rate", summit),
        t("1.0", "1.0", "1.0")
    );
    // ... but nothing per patch: no instances, no overdue patches, no KEV exposure, no history.
    for id in [
        "patch_instance_compliance_rate",
        "kev_overdue_devices",
        "installed_within_grace_rate",
        "open_failure_episodes",
        "remediation_sla_breach_rate",
    ] {
        assert_eq!(kpi(&lake, id, summit), t("", "", ""), "{id}");
        let (status, measurement, _) = judged(&lake, id, "tenant_id = 's'");
        assert_eq!(
            (status.as_str(), measurement.as_str()),
            ("not_measured", "not_measured"),
            "{id}"
        );
    }
    let (_, _, note) = judged(&lake, "patch_instance_compliance_rate", "tenant_id = 's'");
    assert_eq!(
        note,
        "no RMM per-patch status export for this client on or before 2026-10-31"
    );
    let (_, _, note) = judged(&lake, "remediation_sla_breach_rate", "tenant_id = 's'");
    assert!(note.contains("PSA tickets export"), "{note}");
    // The portfolio counts the clients that were measured and names the one it leaves out.
    let (_, measurement, note) = judged(&lake, "patch_instance_compliance_rate", "tenant_id is null");
    assert_eq!(measurement, "partial");
    assert!(
        note.contains("leaves out 1 client(s) with no RMM per-patch status export: Summit Clinic"),
        "{note}"
    );
    // A client with the export and nothing in the population is measured and empty.
    assert_eq!(
        kpi(&lake, "remediation_sla_breach_rate", "tenant_id = 'a'"),
        t("0.0", "0.0", "")
    );
}

#[test]
fn a_client_whose_rmm_exports_stopped_is_stale_with_the_date_of_its_last_export() {
    let (_dir, lake) = coverage_lake();
    // Zephyr's last devices export is 12 October, 19 days before as-of (> 8 days).
    assert_eq!(
        strings(
            &lake,
            "select tenant_id, cast(last_date as varchar) from data_coverage where input_table = 'devices' and stale"
        ),
        [["z", "2026-10-12"].map(String::from).to_vec()]
    );
    // Its figures are those of that export: computed, marked stale, not judged.
    let (status, measurement, note) = judged(&lake, "patch_compliance_rate", "tenant_id = 'z'");
    assert_eq!(
        (status.as_str(), measurement.as_str(), note.as_str()),
        ("stale", "stale", "no RMM export since 2026-10-12")
    );
    // Its PSA still sends: ticket figures are not stale.
    let (_, measurement, _) = judged(&lake, "remediation_ticket_mttr_hours_mean", "tenant_id = 'z'");
    assert_eq!(measurement, "measured");
    // The portfolio says whose figures it includes from exports that stopped.
    let (_, measurement, note) = judged(&lake, "stale_devices", "tenant_id is null");
    assert_eq!(measurement, "partial");
    assert!(
        note.contains("includes 1 client(s) whose RMM exports stopped: Zephyr Freight (since 2026-10-12)"),
        "{note}"
    );
}

#[test]
fn the_setting_for_stale_clients_is_read_by_either_name() {
    let config = Config::parse("[run]\nstale_client_days = 30\n").unwrap();
    assert_eq!(config.run.stale_tenant_days, 30);
}

#[test]
fn a_period_with_no_devices_snapshot_is_refused_and_writes_nothing() {
    let (_dir, lake) = coverage_lake();
    let january = Period::month(2025, 1).unwrap();
    let err = kpi::compute(&Config::default(), &lake, january).unwrap_err();
    assert_eq!(govpack::error::exit_code(&err), 2, "{err:#}");
    assert!(format!("{err:#}").contains("no devices snapshot between 2025-01-01 and 2025-01-31"));
    assert_eq!(kpi::missing_outputs(&lake, january).len(), kpi::outputs().count());
}

#[test]
fn a_forgotten_period_loses_its_outputs_and_is_no_longer_a_baseline() {
    let (_dir, lake) = coverage_lake();
    let september_snapshot = "2026-09-30,a,a1,A1,workstation,gold,regular,,false,2026-09-30T05:00:00Z";
    let data = lake.root().parent().unwrap().join("september");
    fs::create_dir_all(&data).unwrap();
    fs::write(data.join("devices.csv"), csv(DEVICES, &[september_snapshot])).unwrap();
    ingest::ingest(&Config::default(), &lake, &[data]).unwrap();
    let september = Period::month(2026, 9).unwrap();
    kpi::compute(&Config::default(), &lake, september).unwrap();
    kpi::compute(&Config::default(), &lake, OCTOBER).unwrap();
    let baseline = |lake: &Lake| {
        strings(
            lake,
            &format!(
                "select coalesce(cast(baseline_period_start as varchar), '') from kpi_scorecard
                 where kpi_id = 'excluded_devices' and period_start = date '2026-10-01' and {PORTFOLIO}"
            ),
        )[0][0]
            .clone()
    };
    assert_eq!(baseline(&lake), "2026-09-01");
    let forgotten = kpi::forget(&lake, september).unwrap();
    assert_eq!(forgotten.baseline_of, ["2026-10-01..2026-10-31"]);
    assert_eq!(
        kpi::missing_outputs(&lake, september).len(),
        kpi::outputs().count()
    );
    assert!(!lake.root().join("kpi/kpi_summary/period=2026-09").exists());
    // October computed again takes its own baseline; the forgotten month is nobody's.
    kpi::compute(&Config::default(), &lake, OCTOBER).unwrap();
    assert_eq!(baseline(&lake), "2026-10-01");
    // Forgetting what was never computed is a usage error.
    let err = kpi::forget(&lake, september).unwrap_err();
    assert_eq!(govpack::error::exit_code(&err), 2, "{err:#}");
}

#[test]
fn an_open_episode_of_a_device_no_longer_reported_is_device_gone_and_not_counted() {
    // x4 failed in October and was never fixed; its device left the October 31 snapshot (it was
    // in the October 10 one): retired. x5 is still reported: its episode is open and counted.
    let reported = |date: &str, d: &str| {
        device(d, "gold", "", "false", "2026-10-30T05:00:00Z").replace("2026-10-31", date)
    };
    let devices = [
        reported("2026-10-10", "x4"),
        reported("2026-10-10", "x5"),
        reported("2026-10-31", "x5"),
    ];
    let devices: Vec<&str> = devices.iter().map(String::as_str).collect();
    let (_dir, lake) = lake_with(&[
        ("tenants.csv", csv(TENANTS, &["a,Alpha,standard"])),
        ("devices.csv", csv(DEVICES, &devices)),
        (
            "patch_attempts.csv",
            csv(
                ATTEMPTS,
                &[
                    "2026-10-20T06:00:00Z,a,x4,KB2,failure,0x3",
                    "2026-10-30T12:00:00Z,a,x5,KB3,failure,0x4",
                ],
            ),
        ),
    ]);
    assert_eq!(
        kpi(&lake, "open_failure_episodes", PORTFOLIO),
        t("1.0", "", "1.0")
    );
    // x5 only: 36 h.
    assert_eq!(
        kpi(&lake, "open_episode_age_hours_mean", PORTFOLIO),
        t("", "1.0", "36.0")
    );
    assert_eq!(
        strings(
            &lake,
            "select device_id, status, cast(open_at_period_end as varchar), cast(device_last_snapshot_date as varchar)
             from failure_episodes order by device_id"
        ),
        [
            ["x4", "device_gone", "false", "2026-10-10"],
            ["x5", "open", "true", "2026-10-31"]
        ]
        .map(|r| r.map(String::from).to_vec())
    );
}
