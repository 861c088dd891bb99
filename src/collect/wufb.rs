//! `wufb`: Windows Update for Business reports, from the Log Analytics workspace they write to,
//! through the Azure Monitor Log Analytics query API, as Microsoft documents it ("Azure Monitor
//! Log Analytics API": authentication, request and response format, limits):
//! - a token by OAuth2 client credentials from Entra ID: `POST {token_url}/{entra_tenant_id}/
//!   oauth2/v2.0/token`, form `grant_type=client_credentials&client_id=..&client_secret=..&
//!   scope=https://api.loganalytics.io/.default` (GOVPACK_AZURE_CLIENT_ID,
//!   GOVPACK_AZURE_CLIENT_SECRET; the app needs Log Analytics Reader on the workspace); it lasts
//!   an hour, after which requests answer 401: renewed once and the request repeated;
//! - `POST {api_url}/v1/workspaces/{workspace_id}/query` with `{"query": "<KQL>"}`, answered
//!   `{"tables": [{"name", "columns": [{"name", "type"}], "rows": [[...]]}]}`. An answer past the
//!   API's limits (500,000 rows, 64 MB) comes back 200 with the rows that fit and an `error`
//!   beside `tables` (a partial result): such a part is split, by time (halves of its window,
//!   down to an hour) and then by device (`hash(AzureADDeviceId, n) == k`, n doubling), until
//!   every part fits. The parts are one dataset, checked against the window's `count`: all of the
//!   day or nothing;
//! - `UCClientUpdateStatus` rows whose `TimeGenerated` falls on the snapshot day, each part sorted
//!   (time, device, update) so that the same day collected twice gives the same bytes, written as
//!   the CSV the WUfB adapter reads (the portal's export columns: the table's own names).
//!
//! Written as `wufb-ucclientupdatestatus-<date>/` with one CSV per part. The stand-in of
//! `tests/collectors.rs` serves the token (expiring mid-run), the query API with a row limit
//! (partial answers past it) and the KQL filters the collector sends.

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::{Bearer, Collector, Dataset, Pulled, json_of};
use crate::http::Body;

/// The KQL table of per-device, per-update status the adapter reads.
const TABLE: &str = "UCClientUpdateStatus";
/// Parts split by device at most this many ways before the collection gives up.
const MOST_DEVICE_PARTS: u64 = 4096;

struct Api {
    token_url: String,
    query_url: String,
    client_id: String,
    secret: String,
    bearer: Bearer,
}

/// A query's rows, or word that the API cut them short (its limits).
enum Answer {
    Whole {
        columns: Vec<String>,
        rows: Vec<Vec<Value>>,
    },
    CutShort(String),
}

impl Api {
    fn new(c: &mut Collector) -> Result<Api> {
        let settings = &c.settings.wufb;
        let (workspace, tenant) = (settings.workspace_id.trim(), settings.entra_tenant_id.trim());
        if workspace.is_empty() || tenant.is_empty() {
            bail!("collect.wufb.workspace_id and .entra_tenant_id must be set");
        }
        let token_url = format!(
            "{}/{tenant}/oauth2/v2.0/token",
            settings.token_url.trim_end_matches('/')
        );
        let query_url = format!(
            "{}/v1/workspaces/{workspace}/query",
            settings.api_url.trim_end_matches('/')
        );
        Ok(Api {
            token_url,
            query_url,
            client_id: c.credential("GOVPACK_AZURE_CLIENT_ID")?,
            secret: c.credential("GOVPACK_AZURE_CLIENT_SECRET")?,
            bearer: Bearer::default(),
        })
    }

    fn request_token(c: &mut Collector, url: &str, client_id: &str, secret: &str) -> Result<String> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("scope", "https://api.loganalytics.io/.default"),
        ];
        c.send(url, &[], &[], Body::Form(&form))
            .map(|answer| answer.body)
            .map_err(|f| anyhow!("the token request failed: {}", f.message))
    }

    /// Runs a KQL query.
    fn query(&mut self, c: &mut Collector, kql: &str) -> Result<Answer> {
        let body = json!({ "query": kql }).to_string();
        let (token_url, client_id, secret) = (&self.token_url, &self.client_id, &self.secret);
        let text = self
            .bearer
            .send(c, &self.query_url, &[], Body::Json(&body), &|c| {
                Api::request_token(c, token_url, client_id, secret)
            })?;
        let answer = json_of(&text, "the query")?;
        if let Some(error) = answer.get("error").filter(|e| !e.is_null()) {
            let message = error
                .get("details")
                .and_then(|d| d.get(0))
                .and_then(|d| d.get("innererror").or(Some(d)))
                .and_then(|d| d.get("message"))
                .or_else(|| error.get("message"))
                .and_then(Value::as_str)
                .unwrap_or("a partial result");
            return Ok(Answer::CutShort(message.to_string()));
        }
        let table = answer
            .get("tables")
            .and_then(|t| t.get(0))
            .context("the query answer has no table")?;
        let columns = table
            .get("columns")
            .and_then(Value::as_array)
            .context("the query answer's table has no columns")?
            .iter()
            .map(|c| {
                c.get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        let rows = table
            .get("rows")
            .and_then(Value::as_array)
            .context("the query answer's table has no rows")?
            .iter()
            .map(|r| r.as_array().cloned().unwrap_or_default())
            .collect();
        Ok(Answer::Whole { columns, rows })
    }
}

/// A part of the day: a time window, and one of `n` device groups.
#[derive(Debug, Clone, Copy)]
struct Part {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    group: u64,
    groups: u64,
}

impl Part {
    fn filter(&self) -> String {
        let at = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ");
        let mut kql = format!(
            "{TABLE} | where TimeGenerated >= datetime({}) and TimeGenerated < datetime({})",
            at(self.from),
            at(self.to)
        );
        if self.groups > 1 {
            kql.push_str(&format!(
                " | where hash(AzureADDeviceId, {}) == {}",
                self.groups, self.group
            ));
        }
        kql
    }

    /// Two parts holding this one's rows: its window's halves, or (an hour or less) its devices
    /// in two groups.
    fn split(&self) -> Option<[Part; 2]> {
        if self.to - self.from > Duration::hours(1) {
            let middle = self.from + (self.to - self.from) / 2;
            return Some([
                Part { to: middle, ..*self },
                Part {
                    from: middle,
                    ..*self
                },
            ]);
        }
        let groups = self.groups * 2;
        (groups <= MOST_DEVICE_PARTS).then(|| {
            [
                Part { groups, ..*self },
                Part {
                    groups,
                    group: self.group + self.groups,
                    ..*self
                },
            ]
        })
    }
}

/// A query's rows as the CSV the adapter reads: the table's column names, each value as text
/// (empty for null).
fn csv_of(columns: &[String], rows: &[Vec<Value>]) -> Result<String> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(columns)?;
    for row in rows {
        out.write_record(row.iter().map(|v| match v {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }))?;
    }
    String::from_utf8(out.into_inner().map_err(|e| anyhow!("{e}"))?).context("CSV text")
}

