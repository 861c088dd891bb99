//! The foundation, checked end to end: canonical CSV in, Parquet lake out, read back through
//! DuckDB and the `parquet` crate (not through the writer that made it).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use govpack::config::Config;
use govpack::ingest::{self, Outcome};
use govpack::lake::Lake;
use govpack::sample::{self, SampleSpec};
use govpack::sql;
use tempfile::TempDir;

mod common;
use common::query_strings;

fn govpack(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_govpack"))
        .args(args)
        .current_dir(dir)
        .env_remove("GOVPACK_LOG")
        .output()
        .expect("run govpack")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    path
}

fn count(lake: &Lake, table: &str) -> i64 {
    query_strings(lake, &format!("select count(*)::varchar from {table}"))[0][0]
        .parse()
        .unwrap()
}

const TENANTS: &str = "tenant_id,tenant_name,criticality\nacme,Acme Corp,critical\nbeta,Beta Ltd,\n";

/// A lake holding the tenants `acme` and `beta`: every row must name a known tenant.
fn lake_with_tenants(dir: &Path) -> Lake {
    let lake = Lake::open(&dir.join("lake")).unwrap();
    let tenants = write(dir, "tenants.csv", TENANTS);
    ingest::ingest(&Config::default(), &lake, &[tenants]).unwrap();
    lake
}

const DEVICES_HEADER: &str = "snapshot_date,tenant_id,device_id,hostname,device_class,role,policy_tier,ring,patch_policy,excluded,last_seen_utc";

// --- validation -----------------------------------------------------------------------------

#[test]
fn every_rejection_reason_is_quarantined_with_file_line_column_and_the_good_rows_load() {
    let dir = TempDir::new().unwrap();
    let csv = "ticket_id,tenant_id,ticket_type,priority,status,created_utc,resolved_utc,due_utc\n\
        1,acme,remediation,2,complete,2026-10-01T08:00:00Z,2026-10-01T12:00:00Z,2026-10-02T08:00:00Z\n\
        2,,remediation,2,complete,2026-10-01T08:00:00Z,,\n\
        3,acme,remediation,2,complete,yesterday,,\n\
        4,acme,remediation,high,new,2026-10-01T08:00:00Z,,\n\
        5,acme,remediation,7,new,2026-10-01T08:00:00Z,,\n\
        6,acme,ticket,2,new,2026-10-01T08:00:00Z,,\n\
        7,acme,remediation,2,new\n\
        1,acme,incident,2,new,2026-10-03T08:00:00Z,,\n\
        9,acme,remediation,2,complete,2026-10-05T08:00:00Z,2026-10-04T08:00:00Z,\n\
        10,beta,incident,,new,2026-10-06 09:30:00,,\n\
        11,ghost,incident,,new,2026-10-06 09:30:00,,\n";
    let tenants = write(dir.path(), "tenants.csv", TENANTS);
    let tickets = write(dir.path(), "tickets.csv", csv);
    let bools = write(
        dir.path(),
        "devices.csv",
        &format!(
            "{DEVICES_HEADER}\n2026-10-31,acme,d1,PC1,workstation,,,regular,,maybe,\n2026-13-01,acme,d2,PC2,workstation,,,,,,\n"
        ),
    );
    let out = govpack(
        dir.path(),
        &[
            "--lake",
            "lake",
            "ingest",
            tenants.to_str().unwrap(),
            tickets.to_str().unwrap(),
            bools.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    let summary = stdout(&out);
    assert!(
        summary.contains("11 rows read, 2 loaded, 9 quarantined"),
        "{summary}"
    );
    assert!(
        summary.contains("Rows: 15 read, 4 loaded, 11 quarantined"),
        "{summary}"
    );

    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let rows = query_strings(
        &lake,
        "select source_file, line::varchar, coalesce(column_name, ''), reason from quarantine order by source_file, line",
    );
    let expect = |file: &str, line: &str, column: &str, reason: &str| -> Vec<String> {
        vec![file.into(), line.into(), column.into(), reason.into()]
    };
    assert_eq!(
        rows,
        vec![
            expect("devices.csv", "2", "excluded", "invalid_bool"),
            expect("devices.csv", "3", "snapshot_date", "invalid_date"),
            expect("tickets.csv", "3", "tenant_id", "missing_required"),
            expect("tickets.csv", "4", "created_utc", "invalid_timestamp"),
            expect("tickets.csv", "5", "priority", "invalid_integer"),
            expect("tickets.csv", "6", "priority", "out_of_range"),
            expect("tickets.csv", "7", "ticket_type", "invalid_enum"),
            expect("tickets.csv", "8", "", "wrong_field_count"),
            expect("tickets.csv", "9", "source_system+ticket_id", "duplicate_key"),
            expect("tickets.csv", "10", "resolved_utc", "end_before_start"),
            expect("tickets.csv", "12", "tenant_id", "unknown_tenant"),
        ]
    );
    let loaded = query_strings(
        &lake,
        "select ticket_id, _source_line::varchar, coalesce(priority::varchar, 'NULL') from tickets order by 1",
    );
    assert_eq!(loaded, vec![vec!["1", "2", "2"], vec!["10", "11", "NULL"]]);
    // The value and the reason's explanation travel with the row.
    let detail = query_strings(
        &lake,
        "select value, detail from quarantine where reason = 'invalid_enum'",
    );
    assert_eq!(detail[0][0], "ticket");
    assert!(
        detail[0][1].contains("incident, problem, service_request"),
        "{:?}",
        detail
    );
}

#[test]
fn a_file_whose_header_matches_no_table_is_refused_listing_the_expected_columns_and_others_still_load() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "weird.csv", "host,when\nPC1,today\n");
    write(dir.path(), "tenants.csv", TENANTS);
    let out = govpack(dir.path(), &["--lake", "lake", "ingest", "."]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("weird.csv:1: unrecognised export: the header matches no canonical table"),
        "{err}"
    );
    assert!(err.contains("patch_status: required snapshot_date, tenant_id, device_id, patch_id, classification, approval, state"), "{err}");
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    assert_eq!(count(&lake, "tenants"), 2);
}

// --- idempotence and replacement ------------------------------------------------------------

fn lake_file_digests(lake: &Lake) -> Vec<(PathBuf, String)> {
    let mut all = Vec::new();
    for table in sql::lake_tables() {
        for f in lake.table_files(table.name).unwrap() {
            all.push((f.clone(), govpack::files::sha256_hex(&fs::read(&f).unwrap())));
        }
    }
    all
}

#[test]
fn ingesting_the_same_file_twice_changes_nothing_and_reports_it_skipped() {
    let dir = TempDir::new().unwrap();
    let file = write(dir.path(), "tenants.csv", TENANTS);
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let config = Config::default();
    let first = ingest::ingest(&config, &lake, std::slice::from_ref(&file)).unwrap();
    assert!(matches!(first.files[0].outcome, Outcome::Loaded(_)));
    let before = lake_file_digests(&lake);
    let second = ingest::ingest(&config, &lake, &[file.clone(), file]).unwrap();
    assert_eq!(second.skipped(), 2);
    assert_eq!(lake_file_digests(&lake), before);
    assert_eq!(count(&lake, "ingest_ledger"), 1);
}

#[test]
fn a_dated_export_is_skipped_when_its_bytes_come_again_for_its_day_under_any_name() {
    let dir = TempDir::new().unwrap();
    let lake = lake_with_tenants(dir.path());
    let config = Config::default();
    let rows = format!("{DEVICES_HEADER}\n2026-10-05,acme,d1,PC1,workstation,,,,,,\n");
    let first = write(dir.path(), "devices_2026-10-05.csv", &rows);
    let copy_dir = dir.path().join("again");
    fs::create_dir(&copy_dir).unwrap();
    let copy = write(&copy_dir, "devices_2026-10-05.csv", &rows);
    // The same bytes twice in one run, the second under another path: loaded once.
    let report = ingest::ingest(&config, &lake, &[first.clone(), copy.clone()]).unwrap();
    let outcome = |path: &Path| &report.files.iter().find(|f| f.path == path).unwrap().outcome;
    assert!(matches!(outcome(&first), Outcome::Loaded(_)), "{report:?}");
    assert!(
        matches!(outcome(&copy), Outcome::Skipped { previously } if previously.contains("earlier in this run for 2026-10-05")),
        "{report:?}"
    );
    // In a later run, by the ledger.
    let again = ingest::ingest(&config, &lake, &[copy]).unwrap();
    assert_eq!(again.skipped(), 1, "{again:?}");
    // The same bytes read for another day are another export.
    let other_day = ingest::ingest_with(
        &config,
        &lake,
        &[first],
        ingest::IngestOptions {
            snapshot_date: chrono::NaiveDate::from_ymd_opt(2026, 10, 6),
            source: None,
        },
    )
    .unwrap();
    assert!(
        matches!(other_day.files[0].outcome, Outcome::Loaded(_)),
        "{other_day:?}"
    );
    assert_eq!(count(&lake, "ingest_ledger"), 3);
}

#[test]
fn a_file_a_ledger_without_snapshot_dates_holds_is_skipped_for_any_day() {
    let dir = TempDir::new().unwrap();
    let lake = lake_with_tenants(dir.path());
    let config = Config::default();
    let rows = format!("{DEVICES_HEADER}\n2026-10-05,acme,d1,PC1,workstation,,,,,,\n");
    let first = write(dir.path(), "devices_2026-10-05.csv", &rows);
    ingest::ingest(&config, &lake, std::slice::from_ref(&first)).unwrap();
    // The ledger as a govpack before snapshot dates wrote it: the same lines, no snapshot_date.
    let conn = duckdb::Connection::open_in_memory().unwrap();
    for file in lake.table_files("ingest_ledger").unwrap() {
        let old = file.with_extension("old");
        fs::rename(&file, &old).unwrap();
        conn.execute_batch(&format!(
            "copy (select * exclude (snapshot_date) from read_parquet('{}')) to '{}' (format parquet)",
            old.display(),
            file.display()
        ))
        .unwrap();
        fs::remove_file(&old).unwrap();
    }
    // The day it was read for is unknown, so its bytes count as ingested for any day: the same
    // bytes under a name of another day are not loaded again.
    let copy = write(dir.path(), "devices_2026-10-06.csv", &rows);
    let report = ingest::ingest(&config, &lake, &[copy]).unwrap();
    assert_eq!(report.skipped(), 1, "{report:?}");
    assert_eq!(count(&lake, "devices"), 1);
}

