//! Collectors: pull the exports a person would otherwise drop into the inbox from the vendors'
//! APIs, on schedule (`govpack collect`, and every `run` first). A collector fetches and saves the
//! API's answers as they come, byte for byte; the adapters in `sources/` stay the only place
//! that understands a vendor's fields, and read these files as they read any export.
//!
//! The rules every source follows:
//! - **All pages or none.** A dataset (one endpoint's pages for one snapshot day) is written
//!   aside, in `<inbox>/.collecting/` (the inbox never reads a name starting with `.`), and moved
//!   into the inbox with one rename once every page arrived: pagination ended the way the API
//!   says it ends, no page URL repeated, the records add up to any total the API reports, no page
//!   failed. Anything else writes nothing of that dataset and says why.
//! - **Bounded.** Answers over `collect.max_response_mb` are refused unread, a dataset of more
//!   than `collect.max_pages` pages is stopped, and all HTTP work shares the run's deadline
//!   (`http`).
//! - **No secret anywhere.** Keys, secrets and tokens come from the environment, are redacted
//!   from every message, and are never written: the files hold the answers' bodies only.
//! - **Idempotent.** A file holds only what the API answered (no fetch time), so the same day
//!   collected twice from unchanged data gives the same bytes, which ingest skips.

pub mod autotask;
pub mod cisa_kev;
pub mod connectwise_manage;
pub mod datto_rmm;
pub mod msrc_cvrf;
pub mod ninjaone;
pub mod settings;
pub mod wufb;

pub use settings::{COLLECTORS, CollectSettings};

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, NaiveDate, Utc};

use crate::canonical::system::COLLECTIONS;
use crate::canonical::{Batch, Value};
use crate::http::{self, Body, Failure, Request, Response, Retry};
use crate::lake::Lake;

/// The hidden folder of the inbox where datasets are written until they are whole.
pub const STAGING: &str = ".collecting";

/// What became of one dataset.
#[derive(Debug, Clone)]
pub struct DatasetRecord {
    pub source: &'static str,
    pub dataset: String,
    pub started_utc: DateTime<Utc>,
    pub ended_utc: DateTime<Utc>,
    /// collected, failed or absent.
    pub status: &'static str,
    pub pages: u64,
    pub records: u64,
    pub bytes: u64,
    pub requests: u64,
    /// The inbox entry it was written as.
    pub inbox_entry: Option<String>,
    pub error: Option<String>,
}

/// What a collection did, source by source.
#[derive(Debug, Default)]
pub struct CollectReport {
    pub datasets: Vec<DatasetRecord>,
    /// `--check`: a line per source, what it found or why it failed.
    pub checks: Vec<(String, std::result::Result<String, String>)>,
}

impl CollectReport {
    pub fn failed(&self) -> impl Iterator<Item = &DatasetRecord> {
        self.datasets.iter().filter(|d| d.status == "failed")
    }

    /// The inbox entries moved in whole, which the inbox reads at once (no settling).
    pub fn entries(&self) -> Vec<String> {
        self.datasets
            .iter()
            .filter_map(|d| d.inbox_entry.clone())
            .collect()
    }
}

/// What a collection is for: the snapshot day, where incremental sources start, the lake their
/// watermarks come from (none for `--check`).
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    pub inbox: &'a Path,
    pub snapshot: NaiveDate,
    /// `--since`: incremental sources read from this day instead of their watermark.
    pub since: Option<NaiveDate>,
    pub lake: Option<&'a Lake>,
}

