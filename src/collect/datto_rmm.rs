//! `datto-rmm`: the Datto RMM API v2 of the account's platform (`collect.datto_rmm.api_url`,
//! e.g. `https://merlot-api.centrastage.net`), as Datto documents it ("Datto RMM API", the help
//! centre's APIv2 page, and its Swagger spec):
//! - a token: `POST /auth/oauth/token`, HTTP Basic `public-client:public`, form
//!   `grant_type=password&username=<API key>&password=<API secret>` (GOVPACK_DATTO_RMM_API_KEY,
//!   GOVPACK_DATTO_RMM_API_SECRET); it lasts 100 hours, after which any request answers 401: the
//!   token is renewed once and the request repeated;
//! - `GET /api/v2/account/sites`, `/api/v2/account/devices`, `/api/v2/account/alerts/open` and
//!   `/api/v2/account/alerts/resolved` with the bearer token, `max=250` a page, each page `{"pageDetails": {count, totalCount,
//!   prevPageUrl, nextPageUrl}, "<sites|devices|alerts>": [...]}`, followed by `nextPageUrl` as
//!   given until it is null or empty;
//! - 600 requests in any 60 seconds per account, and a one-second delay on every answer past
//!   90% of it: govpack keeps to 540 in any 60 s, and a 429 waits for `Retry-After`.
//!
//! Each dataset is written as `datto-rmm-<sites|devices|alerts-open|alerts-resolved>-<date>/`
//! with its pages as
//! received; the adapter (`sources/datto_rmm.rs`) reads them. A page URL that repeats, a next URL
//! on another server, a page without its list, records that do not add up to `totalCount`, or
//! more than `collect.max_pages` pages writes nothing of that dataset.
//!
//! The stand-in of `tests/collectors.rs` stands in for each of these: the token grant (and a
//! token that expires mid-run), `nextPageUrl` paging over the sample pages, 429 with
//! `Retry-After`, 5xx, a repeating next URL and a short `totalCount`.

use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use serde_json::Value;

use super::{Bearer, Collector, Dataset, NextPageUrls, Pulled, json_of};
use crate::http::Body;

/// `public-client:public` in Base64: the Basic credentials Datto's token endpoint takes from
/// every API client (the account's own key and secret go in the form).
const PUBLIC_CLIENT: &str = "Basic cHVibGljLWNsaWVudDpwdWJsaWM=";
/// Records a page asks for: Datto's largest page.
const PAGE_SIZE: &str = "250";

/// The account's API: its base URL and the current token.
struct Api {
    base: String,
    key: String,
    secret: String,
    bearer: Bearer,
}

impl Api {
    fn new(c: &mut Collector) -> Result<Api> {
        let base = c.settings.datto_rmm.api_url.trim_end_matches('/').to_string();
        if base.is_empty() {
            bail!("collect.datto_rmm.api_url is not set (the account's platform API URL)");
        }
        let key = c.credential("GOVPACK_DATTO_RMM_API_KEY")?;
        let secret = c.credential("GOVPACK_DATTO_RMM_API_SECRET")?;
        // The platform's 600 a minute, less the tenth past which Datto slows every answer.
        c.limit_rate(540, Duration::from_secs(60));
        Ok(Api {
            base,
            key,
            secret,
            bearer: Bearer::default(),
        })
    }

    /// The password grant: Basic `public-client:public`, the account's key and secret in the form.
    fn request_token(c: &mut Collector, base: &str, key: &str, secret: &str) -> Result<String> {
        let form = [
            ("grant_type", "password"),
            ("username", key),
            ("password", secret),
        ];
        c.send(
            &format!("{base}/auth/oauth/token"),
            &[],
            &[("Authorization", PUBLIC_CLIENT)],
            Body::Form(&form),
        )
        .map(|answer| answer.body)
        .map_err(|f| anyhow!("the token request failed: {}", f.message))
    }

    fn renew_token(&mut self, c: &mut Collector) -> Result<String> {
        let (base, key, secret) = (&self.base, &self.key, &self.secret);
        self.bearer
            .renew(c, &|c| Api::request_token(c, base, key, secret))
    }

    /// GETs a URL with the token, renewing it once on a 401.
    fn get(&mut self, c: &mut Collector, url: &str, query: &[(&str, &str)]) -> Result<String> {
        let (base, key, secret) = (&self.base, &self.key, &self.secret);
        self.bearer
            .get(c, url, query, &|c| Api::request_token(c, base, key, secret))
    }
}

/// Pulls every page of a list endpoint into the dataset, checking the pages add up.
fn pages(api: &mut Api, c: &mut Collector, dataset: &mut Dataset, path: &str, list: &str) -> Result<()> {
    let first = format!("{}{path}", api.base);
    let mut pager = NextPageUrls::default();
    let mut next: Option<String> = None;
    let mut total: Option<u64> = None;
    loop {
        let body = match &next {
            None => api.get(c, &first, &[("max", PAGE_SIZE)])?,
            Some(url) => api.get(c, url, &[])?,
        };
        let page_number = dataset.pages + 1;
        let page = json_of(&body, &format!("page {page_number}"))?;
        let Some(items) = page.get(list).and_then(Value::as_array) else {
            bail!("page {page_number} has no `{list}` list");
        };
        if total.is_none() {
            total = page
                .get("pageDetails")
                .and_then(|d| d.get("totalCount"))
                .and_then(Value::as_u64);
        }
        dataset.page(&body, items.len() as u64)?;
        match pager.after(c, &page, &api.base, dataset.pages)? {
            Some(url) => next = Some(url),
            None => break,
        }
    }
    if let Some(total) = total
        && total != dataset.records
    {
        bail!(
            "the pages hold {} {list} but the API's totalCount says {total}",
            dataset.records
        );
    }
    Ok(())
}

/// The datasets: name, endpoint, the key of its list. Sites first: devices find their client
/// through their site. Resolved alerts are read whole each day: the API filters them by nothing
/// but `muted`, and keeps them for a limited time; the failures they record merge by key, so a
/// day's re-read changes nothing already in the lake.
const DATASETS: [(&str, &str, &str); 4] = [
    ("sites", "/api/v2/account/sites", "sites"),
    ("devices", "/api/v2/account/devices", "devices"),
    ("alerts-open", "/api/v2/account/alerts/open", "alerts"),
    ("alerts-resolved", "/api/v2/account/alerts/resolved", "alerts"),
];

pub fn collect(c: &mut Collector) {
    let mut api = Api::new(c).map_err(|e| format!("{e:#}"));
    for (dataset, path, list) in DATASETS {
        c.dataset(dataset, |c, ds| {
            let api = api.as_mut().map_err(|why| anyhow!("{why}"))?;
            pages(api, c, ds, path, list)?;
            Ok(Pulled::Whole)
        });
    }
}

pub fn check(c: &mut Collector) -> Result<String> {
    let mut api = Api::new(c)?;
    api.renew_token(c)?;
    let mut found = Vec::new();
    for (_, path, list) in &DATASETS[..2] {
        let body = api.get(c, &format!("{}{path}", api.base), &[("max", PAGE_SIZE)])?;
        let page = json_of(&body, list)?;
        let total = page
            .get("pageDetails")
            .and_then(|d| d.get("totalCount"))
            .and_then(Value::as_u64)
            .or_else(|| page.get(list).and_then(Value::as_array).map(|a| a.len() as u64))
            .ok_or_else(|| anyhow!("the first page of {list} has no `{list}` list"))?;
        found.push(format!("{total} {list}"));
    }
    Ok(format!("token ok; {}", found.join(", ")))
}