#[test]
fn the_ledger_and_quarantine_name_the_sha256_of_the_bytes_read_however_the_file_was_hashed() {
    let dir = TempDir::new().unwrap();
    let lake = lake_with_tenants(dir.path());
    let config = Config::default();
    // A day the ledger has no file for: hashed while it is read. Then another file of that day:
    // hashed before it is read, as it might have been ingested already.
    let files = [
        format!(
            "{DEVICES_HEADER}\n2026-10-05,acme,d1,PC1,workstation,,,,,,\n2026-10-05,acme,d2,PC2,workstation,,,,,maybe,\n"
        ),
        format!(
            "{DEVICES_HEADER}\n2026-10-05,acme,d3,PC3,workstation,,,,,,\n2026-10-05,acme,d4,PC4,workstation,,,,,maybe,\n"
        ),
    ];
    for (i, text) in files.iter().enumerate() {
        let path = write(dir.path(), &format!("devices_{i}_2026-10-05.csv"), text);
        let report = ingest::ingest(&config, &lake, &[path]).unwrap();
        assert_eq!(loaded(&report).rows_quarantined, 1, "{report:?}");
        let digest = govpack::files::sha256_hex(text.as_bytes());
        let name = format!("devices_{i}_2026-10-05.csv");
        assert_eq!(
            query_strings(
                &lake,
                &format!("select source_sha256 from ingest_ledger where source_file = '{name}'")
            ),
            vec![vec![digest.clone()]]
        );
        assert_eq!(
            query_strings(
                &lake,
                &format!("select distinct source_sha256 from quarantine where source_file = '{name}'")
            ),
            vec![vec![digest]]
        );
    }
}

#[test]
fn a_newer_export_of_the_same_key_replaces_the_older_rows_and_leaves_other_days_alone() {
    let dir = TempDir::new().unwrap();
    let lake = lake_with_tenants(dir.path());
    let config = Config::default();
    let v1 = write(
        dir.path(),
        "devices_v1.csv",
        &format!(
            "{DEVICES_HEADER}\n2026-09-28,acme,d1,OLD-NAME,workstation,,,,,,\n\
             2026-10-05,acme,d1,OLD-NAME,workstation,,,,,,\n2026-10-05,acme,d2,PC2,workstation,,,,,,\n"
        ),
    );
    ingest::ingest(&config, &lake, &[v1]).unwrap();
    let september = lake
        .table_dir("devices")
        .join("snapshot_date=2026-09-28/devices-2026-09-28.parquet");
    let september_digest = govpack::files::sha256_hex(&fs::read(&september).unwrap());

    let v2 = write(
        dir.path(),
        "devices_v2.csv",
        &format!(
            "{DEVICES_HEADER}\n2026-10-05,acme,d1,NEW-NAME,server,,,,,,\n2026-10-05,acme,d3,PC3,workstation,,,,,,\n"
        ),
    );
    let report = ingest::ingest(&config, &lake, &[v2]).unwrap();
    let Outcome::Loaded(loaded) = &report.files[0].outcome else {
        panic!("{report:?}")
    };
    assert_eq!((loaded.rows_loaded, loaded.rows_replaced), (2, 1));
    assert_eq!(
        query_strings(
            &lake,
            "select snapshot_date::varchar, device_id, hostname, _source_file from devices order by 1, 2"
        ),
        vec![
            vec!["2026-09-28", "d1", "OLD-NAME", "devices_v1.csv"],
            vec!["2026-10-05", "d1", "NEW-NAME", "devices_v2.csv"],
            vec!["2026-10-05", "d2", "PC2", "devices_v1.csv"],
            vec!["2026-10-05", "d3", "PC3", "devices_v2.csv"],
        ]
    );
    assert_eq!(
        govpack::files::sha256_hex(&fs::read(&september).unwrap()),
        september_digest
    );
}

const TICKETS_HEADER: &str = "ticket_id,tenant_id,ticket_type,status,created_utc,resolved_utc,updated_utc";

