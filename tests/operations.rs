//! The scheduled job as operations people rely on it (issue: scheduled jobs and operations):
//! the inbox, the lake's lock, the run ledger, breach alerts to Teams and remediation tickets to
//! Autotask, against local HTTP servers on 127.0.0.1 standing in for Teams and Autotask.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use chrono::{NaiveDate, Utc};
use govpack::lake::Lake;
use govpack::operations::alerts::{self, Breach};
use govpack::operations::ledger::{self, RunRecord};
use govpack::operations::lock::{Holder, LOCK_FILE, RunLock};
use govpack::operations::teams;
use govpack::sql;
use serde_json::Value as Json;
use tempfile::TempDir;

mod common;

const SECRET_WEBHOOK_PATH: &str = "/workflows/4f1c9a/triggers/manual/paths/invoke?sig=TopSecretSignature123";

fn govpack(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_govpack"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("GOVPACK_LOG")
        .env_remove("GOVPACK_TEAMS_WEBHOOK_URL")
        .env_remove("AUTOTASK_BASE_URL");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("run govpack")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A working folder with the sample MSP's canonical exports in `data/`, a config with the given
/// extra lines, and an empty inbox.
fn msp(extra_config: &str) -> TempDir {
    let dir = TempDir::new().unwrap();
    let sample = govpack(
        dir.path(),
        &["sample", "--out", "data", "--until", "2026-10-31"],
        &[],
    );
    assert!(sample.status.success(), "{}", text(&sample));
    fs::write(
        dir.path().join("govpack.toml"),
        format!("[lake]\npath = \"lake\"\n[run]\ninbox = \"inbox\"\ninbox_settle_seconds = 0\noutput = \"output\"\n{extra_config}"),
    )
    .unwrap();
    fs::create_dir_all(dir.path().join("inbox")).unwrap();
    dir
}

/// A working folder with the config and an empty inbox, for hand-built exports.
/// `govpack run daily --as-of DAY --dry-run` in `dir` (no alerts, no tickets sent).
fn daily_dry_run(dir: &Path, day: &str) -> Output {
    govpack(dir, &["run", "daily", "--as-of", day, "--dry-run"], &[])
}

fn bare_msp() -> (TempDir, PathBuf) {
    let dir = TempDir::new().unwrap();
    fs::write(
        dir.path().join("govpack.toml"),
        "[lake]\npath = \"lake\"\n[run]\ninbox = \"inbox\"\ninbox_settle_seconds = 0\noutput = \"output\"\n",
    )
    .unwrap();
    let inbox = dir.path().join("inbox");
    fs::create_dir_all(&inbox).unwrap();
    (dir, inbox)
}

/// The sample MSP's files: its eight tables, the KEV catalog and four monthly CVRF documents.
const SAMPLE_FILES: usize = 13;

fn drop_all_exports(dir: &Path) {
    for entry in fs::read_dir(dir.join("data")).unwrap() {
        let path = entry.unwrap().path();
        fs::copy(&path, dir.join("inbox").join(path.file_name().unwrap())).unwrap();
    }
}

/// The sample MSP's exports through the inbox by a daily run on 31 October (a dry run).
fn sample_run_through_october() -> TempDir {
    let dir = msp("");
    drop_all_exports(dir.path());
    let run = daily_dry_run(dir.path(), "2026-10-31");
    assert!(run.status.success(), "{}", text(&run));
    dir
}

fn lake(dir: &Path) -> Lake {
    Lake::open(&dir.join("lake")).unwrap()
}

fn query(dir: &Path, sql_text: &str) -> Vec<Vec<String>> {
    common::query_strings(&lake(dir), sql_text)
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn all_text_under(dir: &Path) -> String {
    let mut out = String::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.push_str(&all_text_under(&path));
        } else {
            out.push_str(&String::from_utf8_lossy(&fs::read(&path).unwrap()));
        }
    }
    out
}

#[cfg(unix)]
#[test]
fn the_inbox_never_follows_a_link_nor_opens_a_pipe_and_no_reason_repeats_a_file() {
    let (dir, inbox) = bare_msp();
    let secret = dir.path().join("secret-outside.csv");
    fs::write(&secret, "root:$6$hunter2hash:19000:0:99999:7:::\n").unwrap();
    std::os::unix::fs::symlink(&secret, inbox.join("shadow.csv")).unwrap();
    fs::create_dir(inbox.join("autotask-pages")).unwrap();
    fs::write(
        inbox.join("autotask-pages/tenants.csv"),
        "tenant_id,tenant_name\nT1,Acme\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(&secret, inbox.join("autotask-pages/page-2.csv")).unwrap();
    std::os::unix::fs::symlink("/", inbox.join("root")).unwrap();
    let fifo = inbox.join("pipe.csv");
    assert!(
        Command::new("mkfifo").arg(&fifo).status().unwrap().success(),
        "mkfifo"
    );
    fs::write(inbox.join("tenants.csv"), "tenant_id,tenant_name\nT2,Beta\n").unwrap();

    let run = govpack(
        dir.path(),
        &["-vv", "run", "daily", "--as-of", "2026-10-31", "--dry-run"],
        &[],
    );
    let output = text(&run);
    assert_eq!(
        run.status.code(),
        Some(1),
        "partial: four entries failed\n{output}"
    );
    let day = inbox.join("failed/2026-10-31");
    // Only the reasons are read: what was set aside is a link, a pipe or a folder holding a link.
    let reasons: String = files_in(&day)
        .iter()
        .filter(|name| name.ends_with(".reason.txt"))
        .map(|name| fs::read_to_string(day.join(name)).unwrap())
        .collect();
    for name in ["shadow.csv", "autotask-pages", "root", "pipe.csv"] {
        assert!(
            fs::symlink_metadata(day.join(name)).is_ok(),
            "{name} set aside: {:?}",
            files_in(&day)
        );
    }
    assert!(reasons.contains("is a symbolic link"), "{reasons}");
    assert!(
        reasons.contains("page-2.csv inside it is a symbolic link"),
        "{reasons}"
    );
    assert!(reasons.contains("not a regular file"), "{reasons}");
    for place in [&reasons, &output] {
        assert!(!place.contains("hunter2"), "a file's content was echoed: {place}");
    }
    assert!(
        fs::symlink_metadata(&secret).is_ok(),
        "the link's target is untouched"
    );
    assert_eq!(
        query(dir.path(), "select tenant_id from tenants order by 1"),
        [["T2"]],
        "the good entry still loads"
    );
}

#[test]
fn an_inbox_file_modified_within_the_settle_time_waits_for_the_next_run() {
    let (dir, inbox) = bare_msp();
    fs::write(
        dir.path().join("govpack.toml"),
        "[lake]\npath = \"lake\"\n[run]\ninbox = \"inbox\"\ninbox_settle_seconds = 600\noutput = \"output\"\n",
    )
    .unwrap();
    let tenants = inbox.join("tenants.csv");
    fs::write(&tenants, "tenant_id,tenant_name\nT1,Acme\n").unwrap();
    let run = daily_dry_run(dir.path(), "2026-10-31");
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert!(
        text(&run).contains("waiting   tenants.csv: modified less than 600s ago"),
        "{}",
        text(&run)
    );
    assert!(tenants.exists(), "left where the exporter is writing it");
    assert!(!inbox.join("processed").exists());

    // Ten minutes later nothing changed: the file is whole.
    let earlier = std::time::SystemTime::now() - std::time::Duration::from_secs(601);
    fs::File::options()
        .write(true)
        .open(&tenants)
        .unwrap()
        .set_modified(earlier)
        .unwrap();
    let run = daily_dry_run(dir.path(), "2026-10-31");
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert!(
        inbox.join("processed/2026-10-31/tenants.csv").exists(),
        "{}",
        text(&run)
    );
    assert_eq!(query(dir.path(), "select tenant_id from tenants"), [["T1"]]);
}

#[test]
fn the_inbox_loads_good_files_parks_duplicates_and_sets_broken_files_aside_with_a_reason() {
    let dir = msp("");
    drop_all_exports(dir.path());
    let first = daily_dry_run(dir.path(), "2026-10-31");
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let processed = dir.path().join("inbox/processed/2026-10-31");
    assert_eq!(
        files_in(&processed).len(),
        SAMPLE_FILES,
        "every export moved to processed/"
    );
    assert_eq!(
        files_in(&dir.path().join("inbox")),
        ["processed"],
        "the inbox holds only what is unread"
    );

    // The next day: the same devices export again under another name, and a file that is no export.
    fs::copy(
        dir.path().join("data/devices.csv"),
        dir.path().join("inbox/devices-resent.csv"),
    )
    .unwrap();
    fs::write(dir.path().join("inbox/notes.csv"), "hello,world\n1,2\n").unwrap();
    fs::write(
        dir.path().join("inbox/.devices-being-written.csv.partial"),
        "snapshot_date\n",
    )
    .unwrap();
    let second = daily_dry_run(dir.path(), "2026-11-01");
    // A failed file makes the run partial: exit 1 and a line on stderr, so the scheduler (and
    // cron's mail) shows it.
    assert_eq!(second.status.code(), Some(1), "{}", text(&second));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("govpack run daily: partial: 1 inbox entr(ies) failed"),
        "{stderr}"
    );
    let day = "2026-11-01";
    assert_eq!(
        files_in(&dir.path().join("inbox/processed").join(day)),
        ["devices-resent.csv"]
    );
    assert_eq!(
        files_in(&dir.path().join("inbox/failed").join(day)),
        ["notes.csv", "notes.csv.reason.txt"]
    );
    let reason = fs::read_to_string(
        dir.path()
            .join("inbox/failed")
            .join(day)
            .join("notes.csv.reason.txt"),
    )
    .unwrap();
    assert!(
        reason.contains("notes.csv:1: unrecognised export"),
        "it names file and line: {reason}"
    );
    // A file still being written is left alone for the next run.
    assert!(
        dir.path()
            .join("inbox/.devices-being-written.csv.partial")
            .exists()
    );
    let runs = query(
        dir.path(),
        "select status, files_ingested::varchar, files_skipped::varchar, files_failed::varchar
         from runs order by started_utc",
    );
    assert_eq!(runs[0], ["succeeded", &SAMPLE_FILES.to_string(), "0", "0"]);
    assert_eq!(runs[1], ["partial", "0", "1", "1"]);
    // Nothing was deleted: the original bytes are all still somewhere under the inbox.
    assert_eq!(
        fs::read(
            dir.path()
                .join("inbox/processed")
                .join(day)
                .join("devices-resent.csv")
        )
        .unwrap(),
        fs::read(dir.path().join("data/devices.csv")).unwrap()
    );
}

