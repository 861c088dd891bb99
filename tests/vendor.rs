//! Each vendor adapter on sample exports in each vendor's own shape (tests/fixtures/vendor),
//! asserting the canonical rows field by field.

use std::path::{Path, PathBuf};

use govpack::config::Config;
use govpack::ingest::{self, IngestOptions, Outcome};
use govpack::lake::Lake;
use govpack::sources::Format;
use govpack::sql;
use tempfile::TempDir;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/vendor")
        .join(name)
}

/// Ingests fixtures (recognised by content, no --source) as a snapshot of 2024-07-16.
fn ingest(names: &[&str]) -> (TempDir, Lake, ingest::IngestReport) {
    let dir = TempDir::new().unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let options = IngestOptions {
        snapshot_date: chrono::NaiveDate::from_ymd_opt(2024, 7, 16),
        source: None,
    };
    let paths: Vec<PathBuf> = names.iter().map(|n| fixture(n)).collect();
    let report = ingest::ingest_with(&Config::default(), &lake, &paths, options).unwrap();
    assert_eq!(report.failed(), 0, "{report:#?}");
    (dir, lake, report)
}

fn rows(lake: &Lake, query: &str) -> Vec<Vec<String>> {
    let (_, rows) = sql::rows(&sql::open(lake).unwrap(), query).unwrap();
    rows.into_iter()
        .map(|r| r.iter().map(|c| c.to_text()).collect())
        .collect()
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

/// A format by the name `--source` takes.
fn format_named(name: &str) -> Format {
    Format::from_name(name).expect("a registered format")
}

fn format_of(name: &str) -> Format {
    let file = govpack::sources::SourceFile::read(&fixture(name)).unwrap();
    govpack::sources::recognise(&file, None).unwrap().format
}

#[test]
fn every_device_patch_ticket_or_change_sample_is_recognised_by_content() {
    let expected = [
        ("datto_rmm_sites_page.json", format_named("datto-rmm-sites-json")),
        ("datto_rmm_sites_export.csv", format_named("datto-rmm-sites-csv")),
        (
            "datto_rmm_devices_page.json",
            format_named("datto-rmm-devices-json"),
        ),
        ("datto_rmm_device.json", format_named("datto-rmm-devices-json")),
        (
            "datto_rmm_devices_export_dattormm_core.csv",
            format_named("datto-rmm-devices-csv"),
        ),
        ("ninjaone_devices.json", format_named("ninjaone-devices-json")),
        // What `govpack collect ninjaone` saves: bare arrays.
        (
            "ninjaone_devices_detailed.json",
            format_named("ninjaone-devices-json"),
        ),
        (
            "ninjaone_organizations.json",
            format_named("ninjaone-organizations-json"),
        ),
        (
            "ninjaone_queries_os_patches.json",
            format_named("ninjaone-os-patches-json"),
        ),
        (
            "ninjaone_queries_os_patch_installs.json",
            format_named("ninjaone-os-patch-installs-json"),
        ),
        (
            "ninjaone_windows_patch_report.csv",
            format_named("ninjaone-patch-report-csv"),
        ),
        (
            "connectwise_automate_patch_rows_export.csv",
            format_named("connectwise-automate-patch-rows-csv"),
        ),
        (
            "connectwise_automate_plugin_proval_computerpatchcompliance.csv",
            format_named("connectwise-automate-compliance-csv"),
        ),
        (
            "microsoft_wufb_ucclientupdatestatus.csv",
            format_named("wufb-ucclientupdatestatus-csv"),
        ),
    ];
    for (name, format) in expected {
        assert_eq!(format_of(name), format, "{name}");
    }
}

#[test]
fn an_unknown_shape_is_refused_saying_what_it_looked_like_and_what_is_known() {
    let file = govpack::sources::SourceFile::read(&fixture("datto_rmm_job_results.json")).unwrap();
    let err = govpack::sources::recognise(&file, None).unwrap_err().to_string();
    assert!(
        err.contains("unrecognised export: a JSON object with keys"),
        "{err}"
    );
    assert!(
        err.contains("datto-rmm-devices-json") && err.contains("--source"),
        "{err}"
    );
}

#[test]
fn a_snapshot_export_without_a_snapshot_date_is_refused() {
    let dir = TempDir::new().unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let report = ingest::ingest(&Config::default(), &lake, &[fixture("ninjaone_devices.json")]).unwrap();
    let Outcome::Failed { error } = &report.files[0].outcome else {
        panic!("{report:?}")
    };
    assert!(
        error.contains("no snapshot date") && error.contains("--snapshot-date"),
        "{error}"
    );
}

#[test]
fn datto_sites_become_tenants_keyed_by_their_autotask_company() {
    let (_dir, lake, report) = ingest(&["datto_rmm_sites_page.json"]);
    let Outcome::Loaded(loaded) = &report.files[0].outcome else {
        panic!()
    };
    assert!(
        loaded.warnings.iter().any(|w| w.contains("Deleted Devices")),
        "{:?}",
        loaded.warnings
    );
    assert_eq!(
        rows(
            &lake,
            "select tenant_id, tenant_name, criticality, psa_company_id, rmm_site_id from tenants"
        ),
        vec![row(&["29683616", "Contoso Ltd", "standard", "29683616", "98765"])]
    );
}

#[test]
fn datto_devices_page_gives_devices_and_patch_summaries_through_their_site() {
    let (_dir, lake, _) = ingest(&["datto_rmm_sites_page.json", "datto_rmm_devices_page.json"]);
    assert_eq!(
        rows(
            &lake,
            "select tenant_id, device_id, hostname, device_class, os_name, excluded, coalesce(exclusion_reason, ''),
                    cast(last_seen_utc as varchar), cast(snapshot_date as varchar)
             from devices order by hostname"
        ),
        vec![
            row(&[
                "29683616",
                "9f1c2b7e-3a54-4d2e-9b8a-1c2d3e4f5a6b",
                "CONTOSO-DC01",
                "server",
                "Microsoft Windows Server 2019 Standard 10.0.17763",
                "false",
                "",
                "2024-07-16 12:00:00",
                "2024-07-16"
            ]),
            // A switch has no patchManagement: counted as excluded, never judged.
            row(&[
                "29683616",
                "1e2d3c4b-5a69-4870-a1b2-c3d4e5f60718",
                "core-sw-01",
                "other",
                "",
                "true",
                "not patch-managed by Datto RMM (no patch policy data)",
                "2024-07-16 12:00:00",
                "2024-07-16"
            ]),
        ]
    );
    assert_eq!(
        rows(
            &lake,
            "select device_id, status, approved_pending_count, not_approved_count, installed_count from device_patch_summary"
        ),
        vec![row(&[
            "9f1c2b7e-3a54-4d2e-9b8a-1c2d3e4f5a6b",
            "reboot_required",
            "0",
            "4",
            "412"
        ])]
    );
}

#[test]
fn datto_powershell_csv_reads_us_dates_and_true_false() {
    let (_dir, lake, _) = ingest(&[
        "datto_rmm_sites_export.csv",
        "datto_rmm_devices_export_dattormm_core.csv",
    ]);
    assert_eq!(
        rows(&lake, "select tenant_id, rmm_site_id from tenants order by 1"),
        vec![row(&["29683616", "98765"]), row(&["29683702", "98766"])]
    );
    assert_eq!(
        rows(
            &lake,
            "select tenant_id, hostname, device_class, cast(last_seen_utc as varchar), excluded from devices"
        ),
        vec![row(&[
            "29683616",
            "CONTOSO-LT-014",
            "workstation",
            "2024-07-16 12:00:00",
            "false"
        ])]
    );
    assert_eq!(
        rows(&lake, "select status from device_patch_summary"),
        vec![row(&["approved_pending"])]
    );
}

#[test]
fn a_datto_device_of_an_unknown_site_gets_a_site_tenant_and_a_warning() {
    let (_dir, lake, report) = ingest(&["datto_rmm_device.json"]);
    let Outcome::Loaded(loaded) = &report.files[0].outcome else {
        panic!()
    };
    assert!(
        loaded.warnings.iter().any(|w| w.contains("98765 (Contoso Ltd)")),
        "{:?}",
        loaded.warnings
    );
    assert_eq!(
        rows(&lake, "select tenant_id from devices"),
        vec![row(&["datto-site-98765"])]
    );
    assert_eq!(
        rows(
            &lake,
            "select status, approved_pending_count, not_approved_count, installed_count from device_patch_summary"
        ),
        vec![row(&["approved_pending", "3", "12", "187"])]
    );
}

#[test]
fn a_datto_devices_page_is_known_by_its_envelope_and_a_device_without_a_site_is_quarantined() {
    let dir = TempDir::new().unwrap();
    // No item is complete: neither names the keys a device is otherwise recognised by.
    let page = dir.path().join("devices-page-3.json");
    std::fs::write(
        &page,
        r#"{"pageDetails": {"count": 2, "nextPageUrl": null},
            "devices": [{"uid": "dev-1", "hostname": "PC-1"},
                        {"uid": "dev-2", "hostname": "PC-2", "siteId": 98765, "siteName": "Contoso Ltd",
                         "lastSeen": "2024-07-16T08:00:00Z", "patchManagement": {"patchStatus": "FullyPatched"}}]}"#,
    )
    .unwrap();
    let file = govpack::sources::SourceFile::read(&page).unwrap();
    assert_eq!(
        govpack::sources::recognise(&file, None).unwrap().format,
        format_named("datto-rmm-devices-json")
    );
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let options = IngestOptions {
        snapshot_date: chrono::NaiveDate::from_ymd_opt(2024, 7, 16),
        source: None,
    };
    let report = ingest::ingest_with(&Config::default(), &lake, &[page], options).unwrap();
    assert_eq!(report.failed(), 0, "{report:#?}");
    assert_eq!(
        rows(&lake, "select line, reason, column_name from quarantine"),
        vec![row(&["1", "unknown_tenant", "siteId"])]
    );
    assert_eq!(
        rows(&lake, "select device_id, tenant_id from devices"),
        vec![row(&["dev-2", "datto-site-98765"])]
    );
}

