//! Collectors against stand-ins on 127.0.0.1 that speak the vendors' APIs as documented (see
//! each `src/collect/<source>.rs` header): Datto RMM's token grant, `nextPageUrl` paging, a
//! token expiring mid-run (401), 429 with `Retry-After`, 5xx; CISA's catalog feed; MSRC's CVRF
//! documents and a month not yet published (404). Page bodies come from the vendor samples.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::Ordering;

use govpack::lake::Lake;
use tempfile::TempDir;

mod common;
#[path = "../examples/vendor_stand_in.rs"]
mod vendor_stand_in;

use vendor_stand_in::{
    AT_CODE, AT_SECRET, AT_USER, AZURE_CLIENT_ID, AZURE_SECRET, AutotaskQuirks, CLIENT_ID, CLIENT_SECRET,
    CLIENT_TENANTS, CW_BASIC, CW_CLIENT_ID, CW_PRIVATE, CW_PUBLIC, ENTRA_TENANT, KEY, ManageQuirks, Quirks,
    SECRET, WORKSPACE, WufbQuirks, fixture, last_month, this_month,
};

/// A working folder whose config collects `sources`, with the `[collect.*]` tables given, retrying
/// quickly.
fn working_folder(sources: &str, tables: &str) -> TempDir {
    let dir = TempDir::new().unwrap();
    fs::write(
        dir.path().join("govpack.toml"),
        format!(
            "[lake]\npath = \"lake\"\n[run]\ninbox = \"inbox\"\noutput = \"output\"\n{tables}\
             [collect]\nsources = [{sources}]\nretries = 3\nretry_backoff_ms = 50\ntimeout_seconds = 10\n"
        ),
    )
    .unwrap();
    dir
}

/// Runs govpack in `dir`, logging at trace level, with the credentials given.
fn govpack_with(dir: &Path, args: &[&str], credentials: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_govpack"))
        .args(args)
        .current_dir(dir)
        .env("GOVPACK_LOG", "trace")
        .env_remove("AUTOTASK_BASE_URL")
        .envs(credentials.iter().copied())
        .output()
        .expect("run govpack")
}

/// A working folder whose config collects the three sources from the stand-in.
fn msp(base: &str) -> TempDir {
    working_folder(
        "\"cisa-kev\", \"msrc-cvrf\", \"datto-rmm\"",
        &format!(
            "[collect.cisa_kev]\nurl = \"{base}/feeds/known_exploited_vulnerabilities.json\"\n\
             [collect.msrc_cvrf]\napi_url = \"{base}/cvrf/v3.0\"\nmonths = 2\n\
             [collect.datto_rmm]\napi_url = \"{base}\"\n"
        ),
    )
}

