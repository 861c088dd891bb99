//! Stand-ins for the vendors' APIs on loopback, speaking them as each `src/collect/<source>.rs`
//! header documents: Datto RMM (password-grant token, `nextPageUrl` paging, a token expiring
//! mid-run, 429 with `Retry-After`, 503, a repeating next URL, a short `totalCount`), CISA's KEV
//! feed and MSRC's CVRF API (this month not yet published), and NinjaOne (client-credentials
//! token, `after` and cursor paging, `installedAfter`, a cursor that does not move), and Autotask
//! (zone lookup, header credentials, query pages by `nextPageUrl` with counts, 429, a repeating
//! page URL, a count the pages fall short of), and ConnectWise Manage (Basic credentials and
//! clientId, `Link` and page-number paging, 25 a page unless asked, a server ignoring what was
//! asked, a `Link` that repeats), and the Log Analytics query API of WUfB reports (an Entra ID
//! token expiring mid-run, answers cut short past a row limit). Page bodies
//! are built from the vendor samples in `tests/fixtures`.
//!
//! `tests/collectors.rs` runs them inside its test binary; `deploy/rehearse.sh` runs this example
//! (`cargo build --release --example vendor_stand_in`) for its collector rehearsal:
//!
//!   vendor_stand_in [--devices N]   prints `datto <url>`, `ninjaone <url>`, `autotask <url>`,
//!                                   `connectwise-manage <url>` and `wufb <url>` (N devices, N
//!                                   tickets in each PSA, N WUfB devices), then serves until its
//!                                   standard input closes

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

pub const KEY: &str = "dattoKEY-7f3a9c21";
pub const SECRET: &str = "dattoSECRET-b41e77d0c9";

/// A vendor sample the stand-ins answer with. Built into the binary, so the stand-in runs from
/// anywhere (the rehearsal's `STAND_IN`), whatever folder it was built in.
pub fn fixture(path: &str) -> Value {
    let text = match path {
        "vendor/datto_rmm_sites_page.json" => {
            include_str!("../tests/fixtures/vendor/datto_rmm_sites_page.json")
        }
        "vendor/datto_rmm_devices_page.json" => {
            include_str!("../tests/fixtures/vendor/datto_rmm_devices_page.json")
        }
        "vendor/datto_rmm_alert_patch.json" => {
            include_str!("../tests/fixtures/vendor/datto_rmm_alert_patch.json")
        }
        "vulnerability/known_exploited_vulnerabilities.json" => {
            include_str!("../tests/fixtures/vulnerability/known_exploited_vulnerabilities.json")
        }
        "vulnerability/msrc-cvrf-2026-Oct.json" => {
            include_str!("../tests/fixtures/vulnerability/msrc-cvrf-2026-Oct.json")
        }
        "vendor/autotask_companies_query_response.json" => {
            include_str!("../tests/fixtures/vendor/autotask_companies_query_response.json")
        }
        "vendor/autotask_tickets_query_response.json" => {
            include_str!("../tests/fixtures/vendor/autotask_tickets_query_response.json")
        }
        "vendor/autotask_ticket_entityinformation_fields.json" => {
            include_str!("../tests/fixtures/vendor/autotask_ticket_entityinformation_fields.json")
        }
        "vendor/autotask_ticket_change_request_approvals.json" => {
            include_str!("../tests/fixtures/vendor/autotask_ticket_change_request_approvals.json")
        }
        "vendor/connectwise_manage_companies_array.json" => {
            include_str!("../tests/fixtures/vendor/connectwise_manage_companies_array.json")
        }
        "vendor/connectwise_manage_tickets_array.json" => {
            include_str!("../tests/fixtures/vendor/connectwise_manage_tickets_array.json")
        }
        "vendor/ninjaone_organizations.json" => {
            include_str!("../tests/fixtures/vendor/ninjaone_organizations.json")
        }
        "vendor/ninjaone_devices_detailed.json" => {
            include_str!("../tests/fixtures/vendor/ninjaone_devices_detailed.json")
        }
        "vendor/ninjaone_queries_os_patches.json" => {
            include_str!("../tests/fixtures/vendor/ninjaone_queries_os_patches.json")
        }
        "vendor/ninjaone_queries_os_patch_installs.json" => {
            include_str!("../tests/fixtures/vendor/ninjaone_queries_os_patch_installs.json")
        }
        other => panic!("no fixture {other} is built into the stand-in"),
    };
    serde_json::from_str(text).unwrap()
}