#[test]
fn a_datto_patch_alert_is_a_failed_attempt_of_its_device() {
    let (_dir, lake, _) = ingest(&[
        "datto_rmm_sites_page.json",
        "datto_rmm_device.json",
        "datto_rmm_alert_patch.json",
    ]);
    assert_eq!(
        rows(
            &lake,
            "select cast(attempt_utc as varchar), tenant_id, device_id, patch_id, result, error_code, error_message from patch_attempts"
        ),
        vec![row(&[
            "2024-07-16 13:03:20",
            "29683616",
            "9f1c2b7e-3a54-4d2e-9b8a-1c2d3e4f5a6b",
            "KB5040442",
            "failure",
            "0x80070005",
            "Patch installation failed"
        ])]
    );
}

#[test]
fn ninjaone_devices_and_patch_queries() {
    let (_dir, lake, report) = ingest(&[
        "ninjaone_devices.json",
        "ninjaone_queries_os_patches.json",
        "ninjaone_queries_os_patch_installs.json",
        "ninjaone_windows_patch_report.csv",
    ]);
    assert_eq!(
        rows(
            &lake,
            "select device_id, tenant_id, hostname, device_class, cast(last_seen_utc as varchar) from devices order by 1"
        ),
        vec![
            row(&[
                "1042",
                "ninjaone-org-7",
                "CONTOSO-LT-014",
                "workstation",
                "2024-07-16 11:59:40.884"
            ]),
            row(&[
                "1050",
                "ninjaone-org-7",
                "CONTOSO-FS01",
                "server",
                "2024-07-13 19:46:40"
            ]),
        ]
    );
    // os-patches: MANUAL is pending review, APPROVED approved; the query's KB5040442 row is then
    // replaced by the install history's latest result (same device, patch and snapshot).
    assert_eq!(
        rows(
            &lake,
            "select device_id, patch_id, classification, severity, cast(release_date as varchar), approval, state,
                    coalesce(cast(installed_utc as varchar), '')
             from patch_status order by 1, 2"
        ),
        vec![
            row(&["1042", "KB5039895", "update_rollup", "important", "2024-07-09", "approved", "missing", ""]),
            row(&["1042", "KB5040442", "security", "critical", "2024-07-09", "approved", "installed", "2024-07-16 04:00:00"]),
            row(&["1050", "KB5040430", "security", "critical", "2024-07-09", "approved", "failed", ""]),
        ]
    );
    assert_eq!(
        rows(
            &lake,
            "select device_id, patch_id, result, cast(attempt_utc as varchar) from patch_attempts order by 1"
        ),
        vec![
            row(&["1042", "KB5040442", "success", "2024-07-16 04:00:00"]),
            row(&["1050", "KB5040430", "failure", "2024-07-16 04:00:00"]),
        ]
    );
    // The driver offered to device 1043, which no devices export names: quarantined, not guessed.
    assert_eq!(
        rows(
            &lake,
            "select source_file, line, table_name, reason from quarantine"
        ),
        vec![row(&[
            "ninjaone_queries_os_patches.json",
            "3",
            "patch_status",
            "missing_required"
        ])]
    );
    assert_eq!(report.total(|l| l.rows_quarantined), 1);
}

#[test]
fn ninjaone_install_history_of_devices_not_yet_ingested_is_quarantined_as_attempts() {
    // Without the devices export, no install can be tied to a tenant: each history row is refused
    // as the patch_attempts row it would have been, with the reason, never dropped.
    let (_dir, lake, report) = ingest(&["ninjaone_queries_os_patch_installs.json"]);
    assert_eq!(
        rows(
            &lake,
            "select line, table_name, column_name, value, reason from quarantine order by line"
        ),
        vec![
            row(&["1", "patch_attempts", "tenant_id", "1042", "missing_required"]),
            row(&["2", "patch_attempts", "tenant_id", "1050", "missing_required"]),
        ]
    );
    assert_eq!(report.total(|l| l.rows_loaded), 0);
}

#[test]
fn automate_patch_rows_give_one_device_per_computer_and_kb_prefixed_patches() {
    let (_dir, lake, _) = ingest(&["connectwise_automate_patch_rows_export.csv"]);
    assert_eq!(
        rows(&lake, "select tenant_id, tenant_name from tenants"),
        vec![row(&["automate-client-contoso-ltd", "Contoso Ltd"])]
    );
    assert_eq!(
        rows(
            &lake,
            "select device_id, hostname, device_class, cast(last_seen_utc as varchar) from devices order by 1"
        ),
        vec![
            row(&["2378", "CONTOSO-DC01", "server", "2017-05-15 09:41:00"]),
            row(&["2391", "CONTOSO-WS-22", "workstation", "2017-05-02 17:03:00"]),
        ]
    );
    assert_eq!(
        rows(
            &lake,
            "select device_id, patch_id, classification, severity, cast(release_date as varchar), state,
                    coalesce(cast(installed_utc as varchar), '')
             from patch_status order by 1"
        ),
        vec![
            row(&[
                "2378",
                "KB4019472",
                "security",
                "critical",
                "2017-05-09",
                "installed",
                "2017-05-13 22:05:00"
            ]),
            row(&[
                "2391",
                "KB4019472",
                "security",
                "critical",
                "2017-05-09",
                "missing",
                ""
            ]),
        ]
    );
}

#[test]
fn automate_times_are_read_in_the_configured_server_zone() {
    let dir = TempDir::new().unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let config = Config::parse(
        "[sources.connectwise_automate]\ntime_zone = \"America/New_York\"\ndate_culture = \"us\"\n",
    )
    .unwrap();
    let options = IngestOptions {
        snapshot_date: chrono::NaiveDate::from_ymd_opt(2024, 7, 16),
        source: None,
    };
    ingest::ingest_with(
        &config,
        &lake,
        &[fixture("connectwise_automate_patch_rows_export.csv")],
        options,
    )
    .unwrap();
    // 9:41 in New York (EDT, UTC-4) is 13:41 UTC.
    assert_eq!(
        rows(
            &lake,
            "select cast(last_seen_utc as varchar) from devices where device_id = '2378'"
        ),
        vec![row(&["2017-05-15 13:41:00"])]
    );
}

#[test]
fn automate_compliance_view_gives_a_summary_status() {
    let (_dir, lake, _) = ingest(&["connectwise_automate_plugin_proval_computerpatchcompliance.csv"]);
    assert_eq!(
        rows(
            &lake,
            "select d.tenant_id, d.hostname, d.device_class, s.status from devices d join device_patch_summary s using (device_id)"
        ),
        vec![row(&[
            "automate-client-12",
            "CONTOSO-DC01",
            "server",
            "fully_patched"
        ])]
    );
}