fn govpack(dir: &Path, args: &[&str]) -> Output {
    govpack_with(
        dir,
        args,
        &[
            ("GOVPACK_DATTO_RMM_API_KEY", KEY),
            ("GOVPACK_DATTO_RMM_API_SECRET", SECRET),
        ],
    )
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A query's rows, every column as text.
fn query(dir: &Path, sql: &str) -> Vec<Vec<String>> {
    common::query_strings(
        &Lake::open(&dir.join("lake")).unwrap(),
        &format!("select columns(*)::varchar from ({sql})"),
    )
}

fn all_files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(all_files_under(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

fn no_credential_in(what: &str, text: &str, tokens: usize) {
    for secret in [KEY.to_string(), SECRET.to_string()]
        .into_iter()
        .chain((1..=tokens).map(|n| format!("tok-{n}")))
    {
        assert!(!text.contains(&secret), "{what} holds `{secret}`");
    }
}

#[test]
fn a_daily_run_collects_every_page_through_throttling_and_an_expired_token_and_ingests_exactly_the_stand_ins_records()
 {
    // 601 devices over 4 pages of 200: the token expires after the second page, the first
    // request is throttled (429, Retry-After: 1) and the next answers 503.
    let api = vendor_stand_in::datto(
        601,
        200,
        Quirks {
            token_expires_after: Some(4),
            throttle_first: true,
            ..Quirks::default()
        },
    );
    let dir = msp(&api.base);
    let run = govpack(dir.path(), &["-vv", "run", "daily", "--dry-run"]);
    let output = text(&run);
    assert_eq!(run.status.code(), Some(0), "{output}");
    assert!(
        output.contains("collected datto-rmm devices: 601 record(s) in 4 page(s)"),
        "{output}"
    );
    assert!(
        output.contains(&format!(
            "absent    msrc-cvrf {}: not published yet",
            this_month()
        )),
        "{output}"
    );
    assert_eq!(api.grants.load(Ordering::SeqCst), 2, "one grant, one renewal");

    // Exactly the stand-in's records, under the site's client (its Autotask company).
    assert_eq!(
        query(
            dir.path(),
            "select tenant_id, count(*), count(distinct device_id), min(cast(_export_date as varchar)) from devices group by 1"
        ),
        [vec![
            "29683616".to_string(),
            "601".into(),
            "601".into(),
            chrono::Utc::now().date_naive().to_string()
        ]]
    );
    assert_eq!(
        query(dir.path(), "select tenant_name from tenants"),
        [vec!["Contoso Ltd".to_string()]]
    );
    assert_eq!(
        query(dir.path(), "select count(*) from device_patch_summary"),
        [vec!["601".to_string()]]
    );
    assert_eq!(
        query(dir.path(), "select count(*) from kev"),
        [vec!["3".to_string()]]
    );
    assert!(query(dir.path(), "select count(*) from patch_cves")[0][0] != "0");
    let october = fixture("vulnerability/msrc-cvrf-2026-Oct.json")["Vulnerability"]
        .as_array()
        .unwrap()
        .len()
        .to_string();
    let mut expected: Vec<Vec<String>> = [
        ["cisa-kev", "catalog", "collected", "1", "3"],
        ["datto-rmm", "alerts-open", "collected", "1", "1"],
        ["datto-rmm", "alerts-resolved", "collected", "1", "1"],
        ["datto-rmm", "devices", "collected", "4", "601"],
        ["datto-rmm", "sites", "collected", "1", "2"],
        ["msrc-cvrf", &this_month(), "absent", "0", "0"],
        ["msrc-cvrf", &last_month(), "collected", "1", &october],
    ]
    .iter()
    .map(|r| r.iter().map(|c| c.to_string()).collect())
    .collect();
    expected.sort();
    assert_eq!(
        query(
            dir.path(),
            "select source, dataset, status, cast(pages as varchar), cast(records as varchar)
             from collections order by source, dataset"
        ),
        expected
    );

    // No key, secret or token in the output at trace level, the inbox, or the lake's records.
    no_credential_in("the run's output", &output, 2);
    for file in all_files_under(&dir.path().join("inbox")) {
        no_credential_in(
            &file.display().to_string(),
            &String::from_utf8_lossy(&fs::read(&file).unwrap()),
            2,
        );
    }
    let recorded = query(
        dir.path(),
        "select coalesce(string_agg(coalesce(error, ''), ' '), '') from collections
         union all select coalesce(string_agg(coalesce(error, ''), ' '), '') from runs",
    );
    no_credential_in("the lake's records", &format!("{recorded:?}"), 2);
    // The datasets were read by the run that collected them, and left the inbox.
    assert!(fs::read_dir(dir.path().join("inbox")).unwrap().all(|e| {
        let name = e.unwrap().file_name().to_string_lossy().to_string();
        name == "processed" || name == ".collecting"
    }));
}

#[test]
fn a_repeating_page_or_a_short_total_writes_nothing_of_that_dataset_and_the_run_is_partial_naming_it() {
    let api = vendor_stand_in::datto(
        500,
        100,
        Quirks {
            repeat_page: Some(3),
            short_total: true,
            ..Quirks::default()
        },
    );
    let dir = msp(&api.base);
    let run = govpack(dir.path(), &["run", "daily", "--dry-run"]);
    let output = text(&run);
    assert_eq!(run.status.code(), Some(1), "{output}");
    assert!(output.contains("partial"), "{output}");
    assert!(
        output.contains("page 4 repeated an earlier page's URL"),
        "{output}"
    );
    assert!(
        output.contains("the pages hold 1 alerts but the API's totalCount says 2"),
        "{output}"
    );
    // Nothing of either dataset reached the inbox or the lake; the sites did.
    assert_eq!(
        query(dir.path(), "select count(*) from devices"),
        [vec!["0".to_string()]]
    );
    assert_eq!(
        query(dir.path(), "select count(*) from tenants"),
        [vec!["1".to_string()]]
    );
    let names: Vec<String> = all_files_under(&dir.path().join("inbox"))
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.contains("devices") || n.contains("alerts-open")),
        "{names:?}"
    );
    assert_eq!(
        query(dir.path(), "select status, collections_failed from runs"),
        [vec!["partial".to_string(), "2".into()]]
    );
    let status = govpack(dir.path(), &["status", "--check"]);
    let status_text = text(&status);
    assert_eq!(status.status.code(), Some(1), "{status_text}");
    assert!(
        status_text.contains("datto-rmm devices failed at"),
        "{status_text}"
    );
}

#[test]
fn collecting_the_same_day_twice_writes_the_same_bytes_which_ingest_skips() {
    let api = vendor_stand_in::datto(30, 10, Quirks::default());
    let dir = msp(&api.base);
    let first = govpack(dir.path(), &["collect", "--snapshot-date", "2026-11-03"]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let read = |dir: &Path| -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<(String, Vec<u8>)> = all_files_under(&dir.join("inbox"))
            .into_iter()
            .map(|p| {
                (
                    p.strip_prefix(dir).unwrap().display().to_string(),
                    fs::read(&p).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    };
    let before = read(dir.path());
    assert_eq!(
        before.len(),
        1 + 2 + 1 + 3 + 1 + 1,
        "{:?}",
        before.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    let ingest = govpack(dir.path(), &["ingest", "inbox"]);
    assert_eq!(ingest.status.code(), Some(0), "{}", text(&ingest));
    // Again, the same day: the inbox is rewritten with the same bytes, and ingest skips them all.
    let second = govpack(dir.path(), &["collect", "--snapshot-date", "2026-11-03"]);
    assert_eq!(second.status.code(), Some(0), "{}", text(&second));
    assert_eq!(read(dir.path()), before);
    let again = govpack(dir.path(), &["ingest", "inbox"]);
    let again_text = text(&again);
    assert!(
        again_text.contains("0 loaded") && again_text.contains("9 skipped"),
        "{again_text}"
    );
    assert_eq!(
        query(dir.path(), "select count(*) from devices"),
        [vec!["30".to_string()]]
    );
}

#[test]
fn a_run_as_of_another_day_collects_nothing_rather_than_record_todays_devices_as_that_days() {
    let api = vendor_stand_in::datto(5, 5, Quirks::default());
    let dir = msp(&api.base);
    let run = govpack(
        dir.path(),
        &["run", "daily", "--as-of", "2026-11-03", "--dry-run"],
    );
    let output = text(&run);
    assert_eq!(run.status.code(), Some(0), "{output}");
    assert!(
        output.contains("Not collecting cisa-kev, msrc-cvrf, datto-rmm"),
        "{output}"
    );
    assert!(api.seen.lock().unwrap().is_empty());
}

#[test]
fn collect_check_authenticates_and_reads_one_page_of_each_writing_nothing() {
    let api = vendor_stand_in::datto(1234, 250, Quirks::default());
    let dir = msp(&api.base);
    let check = govpack(
        dir.path(),
        &["collect", "--check", "--snapshot-date", "2026-11-03"],
    );
    let output = text(&check);
    assert_eq!(check.status.code(), Some(0), "{output}");
    assert!(
        output.contains("datto-rmm: token ok; 2 sites, 1234 devices"),
        "{output}"
    );
    assert!(output.contains("cisa-kev: catalog ok; 3 entries"), "{output}");
    assert!(
        output.contains("msrc-cvrf: 2 documents listed; 1 of the 2 months"),
        "{output}"
    );
    assert!(!dir.path().join("inbox").exists() && !dir.path().join("lake").exists());
    assert_eq!(
        api.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.contains("/devices"))
            .count(),
        1,
        "one page"
    );

    // Wrong credentials: the check fails naming the source, and shows no secret.
    let bad = Command::new(env!("CARGO_BIN_EXE_govpack"))
        .args(["collect", "--check", "datto-rmm"])
        .current_dir(dir.path())
        .env("GOVPACK_DATTO_RMM_API_KEY", KEY)
        .env("GOVPACK_DATTO_RMM_API_SECRET", "not-the-secret-5521")
        .output()
        .unwrap();
    let bad_text = text(&bad);
    assert_eq!(bad.status.code(), Some(1), "{bad_text}");
    assert!(
        bad_text.contains("datto-rmm: FAILED: the token request failed: attempt 1: HTTP 401"),
        "{bad_text}"
    );
    assert!(
        !bad_text.contains("not-the-secret-5521") && !bad_text.contains(KEY),
        "{bad_text}"
    );
}

// --- NinjaOne ------------------------------------------------------------------------------

fn ninja_msp(base: &str) -> TempDir {
    working_folder(
        "\"ninjaone\"",
        &format!("[collect.ninjaone]\ninstance_url = \"{base}\"\n"),
    )
}

fn ninja_run(dir: &Path, args: &[&str]) -> Output {
    govpack_with(
        dir,
        args,
        &[
            ("GOVPACK_NINJAONE_CLIENT_ID", CLIENT_ID),
            ("GOVPACK_NINJAONE_CLIENT_SECRET", CLIENT_SECRET),
        ],
    )
}

#[test]
fn ninjaone_organizations_devices_patches_and_installs_land_under_their_clients_and_installs_go_on_from_the_lake()
 {
    // 2,500 devices: three pages of 1,000 by `after` and by cursor; the token expires mid-devices.
    let now = chrono::Utc::now().timestamp();
    let (api, asked_after) = vendor_stand_in::ninjaone(2500, now, false);
    let dir = ninja_msp(&api.base);
    let run = ninja_run(dir.path(), &["-vv", "run", "daily", "--dry-run"]);
    let output = text(&run);
    assert_eq!(run.status.code(), Some(0), "{output}");
    assert!(
        output.contains("collected ninjaone devices: 2500 record(s) in 3 page(s)"),
        "{output}"
    );
    assert!(
        output.contains("collected ninjaone os-patch-installs:"),
        "{output}"
    );
    assert_eq!(api.grants.load(Ordering::SeqCst), 2, "one grant, one renewal");
    assert_eq!(
        query(
            dir.path(),
            "select tenant_id, count(*) from devices group by 1 order by 1"
        ),
        [
            vec!["ninjaone-org-7".to_string(), "1250".into()],
            vec!["ninjaone-org-8".to_string(), "1250".into()],
        ]
    );
    assert_eq!(
        query(dir.path(), "select tenant_name from tenants order by 1"),
        [vec!["Contoso Ltd".to_string()], vec!["Fabrikam Inc".to_string()]]
    );
    assert_eq!(
        query(dir.path(), "select count(*) from patch_status"),
        [vec!["2500".to_string()]]
    );
    // The first collection reads 90 days of installs: the stand-in's installs reach back 2,500
    // hours (104 days), so the oldest are not asked for.
    let first_after = asked_after.lock().unwrap()[0];
    let ninety_days_ago = (chrono::Utc::now().date_naive() - chrono::Days::new(90))
        .and_time(chrono::NaiveTime::MIN)
        .and_utc()
        .timestamp();
    assert_eq!(first_after, ninety_days_ago);
    let in_window = (1..=2500).filter(|i| now - 3600 * i > ninety_days_ago).count();
    assert_eq!(
        query(dir.path(), "select count(*) from patch_attempts"),
        [vec![in_window.to_string()]]
    );
    no_credential_in_ninja(&output);

    // The next collection reads installs from the newest one in the lake, less the two days'
    // overlap: the stand-in's newest install is an hour before `now`.
    let again = ninja_run(dir.path(), &["collect", "ninjaone"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    let second_after = *asked_after.lock().unwrap().last().unwrap();
    assert_eq!(second_after, now - 3600 - 2 * 86_400);
}

fn no_credential_in_ninja(text: &str) {
    for secret in [CLIENT_ID, CLIENT_SECRET, "nj-1", "nj-2"] {
        assert!(!text.contains(secret), "the output holds `{secret}`");
    }
}

#[test]
fn a_ninjaone_cursor_that_does_not_move_writes_nothing_of_that_dataset() {
    let now = chrono::Utc::now().timestamp();
    let (api, _) = vendor_stand_in::ninjaone(2500, now, true);
    let dir = ninja_msp(&api.base);
    let run = ninja_run(dir.path(), &["collect", "ninjaone"]);
    let output = text(&run);
    assert_eq!(run.status.code(), Some(1), "{output}");
    assert!(
        output.contains("FAILED    ninjaone os-patches: page 3 repeated an earlier page's cursor"),
        "{output}"
    );
    assert!(
        output.contains("collected ninjaone devices: 2500 record(s)"),
        "{output}"
    );
    let names: Vec<String> = all_files_under(&dir.path().join("inbox"))
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    assert!(!names.iter().any(|n| n.contains("os-patches")), "{names:?}");
}

#[test]
fn a_server_that_trickles_its_answer_is_cut_off_by_the_timeout_and_nothing_is_written() {
    // Headers at once, then a byte every 200 ms of a body that would take hours.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            std::thread::spawn(move || {
                use std::io::{Read, Write};
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{",
                );
                for _ in 0..600 {
                    std::thread::sleep(std::time::Duration::from_millis(200));
                    if stream.write_all(b" ").is_err() {
                        break;
                    }
                }
            });
        }
    });
    let dir = TempDir::new().unwrap();
    fs::write(
        dir.path().join("govpack.toml"),
        format!(
            "[lake]\npath = \"lake\"\n[run]\ninbox = \"inbox\"\n[collect]\nretries = 1\nretry_backoff_ms = 50\n\
             timeout_seconds = 2\n[collect.cisa_kev]\nurl = \"http://127.0.0.1:{port}/feed.json\"\n"
        ),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let run = govpack(dir.path(), &["collect", "cisa-kev"]);
    let output = text(&run);
    assert_eq!(run.status.code(), Some(1), "{output}");
    assert!(
        output.contains("FAILED    cisa-kev catalog: GET the catalog: attempt 1:"),
        "{output}"
    );
    assert!(output.contains("timeout"), "{output}");
    // Two attempts of two seconds each, not the hours the body would take.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert!(all_files_under(&dir.path().join("inbox")).is_empty());
}

#[test]
fn status_check_fails_on_a_configured_source_never_collected_and_passes_once_it_is() {
    let api = vendor_stand_in::datto(5, 5, Quirks::default());
    let dir = msp(&api.base);
    let never = govpack(dir.path(), &["collect", "cisa-kev"]);
    assert_eq!(never.status.code(), Some(0), "{}", text(&never));
    // cisa-kev was collected; msrc-cvrf and datto-rmm, in collect.sources too, never were.
    let status = govpack(dir.path(), &["status", "--check"]);
    let output = text(&status);
    assert_eq!(status.status.code(), Some(1), "{output}");
    assert!(
        output.contains("datto-rmm (collect.sources) has never been collected"),
        "{output}"
    );
    assert!(
        output.contains("msrc-cvrf (collect.sources) has never been collected"),
        "{output}"
    );
    assert!(!output.contains("cisa-kev (collect.sources)"), "{output}");
    assert!(!output.contains("cisa-kev has not been collected"), "{output}");
}

// --- Autotask ------------------------------------------------------------------------------

fn autotask_msp(base: &str) -> TempDir {
    working_folder(
        "\"autotask\"",
        &format!(
            "[tickets]\nzone_lookup_url = \"{base}/atservicesrest/V1.0/zoneInformation\"\n\
             [collect.autotask]\nhourly_budget = 40\n"
        ),
    )
}

fn autotask_run(dir: &Path, args: &[&str]) -> Output {
    govpack_with(
        dir,
        args,
        &[
            ("AUTOTASK_API_INTEGRATION_CODE", AT_CODE),
            ("AUTOTASK_USERNAME", AT_USER),
            ("AUTOTASK_SECRET", AT_SECRET),
        ],
    )
}

fn no_autotask_credential_in(what: &str, text: &str) {
    for secret in [AT_CODE, AT_SECRET] {
        assert!(!text.contains(secret), "{what} holds `{secret}`");
    }
}

#[test]
fn autotask_companies_and_tickets_land_under_their_clients_and_the_next_day_reads_only_what_changed() {
    // 1,200 tickets: three pages of 500; the first tickets query is throttled (429).
    let now = chrono::Utc::now().timestamp();
    let quirks = AutotaskQuirks {
        throttle_first: true,
        ..AutotaskQuirks::default()
    };
    let (api, asked_since) = vendor_stand_in::autotask(1200, now, quirks);
    let dir = autotask_msp(&api.base);
    let run = autotask_run(dir.path(), &["-vv", "run", "daily", "--dry-run"]);
    let output = text(&run);
    assert_eq!(run.status.code(), Some(0), "{output}");
    assert!(
        output.contains("collected autotask tickets: 1200 record(s) in 3 page(s)"),
        "{output}"
    );
    for dataset in ["companies", "ticket-fields", "change-approvals", "change-links"] {
        assert!(
            output.contains(&format!("collected autotask {dataset}:")),
            "{output}"
        );
    }
    // The vendor company (type 3) is no client.
    assert_eq!(
        query(dir.path(), "select tenant_name from tenants order by 1"),
        [
            vec!["Megadodo Publications".to_string()],
            vec!["Sirius Cybernetics Corporation".to_string()]
        ]
    );
    assert_eq!(
        query(
            dir.path(),
            "select tn.tenant_name, t.source_system, count(*) from tickets t
             join tenants tn using (tenant_id) group by all order by 1"
        ),
        [
            vec![
                "Megadodo Publications".to_string(),
                "autotask".into(),
                "600".into()
            ],
            vec![
                "Sirius Cybernetics Corporation".to_string(),
                "autotask".into(),
                "600".into()
            ],
        ]
    );
    // A first collection reads 90 days back.
    let ninety_days_ago = (chrono::Utc::now().date_naive() - chrono::Days::new(90))
        .and_time(chrono::NaiveTime::MIN)
        .and_utc();
    assert_eq!(
        asked_since.lock().unwrap()[0],
        ninety_days_ago.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    );
    no_autotask_credential_in("the run's output", &output);
    for file in all_files_under(dir.path()) {
        let bytes = fs::read(&file).unwrap();
        no_autotask_credential_in(&file.display().to_string(), &String::from_utf8_lossy(&bytes));
    }

    // The next collection reads from the newest ticket in the lake less the two days' overlap:
    // only the 49 tickets active since then.
    let again = autotask_run(
        dir.path(),
        &["collect", "autotask", "--snapshot-date", "2099-01-01"],
    );
    let output = text(&again);
    assert_eq!(again.status.code(), Some(0), "{output}");
    let newest = chrono::DateTime::from_timestamp(now - 3600 - 2 * 86_400, 0).unwrap();
    assert_eq!(
        asked_since.lock().unwrap().last().unwrap(),
        &newest.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    );
    assert!(
        output.contains("collected autotask tickets: 49 record(s) in 1 page(s)"),
        "{output}"
    );
    // The overlap re-read adds no ticket: each replaces the row it re-reads.
    let ingest = autotask_run(dir.path(), &["ingest", "inbox"]);
    assert_eq!(ingest.status.code(), Some(0), "{}", text(&ingest));
    assert_eq!(
        query(
            dir.path(),
            "select rows_read, rows_loaded, rows_replaced, rows_stale from ingest_ledger
             where source_file like 'autotask-tickets-2099-01-01%'"
        ),
        [["49", "49", "49", "0"].map(String::from).to_vec()]
    );
    assert_eq!(
        query(dir.path(), "select count(*) from tickets"),
        [vec!["1200".to_string()]]
    );
    // Status says how much of the hourly budget the collections used: 12 and 10 requests, and the
    // throttled one's second attempt.
    let status = autotask_run(dir.path(), &["status"]);
    assert!(
        text(&status).contains("autotask: 23 of its 40 requests an hour used in the last hour"),
        "{}",
        text(&status)
    );
}

#[test]
fn autotask_pages_that_repeat_or_fall_short_of_the_count_write_nothing_and_the_budget_stops_a_run() {
    for (quirks, why) in [
        (
            AutotaskQuirks {
                repeat_page: Some(2),
                ..AutotaskQuirks::default()
            },
            "autotask tickets: page 3 repeated an earlier page's URL",
        ),
        (
            AutotaskQuirks {
                short_count: true,
                ..AutotaskQuirks::default()
            },
            "autotask tickets: the pages hold 1200 Tickets but the query's count says 1201",
        ),
    ] {
        let (api, _) = vendor_stand_in::autotask(1200, chrono::Utc::now().timestamp(), quirks);
        let dir = autotask_msp(&api.base);
        let run = autotask_run(dir.path(), &["collect", "autotask"]);
        let output = text(&run);
        assert_eq!(run.status.code(), Some(1), "{output}");
        assert!(output.contains(&format!("FAILED    {why}")), "{output}");
        let names: Vec<String> = all_files_under(&dir.path().join("inbox"))
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
            .collect();
        assert!(!names.iter().any(|n| n.contains("tickets")), "{names:?}");
        assert!(names.iter().any(|n| n.contains("companies")), "{names:?}");
    }
    // A budget of 40 an hour: three collections of 12 requests fit, the fourth runs out part-way.
    let (api, _) = vendor_stand_in::autotask(1200, chrono::Utc::now().timestamp(), AutotaskQuirks::default());
    let dir = autotask_msp(&api.base);
    for _ in 0..3 {
        autotask_run(dir.path(), &["collect", "autotask"]);
    }
    let last = autotask_run(dir.path(), &["collect", "autotask"]);
    let output = text(&last);
    assert_eq!(last.status.code(), Some(1), "{output}");
    assert!(
        output.contains("the hourly budget of 40 requests is spent"),
        "{output}"
    );
}

// --- ConnectWise Manage --------------------------------------------------------------------

fn manage_msp(base: &str) -> TempDir {
    working_folder(
        "\"connectwise-manage\"",
        &format!("[collect.connectwise_manage]\nsite_url = \"{base}\"\ncompany = \"msp\"\n"),
    )
}

fn manage_run(dir: &Path, args: &[&str]) -> Output {
    govpack_with(
        dir,
        args,
        &[
            ("GOVPACK_CW_MANAGE_PUBLIC_KEY", CW_PUBLIC),
            ("GOVPACK_CW_MANAGE_PRIVATE_KEY", CW_PRIVATE),
            ("GOVPACK_CW_MANAGE_CLIENT_ID", CW_CLIENT_ID),
        ],
    )
}

#[test]
fn manage_companies_and_tickets_land_under_their_clients_every_page_read_and_the_next_day_reads_what_changed()
{
    // 2,100 tickets (the oldest 87 days old): three pages of 1,000 by the Link header; the first
    // tickets request is throttled (429).
    let now = chrono::Utc::now().timestamp();
    let quirks = ManageQuirks {
        throttle_first: true,
        ..ManageQuirks::default()
    };
    let (api, asked) = vendor_stand_in::manage(2100, now, quirks);
    let dir = manage_msp(&api.base);
    let run = manage_run(dir.path(), &["-vv", "run", "daily", "--dry-run"]);
    let output = text(&run);
    assert_eq!(run.status.code(), Some(0), "{output}");
    assert!(
        output.contains("collected connectwise-manage tickets: 2100 record(s) in 3 page(s)"),
        "{output}"
    );
    assert!(
        output.contains("collected connectwise-manage companies: 4 record(s) in 1 page(s)"),
        "{output}"
    );
    // The vendor and the deleted client are no tenants; each ticket counts once, under its client.
    assert_eq!(
        query(
            dir.path(),
            "select tn.tenant_id, tn.tenant_name, count(t.ticket_id), min(t.source_system)
             from tenants tn left join tickets t using (tenant_id) group by all order by 1"
        ),
        [
            vec![
                "250".to_string(),
                "Sirius Cybernetics Corporation".into(),
                "1050".into(),
                "connectwise_manage".into()
            ],
            vec![
                "251".to_string(),
                "Megadodo Publications".into(),
                "1050".into(),
                "connectwise_manage".into()
            ],
        ]
    );
    let ninety_days_ago = (chrono::Utc::now().date_naive() - chrono::Days::new(90))
        .and_time(chrono::NaiveTime::MIN)
        .and_utc();
    assert_eq!(
        asked.lock().unwrap()[0],
        format!("lastUpdated>=[{}]", ninety_days_ago.format("%Y-%m-%dT%H:%M:%SZ"))
    );
    let seen = api.seen.lock().unwrap().join("\n");
    assert!(seen.contains("pageSize=1000"), "{seen}");
    for secret in [
        CW_PUBLIC,
        CW_PRIVATE,
        CW_CLIENT_ID,
        CW_BASIC.trim_start_matches("Basic "),
    ] {
        assert!(!output.contains(secret), "the output holds `{secret}`");
        for file in all_files_under(dir.path()) {
            let bytes = fs::read(&file).unwrap();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(secret),
                "{} holds `{secret}`",
                file.display()
            );
        }
    }

    // The next day reads from the newest ticket in the lake less the two days' overlap.
    let again = manage_run(
        dir.path(),
        &["collect", "connectwise-manage", "--snapshot-date", "2099-01-01"],
    );
    let output = text(&again);
    assert_eq!(again.status.code(), Some(0), "{output}");
    let newest = chrono::DateTime::from_timestamp(now - 3600 - 2 * 86_400, 0).unwrap();
    assert_eq!(
        asked.lock().unwrap().last().unwrap(),
        &format!("lastUpdated>=[{}]", newest.format("%Y-%m-%dT%H:%M:%SZ"))
    );
    assert!(
        output.contains("collected connectwise-manage tickets: 49 record(s) in 1 page(s)"),
        "{output}"
    );
}

#[test]
fn manage_pages_by_number_without_a_link_and_a_server_answering_25_a_page_or_a_repeating_link_writes_nothing()
{
    let now = chrono::Utc::now().timestamp();
    let by_number = ManageQuirks {
        no_link: true,
        ..ManageQuirks::default()
    };
    let (api, _) = vendor_stand_in::manage(2100, now, by_number);
    let dir = manage_msp(&api.base);
    let run = manage_run(dir.path(), &["collect", "connectwise-manage"]);
    let output = text(&run);
    assert_eq!(run.status.code(), Some(0), "{output}");
    assert!(
        output.contains("collected connectwise-manage tickets: 2100 record(s) in 3 page(s)"),
        "{output}"
    );
    for (quirks, why) in [
        (
            ManageQuirks {
                ignore_page_size: true,
                no_link: true,
                ..ManageQuirks::default()
            },
            "connectwise-manage tickets: the pages hold 25 records but service/tickets/count says 2100",
        ),
        (
            ManageQuirks {
                repeat_link: true,
                ..ManageQuirks::default()
            },
            "connectwise-manage tickets: page 3 repeated an earlier page's URL",
        ),
    ] {
        let (api, _) = vendor_stand_in::manage(2100, now, quirks);
        let dir = manage_msp(&api.base);
        let run = manage_run(dir.path(), &["collect", "connectwise-manage"]);
        let output = text(&run);
        assert_eq!(run.status.code(), Some(1), "{output}");
        assert!(output.contains(&format!("FAILED    {why}")), "{output}");
        let names: Vec<String> = all_files_under(&dir.path().join("inbox"))
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
            .collect();
        assert!(!names.iter().any(|n| n.contains("tickets")), "{names:?}");
    }
}

// --- Windows Update for Business (Log Analytics) -------------------------------------------

fn wufb_msp(base: &str) -> TempDir {
    working_folder(
        "\"wufb\"",
        &format!(
            "[collect.wufb]\nworkspace_id = \"{WORKSPACE}\"\nentra_tenant_id = \"{ENTRA_TENANT}\"\n\
             token_url = \"{base}\"\napi_url = \"{base}\"\n"
        ),
    )
}

fn wufb_run(dir: &Path, args: &[&str]) -> Output {
    govpack_with(
        dir,
        args,
        &[
            ("GOVPACK_AZURE_CLIENT_ID", AZURE_CLIENT_ID),
            ("GOVPACK_AZURE_CLIENT_SECRET", AZURE_SECRET),
        ],
    )
}

#[test]
fn a_wufb_workspace_over_the_query_apis_limit_is_split_until_every_part_fits_and_the_day_lands_whole() {
    // 400 devices, two updates each (800 rows), answers cut at 300 rows: by time first, and,
    // when every row was reported at once, by device.
    for one_snapshot in [false, true] {
        let now = chrono::Utc::now().timestamp();
        let quirks = WufbQuirks {
            row_limit: 300,
            one_snapshot,
        };
        let (api, queries) = vendor_stand_in::wufb(400, now, quirks);
        let dir = wufb_msp(&api.base);
        let run = wufb_run(dir.path(), &["-vv", "run", "daily", "--dry-run"]);
        let output = text(&run);
        assert_eq!(run.status.code(), Some(0), "{output}");
        assert!(
            output.contains("collected wufb ucclientupdatestatus: 800 record(s)"),
            "{output}"
        );
        assert_eq!(api.grants.load(Ordering::SeqCst), 2, "one grant, one renewal");
        let asked = queries.lock().unwrap().join("\n");
        assert_eq!(asked.contains("hash(AzureADDeviceId"), one_snapshot, "{asked}");
        let today = chrono::Utc::now().date_naive();
        assert_eq!(
            query(
                dir.path(),
                &format!(
                    "select tenant_id, count(*) from devices where snapshot_date = date '{today}' group by 1 order by 1"
                )
            ),
            {
                let mut tenants = [
                    vec![format!("aad-{}", CLIENT_TENANTS[0]), "200".to_string()],
                    vec![format!("aad-{}", CLIENT_TENANTS[1]), "200".to_string()],
                ];
                tenants.sort();
                tenants
            }
        );
        assert_eq!(
            query(dir.path(), "select count(*) from patch_status"),
            [vec!["800".to_string()]]
        );
        for secret in [AZURE_CLIENT_ID, AZURE_SECRET, "wufb-tok-1", "wufb-tok-2"] {
            assert!(!output.contains(secret), "the output holds `{secret}`");
            for file in all_files_under(dir.path()) {
                let bytes = fs::read(&file).unwrap();
                assert!(
                    !String::from_utf8_lossy(&bytes).contains(secret),
                    "{} holds `{secret}`",
                    file.display()
                );
            }
        }
    }
}

#[test]
fn the_same_wufb_day_collected_twice_gives_the_same_bytes() {
    let now = chrono::Utc::now().timestamp();
    let quirks = WufbQuirks {
        row_limit: 300,
        one_snapshot: false,
    };
    let (api, _) = vendor_stand_in::wufb(100, now, quirks);
    let dir = wufb_msp(&api.base);
    let read = |dir: &Path| -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<(String, Vec<u8>)> = all_files_under(&dir.join("inbox"))
            .into_iter()
            .map(|p| {
                (
                    p.file_name().unwrap().to_string_lossy().to_string(),
                    fs::read(&p).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    };
    let first = wufb_run(dir.path(), &["collect", "wufb"]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let before = read(dir.path());
    assert!(!before.is_empty());
    let second = wufb_run(dir.path(), &["collect", "wufb"]);
    assert_eq!(second.status.code(), Some(0), "{}", text(&second));
    assert_eq!(read(dir.path()), before);
}
