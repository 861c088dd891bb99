//! `connectwise-manage`: the ConnectWise PSA (Manage) REST API 3.0 of the MSP's site
//! (`collect.connectwise_manage.site_url`, the API under `/v4_6_release/apis/3.0/`), as
//! ConnectWise documents it (developer.connectwise.com, and the ConnectWiseManageAPI PowerShell
//! module's `Invoke-CWMGetMaster` / `Invoke-CWMAllResult`):
//! - every request carries `Authorization: Basic base64(<company>+<public key>:<private key>)`
//!   (`collect.connectwise_manage.company`, GOVPACK_CW_MANAGE_PUBLIC_KEY,
//!   GOVPACK_CW_MANAGE_PRIVATE_KEY) and the integration's `clientId` header
//!   (GOVPACK_CW_MANAGE_CLIENT_ID); there is no token;
//! - lists are bare JSON arrays of `pageSize` records (25 unless asked, at most 1000), page by
//!   page: the `Link` header's `rel="next"` URL when the server gives one, else `page` numbers
//!   until a page holds fewer than asked. `<path>/count` with the same `conditions` answers
//!   `{"count": n}`: pages that hold fewer records than that write nothing, so a server that
//!   answers 25 a page whatever was asked (where other tools stop and lose the rest) is caught;
//! - `company/companies` (every company, whole: the adapter keeps the clients) and
//!   `service/tickets` changed since the watermark (`conditions=lastUpdated>=[...]`, the newest
//!   `updated_utc` of Manage tickets in the lake less `collect.overlap_days`, or `--since`, or 90
//!   days back); a 429 waits for `Retry-After`.
//!
//! Each dataset is written as `connectwise-manage-<companies|tickets>-<date>/` with its pages as
//! received; the adapter (`sources/connectwise_manage.rs`) reads them. The stand-in of
//! `tests/collectors.rs` serves both paging styles, a server answering 25 a page unless asked and
//! one ignoring what was asked, 429 with `Retry-After`, and a `Link` that repeats.

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use serde_json::Value;

use super::{Collector, Dataset, Pulled, json_of, path_of, same_origin};
use crate::http::{Body, Response};

/// Records a page asks for: Manage's largest page.
const PAGE_SIZE: usize = 1000;

struct Api {
    base: String,
    authorization: String,
    client_id: String,
}

impl Api {
    fn new(c: &mut Collector) -> Result<Api> {
        let settings = &c.settings.connectwise_manage;
        let (site, company) = (
            settings.site_url.trim_end_matches('/').to_string(),
            settings.company.clone(),
        );
        if site.is_empty() || company.trim().is_empty() {
            bail!("collect.connectwise_manage.site_url and .company must be set");
        }
        let public = c.credential("GOVPACK_CW_MANAGE_PUBLIC_KEY")?;
        let private = c.credential("GOVPACK_CW_MANAGE_PRIVATE_KEY")?;
        let client_id = c.credential("GOVPACK_CW_MANAGE_CLIENT_ID")?;
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{}+{public}:{private}", company.trim()));
        c.secret(&basic, "<basic credentials>");
        Ok(Api {
            base: format!("{site}/v4_6_release/apis/3.0/"),
            authorization: format!("Basic {basic}"),
            client_id,
        })
    }

    fn get(&self, c: &mut Collector, url: &str, query: &[(&str, &str)]) -> Result<Response> {
        let headers = [
            ("Authorization", self.authorization.as_str()),
            ("clientId", self.client_id.as_str()),
        ];
        c.send(url, query, &headers, Body::None)
            .map_err(|f| anyhow!("GET {}: {}", path_of(url), f.message))
    }

    /// How many records `path` holds under `conditions` (`<path>/count`).
    fn count(&self, c: &mut Collector, path: &str, conditions: &[(&str, &str)]) -> Result<u64> {
        let answer = self.get(c, &format!("{}{path}/count", self.base), conditions)?;
        json_of(&answer.body, "the count")?
            .get("count")
            .and_then(Value::as_u64)
            .context("the count answer has no count")
    }
}

/// The `rel="next"` URL of a `Link` header (`<url>; rel="next", <url>; rel="last"`).
fn link_next(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| {
                p.trim().eq_ignore_ascii_case("rel=\"next\"") || p.trim().eq_ignore_ascii_case("rel=next")
            })
            .then(|| {
                url.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
    })
}