#[test]
fn wufb_status_rows_give_devices_and_patch_state() {
    let (_dir, lake, _) = ingest(&["microsoft_wufb_ucclientupdatestatus.csv"]);
    assert_eq!(
        rows(
            &lake,
            "select tenant_id, device_id, hostname, device_class, cast(last_seen_utc as varchar) from devices"
        ),
        vec![row(&[
            "aad-69ca04b0-703d-4b3a-9184-c4e3c15d6f5e",
            "71db1a1a-f1a6-4a25-b88f-79c2f513dae0",
            "JohnPC-Contoso",
            "workstation",
            "2020-05-14 09:26:03.478"
        ])]
    );
    // Installing / DownloadStart: not yet installed.
    assert_eq!(
        rows(
            &lake,
            "select patch_id, classification, cast(release_date as varchar), approval, state from patch_status"
        ),
        vec![row(&[
            "KB4524570",
            "feature",
            "2020-05-14",
            "approved",
            "missing"
        ])]
    );
}

const AUTOTASK: [&str; 5] = [
    "autotask_companies_query_response.json",
    "autotask_ticket_picklists_tenantA.json",
    "autotask_ticket_entityinformation_fields.json",
    "autotask_ticket_change_request_approvals.json",
    "autotask_tickets_query_response.json",
];

#[test]
fn autotask_companies_tickets_and_change_requests() {
    let (_dir, lake, report) = ingest(&AUTOTASK);
    assert_eq!(report.loaded().count(), 5);
    assert_eq!(
        rows(
            &lake,
            "select tenant_id, tenant_name, psa_company_id from tenants"
        ),
        vec![row(&["29683616", "Sirius Cybernetics Corporation", "29683616"])]
    );
    // Sub-issue type 271 is "Patch Management" in the picklist export: a remediation ticket.
    // Priority 2 is "Normal" in this instance: 3 by the default priority map. Status 5: complete.
    assert_eq!(
        rows(
            &lake,
            "select ticket_id, tenant_id, ticket_number, ticket_type, priority, status, cast(created_utc as varchar),
                    cast(resolved_utc as varchar), cast(due_utc as varchar), queue, root_cause
             from tickets"
        ),
        vec![row(&[
            "48231",
            "29683616",
            "T20240716.0042",
            "remediation",
            "3",
            "complete",
            "2024-07-16 08:03:41.433",
            "2024-07-17 14:22:05.18",
            "2024-07-18 08:03:41",
            "Monitoring Alert",
            "Re-ran patch job after reboot; KB installed."
        ])]
    );
    // The change request: risk from changeInfoField2 ("Risk: Low"), plan flags from the filled
    // info fields, planned start from the "Maintenance Window" UDF, one approver yes and one not
    // yet voted: pending. New: still in progress.
    assert_eq!(
        rows(
            &lake,
            "select change_id, change_type, risk, cast(planned_start_utc as varchar), cab_decision,
                    has_rollback_plan, has_test_evidence, has_comm_plan, outcome
             from changes"
        ),
        vec![row(&[
            "48305",
            "normal",
            "low",
            "2024-07-20 22:00:00",
            "pending",
            "true",
            "true",
            "true",
            "in_progress"
        ])]
    );
    let Outcome::Loaded(tickets) = &report.files.last().unwrap().outcome else {
        panic!()
    };
    assert!(
        tickets
            .warnings
            .iter()
            .any(|w| w.contains("without a change type")),
        "{:?}",
        tickets.warnings
    );
}

#[test]
fn autotask_change_fields_follow_the_mapping() {
    let dir = TempDir::new().unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let config = Config::parse(
        "[mapping.autotask.change_fields]\nchange_type = \"udf:Maintenance Window\"\nrisk = \"changeInfoField2\"\n",
    )
    .unwrap();
    let paths: Vec<PathBuf> = AUTOTASK.iter().map(|n| fixture(n)).collect();
    let report = ingest::ingest_with(&config, &lake, &paths, IngestOptions::default()).unwrap();
    // "2024-07-20 22:00" is no change type: the row is quarantined with the vocabulary.
    assert_eq!(report.total(|l| l.rows_quarantined), 1);
    assert_eq!(
        rows(&lake, "select table_name, column_name, reason from quarantine"),
        vec![row(&["changes", "change_type", "invalid_enum"])]
    );
}

#[test]
fn manage_tickets_take_their_company_board_and_priority() {
    let (_dir, lake, _) = ingest(&["connectwise_manage_service_ticket.json"]);
    assert_eq!(
        rows(
            &lake,
            "select ticket_id, tenant_id, ticket_type, priority, status, cast(created_utc as varchar), queue from tickets"
        ),
        vec![row(&[
            "945370",
            "23",
            "incident",
            "4",
            "in_progress",
            "2022-09-07 09:46:58",
            "Network Security"
        ])]
    );
}

#[test]
fn manage_tickets_on_a_change_board_are_changes() {
    let dir = TempDir::new().unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let config =
        Config::parse("[mapping.connectwise_manage]\nchange_boards = [\"Network Security\"]\n").unwrap();
    ingest::ingest_with(
        &config,
        &lake,
        &[fixture("connectwise_manage_service_ticket.json")],
        IngestOptions::default(),
    )
    .unwrap();
    // impact "Medium" is the default risk field; an open change is in progress.
    assert_eq!(
        rows(
            &lake,
            "select change_id, tenant_id, change_type, risk, outcome from changes"
        ),
        vec![row(&["945370", "23", "normal", "medium", "in_progress"])]
    );
    assert_eq!(rows(&lake, "select count(*) from tickets"), vec![row(&["0"])]);
}

// --- round trip --------------------------------------------------------------------------------

/// The generated MSP, ingested once as canonical CSV and once in each vendor shape (Autotask
/// tenants, tickets and changes; Datto RMM devices and summaries of the summary-only tenant; both),
/// gives the same kpi_summary. Stated limits of those shapes: an Autotask company has no
/// criticality and a Datto device no policy tier or ring, so devices the policy-tier rules place
/// may land in another tier: rows scoped by policy tier are left out of the comparison; every
/// portfolio, tenant, device-class and age-bucket row of every KPI is compared.
#[test]
fn the_generated_msp_in_vendor_shapes_gives_the_same_kpis_as_its_canonical_form() {
    use govpack::sample::SampleFormat;
    let dir = TempDir::new().unwrap();
    let spec = govpack::sample::committed_spec();
    let formats = [
        SampleFormat::Canonical,
        SampleFormat::Autotask,
        SampleFormat::DattoRmm,
        SampleFormat::Vendor,
        SampleFormat::Ninjaone,
        SampleFormat::ConnectwiseManage,
        SampleFormat::ConnectwiseAutomate,
        SampleFormat::Wufb,
    ];
    let summaries: Vec<Vec<Vec<String>>> = formats
        .into_iter()
        .enumerate()
        .map(|(i, format)| {
            let data = dir.path().join(format!("data{i}"));
            govpack::sample::write_as(&spec, &data, format).unwrap();
            let lake = Lake::open(&dir.path().join(format!("lake{i}"))).unwrap();
            let report = ingest::ingest(&Config::default(), &lake, &[data]).unwrap();
            assert_eq!((report.failed(), report.total(|l| l.rows_quarantined)), (0, 0), "{report:#?}");
            for month in [8, 9, 10] {
                govpack::kpi::compute(&Config::default(), &lake, govpack::calendar::Period::month(2026, month).unwrap()).unwrap();
            }
            rows(
                &lake,
                "select kpi_id, cast(period_start as varchar), coalesce(tenant_id, ''), coalesce(device_class, ''),
                        coalesce(age_bucket, ''), coalesce(cast(numerator as varchar), ''),
                        coalesce(cast(denominator as varchar), ''), coalesce(cast(round(value, 9) as varchar), '')
                 from kpi_summary where policy_tier is null order by all",
            )
        })
        .collect();
    assert!(summaries[0].len() > 300, "{}", summaries[0].len());
    for (format, summary) in formats.iter().zip(&summaries).skip(1) {
        // NinjaOne's patch queries, Automate's patch report and WUfB's status rows carry no
        // exclusion or ring (and NinjaOne no release date or pending reboot), so compliance, KEV
        // exposure, time to patch and pilot soak may differ there: for them, the KPIs of attempts,
        // tickets and changes are compared.
        // Manage tickets carry no CAB decision, plan, rollback or verification fields by default:
        // for it, every KPI but those of changes is compared, and the emergency ratio.
        let comparable = |row: &&Vec<String>| match format {
            SampleFormat::Ninjaone | SampleFormat::ConnectwiseAutomate | SampleFormat::Wufb => {
                !(row[0].contains("compliance_rate") && row[0] != "cab_compliance_rate"
                    || row[0].ends_with("_devices")
                    || row[0] == "kev_open_instances"
                    || row[0].starts_with("patch_latency_days")
                    || row[0] == "installed_within_grace_rate"
                    || row[0] == "pilot_soak_compliance_rate")
            }
            SampleFormat::ConnectwiseManage => govpack::catalog::find(&row[0]).is_none_or(|k| {
                k.family != govpack::catalog::Family::Change || k.id == "emergency_change_ratio"
            }),
            _ => true,
        };
        let expected: Vec<_> = summaries[0].iter().filter(comparable).collect();
        let actual: Vec<_> = summary.iter().filter(comparable).collect();
        let differences: Vec<_> = expected
            .iter()
            .zip(&actual)
            .filter(|(a, b)| a != b)
            .take(5)
            .collect();
        assert!(differences.is_empty(), "{format:?}: {differences:#?}");
        assert_eq!(expected.len(), actual.len(), "{format:?}");
    }
}