#[test]
fn a_second_run_is_refused_while_one_holds_the_lake_and_a_dead_runs_lock_is_taken_over() {
    let dir = msp("");
    drop_all_exports(dir.path());
    let lake = lake(dir.path());
    let holder = Holder::this_process("daily", "daily-2026-10-31-held-by-test", Utc::now());
    let held = RunLock::acquire(&lake, &holder).unwrap();
    let refused = daily_dry_run(dir.path(), "2026-10-31");
    assert_eq!(refused.status.code(), Some(3), "{}", text(&refused));
    assert!(
        text(&refused).contains("in use by `daily` (run daily-2026-10-31-held-by-test"),
        "{}",
        text(&refused)
    );
    assert_eq!(
        files_in(&dir.path().join("inbox")).len(),
        SAMPLE_FILES,
        "the refused run touched nothing"
    );
    let ingest = govpack(dir.path(), &["ingest", "data"], &[]);
    assert_eq!(
        ingest.status.code(),
        Some(3),
        "a manual ingest waits its turn too"
    );
    // With --wait-for-lock a run waits for the holder to finish, then does its work.
    let waiting = Command::new(env!("CARGO_BIN_EXE_govpack"))
        .args([
            "run",
            "daily",
            "--as-of",
            "2026-10-31",
            "--dry-run",
            "--wait-for-lock",
            "60",
        ])
        .current_dir(dir.path())
        .env_remove("GOVPACK_TEAMS_WEBHOOK_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(
        files_in(&dir.path().join("inbox")).len(),
        SAMPLE_FILES,
        "still waiting"
    );
    drop(held);
    let waited = waiting.wait_with_output().unwrap();
    assert_eq!(waited.status.code(), Some(0), "{}", text(&waited));
    assert_eq!(files_in(&dir.path().join("inbox")), ["processed"]);

    // A run that died: its lock file still names it, its ledger row still says running, but no
    // process holds the lock any more.
    let dead = RunRecord {
        run_id: "daily-2026-10-30-dead".into(),
        job: "daily".into(),
        as_of: NaiveDate::from_ymd_opt(2026, 10, 30).unwrap(),
        started_utc: Utc::now(),
        status: "running".into(),
        host: "old-host".into(),
        pid: 4_000_000,
        ..RunRecord::default()
    };
    ledger::record_run(&lake, &dead).unwrap();
    let stale = Holder {
        job: "daily".into(),
        run_id: dead.run_id.clone(),
        pid: 4_000_000,
        host: "old-host".into(),
        started_utc: Utc::now(),
    };
    fs::write(
        lake.root().join(LOCK_FILE),
        serde_json::to_string(&stale).unwrap(),
    )
    .unwrap();
    let taken_over = daily_dry_run(dir.path(), "2026-10-31");
    assert_eq!(taken_over.status.code(), Some(0), "{}", text(&taken_over));
    assert!(
        text(&taken_over).contains("daily-2026-10-30-dead")
            && text(&taken_over).contains("ended without finishing"),
        "{}",
        text(&taken_over)
    );
    let statuses = query(
        dir.path(),
        "select run_id, status, error from runs order by started_utc",
    );
    let dead_row = statuses.iter().find(|r| r[0] == "daily-2026-10-30-dead").unwrap();
    assert_eq!(dead_row[1], "abandoned");
    assert!(dead_row[2].contains("lock was taken over"), "{dead_row:?}");
    assert!(
        statuses
            .iter()
            .filter(|r| r[0] != dead_row[0])
            .all(|r| r[1] == "succeeded"),
        "{statuses:?}"
    );
    // Released cleanly: the lock file is empty again.
    assert_eq!(fs::read_to_string(lake.root().join(LOCK_FILE)).unwrap(), "");
}

#[test]
fn a_failed_run_is_in_the_ledger_with_its_error_and_what_it_did_before_failing() {
    let dir = msp("");
    drop_all_exports(dir.path());
    // The output folder cannot be created: a file is in the way.
    fs::write(dir.path().join("output"), "not a folder").unwrap();
    let failed = govpack(dir.path(), &["run", "daily", "--as-of", "2026-10-31"], &[]);
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed));
    assert!(text(&failed).contains("error:"), "{}", text(&failed));
    let row = &query(
        dir.path(),
        "select status, files_ingested::varchar, periods_computed, error, (ended_utc is not null)::varchar from runs",
    )[0];
    assert_eq!(row[0], "failed");
    assert_eq!(
        row[1],
        SAMPLE_FILES.to_string(),
        "the ingest before the failure is recorded"
    );
    assert_eq!(row[2], "2026-10-01..2026-10-31");
    assert!(
        row[3].contains("output"),
        "the error names what failed: {}",
        row[3]
    );
    assert_eq!(row[4], "true");
    let status = govpack(dir.path(), &["status", "--as-of", "2026-10-31", "--check"], &[]);
    assert_eq!(
        status.status.code(),
        Some(1),
        "a monitor sees the failure: {}",
        text(&status)
    );
    assert!(
        text(&status).contains("CHECK FAILED: the latest run daily-2026-10-31-"),
        "{}",
        text(&status)
    );
}

fn breach(rule: &str, tenant: &str) -> Breach {
    Breach {
        key: format!("{rule}|{tenant}|-"),
        rule: rule.into(),
        kind: "kpi".into(),
        tenant_id: Some(tenant.into()),
        tenant_name: Some(format!("Tenant {tenant}")),
        kpi_id: Some("patch_compliance_rate".into()),
        subject: None,
        value: Some(0.8),
        threshold: Some(0.9),
        comparison: "below".into(),
        detail: "govpack query \"...\"".into(),
    }
}

/// Delivers `breaches` as day `day`'s evaluation (dry run) and returns (new, card files).
fn evaluate_day(dir: &Path, day: &str, breaches: &[Breach]) -> (u64, Vec<PathBuf>) {
    let config = govpack::config::Config::default();
    let lake = lake(dir);
    let day = NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap();
    let history = alerts::history(&sql::open(&lake).unwrap(), day).unwrap();
    let out = dir.join("alerts").join(day.to_string());
    let d = teams::deliver(&config, &lake, breaches, &history, day, &out, true, "test").unwrap();
    (d.new, d.card_files)
}

#[test]
fn a_breach_is_alerted_when_it_appears_not_every_day_it_persists_and_again_when_it_returns() {
    let dir = TempDir::new().unwrap();
    let (a, b) = (
        breach("tenant_patch_compliance", "A"),
        breach("tenant_patch_compliance", "B"),
    );
    let (new, cards) = evaluate_day(dir.path(), "2026-10-01", &[a.clone(), b.clone()]);
    assert_eq!(
        (new, cards.len()),
        (2, 2),
        "the first evaluation alerts everything it finds"
    );
    // Re-running the same day sends nothing more.
    assert_eq!(
        evaluate_day(dir.path(), "2026-10-01", &[a.clone(), b.clone()]).0,
        0
    );
    // A persists, B cleared.
    assert_eq!(
        evaluate_day(dir.path(), "2026-10-02", std::slice::from_ref(&a)).0,
        0
    );
    // B is back: new again. A still persists: not re-sent.
    let (new, cards) = evaluate_day(dir.path(), "2026-10-03", &[a.clone(), b.clone()]);
    assert_eq!(new, 1);
    assert!(cards[0].to_string_lossy().contains("-B"), "{cards:?}");
    let rows = query(
        dir.path(),
        "select evaluated_on::varchar, breach_key, is_new::varchar, delivery from alerts order by 1, 2",
    );
    assert_eq!(
        rows,
        [
            ["2026-10-01", "tenant_patch_compliance|A|-", "true", "dry_run"],
            ["2026-10-01", "tenant_patch_compliance|B|-", "true", "dry_run"],
            ["2026-10-02", "tenant_patch_compliance|A|-", "false", "not_new"],
            ["2026-10-03", "tenant_patch_compliance|A|-", "false", "not_new"],
            ["2026-10-03", "tenant_patch_compliance|B|-", "true", "dry_run"],
        ]
    );
    // History re-run: evaluating 2026-10-02 again compares with 2026-10-01, not with later days.
    assert_eq!(
        evaluate_day(dir.path(), "2026-10-02", std::slice::from_ref(&a)).0,
        0
    );
}