/// How the Datto stand-in misbehaves.
#[derive(Default, Clone, Copy)]
pub struct Quirks {
    /// Devices pages answered before the token expires (every request then answers 401 until a
    /// new token is granted).
    pub token_expires_after: Option<usize>,
    /// The first devices request answers 429 with `Retry-After: 1`; the second a 503.
    pub throttle_first: bool,
    /// The devices page of this number points back at the previous page's URL.
    pub repeat_page: Option<usize>,
    /// The alerts pages report one more record than they hold.
    pub short_total: bool,
}

/// The stand-in: sites, `devices` devices over pages of `page_size`, an open patch alert, the
/// KEV catalog and the October CVRF document (November is not published). Returns its base URL,
/// what it was asked (method and URL) and the token grants it made.
pub struct StandIn {
    pub base: String,
    pub seen: Arc<Mutex<Vec<String>>>,
    pub grants: Arc<AtomicUsize>,
    server: Arc<tiny_http::Server>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

pub fn datto(devices: usize, page_size: usize, quirks: Quirks) -> StandIn {
    let (server, base) = listen();
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
            let (body, url) = received(&mut request, &record);
            let header = |name: &str| header_of(&request, name);
            let token = format!("tok-{}", granted.load(Ordering::SeqCst));
            let authorised = header("Authorization") == format!("Bearer {token}") && !expired;
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
                // Resolved alerts: the same patch alert, resolved an hour later; a page with no
                // alert (Datto keeps resolved alerts for a while, then drops them).
                "/api/v2/account/alerts/resolved" => {
                    let mut resolved = alert.clone();
                    resolved["alertUid"] = json!("c4e2d3f5-6a7b-4c8d-9e0f-1a2b3c4d5e6f");
                    resolved["resolved"] = json!(true);
                    resolved["resolvedOn"] = json!(resolved["timestamp"].as_i64().unwrap_or(0) + 3_600_000);
                    (
                        200,
                        json!({"pageDetails": {"count": 1, "totalCount": 1, "prevPageUrl": null, "nextPageUrl": null},
                            "alerts": [resolved]})
                        .to_string(),
                    )
                }
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
            answer(request, status, reply, retry_after);
        }
    });
    StandIn {
        base,
        seen,
        grants,
        server,
    }
}

/// A server on a free loopback port, and its base URL.
fn listen() -> (Arc<tiny_http::Server>, String) {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let base = format!(
        "http://127.0.0.1:{}",
        server.server_addr().to_ip().unwrap().port()
    );
    (server, base)
}

/// A request's body and URL, its method and URL noted in `record`.
fn received(request: &mut tiny_http::Request, record: &Mutex<Vec<String>>) -> (String, String) {
    let mut body = String::new();
    request.as_reader().read_to_string(&mut body).unwrap();
    let url = request.url().to_string();
    record.lock().unwrap().push(format!("{} {url}", request.method()));
    (body, url)
}

/// A request header's value (empty when absent).
fn header_of(request: &tiny_http::Request, name: &str) -> String {
    request
        .headers()
        .iter()
        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str().to_string())
        .unwrap_or_default()
}

/// Answers a request, with a `Retry-After` when one is given (a 429).
fn answer(request: tiny_http::Request, status: u16, body: String, retry_after: Option<&str>) {
    let mut response = tiny_http::Response::from_string(body).with_status_code(status);
    if let Some(seconds) = retry_after {
        response.add_header(tiny_http::Header::from_bytes("Retry-After", seconds).unwrap());
    }
    let _ = request.respond(response);
}

/// The CVRF id of today's month (`2026-Dec`): the stand-in has not published it.
pub fn this_month() -> String {
    chrono::Utc::now().format("%Y-%b").to_string()
}