/// Collects each source into the inbox for the snapshot day, or with `check` contacts each and
/// writes nothing. A source that fails does not stop the others.
pub fn collect(
    settings: &CollectSettings,
    autotask_zone_lookup_url: &str,
    sources: &[String],
    scope: Scope,
    check: bool,
) -> CollectReport {
    let mut report = CollectReport::default();
    for source in sources {
        let mut collector = match Collector::new(settings, autotask_zone_lookup_url, source, scope) {
            Ok(c) => c,
            Err(e) => {
                let why = format!("{e:#}");
                if check {
                    report.checks.push((source.clone(), Err(why)));
                } else {
                    let now = Utc::now();
                    report.datasets.push(DatasetRecord {
                        source: static_name(source),
                        dataset: "-".into(),
                        started_utc: now,
                        ended_utc: now,
                        status: "failed",
                        pages: 0,
                        records: 0,
                        bytes: 0,
                        requests: 0,
                        inbox_entry: None,
                        error: Some(why),
                    });
                }
                continue;
            }
        };
        if check {
            let found = match collector.source {
                "cisa-kev" => cisa_kev::check(&mut collector),
                "msrc-cvrf" => msrc_cvrf::check(&mut collector),
                "datto-rmm" => datto_rmm::check(&mut collector),
                "ninjaone" => ninjaone::check(&mut collector),
                "autotask" => autotask::check(&mut collector),
                "connectwise-manage" => connectwise_manage::check(&mut collector),
                "wufb" => wufb::check(&mut collector),
                other => Err(anyhow!("no collector for `{other}`")),
            };
            report.checks.push((
                source.clone(),
                found.map_err(|e| collector.redact(&format!("{e:#}"))),
            ));
        } else {
            match collector.source {
                "cisa-kev" => cisa_kev::collect(&mut collector),
                "msrc-cvrf" => msrc_cvrf::collect(&mut collector),
                "datto-rmm" => datto_rmm::collect(&mut collector),
                "ninjaone" => ninjaone::collect(&mut collector),
                "autotask" => autotask::collect(&mut collector),
                "connectwise-manage" => connectwise_manage::collect(&mut collector),
                "wufb" => wufb::collect(&mut collector),
                _ => {}
            }
            report.datasets.append(&mut collector.records);
        }
    }
    report
}

/// The collector's own spelling of a configured name (config validation allows only these).
fn static_name(source: &str) -> &'static str {
    COLLECTORS
        .iter()
        .find(|s| **s == source)
        .copied()
        .unwrap_or("unknown")
}

/// Records each dataset in the lake's `collections` log.
pub fn record(lake: &Lake, report: &CollectReport, run_id: Option<&str>) -> Result<()> {
    if report.datasets.is_empty() {
        return Ok(());
    }
    let mut batch = Batch::without_lineage(&COLLECTIONS);
    let text = |s: &str| Value::Text(s.to_string());
    let count = |n: u64| Value::Int(n as i64);
    for (i, d) in report.datasets.iter().enumerate() {
        batch.push_row(
            vec![
                text(d.source),
                text(&d.dataset),
                Value::Date(d.started_utc.date_naive()),
                Value::Timestamp(d.started_utc),
                Value::Timestamp(d.ended_utc),
                text(d.status),
                count(d.pages),
                count(d.records),
                count(d.bytes),
                count(d.requests),
                d.inbox_entry.as_deref().map_or(Value::Null, text),
                d.error.as_deref().map_or(Value::Null, text),
                run_id.map_or(Value::Null, text),
            ],
            i as u64,
        );
    }
    lake.merge(&batch).map(|_| ())
}

/// One source's collection for a snapshot day: how it sends requests (retries, rate limit,
/// secrets to redact) and where its datasets go.
pub struct Collector<'a> {
    pub source: &'static str,
    pub settings: &'a CollectSettings,
    /// Where Autotask says which zone an API user's database is in (`tickets.zone_lookup_url`,
    /// shared with the remediation tickets).
    pub autotask_zone_lookup_url: &'a str,
    pub snapshot: NaiveDate,
    pub since: Option<NaiveDate>,
    lake: Option<&'a Lake>,
    inbox: PathBuf,
    retry: Retry,
    limit_bytes: u64,
    /// (secret, what messages show instead)
    secrets: Vec<(String, String)>,
    rate: Option<RateLimit>,
    /// Requests this source may still send this hour (`spend_from_budget`).
    budget: Option<Budget>,
    requests: u64,
    /// Requests counted in a dataset's record so far: a token or zone request sent before a
    /// dataset counts with it, so the records add up to every request sent.
    requests_recorded: u64,
    records: Vec<DatasetRecord>,
}

/// A vendor's hourly request budget, shared with the source's earlier runs.
#[derive(Debug, Clone, Copy)]
struct Budget {
    max: u64,
    /// Requests the lake records for this source in the hour before this collection began.
    used_before: u64,
    /// `requests` when the budget was set.
    from: u64,
}