#[test]
fn the_default_rules_on_the_sample_find_exactly_its_tenants_below_ninety_percent() {
    let dir = msp("");
    drop_all_exports(dir.path());
    let run = daily_dry_run(dir.path(), "2026-10-31");
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    // Every tenant-level compliance value below 0.90 is a breach, and only those.
    let expected = query(
        dir.path(),
        "select tenant_id from kpi_summary where kpi_id = 'patch_compliance_rate' and tenant_id is not null
           and policy_tier is null and device_class is null and age_bucket is null
           and period_start = date '2026-10-01' and value < 0.9 order by 1",
    );
    let found = query(
        dir.path(),
        "select tenant_id from alerts where rule = 'tenant_patch_compliance' order by 1",
    );
    assert!(!expected.is_empty(), "the sample has tenants below 90%");
    assert_eq!(found, expected);
    let cards = files_in(&dir.path().join("output/alerts/2026-10-31"));
    assert_eq!(
        cards.len(),
        query(dir.path(), "select breach_key from alerts where is_new").len()
    );
    assert!(text(&run).contains("dry run (--dry-run)"), "{}", text(&run));

    // A monitor's check: all well as of the data's last day...
    let check = govpack(dir.path(), &["status", "--as-of", "2026-10-31", "--check"], &[]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    assert!(text(&check).contains("CHECK OK"));
    // ...but three weeks later every tenant's exports have stopped,
    let late = govpack(dir.path(), &["status", "--as-of", "2026-11-21", "--check"], &[]);
    assert_eq!(late.status.code(), Some(1), "{}", text(&late));
    assert!(
        text(&late).contains(
            "CHECK FAILED: stale tenant(s): Northwind Dental Group (29683500), Harbor Freight Logistics \
             (29683517), Cedar Valley Family Clinic (29683534), Summit & Vale Legal LLP (29683551)"
        ),
        "{}",
        text(&late)
    );
    // and a job that has not run within the allowed hours is itself a finding.
    let stopped = govpack(
        dir.path(),
        &[
            "status",
            "--as-of",
            "2026-10-31",
            "--check",
            "--max-age-hours",
            "0",
        ],
        &[],
    );
    assert_eq!(stopped.status.code(), Some(1), "{}", text(&stopped));
    assert!(
        text(&stopped).contains("is the schedule running?"),
        "{}",
        text(&stopped)
    );
}

/// What a fake server saw: method, URL, headers (lower-case names), body.
type Seen = Arc<Mutex<Vec<(String, String, Vec<(String, String)>, String)>>>;

/// An HTTP server on 127.0.0.1 answering with `answer(method, url, body)`; returns its base URL.
fn fake_server(
    answer: impl Fn(&str, &str, &str) -> (u16, String) + Send + 'static,
) -> (String, Seen, JoinHandle<()>, Arc<tiny_http::Server>) {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let port = server.server_addr().to_ip().unwrap().port();
    let seen: Seen = Arc::default();
    let (s, record) = (server.clone(), seen.clone());
    let handle = std::thread::spawn(move || {
        for mut request in s.incoming_requests() {
            let mut body = String::new();
            request.as_reader().read_to_string(&mut body).unwrap();
            let headers = request
                .headers()
                .iter()
                .map(|h| {
                    (
                        h.field.as_str().as_str().to_ascii_lowercase(),
                        h.value.as_str().to_string(),
                    )
                })
                .collect();
            let (method, url) = (request.method().as_str().to_string(), request.url().to_string());
            let (status, reply) = answer(&method, &url, &body);
            record.lock().unwrap().push((method, url, headers, body));
            let _ = request.respond(tiny_http::Response::from_string(reply).with_status_code(status));
        }
    });
    (format!("http://127.0.0.1:{port}"), seen, handle, server)
}

const ONE_RULE: &str = "[alerts]\nretries = 2\nretry_backoff_ms = 10\ntimeout_seconds = 5\n\
    [[alerts.rules]]\nname = \"tenant_patch_compliance\"\nkind = \"kpi\"\nkpi = \"patch_compliance_rate\"\n\
    scope = \"tenant\"\nbelow = 0.9\n";

#[test]
fn breaches_are_posted_to_teams_as_adaptive_cards_and_the_webhook_url_never_shows() {
    let (base, seen, handle, server) = fake_server(|_, _, _| (202, String::new()));
    let dir = msp(ONE_RULE);
    drop_all_exports(dir.path());
    let url = format!("{base}{SECRET_WEBHOOK_PATH}");
    // Every log line at every level, the HTTP client's own included.
    let run = govpack(
        dir.path(),
        &["-vv", "run", "daily", "--as-of", "2026-10-31"],
        &[("GOVPACK_TEAMS_WEBHOOK_URL", &url), ("GOVPACK_LOG", "trace")],
    );
    server.unblock();
    handle.join().unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let seen = seen.lock().unwrap();
    let breaches = query(dir.path(), "select tenant_id, delivery from alerts order by 1");
    assert!(!breaches.is_empty());
    assert_eq!(seen.len(), breaches.len(), "one post per new breach");
    assert!(breaches.iter().all(|b| b[1] == "posted"), "{breaches:?}");
    for (method, path, headers, body) in seen.iter() {
        assert_eq!(method, "POST");
        assert_eq!(path, SECRET_WEBHOOK_PATH);
        assert!(
            headers
                .iter()
                .any(|(k, v)| k == "content-type" && v == "application/json")
        );
        let message: Json = serde_json::from_str(body).unwrap();
        assert_eq!(message["type"], "message");
        let attachment = &message["attachments"][0];
        assert_eq!(
            attachment["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        let card = &attachment["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(
            card["$schema"],
            "http://adaptivecards.io/schemas/adaptive-card.json"
        );
        assert!(["1.0", "1.2", "1.4", "1.5"].contains(&card["version"].as_str().unwrap()));
        let elements = card["body"].as_array().unwrap();
        assert!(
            elements
                .iter()
                .all(|e| ["TextBlock", "FactSet"].contains(&e["type"].as_str().unwrap()))
        );
        let facts: Vec<&str> = elements
            .iter()
            .filter(|e| e["type"] == "FactSet")
            .flat_map(|e| e["facts"].as_array().unwrap())
            .map(|f| f["title"].as_str().unwrap())
            .collect();
        for title in ["Tenant", "KPI", "Value", "Threshold", "As of"] {
            assert!(facts.contains(&title), "{title} missing in {body}");
        }
        assert!(body.contains("below 90.0%"), "{body}");
        assert!(body.contains("govpack query"), "a path to the detail: {body}");
    }
    // The URL (and its signature) is a secret: not in the output, the logs, the lake or files.
    let everything = format!(
        "{}{}{}",
        text(&run),
        all_text_under(&dir.path().join("lake")),
        all_text_under(&dir.path().join("output"))
    );
    assert!(
        !everything.contains("TopSecretSignature123"),
        "the webhook signature leaked"
    );
    assert!(
        !everything.contains("/workflows/4f1c9a"),
        "the webhook URL leaked"
    );
}

#[test]
fn a_teams_500_is_retried_with_backoff_then_reported_without_the_url() {
    let (base, seen, handle, server) = fake_server(|_, _, _| (500, "Internal Server Error".into()));
    let dir = msp(ONE_RULE);
    drop_all_exports(dir.path());
    let url = format!("{base}{SECRET_WEBHOOK_PATH}");
    let run = govpack(
        dir.path(),
        &["run", "daily", "--as-of", "2026-10-31"],
        &[("GOVPACK_TEAMS_WEBHOOK_URL", &url)],
    );
    server.unblock();
    handle.join().unwrap();
    assert_eq!(
        run.status.code(),
        Some(1),
        "an undelivered alert makes the run partial: {}",
        text(&run)
    );
    let failed = query(dir.path(), "select delivery from alerts");
    assert!(
        !failed.is_empty() && failed.iter().all(|r| r[0] == "failed"),
        "{failed:?}"
    );
    // Each card: the first try and two retries.
    assert_eq!(seen.lock().unwrap().len(), failed.len() * 3);
    let out = text(&run);
    assert!(
        out.contains("HTTP 500") && out.contains("$GOVPACK_TEAMS_WEBHOOK_URL"),
        "{out}"
    );
    assert!(
        !out.contains("TopSecretSignature123") && !out.contains("/workflows/4f1c9a"),
        "{out}"
    );
    assert_eq!(query(dir.path(), "select status from runs")[0][0], "partial");
    // The next run of the same day tries the failed ones again (the fake now still fails).
    let again = daily_dry_run(dir.path(), "2026-10-31");
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(
        query(dir.path(), "select delivery from alerts")
            .iter()
            .all(|r| r[0] == "dry_run")
    );
}

#[test]
fn with_no_webhook_url_the_alerts_stay_pending_and_the_next_run_with_a_url_posts_them() {
    let dir = msp(ONE_RULE);
    drop_all_exports(dir.path());
    let run = govpack(dir.path(), &["run", "daily", "--as-of", "2026-10-31"], &[]);
    assert_eq!(run.status.code(), Some(1), "partial: {}", text(&run));
    assert!(
        text(&run).contains("no webhook URL in GOVPACK_TEAMS_WEBHOOK_URL"),
        "{}",
        text(&run)
    );
    assert_eq!(query(dir.path(), "select status from runs")[0][0], "partial");
    let pending = query(dir.path(), "select delivery from alerts where is_new");
    assert!(
        !pending.is_empty() && pending.iter().all(|r| r[0] == "undelivered"),
        "{pending:?}"
    );
    let cards = files_in(&dir.path().join("output/alerts/2026-10-31"));
    assert!(!cards.is_empty());
    let card: Json = serde_json::from_str(
        &fs::read_to_string(dir.path().join("output/alerts/2026-10-31").join(&cards[0])).unwrap(),
    )
    .unwrap();
    assert_eq!(card["attachments"][0]["content"]["type"], "AdaptiveCard");
    let check = govpack(dir.path(), &["status", "--check"], &[]);
    assert_eq!(check.status.code(), Some(1));
    assert!(
        text(&check).contains(&format!("{} alert(s) not delivered", pending.len())),
        "{}",
        text(&check)
    );

    // The URL is set and the job runs again: the pending breaches are still new, and go out.
    let (base, seen, handle, server) = fake_server(|_, _, _| (202, String::new()));
    let url = format!("{base}{SECRET_WEBHOOK_PATH}");
    let next = govpack(
        dir.path(),
        &["run", "daily", "--as-of", "2026-10-31"],
        &[("GOVPACK_TEAMS_WEBHOOK_URL", &url)],
    );
    server.unblock();
    handle.join().unwrap();
    assert_eq!(next.status.code(), Some(0), "{}", text(&next));
    assert_eq!(seen.lock().unwrap().len(), pending.len());
    let posted = query(
        dir.path(),
        "select delivery from alerts where is_new and delivery = 'posted'",
    );
    assert!(
        posted.len() == pending.len() && posted.iter().all(|r| r[0] == "posted"),
        "{posted:?}"
    );
}

/// Autotask's answer to a ticket query by externalID over the fake's tickets (ids from 9000).
fn ticket_query_answer(tickets: &[String], request: &Json) -> (u16, String) {
    let wanted = request["filter"][0]["value"].as_str().unwrap_or("").to_string();
    let items: Vec<Json> = tickets
        .iter()
        .enumerate()
        .filter(|(_, id)| **id == wanted)
        .map(|(n, id)| serde_json::json!({"id": 9000 + n, "externalID": id}))
        .collect();
    (
        200,
        serde_json::json!({"items": items, "pageDetails": {"count": items.len()}}).to_string(),
    )
}

/// `run daily --apply` on 2026-08-27 (the sample's ticket day) with these variables.
fn apply_tickets(dir: &Path, env: &[(&str, String)]) -> Output {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    govpack(
        dir,
        &["run", "daily", "--as-of", "2026-08-27", "--dry-run", "--apply"],
        &env,
    )
}

/// The Autotask variables without AUTOTASK_BASE_URL: the zone comes from the zone lookup.
fn zone_lookup_env(base: &str) -> Vec<(&'static str, String)> {
    autotask_env(base)
        .into_iter()
        .filter(|(k, _)| *k != "AUTOTASK_BASE_URL")
        .collect()
}

/// The Autotask fake: tickets by externalID; `/Tickets/query` finds them, `/Tickets` creates.
fn fake_autotask(existing: Vec<String>) -> (String, Seen, JoinHandle<()>, Arc<tiny_http::Server>) {
    let tickets = Arc::new(Mutex::new(existing));
    let own_url = Arc::new(Mutex::new(String::new()));
    let zone_url = own_url.clone();
    let fake = fake_server(move |method, url, body| {
        let mut tickets = tickets.lock().unwrap();
        let request: Json = serde_json::from_str(body).unwrap_or(Json::Null);
        match (method, url) {
            ("POST", "/ATServicesRest/V1.0/Tickets/query") => ticket_query_answer(&tickets, &request),
            ("POST", "/ATServicesRest/V1.0/Tickets") => {
                tickets.push(request["externalID"].as_str().unwrap().to_string());
                (
                    200,
                    serde_json::json!({"itemId": 9000 + tickets.len() - 1}).to_string(),
                )
            }
            ("GET", "/atservicesrest/V1.0/zoneInformation?user=govpack-api%40msp.example") => {
                // The zone answer names the fake itself, as Autotask names webservicesN.
                let url = format!("{}/ATServicesRest/", zone_url.lock().unwrap());
                (
                    200,
                    serde_json::json!({"zoneName": "Fake", "url": url, "webUrl": "", "ci": 1}).to_string(),
                )
            }
            _ => (404, "{}".into()),
        }
    });
    *own_url.lock().unwrap() = fake.0.clone();
    fake
}

const TICKETS: &str = "[tickets]\nqueue_id = 29682833\nsub_issue_type_id = 231\n";

fn autotask_env(base: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AUTOTASK_API_INTEGRATION_CODE", "INTEGRATIONCODE42".into()),
        ("AUTOTASK_USERNAME", "govpack-api@msp.example".into()),
        ("AUTOTASK_SECRET", "s3cr3t-value".into()),
        ("AUTOTASK_BASE_URL", format!("{base}/ATServicesRest/")),
    ]
}

#[test]
fn remediation_tickets_are_prepared_for_review_by_default_and_created_once_with_apply() {
    // 2026-08-27: the sample's domain controller has failed KB5044348 since 2026-08-23 22:36
    // with no ticket: open 73.4 h at the end of the 26th, past the 72 h default.
    let dir = msp(TICKETS);
    drop_all_exports(dir.path());
    let review = daily_dry_run(dir.path(), "2026-08-27");
    assert_eq!(review.status.code(), Some(0), "{}", text(&review));
    let csv_path = dir
        .path()
        .join("output/tickets/2026-08-27/remediation-tickets.csv");
    let mut reader = csv::Reader::from_path(&csv_path).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert!(!rows.is_empty(), "{}", text(&review));
    let headers = reader.headers().unwrap().clone();
    let field = |row: &csv::StringRecord, name: &str| {
        row[headers.iter().position(|h| h == name).unwrap()].to_string()
    };
    let dc = rows
        .iter()
        .find(|r| field(r, "device_id") == "nwd-1000")
        .expect("the DC's episode");
    assert_eq!(field(dc, "status"), "prepared");
    assert_eq!(field(dc, "patch_id"), "KB5044348");
    assert_eq!(field(dc, "priority"), "1", "a domain controller is priority 1");
    assert_eq!(field(dc, "error_codes"), "0x80070643");
    assert_eq!(field(dc, "first_failure_utc"), "2026-08-23T22:36:00Z");
    assert_eq!(
        query(dir.path(), "select status from remediation_tickets")[0][0],
        "prepared"
    );

    let (base, seen, handle, server) = fake_autotask(Vec::new());
    let env = autotask_env(&base);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let applied = govpack(
        dir.path(),
        &["run", "daily", "--as-of", "2026-08-27", "--dry-run", "--apply"],
        &env,
    );
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied));
    // Re-running the approved day with --apply creates nothing more.
    let again = govpack(
        dir.path(),
        &["run", "daily", "--as-of", "2026-08-27", "--dry-run", "--apply"],
        &env,
    );
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    // Neither does a lake that lost its record: Autotask is asked first.
    fs::remove_dir_all(dir.path().join("lake/remediation_tickets")).unwrap();
    let lost = govpack(
        dir.path(),
        &["run", "daily", "--as-of", "2026-08-27", "--dry-run", "--apply"],
        &env,
    );
    assert_eq!(lost.status.code(), Some(0), "{}", text(&lost));
    server.unblock();
    handle.join().unwrap();

    let seen = seen.lock().unwrap();
    let creates: Vec<_> = seen
        .iter()
        .filter(|r| r.1 == "/ATServicesRest/V1.0/Tickets")
        .collect();
    assert_eq!(
        creates.len(),
        rows.len(),
        "one ticket per episode, however often the day is run"
    );
    for (_, _, headers, _) in seen.iter() {
        for (name, value) in [
            ("apiintegrationcode", "INTEGRATIONCODE42"),
            ("username", "govpack-api@msp.example"),
            ("secret", "s3cr3t-value"),
        ] {
            assert!(
                headers.iter().any(|(k, v)| k == name && v == value),
                "{name} header"
            );
        }
    }
    let payload: Json = creates
        .iter()
        .map(|r| serde_json::from_str::<Json>(&r.3).unwrap())
        .find(|p| p["title"].as_str().unwrap().contains("NWD-DC01"))
        .unwrap();
    assert_eq!(payload["companyID"], 29683500);
    assert_eq!(payload["queueID"], 29682833);
    assert_eq!(payload["subIssueType"], 231);
    assert_eq!(
        payload["priority"], 4,
        "priority 1 maps to Autotask's Critical (id 4)"
    );
    assert_eq!(payload["status"], 1);
    assert_eq!(
        payload["dueDateTime"], "2026-08-29T00:00:00Z",
        "24 h after the end of the day"
    );
    let description = payload["description"].as_str().unwrap();
    for fact in [
        "NWD-DC01",
        "nwd-1000",
        "domain_controller",
        "KB5044348",
        "0x80070643",
        "Failed attempts: 1",
        "2026-08-23T22:36:00Z",
    ] {
        assert!(description.contains(fact), "{fact} missing: {description}");
    }
    assert!(payload["externalID"].as_str().unwrap().starts_with("govpack-"));
    let statuses = query(
        dir.path(),
        "select status, autotask_ticket_id from remediation_tickets order by 1",
    );
    assert!(
        statuses
            .iter()
            .all(|s| s[0] == "existing" && s[1].starts_with("900")),
        "{statuses:?}"
    );
    // The secret never shows.
    let everything = format!(
        "{}{}{}",
        text(&applied),
        text(&lost),
        all_text_under(&dir.path().join("lake"))
    );
    assert!(!everything.contains("s3cr3t-value"));
}