/// Every row of the snapshot day, in parts that each fit the API's limits.
fn day_of_status(api: &mut Api, c: &mut Collector, dataset: &mut Dataset) -> Result<()> {
    let from = c.snapshot.and_time(chrono::NaiveTime::MIN).and_utc();
    let day = Part {
        from,
        to: from + Duration::days(1),
        group: 0,
        groups: 1,
    };
    let expected = match api.query(c, &format!("{} | count", day.filter()))? {
        Answer::Whole { rows, .. } => rows
            .first()
            .and_then(|r| r.first())
            .and_then(Value::as_u64)
            .context("the day's count answer holds no count")?,
        Answer::CutShort(why) => bail!("the day's count came back partial: {why}"),
    };
    // Parts still to read, the next at the end.
    let mut parts = vec![day];
    let mut asked = 0u64;
    while let Some(part) = parts.pop() {
        asked += 1;
        if asked > u64::from(c.settings.max_pages) {
            bail!(
                "more than collect.max_pages ({}) parts: stopped",
                c.settings.max_pages
            );
        }
        let kql = format!(
            "{} | sort by TimeGenerated asc, AzureADDeviceId asc, UpdateDisplayName asc",
            part.filter()
        );
        match api.query(c, &kql)? {
            Answer::Whole { columns, rows } => {
                if !rows.is_empty() {
                    dataset.part("csv", &csv_of(&columns, &rows)?, rows.len() as u64)?;
                }
            }
            Answer::CutShort(why) => {
                let Some([first, second]) = part.split() else {
                    bail!(
                        "an hour of {MOST_DEVICE_PARTS} device groups is still over the query API's limits: {why}"
                    );
                };
                tracing::info!("wufb: a part was over the query API's limits ({why}); split in two");
                parts.push(second);
                parts.push(first);
            }
        }
    }
    if dataset.records != expected {
        bail!(
            "the parts hold {} rows but the day's count says {expected}",
            dataset.records
        );
    }
    Ok(())
}

pub fn collect(c: &mut Collector) {
    let mut api = Api::new(c).map_err(|e| format!("{e:#}"));
    c.dataset("ucclientupdatestatus", |c, ds| {
        let api = api.as_mut().map_err(|why| anyhow!("{why}"))?;
        day_of_status(api, c, ds)?;
        Ok(Pulled::Whole)
    });
}

pub fn check(c: &mut Collector) -> Result<String> {
    let mut api = Api::new(c)?;
    let kql = format!(
        "{TABLE} | where TimeGenerated > ago(1d) | summarize devices = dcount(AzureADDeviceId), rows = count()"
    );
    match api.query(c, &kql)? {
        Answer::Whole { rows, .. } => {
            let row = rows.first().cloned().unwrap_or_default();
            let number = |i: usize| row.get(i).and_then(Value::as_u64).unwrap_or(0);
            Ok(format!(
                "token ok; {} devices, {} update rows in the last day",
                number(0),
                number(1)
            ))
        }
        Answer::CutShort(why) => bail!("the check query came back partial: {why}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_splits_into_halves_down_to_an_hour_then_into_device_groups_that_cover_it() {
        let from = DateTime::parse_from_rfc3339("2026-12-05T00:00:00Z")
            .unwrap()
            .to_utc();
        let day = Part {
            from,
            to: from + Duration::days(1),
            group: 0,
            groups: 1,
        };
        let [morning, afternoon] = day.split().unwrap();
        assert_eq!(
            (morning.to, afternoon.from),
            (from + Duration::hours(12), from + Duration::hours(12))
        );
        let hour = Part {
            to: from + Duration::hours(1),
            ..day
        };
        let [even, odd] = hour.split().unwrap();
        assert_eq!((even.group, even.groups, odd.group, odd.groups), (0, 2, 1, 2));
        let [a, b] = odd.split().unwrap();
        // hash % 4 of 1 or 3 is hash % 2 of 1: the two halves cover their parent.
        assert_eq!((a.group, a.groups, b.group, b.groups), (1, 4, 3, 4));
        assert!(odd.filter().ends_with("| where hash(AzureADDeviceId, 2) == 1"));
        let last = Part {
            groups: MOST_DEVICE_PARTS,
            ..hour
        };
        assert!(last.split().is_none());
    }
}