/// Every page of a list into the dataset, checked against its count.
fn pages(
    api: &Api,
    c: &mut Collector,
    dataset: &mut Dataset,
    path: &str,
    conditions: Option<&str>,
) -> Result<()> {
    let filter: Vec<(&str, &str)> = conditions.map(|q| ("conditions", q)).into_iter().collect();
    let expected = api.count(c, path, &filter)?;
    let first = format!("{}{path}", api.base);
    let size = PAGE_SIZE.to_string();
    let mut number = 1;
    let mut next: Option<String> = None;
    let mut seen = std::collections::HashSet::new();
    loop {
        let answer = match &next {
            Some(url) => api.get(c, url, &[])?,
            None => {
                let page = number.to_string();
                let mut query = vec![("pageSize", size.as_str()), ("page", page.as_str())];
                query.extend(filter.iter().copied());
                api.get(c, &first, &query)?
            }
        };
        let page_number = dataset.pages + 1;
        let page = json_of(&answer.body, &format!("page {page_number}"))?;
        let items = page
            .as_array()
            .with_context(|| format!("page {page_number} is not a list"))?;
        // An empty page (nothing changed, or the page after a full last one) is not written: a
        // bare `[]` says nothing an adapter could recognise.
        if !items.is_empty() {
            dataset.page(&answer.body, items.len() as u64)?;
        }
        if dataset.pages >= u64::from(c.settings.max_pages) {
            bail!(
                "more than collect.max_pages ({}) pages: stopped",
                c.settings.max_pages
            );
        }
        match answer.header("link").and_then(link_next) {
            Some(url) => {
                same_origin(&url, &api.base)?;
                if !seen.insert(url.clone()) {
                    bail!(
                        "page {} repeated an earlier page's URL ({}): the paging loops",
                        page_number + 1,
                        path_of(&url)
                    );
                }
                next = Some(url);
            }
            // No link: pages by number, until one holds fewer than asked.
            None if next.is_none() && items.len() == PAGE_SIZE => number += 1,
            None => break,
        }
    }
    if dataset.records < expected {
        bail!(
            "the pages hold {} records but {path}/count says {expected} (a server answering fewer \
             than the {PAGE_SIZE} asked a page?)",
            dataset.records
        );
    }
    Ok(())
}

pub fn collect(c: &mut Collector) {
    let api = Api::new(c).map_err(|e| format!("{e:#}"));
    c.dataset("companies", |c, ds| {
        let api = api.as_ref().map_err(|why| anyhow!("{why}"))?;
        pages(api, c, ds, "company/companies", None)?;
        Ok(Pulled::Whole)
    });
    c.dataset("tickets", |c, ds| {
        let api = api.as_ref().map_err(|why| anyhow!("{why}"))?;
        let from = c.read_from(
            "newest-ticket-update",
            "tickets",
            "connectwise-manage-tickets-json",
        )?;
        let changed = format!("lastUpdated>=[{}]", from.format("%Y-%m-%dT%H:%M:%SZ"));
        pages(api, c, ds, "service/tickets", Some(&changed))?;
        Ok(Pulled::Whole)
    });
}

pub fn check(c: &mut Collector) -> Result<String> {
    let api = Api::new(c)?;
    let companies = api.count(c, "company/companies", &[])?;
    let tickets = api.count(c, "service/tickets", &[])?;
    Ok(format!(
        "credentials ok; {companies} companies, {tickets} tickets"
    ))
}

#[cfg(test)]
mod tests {
    use super::link_next;

    #[test]
    fn the_next_page_is_the_link_headers_rel_next_wherever_it_stands() {
        let link = "<https://na.example/v4_6_release/apis/3.0/service/tickets?page=2&pageSize=1000>; rel=\"next\", \
                    <https://na.example/v4_6_release/apis/3.0/service/tickets?page=9&pageSize=1000>; rel=\"last\"";
        assert_eq!(
            link_next(link).as_deref(),
            Some("https://na.example/v4_6_release/apis/3.0/service/tickets?page=2&pageSize=1000")
        );
        assert_eq!(link_next("<https://na.example/x?page=1>; rel=\"first\""), None);
        assert_eq!(link_next(""), None);
    }
}