#[test]
fn apply_without_credentials_is_a_usage_error_before_anything_runs() {
    let dir = msp(TICKETS);
    drop_all_exports(dir.path());
    let run = govpack(
        dir.path(),
        &["run", "daily", "--as-of", "2026-08-27", "--apply"],
        &[],
    );
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    assert!(text(&run).contains("AUTOTASK_SECRET"), "{}", text(&run));
    assert_eq!(
        files_in(&dir.path().join("inbox")).len(),
        SAMPLE_FILES,
        "nothing was ingested"
    );
}

#[test]
fn json_logs_for_a_collector_carry_the_run_and_its_outcome() {
    let dir = msp(ONE_RULE);
    drop_all_exports(dir.path());
    let log = dir.path().join("govpack.log");
    let run = govpack(
        dir.path(),
        &[
            "--log-format",
            "json",
            "--log-file",
            "govpack.log",
            "run",
            "daily",
            "--as-of",
            "2026-10-31",
            "--dry-run",
        ],
        &[],
    );
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let lines: Vec<Json> = fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every log line is JSON"))
        .collect();
    let finished = lines
        .iter()
        .find(|l| l["message"] == "run finished")
        .expect("a run finished event");
    assert_eq!(finished["status"], "succeeded");
    assert!(
        finished["run_id"]
            .as_str()
            .unwrap()
            .starts_with("daily-2026-10-31-")
    );
}

