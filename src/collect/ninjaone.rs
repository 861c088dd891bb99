//! `ninjaone`: the NinjaOne public API v2 of the instance (`collect.ninjaone.instance_url`:
//! app, eu, oc, ca or us2 .ninjarmm.com), as NinjaOne documents it (the API's Swagger, and the
//! NinjaOne PowerShell module's `Get-NinjaOneOrganisations`, `Get-NinjaOneDevices -detailed`,
//! `Get-NinjaOneOSPatches`, `Get-NinjaOneOSPatchInstalls`):
//! - a token by OAuth2 client credentials: `POST /ws/oauth/token`, form `grant_type=
//!   client_credentials&client_id=..&client_secret=..&scope=monitoring`
//!   (GOVPACK_NINJAONE_CLIENT_ID, GOVPACK_NINJAONE_CLIENT_SECRET); it lasts an hour, after which
//!   requests answer 401: renewed once and the request repeated;
//! - `GET /v2/organizations` and `/v2/devices-detailed`: bare JSON arrays, paged by `pageSize` and
//!   `after` (the last id of the previous page) until a page holds fewer than `pageSize`;
//! - `GET /v2/queries/os-patches` (the patches not yet installed, read whole each day) and
//!   `/v2/queries/os-patch-installs` (install history, incremental: `installedAfter` = the newest
//!   install already in the lake less `collect.overlap_days`, or `--since`, or 90 days back, in
//!   Unix epoch seconds: the module's `Get-NinjaOneOSPatchInstalls` converts a date with
//!   `ConvertTo-UnixEpoch` before it sends `installedAfter`, and takes `-installedAfterUnixEpoch`):
//!   `{"cursor": {"name", "offset", "count", "expires"}, "results": [...]}`, paged by `pageSize`
//!   and `cursor` = the previous page's `cursor.name` until a page holds fewer than `pageSize`.
//!
//! Each dataset is written as `ninjaone-<organizations|devices|os-patches|os-patch-installs>-
//! <date>/`, pages as received (a last page that holds nothing is not written: it carries no
//! record, and an empty list says nothing an adapter could recognise). An `after` id or a cursor
//! position that repeats, or more than `collect.max_pages` pages, writes nothing of the dataset.
//! The stand-in of `tests/collectors.rs` serves each paging style from the vendor samples, a
//! token that expires mid-run, and a cursor that does not move.

use std::collections::HashSet;

use anyhow::{Result, anyhow, bail};

use serde_json::Value;

use super::{Bearer, Collector, Dataset, Pulled, json_of};
use crate::http::Body;

/// Records a page asks for.
const PAGE_SIZE: usize = 1000;

struct Api {
    base: String,
    client_id: String,
    client_secret: String,
    bearer: Bearer,
}

impl Api {
    fn new(c: &mut Collector) -> Result<Api> {
        let base = c.settings.ninjaone.instance_url.trim_end_matches('/').to_string();
        let client_id = c.credential("GOVPACK_NINJAONE_CLIENT_ID")?;
        let client_secret = c.credential("GOVPACK_NINJAONE_CLIENT_SECRET")?;
        Ok(Api {
            base,
            client_id,
            client_secret,
            bearer: Bearer::default(),
        })
    }

    /// The client-credentials grant, scope `monitoring`.
    fn request_token(c: &mut Collector, base: &str, client_id: &str, client_secret: &str) -> Result<String> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", client_secret),
            ("scope", "monitoring"),
        ];
        c.send(&format!("{base}/ws/oauth/token"), &[], &[], Body::Form(&form))
            .map(|answer| answer.body)
            .map_err(|f| anyhow!("the token request failed: {}", f.message))
    }

    fn renew_token(&mut self, c: &mut Collector) -> Result<String> {
        let (base, id, secret) = (&self.base, &self.client_id, &self.client_secret);
        self.bearer.renew(c, &|c| Api::request_token(c, base, id, secret))
    }

    /// GETs an endpoint with the token, renewing it once on a 401.
    fn get(&mut self, c: &mut Collector, path: &str, query: &[(&str, &str)]) -> Result<String> {
        let url = format!("{}{path}", self.base);
        let (base, id, secret) = (&self.base, &self.client_id, &self.client_secret);
        self.bearer
            .get(c, &url, query, &|c| Api::request_token(c, base, id, secret))
    }
}

