//! `cisa-kev`: CISA's Known Exploited Vulnerabilities catalog, the JSON feed
//! (`collect.cisa_kev.url`), fetched whole with a GET and no credentials, and written as
//! `cisa-kev-<date>.json`. The feed has no paging; its `count` must equal the entries it holds
//! (a truncated catalog would read as fewer exposures). The stand-in of `tests/collectors.rs`
//! serves the catalog shape of `tests/fixtures/vulnerability`, and a `count` that disagrees.

use anyhow::{Result, anyhow, bail};
use serde_json::Value;

use super::{Collector, Dataset, Pulled, json_of};
use crate::http::Body;

/// Fetches the catalog and checks it is whole; the entries it holds.
fn fetch(c: &mut Collector) -> Result<(String, u64)> {
    let url = c.settings.cisa_kev.url.clone();
    let answer = c
        .send(&url, &[], &[("Accept", "application/json")], Body::None)
        .map_err(|f| anyhow!("GET the catalog: {}", f.message))?;
    let catalog = json_of(&answer.body, "the KEV catalog")?;
    let Some(entries) = catalog.get("vulnerabilities").and_then(Value::as_array) else {
        bail!("the answer is not the KEV catalog: it has no `vulnerabilities` list");
    };
    let entries = entries.len() as u64;
    if let Some(count) = catalog.get("count").and_then(Value::as_u64)
        && count != entries
    {
        bail!("the catalog says it has {count} entries but holds {entries}: incomplete, not written");
    }
    Ok((answer.body, entries))
}

pub fn collect(c: &mut Collector) {
    c.dataset("catalog", |c, dataset: &mut Dataset| {
        let (body, entries) = fetch(c)?;
        let name = format!("cisa-kev-{}.json", c.snapshot);
        dataset.document(&name, &body, entries)?;
        Ok(Pulled::Whole)
    });
}

pub fn check(c: &mut Collector) -> Result<String> {
    let (_, entries) = fetch(c)?;
    Ok(format!("catalog ok; {entries} entries"))
}