#[test]
fn the_cron_sequence_leaves_a_ledger_alerts_tickets_monthly_packs_and_a_stale_tenant_in_status() {
    let dir = TempDir::new().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/rehearse.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg("rehearsal")
        .current_dir(dir.path())
        .env("GOVPACK", env!("CARGO_BIN_EXE_govpack"))
        .env_remove("STAND_IN")
        .env("MONTHS", "2")
        .env_remove("GOVPACK_TEAMS_WEBHOOK_URL")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let work = dir.path().join("rehearsal");
    let status = String::from_utf8_lossy(&out.stdout).to_string();
    // Summit & Vale's RMM export stopped after 2026-10-12: flagged, and the only one flagged.
    let stale: Vec<&str> = status.lines().filter(|l| l.contains("STALE: ")).collect();
    assert_eq!(stale.len(), 1, "{status}");
    assert!(
        stale[0].starts_with("29683551") && stale[0].contains("2026-10-12"),
        "{status}"
    );
    // The ledger: one run per drop day and the month close, all succeeded.
    let runs = query(
        &work,
        "select job, status, count(*)::varchar from runs group by all order by 1",
    );
    assert_eq!(
        runs,
        [
            ["daily", "succeeded", "53"],
            ["monthly", "succeeded", "2"],
            ["weekly", "succeeded", "8"]
        ],
        "{status}"
    );
    // Alerts: the stale tenant was alerted once, the day it crossed the threshold.
    let stale_alerts = query(
        &work,
        "select evaluated_on::varchar from alerts where rule = 'stale_tenant_data' and is_new",
    );
    assert_eq!(stale_alerts, [["2026-10-21"]]);
    assert!(
        files_in(&work.join("output/alerts/2026-10-21"))
            .iter()
            .any(|f| f.contains("stale_tenant_data-29683551"))
    );
    // Prepared remediation tickets for review, and the monthly packs, verified.
    let ticket_days = files_in(&work.join("output/tickets"));
    assert!(!ticket_days.is_empty(), "{status}");
    for day in &ticket_days {
        let review = work
            .join("output/tickets")
            .join(day)
            .join("remediation-tickets.csv");
        assert!(
            csv::Reader::from_path(&review).unwrap().records().count() > 0,
            "{}",
            review.display()
        );
    }
    assert!(
        query(&work, "select status from remediation_tickets")
            .iter()
            .all(|r| r[0] == "prepared")
    );
    assert_eq!(files_in(&work.join("output/weekly")).len(), 8);
    assert_eq!(files_in(&work.join("output/reports")), ["2026-09", "2026-10"]);
    let month = work.join("output/reports/2026-10");
    for scope in ["", "29683500", "29683517", "29683534", "29683551"] {
        let scope_dir = month.join(scope);
        assert!(
            scope_dir.join("proof-brief.pdf").exists(),
            "{}",
            scope_dir.display()
        );
        let bundle = fs::read_dir(&scope_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("evidence-"))
            .unwrap();
        let verify = govpack(&work, &["verify", bundle.to_str().unwrap()], &[]);
        assert_eq!(verify.status.code(), Some(0), "{}", text(&verify));
    }
    assert!(month.join("failure-patterns-2026-10.xlsx").exists());
    // The operations tables are lake tables like the others: Power BI reads them the same way.
    for table in ["runs", "alerts", "remediation_tickets"] {
        let log = work.join("lake").join(table);
        for file in files_in(&log) {
            assert!(
                common::assert_power_bi_profile(&log.join(file)) > 0,
                "{table} has its timestamps"
            );
        }
    }

    // Idempotent: re-running the last day with the same lake changes none of its alerts or
    // cards; re-running a day of the closed month says it replaces the close's KPIs, and closing
    // the month again gives a byte-identical evidence bundle.
    let day_alerts = "select breach_key, value::varchar, is_new::varchar, delivery, card_file
                      from alerts where evaluated_on = date '2026-10-31' order by 1";
    let manifest = month.join("evidence-portfolio-2026-10/manifest.sha256");
    let (before, alerts_before) = (fs::read(&manifest).unwrap(), query(&work, day_alerts));
    let cards_before = all_text_under(&work.join("output/alerts/2026-10-31"));
    let last_day = govpack(
        &work,
        &["run", "daily", "--as-of", "2026-10-31", "--dry-run"],
        &[],
    );
    assert_eq!(last_day.status.code(), Some(0), "{}", text(&last_day));
    assert!(
        query(&work, day_alerts) == alerts_before,
        "re-running 2026-10-31 changed its alerts"
    );
    assert!(all_text_under(&work.join("output/alerts/2026-10-31")) == cards_before);
    let history = govpack(
        &work,
        &["run", "daily", "--as-of", "2026-10-21", "--dry-run"],
        &[],
    );
    assert_eq!(history.status.code(), Some(0), "{}", text(&history));
    assert!(
        text(&history).contains("2026-10 was closed by run monthly-2026-11-01"),
        "{}",
        text(&history)
    );
    let close = govpack(
        &work,
        &["run", "monthly", "--as-of", "2026-11-01", "--dry-run"],
        &[],
    );
    assert_eq!(close.status.code(), Some(0), "{}", text(&close));
    assert_eq!(
        fs::read_to_string(&manifest).unwrap(),
        String::from_utf8(before).unwrap(),
        "the same lake must give the same bundle"
    );
}