impl<'a> Collector<'a> {
    fn new(
        settings: &'a CollectSettings,
        autotask_zone_lookup_url: &'a str,
        source: &str,
        scope: Scope<'a>,
    ) -> Result<Self> {
        let source = static_name(source);
        if source == "unknown" {
            bail!("not a source govpack collects (known: {})", COLLECTORS.join(", "));
        }
        Ok(Collector {
            source,
            settings,
            autotask_zone_lookup_url,
            snapshot: scope.snapshot,
            since: scope.since,
            lake: scope.lake,
            inbox: scope.inbox.to_path_buf(),
            retry: Retry {
                retries: settings.retries,
                backoff: Duration::from_millis(settings.retry_backoff_ms),
                timeout: Duration::from_secs(settings.timeout_seconds),
            },
            limit_bytes: settings.max_response_mb << 20,
            secrets: Vec::new(),
            rate: None,
            budget: None,
            requests: 0,
            requests_recorded: 0,
            records: Vec::new(),
        })
    }

    /// The newest record the lake holds of `table` from files of `format`, by the named query of
    /// `queries/ops/collect.sql`: where an incremental dataset goes on from.
    fn watermark(&self, query: &str, table: &str, format: &str) -> Result<Option<DateTime<Utc>>> {
        let Some(lake) = self.lake else { return Ok(None) };
        if lake.table_files(table)?.is_empty() {
            return Ok(None);
        }
        let conn = crate::sql::open(lake)?;
        crate::sql::bind(&conn, &[("format", crate::sql::text(format))])?;
        let queries = crate::sql::NamedQueries::read("ops/collect.sql")?;
        let newest: Option<i64> = conn.query_row(queries.bound(&conn, query)?, [], |r| r.get(0))?;
        Ok(newest.and_then(|s| DateTime::from_timestamp(s, 0)))
    }

    /// Where an incremental dataset is read from: `--since`, else the lake's newest record of it
    /// (`watermark`) less `collect.overlap_days`, else 90 days before the snapshot.
    pub fn read_from(&self, query: &str, table: &str, format: &str) -> Result<DateTime<Utc>> {
        if let Some(since) = self.since {
            return Ok(since.and_time(chrono::NaiveTime::MIN).and_utc());
        }
        let overlap = chrono::Days::new(u64::from(self.settings.overlap_days));
        Ok(match self.watermark(query, table, format)? {
            Some(newest) => newest - overlap,
            None => (self.snapshot - chrono::Days::new(90))
                .and_time(chrono::NaiveTime::MIN)
                .and_utc(),
        })
    }

    /// Keeps this source within `max` requests in any hour, counting what the lake records of
    /// its collections in the hour before (a vendor's hourly limit spans runs).
    pub fn spend_from_budget(&mut self, max: u64) -> Result<()> {
        let used_before = match self.lake {
            Some(lake) if !lake.table_files(COLLECTIONS.name)?.is_empty() => {
                let since = (Utc::now() - chrono::Duration::hours(1)).timestamp();
                let conn = crate::sql::open(lake)?;
                crate::sql::bind(
                    &conn,
                    &[
                        ("source", crate::sql::text(self.source)),
                        ("since", duckdb::types::Value::BigInt(since)),
                    ],
                )?;
                let queries = crate::sql::NamedQueries::read("ops/status.sql")?;
                let used: i64 = conn.query_row(queries.bound(&conn, "requests-since")?, [], |r| r.get(0))?;
                used.max(0) as u64
            }
            _ => 0,
        };
        self.budget = Some(Budget {
            max,
            used_before,
            from: self.requests,
        });
        Ok(())
    }

    /// Requests sent within the budget, and the budget: (used, max), counting earlier runs'.
    pub fn budget_used(&self) -> Option<(u64, u64)> {
        self.budget
            .map(|b| (b.used_before + self.requests - b.from, b.max))
    }