pub fn last_month() -> String {
    (chrono::Utc::now().date_naive() - chrono::Months::new(1))
        .format("%Y-%b")
        .to_string()
}

pub const CLIENT_ID: &str = "ninja-client-3c1d";
pub const CLIENT_SECRET: &str = "ninja-secret-9f8e7d6c";

/// The NinjaOne stand-in: two organizations, `devices` devices (alternating between them), one
/// pending patch per device, one install per device `i` hours before `now`. Paging by `after` and
/// by cursor, 1000 a page. `stuck_cursor`: the patches cursor never moves. The token expires
/// after the second devices page. Returns the base URL and the `installedAfter` values asked.
pub fn ninjaone(devices: usize, now: i64, stuck_cursor: bool) -> (StandIn, Arc<Mutex<Vec<i64>>>) {
    let (server, base) = listen();
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
            let (body, url) = received(&mut request, &record);
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

pub const AT_CODE: &str = "AT-INTEGRATION-5e2b";
pub const AT_USER: &str = "govpack-api@msp.example";
pub const AT_SECRET: &str = "at-secret-71c0d9";

/// How the Autotask stand-in misbehaves.
#[derive(Default, Clone, Copy)]
pub struct AutotaskQuirks {
    /// The first tickets query answers 429 with `Retry-After: 1`.
    pub throttle_first: bool,
    /// The tickets page of this number points back at the previous page's URL.
    pub repeat_page: Option<usize>,
    /// The tickets count says one more than the pages hold.
    pub short_count: bool,
}

/// The Autotask stand-in: a zone lookup naming itself, two client companies (and a vendor, which
/// is no client), `tickets` tickets alternating between the clients, the ticket `i` last active
/// `i` hours before `now`, 500 a page by `nextPageUrl`; the ticket fields, the sample's change
/// approvals and a change link. Every request needs the three API headers. Returns the stand-in
/// and the `lastActivityDate` values the tickets queries asked for.
pub fn autotask(tickets: usize, now: i64, quirks: AutotaskQuirks) -> (StandIn, Arc<Mutex<Vec<String>>>) {
    let (server, base) = listen();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let asked_since: Arc<Mutex<Vec<String>>> = Arc::default();
    let company = fixture("vendor/autotask_companies_query_response.json")["items"][0].clone();
    let ticket = fixture("vendor/autotask_tickets_query_response.json")["items"][0].clone();
    let fields = fixture("vendor/autotask_ticket_entityinformation_fields.json");
    let approvals = fixture("vendor/autotask_ticket_change_request_approvals.json");
    let (s, record, since_log, zone) = (server.clone(), seen.clone(), asked_since.clone(), base.clone());
    std::thread::spawn(move || {
        let mut tickets_asked = 0;
        let companies: Vec<Value> = [
            (29683616, "Sirius Cybernetics Corporation", 1),
            (29683617, "Megadodo Publications", 1),
            (29683618, "Vogon Supplies", 3),
        ]
        .into_iter()
        .map(|(id, name, kind)| {
            let mut c = company.clone();
            c["id"] = json!(id);
            c["companyName"] = json!(name);
            c["companyType"] = json!(kind);
            c
        })
        .collect();
        let at = |t: i64| {
            chrono::DateTime::from_timestamp(t, 0)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string()
        };
        let all_tickets: Vec<Value> = (1..=tickets)
            .map(|i| {
                let mut t = ticket.clone();
                t["id"] = json!(100_000 + i);
                t["ticketNumber"] = json!(format!("T20261201.{i:04}"));
                t["companyID"] = json!(29683616 + (i % 2));
                t["createDate"] = json!(at(now - 3600 * i as i64 - 600));
                t["lastActivityDate"] = json!(at(now - 3600 * i as i64));
                t["completedDate"] = json!(at(now - 3600 * i as i64));
                t["resolvedDateTime"] = json!(at(now - 3600 * i as i64));
                t["title"] = json!(format!("Patch Monitor - Install Error - SIRIUS-WS{i:04}"));
                t
            })
            .collect();
        for mut request in s.incoming_requests() {
            let (body, url) = received(&mut request, &record);
            let header = |name: &str| header_of(&request, name);
            let authorised = header("ApiIntegrationCode") == AT_CODE
                && header("UserName") == AT_USER
                && header("Secret") == AT_SECRET;
            let path = url.split('?').next().unwrap_or_default().to_string();
            let page: usize = url
                .split("paging=")
                .nth(1)
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            let query: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            let since = query["filter"][0]["value"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            // `gte` on a date compares instants, not texts.
            let instant = |text: &str| {
                chrono::DateTime::parse_from_rfc3339(text)
                    .map(|t| t.timestamp())
                    .ok()
            };
            let changed = |t: &&Value| match instant(&since) {
                Some(since) => instant(t["lastActivityDate"].as_str().unwrap_or_default()) >= Some(since),
                None => true,
            };
            // A query's page of 500 and the URL of the next, as Autotask answers.
            let paged = |items: Vec<Value>, entity: &str, repeat: Option<usize>| {
                let pages = items.len().div_ceil(500).max(1);
                let held: Vec<Value> = items.into_iter().skip(page * 500).take(500).collect();
                let next_page = if repeat == Some(page + 1) { page } else { page + 1 };
                let next = (page + 1 < pages)
                    .then(|| format!("{zone}/ATServicesRest/V1.0/{entity}/query/next?paging={next_page}"));
                (
                    200,
                    json!({"items": held, "pageDetails": {"count": held.len(), "requestCount": 500,
                        "prevPageUrl": null, "nextPageUrl": next}})
                    .to_string(),
                )
            };
            let count = |n: usize| (200, json!({"queryCount": n}).to_string());
            let mut retry_after = None;
            let (status, reply) = match path.as_str() {
                "/atservicesrest/V1.0/zoneInformation" if url.contains("user=govpack-api%40msp.example") => (
                    200,
                    json!({"zoneName": "Stand-in", "url": format!("{zone}/ATServicesRest/"), "webUrl": zone, "ci": 0})
                        .to_string(),
                ),
                _ if !authorised => (401, r#"{"errors":["Unauthorized"]}"#.into()),
                "/ATServicesRest/V1.0/Companies/query/count" => count(companies.len()),
                "/ATServicesRest/V1.0/Companies/query" => paged(companies.clone(), "Companies", None),
                "/ATServicesRest/V1.0/Tickets/entityInformation/fields" => (200, fields.to_string()),
                "/ATServicesRest/V1.0/Tickets/query/count" => {
                    since_log.lock().unwrap().push(since.clone());
                    count(all_tickets.iter().filter(changed).count() + usize::from(quirks.short_count))
                }
                "/ATServicesRest/V1.0/Tickets/query" | "/ATServicesRest/V1.0/Tickets/query/next" => {
                    tickets_asked += 1;
                    if quirks.throttle_first && tickets_asked == 1 {
                        retry_after = Some("1");
                        (429, r#"{"errors":["rate limit"]}"#.into())
                    } else {
                        paged(all_tickets.iter().filter(changed).cloned().collect(), "Tickets", quirks.repeat_page)
                    }
                }
                "/ATServicesRest/V1.0/TicketChangeRequestApprovals/query/count" => {
                    count(approvals["items"].as_array().unwrap().len())
                }
                "/ATServicesRest/V1.0/TicketChangeRequestApprovals/query" => (200, approvals.to_string()),
                "/ATServicesRest/V1.0/ChangeRequestLinks/query/count" => count(1),
                "/ATServicesRest/V1.0/ChangeRequestLinks/query" => paged(
                    vec![json!({"id": 7, "changeRequestTicketID": 100_002, "problemOrIncidentTicketID": 100_001})],
                    "ChangeRequestLinks",
                    None,
                ),
                _ => (404, String::new()),
            };
            answer(request, status, reply, retry_after);
        }
    });
    (
        StandIn {
            base,
            seen,
            grants: Arc::default(),
            server,
        },
        asked_since,
    )
}

pub const CW_PUBLIC: &str = "cwPUBLIC-3b9d";
pub const CW_PRIVATE: &str = "cwPRIVATE-e27a41";
pub const CW_CLIENT_ID: &str = "4f0e3c2a-cw-client";
/// `Basic base64(msp+cwPUBLIC-3b9d:cwPRIVATE-e27a41)`: company `msp`, the keys above.
pub const CW_BASIC: &str = "Basic bXNwK2N3UFVCTElDLTNiOWQ6Y3dQUklWQVRFLWUyN2E0MQ==";

/// How the ConnectWise Manage stand-in pages.
#[derive(Default, Clone, Copy)]
pub struct ManageQuirks {
    /// Pages by number only: no `Link` header.
    pub no_link: bool,
    /// Answers 25 a page whatever `pageSize` asks.
    pub ignore_page_size: bool,
    /// The second tickets page's `Link` points at itself.
    pub repeat_link: bool,
    /// The first tickets request answers 429 with `Retry-After: 1`.
    pub throttle_first: bool,
}

/// Percent-decodes a query value (`+` stays: Manage's conditions have none).
fn decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1..i + 3)) {
            (b'%', Some(hex)) => {
                out.push(u8::from_str_radix(std::str::from_utf8(hex).unwrap_or("00"), 16).unwrap_or(b'?'));
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The ConnectWise Manage stand-in: the four sample companies (two clients, a vendor, a deleted
/// client) and `tickets` tickets alternating between the two clients, ticket `i` last updated `i`
/// hours before `now`; 25 a page unless `pageSize` asks (at most 1000), a `Link` header to the
/// next page, `/count`, and `conditions=lastUpdated>=[...]`. Every request needs the Basic
/// credentials and the clientId. Returns the stand-in and the `conditions` the tickets asked.
pub fn manage(tickets: usize, now: i64, quirks: ManageQuirks) -> (StandIn, Arc<Mutex<Vec<String>>>) {
    let (server, base) = listen();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let asked: Arc<Mutex<Vec<String>>> = Arc::default();
    let companies = fixture("vendor/connectwise_manage_companies_array.json");
    let ticket = fixture("vendor/connectwise_manage_tickets_array.json")[0].clone();
    let (s, record, asked_log, site) = (server.clone(), seen.clone(), asked.clone(), base.clone());
    std::thread::spawn(move || {
        let at = |t: i64| {
            chrono::DateTime::from_timestamp(t, 0)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
        };
        let all_tickets: Vec<Value> = (1..=tickets)
            .map(|i| {
                let (id, identifier, name) = if i % 2 == 0 {
                    (250, "SiriusCyber", "Sirius Cybernetics Corporation")
                } else {
                    (251, "Megadodo", "Megadodo Publications")
                };
                let mut t = ticket.clone();
                t["id"] = json!(500_000 + i);
                t["summary"] = json!(format!("Patch install failed - SIRIUS-WS{i:04}"));
                t["company"] = json!({"id": id, "identifier": identifier, "name": name});
                t["info"]["dateEntered"] = json!(at(now - 3600 * i as i64 - 600));
                t["info"]["lastUpdated"] = json!(at(now - 3600 * i as i64));
                t
            })
            .collect();
        let mut tickets_asked = 0;
        for mut request in s.incoming_requests() {
            let (_, url) = received(&mut request, &record);
            let authorised = header_of(&request, "Authorization") == CW_BASIC
                && header_of(&request, "clientId") == CW_CLIENT_ID;
            let param = |name: &str| {
                url.split(['?', '&'])
                    .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                    .map(decoded)
            };
            let path = url.split('?').next().unwrap_or_default().to_string();
            let conditions = param("conditions").unwrap_or_default();
            // `lastUpdated>=[2026-09-07T00:00:00Z]`: tickets updated at or after that instant.
            let since = conditions
                .split_once('[')
                .and_then(|(_, rest)| rest.split(']').next())
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.timestamp());
            let changed: Vec<Value> = all_tickets
                .iter()
                .filter(|t| {
                    let updated =
                        chrono::DateTime::parse_from_rfc3339(t["info"]["lastUpdated"].as_str().unwrap())
                            .unwrap()
                            .timestamp();
                    since.is_none_or(|since| updated >= since)
                })
                .cloned()
                .collect();
            let size = match param("pageSize").and_then(|p| p.parse::<usize>().ok()) {
                Some(asked) if !quirks.ignore_page_size => asked.min(1000),
                _ => 25,
            };
            let page: usize = param("page").and_then(|p| p.parse().ok()).unwrap_or(1);
            let paged = |items: &[Value], path: &str| {
                let held: Vec<Value> = items.iter().skip((page - 1) * size).take(size).cloned().collect();
                let pages = items.len().div_ceil(size).max(1);
                let next_page = if quirks.repeat_link && page == 2 {
                    2
                } else {
                    page + 1
                };
                let link = (!quirks.no_link && page < pages).then(|| {
                    let query = url.split_once('?').map_or("", |(_, q)| q);
                    let kept: Vec<&str> = query.split('&').filter(|kv| !kv.starts_with("page=")).collect();
                    format!(
                        "<{site}{path}?{}&page={next_page}>; rel=\"next\", <{site}{path}?page={pages}>; rel=\"last\"",
                        kept.join("&")
                    )
                });
                (200, Value::Array(held).to_string(), link)
            };
            let count = |n: usize| (200, json!({"count": n}).to_string(), None);
            let mut retry_after = None;
            let api = "/v4_6_release/apis/3.0/";
            let (status, reply, link) = match path.strip_prefix(api) {
                _ if !authorised => (401, r#"{"code":"Unauthorized"}"#.to_string(), None),
                Some("company/companies/count") => count(companies.as_array().unwrap().len()),
                Some("company/companies") => paged(companies.as_array().unwrap(), &path),
                Some("service/tickets/count") => {
                    asked_log.lock().unwrap().push(conditions.clone());
                    count(changed.len())
                }
                Some("service/tickets") => {
                    tickets_asked += 1;
                    if quirks.throttle_first && tickets_asked == 1 {
                        retry_after = Some("1");
                        (429, r#"{"code":"TooManyRequests"}"#.to_string(), None)
                    } else {
                        paged(&changed, &path)
                    }
                }
                _ => (404, String::new(), None),
            };
            let mut response = tiny_http::Response::from_string(reply).with_status_code(status);
            if let Some(link) = link {
                response.add_header(tiny_http::Header::from_bytes("Link", link).unwrap());
            }
            if let Some(seconds) = retry_after {
                response.add_header(tiny_http::Header::from_bytes("Retry-After", seconds).unwrap());
            }
            let _ = request.respond(response);
        }
    });
    (
        StandIn {
            base,
            seen,
            grants: Arc::default(),
            server,
        },
        asked,
    )
}

pub const AZURE_CLIENT_ID: &str = "azure-app-6d1f";
pub const AZURE_SECRET: &str = "azure-secret-0c9b2e";
pub const ENTRA_TENANT: &str = "11111111-2222-3333-4444-555555555555";
pub const WORKSPACE: &str = "ws-9e8d7c6b";
/// The two client Entra tenants whose devices the WUfB stand-in reports.
pub const CLIENT_TENANTS: [&str; 2] = [
    "69ca04b0-703d-4b3a-9184-c4e3c15d6f5e",
    "0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9",
];

/// How the Log Analytics stand-in answers.
#[derive(Clone, Copy)]
pub struct WufbQuirks {
    /// An answer of more rows than this is cut to it, with an `error` beside the table.
    pub row_limit: usize,
    /// Every row reported at the same time (one snapshot): only device groups can split it.
    pub one_snapshot: bool,
}

/// The sample's `UCClientUpdateStatus` columns (without the portal's ` [UTC]`) and first row.
fn wufb_sample() -> (Vec<String>, Vec<String>) {
    let text = include_str!("../tests/fixtures/vendor/microsoft_wufb_ucclientupdatestatus.csv");
    let mut lines = text.lines();
    let columns = lines
        .next()
        .unwrap()
        .split(',')
        .map(|c| c.trim_end_matches(" [UTC]").to_string())
        .collect();
    let row = lines.next().unwrap().split(',').map(str::to_string).collect();
    (columns, row)
}

/// FNV-1a: the stand-in's `hash(text, n)` is this modulo n.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The Log Analytics stand-in: an Entra ID token endpoint (the token expires after the second
/// query) and the workspace's query API over `devices` devices of two client tenants, two
/// updates each, reported on the day of `now` (device `i` at hour `i % 24`, or all at 06:00 with
/// `one_snapshot`). It reads the KQL the collector sends (the time window, `hash(AzureADDeviceId,
/// n) == k`, `| count`, `| summarize`) and cuts answers past `row_limit`. Returns the stand-in and
/// the queries asked.
pub fn wufb(devices: usize, now: i64, quirks: WufbQuirks) -> (StandIn, Arc<Mutex<Vec<String>>>) {
    let (server, base) = listen();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let grants = Arc::new(AtomicUsize::new(0));
    let queries: Arc<Mutex<Vec<String>>> = Arc::default();
    let (columns, sample) = wufb_sample();
    let (s, record, granted, asked) = (server.clone(), seen.clone(), grants.clone(), queries.clone());
    std::thread::spawn(move || {
        let day = chrono::DateTime::from_timestamp(now, 0).unwrap().date_naive();
        let at = |hour: u32| {
            day.and_hms_opt(hour, 0, 0)
                .unwrap()
                .and_utc()
                .format("%Y-%m-%dT%H:%M:%S.0000000Z")
                .to_string()
        };
        let column = |name: &str| columns.iter().position(|c| c == name).unwrap();
        // (hour reported, device, row) for each device's two updates.
        let mut rows: Vec<(i64, String, Vec<Value>)> = Vec::new();
        for i in 0..devices {
            let hour = if quirks.one_snapshot { 6 } else { (i % 24) as u32 };
            let device = format!("00000000-0000-4000-8000-{i:012}");
            for u in 0..2 {
                let mut row: Vec<Value> = sample.iter().map(|v| json!(v)).collect();
                row[column("TimeGenerated")] = json!(at(hour));
                row[column("AzureADTenantId")] = json!(CLIENT_TENANTS[i % 2]);
                row[column("AzureADDeviceId")] = json!(device);
                row[column("DeviceName")] = json!(format!("CONTOSO-WS{i:05}"));
                row[column("UpdateCategory")] = json!("WindowsQualityUpdate");
                row[column("UpdateClassification")] = json!("Security");
                row[column("UpdateDisplayName")] = json!(format!("2026-11 Security Update {u}"));
                row[column("TargetKBNumber")] = json!(format!("KB50{u}0001"));
                for time in [
                    "UpdateReleaseTime",
                    "OfferReceivedTime",
                    "RestartRequiredTime",
                    "UpdateInstalledTime",
                    "ClientSubstateTime",
                ] {
                    row[column(time)] = json!(at(0));
                }
                row[column("ClientSubstateRank")] = json!(2300);
                row[column("FurthestClientSubstateRank")] = json!(2400);
                rows.push((i64::from(hour), device.clone(), row));
            }
        }
        let mut queries_answered = 0;
        let mut expired = false;
        for mut request in s.incoming_requests() {
            let (body, url) = received(&mut request, &record);
            let token = format!("Bearer wufb-tok-{}", granted.load(Ordering::SeqCst));
            let authorised = header_of(&request, "Authorization") == token && !expired;
            let (status, reply) = if url == format!("/{ENTRA_TENANT}/oauth2/v2.0/token") {
                let form_ok = body.contains("grant_type=client_credentials")
                    && body.contains(&format!("client_id={AZURE_CLIENT_ID}"))
                    && body.contains(&format!("client_secret={AZURE_SECRET}"))
                    && body.contains("scope=https%3A%2F%2Fapi.loganalytics.io%2F.default");
                if form_ok {
                    let n = granted.fetch_add(1, Ordering::SeqCst) + 1;
                    expired = false;
                    (200, json!({"token_type": "Bearer", "expires_in": 3599, "access_token": format!("wufb-tok-{n}")}).to_string())
                } else {
                    (401, r#"{"error":"invalid_client"}"#.to_string())
                }
            } else if url != format!("/v1/workspaces/{WORKSPACE}/query") {
                (404, String::new())
            } else if !authorised {
                (401, r#"{"error":{"code":"InvalidTokenError"}}"#.to_string())
            } else {
                queries_answered += 1;
                if queries_answered == 2 {
                    expired = true;
                }
                let kql = serde_json::from_str::<Value>(&body).unwrap()["query"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                asked.lock().unwrap().push(kql.clone());
                let times: Vec<i64> = kql
                    .split("datetime(")
                    .skip(1)
                    .filter_map(|t| t.split(')').next())
                    .filter_map(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.timestamp())
                    .collect();
                let group = kql.split("hash(AzureADDeviceId, ").nth(1).and_then(|rest| {
                    let (n, k) = rest.split_once(") == ")?;
                    Some((
                        n.parse::<u64>().ok()?,
                        k.split_whitespace().next()?.parse::<u64>().ok()?,
                    ))
                });
                let day_start = day.and_time(chrono::NaiveTime::MIN).and_utc().timestamp();
                let matched: Vec<&Vec<Value>> = rows
                    .iter()
                    .filter(|(hour, device, _)| {
                        let t = day_start + hour * 3600;
                        let in_window = match times[..] {
                            [from, to] => t >= from && t < to,
                            _ => true,
                        };
                        in_window && group.is_none_or(|(n, k)| fnv(device) % n == k)
                    })
                    .map(|(_, _, row)| row)
                    .collect();
                let table = |columns: Value, rows: Value| json!({"tables": [{"name": "PrimaryResult", "columns": columns, "rows": rows}]});
                if kql.ends_with("| count") {
                    (
                        200,
                        table(
                            json!([{"name": "Count", "type": "long"}]),
                            json!([[matched.len()]]),
                        )
                        .to_string(),
                    )
                } else if kql.contains("summarize") {
                    (
                        200,
                        table(
                            json!([{"name": "devices", "type": "long"}, {"name": "rows", "type": "long"}]),
                            json!([[devices, rows.len()]]),
                        )
                        .to_string(),
                    )
                } else {
                    let described: Vec<Value> = columns
                        .iter()
                        .map(|c| json!({"name": c, "type": "string"}))
                        .collect();
                    let held: Vec<&&Vec<Value>> = matched.iter().take(quirks.row_limit).collect();
                    let mut answer = table(json!(described), json!(held));
                    if matched.len() > quirks.row_limit {
                        answer["error"] = json!({"code": "PartialError", "message": "There were some errors when processing your query.",
                            "details": [{"code": "EngineError", "message": "Something went wrong processing your query on the server.",
                                "innererror": {"code": "-2133196797", "message": format!("Query result set has exceeded the internal record count limit {} records", quirks.row_limit)}}]});
                    }
                    (200, answer.to_string())
                }
            };
            answer(request, status, reply, None);
        }
    });
    (
        StandIn {
            base,
            seen,
            grants,
            server,
        },
        queries,
    )
}

/// Serves both stand-ins until standard input closes (the rehearsal holds it open).
#[allow(dead_code)]
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let devices = args
        .iter()
        .position(|a| a == "--devices")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(600);
    let datto = datto(devices, 250, Quirks::default());
    let now = chrono::Utc::now().timestamp();
    let (ninja, _) = ninjaone(devices, now, false);
    let (autotask, _) = autotask(devices, now, AutotaskQuirks::default());
    let (manage, _) = manage(devices, now, ManageQuirks::default());
    let wufb_quirks = WufbQuirks {
        row_limit: 500,
        one_snapshot: false,
    };
    let (wufb, _) = wufb(devices, now, wufb_quirks);
    println!("datto {}", datto.base);
    println!("ninjaone {}", ninja.base);
    println!("autotask {}", autotask.base);
    println!("connectwise-manage {}", manage.base);
    println!("wufb {}", wufb.base);
    let mut line = String::new();
    while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
        line.clear();
    }
}
