//! `autotask`: the Autotask PSA REST API (v1.0) of the API user's zone, as Autotask documents it
//! (the REST API's Swagger `v1.json`, and the AutotaskAPI PowerShell module's
//! `Get-AutotaskAPIResource`):
//! - the zone: `AUTOTASK_BASE_URL`, else `GET {tickets.zone_lookup_url}?user=<API user>`, whose
//!   `url` must be an Autotask zone (`*.autotask.net`), exactly as the ticket writer finds it;
//! - every request carries the headers `ApiIntegrationCode`, `UserName` and `Secret`
//!   (AUTOTASK_API_INTEGRATION_CODE, AUTOTASK_USERNAME, AUTOTASK_SECRET); there is no token;
//! - queries: `POST V1.0/<Entity>/query` with `{"MaxRecords": 500, "filter": [...]}`, answered
//!   `{"items": [...], "pageDetails": {"count", "requestCount", "prevPageUrl", "nextPageUrl"}}`;
//!   the next page is the same body POSTed to `nextPageUrl`, until it is null. `POST
//!   V1.0/<Entity>/query/count` with the same filter answers `{"queryCount": n}`: pages that hold
//!   fewer records than that write nothing (more is a record that changed while it was read);
//! - `Companies/query` (every company: the tenants), `Tickets/entityInformation/fields` (the
//!   picklists the ticket adapter labels with), `Tickets/query` changed since the watermark
//!   (`lastActivityDate` >= the newest `updated_utc` of Autotask tickets in the lake less
//!   `collect.overlap_days`, or `--since`, or 90 days back), `TicketChangeRequestApprovals/query`
//!   and `ChangeRequestLinks/query` (whole: the CAB votes and the incidents linked to changes);
//! - 10,000 requests an hour per database, shared by every integration, and three at once per
//!   endpoint: govpack sends one at a time and keeps to `collect.autotask.hourly_budget` in any
//!   hour, its earlier runs counted (the `collections` log); a 429 waits for `Retry-After`.
//!
//! Each dataset is written as `autotask-<companies|ticket-fields|tickets|change-approvals|
//! change-links>-<date>/` with its pages as received; the adapter (`sources/autotask/`) reads
//! them. The stand-in of `tests/collectors.rs` serves the zone lookup, each query's pages and
//! counts from the vendor samples, 429 with `Retry-After`, a 401 for a wrong secret, a page URL
//! that repeats and a count the pages fall short of.

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};

use super::{Collector, Dataset, NextPageUrls, Pulled, json_of, path_of};
use crate::http::{self, Body};

/// Records a page asks for: Autotask's largest page.
const PAGE_SIZE: u64 = 500;

/// The API user's zone and credentials.
struct Api {
    base: String,
    integration_code: String,
    username: String,
    secret: String,
}