    /// A credential from the environment, registered as a secret (never shown).
    pub fn credential(&mut self, variable: &str) -> Result<String> {
        let value = std::env::var(variable)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| {
                anyhow!(
                    "{variable} is not set: the {} credentials come from the environment",
                    self.source
                )
            })?;
        self.secret(&value, &format!("${variable}"));
        Ok(value)
    }

    /// A value never to show (a token), and what to show instead.
    pub fn secret(&mut self, value: &str, shown: &str) {
        if !value.is_empty() && !self.secrets.iter().any(|(s, _)| s == value) {
            self.secrets.push((value.to_string(), shown.to_string()));
        }
    }

    /// The text with every secret replaced.
    pub fn redact(&self, text: &str) -> String {
        let pairs: Vec<(&str, &str)> = self
            .secrets
            .iter()
            .map(|(s, h)| (s.as_str(), h.as_str()))
            .collect();
        http::redact(text, &pairs)
    }

    /// Keeps requests within `max` in any `per` (the vendor's documented limit).
    pub fn limit_rate(&mut self, max: usize, per: Duration) {
        self.rate = Some(RateLimit {
            max,
            per,
            sent: VecDeque::new(),
        });
    }

    /// Sends a request; the failure says the status of the last answer (a 401 renews a token).
    pub fn send(
        &mut self,
        url: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: Body,
    ) -> std::result::Result<Response, Failure> {
        if let Some((used, max)) = self.budget_used()
            && used >= max
        {
            return Err(Failure {
                status: None,
                message: format!(
                    "the hourly budget of {max} requests is spent ({used} in the last hour, \
                     earlier runs included): not sent; the next run goes on"
                ),
            });
        }
        if let Some(rate) = &mut self.rate {
            rate.wait_for_turn();
        }
        self.requests += 1;
        let pairs: Vec<(&str, &str)> = self
            .secrets
            .iter()
            .map(|(s, h)| (s.as_str(), h.as_str()))
            .collect();
        let request = Request {
            url,
            query,
            headers,
            body,
            secrets: &pairs,
        };
        let sent = http::exchange(&request, self.retry, self.limit_bytes);
        // Each attempt is a request the vendor counts (a budget spans them).
        if let Ok(answer) = &sent {
            self.requests += u64::from(answer.attempts.saturating_sub(1));
        }
        if let Some(rate) = &mut self.rate {
            rate.sent.push_back(Instant::now());
        }
        sent
    }

    /// Runs one dataset's collection and records what became of it. `pull` writes its pages
    /// into the staging dataset; only when it returns `Ok` does the dataset move into the inbox.
    pub fn dataset(&mut self, name: &str, pull: impl FnOnce(&mut Self, &mut Dataset) -> Result<Pulled>) {
        let started_utc = Utc::now();
        let outcome =
            Dataset::begin(&self.inbox, self.source, name, self.snapshot).and_then(|mut dataset| {
                let pulled = pull(self, &mut dataset)?;
                let (pages, records, bytes) = (dataset.pages, dataset.records, dataset.bytes);
                Ok(match pulled {
                    Pulled::Absent => ("absent", None, 0, 0, 0),
                    // Nothing to read (no open alert, no install since the watermark): collected,
                    // with nothing to move in.
                    Pulled::Whole if pages == 0 => ("collected", None, 0, 0, 0),
                    Pulled::Whole => ("collected", Some(dataset.move_in()?), pages, records, bytes),
                })
            });
        let (status, inbox_entry, pages, records, bytes, error) = match outcome {
            Ok((status, entry, pages, records, bytes)) => (status, entry, pages, records, bytes, None),
            Err(e) => ("failed", None, 0, 0, 0, Some(self.redact(&format!("{e:#}")))),
        };
        let requests = self.requests - self.requests_recorded;
        self.requests_recorded = self.requests;
        self.records.push(DatasetRecord {
            source: self.source,
            dataset: name.to_string(),
            started_utc,
            ended_utc: Utc::now(),
            status,
            pages,
            records,
            bytes,
            requests,
            inbox_entry,
            error,
        });
    }
}

/// How a dataset's pull ended well.
pub enum Pulled {
    /// Every page is written: move it into the inbox.
    Whole,
    /// The API has no such document (yet): nothing to move, and no failure.
    Absent,
}

/// Requests sent within the last `per`, for a vendor's rolling-window limit.
struct RateLimit {
    max: usize,
    per: Duration,
    sent: VecDeque<Instant>,
}

impl RateLimit {
    fn wait_for_turn(&mut self) {
        let now = Instant::now();
        while self
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.per)
        {
            self.sent.pop_front();
        }
        if self.sent.len() >= self.max
            && let Some(oldest) = self.sent.pop_front()
        {
            std::thread::sleep(self.per.saturating_sub(now.duration_since(oldest)));
        }
    }
}