#[test]
fn the_rehearsal_with_stand_ins_collects_every_source_into_todays_run() {
    let dir = TempDir::new().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/rehearse.sh");
    // `cargo test` builds the examples beside the binary: the collector rehearsal's stand-ins.
    let stand_in = Path::new(env!("CARGO_BIN_EXE_govpack"))
        .parent()
        .unwrap()
        .join("examples/vendor_stand_in");
    assert!(stand_in.exists(), "{} was not built", stand_in.display());
    let out = Command::new("bash")
        .arg(&script)
        .arg("rehearsal")
        .current_dir(dir.path())
        .env("GOVPACK", env!("CARGO_BIN_EXE_govpack"))
        .env("STAND_IN", &stand_in)
        .env("MONTHS", "1")
        .env_remove("GOVPACK_TEAMS_WEBHOOK_URL")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let work = dir.path().join("rehearsal");
    let status = String::from_utf8_lossy(&out.stdout).to_string();
    let check = fs::read_to_string(work.join("collect-check.log")).unwrap();
    assert!(
        check.contains("datto-rmm: token ok; 2 sites, 600 devices"),
        "{check}"
    );
    assert!(
        check.contains("ninjaone: token ok; 2 organizations, 600 devices"),
        "{check}"
    );
    assert!(check.contains("autotask: zone http://127.0.0.1:"), "{check}");
    assert!(check.contains("3 companies, 600 tickets"), "{check}");
    assert!(
        check.contains("connectwise-manage: credentials ok; 4 companies, 600 tickets"),
        "{check}"
    );
    assert!(
        check.contains("wufb: token ok; 600 devices, 1200 update rows in the last day"),
        "{check}"
    );
    // Today's run collected every source from the stand-ins (this month's CVRF document is not
    // published yet) and ingested it.
    let collected = query(
        &work,
        "select source, status, count(*)::varchar from collections group by all order by 1, 2",
    );
    assert_eq!(
        collected,
        [
            ["autotask", "collected", "5"],
            ["cisa-kev", "collected", "1"],
            ["connectwise-manage", "collected", "2"],
            ["datto-rmm", "collected", "4"],
            ["msrc-cvrf", "absent", "1"],
            ["msrc-cvrf", "collected", "2"],
            ["ninjaone", "collected", "4"],
            ["wufb", "collected", "1"],
        ],
        "{status}"
    );
    let today = Utc::now().date_naive();
    assert_eq!(
        query(
            &work,
            &format!("select count(*)::varchar from devices where snapshot_date = date '{today}'")
        ),
        [["1800"]]
    );
    let today_run = query(
        &work,
        &format!("select status from runs where as_of = date '{today}' and job = 'daily'"),
    );
    assert_eq!(today_run, [["succeeded"]]);
    assert_eq!(
        query(
            &work,
            "select source_system, count(*)::varchar from tickets
             where source_system in ('autotask', 'connectwise_manage') group by 1 order by 1"
        ),
        [["autotask", "600"], ["connectwise_manage", "600"]]
    );
}

#[test]
fn only_open_unticketed_episodes_past_the_limit_on_current_included_devices_get_a_ticket() {
    let (dir, inbox) = bare_msp();
    fs::write(
        inbox.join("tenants.csv"),
        "tenant_id,tenant_name,criticality,psa_company_id\nT1,Acme Dental,high,100\n",
    )
    .unwrap();
    // old-1 was in the 1 October snapshot and is gone (retired) by the 10th; ws-x is excluded.
    fs::write(
        inbox.join("devices.csv"),
        "snapshot_date,tenant_id,device_id,hostname,device_class,role,excluded,last_seen_utc\n\
         2026-10-01,T1,old-1,OLD01,workstation,,false,2026-10-01T08:00:00Z\n\
         2026-10-10,T1,srv-1,ACME-DC01,server,domain_controller,false,2026-10-10T08:00:00Z\n\
         2026-10-10,T1,ws-1,ACME-WS01,workstation,,false,2026-10-10T08:00:00Z\n\
         2026-10-10,T1,ws-x,ACME-WS99,workstation,,true,2026-10-10T08:00:00Z\n",
    )
    .unwrap();
    fs::write(
        inbox.join("patch_attempts.csv"),
        "attempt_utc,tenant_id,device_id,patch_id,result,error_code\n\
         2026-10-05T02:00:00Z,T1,srv-1,KB1,failure,0x80070643\n\
         2026-10-06T02:00:00Z,T1,srv-1,KB1,failure,0x800f0922\n\
         2026-10-08T02:00:00Z,T1,ws-1,KB2,failure,0x80070002\n\
         2026-10-05T02:00:00Z,T1,ws-x,KB3,failure,0x80070643\n\
         2026-10-02T02:00:00Z,T1,old-1,KB4,failure,0x80070643\n\
         2026-10-05T02:00:00Z,T1,srv-1,KB5,failure,0x80070643\n\
         2026-10-01T02:00:00Z,T1,ws-1,KB6,failure,0x80070643\n\
         2026-10-03T02:00:00Z,T1,ws-1,KB6,success,\n",
    )
    .unwrap();
    // Someone is already on srv-1's KB5.
    fs::write(
        inbox.join("tickets.csv"),
        "ticket_id,tenant_id,ticket_type,title,status,created_utc,device_id,patch_id\n\
         501,T1,remediation,KB5 failing on ACME-DC01,in_progress,2026-10-06T09:00:00Z,srv-1,KB5\n",
    )
    .unwrap();
    let run = daily_dry_run(dir.path(), "2026-10-10");
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let mut reader = csv::Reader::from_path(
        dir.path()
            .join("output/tickets/2026-10-10/remediation-tickets.csv"),
    )
    .unwrap();
    let headers = reader.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    // KB2 on ws-1 is open 70 h at the end of the 10th (under 72); KB3 excluded device; KB4
    // retired device; KB5 has a ticket; KB6 succeeded. Only srv-1's KB1 is due.
    assert_eq!(rows.len(), 1, "{rows:?}");
    let field = |name: &str| rows[0][headers.iter().position(|h| h == name).unwrap()].to_string();
    assert_eq!(field("device_id"), "srv-1");
    assert_eq!(field("patch_id"), "KB1");
    assert_eq!(field("priority"), "1");
    assert_eq!(field("failed_attempts"), "2");
    assert_eq!(field("first_failure_utc"), "2026-10-05T02:00:00Z");
    assert_eq!(field("last_failure_utc"), "2026-10-06T02:00:00Z");
    assert_eq!(field("error_codes"), "0x80070643, 0x800f0922");
    assert_eq!(field("open_hours"), "142.0");
    assert_eq!(field("due_utc"), "2026-10-12T00:00:00Z");
    assert_eq!(field("autotask_company_id"), "100");
}

#[test]
fn a_tenant_with_its_own_channel_gets_its_alerts_there_and_nobody_elses() {
    let (base, seen, handle, server) = fake_server(|_, _, _| (202, String::new()));
    // 29683534 (Cedar Valley) has its own channel; every other tenant's alerts go to the MSP's.
    let dir = msp(&format!(
        "{ONE_RULE}[alerts.tenant_webhook_env]\n\"29683534\" = \"GOVPACK_TEAMS_WEBHOOK_CEDAR\"\n"
    ));
    drop_all_exports(dir.path());
    let (msp_url, cedar_url) = (format!("{base}/msp?sig=a"), format!("{base}/cedar?sig=b"));
    let run = govpack(
        dir.path(),
        &["run", "daily", "--as-of", "2026-10-31"],
        &[
            ("GOVPACK_TEAMS_WEBHOOK_URL", &msp_url),
            ("GOVPACK_TEAMS_WEBHOOK_CEDAR", &cedar_url),
        ],
    );
    server.unblock();
    handle.join().unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let seen = seen.lock().unwrap();
    let channels = query(dir.path(), "select tenant_id, channel from alerts order by 1");
    assert!(
        channels.iter().any(|c| c[0] == "29683534"),
        "the sample's Cedar Valley breaches: {channels:?}"
    );
    assert!(channels.iter().any(|c| c[0] != "29683534"), "{channels:?}");
    for (tenant, channel) in channels.iter().map(|c| (&c[0], &c[1])) {
        let expected = if tenant == "29683534" {
            "GOVPACK_TEAMS_WEBHOOK_CEDAR"
        } else {
            "GOVPACK_TEAMS_WEBHOOK_URL"
        };
        assert_eq!(channel, expected);
    }
    for (_, path, _, body) in seen.iter() {
        let for_cedar = body.contains("(29683534)");
        assert_eq!(path.starts_with("/cedar"), for_cedar, "{path}: {body}");
    }
}

#[test]
fn without_autotask_base_url_the_zone_comes_from_the_zone_lookup() {
    let (base, seen, handle, server) = fake_autotask(Vec::new());
    let dir = msp(&format!(
        "{TICKETS}zone_lookup_url = \"{base}/atservicesrest/V1.0/zoneInformation\"\n"
    ));
    drop_all_exports(dir.path());
    let run = apply_tickets(dir.path(), &zone_lookup_env(&base));
    server.unblock();
    handle.join().unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert_eq!(seen[0].0, "GET", "the zone is asked first");
    assert_eq!(
        seen[0].1,
        "/atservicesrest/V1.0/zoneInformation?user=govpack-api%40msp.example"
    );
    assert!(
        seen.iter().any(|r| r.1 == "/ATServicesRest/V1.0/Tickets"),
        "then the zone it named is used"
    );
}