#[test]
fn a_day_first_powershell_csv_in_utf16_with_semicolons_reads_like_the_original() {
    // What Windows PowerShell 5.1 writes in a German locale: UTF-16 LE with BOM, `;`, 16.07.2024.
    let original = std::fs::read_to_string(fixture("datto_rmm_devices_export_dattormm_core.csv")).unwrap();
    let german = original
        .replace("\",\"", "\";\"")
        .replace("7/16/2024 12:00:00 PM", "16.07.2024 12:00:00");
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(german.encode_utf16().flat_map(u16::to_le_bytes));
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("devices_de.csv");
    std::fs::write(&path, bytes).unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let config = Config::parse("[sources.datto_rmm]\ndate_culture = \"day_first\"\n").unwrap();
    let options = IngestOptions {
        snapshot_date: chrono::NaiveDate::from_ymd_opt(2024, 7, 16),
        source: None,
    };
    let report = ingest::ingest_with(&config, &lake, &[path], options).unwrap();
    assert_eq!(report.failed(), 0, "{report:#?}");
    assert_eq!(
        rows(
            &lake,
            "select hostname, device_class, cast(last_seen_utc as varchar), excluded from devices"
        ),
        vec![row(&[
            "CONTOSO-LT-014",
            "workstation",
            "2024-07-16 12:00:00",
            "false"
        ])]
    );
}

#[test]
fn ticket_48231_of_autotask_and_of_connectwise_manage_are_two_tickets_each_with_its_update_time() {
    let dir = TempDir::new().unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    // An MSP moving from Autotask to Manage: Manage numbers a ticket of another client 48231 too.
    let mut manage: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("connectwise_manage_service_ticket.json")).unwrap(),
    )
    .unwrap();
    manage["id"] = serde_json::json!(48231);
    let manage_file = dir.path().join("manage_tickets.json");
    std::fs::write(&manage_file, manage.to_string()).unwrap();
    let mut paths: Vec<PathBuf> = AUTOTASK.iter().map(|n| fixture(n)).collect();
    paths.push(manage_file);
    let report = ingest::ingest_with(&Config::default(), &lake, &paths, IngestOptions::default()).unwrap();
    assert_eq!(report.failed(), 0, "{report:#?}");
    let Outcome::Loaded(manage) = &report.files.last().unwrap().outcome else {
        panic!("{report:#?}")
    };
    // The ticket, its company as a tenant (Manage's company id and name), and the link of that
    // company id to its tenant within Manage.
    assert_eq!((manage.rows_loaded, manage.rows_replaced), (3, 0));
    assert_eq!(
        rows(&lake, "select tenant_id, psa_company_id from tenants order by 1"),
        vec![row(&["23", "23"]), row(&["29683616", "29683616"])]
    );
    assert_eq!(
        rows(
            &lake,
            "select source_system, ticket_id, tenant_id, cast(updated_utc as varchar) from tickets order by 1"
        ),
        vec![
            row(&["autotask", "48231", "29683616", "2024-07-17 14:22:05.18"]),
            row(&["connectwise_manage", "48231", "23", "2022-09-15 08:30:12"]),
        ]
    );
    assert_eq!(
        rows(&lake, "select source_system, change_id from changes"),
        vec![row(&["autotask", "48305"])]
    );
}

#[test]
fn tickets_written_before_source_systems_take_their_exports_system_and_are_replaced_not_doubled() {
    let dir = TempDir::new().unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let paths: Vec<PathBuf> = AUTOTASK.iter().map(|n| fixture(n)).collect();
    ingest::ingest_with(&Config::default(), &lake, &paths, IngestOptions::default()).unwrap();
    // The tickets file as an earlier govpack wrote it: no source_system, no updated_utc.
    let tickets = lake.table_dir("tickets").join("tickets.parquet");
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.execute_batch(&format!(
        "copy (select * exclude (source_system, updated_utc) from read_parquet('{0}'))
         to '{0}.old' (format parquet)",
        tickets.display()
    ))
    .unwrap();
    std::fs::rename(format!("{}.old", tickets.display()), &tickets).unwrap();
    assert_eq!(
        rows(
            &lake,
            "select ticket_id, coalesce(source_system, 'null') from tickets"
        ),
        vec![row(&["48231", "null"])],
        "read with the new columns empty"
    );

    // The next export of the same ticket, a day later, with a new title.
    let mut export: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("autotask_tickets_query_response.json")).unwrap(),
    )
    .unwrap();
    for item in export["items"].as_array_mut().unwrap() {
        item["title"] = serde_json::json!("Patch failure, re-run");
    }
    let next = dir.path().join("autotask_tickets_next.json");
    std::fs::write(&next, export.to_string()).unwrap();
    let report = ingest::ingest_with(&Config::default(), &lake, &[next], IngestOptions::default()).unwrap();
    assert_eq!(report.failed(), 0, "{report:#?}");
    assert_eq!(
        rows(&lake, "select source_system, ticket_id, title from tickets"),
        vec![row(&["autotask", "48231", "Patch failure, re-run"])]
    );
}

#[test]
fn the_same_devices_page_saved_for_two_days_is_two_snapshots_and_once_per_day() {
    let dir = TempDir::new().unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let ingest_for = |day: u32, names: &[&str]| {
        let options = IngestOptions {
            snapshot_date: chrono::NaiveDate::from_ymd_opt(2024, 7, day),
            source: None,
        };
        let paths: Vec<PathBuf> = names.iter().map(|n| fixture(n)).collect();
        ingest::ingest_with(&Config::default(), &lake, &paths, options).unwrap()
    };
    ingest_for(16, &["datto_rmm_sites_page.json", "datto_rmm_devices_page.json"]);
    let next_day = ingest_for(17, &["datto_rmm_devices_page.json"]);
    assert_eq!(next_day.loaded().count(), 1, "{next_day:#?}");
    let again = ingest_for(17, &["datto_rmm_devices_page.json"]);
    assert!(
        matches!(&again.files[0].outcome, Outcome::Skipped { previously } if previously.contains("for 2024-07-17")),
        "{again:#?}"
    );
    assert_eq!(
        rows(
            &lake,
            "select cast(snapshot_date as varchar), count(*) from devices group by 1 order by 1"
        ),
        vec![row(&["2024-07-16", "2"]), row(&["2024-07-17", "2"])]
    );
}

#[test]
fn after_every_fixture_and_sample_every_rows_tenant_is_in_tenants() {
    let dir = TempDir::new().unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let options = IngestOptions {
        snapshot_date: chrono::NaiveDate::from_ymd_opt(2024, 7, 16),
        source: None,
    };
    // Every vendor fixture (some are field dictionaries, refused as no export), then the sample
    // MSP in both its forms.
    for folder in ["tests/fixtures/vendor", "sample_data/vendor", "sample_data"] {
        let report = ingest::ingest_with(&Config::default(), &lake, &[root.join(folder)], options).unwrap();
        assert!(report.loaded().count() > 0, "{folder}: {report:#?}");
    }
    let mut checked = 0;
    for table in govpack::canonical::TABLES
        .iter()
        .filter(|t| t.column("tenant_id").is_some())
    {
        if table.name == "tenants" {
            continue;
        }
        let orphans = rows(
            &lake,
            &format!(
                "select distinct tenant_id from {} where tenant_id not in (select tenant_id from tenants)",
                table.name
            ),
        );
        assert!(orphans.is_empty(), "{}: {orphans:?}", table.name);
        checked += rows(&lake, &format!("select count(*) from {}", table.name))[0][0]
            .parse::<u64>()
            .unwrap();
    }
    assert!(checked > 10_000, "rows checked: {checked}");
}