/// A dataset being written aside: its pages (or its one document) in
/// `<inbox>/.collecting/<source>-<name>-<date>/`, moved into the inbox whole.
pub struct Dataset {
    staging: PathBuf,
    inbox: PathBuf,
    /// `<source>-<name>-<date>`: the entry's name in the inbox and its files' stem.
    stem: String,
    /// A single document is moved in as a file, pages as a folder.
    document: Option<String>,
    pub pages: u64,
    pub records: u64,
    pub bytes: u64,
    moved: bool,
}

impl Dataset {
    fn begin(inbox: &Path, source: &str, name: &str, snapshot: NaiveDate) -> Result<Dataset> {
        let stem = format!("{source}-{name}-{snapshot}");
        let staging = inbox.join(STAGING).join(&stem);
        // What a killed collection left is not trusted: the dataset starts again.
        if staging.exists() {
            std::fs::remove_dir_all(&staging)
                .with_context(|| format!("cannot clear {}", staging.display()))?;
        }
        std::fs::create_dir_all(&staging).with_context(|| format!("cannot create {}", staging.display()))?;
        Ok(Dataset {
            staging,
            inbox: inbox.to_path_buf(),
            stem,
            document: None,
            pages: 0,
            records: 0,
            bytes: 0,
            moved: false,
        })
    }

    /// Writes the next page as received.
    pub fn page(&mut self, body: &str, records: u64) -> Result<()> {
        self.part("json", body, records)
    }

    /// Writes the next part of the dataset, a file of the given extension (`csv` for an answer
    /// the collector writes in the shape the adapter reads).
    pub fn part(&mut self, extension: &str, body: &str, records: u64) -> Result<()> {
        self.pages += 1;
        let name = format!("{}-p{:04}.{extension}", self.stem, self.pages);
        self.write(&name, body, records)
    }

    /// Writes the dataset's one document as received, under its own name (`cisa-kev-<date>.json`).
    pub fn document(&mut self, name: &str, body: &str, records: u64) -> Result<()> {
        self.pages += 1;
        self.document = Some(name.to_string());
        self.write(name, body, records)
    }

    fn write(&mut self, name: &str, body: &str, records: u64) -> Result<()> {
        let path = self.staging.join(name);
        std::fs::write(&path, body).with_context(|| format!("cannot write {}", path.display()))?;
        self.records += records;
        self.bytes += body.len() as u64;
        Ok(())
    }

    /// Moves the dataset into the inbox with one rename, replacing the same day's earlier
    /// collection of it if the inbox still holds it; returns the entry's name.
    fn move_in(mut self) -> Result<String> {
        let (from, name) = match &self.document {
            Some(name) => (self.staging.join(name), name.clone()),
            None => (self.staging.clone(), self.stem.clone()),
        };
        let to = self.inbox.join(&name);
        let replaced = self.inbox.join(STAGING).join(format!("{name}.replaced"));
        if to.exists() {
            remove_any(&replaced)?;
            std::fs::rename(&to, &replaced).with_context(|| format!("cannot move {} aside", to.display()))?;
        }
        std::fs::rename(&from, &to)
            .with_context(|| format!("cannot move {} into the inbox", from.display()))?;
        crate::files::sync_dir(&self.inbox).ok();
        self.moved = true;
        remove_any(&replaced)?;
        if self.document.is_some() {
            std::fs::remove_dir_all(&self.staging).ok();
        }
        Ok(name)
    }
}

impl Drop for Dataset {
    /// A dataset that did not move in leaves nothing behind.
    fn drop(&mut self) {
        if !self.moved {
            std::fs::remove_dir_all(&self.staging).ok();
        }
    }
}

fn remove_any(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Err(_) => Ok(()),
        Ok(m) if m.is_dir() => {
            std::fs::remove_dir_all(path).with_context(|| format!("cannot remove {}", path.display()))
        }
        Ok(_) => std::fs::remove_file(path).with_context(|| format!("cannot remove {}", path.display())),
    }
}

/// An OAuth bearer token, asked for when first needed and renewed once when a request answers 401
/// (an expired token), as the vendors document. `request` asks the vendor's token endpoint and
/// returns its answer; the token is registered as a secret.
#[derive(Default)]
pub struct Bearer {
    token: Option<String>,
}