fn loaded(report: &ingest::IngestReport) -> &ingest::LoadedFile {
    match &report.files[0].outcome {
        Outcome::Loaded(loaded) => loaded,
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_older_ticket_export_ingested_after_a_newer_one_changes_nothing_and_is_counted_stale() {
    let dir = TempDir::new().unwrap();
    let lake = lake_with_tenants(dir.path());
    let config = Config::default();
    // T1 was completed on the 3rd (the PSA changed it then); the export of the 2nd, still in
    // progress, arrives late. T2 is only in the late export, T3 only in the newer one.
    let newer = write(
        dir.path(),
        "tickets_newer.csv",
        &format!(
            "{TICKETS_HEADER}
T1,acme,remediation,complete,2026-10-01T08:00:00Z,2026-10-03T09:00:00Z,2026-10-03T09:00:00Z
             T3,acme,incident,new,2026-10-03T10:00:00Z,,2026-10-03T10:00:00Z
"
        ),
    );
    let older = write(
        dir.path(),
        "tickets_older.csv",
        &format!(
            "{TICKETS_HEADER}
T1,acme,remediation,in_progress,2026-10-01T08:00:00Z,,2026-10-02T12:00:00Z
             T2,acme,incident,new,2026-10-02T11:00:00Z,,2026-10-02T11:00:00Z
"
        ),
    );
    ingest::ingest(&config, &lake, &[newer]).unwrap();
    let report = ingest::ingest(&config, &lake, &[older]).unwrap();
    let late = loaded(&report);
    assert_eq!(
        (
            late.rows_read,
            late.rows_loaded,
            late.rows_replaced,
            late.rows_stale
        ),
        (2, 1, 0, 1)
    );
    assert_eq!(
        query_strings(&lake, "select ticket_id, status from tickets order by 1"),
        vec![vec!["T1", "complete"], vec!["T2", "new"], vec!["T3", "new"]]
    );
    assert_eq!(
        query_strings(
            &lake,
            "select rows_stale::varchar from ingest_ledger where source_file = 'tickets_older.csv'"
        ),
        vec![vec!["1"]]
    );
}

/// Each file's ledger counts: (file, read, loaded, replaced, stale).
fn ledger_counts(lake: &Lake) -> Vec<Vec<String>> {
    query_strings(
        lake,
        "select source_file, rows_read::varchar, rows_loaded::varchar, rows_replaced::varchar,
                rows_stale::varchar
         from ingest_ledger where source_file like 'page%' order by source_file",
    )
}

#[test]
fn the_pages_of_an_export_in_a_folder_commit_together_each_counted_as_if_ingested_in_turn() {
    // Three pages of one ticket export (as a PSA pages a query), into a lake that has T8 (changed
    // after the export) and T9 (changed before it).
    let pages = [
        (
            "page-1.csv",
            "T1,acme,incident,new,2026-10-04T08:00:00Z,,2026-10-04T10:00:00Z\n\
             T8,acme,incident,new,2026-10-01T08:00:00Z,,2026-10-04T00:00:00Z\n\
             T9,acme,incident,in_progress,2026-10-01T08:00:00Z,,2026-10-04T01:00:00Z\n",
        ),
        // T1 again, older than on page 1 (the PSA's paging shifted): stale. T2 is new.
        (
            "page-2.csv",
            "T1,acme,incident,new,2026-10-04T08:00:00Z,,2026-10-04T09:00:00Z\n\
             T2,beta,incident,new,2026-10-04T08:30:00Z,,2026-10-04T08:30:00Z\n",
        ),
        // T2 again, changed since page 2 was read: it replaces page 2's row.
        (
            "page-3.csv",
            "T2,beta,incident,in_progress,2026-10-04T08:30:00Z,,2026-10-04T11:00:00Z\n",
        ),
    ];
    let lake_before = |dir: &Path| {
        let lake = lake_with_tenants(dir);
        let earlier = write(
            dir,
            "tickets_earlier.csv",
            &format!(
                "{TICKETS_HEADER}\n\
                 T8,acme,incident,complete,2026-10-01T08:00:00Z,2026-10-05T08:00:00Z,2026-10-05T08:00:00Z\n\
                 T9,acme,incident,new,2026-10-01T08:00:00Z,,2026-10-01T08:00:00Z\n"
            ),
        );
        ingest::ingest(&Config::default(), &lake, &[earlier]).unwrap();
        let export = dir.join("tickets-2026-10-04");
        fs::create_dir(&export).unwrap();
        let files: Vec<PathBuf> = pages
            .iter()
            .map(|(name, rows)| write(&export, name, &format!("{TICKETS_HEADER}\n{rows}")))
            .collect();
        (lake, export, files)
    };

    // The folder: one commit (one file more in the ledger's log) with a line per page.
    let together = TempDir::new().unwrap();
    let (lake, export, _) = lake_before(together.path());
    let ledger_files = lake.table_files("ingest_ledger").unwrap().len();
    let report = ingest::ingest(&Config::default(), &lake, &[export]).unwrap();
    assert_eq!(report.loaded().count(), 3, "{report:?}");
    assert_eq!(lake.table_files("ingest_ledger").unwrap().len(), ledger_files + 1);
    assert_eq!(
        ledger_counts(&lake),
        vec![
            vec!["page-1.csv", "3", "2", "1", "1"],
            vec!["page-2.csv", "2", "1", "0", "1"],
            vec!["page-3.csv", "1", "1", "1", "0"],
        ]
    );
    let tickets = "select ticket_id, status, _source_file from tickets order by 1";
    assert_eq!(
        query_strings(&lake, tickets),
        vec![
            vec!["T1", "new", "page-1.csv"],
            vec!["T2", "in_progress", "page-3.csv"],
            vec!["T8", "complete", "tickets_earlier.csv"],
            vec!["T9", "in_progress", "page-1.csv"],
        ]
    );

    // The same pages named one by one: a commit each, and the same counts and rows.
    let in_turn = TempDir::new().unwrap();
    let (one_by_one, _, files) = lake_before(in_turn.path());
    for file in files {
        ingest::ingest(&Config::default(), &one_by_one, &[file]).unwrap();
    }
    assert_eq!(ledger_counts(&one_by_one), ledger_counts(&lake));
    assert_eq!(query_strings(&one_by_one, tickets), query_strings(&lake, tickets));
}

#[test]
fn pages_of_a_new_day_become_one_file_and_a_row_on_two_pages_is_kept_once() {
    let dir = TempDir::new().unwrap();
    let lake = lake_with_tenants(dir.path());
    let export = dir.path().join("devices-2026-10-05");
    fs::create_dir(&export).unwrap();
    write(
        &export,
        "page-1.csv",
        &format!(
            "{DEVICES_HEADER}\n2026-10-05,acme,d1,PC1,workstation,,,,,,\n2026-10-05,acme,d2,PC2,workstation,,,,,,\n"
        ),
    );
    write(
        &export,
        "page-2.csv",
        &format!(
            "{DEVICES_HEADER}\n2026-10-05,acme,d2,PC2-RENAMED,workstation,,,,,,\n2026-10-05,beta,d3,PC3,server,,,,,,\n"
        ),
    );
    let report = ingest::ingest(&Config::default(), &lake, &[export]).unwrap();
    assert_eq!(report.loaded().count(), 2, "{report:?}");
    assert_eq!(
        folder_names(&lake.table_dir("devices").join("snapshot_date=2026-10-05")),
        vec!["devices-2026-10-05.parquet"]
    );
    assert_eq!(
        ledger_counts(&lake),
        vec![
            vec!["page-1.csv", "2", "2", "0", "0"],
            vec!["page-2.csv", "2", "2", "1", "0"],
        ]
    );
    assert_eq!(
        query_strings(&lake, "select device_id, hostname from devices order by 1"),
        vec![vec!["d1", "PC1"], vec!["d2", "PC2-RENAMED"], vec!["d3", "PC3"]]
    );
}

#[test]
fn a_page_that_fails_while_read_leaves_nothing_of_its_export_and_other_exports_load() {
    let dir = TempDir::new().unwrap();
    lake_with_tenants(dir.path());
    let export = dir.path().join("export");
    fs::create_dir(&export).unwrap();
    write(
        &export,
        "page-1.csv",
        &format!("{TICKETS_HEADER}\nT1,acme,incident,new,2026-10-04T08:00:00Z,,\n"),
    );
    // A header naming a column twice is found when the page is read, after page 1 was.
    write(
        &export,
        "page-2.csv",
        &format!("{TICKETS_HEADER},status\nT2,acme,incident,new,2026-10-04T08:00:00Z,,,new\n"),
    );
    write(
        &export,
        "page-3.csv",
        &format!("{TICKETS_HEADER}\nT3,acme,incident,new,2026-10-04T08:00:00Z,,\n"),
    );
    // Another export in the same folder (devices): whole, so it loads.
    write(
        &export,
        "devices-2026-10-05.csv",
        &format!("{DEVICES_HEADER}\n2026-10-05,acme,d1,PC1,workstation,,,,,,\n"),
    );
    let out = govpack(dir.path(), &["--lake", "lake", "ingest", "export"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let (text, err) = (stdout(&out), stderr(&out));
    assert!(
        text.contains("4 file(s): 1 loaded, 0 skipped, 3 failed"),
        "{text}"
    );
    assert!(
        text.contains("page-1.csv: not loaded, as export/page-2.csv of the same export could not be read"),
        "{text}"
    );
    assert!(
        err.contains("page-2.csv:1:8: column `status` appears twice in the header"),
        "{err}"
    );
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    assert_eq!(count(&lake, "tickets"), 0);
    assert_eq!(count(&lake, "devices"), 1);
    assert_eq!(count(&lake, "ingest_ledger where source_file like 'page%'"), 0);
    // Page 2 mended, the export loads whole.
    write(
        &export,
        "page-2.csv",
        &format!("{TICKETS_HEADER}\nT2,acme,incident,new,2026-10-04T08:00:00Z,,\n"),
    );
    let again = govpack(dir.path(), &["--lake", "lake", "ingest", "export"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(count(&lake, "tickets"), 3);
}

#[test]
fn a_row_without_an_update_time_counts_as_changed_at_the_start_of_its_export_day() {
    let with_time = "ticket_id,tenant_id,ticket_type,status,created_utc,updated_utc";
    let without = "ticket_id,tenant_id,ticket_type,status,created_utc";
    // One way: the export of the 20th has no update times; the export of the 1st has one (the
    // 30th of September). The 20th is newer.
    let kept = status_kept_in_either_order(
        (
            "tickets_2026-10-01.csv",
            format!("{with_time}\nT1,acme,incident,in_progress,2026-09-29T08:00:00Z,2026-09-30T10:00:00Z\n"),
        ),
        (
            "tickets_2026-10-20.csv",
            format!("{without}\nT1,acme,incident,complete,2026-09-29T08:00:00Z\n"),
        ),
    );
    assert_eq!(kept, ["complete", "complete"]);
    // The other way: a row changed on the 10th beats the export of the 8th without times.
    let kept = status_kept_in_either_order(
        (
            "tickets_2026-10-10.csv",
            format!("{with_time}\nT1,acme,incident,complete,2026-09-29T08:00:00Z,2026-10-09T16:00:00Z\n"),
        ),
        (
            "tickets_2026-10-08.csv",
            format!("{without}\nT1,acme,incident,in_progress,2026-09-29T08:00:00Z\n"),
        ),
    );
    assert_eq!(kept, ["complete", "complete"]);
}

/// The status a fresh lake keeps of ticket T1 after two exports, ingested one order, then the
/// other.
fn status_kept_in_either_order(a: (&str, String), b: (&str, String)) -> [String; 2] {
    [false, true].map(|reversed| {
        let dir = TempDir::new().unwrap();
        let lake = lake_with_tenants(dir.path());
        let mut files = [write(dir.path(), a.0, &a.1), write(dir.path(), b.0, &b.1)];
        if reversed {
            files.reverse();
        }
        for file in files {
            ingest::ingest(&Config::default(), &lake, &[file]).unwrap();
        }
        query_strings(&lake, "select status from tickets")
            .concat()
            .concat()
    })
}

#[test]
fn without_update_times_the_later_export_date_wins_whatever_the_ingest_order() {
    let dir = TempDir::new().unwrap();
    let lake = lake_with_tenants(dir.path());
    let config = Config::default();
    let header = "ticket_id,tenant_id,ticket_type,status,created_utc";
    let day2 = write(
        dir.path(),
        "tickets_2026-10-02.csv",
        &format!(
            "{header}
T1,acme,incident,complete,2026-10-01T08:00:00Z
"
        ),
    );
    let day1 = write(
        dir.path(),
        "tickets_2026-10-01.csv",
        &format!(
            "{header}
T1,acme,incident,in_progress,2026-10-01T08:00:00Z
"
        ),
    );
    ingest::ingest(&config, &lake, std::slice::from_ref(&day2)).unwrap();
    let report = ingest::ingest(&config, &lake, &[day1]).unwrap();
    assert_eq!(
        (loaded(&report).rows_replaced, loaded(&report).rows_stale),
        (0, 1)
    );
    assert_eq!(
        query_strings(&lake, "select status, _export_date::varchar from tickets"),
        vec![vec!["complete", "2026-10-02"]]
    );
}

// --- lake layout ----------------------------------------------------------------------------

fn folder_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn snapshot_and_attempt_rows_land_in_one_hive_folder_per_day() {
    let dir = TempDir::new().unwrap();
    let lake = lake_with_tenants(dir.path());
    let devices = write(
        dir.path(),
        "devices.csv",
        &format!(
            "{DEVICES_HEADER}\n2026-10-30,acme,d1,PC1,workstation,,,,,,\n2026-10-31,acme,d1,PC1,workstation,,,,,,\n"
        ),
    );
    let attempts = write(
        dir.path(),
        "patch_attempts.csv",
        "attempt_utc,tenant_id,device_id,patch_id,result\n\
         2026-10-30T23:59:59Z,acme,d1,KB1,failure\n2026-10-31T00:00:00Z,acme,d1,KB1,success\n",
    );
    ingest::ingest(&Config::default(), &lake, &[devices, attempts]).unwrap();
    assert_eq!(
        folder_names(&lake.table_dir("devices")),
        vec!["snapshot_date=2026-10-30", "snapshot_date=2026-10-31"]
    );
    // An attempt's day is its UTC calendar day; the folder is named for the day, the column
    // inside the file keeps the instant.
    assert_eq!(
        folder_names(&lake.table_dir("patch_attempts")),
        vec!["attempt_date=2026-10-30", "attempt_date=2026-10-31"]
    );
    assert_eq!(
        folder_names(&lake.table_dir("patch_attempts").join("attempt_date=2026-10-31")),
        vec!["patch_attempts-2026-10-31.parquet"]
    );
    assert_eq!(
        query_strings(
            &lake,
            "select result, attempt_utc::varchar from patch_attempts order by 2"
        ),
        vec![
            vec!["failure", "2026-10-30 23:59:59"],
            vec!["success", "2026-10-31 00:00:00"]
        ]
    );
    // DuckDB reads the folders as they are, with no column added from their names.
    let columns = query_strings(&lake, "select count(*)::varchar from (describe patch_attempts)");
    assert_eq!(
        columns,
        vec![vec!["11"]],
        "8 canonical columns and 3 lineage columns (file, line, export date)"
    );
}

#[test]
fn a_partition_day_before_2000_or_over_a_year_ahead_is_quarantined_out_of_range_not_a_folder() {
    let dir = TempDir::new().unwrap();
    let lake = lake_with_tenants(dir.path());
    // The file says it describes 2026-10-31: a day up to 2027-10-31 is accepted (and the
    // ingest date, if later, widens the window too); 2062 is a typo, 1601 the Windows zero date.
    let devices = write(
        dir.path(),
        "devices_2026-10-31.csv",
        &format!(
            "{DEVICES_HEADER}\n2026-10-31,acme,d1,PC1,workstation,,,,,,\n1601-01-01,acme,d2,PC2,workstation,,,,,,\n\
             2062-10-31,acme,d3,PC3,workstation,,,,,,\n1999-12-31,acme,d4,PC4,workstation,,,,,,\n\
             2000-01-01,acme,d5,PC5,workstation,,,,,,\n"
        ),
    );
    let report = ingest::ingest(&Config::default(), &lake, &[devices]).unwrap();
    let Outcome::Loaded(loaded) = &report.files[0].outcome else {
        panic!("{report:?}")
    };
    assert_eq!((loaded.rows_loaded, loaded.rows_quarantined), (2, 3));
    assert_eq!(loaded.reasons.get("out_of_range"), Some(&3));
    assert_eq!(
        query_strings(
            &lake,
            "select line::varchar, column_name, value, reason from quarantine order by line"
        ),
        vec![
            vec!["3", "snapshot_date", "1601-01-01", "out_of_range"],
            vec!["4", "snapshot_date", "2062-10-31", "out_of_range"],
            vec!["5", "snapshot_date", "1999-12-31", "out_of_range"],
        ]
    );
    assert_eq!(
        folder_names(&lake.table_dir("devices")),
        vec!["snapshot_date=2000-01-01", "snapshot_date=2026-10-31"]
    );
}

#[test]
fn the_ledger_and_quarantine_are_appended_a_file_per_ingest_and_compacted_when_many() {
    let dir = TempDir::new().unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let config = Config::default();
    // Each file has one good and one bad row: one ledger line and one quarantine row apiece.
    let mut first_files: Vec<(PathBuf, String)> = Vec::new();
    for i in 0..70 {
        let file = write(
            dir.path(),
            &format!("tenants_{i}.csv"),
            &format!("tenant_id,tenant_name,criticality\nt{i},Tenant {i},standard\nbad{i},Bad,urgent\n"),
        );
        ingest::ingest(&config, &lake, &[file]).unwrap();
        let ledger_files = lake.table_files("ingest_ledger").unwrap().len();
        assert!(
            ledger_files <= 65,
            "{ledger_files} ledger files after {} ingests",
            i + 1
        );
        // Appended, not rewritten: the second ingest adds a file of its own to each log and
        // leaves the first ingest's files as they were.
        if i == 0 {
            first_files = lake_file_digests(&lake)
                .into_iter()
                .filter(|(p, _)| {
                    p.to_string_lossy().contains("ingest_ledger")
                        || p.to_string_lossy().contains("quarantine")
                })
                .collect();
            assert_eq!(first_files.len(), 2);
        }
        if i == 1 {
            assert_eq!(lake.table_files("ingest_ledger").unwrap().len(), 2);
            assert_eq!(lake.table_files("quarantine").unwrap().len(), 2);
            for (path, digest) in &first_files {
                assert_eq!(&govpack::files::sha256_hex(&fs::read(path).unwrap()), digest);
            }
        }
    }
    assert!(lake.table_files("ingest_ledger").unwrap().len() < 70);
    assert!(lake.table_files("quarantine").unwrap().len() < 70);
    assert_eq!(count(&lake, "ingest_ledger"), 70);
    assert_eq!(count(&lake, "quarantine"), 70);
    assert_eq!(
        count(&lake, "(select distinct source_sha256 from ingest_ledger)"),
        70,
        "no ledger line lost or doubled by compaction"
    );
    // Every file is still known: ingesting them all again skips each one.
    let again = ingest::ingest(&config, &lake, &[dir.path().to_path_buf()]).unwrap();
    assert_eq!(again.skipped(), 70);
}

#[test]
fn a_file_larger_than_a_chunk_loads_whole_and_finds_duplicates_across_chunks() {
    use govpack::sources::canonical_csv::CHUNK_ROWS;
    let dir = TempDir::new().unwrap();
    let lake = lake_with_tenants(dir.path());
    let rows = CHUNK_ROWS + 10;
    let mut csv = String::from("snapshot_date,tenant_id,device_id,patch_id,classification,approval,state\n");
    for i in 0..rows {
        csv.push_str(&format!("2026-10-01,acme,d{i},KB1,security,approved,installed\n"));
    }
    // The first row again, in the second chunk: line 2's key, refused as line 2 is kept.
    csv.push_str("2026-10-01,acme,d0,KB1,security,approved,missing\n");
    let file = write(dir.path(), "patch_status_big.csv", &csv);
    let report = ingest::ingest(&Config::default(), &lake, &[file]).unwrap();
    let Outcome::Loaded(loaded) = &report.files[0].outcome else {
        panic!("{report:?}")
    };
    assert_eq!(loaded.rows_read, rows as u64 + 1);
    assert_eq!((loaded.rows_loaded, loaded.rows_quarantined), (rows as u64, 1));
    assert_eq!(
        query_strings(&lake, "select line::varchar, reason, detail from quarantine"),
        vec![vec![
            (rows + 2).to_string(),
            "duplicate_key".to_string(),
            "same natural key as line 2, which is kept".to_string()
        ]]
    );
    // A new day takes the chunks' files as they are: no rewrite of what was just written.
    let day = lake.table_dir("patch_status").join("snapshot_date=2026-10-01");
    assert_eq!(
        folder_names(&day),
        vec![
            "patch_status-2026-10-01-0001.parquet",
            "patch_status-2026-10-01-0002.parquet"
        ]
    );
    assert_eq!(count(&lake, "patch_status"), rows as i64);
    assert_eq!(
        query_strings(
            &lake,
            "select state, _source_line::varchar from patch_status where device_id = 'd0'"
        ),
        vec![vec!["installed", "2"]]
    );

    // A corrected export of the same day merges into it by key: one file, nothing lost.
    let fix = write(
        dir.path(),
        "patch_status_fix.csv",
        "snapshot_date,tenant_id,device_id,patch_id,classification,approval,state\n\
         2026-10-01,acme,d0,KB1,security,approved,failed\n2026-10-01,acme,new,KB1,security,approved,missing\n",
    );
    let report = ingest::ingest(&Config::default(), &lake, &[fix]).unwrap();
    let Outcome::Loaded(loaded) = &report.files[0].outcome else {
        panic!("{report:?}")
    };
    assert_eq!((loaded.rows_loaded, loaded.rows_replaced), (2, 1));
    assert_eq!(folder_names(&day), vec!["patch_status-2026-10-01.parquet"]);
    // Merged on disk by DuckDB, still in the profile Power BI reads.
    common::assert_power_bi_profile(&day.join("patch_status-2026-10-01.parquet"));
    assert_eq!(count(&lake, "patch_status"), rows as i64 + 1);
    assert_eq!(
        query_strings(&lake, "select state from patch_status where device_id = 'd0'"),
        vec![vec!["failed"]]
    );
}

#[test]
fn a_file_of_more_than_a_chunk_of_refused_rows_reaches_the_quarantine_whole() {
    use govpack::sources::canonical_csv::CHUNK_ROWS;
    let dir = TempDir::new().unwrap();
    let lake = lake_with_tenants(dir.path());
    let rows = CHUNK_ROWS + 5;
    let mut csv = String::from("snapshot_date,tenant_id,device_id,patch_id,classification,approval,state\n");
    csv.push_str("2026-10-01,acme,good,KB1,security,approved,installed\n");
    for i in 0..rows {
        csv.push_str(&format!("2026-10-01,acme,d{i},KB1,hotfix,approved,installed\n"));
    }
    let file = write(dir.path(), "patch_status_bad.csv", &csv);
    let report = ingest::ingest(&Config::default(), &lake, &[file]).unwrap();
    let Outcome::Loaded(loaded) = &report.files[0].outcome else {
        panic!("{report:?}")
    };
    assert_eq!((loaded.rows_loaded, loaded.rows_quarantined), (1, rows as u64));
    assert_eq!(loaded.reasons.get("invalid_enum"), Some(&(rows as u64)));
    assert_eq!(count(&lake, "quarantine"), rows as i64);
    // Written a chunk at a time: one quarantine file per chunk, all of them committed.
    assert_eq!(lake.table_files("quarantine").unwrap().len(), 2);
    assert_eq!(
        query_strings(
            &lake,
            "select min(line)::varchar, max(line)::varchar from quarantine"
        ),
        vec![vec!["3".to_string(), (rows + 2).to_string()]]
    );
}

#[test]
fn staged_rows_that_are_never_committed_leave_the_lake_as_it_was() {
    let dir = TempDir::new().unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let tenants = write(dir.path(), "tenants.csv", TENANTS);
    ingest::ingest(&Config::default(), &lake, &[tenants]).unwrap();
    let before = lake_file_digests(&lake);

    let mut batch = govpack::canonical::Batch::new(&govpack::canonical::TENANTS, "late.csv");
    batch.push_row(
        vec![
            govpack::canonical::Value::Text("gamma".into()),
            govpack::canonical::Value::Text("Gamma plc".into()),
            govpack::canonical::Value::Text("low".into()),
            govpack::canonical::Value::Null,
            govpack::canonical::Value::Null,
        ],
        2,
    );
    let mut staging = lake.staging().unwrap();
    lake.stage(&mut staging, batch).unwrap();
    // The ingest failed before committing (an unreadable row further on, a full disk).
    drop(staging);
    assert_eq!(lake_file_digests(&lake), before);
    assert_eq!(count(&lake, "tenants"), 2);
    assert_eq!(
        folder_names(&dir.path().join("lake/.staging")),
        Vec::<String>::new()
    );
}

#[test]
fn a_lake_written_in_the_month_file_layout_is_converted_on_open_and_loses_nothing() {
    // tests/fixtures/lake-v1 was written by govpack before day partitions (commit a2b0ca1), from
    // tests/fixtures/lake-v1-input/: one Parquet file per table and month.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lake-v1");
    let dir = TempDir::new().unwrap();
    let root = dir.path().join("lake");
    copy_tree(&fixture, &root);
    assert!(root.join("patch_status/patch_status-2026-09.parquet").exists());

    let lake = Lake::open(&root).unwrap();
    for table in [
        "devices",
        "device_patch_summary",
        "patch_status",
        "patch_attempts",
    ] {
        let top_level: Vec<String> = folder_names(&lake.table_dir(table))
            .into_iter()
            .filter(|n| n.ends_with(".parquet"))
            .collect();
        assert_eq!(top_level, Vec::<String>::new(), "{table} keeps no month file");
    }
    assert_eq!(
        folder_names(&lake.table_dir("patch_status")),
        vec![
            "snapshot_date=2026-09-30",
            "snapshot_date=2026-10-01",
            "snapshot_date=2026-10-02"
        ]
    );
    assert_eq!(
        folder_names(&lake.table_dir("patch_attempts")),
        vec!["attempt_date=2026-09-30", "attempt_date=2026-10-01"]
    );
    let expected = [
        ("tenants", 2),
        ("devices", 5),
        ("patch_status", 7),
        ("device_patch_summary", 3),
        ("patch_attempts", 3),
        ("tickets", 1),
        ("quarantine", 1),
        ("ingest_ledger", 6),
    ];
    for (table, rows) in expected {
        assert_eq!(count(&lake, table), rows, "{table}");
    }
    let day = "select device_id, patch_id, state, _source_file, _source_line::varchar
               from patch_status where snapshot_date = date '2026-10-01' order by 1, 2";
    assert_eq!(
        query_strings(&lake, day),
        vec![
            vec!["d1", "KB5001", "missing", "patch_status.csv", "4"],
            vec!["d1", "KB5002", "installed", "patch_status.csv", "5"],
            vec!["d2", "KB5001", "installed", "patch_status.csv", "6"],
        ]
    );
    // Opening again changes nothing, and the ledger still knows every input file.
    let digests = lake_file_digests(&lake);
    let lake = Lake::open(&root).unwrap();
    assert_eq!(lake_file_digests(&lake), digests);
    let input = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lake-v1-input");
    let again = ingest::ingest(&Config::default(), &lake, &[input]).unwrap();
    assert_eq!(again.skipped(), 6, "{again:?}");
}

#[test]
fn bench_measures_every_step_on_a_generated_msp_and_leaves_a_lake_holding_all_of_it() {
    let dir = TempDir::new().unwrap();
    let out = govpack(
        dir.path(),
        &["bench", "--devices", "150", "--days", "2", "--work", "work"],
    );
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    for step in [
        "| reference: DuckDB alone, CSV -> Parquet with the canonical types |",
        "| reference: every KPI over DuckDB's Parquet |",
        "| ingest 2026-10-01 (empty lake) |",
        "| ingest 2026-10-02 (lake of 1 day(s)) |",
        "| kpi, every KPI of the period |",
        "| a 100-row file into the full lake | 100 |",
        // Each ratio on its own, so a fast step never hides a slow one.
        "x DuckDB converting the same files to Parquet",
        "x the same SQL over DuckDB's Parquet",
        "last day / first day:",
    ] {
        assert!(text.contains(step), "{step} missing from:\n{text}");
    }
    // Every generated row is in the lake: 150 devices x 25 patches x 2 days, nothing refused.
    let lake = Lake::open(&dir.path().join("work/lake")).unwrap();
    assert_eq!(count(&lake, "patch_status"), 7500);
    assert_eq!(count(&lake, "devices"), 300);
    assert_eq!(count(&lake, "tickets"), 100);
    assert_eq!(count(&lake, "quarantine"), 0);
    // The KPIs ran over it: the portfolio's compliance is a rate, over every non-excluded device.
    let compliance = query_strings(
        &lake,
        "select denominator::varchar, (value between 0 and 1)::varchar from kpi_summary
         where kpi_id = 'patch_compliance_rate' and tenant_id is null and policy_tier is null
           and device_class is null and age_bucket is null",
    );
    assert_eq!(compliance.len(), 1, "{compliance:?}");
    assert_eq!(compliance[0][1], "true");
    let devices: f64 = compliance[0][0].parse().unwrap();
    assert!(
        (140.0..=150.0).contains(&devices),
        "{devices} non-excluded devices of 150"
    );
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn exceptions_with_empty_device_and_patch_are_one_key_per_tenant_and_approval() {
    let dir = TempDir::new().unwrap();
    let lake = lake_with_tenants(dir.path());
    let header = "tenant_id,device_id,patch_id,reason,approved_by,approved_utc,expires_utc";
    let a = write(
        dir.path(),
        "exceptions_a.csv",
        &format!("{header}\nacme,,,all,CIO,2026-10-01T00:00:00Z,\n"),
    );
    let b = write(
        dir.path(),
        "exceptions_b.csv",
        &format!("{header}\nacme,,,all (extended),CIO,2026-10-01T00:00:00Z,2026-12-31T00:00:00Z\n"),
    );
    ingest::ingest(&Config::default(), &lake, &[a, b]).unwrap();
    assert_eq!(
        query_strings(&lake, "select reason from exceptions"),
        vec![vec!["all (extended)"]]
    );
}

// --- policy tiers ---------------------------------------------------------------------------

#[test]
fn devices_without_a_policy_tier_get_one_from_the_rules_and_their_tenants_criticality() {
    let dir = TempDir::new().unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let tenants = write(dir.path(), "tenants.csv", TENANTS);
    let devices = write(
        dir.path(),
        "devices.csv",
        &format!(
            "{DEVICES_HEADER}\n2026-10-05,acme,s1,SRV1,server,sql,,,,,\n2026-10-05,beta,s2,SRV2,server,sql,,,,,\n\
             2026-10-05,beta,dc,DC1,server,domain_controller,,,,,\n2026-10-05,beta,w1,PC1,workstation,,gold,,,,\n\
             2026-10-05,ghost,w2,PC2,workstation,,,,,,\n"
        ),
    );
    // Devices listed first: tenants still load first, so acme's criticality is known.
    let report = ingest::ingest(&Config::default(), &lake, &[devices, tenants]).unwrap();
    let Outcome::Loaded(loaded) = &report.files[1].outcome else {
        panic!("{report:?}")
    };
    // A device of a tenant no tenants row has counts for no client: quarantined, not tiered.
    assert_eq!(loaded.reasons.get("unknown_tenant"), Some(&1));
    assert_eq!(
        query_strings(&lake, "select device_id, policy_tier from devices order by 1"),
        vec![
            vec!["dc", "critical_servers"],
            vec!["s1", "critical_servers"],
            vec!["s2", "servers"],
            vec!["w1", "gold"],
        ]
    );
}

// --- atomic writes --------------------------------------------------------------------------

#[test]
fn a_failed_write_leaves_the_previous_lake_file_readable_and_no_partial_file_visible() {
    let dir = TempDir::new().unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let file = write(dir.path(), "tenants.csv", TENANTS);
    ingest::ingest(&Config::default(), &lake, &[file]).unwrap();
    let path = lake.table_dir("tenants").join("tenants.parquet");
    let before = fs::read(&path).unwrap();

    let result = govpack::files::write_atomic(&path, |f| {
        use std::io::Write;
        f.write_all(&before[..before.len() / 2])?;
        anyhow::bail!("disk full (simulated)")
    });
    assert!(result.unwrap_err().to_string().contains("tenants.parquet"));
    assert_eq!(fs::read(&path).unwrap(), before);
    let leftovers: Vec<_> = fs::read_dir(lake.table_dir("tenants"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("tenants.parquet")]);
    assert_eq!(count(&lake, "tenants"), 2);
}

// --- encodings ------------------------------------------------------------------------------

#[test]
fn utf8_with_bom_and_utf16le_with_bom_load_the_same_rows_as_plain_utf8() {
    let text = "tenant_id,tenant_name\nzürich,Zürich Zahnärzte AG\nmalmö,Malmö Tandvård\n";
    let mut utf8_bom = vec![0xEF, 0xBB, 0xBF];
    utf8_bom.extend(text.as_bytes());
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let mut results = Vec::new();
    for bytes in [text.as_bytes().to_vec(), utf8_bom, utf16] {
        let dir = TempDir::new().unwrap();
        fs::write(dir.path().join("tenants.csv"), bytes).unwrap();
        let lake = Lake::open(&dir.path().join("lake")).unwrap();
        ingest::ingest(&Config::default(), &lake, &[dir.path().join("tenants.csv")]).unwrap();
        results.push(query_strings(
            &lake,
            "select tenant_id, tenant_name from tenants order by 1",
        ));
    }
    assert_eq!(
        results[0],
        vec![
            vec!["malmö", "Malmö Tandvård"],
            vec!["zürich", "Zürich Zahnärzte AG"]
        ]
    );
    assert_eq!(results[1], results[0]);
    assert_eq!(results[2], results[0]);
}

#[test]
fn a_file_that_is_not_utf8_is_refused_naming_file_line_and_column() {
    let dir = TempDir::new().unwrap();
    fs::write(
        dir.path().join("tenants.csv"),
        b"tenant_id,tenant_name\nacme,Caf\xE9 Ltd\n",
    )
    .unwrap();
    let out = govpack(dir.path(), &["--lake", "lake", "ingest", "tenants.csv"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("tenants.csv:2:9: byte 0xE9 is not UTF-8"),
        "{}",
        stderr(&out)
    );
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    assert_eq!(count(&lake, "tenants"), 0);
    assert_eq!(count(&lake, "ingest_ledger"), 0);
}

// --- the Parquet profile --------------------------------------------------------------------

#[test]
fn lake_files_use_the_power_bi_profile_micros_utc_signed_snappy_v1_pages() {
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    sample::write(&small_spec(7), &data).unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let report = ingest::ingest(&Config::default(), &lake, &[data]).unwrap();
    assert_eq!(report.failed(), 0);
    let files = lake_file_digests(&lake);
    assert!(files.len() >= 10, "{files:?}");
    let timestamps: usize = files
        .iter()
        .map(|(path, _)| common::assert_power_bi_profile(path))
        .sum();
    assert!(timestamps > 0);
}

// --- the generator --------------------------------------------------------------------------

fn small_spec(seed: u64) -> SampleSpec {
    SampleSpec {
        tenants: 3,
        devices: 24,
        months: 2,
        seed,
        until: chrono::NaiveDate::from_ymd_opt(2026, 10, 31).unwrap(),
    }
}

fn folder_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn the_generator_gives_the_same_bytes_for_the_same_seed_and_other_bytes_for_another() {
    let dir = TempDir::new().unwrap();
    for (name, seed) in [("a", 11), ("b", 11), ("c", 12)] {
        let out = govpack(
            dir.path(),
            &[
                "sample",
                "--out",
                name,
                "--tenants",
                "3",
                "--devices",
                "24",
                "--months",
                "2",
                "--seed",
                &seed.to_string(),
                "--until",
                "2026-10-31",
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let a = folder_bytes(&dir.path().join("a"));
    assert_eq!(
        a.len(),
        12,
        "eight tables, the KEV catalog and three months of CVRF documents"
    );
    assert_eq!(a, folder_bytes(&dir.path().join("b")));
    assert_ne!(a, folder_bytes(&dir.path().join("c")));
}

#[test]
fn the_generated_msp_is_valid_canonical_data_with_every_feature_the_kpis_need() {
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    sample::write(&sample::committed_spec(), &data).unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let report = ingest::ingest(&Config::default(), &lake, &[data]).unwrap();
    assert_eq!((report.failed(), report.total(|l| l.rows_quarantined)), (0, 0));
    let one = |sql_text: &str| query_strings(&lake, sql_text)[0][0].clone();
    // Each of these is something a KPI or an edge case of the spec must meet in the sample.
    let checks = [
        (
            "criticalities",
            "select count(distinct criticality)::varchar from tenants",
            "4",
        ),
        (
            "device classes",
            "select count(distinct device_class)::varchar from devices",
            "3",
        ),
        ("rings", "select count(distinct ring)::varchar from devices", "4"),
        (
            "patch states",
            "select count(distinct state)::varchar from patch_status",
            "5",
        ),
        (
            "summary statuses >= 3",
            "select (count(distinct status) >= 3)::varchar from device_patch_summary",
            "true",
        ),
        (
            "unknown release dates",
            "select (count(*) > 0)::varchar from patch_status where release_date is null",
            "true",
        ),
        (
            "excluded devices",
            "select (count(*) > 0)::varchar from devices where excluded",
            "true",
        ),
        (
            "do-not-patch devices",
            "select (count(*) > 0)::varchar from devices where patch_policy = 'do_not_patch'",
            "true",
        ),
        (
            "stale devices",
            "select (count(*) > 0)::varchar from devices where last_seen_utc < snapshot_date - interval 7 day",
            "true",
        ),
        (
            "recurring failures",
            "select (count(*) > 0)::varchar from (select device_id, patch_id from patch_attempts where result = 'failure' group by all having count(*) >= 3)",
            "true",
        ),
        (
            "tickets with SLA breach",
            "select (count(*) > 0)::varchar from tickets where ticket_type = 'remediation' and resolved_utc > due_utc",
            "true",
        ),
        (
            "change types",
            "select count(distinct change_type)::varchar from changes",
            "3",
        ),
        (
            "change outcomes >= 5",
            "select (count(distinct outcome) >= 5)::varchar from changes",
            "true",
        ),
        (
            "rollbacks",
            "select (count(*) > 0)::varchar from changes where rollback_attempted",
            "true",
        ),
        (
            "CAB gaps",
            "select (count(*) > 0)::varchar from changes where risk <> 'low' and (cab_decision <> 'approved' or cab_decided_utc > actual_start_utc)",
            "true",
        ),
        (
            "tenant-wide exception",
            "select (count(*) > 0)::varchar from exceptions where device_id is null",
            "true",
        ),
        (
            "expiring exceptions",
            "select (count(*) > 0)::varchar from exceptions where expires_utc is not null",
            "true",
        ),
        (
            "pilot installs",
            "select (count(*) > 0)::varchar from patch_attempts a join devices d using (tenant_id, device_id) where d.ring = 'pilot' and a.result = 'success'",
            "true",
        ),
    ];
    for (what, sql_text, expected) in checks {
        assert_eq!(one(sql_text), expected, "{what}: {sql_text}");
    }
    // October's KPIs find KEV exposure, one device past its deadline, and something to test and
    // something to flag in each workflow control with a population then (C13's emergency changes
    // closed in September).
    govpack::kpi::compute(
        &Config::default(),
        &lake,
        govpack::calendar::Period::month(2026, 10).unwrap(),
    )
    .unwrap();
    let october = |kpi: &str| {
        one(&format!(
            "select value::varchar from kpi_summary where kpi_id = '{kpi}' and tenant_id is null
               and period_start = '2026-10-01'"
        ))
    };
    assert_eq!(
        (october("kev_exposed_devices"), october("kev_overdue_devices")),
        ("4.0".to_string(), "1.0".to_string())
    );
    for control in [
        "deployment_tickets",
        "retry_root_causes",
        "driver_approvals",
        "pending_reviews",
        "daytime_reboots",
    ] {
        assert_eq!(
            one(&format!(
                "select (count(*) > 0 and bool_or(exception))::varchar from {control}
                 where period_start = '2026-10-01'"
            )),
            "true",
            "{control}"
        );
    }
}

#[test]
fn the_committed_sample_data_is_what_the_generator_makes() {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data");
    let dir = TempDir::new().unwrap();
    sample::write(&sample::committed_spec(), dir.path()).unwrap();
    let made = folder_bytes(dir.path());
    let on_disk: Vec<_> = folder_bytes(&committed)
        .into_iter()
        .filter(|(n, _)| n.ends_with(".csv") || n.ends_with(".json"))
        .collect();
    assert_eq!(
        made.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        on_disk.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    assert!(
        made == on_disk,
        "sample_data/ is stale: regenerate it with the command in sample_data/README.md"
    );
    // The vendor-shaped set holds the vendor files of the same MSP.
    let vendor = TempDir::new().unwrap();
    sample::write_as(
        &sample::committed_spec(),
        vendor.path(),
        sample::SampleFormat::Vendor,
    )
    .unwrap();
    let made: Vec<_> = folder_bytes(vendor.path())
        .into_iter()
        .filter(|(n, _)| n.starts_with("autotask_") || n.starts_with("datto_rmm_"))
        .collect();
    assert!(
        made == folder_bytes(&committed.join("vendor")),
        "sample_data/vendor/ is stale: regenerate it with the command in sample_data/README.md"
    );
}

// --- the CLI --------------------------------------------------------------------------------

#[test]
fn demo_runs_end_to_end_into_a_folder_duckdb_reads() {
    let dir = TempDir::new().unwrap();
    let out = govpack(dir.path(), &["demo", "--out", "demo"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    // The eight tables, the KEV catalog and four months of CVRF documents.
    assert!(text.contains("13 loaded, 0 skipped, 0 failed"), "{text}");
    assert!(text.contains("The lake, as DuckDB reads it"), "{text}");

    let conn = duckdb::Connection::open_in_memory().unwrap();
    let glob = dir.path().join("demo/lake/patch_status/*/*.parquet");
    let n: i64 = conn
        .query_row(
            &format!("select count(*) from read_parquet('{}')", glob.display()),
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(n > 0);

    // The full pack of the latest sample month: the portfolio's, and one tenant's bundle that
    // verifies against its manifest.
    let month = dir.path().join("demo/reports/2026-10");
    for file in [
        "kpi-and-risk-register.xlsx",
        "failure-patterns-2026-10.xlsx",
        "proof-brief.pdf",
        "exec-brief.pptx",
        "implementation-runbook.docx",
    ] {
        assert!(
            month.join(file).is_file(),
            "{file} missing from the portfolio pack"
        );
        // A report handed round on its own is the very file the bundle's manifest lists.
        assert_eq!(
            std::fs::read(month.join(file)).unwrap(),
            std::fs::read(month.join("evidence-portfolio-2026-10").join(file)).unwrap(),
            "{file} differs from the bundle's copy"
        );
    }
    let portfolio = month.join("evidence-portfolio-2026-10");
    let tenant_bundle = std::fs::read_dir(&month)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir() && p != &portfolio)
        .and_then(|tenant| {
            std::fs::read_dir(tenant)
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| p.is_dir())
        })
        .expect("one tenant's evidence bundle");
    for bundle in [&portfolio, &tenant_bundle] {
        let verify = govpack(dir.path(), &["verify", bundle.to_str().unwrap()]);
        assert_eq!(
            verify.status.code(),
            Some(0),
            "{}{}",
            stdout(&verify),
            stderr(&verify)
        );
        assert!(bundle.join("proof-brief.pdf").is_file());
    }

    // A mistyped tenant is a usage error naming it, never an empty pack that reads as clean.
    let typo = govpack(
        dir.path(),
        &["--lake", "demo/lake", "report", "--tenant", "2968350"],
    );
    assert_eq!(typo.status.code(), Some(2), "{}", stdout(&typo));
    assert!(
        stderr(&typo).contains("no tenant \"2968350\""),
        "{}",
        stderr(&typo)
    );
    assert!(!dir.path().join("reports").exists());

    let again = govpack(dir.path(), &["demo", "--out", "demo"]);
    assert_eq!(again.status.code(), Some(0));
    assert!(
        stdout(&again).contains("0 loaded, 13 skipped, 0 failed"),
        "{}",
        stdout(&again)
    );
}

#[test]
fn demo_over_the_vendor_shaped_sample_prints_the_same_scorecard() {
    let dir = TempDir::new().unwrap();
    let scorecard = |args: &[&str]| {
        let out = govpack(dir.path(), args);
        assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
        let text = stdout(&out);
        let start = text.find("Portfolio scorecard").expect("a scorecard");
        text[start..]
            .lines()
            .take_while(|l| !l.starts_with("KPI outputs"))
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let canonical = scorecard(&["demo", "--out", "canonical"]);
    let vendor = scorecard(&["demo", "--vendor", "--out", "vendor"]);
    assert!(canonical.len() > 20, "{canonical:?}");
    assert_eq!(canonical, vendor);
    // The same MSP in the other shape, into a demo lake: refused before anything is read, since
    // its tickets and changes would count twice.
    let ledger = |lake: &str| {
        std::fs::read_dir(dir.path().join(lake).join("ingest_ledger"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let before = ledger("canonical/lake");
    let mixed = govpack(dir.path(), &["demo", "--vendor", "--out", "canonical"]);
    assert_eq!(mixed.status.code(), Some(2), "{}", stdout(&mixed));
    assert!(
        stderr(&mixed).contains("govpack demo --vendor"),
        "{}",
        stderr(&mixed)
    );
    assert_eq!(ledger("canonical/lake"), before);
    let mixed = govpack(dir.path(), &["demo", "--out", "vendor"]);
    assert_eq!(mixed.status.code(), Some(2), "{}", stdout(&mixed));
}

#[test]
fn init_writes_a_config_that_loads_and_refuses_to_overwrite_it() {
    let dir = TempDir::new().unwrap();
    let out = govpack(dir.path(), &["init"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(dir.path().join("govpack.toml").is_file());
    assert!(dir.path().join("lake").is_dir());
    let again = govpack(dir.path(), &["init"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("already exists"));
}

#[test]
fn a_wrong_config_key_is_a_usage_error_that_names_it() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "govpack.toml", "[kpi]\nstale_days = 7\n");
    write(dir.path(), "tenants.csv", TENANTS);
    let out = govpack(dir.path(), &["ingest", "tenants.csv"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("govpack.toml") && err.contains("stale_days"),
        "{err}"
    );
}

#[test]
fn usage_errors_exit_2_and_every_command_has_help_with_an_example() {
    let dir = TempDir::new().unwrap();
    assert_eq!(govpack(dir.path(), &["frobnicate"]).status.code(), Some(2));
    assert_eq!(
        govpack(dir.path(), &["ingest", "no-such-file.csv"]).status.code(),
        Some(2)
    );
    // No lake here: the commands that read one say so, and create nothing.
    for args in [&["kpi"][..], &["report"], &["query", "select 1"], &["status"]] {
        let out = govpack(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&out).contains("no govpack lake at"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(!dir.path().join("lake").exists(), "{args:?} created a lake");
    }
    write(dir.path(), "tenants.csv", TENANTS);
    assert!(govpack(dir.path(), &["ingest", "tenants.csv"]).status.success());
    // A lake with no devices snapshot has no period to default to: ingest or name one.
    assert_eq!(govpack(dir.path(), &["kpi"]).status.code(), Some(2));
    // Nothing to report on before any KPI run: a usage error that says what to run.
    let report = govpack(dir.path(), &["report"]);
    assert_eq!(report.status.code(), Some(2));
    assert!(stderr(&report).contains("govpack kpi"), "{}", stderr(&report));
    let run = govpack(dir.path(), &["run", "daily", "--as-of", "31/10/2026"]);
    assert_eq!(run.status.code(), Some(2));
    assert!(stderr(&run).contains("--as-of"), "{}", stderr(&run));
    for cmd in [
        "init", "ingest", "kpi", "report", "query", "run", "status", "demo", "sample", "verify",
    ] {
        let help = govpack(dir.path(), &[cmd, "--help"]);
        assert_eq!(help.status.code(), Some(0));
        assert!(stdout(&help).contains("Example"), "{cmd} --help has no example");
    }
}

#[test]
fn govpack_config_prints_every_setting_in_effect_and_where_it_came_from() {
    let dir = TempDir::new().unwrap();
    write(
        dir.path(),
        "govpack.toml",
        "[mapping.autotask.change_fields]\noutcome = \"changeInfoField5\"\n\n[kpi]\nstale_after_days = 10\n",
    );
    let out = govpack(dir.path(), &["config"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for line in [
        "kpi.stale_after_days = 10    # file",
        "mapping.autotask.change_fields.outcome = \"changeInfoField5\"    # file",
        // The table's other keys keep their defaults.
        "mapping.autotask.change_fields.actual_end_utc = \"completedDate\"    # default",
        "kpi.pilot_soak_days = 7    # default",
    ] {
        assert!(text.lines().any(|l| l == line), "{line}\n{text}");
    }
    assert_eq!(
        text.lines().filter(|l| l.ends_with("# file")).count(),
        2,
        "{text}"
    );
}

#[test]
fn a_damaged_lake_file_is_an_error_naming_it_not_a_panic_and_changes_nothing() {
    let dir = TempDir::new().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data");
    let loaded = govpack(dir.path(), &["--lake", "lake", "ingest", data.to_str().unwrap()]);
    assert_eq!(loaded.status.code(), Some(0), "{}", stderr(&loaded));
    // The tenants file's footer overwritten, as a failing disk or a half-copied backup leaves it.
    let tenants = dir.path().join("lake/tenants/tenants.parquet");
    let mut bytes = fs::read(&tenants).unwrap();
    let n = bytes.len();
    for (i, b) in bytes[n - 300..n - 8].iter_mut().enumerate() {
        *b = (i * 37 % 251) as u8;
    }
    fs::write(&tenants, &bytes).unwrap();
    let ledger_before = lake_file_digests(&Lake::open(&dir.path().join("lake")).unwrap());

    write(
        dir.path(),
        "tenants_more.csv",
        "tenant_id,tenant_name\nzeta,Zeta plc\n",
    );
    let ingest = govpack(dir.path(), &["--lake", "lake", "ingest", "tenants_more.csv"]);
    assert_eq!(
        ingest.status.code(),
        Some(1),
        "{}{}",
        stdout(&ingest),
        stderr(&ingest)
    );
    let message = stderr(&ingest);
    assert!(
        message.contains("lake/tenants/tenants.parquet cannot be read") && message.contains("restore it"),
        "{message}"
    );
    assert!(!message.contains("panicked"), "{message}");
    assert_eq!(
        lake_file_digests(&Lake::open(&dir.path().join("lake")).unwrap()),
        ledger_before,
        "nothing written"
    );

    let kpi = govpack(dir.path(), &["--lake", "lake", "kpi", "--period", "2026-10"]);
    assert_eq!(kpi.status.code(), Some(1), "{}", stderr(&kpi));
    assert!(
        stderr(&kpi).contains("tenants.parquet cannot be read"),
        "{}",
        stderr(&kpi)
    );
}

#[test]
fn an_ingest_killed_half_way_through_its_commit_is_finished_by_the_next_command() {
    let dir = TempDir::new().unwrap();
    let lake = lake_with_tenants(dir.path());
    let before = count(&lake, "ingest_ledger");
    let devices = write(
        dir.path(),
        "devices_2026-10-05.csv",
        &format!(
            "{DEVICES_HEADER}\n2026-10-05,acme,d1,PC1,workstation,,,,,,\n2026-10-05,acme,d2,PC2,workstation,,,,,maybe,\n"
        ),
    );
    // The process dies after moving the day's rows in, before the quarantine and the ledger line.
    let killed = Command::new(env!("CARGO_BIN_EXE_govpack"))
        .args(["--lake", "lake", "ingest", devices.to_str().unwrap()])
        .current_dir(dir.path())
        .env("GOVPACK_FAULT_AFTER_COMMIT_STEPS", "1")
        .output()
        .unwrap();
    assert!(!killed.status.success());
    assert!(dir.path().join("lake/.commit-journal.json").exists());

    // The next command that can take the lock (here a query) finishes that commit first: the
    // rows, the refused row and the ledger line are there together.
    let query = govpack(
        dir.path(),
        &[
            "--lake",
            "lake",
            "query",
            "select count(*) from ingest_ledger",
            "--format",
            "csv",
        ],
    );
    assert_eq!(query.status.code(), Some(0), "{}", stderr(&query));
    assert!(
        stdout(&query).contains(&(before + 1).to_string()),
        "{}",
        stdout(&query)
    );
    assert!(!dir.path().join("lake/.commit-journal.json").exists());
    assert_eq!(count(&lake, "ingest_ledger"), before + 1);
    assert_eq!(count(&lake, "devices"), 1);
    assert_eq!(count(&lake, "quarantine"), 1);
    let other = write(
        dir.path(),
        "tenants_more.csv",
        "tenant_id,tenant_name\ngamma,Gamma plc\n",
    );
    let next = govpack(dir.path(), &["--lake", "lake", "ingest", other.to_str().unwrap()]);
    assert_eq!(next.status.code(), Some(0), "{}", stderr(&next));
    assert_eq!(count(&lake, "ingest_ledger"), before + 2);
    let again = govpack(
        dir.path(),
        &["--lake", "lake", "ingest", devices.to_str().unwrap()],
    );
    assert!(stdout(&again).contains("skipped"), "{}", stdout(&again));
}

#[test]
fn free_text_past_the_bound_is_cut_and_counted_an_identifier_past_it_is_quarantined() {
    let dir = TempDir::new().unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let huge_name = "Acme Dental ".repeat(450_000); // 5.4 MB
    let long_id = "t".repeat(600);
    let tenants = write(
        dir.path(),
        "tenants.csv",
        &format!("tenant_id,tenant_name\nacme,{huge_name}\n{long_id},Beta\ngamma,Gamma plc\n"),
    );
    let report = ingest::ingest(&Config::default(), &lake, &[tenants]).unwrap();
    let loaded: Vec<_> = report.loaded().collect();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].rows_loaded, 2);
    assert_eq!(loaded[0].reasons.get("text_too_long"), Some(&1));
    assert!(
        loaded[0]
            .warnings
            .iter()
            .any(|w| w == "1 text cell(s) longer than 32767 bytes were cut to that length: tenant_name (1)"),
        "{:?}",
        loaded[0].warnings
    );
    let name = govpack::sql::open(&lake)
        .unwrap()
        .query_row(
            "select length(tenant_name) from tenants where tenant_id = 'acme'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap();
    assert!((32_700..=32_767).contains(&name), "{name}");
    let quarantined = govpack::sql::open(&lake)
        .unwrap()
        .query_row(
            "select max(length(value)), max(length(detail)) from quarantine",
            [],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
        )
        .unwrap();
    assert!(
        quarantined.0 <= 1024 + 3 && quarantined.1 < 200,
        "{quarantined:?}"
    );
}

#[test]
fn a_file_with_a_hundred_thousand_stray_columns_gets_a_one_line_warning() {
    let dir = TempDir::new().unwrap();
    let lake = lake_with_tenants(dir.path());
    let extra: Vec<String> = (0..100_000).map(|i| format!("custom_field_{i}")).collect();
    let header = format!("{DEVICES_HEADER},{}", extra.join(","));
    let row = format!(
        "2026-10-05,acme,d1,PC1,workstation,,,,,,{}",
        ",".repeat(extra.len())
    );
    let devices = write(
        dir.path(),
        "devices_2026-10-05.csv",
        &format!("{header}\n{row}\n"),
    );
    let report = ingest::ingest(&Config::default(), &lake, &[devices]).unwrap();
    let warnings = &loaded(&report).warnings;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with(
            "100000 column(s) not in the canonical `devices` table were ignored: custom_field_0,"
        ),
        "{}",
        &warnings[0][..200.min(warnings[0].len())]
    );
    assert!(warnings[0].ends_with("and 99990 more"), "{}", warnings[0].len());
    assert!(warnings[0].len() < 1000, "{} bytes", warnings[0].len());
    assert_eq!(count(&lake, "devices"), 1);
}

#[test]
fn a_commit_a_killed_ingest_left_is_finished_from_any_working_directory() {
    let dir = TempDir::new().unwrap();
    let lake = lake_with_tenants(dir.path());
    let before = count(&lake, "ingest_ledger");
    let devices = write(
        dir.path(),
        "devices_2026-10-05.csv",
        &format!("{DEVICES_HEADER}\n2026-10-05,acme,d1,PC1,workstation,,,,,,\n"),
    );
    let killed = Command::new(env!("CARGO_BIN_EXE_govpack"))
        .args(["--lake", "lake", "ingest", devices.to_str().unwrap()])
        .current_dir(dir.path())
        .env("GOVPACK_FAULT_AFTER_COMMIT_STEPS", "1")
        .output()
        .unwrap();
    assert!(!killed.status.success());
    let journal = std::fs::read_to_string(dir.path().join("lake/.commit-journal.json")).unwrap();
    assert!(
        !journal.contains("\"lake/"),
        "the journal names paths inside the lake, not as the killed run spelt them: {journal}"
    );

    // The operator's next command runs from elsewhere, naming the lake another way.
    let elsewhere = dir.path().join("reports");
    std::fs::create_dir(&elsewhere).unwrap();
    let status = govpack(&elsewhere, &["--lake", "../lake", "query", "select 1"]);
    assert_eq!(status.status.code(), Some(0), "{}", stderr(&status));
    assert!(!dir.path().join("lake/.commit-journal.json").exists());
    assert_eq!(count(&lake, "ingest_ledger"), before + 1);
    assert_eq!(count(&lake, "devices"), 1);
    assert!(
        std::fs::read_dir(&elsewhere).unwrap().next().is_none(),
        "nothing was moved out of the lake"
    );
}

#[test]
fn an_older_commit_journal_with_paths_from_another_folder_moves_nothing_out_of_the_lake() {
    let dir = TempDir::new().unwrap();
    let lake = lake_with_tenants(dir.path());
    let ledger_before = lake_file_digests(&lake);
    // An older govpack's journal: a bare list of steps, paths as `--lake lake` spelt them from
    // the folder above; here they would resolve to the working directory's own files.
    let elsewhere = dir.path().join("reports");
    std::fs::create_dir_all(elsewhere.join("lake/.staging/x")).unwrap();
    std::fs::write(elsewhere.join("lake/.staging/x/devices-0.parquet"), "staged").unwrap();
    std::fs::write(
        dir.path().join("lake/.commit-journal.json"),
        r#"[{"Move":{"from":"lake/.staging/x/devices-0.parquet","to":"lake/devices/devices.parquet"}}]"#,
    )
    .unwrap();
    let refused = govpack(
        &elsewhere,
        &[
            "--lake",
            &dir.path().join("lake").to_string_lossy(),
            "query",
            "select 1",
        ],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("older govpack"), "{}", stderr(&refused));
    assert!(elsewhere.join("lake/.staging/x/devices-0.parquet").exists());
    assert_eq!(lake_file_digests(&lake), ledger_before, "nothing moved");
}

#[test]
fn a_date_option_outside_the_years_govpack_works_in_is_a_usage_error_not_a_panic() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "tenants.csv", TENANTS);
    for (args, flag) in [
        (vec!["status", "--as-of", "+262142-12-31"], "--as-of"),
        (vec!["run", "daily", "--as-of", "3000-01-01"], "--as-of"),
        (vec!["run", "monthly", "--as-of", "+262142-12-31"], "--as-of"),
        (
            vec!["ingest", "--snapshot-date", "99999-01-01", "tenants.csv"],
            "--snapshot-date",
        ),
        (
            vec!["kpi", "--from", "1999-12-31", "--to", "2026-10-31"],
            "--from",
        ),
        (vec!["kpi", "--period", "+2026-10"], "--period"),
    ] {
        let out = govpack(dir.path(), &[&["--lake", "lake"], args.as_slice()].concat());
        let message = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {message}");
        assert!(
            message.contains(flag) && !message.contains("panicked"),
            "{args:?}: {message}"
        );
    }
}

#[test]
fn query_only_reads_a_copy_to_or_a_second_statement_is_refused_and_writes_nothing() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "tenants.csv", TENANTS);
    let loaded = govpack(dir.path(), &["--lake", "lake", "ingest", "tenants.csv"]);
    assert_eq!(loaded.status.code(), Some(0), "{}", stderr(&loaded));
    let target = dir.path().join("lake/tenants/tenants.parquet");
    let before = fs::read(&target).unwrap();
    let over = format!("copy (select 1 as x) to '{}' (format parquet)", target.display());
    for sql in [
        over.clone(),
        format!("select 1; {over}"),
        "attach 'x.db' as x".to_string(),
        // Quoting a hand-written scanner misreads hides the `;` before a second statement.
        format!("select $a$ ; $a$ as q; {over}"),
        format!("select E'\\'' as q; {over}"),
        "select E'\\'' as q; attach 'x.db' as x".to_string(),
        // Not a statement that reads, whatever its first word.
        "sélect 1".to_string(),
        "select 1 as é; attach 'x.db' as x".to_string(),
    ] {
        let out = govpack(dir.path(), &["--lake", "lake", "query", &sql]);
        assert_eq!(out.status.code(), Some(2), "{sql}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{sql}: {}", stderr(&out));
    }
    // `--format parquet` once pasted the query into `copy (...) to`: a `) to 'file' --` in it
    // chose the file.
    let redirected = format!("select 1 as x) to '{}' (format parquet) --", target.display());
    let out = govpack(
        dir.path(),
        &[
            "--lake",
            "lake",
            "query",
            &redirected,
            "--format",
            "parquet",
            "--out",
            "r.parquet",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(fs::read(&target).unwrap(), before, "a lake file was overwritten");
    assert!(!dir.path().join("x.db").exists());
    assert!(!dir.path().join("r.parquet").exists());

    // A SELECT's result still goes to a Parquet file, written by govpack from the result.
    let out = govpack(
        dir.path(),
        &[
            "--lake",
            "lake",
            "query",
            "select tenant_id, 'é' as note from tenants order by 1 -- sorted",
            "--format",
            "parquet",
            "--out",
            "t.parquet",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let back = govpack(
        dir.path(),
        &[
            "--lake",
            "lake",
            "query",
            "select count(*) as n, min(note) as note from 't.parquet'",
            "--format",
            "csv",
        ],
    );
    assert_eq!(stdout(&back), "n,note\n2,é\n", "{}", stderr(&back));
    let out = govpack(
        dir.path(),
        &["--lake", "lake", "query", "select count(*) as n from tenants;"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_reader_that_goes_away_or_a_full_disk_ends_the_command_with_a_message_not_a_panic() {
    let dir = TempDir::new().unwrap();
    lake_with_tenants(dir.path());
    // `govpack status | head -1`: the reader has closed before govpack writes.
    let mut child = Command::new(env!("CARGO_BIN_EXE_govpack"))
        .args(["--lake", "lake", "query", "select * from range(100000)"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let closed = child.wait_with_output().unwrap();
    // Quietly, with what a shell reports for SIGPIPE: the command did stop there.
    assert_eq!(closed.status.code(), Some(141), "{}", stderr(&closed));
    assert!(stderr(&closed).is_empty(), "{}", stderr(&closed));
    assert!(!stderr(&closed).contains("panicked"), "{}", stderr(&closed));

    if Path::new("/dev/full").exists() {
        for args in [&["status"][..], &["query", "select 1"]] {
            let full = Command::new(env!("CARGO_BIN_EXE_govpack"))
                .args(["--lake", "lake"])
                .args(args)
                .current_dir(dir.path())
                .stdout(fs::File::create("/dev/full").unwrap())
                .output()
                .unwrap();
            let message = stderr(&full);
            assert_eq!(full.status.code(), Some(1), "{args:?}: {message}");
            assert!(
                message.contains("cannot write to standard output") && !message.contains("panicked"),
                "{args:?}: {message}"
            );
        }
    }
}

#[test]
fn queries_and_templates_come_from_beside_the_binary_or_from_the_binary_never_the_working_or_build_folder() {
    let dir = TempDir::new().unwrap();
    // An install elsewhere: the binary alone in its folder, the job started in another.
    let bin = dir.path().join("opt/govpack");
    fs::create_dir_all(&bin).unwrap();
    let installed = bin.join("govpack");
    if fs::hard_link(env!("CARGO_BIN_EXE_govpack"), &installed).is_err() {
        fs::copy(env!("CARGO_BIN_EXE_govpack"), &installed).unwrap();
    }
    let work = dir.path().join("work");
    fs::create_dir_all(work.join("data")).unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data");
    for entry in fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "csv") {
            fs::copy(&path, work.join("data").join(path.file_name().unwrap())).unwrap();
        }
    }
    // Folders of those names where the job happens to start are nobody's decision: ignored.
    fs::create_dir_all(work.join("queries")).unwrap();
    write(&work, "queries/compliance.sql", "this is not SQL;");
    fs::create_dir_all(work.join("report_templates")).unwrap();
    write(&work, "report_templates/proof_brief.toml", "not = [toml");
    let run = |args: &[&str]| {
        Command::new(&installed)
            .args(["--lake", "lake"])
            .args(args)
            .current_dir(&work)
            .env_remove("GOVPACK_QUERIES")
            .env_remove("GOVPACK_TEMPLATES")
            .env_remove("GOVPACK_LOG")
            .output()
            .unwrap()
    };
    assert!(run(&["ingest", "data"]).status.success());
    let kpi = run(&["kpi", "--period", "2026-10"]);
    assert!(kpi.status.success(), "{}", stderr(&kpi));
    let report = run(&["report", "--period", "2026-10", "--out", "packs"]);
    assert!(report.status.success(), "{}", stderr(&report));

    // A copy installed beside the binary is the MSP's: it is the one used.
    fs::create_dir_all(bin.join("queries")).unwrap();
    write(&bin, "queries/compliance.sql", "select 1 from no_such_table;");
    let kpi = run(&["kpi", "--period", "2026-10"]);
    assert!(!kpi.status.success());
    // The run stops at the first file the copy lacks or DuckDB refuses, named in the copy.
    let beside = bin.join("queries");
    assert!(
        stderr(&kpi).contains(&beside.display().to_string()),
        "{}",
        stderr(&kpi)
    );
    // Reports read queries/ too (queries/reports/): without that broken copy, the templates'.
    fs::remove_dir_all(bin.join("queries")).unwrap();
    fs::create_dir_all(bin.join("report_templates")).unwrap();
    write(&bin, "report_templates/proof_brief.toml", "title = [");
    let report = run(&["report", "--period", "2026-10", "--out", "packs"]);
    assert!(!report.status.success());
    // The folder in use is used whole: a file missing from it is named, not taken from elsewhere.
    assert!(
        stderr(&report).contains(&bin.join("report_templates").display().to_string()),
        "{}",
        stderr(&report)
    );
}
