//! `msrc-cvrf`: Microsoft's Security Update Guide CVRF API (`collect.msrc_cvrf.api_url`,
//! `https://api.msrc.microsoft.com/cvrf/v3.0`): `GET /cvrf/<YYYY-Mon>` with `Accept:
//! application/json` for the snapshot's month and the `months - 1` before it, no credentials.
//! Each document is written as `msrc-cvrf-<YYYY-Mon>.json`. A month Microsoft has not published
//! yet answers 404: recorded as absent, not a failure (the first days of a month before Patch
//! Tuesday). `--check` reads the list of published documents (`GET /updates`). The stand-ins of
//! `tests/collectors.rs` serve the documents of `tests/fixtures/vulnerability` and a 404.

use anyhow::{Result, anyhow, bail};
use chrono::{Datelike, Months, NaiveDate};
use serde_json::Value;

use super::{Collector, Pulled, json_of};
use crate::http::Body;

/// The CVRF id of a month: `2026-Oct`.
fn document_id(day: NaiveDate) -> String {
    day.format("%Y-%b").to_string()
}

/// The months to collect, the snapshot's first.
fn months(c: &Collector) -> Vec<String> {
    let first =
        NaiveDate::from_ymd_opt(c.snapshot.year(), c.snapshot.month(), 1).expect("a month's first day");
    (0..c.settings.msrc_cvrf.months)
        .filter_map(|back| first.checked_sub_months(Months::new(back)))
        .map(document_id)
        .collect()
}

pub fn collect(c: &mut Collector) {
    let base = c.settings.msrc_cvrf.api_url.trim_end_matches('/').to_string();
    for id in months(c) {
        let url = format!("{base}/cvrf/{id}");
        c.dataset(&id.clone(), |c, dataset| {
            let answer = match c.send(&url, &[], &[("Accept", "application/json")], Body::None) {
                Ok(answer) => answer,
                Err(f) if f.status == Some(404) => return Ok(Pulled::Absent),
                Err(f) => bail!("GET /cvrf/{id}: {}", f.message),
            };
            let document = json_of(&answer.body, &format!("the CVRF document {id}"))?;
            let Some(vulnerabilities) = document.get("Vulnerability").and_then(Value::as_array) else {
                bail!("the answer for {id} is not a CVRF document: it has no `Vulnerability` list");
            };
            let records = vulnerabilities.len() as u64;
            dataset.document(&format!("msrc-cvrf-{id}.json"), &answer.body, records)?;
            Ok(Pulled::Whole)
        });
    }
}

pub fn check(c: &mut Collector) -> Result<String> {
    let base = c.settings.msrc_cvrf.api_url.trim_end_matches('/').to_string();
    let answer = c
        .send(
            &format!("{base}/updates"),
            &[],
            &[("Accept", "application/json")],
            Body::None,
        )
        .map_err(|f| anyhow!("GET /updates: {}", f.message))?;
    let updates = json_of(&answer.body, "the list of CVRF documents")?;
    let ids: Vec<&str> = updates
        .get("value")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|u| u.get("ID").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    let wanted = months(c);
    let published = wanted.iter().filter(|id| ids.contains(&id.as_str())).count();
    Ok(format!(
        "{} documents listed; {published} of the {} months collected ({}) published",
        ids.len(),
        wanted.len(),
        wanted.join(", ")
    ))
}