#[test]
fn a_datto_page_with_malformed_items_loads_its_good_device_and_quarantines_each_bad_item() {
    let (_dir, lake, report) = ingest(&[
        "datto_rmm_sites_page.json",
        "datto_rmm_devices_page_malformed_items.json",
    ]);
    let Outcome::Loaded(page) = &report.files.last().unwrap().outcome else {
        panic!("{report:#?}")
    };
    assert_eq!(page.rows_read, 3);
    assert_eq!(
        rows(
            &lake,
            "select hostname, cast(last_seen_utc as varchar) from devices"
        ),
        vec![row(&["CONTOSO-DC01", "2024-07-16 12:00:00"])]
    );
    assert_eq!(
        rows(
            &lake,
            "select line, reason from quarantine where source_file like 'datto_rmm_devices_page_malformed%'
             group by all order by 1, 2"
        ),
        vec![row(&["1", "malformed_record"]), row(&["3", "unknown_tenant"])]
    );
    // No tenant was made up from an item that names no site.
    assert_eq!(
        rows(
            &lake,
            "select count(*) from tenants where tenant_id like 'datto-site-%'"
        ),
        vec![row(&["0"])]
    );
}

#[test]
fn a_datto_patch_alert_without_a_patch_uid_takes_the_kb_of_its_title() {
    let dir = TempDir::new().unwrap();
    let mut alert: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("datto_rmm_alert_patch.json")).unwrap())
            .unwrap();
    let context = alert["alertContext"].as_object_mut().unwrap();
    context.remove("patchUid");
    context.insert(
        "patchTitle".into(),
        serde_json::json!(
            "2024-07 Cumulative Update for Windows 11 Version 23H2 for x64-based Systems (KB5040442)"
        ),
    );
    let file = dir.path().join("alert.json");
    std::fs::write(&file, alert.to_string()).unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let options = IngestOptions {
        snapshot_date: chrono::NaiveDate::from_ymd_opt(2024, 7, 16),
        source: None,
    };
    let paths = vec![
        fixture("datto_rmm_sites_page.json"),
        fixture("datto_rmm_device.json"),
        file,
    ];
    let report = ingest::ingest_with(&Config::default(), &lake, &paths, options).unwrap();
    assert_eq!(report.total(|l| l.rows_quarantined), 0, "{report:#?}");
    assert_eq!(
        rows(&lake, "select patch_id, result from patch_attempts"),
        vec![row(&["KB5040442", "failure"])]
    );
}

#[test]
fn autotask_field_definitions_as_a_bare_array_give_their_picklists_and_a_forced_format_that_reads_nothing_warns()
 {
    let dir = TempDir::new().unwrap();
    let document: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("autotask_ticket_entityinformation_fields.json")).unwrap(),
    )
    .unwrap();
    // The same definitions without their envelope.
    let bare = fixture("autotask_ticket_fields_bare_array.json");
    assert_eq!(
        govpack::sources::recognise(&govpack::sources::SourceFile::read(&bare).unwrap(), None)
            .unwrap()
            .format,
        format_named("autotask-picklists-json")
    );
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let report = ingest::ingest_with(&Config::default(), &lake, &[bare], IngestOptions::default()).unwrap();
    let Outcome::Loaded(fields) = &report.files[0].outcome else {
        panic!("{report:#?}")
    };
    let entries: usize = document["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["picklistValues"].as_array().map_or(0, Vec::len))
        .sum();
    assert!(entries > 0);
    assert_eq!(fields.rows_loaded as usize, entries);

    // A tickets page forced as field definitions reads nothing, and says so.
    let options = IngestOptions {
        snapshot_date: None,
        source: Some(format_named("autotask-picklists-json")),
    };
    let forced = ingest::ingest_with(
        &Config::default(),
        &lake,
        &[fixture("autotask_tickets_query_response.json")],
        options,
    )
    .unwrap();
    let Outcome::Loaded(nothing) = &forced.files[0].outcome else {
        panic!("{forced:#?}")
    };
    assert_eq!(nothing.rows_read, 0);
    assert!(
        nothing.warnings.iter().any(|w| w.contains("gave no rows")),
        "{:?}",
        nothing.warnings
    );
}

#[test]
fn manage_client_companies_become_tenants_under_their_company_id_and_vendors_and_deleted_ones_do_not() {
    let (_dir, lake, report) = ingest(&[
        "connectwise_manage_companies_array.json",
        "connectwise_manage_tickets_array.json",
    ]);
    let Outcome::Loaded(companies) = &report.files[0].outcome else {
        panic!("{report:#?}")
    };
    assert_eq!(companies.rows_read, 4);
    assert!(
        companies
            .warnings
            .iter()
            .any(|w| w.starts_with("2 compan(ies) are no clients and were skipped")),
        "{:?}",
        companies.warnings
    );
    assert_eq!(
        rows(
            &lake,
            "select tenant_id, tenant_name, psa_company_id from tenants order by 1"
        ),
        vec![
            row(&["23", "Example Company", "23"]),
            row(&["24", "Other Company", "24"]),
            row(&["250", "Sirius Cybernetics Corporation", "250"]),
            row(&["251", "Megadodo Publications", "251"]),
        ]
    );
    assert_eq!(
        rows(
            &lake,
            "select l.source_format from ingest_ledger l where l.source_file like 'connectwise_manage_companies%'"
        ),
        vec![row(&["connectwise-manage-companies-json"])]
    );
}

#[test]
fn manage_changes_come_from_its_change_flag_not_a_type_name_and_unmapped_priorities_stay_empty() {
    let (_dir, lake, report) = ingest(&["connectwise_manage_tickets_array.json"]);
    let Outcome::Loaded(page) = &report.files[0].outcome else {
        panic!("{report:#?}")
    };
    assert_eq!(
        rows(
            &lake,
            "select ticket_id, tenant_id, ticket_type, coalesce(cast(priority as varchar), 'empty') from tickets order by 1"
        ),
        vec![
            row(&["945371", "23", "incident", "empty"]),
            row(&["945373", "24", "incident", "2"]),
        ]
    );
    assert_eq!(
        rows(&lake, "select change_id, source_system from changes"),
        vec![row(&["945372", "connectwise_manage"])]
    );
    assert!(
        page.warnings
            .iter()
            .any(|w| w.contains("Priority 5 - Service Request") && w.contains("left empty")),
        "{:?}",
        page.warnings
    );
    // Both companies became tenants, by Manage's company id and name.
    assert_eq!(
        rows(&lake, "select tenant_id, tenant_name from tenants order by 1"),
        vec![row(&["23", "Example Company"]), row(&["24", "Other Company"])]
    );
}

#[test]
fn a_ninjaone_device_id_never_resolves_to_another_tools_device_of_the_same_number() {
    let dir = TempDir::new().unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    // Another tool (here a canonical export) has a device 1042 in another client.
    let canonical = dir.path().join("canonical");
    std::fs::create_dir_all(&canonical).unwrap();
    std::fs::write(
        canonical.join("tenants.csv"),
        "tenant_id,tenant_name\nother,Other Client\n",
    )
    .unwrap();
    std::fs::write(
        canonical.join("devices.csv"),
        "snapshot_date,tenant_id,device_id,hostname,device_class,last_seen_utc\n\
         2024-07-16,other,1042,OTHER-PC,workstation,2024-07-16T08:00:00Z\n",
    )
    .unwrap();
    ingest::ingest(&Config::default(), &lake, &[canonical]).unwrap();
    let options = IngestOptions {
        snapshot_date: chrono::NaiveDate::from_ymd_opt(2024, 7, 16),
        source: None,
    };
    ingest::ingest_with(
        &Config::default(),
        &lake,
        &[fixture("ninjaone_queries_os_patch_installs.json")],
        options,
    )
    .unwrap();
    // NinjaOne's device 1042 is unknown to NinjaOne's own exports: refused, not filed as `other`.
    assert_eq!(
        rows(
            &lake,
            "select count(*) from patch_attempts where tenant_id = 'other'"
        ),
        vec![row(&["0"])]
    );
    assert_eq!(
        rows(&lake, "select value, reason from quarantine where line = 1"),
        vec![row(&["1042", "missing_required"])]
    );
}

#[test]
fn autotask_user_defined_fields_as_an_object_read_like_the_apis_list() {
    let mut names: Vec<&str> = AUTOTASK[..4].to_vec();
    names.push("autotask_tickets_udf_object.json");
    let (_dir, lake, _) = ingest(&names);
    // The "Maintenance Window" UDF is the change's planned start, as with the API's list.
    assert_eq!(
        rows(
            &lake,
            "select change_id, cast(planned_start_utc as varchar) from changes"
        ),
        vec![row(&["48305", "2024-07-20 22:00:00"])]
    );
}

