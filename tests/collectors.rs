//! Collectors against stand-ins on 127.0.0.1 that speak the vendors' APIs as documented (see
//! each `src/collect/<source>.rs` header): Datto RMM's token grant, `nextPageUrl` paging, a
//! token expiring mid-run (401), 429 with `Retry-After`, 5xx; CISA's catalog feed; MSRC's CVRF
//! documents and a month not yet published (404). Page bodies come from the vendor samples.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use govpack::lake::Lake;
use serde_json::{Value, json};
use tempfile::TempDir;

mod common;

const KEY: &str = "dattoKEY-7f3a9c21";
const SECRET: &str = "dattoSECRET-b41e77d0c9";

fn fixture(path: &str) -> Value {
    let text = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(path),
    )
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// How the Datto stand-in misbehaves.
#[derive(Default, Clone, Copy)]
struct Quirks {
    /// Devices pages answered before the token expires (every request then answers 401 until a
    /// new token is granted).
    token_expires_after: Option<usize>,
    /// The first devices request answers 429 with `Retry-After: 1`; the second a 503.
    throttle_first: bool,
    /// The devices page of this number points back at the previous page's URL.
    repeat_page: Option<usize>,
    /// The alerts pages report one more record than they hold.
    short_total: bool,
}

/// The stand-in: sites, `devices` devices over pages of `page_size`, an open patch alert, the
/// KEV catalog and the October CVRF document (November is not published). Returns its base URL,
/// what it was asked (method and URL) and the token grants it made.
struct StandIn {
    base: String,
    seen: Arc<Mutex<Vec<String>>>,
    grants: Arc<AtomicUsize>,
    server: Arc<tiny_http::Server>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

fn stand_in(devices: usize, page_size: usize, quirks: Quirks) -> StandIn {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let base = format!(
        "http://127.0.0.1:{}",
        server.server_addr().to_ip().unwrap().port()
    );
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let grants = Arc::new(AtomicUsize::new(0));
    let sites = fixture("vendor/datto_rmm_sites_page.json");
    let template = fixture("vendor/datto_rmm_devices_page.json")["devices"][0].clone();
    let alert = fixture("vendor/datto_rmm_alert_patch.json");
    let kev = fixture("vulnerability/known_exploited_vulnerabilities.json");
    let cvrf = fixture("vulnerability/msrc-cvrf-2026-Oct.json");
    let (s, record, granted, url_base) = (server.clone(), seen.clone(), grants.clone(), base.clone());
    std::thread::spawn(move || {
        let mut devices_asked = 0;
        let mut expired = false;
        for mut request in s.incoming_requests() {
            let mut body = String::new();
            request.as_reader().read_to_string(&mut body).unwrap();
            let url = request.url().to_string();
            let header = |name: &str| {
                request
                    .headers()
                    .iter()
                    .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
                    .map(|h| h.value.as_str().to_string())
                    .unwrap_or_default()
            };
            let token = format!("tok-{}", granted.load(Ordering::SeqCst));
            let authorised = header("Authorization") == format!("Bearer {token}") && !expired;
            record.lock().unwrap().push(format!("{} {url}", request.method()));
            let path = url.split('?').next().unwrap_or_default().to_string();
            let page: usize = url
                .split("page=")
                .nth(1)
                .and_then(|p| p.split('&').next())
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            let mut retry_after = None;
            let (status, reply) = match path.as_str() {
                "/auth/oauth/token" => {
                    let form_ok = body.contains("grant_type=password")
                        && body.contains(&format!("username={KEY}"))
                        && body.contains(&format!("password={SECRET}"));
                    if header("Authorization") == "Basic cHVibGljLWNsaWVudDpwdWJsaWM=" && form_ok {
                        let n = granted.fetch_add(1, Ordering::SeqCst) + 1;
                        expired = false;
                        (200, json!({"access_token": format!("tok-{n}"), "token_type": "bearer", "expires_in": 359999}).to_string())
                    } else {
                        (401, r#"{"error":"invalid_grant"}"#.to_string())
                    }
                }
                _ if path.starts_with("/api/") && !authorised => (401, r#"{"error":"invalid_token"}"#.into()),
                "/api/v2/account/sites" => (200, sites.to_string()),
                "/api/v2/account/devices" => {
                    devices_asked += 1;
                    if quirks.throttle_first && devices_asked == 1 {
                        retry_after = Some("1");
                        (429, r#"{"message":"rate limit exceeded"}"#.into())
                    } else if quirks.throttle_first && devices_asked == 2 {
                        (503, "busy".into())
                    } else {
                        if quirks.token_expires_after == Some(devices_asked) {
                            expired = true;
                        }
                        let pages = devices.div_ceil(page_size).max(1);
                        let items: Vec<Value> = (page * page_size..((page + 1) * page_size).min(devices))
                            .map(|i| {
                                let mut d = template.clone();
                                d["id"] = json!(5_000_000 + i);
                                d["uid"] = json!(format!("dev-{i:06}"));
                                d["hostname"] = json!(format!("CONTOSO-WS{i:05}"));
                                d
                            })
                            .collect();
                        let next_page = if quirks.repeat_page == Some(page + 1) {
                            page
                        } else {
                            page + 1
                        };
                        let next = (page + 1 < pages).then(|| {
                            format!("{url_base}/api/v2/account/devices?max={page_size}&page={next_page}")
                        });
                        (
                            200,
                            json!({"pageDetails": {"count": items.len(), "totalCount": devices,
                                "prevPageUrl": null, "nextPageUrl": next}, "devices": items})
                            .to_string(),
                        )
                    }
                }
                "/api/v2/account/alerts/open" => (
                    200,
                    json!({"pageDetails": {"count": 1, "totalCount": if quirks.short_total { 2 } else { 1 },
                        "prevPageUrl": null, "nextPageUrl": null}, "alerts": [alert]})
                    .to_string(),
                ),
                "/feeds/known_exploited_vulnerabilities.json" => (200, kev.to_string()),
                // This month's document is not published yet; any earlier month's is.
                p if p.starts_with("/cvrf/v3.0/cvrf/") => {
                    if p.ends_with(&this_month()) {
                        (404, String::new())
                    } else {
                        (200, cvrf.to_string())
                    }
                }
                "/cvrf/v3.0/updates" => (
                    200,
                    json!({"value": [{"ID": "2026-Oct"}, {"ID": "2026-Sep"}]}).to_string(),
                ),
                _ => (404, String::new()),
            };
            let mut response = tiny_http::Response::from_string(reply).with_status_code(status);
            if let Some(seconds) = retry_after {
                response.add_header(tiny_http::Header::from_bytes("Retry-After", seconds).unwrap());
            }
            let _ = request.respond(response);
        }
    });
    StandIn {
        base,
        seen,
        grants,
        server,
    }
}

/// The CVRF id of today's month (`2026-Dec`): the stand-in has not published it.
fn this_month() -> String {
    chrono::Utc::now().format("%Y-%b").to_string()
}

fn last_month() -> String {
    (chrono::Utc::now().date_naive() - chrono::Months::new(1))
        .format("%Y-%b")
        .to_string()
}

/// A working folder whose config collects the three sources from the stand-in.
fn msp(base: &str) -> TempDir {
    let dir = TempDir::new().unwrap();
    fs::write(
        dir.path().join("govpack.toml"),
        format!(
            "[lake]\npath = \"lake\"\n[run]\ninbox = \"inbox\"\noutput = \"output\"\n\
             [collect]\nsources = [\"cisa-kev\", \"msrc-cvrf\", \"datto-rmm\"]\nretries = 3\nretry_backoff_ms = 50\ntimeout_seconds = 10\n\
             [collect.cisa_kev]\nurl = \"{base}/feeds/known_exploited_vulnerabilities.json\"\n\
             [collect.msrc_cvrf]\napi_url = \"{base}/cvrf/v3.0\"\nmonths = 2\n\
             [collect.datto_rmm]\napi_url = \"{base}\"\n"
        ),
    )
    .unwrap();
    dir
}

fn govpack(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_govpack"))
        .args(args)
        .current_dir(dir)
        .env("GOVPACK_LOG", "trace")
        .env("GOVPACK_DATTO_RMM_API_KEY", KEY)
        .env("GOVPACK_DATTO_RMM_API_SECRET", SECRET)
        .output()
        .expect("run govpack")
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
    let api = stand_in(
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
    let api = stand_in(
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
            .any(|n| n.contains("devices") || n.contains("alerts")),
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
    let api = stand_in(30, 10, Quirks::default());
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
        1 + 2 + 1 + 3 + 1,
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
        again_text.contains("0 loaded") && again_text.contains("8 skipped"),
        "{again_text}"
    );
    assert_eq!(
        query(dir.path(), "select count(*) from devices"),
        [vec!["30".to_string()]]
    );
}

#[test]
fn a_run_as_of_another_day_collects_nothing_rather_than_record_todays_devices_as_that_days() {
    let api = stand_in(5, 5, Quirks::default());
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
    let api = stand_in(1234, 250, Quirks::default());
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

const CLIENT_ID: &str = "ninja-client-3c1d";
const CLIENT_SECRET: &str = "ninja-secret-9f8e7d6c";

/// The NinjaOne stand-in: two organizations, `devices` devices (alternating between them), one
/// pending patch per device, one install per device `i` hours before `now`. Paging by `after` and
/// by cursor, 1000 a page. `stuck_cursor`: the patches cursor never moves. The token expires
/// after the second devices page. Returns the base URL and the `installedAfter` values asked.
fn ninja_stand_in(devices: usize, now: i64, stuck_cursor: bool) -> (StandIn, Arc<Mutex<Vec<i64>>>) {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let base = format!(
        "http://127.0.0.1:{}",
        server.server_addr().to_ip().unwrap().port()
    );
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let grants = Arc::new(AtomicUsize::new(0));
    let asked_after: Arc<Mutex<Vec<i64>>> = Arc::default();
    let organizations = fixture("vendor/ninjaone_organizations.json");
    let device = fixture("vendor/ninjaone_devices_detailed.json")[0].clone();
    let patch = fixture("vendor/ninjaone_queries_os_patches.json")["results"][0].clone();
    let install = fixture("vendor/ninjaone_queries_os_patch_installs.json")["results"][0].clone();
    let (s, record, granted, after_log) = (server.clone(), seen.clone(), grants.clone(), asked_after.clone());
    std::thread::spawn(move || {
        let mut devices_asked = 0;
        let mut expired = false;
        for mut request in s.incoming_requests() {
            let mut body = String::new();
            request.as_reader().read_to_string(&mut body).unwrap();
            let url = request.url().to_string();
            record.lock().unwrap().push(format!("{} {url}", request.method()));
            let param = |name: &str| {
                url.split(['?', '&'])
                    .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                    .map(str::to_string)
            };
            let size: usize = param("pageSize").and_then(|p| p.parse().ok()).unwrap_or(1000);
            let authorised = request.headers().iter().any(|h| {
                h.field.as_str().as_str().eq_ignore_ascii_case("Authorization")
                    && h.value.as_str() == format!("Bearer nj-{}", granted.load(Ordering::SeqCst))
            }) && !expired;
            let path = url.split('?').next().unwrap_or_default().to_string();
            // An `after` page: the items whose id is past the last one seen.
            let after_page = |items: Vec<Value>| {
                let after: i64 = param("after").and_then(|a| a.parse().ok()).unwrap_or(0);
                let page: Vec<Value> = items
                    .into_iter()
                    .filter(|i| i["id"].as_i64().unwrap() > after)
                    .take(size)
                    .collect();
                (200, Value::Array(page).to_string())
            };
            // A cursor page: the cursor's offset says where the page starts.
            let cursor_page = |items: Vec<Value>, name: &str| {
                let offset: usize = param("cursor")
                    .and_then(|c| c.rsplit('-').next().and_then(|o| o.parse().ok()))
                    .unwrap_or(0);
                let page: Vec<Value> = items.into_iter().skip(offset).take(size).collect();
                let next = if stuck_cursor { 0 } else { offset + page.len() };
                (
                    200,
                    json!({"cursor": {"name": format!("{name}-{next}"), "offset": offset, "count": page.len(),
                        "expires": now + 3600}, "results": page})
                    .to_string(),
                )
            };
            let (status, reply) = match path.as_str() {
                "/ws/oauth/token" => {
                    if body.contains("grant_type=client_credentials")
                        && body.contains(&format!("client_id={CLIENT_ID}"))
                        && body.contains(&format!("client_secret={CLIENT_SECRET}"))
                        && body.contains("scope=monitoring")
                    {
                        let n = granted.fetch_add(1, Ordering::SeqCst) + 1;
                        expired = false;
                        (200, json!({"access_token": format!("nj-{n}"), "token_type": "Bearer", "expires_in": 3600}).to_string())
                    } else {
                        (401, r#"{"error":"invalid_client"}"#.into())
                    }
                }
                _ if !authorised => (401, r#"{"error":"invalid_token"}"#.into()),
                "/v2/organizations" => after_page(organizations.as_array().unwrap().clone()),
                "/v2/devices-detailed" => {
                    devices_asked += 1;
                    if devices_asked == 2 {
                        expired = true;
                    }
                    after_page(
                        (1..=devices)
                            .map(|i| {
                                let mut d = device.clone();
                                let org = 7 + (i % 2);
                                d["id"] = json!(i);
                                d["organizationId"] = json!(org);
                                d["systemName"] = json!(format!("NW-WS{i:05}"));
                                d["lastContact"] = json!(now - 600);
                                d["references"]["organization"]["id"] = json!(org);
                                d["references"]["organization"]["name"] =
                                    json!(if org == 7 { "Contoso Ltd" } else { "Fabrikam Inc" });
                                d
                            })
                            .collect(),
                    )
                }
                "/v2/queries/os-patches" => cursor_page(
                    (1..=devices)
                        .map(|i| {
                            let mut p = patch.clone();
                            p["id"] = json!(format!("patch-{i}"));
                            p["deviceId"] = json!(i);
                            p
                        })
                        .collect(),
                    "patches",
                ),
                "/v2/queries/os-patch-installs" => {
                    let after: i64 = param("installedAfter").and_then(|a| a.parse().ok()).unwrap_or(0);
                    after_log.lock().unwrap().push(after);
                    cursor_page(
                        (1..=devices)
                            .map(|i| {
                                let mut p = install.clone();
                                p["id"] = json!(format!("install-{i}"));
                                p["deviceId"] = json!(i);
                                p["installedAt"] = json!(now - 3600 * i as i64);
                                p
                            })
                            .filter(|p| p["installedAt"].as_i64().unwrap() > after)
                            .collect(),
                        "installs",
                    )
                }
                _ => (404, String::new()),
            };
            let _ = request.respond(tiny_http::Response::from_string(reply).with_status_code(status));
        }
    });
    (
        StandIn {
            base,
            seen,
            grants,
            server,
        },
        asked_after,
    )
}

fn ninja_msp(base: &str) -> TempDir {
    let dir = TempDir::new().unwrap();
    fs::write(
        dir.path().join("govpack.toml"),
        format!(
            "[lake]\npath = \"lake\"\n[run]\ninbox = \"inbox\"\noutput = \"output\"\n\
             [collect]\nsources = [\"ninjaone\"]\nretries = 2\nretry_backoff_ms = 50\ntimeout_seconds = 10\n\
             [collect.ninjaone]\ninstance_url = \"{base}\"\n"
        ),
    )
    .unwrap();
    dir
}

fn ninja_run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_govpack"))
        .args(args)
        .current_dir(dir)
        .env("GOVPACK_LOG", "trace")
        .env("GOVPACK_NINJAONE_CLIENT_ID", CLIENT_ID)
        .env("GOVPACK_NINJAONE_CLIENT_SECRET", CLIENT_SECRET)
        .output()
        .unwrap()
}

#[test]
fn ninjaone_organizations_devices_patches_and_installs_land_under_their_clients_and_installs_go_on_from_the_lake()
 {
    // 2,500 devices: three pages of 1,000 by `after` and by cursor; the token expires mid-devices.
    let now = chrono::Utc::now().timestamp();
    let (api, asked_after) = ninja_stand_in(2500, now, false);
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
    let (api, _) = ninja_stand_in(2500, now, true);
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