/// Asks a vendor's token endpoint, returning its answer's body.
pub type TokenRequest<'r> = &'r dyn Fn(&mut Collector) -> Result<String>;

impl Bearer {
    /// A new token, from the endpoint's `access_token`.
    pub fn renew(&mut self, c: &mut Collector, request: TokenRequest) -> Result<String> {
        let answer = request(c)?;
        let token = json_of(&answer, "the token answer")?
            .get("access_token")
            .and_then(serde_json::Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .ok_or_else(|| anyhow!("the token answer has no access_token"))?;
        c.secret(&token, "<token>");
        self.token = Some(token.clone());
        Ok(token)
    }

    /// GETs a URL with the token, renewing it once on a 401; the answer's body.
    pub fn get(
        &mut self,
        c: &mut Collector,
        url: &str,
        query: &[(&str, &str)],
        request: TokenRequest,
    ) -> Result<String> {
        self.send(c, url, query, Body::None, request)
    }

    /// Sends a request with the token, renewing it once on a 401; the answer's body.
    pub fn send(
        &mut self,
        c: &mut Collector,
        url: &str,
        query: &[(&str, &str)],
        body: Body,
        request: TokenRequest,
    ) -> Result<String> {
        let mut renewed = false;
        loop {
            let token = match &self.token {
                Some(t) => t.clone(),
                None => {
                    renewed = true;
                    self.renew(c, request)?
                }
            };
            let bearer = format!("Bearer {token}");
            match c.send(url, query, &[("Authorization", &bearer)], body) {
                Ok(answer) => return Ok(answer.body),
                Err(f) if f.status == Some(401) && !renewed => {
                    tracing::info!("{}: the token expired; renewing it once", c.source);
                    self.token = None;
                }
                Err(f) => {
                    let method = if matches!(body, Body::None) { "GET" } else { "POST" };
                    bail!("{method} {}: {}", path_of(url), f.message)
                }
            }
        }
    }
}

/// Paging by the next page's URL the API gives (`pageDetails.nextPageUrl`: Datto RMM, Autotask):
/// followed as given, but only to the API's own server, never twice, and not past
/// `collect.max_pages`.
#[derive(Default)]
pub struct NextPageUrls {
    seen: std::collections::HashSet<String>,
}

impl NextPageUrls {
    /// The URL of the page after `page` (the dataset's `pages_read`th), or none: the last page.
    pub fn after(
        &mut self,
        c: &Collector,
        page: &serde_json::Value,
        base: &str,
        pages_read: u64,
    ) -> Result<Option<String>> {
        let next = page
            .get("pageDetails")
            .and_then(|d| d.get("nextPageUrl"))
            .and_then(serde_json::Value::as_str)
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_string);
        let Some(url) = next else { return Ok(None) };
        same_origin(&url, base)?;
        if !self.seen.insert(url.clone()) {
            bail!(
                "page {} repeated an earlier page's URL ({}): the paging loops",
                pages_read + 1,
                path_of(&url)
            );
        }
        if pages_read >= u64::from(c.settings.max_pages) {
            bail!(
                "more than collect.max_pages ({}) pages: stopped",
                c.settings.max_pages
            );
        }
        Ok(Some(url))
    }
}

/// A URL's path, for messages (short, and free of any query).
pub fn path_of(url: &str) -> String {
    url.parse::<ureq::http::Uri>()
        .map_or_else(|_| url.to_string(), |u| u.path().to_string())
}

/// A URL the API gave for the next page, checked to lead to the same server as the first: the
/// token goes with it.
pub fn same_origin(next: &str, base: &str) -> Result<()> {
    let parse = |u: &str| u.parse::<ureq::http::Uri>().ok();
    match (parse(next), parse(base)) {
        (Some(n), Some(b)) if n.scheme() == b.scheme() && n.authority() == b.authority() => Ok(()),
        _ => bail!(
            "the next page's URL leads to another server than {}: not followed (the token would go with it)",
            base
        ),
    }
}

/// Parses an answer as JSON, naming the dataset when it is not.
pub fn json_of(body: &str, what: &str) -> Result<serde_json::Value> {
    serde_json::from_str(body).map_err(|e| anyhow!("{what}: the answer is not JSON ({e})"))
}