#[test]
fn autotask_manage_and_ninjaone_pages_quarantine_an_item_that_is_no_record_and_load_the_rest() {
    let dir = TempDir::new().unwrap();
    let page = |name: &str, envelope: Option<&str>| {
        let mut document: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap();
        let items = match envelope {
            Some(key) => document[key].as_array_mut().unwrap(),
            None => document.as_array_mut().unwrap(),
        };
        items.insert(0, serde_json::json!("<html>502 Bad Gateway</html>"));
        let path = dir.path().join(format!("bad_{name}"));
        std::fs::write(&path, document.to_string()).unwrap();
        path
    };
    let mut paths: Vec<PathBuf> = AUTOTASK[..4].iter().map(|n| fixture(n)).collect();
    paths.push(page("autotask_tickets_query_response.json", Some("items")));
    paths.push(page("connectwise_manage_tickets_array.json", None));
    paths.push(page("ninjaone_devices.json", Some("devices")));
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let options = IngestOptions {
        snapshot_date: chrono::NaiveDate::from_ymd_opt(2024, 7, 16),
        source: None,
    };
    let report = ingest::ingest_with(&Config::default(), &lake, &paths, options).unwrap();
    assert_eq!(report.failed(), 0, "{report:#?}");
    assert_eq!(
        rows(
            &lake,
            "select source_file, line, reason from quarantine where reason = 'malformed_record' order by 1"
        ),
        vec![
            row(&[
                "bad_autotask_tickets_query_response.json",
                "1",
                "malformed_record"
            ]),
            row(&[
                "bad_connectwise_manage_tickets_array.json",
                "1",
                "malformed_record"
            ]),
            row(&["bad_ninjaone_devices.json", "1", "malformed_record"]),
        ]
    );
    assert_eq!(rows(&lake, "select count(*) from tickets"), vec![row(&["3"])]);
    assert_eq!(rows(&lake, "select count(*) from devices"), vec![row(&["2"])]);
}

#[test]
fn ninjaone_organization_12_and_automate_client_12_are_two_tenants() {
    let dir = TempDir::new().unwrap();
    let organizations = dir.path().join("ninjaone_organizations.json");
    std::fs::write(
        &organizations,
        r#"[{"id": 12, "name": "Ninja Client Twelve", "nodeApprovalMode": "AUTOMATIC"}]"#,
    )
    .unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let options = IngestOptions {
        snapshot_date: chrono::NaiveDate::from_ymd_opt(2024, 7, 16),
        source: None,
    };
    let paths = vec![
        organizations,
        fixture("connectwise_automate_plugin_proval_computerpatchcompliance.csv"),
    ];
    let report = ingest::ingest_with(&Config::default(), &lake, &paths, options).unwrap();
    assert_eq!(report.failed(), 0, "{report:#?}");
    // Automate's client 12 is not NinjaOne's organization 12, though both are site id 12.
    assert_eq!(
        rows(&lake, "select tenant_id, hostname from devices"),
        vec![row(&["automate-client-12", "CONTOSO-DC01"])]
    );
    let links = |source: &str| -> Vec<(String, Option<String>)> {
        govpack::ingest::lookups::source_lookups(&lake, source)
            .unwrap()
            .into_iter()
            .filter(|l| l.kind == "site")
            .map(|l| (l.record_id, l.key))
            .collect()
    };
    assert_eq!(
        links("ninjaone"),
        [("12".to_string(), Some("ninjaone-org-12".to_string()))]
    );
    assert_eq!(
        links("connectwise_automate"),
        [("12".to_string(), Some("automate-client-12".to_string()))]
    );
}

#[test]
fn a_manage_company_numbered_like_an_autotask_client_is_refused_not_filed_under_that_client() {
    let dir = TempDir::new().unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let mut manage: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("connectwise_manage_service_ticket.json")).unwrap(),
    )
    .unwrap();
    // Autotask's client 29683616 is Sirius Cybernetics; Manage numbers another client the same.
    manage["company"]["id"] = serde_json::json!(29683616);
    manage["company"]["name"] = serde_json::json!("Another Client Entirely");
    let manage_file = dir.path().join("manage_tickets.json");
    std::fs::write(&manage_file, manage.to_string()).unwrap();
    let mut paths: Vec<PathBuf> = AUTOTASK.iter().map(|n| fixture(n)).collect();
    paths.push(manage_file);
    let report = ingest::ingest_with(&Config::default(), &lake, &paths, IngestOptions::default()).unwrap();
    assert_eq!(report.failed(), 0, "{report:#?}");
    assert_eq!(
        rows(&lake, "select source_system, ticket_id from tickets"),
        vec![row(&["autotask", "48231"])]
    );
    assert_eq!(
        rows(&lake, "select table_name, value, reason from quarantine"),
        vec![row(&["tickets", "29683616", "unknown_tenant"])]
    );
    assert_eq!(
        rows(&lake, "select tenant_name from tenants"),
        vec![row(&["Sirius Cybernetics Corporation"])]
    );
}

// --- vulnerability reference data (docs/canonical-model.md: kev, patch_cves) --------------------

fn vulnerability_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/vulnerability")
        .join(name)
}

#[test]
fn the_cisa_kev_catalog_loads_one_row_per_cve_and_a_newer_catalog_wins_whatever_the_order() {
    let dir = TempDir::new().unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let newer = vulnerability_fixture("known_exploited_vulnerabilities.json");
    let older = vulnerability_fixture("known_exploited_vulnerabilities_2026-10-01.json");
    for file in [&newer, &older] {
        let format = govpack::sources::recognise(&govpack::sources::SourceFile::read(file).unwrap(), None)
            .unwrap()
            .format;
        assert_eq!(format, format_named("cisa-kev-json"), "recognised by content");
    }
    // The newer catalog first, the older one after it: the newer rows stay.
    let report = ingest::ingest(&Config::default(), &lake, &[newer]).unwrap();
    assert_eq!(report.failed(), 0, "{report:#?}");
    let report = ingest::ingest(&Config::default(), &lake, &[older]).unwrap();
    let Outcome::Loaded(loaded) = &report.files[0].outcome else {
        panic!("{report:#?}")
    };
    assert_eq!(loaded.rows_stale, 1, "the older catalog's row is not applied");
    assert_eq!(
        rows(
            &lake,
            "select cve_id, vendor_project, cast(date_added as varchar), cast(due_date as varchar),
                    cast(known_ransomware_use as varchar), catalog_version
             from kev order by cve_id"
        ),
        [
            row(&[
                "CVE-2025-21333",
                "Microsoft",
                "2025-01-14",
                "2025-02-04",
                "false",
                "2026.10.15"
            ]),
            row(&[
                "CVE-2026-41572",
                "Microsoft",
                "2026-10-14",
                "2026-11-04",
                "false",
                "2026.10.15"
            ]),
            row(&[
                "CVE-2026-41573",
                "Microsoft",
                "2026-10-14",
                "2026-11-04",
                "true",
                "2026.10.15"
            ]),
        ]
    );
}

#[test]
fn an_msrc_cvrf_document_gives_a_row_per_kb_and_cve_with_the_worst_severity_and_exploitation() {
    let dir = TempDir::new().unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let document = vulnerability_fixture("msrc-cvrf-2026-Oct.json");
    let report = ingest::ingest(&Config::default(), &lake, &[document]).unwrap();
    let Outcome::Loaded(loaded) = &report.files[0].outcome else {
        panic!("{report:#?}")
    };
    // KB5044348 fixes two CVEs, CVE-2026-41572 is fixed by two KBs; "Release Notes" and
    // workaround entries are not KBs; a CVE with no KB (a cloud service) has no row.
    assert_eq!(loaded.rows_loaded, 4);
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.starts_with("2 of 5 vulnerabilities name no KB")),
        "{:?}",
        loaded.warnings
    );
    assert_eq!(
        rows(
            &lake,
            "select patch_id, cve_id, coalesce(cast(cvss_base_score as varchar), ''), severity,
                    cast(exploited as varchar), cast(publicly_disclosed as varchar), source_document
             from patch_cves order by patch_id, cve_id"
        ),
        [
            row(&[
                "KB5044348",
                "CVE-2026-41572",
                "8.8",
                "critical",
                "true",
                "false",
                "2026-Oct"
            ]),
            row(&[
                "KB5044348",
                "CVE-2026-41573",
                "6.5",
                "moderate",
                "true",
                "true",
                "2026-Oct"
            ]),
            row(&[
                "KB5044570",
                "CVE-2026-40002",
                "",
                "low",
                "false",
                "false",
                "2026-Oct"
            ]),
            row(&[
                "KB5044707",
                "CVE-2026-41572",
                "8.8",
                "critical",
                "true",
                "false",
                "2026-Oct"
            ]),
        ]
    );
}