impl Api {
    fn new(c: &mut Collector) -> Result<Api> {
        let integration_code = c.credential("AUTOTASK_API_INTEGRATION_CODE")?;
        let username = c.credential("AUTOTASK_USERNAME")?;
        let secret = c.credential("AUTOTASK_SECRET")?;
        c.spend_from_budget(u64::from(c.settings.autotask.hourly_budget))?;
        let base = match std::env::var("AUTOTASK_BASE_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())
        {
            Some(url) => normalise_base(&url),
            None => {
                let lookup = c.autotask_zone_lookup_url.to_string();
                let answer = c
                    .send(&lookup, &[("user", &username)], &[], Body::None)
                    .map_err(|f| anyhow!("the zone lookup failed: {}", f.message))?;
                let zone = json_of(&answer.body, "the zone lookup")?;
                let url = zone
                    .get("url")
                    .and_then(Value::as_str)
                    .context("the zone lookup gave no url for the API user")?;
                zone_host(url)?;
                normalise_base(url)
            }
        };
        Ok(Api {
            base,
            integration_code,
            username,
            secret,
        })
    }

    /// Sends a request with the API user's headers: a POST of `body`, or a GET.
    fn send(&self, c: &mut Collector, url: &str, body: Option<&str>) -> Result<String> {
        let headers = [
            ("ApiIntegrationCode", self.integration_code.as_str()),
            ("UserName", self.username.as_str()),
            ("Secret", self.secret.as_str()),
        ];
        let (method, body) = match body {
            Some(text) => ("POST", Body::Json(text)),
            None => ("GET", Body::None),
        };
        c.send(url, &[], &headers, body)
            .map(|answer| answer.body)
            .map_err(|f| anyhow!("{method} {}: {}", path_of(url), f.message))
    }
}

/// Every page of a query into the dataset: the filter's records, checked against its count.
fn query_pages(
    api: &Api,
    c: &mut Collector,
    dataset: &mut Dataset,
    entity: &str,
    filter: Value,
) -> Result<()> {
    let body = json!({"MaxRecords": PAGE_SIZE, "filter": filter}).to_string();
    let expected = count_of(api, c, entity, &body)?;
    let mut url = format!("{}V1.0/{entity}/query", api.base);
    let mut pager = NextPageUrls::default();
    loop {
        let text = api.send(c, &url, Some(&body))?;
        let page_number = dataset.pages + 1;
        let page = json_of(&text, &format!("page {page_number}"))?;
        let items = page
            .get("items")
            .and_then(Value::as_array)
            .with_context(|| format!("page {page_number} has no `items` list"))?;
        // An empty first page (nothing changed) is not written: nothing to read in it.
        if !(items.is_empty() && dataset.pages == 0) {
            dataset.page(&text, items.len() as u64)?;
        }
        match pager.after(c, &page, &api.base, page_number)? {
            Some(next) => url = next,
            None => break,
        }
    }
    if dataset.records < expected {
        bail!(
            "the pages hold {} {entity} but the query's count says {expected}",
            dataset.records
        );
    }
    Ok(())
}

/// How many records a query's filter matches (`<Entity>/query/count`).
fn count_of(api: &Api, c: &mut Collector, entity: &str, body: &str) -> Result<u64> {
    let text = api.send(c, &format!("{}V1.0/{entity}/query/count", api.base), Some(body))?;
    let count = json_of(&text, "the query's count")?;
    ["queryCount", "QueryCount"]
        .iter()
        .find_map(|k| count.get(*k).and_then(Value::as_u64))
        .context("the query's count answer has no queryCount")
}

/// Every record of an entity (Autotask asks for at least one condition).
fn every_record() -> Value {
    json!([{"op": "gte", "field": "id", "value": 0}])
}

pub fn collect(c: &mut Collector) {
    let api = Api::new(c).map_err(|e| format!("{e:#}"));
    c.dataset("companies", |c, ds| {
        let api = api.as_ref().map_err(|why| anyhow!("{why}"))?;
        query_pages(api, c, ds, "Companies", every_record())?;
        Ok(Pulled::Whole)
    });
    c.dataset("ticket-fields", |c, ds| {
        let api = api.as_ref().map_err(|why| anyhow!("{why}"))?;
        let text = api.send(
            c,
            &format!("{}V1.0/Tickets/entityInformation/fields", api.base),
            None,
        )?;
        let fields = json_of(&text, "the ticket fields")?;
        let n = fields
            .get("fields")
            .and_then(Value::as_array)
            .context("the ticket fields answer has no `fields` list")?
            .len();
        ds.page(&text, n as u64)?;
        Ok(Pulled::Whole)
    });
    c.dataset("tickets", |c, ds| {
        let api = api.as_ref().map_err(|why| anyhow!("{why}"))?;
        let from = c.read_from("newest-ticket-update", "tickets", "autotask-tickets-json")?;
        let changed = json!([{"op": "gte", "field": "lastActivityDate",
            "value": from.format("%Y-%m-%dT%H:%M:%SZ").to_string()}]);
        query_pages(api, c, ds, "Tickets", changed)?;
        Ok(Pulled::Whole)
    });
    for (dataset, entity) in [
        ("change-approvals", "TicketChangeRequestApprovals"),
        ("change-links", "ChangeRequestLinks"),
    ] {
        c.dataset(dataset, |c, ds| {
            let api = api.as_ref().map_err(|why| anyhow!("{why}"))?;
            query_pages(api, c, ds, entity, every_record())?;
            Ok(Pulled::Whole)
        });
    }
}

pub fn check(c: &mut Collector) -> Result<String> {
    let api = Api::new(c)?;
    let body = json!({"filter": every_record()}).to_string();
    let companies = count_of(&api, c, "Companies", &body)?;
    let tickets = count_of(&api, c, "Tickets", &body)?;
    Ok(format!(
        "zone {}; {companies} companies, {tickets} tickets",
        api.base.trim_end_matches('/')
    ))
}

/// The zone URL the lookup gave must be an Autotask zone (`https://webservicesN.autotask.net/...`):
/// the credentials go to it. Plain HTTP to this machine passes too (tests' stand-ins).
pub fn zone_host(url: &str) -> Result<()> {
    http::allowed_url(url).map_err(|e| anyhow::anyhow!("the Autotask zone lookup's url: {e}"))?;
    let uri: ureq::http::Uri = url.parse().context("the Autotask zone lookup's url is no URL")?;
    let host = uri.host().unwrap_or("");
    let loopback = matches!(host, "127.0.0.1" | "localhost" | "[::1]" | "::1");
    if !loopback && !host.to_ascii_lowercase().ends_with(".autotask.net") {
        bail!("the Autotask zone lookup named {host}, which is no Autotask zone (*.autotask.net)");
    }
    Ok(())
}

/// `https://webservices5.autotask.net/ATServicesRest/` whatever form the zone URL came in.
pub fn normalise_base(url: &str) -> String {
    let trimmed = url.trim().trim_end_matches('/');
    let trimmed = trimmed
        .strip_suffix("/V1.0")
        .or_else(|| trimmed.strip_suffix("/v1.0"))
        .unwrap_or(trimmed);
    format!("{trimmed}/")
}