/// A list endpoint paged by `after` (the last id of the previous page).
fn pages_after(api: &mut Api, c: &mut Collector, dataset: &mut Dataset, path: &str) -> Result<()> {
    let size = PAGE_SIZE.to_string();
    let mut after: Option<String> = None;
    let mut seen = HashSet::new();
    loop {
        let mut query = vec![("pageSize", size.as_str())];
        if let Some(after) = &after {
            query.push(("after", after.as_str()));
        }
        let body = api.get(c, path, &query)?;
        let number = dataset.pages + 1;
        let page = json_of(&body, &format!("page {number}"))?;
        let Some(items) = page.as_array() else {
            bail!("page {number} of {path} is not a list");
        };
        if items.is_empty() {
            break;
        }
        dataset.page(&body, items.len() as u64)?;
        if items.len() < PAGE_SIZE {
            break;
        }
        let last = items
            .last()
            .and_then(|i| i.get("id"))
            .map(|id| id.to_string())
            .ok_or_else(|| anyhow!("page {number} of {path}: its last record has no id to page after"))?;
        if !seen.insert(last.clone()) {
            bail!(
                "page {} repeated an earlier page (after id {last}): the paging loops",
                number + 1
            );
        }
        if dataset.pages >= u64::from(c.settings.max_pages) {
            bail!(
                "more than collect.max_pages ({}) pages: stopped",
                c.settings.max_pages
            );
        }
        after = Some(last);
    }
    Ok(())
}

/// A query endpoint paged by cursor.
fn pages_by_cursor(
    api: &mut Api,
    c: &mut Collector,
    dataset: &mut Dataset,
    path: &str,
    filter: &[(&str, &str)],
) -> Result<()> {
    let size = PAGE_SIZE.to_string();
    let mut cursor: Option<String> = None;
    let mut seen = HashSet::new();
    loop {
        let mut query = vec![("pageSize", size.as_str())];
        query.extend_from_slice(filter);
        if let Some(cursor) = &cursor {
            query.push(("cursor", cursor.as_str()));
        }
        let body = api.get(c, path, &query)?;
        let number = dataset.pages + 1;
        let page = json_of(&body, &format!("page {number}"))?;
        let Some(results) = page.get("results").and_then(Value::as_array) else {
            bail!("page {number} of {path} has no `results` list");
        };
        if results.is_empty() {
            break;
        }
        dataset.page(&body, results.len() as u64)?;
        if results.len() < PAGE_SIZE {
            break;
        }
        let position = page.get("cursor");
        let name = position
            .and_then(|p| p.get("name"))
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| anyhow!("page {number} of {path} is full but gives no cursor for the next"))?
            .to_string();
        // The cursor's name may stay while its offset moves: a position, not a name, repeats.
        let offset = position
            .and_then(|p| p.get("offset"))
            .map(Value::to_string)
            .unwrap_or_default();
        if !seen.insert((name.clone(), offset.clone())) {
            bail!(
                "page {} repeated an earlier page's cursor (offset {offset}): the paging loops",
                number + 1
            );
        }
        if dataset.pages >= u64::from(c.settings.max_pages) {
            bail!(
                "more than collect.max_pages ({}) pages: stopped",
                c.settings.max_pages
            );
        }
        cursor = Some(name);
    }
    Ok(())
}

pub fn collect(c: &mut Collector) {
    let mut api = Api::new(c).map_err(|e| format!("{e:#}"));
    for (dataset, path) in [
        ("organizations", "/v2/organizations"),
        ("devices", "/v2/devices-detailed"),
    ] {
        c.dataset(dataset, |c, ds| {
            let api = api.as_mut().map_err(|why| anyhow!("{why}"))?;
            pages_after(api, c, ds, path)?;
            Ok(Pulled::Whole)
        });
    }
    c.dataset("os-patches", |c, ds| {
        let api = api.as_mut().map_err(|why| anyhow!("{why}"))?;
        pages_by_cursor(api, c, ds, "/v2/queries/os-patches", &[])?;
        Ok(Pulled::Whole)
    });
    c.dataset("os-patch-installs", |c, ds| {
        let api = api.as_mut().map_err(|why| anyhow!("{why}"))?;
        let after = c
            .read_from(
                "newest-attempt",
                "patch_attempts",
                "ninjaone-os-patch-installs-json",
            )?
            .timestamp()
            .to_string();
        pages_by_cursor(
            api,
            c,
            ds,
            "/v2/queries/os-patch-installs",
            &[("installedAfter", after.as_str())],
        )?;
        Ok(Pulled::Whole)
    });
}

pub fn check(c: &mut Collector) -> Result<String> {
    let mut api = Api::new(c)?;
    api.renew_token(c)?;
    let one = [("pageSize", "1000")];
    let organizations = json_of(&api.get(c, "/v2/organizations", &one)?, "organizations")?;
    let devices = json_of(&api.get(c, "/v2/devices-detailed", &one)?, "devices")?;
    let count = |v: &Value| v.as_array().map_or(0, Vec::len);
    let more = |v: &Value| if count(v) >= PAGE_SIZE { "+" } else { "" };
    Ok(format!(
        "token ok; {}{} organizations, {}{} devices",
        count(&organizations),
        more(&organizations),
        count(&devices),
        more(&devices)
    ))
}