#[test]
fn patch_cves_of_other_vendors_load_as_canonical_csv() {
    let dir = TempDir::new().unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let file = dir.path().join("third-party-cves.csv");
    std::fs::write(
        &file,
        "patch_id,cve_id,cvss_base_score,severity,exploited\n\
         chrome-131.0.6780.79,CVE-2026-9001,8.1,critical,true\n\
         chrome-131.0.6780.79,CVE-2026-9002,,extreme,false\n",
    )
    .unwrap();
    let report = ingest::ingest(&Config::default(), &lake, &[file]).unwrap();
    let Outcome::Loaded(loaded) = &report.files[0].outcome else {
        panic!("{report:#?}")
    };
    assert_eq!(
        (loaded.rows_loaded, loaded.rows_quarantined),
        (1, 1),
        "`extreme` is no severity"
    );
    assert_eq!(
        rows(
            &lake,
            "select patch_id, cve_id, cvss_base_score, severity, cast(exploited as varchar) from patch_cves"
        ),
        [row(&[
            "chrome-131.0.6780.79",
            "CVE-2026-9001",
            "8.1",
            "critical",
            "true"
        ])]
    );
}

#[test]
fn a_kev_catalog_or_cvrf_document_without_its_list_is_refused_naming_the_file_not_loaded_as_empty() {
    let dir = TempDir::new().unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let catalog = dir.path().join("kev.json");
    std::fs::write(
        &catalog,
        r#"{"catalogVersion": "2026.10.15", "vulnerabilities": {"cveID": "CVE-1"}}"#,
    )
    .unwrap();
    let document = dir.path().join("cvrf.json");
    std::fs::write(&document, r#"{"DocumentTracking": {}, "Vulnerability": "none"}"#).unwrap();
    let report = ingest::ingest(&Config::default(), &lake, &[catalog, document]).unwrap();
    assert_eq!(report.failed(), 2, "{report:#?}");
    let text = format!("{report:?}");
    assert!(
        text.contains("`vulnerabilities` is not a list") && text.contains("`Vulnerability` is not a list"),
        "{text}"
    );
    assert!(rows(&lake, "select count(*) from ingest_ledger")[0][0] == "0");
}

#[test]
fn kev_entries_and_cvrf_vulnerabilities_that_cannot_be_rows_are_quarantined_with_their_entry_and_reason() {
    let dir = TempDir::new().unwrap();
    let catalog = dir.path().join("known_exploited_vulnerabilities.json");
    std::fs::write(
        &catalog,
        r#"{"catalogVersion": "2026.10.15", "dateReleased": "2026-10-15T17:02:11Z", "vulnerabilities": [
            {"cveID": "CVE-2026-1", "dateAdded": "2026-10-14", "dueDate": "2026-11-04"},
            {"vendorProject": "Microsoft", "dateAdded": "2026-10-14"},
            {"cveID": "CVE-2026-3", "dateAdded": "14/13/2026"}]}"#,
    )
    .unwrap();
    let cvrf = dir.path().join("msrc-cvrf-2026-Oct.json");
    std::fs::write(
        &cvrf,
        r#"{"DocumentTracking": {"Identification": {"ID": {"Value": "2026-Oct"}}, "CurrentReleaseDate": "2026-10-13T07:00:00"},
            "Vulnerability": [
            {"CVE": "CVE-2026-9", "Remediations": [{"Description": {"Value": "5044348"}, "Type": 2}]},
            {"CVE": "", "Remediations": [{"Description": {"Value": "5044707"}, "Type": 2}]}]}"#,
    )
    .unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let report = ingest::ingest(&Config::default(), &lake, &[catalog, cvrf]).unwrap();
    assert_eq!(report.failed(), 0, "{report:#?}");
    assert_eq!(
        rows(
            &lake,
            "select table_name, cast(line as varchar), column_name, coalesce(value, ''), reason
             from quarantine order by table_name, line"
        ),
        [
            row(&["kev", "2", "cve_id", "", "missing_required"]),
            row(&["kev", "3", "date_added", "14/13/2026", "invalid_date"]),
            row(&["patch_cves", "2", "cve_id", "", "missing_required"]),
        ]
    );
    assert_eq!(rows(&lake, "select cve_id from kev"), [row(&["CVE-2026-1"])]);
    assert_eq!(
        rows(&lake, "select patch_id, cve_id from patch_cves"),
        [row(&["KB5044348", "CVE-2026-9"])]
    );
}

#[test]
fn a_kev_catalog_larger_than_a_chunk_streams_in_chunks_and_is_still_one_file() {
    // 200,001 entries: more than one chunk of items (`canonical_csv::CHUNK_ROWS`). The catalog's
    // version comes after its list, as a re-export may order it; the last entry repeats the
    // first, so a key seen in the first chunk must still be known in the second.
    let entries = 200_001;
    let dir = TempDir::new().unwrap();
    let catalog = dir.path().join("known_exploited_vulnerabilities.json");
    let mut text = String::from(r#"{"title": "CISA Catalog", "vulnerabilities": ["#);
    for i in 1..=entries {
        let cve = if i == entries { 1 } else { i };
        text.push_str(&format!(
            r#"{}{{"cveID": "CVE-2026-{cve}", "vendorProject": "Microsoft", "product": "Windows", "dateAdded": "2026-10-14", "dueDate": "2026-11-04", "knownRansomwareCampaignUse": "Unknown", "cwes": ["CWE-787"]}}"#,
            if i == 1 { "" } else { "," }
        ));
    }
    text.push_str(r#"], "catalogVersion": "2026.10.15", "dateReleased": "2026-10-15T17:02:11.000Z"}"#);
    std::fs::write(&catalog, text).unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let report = ingest::ingest(&Config::default(), &lake, &[catalog]).unwrap();
    let Outcome::Loaded(loaded) = &report.files[0].outcome else {
        panic!("{report:#?}")
    };
    assert_eq!(
        (loaded.rows_read, loaded.rows_quarantined),
        (entries, 1),
        "{loaded:#?}"
    );
    assert_eq!(
        rows(
            &lake,
            "select count(*), count(distinct cve_id), min(catalog_version), max(catalog_version),
                    cast(min(_export_date) as varchar), cast(max(_export_date) as varchar)
             from kev"
        ),
        [row(&[
            &(entries - 1).to_string(),
            &(entries - 1).to_string(),
            "2026.10.15",
            "2026.10.15",
            "2026-10-15",
            "2026-10-15"
        ])]
    );
    assert_eq!(
        rows(
            &lake,
            "select table_name, cast(line as varchar), reason from quarantine"
        ),
        [row(&["kev", &entries.to_string(), "duplicate_key"])]
    );
}

#[test]
fn a_kev_ransomware_word_other_than_known_or_unknown_loads_as_not_recorded_with_a_warning() {
    let dir = TempDir::new().unwrap();
    let catalog = dir.path().join("known_exploited_vulnerabilities.json");
    std::fs::write(
        &catalog,
        r#"{"catalogVersion": "2026.10.15", "dateReleased": "2026-10-15T17:02:11Z", "vulnerabilities": [
            {"cveID": "CVE-2026-1", "dateAdded": "2026-10-14", "knownRansomwareCampaignUse": "Known"},
            {"cveID": "CVE-2026-2", "dateAdded": "2026-10-14", "knownRansomwareCampaignUse": "Suspected"},
            {"cveID": "CVE-2026-3", "dateAdded": "2026-10-14", "knownRansomwareCampaignUse": "Unknown"},
            {"cveID": "CVE-2026-4", "dateAdded": "2026-10-14"}]}"#,
    )
    .unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let report = ingest::ingest(&Config::default(), &lake, &[catalog]).unwrap();
    let Outcome::Loaded(loaded) = &report.files[0].outcome else {
        panic!("{report:#?}")
    };
    assert_eq!(loaded.rows_loaded, 4, "every entry loads");
    assert_eq!(
        loaded.warnings,
        ["knownRansomwareCampaignUse other than Known or Unknown: `Suspected` (1); read as not recorded"]
    );
    assert_eq!(
        rows(
            &lake,
            "select cve_id, coalesce(cast(known_ransomware_use as varchar), 'null') from kev order by cve_id"
        ),
        [
            row(&["CVE-2026-1", "true"]),
            row(&["CVE-2026-2", "null"]),
            row(&["CVE-2026-3", "false"]),
            row(&["CVE-2026-4", "null"]),
        ]
    );
}