#[test]
fn a_breach_whose_alert_could_not_be_delivered_is_alerted_again_the_next_day() {
    let dir = TempDir::new().unwrap();
    // A channel nothing listens on (port 1), no retries: the post fails at once.
    let variable = "GOVPACK_TEST_UNREACHABLE_WEBHOOK";
    // SAFETY: no other test reads or writes this variable, and this test spawns no threads.
    unsafe { std::env::set_var(variable, "http://127.0.0.1:1/webhook") };
    let mut config = govpack::config::Config::default();
    config.alerts.webhook_env = variable.into();
    config.alerts.retries = 0;
    let lake = lake(dir.path());
    let a = breach("tenant_patch_compliance", "A");
    let day1 = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    let history = alerts::history(&sql::open(&lake).unwrap(), day1).unwrap();
    let d = teams::deliver(
        &config,
        &lake,
        std::slice::from_ref(&a),
        &history,
        day1,
        dir.path(),
        false,
        "t",
    )
    .unwrap();
    assert_eq!((d.new, d.failed.len()), (1, 1));
    assert!(
        !d.failed[0].contains("127.0.0.1:1"),
        "the URL is redacted: {}",
        d.failed[0]
    );
    // The next day the breach persists: its alert never went out, so it is still new.
    let (new, cards) = evaluate_day(dir.path(), "2026-10-02", std::slice::from_ref(&a));
    assert_eq!((new, cards.len()), (1, 1));
    assert_eq!(
        evaluate_day(dir.path(), "2026-10-03", std::slice::from_ref(&a)).0,
        0
    );
}

#[test]
fn a_tenant_id_that_looks_like_a_path_stays_inside_the_months_folder() {
    let (dir, inbox) = bare_msp();
    fs::write(
        inbox.join("tenants.csv"),
        "tenant_id,tenant_name\n../../evil,Evil Corp\na/b,Slash Ltd\na_b,Underscore Ltd\n",
    )
    .unwrap();
    fs::write(
        inbox.join("devices.csv"),
        "snapshot_date,tenant_id,device_id,hostname,device_class,last_seen_utc\n\
         2026-10-10,../../evil,d1,EVIL01,workstation,2026-10-10T08:00:00Z\n\
         2026-10-10,a/b,d2,SLASH01,workstation,2026-10-10T08:00:00Z\n\
         2026-10-10,a_b,d3,UNDER01,workstation,2026-10-10T08:00:00Z\n",
    )
    .unwrap();
    let run = govpack(dir.path(), &["run", "monthly", "--as-of", "2026-11-01"], &[]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let month = dir.path().join("output/reports/2026-10");
    let folder = govpack::reports::tenant_folder("../../evil");
    assert!(folder.starts_with("______evil~"), "{folder}");
    assert!(
        month.join(&folder).join("proof-brief.pdf").exists(),
        "{:?}",
        files_in(&month)
    );
    let bundle = month.join(&folder).join(format!("evidence-{folder}-2026-10"));
    assert!(bundle.is_dir());
    let run_json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(bundle.join("run.json")).unwrap()).unwrap();
    assert_eq!(
        (&run_json["scope"], &run_json["scope_folder"]),
        (&serde_json::json!("../../evil"), &serde_json::json!(folder))
    );
    // Tenants `a/b` and `a_b` each keep a pack of their own.
    for (tenant, hostname) in [("a/b", "SLASH01"), ("a_b", "UNDER01")] {
        let folder = govpack::reports::tenant_folder(tenant);
        let run_json: serde_json::Value = serde_json::from_str(
            &fs::read_to_string(
                month
                    .join(&folder)
                    .join(format!("evidence-{folder}-2026-10"))
                    .join("run.json"),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(run_json["scope"], serde_json::json!(tenant), "{hostname}");
    }
    assert_ne!(
        govpack::reports::tenant_folder("a/b"),
        govpack::reports::tenant_folder("a_b")
    );
    assert_eq!(
        files_in(dir.path()),
        ["govpack.toml", "inbox", "lake", "output"],
        "nothing written beside"
    );
    assert_eq!(files_in(&dir.path().join("output")), ["reports"]);
}

#[test]
fn a_runs_records_are_appended_and_the_ledger_shows_the_latest_even_after_an_older_whole_file() {
    let dir = TempDir::new().unwrap();
    let lake = lake(dir.path());
    let started = RunRecord {
        run_id: "daily-2026-10-30".into(),
        job: "daily".into(),
        as_of: NaiveDate::from_ymd_opt(2026, 10, 30).unwrap(),
        started_utc: Utc::now(),
        status: "running".into(),
        host: "rmm-01".into(),
        ..RunRecord::default()
    };
    ledger::record_run(&lake, &started).unwrap();
    // The earlier layout kept runs as one file, `runs/runs.parquet`, holding a run still running.
    let runs = lake.table_dir("runs");
    let first = files_in(&runs);
    fs::rename(runs.join(&first[0]), runs.join("runs.parquet")).unwrap();
    ledger::mark_abandoned(&lake, "daily-2026-10-30", "daily-2026-10-31").unwrap();
    let next = RunRecord {
        run_id: "daily-2026-10-31".into(),
        status: "running".into(),
        ..started.clone()
    };
    ledger::record_run(&lake, &next).unwrap();
    ledger::record_run(
        &lake,
        &RunRecord {
            status: "succeeded".into(),
            ..next
        },
    )
    .unwrap();

    // Four records, each in a file of its own; nothing rewritten.
    assert_eq!(files_in(&runs).len(), 4, "{:?}", files_in(&runs));
    assert!(!runs.join("runs.parquet").exists());
    assert_eq!(
        query(dir.path(), "select run_id, status from runs order by run_id"),
        [
            ["daily-2026-10-30", "abandoned"],
            ["daily-2026-10-31", "succeeded"]
        ]
    );
    // Compaction keeps the same latest records.
    lake.compact_log(&govpack::canonical::system::RUNS).unwrap();
    assert_eq!(files_in(&runs).len(), 1);
    assert_eq!(
        query(dir.path(), "select run_id, status from runs order by run_id"),
        [
            ["daily-2026-10-30", "abandoned"],
            ["daily-2026-10-31", "succeeded"]
        ]
    );
}

#[test]
fn an_inbox_entry_that_cannot_be_listed_is_set_aside_and_the_others_still_load() {
    let (dir, inbox) = bare_msp();
    fs::write(inbox.join("tenants.csv"), "tenant_id,tenant_name\nT1,Acme\n").unwrap();
    // A link to nothing (an export folder removed by its sync tool): a link is never followed.
    std::os::unix::fs::symlink(dir.path().join("gone"), inbox.join("exports-2026-10-10")).unwrap();
    let run = daily_dry_run(dir.path(), "2026-10-10");
    assert_eq!(run.status.code(), Some(1), "partial: {}", text(&run));
    assert_eq!(query(dir.path(), "select tenant_id from tenants"), [["T1"]]);
    let failed = dir.path().join("inbox/failed/2026-10-10");
    assert_eq!(
        files_in(&failed),
        ["exports-2026-10-10", "exports-2026-10-10.reason.txt"]
    );
    assert!(
        fs::read_to_string(failed.join("exports-2026-10-10.reason.txt"))
            .unwrap()
            .contains("is a symbolic link"),
    );
    assert_eq!(
        files_in(&dir.path().join("inbox/processed/2026-10-10")),
        ["tenants.csv"]
    );
}

#[test]
fn an_inbox_export_with_a_page_that_cannot_be_read_is_set_aside_whole_and_nothing_of_it_loads() {
    let (dir, inbox) = bare_msp();
    fs::write(inbox.join("tenants.csv"), "tenant_id,tenant_name\nT1,Acme\n").unwrap();
    let export = inbox.join("tickets-2026-10-10");
    fs::create_dir(&export).unwrap();
    let header = "ticket_id,tenant_id,ticket_type,status,created_utc";
    for (page, header) in [
        (1, header.to_string()),
        (2, format!("{header},status")),
        (3, header.to_string()),
    ] {
        fs::write(
            export.join(format!("page-{page}.csv")),
            format!("{header}\nK{page},T1,incident,new,2026-10-09T08:00:00Z\n"),
        )
        .unwrap();
    }
    let run = daily_dry_run(dir.path(), "2026-10-10");
    assert_eq!(run.status.code(), Some(1), "partial: {}", text(&run));
    assert_eq!(query(dir.path(), "select tenant_id from tenants"), [["T1"]]);
    assert!(query(dir.path(), "select ticket_id from tickets").is_empty());
    let failed = dir.path().join("inbox/failed/2026-10-10");
    let reason = fs::read_to_string(failed.join("tickets-2026-10-10.reason.txt")).unwrap();
    assert!(
        reason.contains("page-2.csv:1:6: column `status` appears twice"),
        "{reason}"
    );
    assert!(
        reason.contains("2 other file(s) of the same export were read but not loaded"),
        "{reason}"
    );
}

#[test]
fn a_create_that_fails_after_autotask_made_the_ticket_is_looked_up_not_sent_again() {
    // A server that makes the ticket, then answers 500 (a proxy timing out on a slow Autotask).
    let tickets: Arc<Mutex<Vec<String>>> = Arc::default();
    let made = tickets.clone();
    let (base, seen, handle, server) = fake_server(move |method, url, body| {
        let mut tickets = made.lock().unwrap();
        let request: Json = serde_json::from_str(body).unwrap_or(Json::Null);
        match (method, url) {
            ("POST", "/ATServicesRest/V1.0/Tickets/query") => ticket_query_answer(&tickets, &request),
            ("POST", "/ATServicesRest/V1.0/Tickets") => {
                tickets.push(request["externalID"].as_str().unwrap().to_string());
                (500, "upstream timed out".into())
            }
            _ => (404, "{}".into()),
        }
    });
    let dir = msp(&format!(
        "{TICKETS}[alerts]\nretries = 2\nretry_backoff_ms = 10\n"
    ));
    drop_all_exports(dir.path());
    let run = apply_tickets(dir.path(), &autotask_env(&base));
    server.unblock();
    handle.join().unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let creates = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.1 == "/ATServicesRest/V1.0/Tickets")
        .count();
    let made = tickets.lock().unwrap().len();
    assert!(made > 0);
    assert_eq!(
        creates, made,
        "one create per episode: a failed create is looked up, not re-sent"
    );
    assert!(
        query(dir.path(), "select status from remediation_tickets")
            .iter()
            .all(|r| r[0] == "created"),
    );
}

/// A server that answers every request with a redirect to `to`.
fn redirecting_server(to: String) -> (String, JoinHandle<()>, Arc<tiny_http::Server>) {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let port = server.server_addr().to_ip().unwrap().port();
    let s = server.clone();
    let handle = std::thread::spawn(move || {
        for request in s.incoming_requests() {
            let location =
                tiny_http::Header::from_bytes("Location", format!("{to}{}", request.url())).unwrap();
            let _ = request.respond(
                tiny_http::Response::from_string("")
                    .with_status_code(302)
                    .with_header(location),
            );
        }
    });
    (format!("http://127.0.0.1:{port}"), handle, server)
}

#[test]
fn autotask_credentials_follow_no_redirect_and_go_only_to_an_autotask_zone_over_https() {
    let (elsewhere, seen, other_handle, other) = fake_server(|_, _, _| (200, "{}".into()));
    let (base, handle, server) = redirecting_server(elsewhere);
    let dir = msp(&format!("{TICKETS}[alerts]\nretries = 0\n"));
    drop_all_exports(dir.path());
    let run = apply_tickets(dir.path(), &autotask_env(&base));
    server.unblock();
    other.unblock();
    handle.join().unwrap();
    other_handle.join().unwrap();
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    assert!(text(&run).contains("a redirect, not followed"), "{}", text(&run));
    assert!(
        seen.lock().unwrap().is_empty(),
        "the credentials went to the redirect's host"
    );

    // A zone lookup that names a host outside Autotask, or plain HTTP across the network.
    for (zone, refused) in [
        ("https://evil.example/ATServicesRest/", "no Autotask zone"),
        ("http://webservices5.autotask.net/ATServicesRest/", "only HTTPS"),
    ] {
        let answer = serde_json::json!({"url": zone}).to_string();
        let (lookup, _, lookup_handle, lookup_server) = fake_server(move |_, _, _| (200, answer.clone()));
        let dir = msp(&format!(
            "{TICKETS}zone_lookup_url = \"{lookup}/atservicesrest/V1.0/zoneInformation\"\n[alerts]\nretries = 0\n"
        ));
        drop_all_exports(dir.path());
        let run = apply_tickets(dir.path(), &zone_lookup_env(&lookup));
        lookup_server.unblock();
        lookup_handle.join().unwrap();
        assert_ne!(run.status.code(), Some(0), "{zone}: {}", text(&run));
        assert!(text(&run).contains(refused), "{zone}: {}", text(&run));
    }
}

#[test]
fn a_run_killed_while_posting_alerts_never_posts_a_card_twice() {
    let (base, seen, handle, server) = fake_server(|_, _, _| (202, String::new()));
    let dir = msp(ONE_RULE);
    drop_all_exports(dir.path());
    let url = format!("{base}{SECRET_WEBHOOK_PATH}");
    // The run dies the moment Teams accepted its second card, before it could note that.
    let killed = govpack(
        dir.path(),
        &["run", "daily", "--as-of", "2026-10-31"],
        &[
            ("GOVPACK_TEAMS_WEBHOOK_URL", &url),
            ("GOVPACK_FAULT_AFTER_POSTS", "2"),
        ],
    );
    assert!(!killed.status.success(), "{}", text(&killed));
    assert_eq!(seen.lock().unwrap().len(), 2);

    let again = govpack(
        dir.path(),
        &["run", "daily", "--as-of", "2026-10-31"],
        &[("GOVPACK_TEAMS_WEBHOOK_URL", &url)],
    );
    server.unblock();
    handle.join().unwrap();
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    let alerts = query(
        dir.path(),
        "select delivery, count(*)::varchar from alerts group by 1 order by 1",
    );
    let posted_by_both: usize = seen.lock().unwrap().len();
    let total: usize = alerts.iter().map(|r| r[1].parse::<usize>().unwrap()).sum();
    assert_eq!(
        posted_by_both, total,
        "every card once, the one under way not again: {alerts:?}"
    );
    assert!(
        alerts.contains(&vec!["unknown".to_string(), "1".to_string()]),
        "{alerts:?}"
    );
    assert!(
        text(&again).contains("it may be in the channel; not posted again"),
        "{}",
        text(&again)
    );
    assert!(!dir.path().join("lake/.alerts-posting.jsonl").exists());
    // Each card's body went out once.
    let bodies: std::collections::BTreeSet<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(_, _, _, body)| body.clone())
        .collect();
    assert_eq!(bodies.len(), posted_by_both);
}