// --- damaged exports (property tests) -----------------------------------------------------------

mod damaged_exports {
    //! Every adapter's parser and the canonical CSV reader, on the sample exports damaged at
    //! random: bytes overwritten, the file cut short, cells or JSON values replaced by what real
    //! exports get wrong (sentinels, negative epochs, year 9999, megabyte text, formulas, quotes,
    //! wrong types). No input may panic; a file refused names itself, and a row refused names its
    //! line. A bounded number of cases runs in CI (`PROPTEST_CASES` raises it).

    use std::collections::{HashMap, HashSet};
    use std::path::Path;

    use govpack::config::Config;
    use govpack::sources::{self, Context, SourceFile};
    use proptest::prelude::*;
    use proptest::sample::Index;

    /// The exports every adapter reads, and canonical CSV (the head of each sample table).
    fn exports() -> Vec<(String, Vec<u8>)> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut out = Vec::new();
        for entry in std::fs::read_dir(root.join("tests/fixtures/vendor")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json" || e == "csv") {
                out.push((name(&path), std::fs::read(&path).unwrap()));
            }
        }
        for entry in std::fs::read_dir(root.join("sample_data")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "csv" || e == "json") {
                let text = std::fs::read_to_string(&path).unwrap();
                let head: String = text.lines().take(40).map(|l| format!("{l}\n")).collect();
                out.push((name(&path), head.into_bytes()));
            }
        }
        out.sort();
        out
    }

    fn name(path: &Path) -> String {
        path.file_name().unwrap().to_string_lossy().into_owned()
    }

    /// What exports get wrong, as cell text (JSON: parsed when it is JSON, else a string).
    fn palette() -> Vec<String> {
        let mut values: Vec<String> = [
            "",
            "null",
            "-1",
            "0",
            "1e308",
            "NaN",
            "-62135596800000",
            "-1721131200000",
            "18446744073709551616",
            "9999-12-31T23:59:59Z",
            "0000-01-01",
            "1601-01-01T00:00:00Z",
            "05/15/2017 9:41",
            "31.12.2026 25:61",
            "💥",
            "=cmd|' /C calc'!A0",
            "\"",
            ",",
            "\n",
            "true",
            "[]",
            "{}",
            "[1,[2,[3]]]",
            "{\"a\":{\"b\":null}}",
            "Ä\u{0}B",
            "   ",
        ]
        .map(String::from)
        .to_vec();
        values.push("x".repeat(5000));
        values.push("9".repeat(400));
        values
    }

    #[derive(Debug, Clone)]
    enum Damage {
        /// Overwrite bytes (position, byte), then cut the file at a point (or not).
        Bytes(Vec<(Index, u8)>, Option<Index>),
        /// Replace cells (CSV) or JSON values (position among them, palette entry).
        Cells(Vec<(Index, Index)>),
    }

    fn damage() -> impl Strategy<Value = Damage> {
        prop_oneof![
            (
                prop::collection::vec((any::<Index>(), any::<u8>()), 0..6),
                prop::option::of(any::<Index>())
            )
                .prop_map(|(edits, cut)| Damage::Bytes(edits, cut)),
            prop::collection::vec((any::<Index>(), any::<Index>()), 1..6).prop_map(Damage::Cells),
        ]
    }

    fn damaged(name: &str, bytes: &[u8], damage: &Damage) -> Vec<u8> {
        let palette = palette();
        match damage {
            Damage::Bytes(edits, cut) => {
                let mut out = bytes.to_vec();
                for (at, byte) in edits {
                    if !out.is_empty() {
                        let i = at.index(out.len());
                        out[i] = *byte;
                    }
                }
                if let Some(cut) = cut {
                    out.truncate(cut.index(out.len() + 1));
                }
                out
            }
            Damage::Cells(edits) if name.ends_with(".json") => {
                let Ok(mut doc) = serde_json::from_slice::<serde_json::Value>(bytes) else {
                    return bytes.to_vec();
                };
                for (at, pick) in edits {
                    let mut leaves = Vec::new();
                    collect_leaves(&mut doc, &mut leaves);
                    if leaves.is_empty() {
                        break;
                    }
                    let n = at.index(leaves.len());
                    let text = pick.get(&palette);
                    *leaves.swap_remove(n) = serde_json::from_str(text)
                        .unwrap_or_else(|_| serde_json::Value::String(text.clone()));
                }
                serde_json::to_vec(&doc).unwrap()
            }
            Damage::Cells(edits) => {
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .from_reader(bytes);
                let mut rows: Vec<Vec<String>> = reader
                    .records()
                    .filter_map(Result::ok)
                    .map(|r| r.iter().map(String::from).collect())
                    .collect();
                let cells: usize = rows.iter().map(Vec::len).sum();
                for (at, pick) in edits {
                    if cells == 0 {
                        break;
                    }
                    let mut n = at.index(cells);
                    for row in rows.iter_mut() {
                        if n < row.len() {
                            row[n] = pick.get(&palette).clone();
                            break;
                        }
                        n -= row.len();
                    }
                }
                let mut writer = csv::Writer::from_writer(Vec::new());
                for row in rows {
                    writer.write_record(row).unwrap();
                }
                writer.into_inner().unwrap()
            }
        }
    }

    fn collect_leaves<'v>(value: &'v mut serde_json::Value, out: &mut Vec<&'v mut serde_json::Value>) {
        match value {
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| collect_leaves(v, out)),
            serde_json::Value::Object(map) => map.values_mut().for_each(|v| collect_leaves(v, out)),
            leaf => out.push(leaf),
        }
    }

    /// Recognises and reads one file as an ingest would, without a lake.
    fn read_back(path: &Path) -> Result<(), TestCaseError> {
        let shown = path.display().to_string();
        let file = SourceFile::read(path).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let recognised = match sources::recognise(&file, None) {
            Ok(recognised) => recognised,
            Err(refused) => {
                prop_assert!(refused.to_string().starts_with(&shown), "{refused}");
                return Ok(());
            }
        };
        let config = Config::default();
        let ctx = Context {
            mapping: &config.mapping,
            source_settings: &config.sources,
            snapshot_date: chrono::NaiveDate::from_ymd_opt(2024, 7, 16),
            source: recognised.format.source(),
            site_tenants: HashMap::new(),
            claimed_sites: HashSet::new(),
            claimed_companies: HashSet::new(),
            tenant_names: HashMap::new(),
            device_tenants: HashMap::new(),
            lookups: Vec::new(),
            tenants: HashMap::new(),
        };
        let mut rejections = Vec::new();
        let outcome = sources::read(&file, recognised, &ctx, &mut |chunk| {
            rejections.extend(chunk.rejections);
            Ok(())
        });
        if let Err(refused) = outcome {
            prop_assert!(format!("{refused:#}").contains(&shown), "{refused:#}");
        }
        for rejection in rejections {
            prop_assert!(rejection.line >= 1, "{rejection:?}");
            prop_assert!(!rejection.problem.reason.as_str().is_empty());
        }
        Ok(())
    }

    proptest! {
        // 256 cases unless PROPTEST_CASES says otherwise; a failure prints its input, shrunk.
        #![proptest_config(ProptestConfig {
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn no_damaged_export_panics_and_every_refusal_names_its_file_and_line(
            pick in any::<Index>(),
            damage in damage(),
        ) {
            let exports = exports();
            let (name, bytes) = pick.get(&exports);
            let dir = tempfile::TempDir::new().unwrap();
            let path = dir.path().join(name);
            std::fs::write(&path, damaged(name, bytes, &damage)).unwrap();
            read_back(&path)?;
        }
    }
}

#[test]
fn an_empty_datto_alerts_page_is_recognised_by_its_envelope_and_loads_nothing_without_failing() {
    // A day without open alerts: the collector's page holds none, and must not fail every run.
    let dir = TempDir::new().unwrap();
    let page = dir.path().join("datto-rmm-alerts-open-2026-12-06-p0001.json");
    std::fs::write(
        &page,
        r#"{"pageDetails": {"count": 0, "totalCount": 0, "prevPageUrl": null, "nextPageUrl": null}, "alerts": []}"#,
    )
    .unwrap();
    let format = govpack::sources::recognise(&govpack::sources::SourceFile::read(&page).unwrap(), None)
        .unwrap()
        .format;
    assert_eq!(format, format_named("datto-rmm-patch-alerts-json"));
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let report = ingest::ingest(&Config::default(), &lake, &[page]).unwrap();
    assert_eq!(report.failed(), 0, "{report:#?}");
}