#[test]
fn a_silent_teams_server_cannot_hold_the_lake_past_the_runs_http_deadline() {
    // Each post takes 3 s to answer; the run may spend 1 s on HTTP in all.
    let (base, seen, handle, server) = fake_server(|_, _, _| {
        std::thread::sleep(std::time::Duration::from_secs(3));
        (202, String::new())
    });
    let dir = msp(&format!("http_deadline_seconds = 1\n{ONE_RULE}"));
    drop_all_exports(dir.path());
    let url = format!("{base}{SECRET_WEBHOOK_PATH}");
    let started = std::time::Instant::now();
    let run = govpack(
        dir.path(),
        &["run", "daily", "--as-of", "2026-10-31"],
        &[("GOVPACK_TEAMS_WEBHOOK_URL", &url)],
    );
    let took = started.elapsed();
    server.unblock();
    handle.join().unwrap();
    assert_eq!(run.status.code(), Some(1), "partial: {}", text(&run));
    let alerts = query(dir.path(), "select delivery from alerts where is_new");
    assert!(alerts.len() > 1, "{alerts:?}");
    assert!(alerts.iter().all(|r| r[0] == "failed"), "{alerts:?}");
    assert!(text(&run).contains("run.http_deadline_seconds"), "{}", text(&run));
    // One post was started (and cut at the deadline); the others were never sent.
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert!(
        took < std::time::Duration::from_secs(3 * alerts.len() as u64),
        "{took:?}"
    );
}

#[test]
fn a_daily_run_before_the_months_first_devices_export_computes_nothing_yet_still_judges_freshness() {
    let dir = sample_run_through_october();
    // Nine days into November and no export since October: nothing to measure in November, so no
    // month of zeros that reads "met"; but every client's exports stopped, and that is alerted.
    let november = daily_dry_run(dir.path(), "2026-11-09");
    assert!(november.status.success(), "{}", text(&november));
    assert!(
        text(&november).contains("No devices snapshot from 2026-11-01 to 2026-11-09 yet"),
        "{}",
        text(&november)
    );
    assert!(!dir.path().join("lake/kpi/kpi_summary/period=2026-11").exists());
    assert_eq!(
        query(
            dir.path(),
            "select coalesce(periods_computed, '') from runs where as_of = date '2026-11-09'"
        ),
        [[""]]
    );
    let stale = query(
        dir.path(),
        "select count(*)::varchar from alerts where evaluated_on = date '2026-11-09' and kind = 'stale_data'",
    );
    assert_eq!(stale, [["4"]], "every client's exports stopped");
}

#[test]
fn a_forgotten_period_is_recorded_in_the_run_ledger_with_its_reason() {
    let dir = sample_run_through_october();
    let without_reason = govpack(dir.path(), &["kpi", "--forget", "--period", "2026-10"], &[]);
    assert_eq!(without_reason.status.code(), Some(2), "{}", text(&without_reason));
    let forget = govpack(
        dir.path(),
        &[
            "kpi",
            "--forget",
            "--period",
            "2026-10",
            "--reason",
            "computed before Harbor Freight's exports were complete",
        ],
        &[],
    );
    assert!(forget.status.success(), "{}", text(&forget));
    assert!(!dir.path().join("lake/kpi/kpi_summary/period=2026-10").exists());
    assert_eq!(
        query(
            dir.path(),
            "select job, status, note from runs where job = 'forget'"
        ),
        [[
            "forget",
            "succeeded",
            "forgot the KPIs of period 2026-10 (2026-10-01 to 2026-10-31): computed before Harbor Freight's exports were complete"
        ]]
    );
}
