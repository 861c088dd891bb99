//! Breach alerts to Microsoft Teams: an Adaptive Card per new breach, posted to a channel's
//! Workflows webhook ("Send webhook alerts to a channel"), which accepts
//! `{"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
//! "content": <card>}]}` and answers 202.
//!
//! Every card is also written to `output/alerts/YYYY-MM-DD/` (the record of what was said). A
//! tenant's breaches go to its own channel when `[alerts.tenant_webhook_env]` names one, else to
//! the MSP's channel. Under `--dry-run` every card is a file only, on purpose. A channel whose
//! variable is unset gets the file for now: the breach stays pending (`undelivered`) and is posted
//! by the next run that has a URL, and the run is `partial` meanwhile. The URL is a secret: it is read from the environment, and only the
//! variable's name is ever printed or stored.
//!
//! A card is posted at most once. Before each post a line goes to `.alerts-posting.jsonl` in the
//! lake, and another once Teams answered; the alerts table takes the outcomes at the end of the
//! delivery, and the journal goes. A run killed in between leaves the journal: the next delivery
//! records what it says was posted as posted, and a card whose post was under way as `unknown`
//! (it may be in the channel: said so, never sent again).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value as Json, json};

use crate::canonical::system::ALERTS;
use crate::canonical::{Batch, Value};
use crate::config::Config;
use crate::http::{self, Request, Retry};
use crate::lake::Lake;
use crate::operations::alerts::{Breach, History};

/// What the delivery of one day's breaches did.
#[derive(Debug, Default)]
pub struct Delivery {
    pub new: u64,
    pub posted: u64,
    /// Cards not posted on purpose (`--dry-run`).
    pub dry_run: u64,
    pub failed: Vec<String>,
    /// Cards not posted because their channel has no URL: pending, like a failed post, until a
    /// run with a URL delivers them.
    pub undelivered: u64,
    /// Channels (variable names) that had no URL, so their cards are files only for now.
    pub channels_without_url: Vec<String>,
    pub card_files: Vec<PathBuf>,
    /// Breaches whose card a killed run was posting: maybe in the channel, not sent again.
    pub unknown: Vec<String>,
}

/// The journal of posts under way, at the lake's root (see the module's notes).
const POSTING_JOURNAL: &str = ".alerts-posting.jsonl";

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Posting {
    key: String,
    /// `sending`, then `posted`.
    state: String,
    at: DateTime<Utc>,
    card: Option<String>,
}

/// What a killed run's journal says, by breach key: the latest line of each.
fn earlier_postings(lake: &Lake) -> Result<std::collections::BTreeMap<String, Posting>> {
    let path = lake.root().join(POSTING_JOURNAL);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Default::default()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    // A line cut short by the kill is no record of anything.
    Ok(text
        .lines()
        .filter_map(|line| serde_json::from_str::<Posting>(line).ok())
        .map(|p| (p.key.clone(), p))
        .collect())
}

/// Appends a line to the journal, on disk before the post it announces goes out.
fn journal(lake: &Lake, posting: &Posting) -> Result<()> {
    use std::io::Write;
    let path = lake.root().join(POSTING_JOURNAL);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    writeln!(file, "{}", serde_json::to_string(posting)?)
        .and_then(|()| file.sync_data())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The Adaptive Card of one breach; `kpi_name` is the KPI's name in words.
pub fn card(breach: &Breach, kpi_name: Option<&str>, as_of: NaiveDate, detail_link: Option<&str>) -> Json {
    let tenant = match (&breach.tenant_name, &breach.tenant_id) {
        (Some(name), Some(id)) => format!("{name} ({id})"),
        (None, Some(id)) => id.clone(),
        _ => "Portfolio".into(),
    };
    let number = |x: Option<f64>| match (x, breach.kpi_id.as_deref()) {
        (None, _) => "n/a".to_string(),
        (Some(v), Some(k)) if k.ends_with("_rate") || k.ends_with("_ratio") => format!("{:.1}%", v * 100.0),
        (Some(v), _) => format!("{v:.0}"),
    };
    let mut facts = vec![
        json!({"title": "Tenant", "value": tenant}),
        json!({"title": "Rule", "value": breach.rule}),
    ];
    if let Some(kpi) = &breach.kpi_id {
        facts.push(json!({"title": "KPI", "value": kpi}));
    }
    if let Some(subject) = &breach.subject {
        facts.push(json!({"title": "Subject", "value": subject}));
    }
    facts.push(json!({"title": "Value", "value": number(breach.value)}));
    if breach.threshold.is_some() {
        facts.push(json!({"title": "Threshold", "value": format!("{} {}", breach.comparison, number(breach.threshold))}));
    }
    facts.push(json!({"title": "As of", "value": as_of.to_string()}));
    let headline = match breach.kind.as_str() {
        "new_chronic_device" => format!("Chronically non-compliant device: {tenant}"),
        "stale_data" => format!("Exports stopped arriving: {tenant}"),
        _ => format!(
            "{} {} {}: {tenant}{}",
            kpi_name.or(breach.kpi_id.as_deref()).unwrap_or(&breach.rule),
            breach.comparison,
            number(breach.threshold),
            breach
                .subject
                .as_deref()
                .map_or_else(String::new, |s| format!(", {s}"))
        ),
    };
    let mut content = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": [
            {"type": "TextBlock", "text": "govpack breach alert", "size": "Small", "isSubtle": true, "wrap": true},
            {"type": "TextBlock", "text": headline, "size": "Large", "weight": "Bolder", "color": "Attention", "wrap": true},
            {"type": "FactSet", "facts": facts},
            {"type": "TextBlock", "text": format!("Detail: {}", breach.detail), "wrap": true, "fontType": "Monospace", "size": "Small"},
        ],
    });
    if let Some(link) = detail_link {
        content["actions"] = json!([{"type": "Action.OpenUrl", "title": "Open the pack", "url": link}]);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": content,
        }],
    })
}

/// Delivers the new breaches of `day`, records every breach in the `alerts` table, and returns
/// what was done. `dry_run`: files only.
#[allow(clippy::too_many_arguments)]
pub fn deliver(
    config: &Config,
    lake: &Lake,
    breaches: &[Breach],
    history: &History,
    day: NaiveDate,
    out_dir: &Path,
    dry_run: bool,
    run_id: &str,
) -> Result<Delivery> {
    let settings = &config.alerts;
    let retry = Retry {
        retries: settings.retries,
        backoff: Duration::from_millis(settings.retry_backoff_ms),
        timeout: Duration::from_secs(settings.timeout_seconds),
    };
    let mut delivery = Delivery::default();
    let mut batch = Batch::without_lineage(&ALERTS);
    let detail_link = settings
        .detail_url
        .as_deref()
        .map(|base| format!("{}/{}/", base.trim_end_matches('/'), day.format("%Y-%m")));
    // The cards name KPIs as the reports do; without the words file they name the ids.
    let names = match crate::catalog::words() {
        Ok(words) => words.names,
        Err(e) => {
            tracing::warn!("alert cards will show KPI ids: {e:#}");
            Default::default()
        }
    };
    let earlier = earlier_postings(lake)?;
    // Fault injection for the killed-while-posting test: the process dies after that many posts,
    // before it journals the last one as posted.
    let crash_after = std::env::var("GOVPACK_FAULT_AFTER_POSTS")
        .ok()
        .and_then(|n| n.parse::<u64>().ok());
    for (n, breach) in breaches.iter().enumerate() {
        let is_new = !history.previous_keys.contains(&breach.key);
        let channel = breach
            .tenant_id
            .as_deref()
            .and_then(|t| settings.tenant_webhook_env.get(t))
            .unwrap_or(&settings.webhook_env)
            .clone();
        let mut card_file = None;
        let mut delivered_utc = None;
        let outcome = if !is_new {
            "not_new".to_string()
        } else if let Some((done, file)) = history.delivered_today.get(&breach.key) {
            // Already delivered by an earlier run of the same day.
            card_file = file.clone();
            done.clone()
        } else if let Some(posting) = earlier.get(&breach.key) {
            // A killed run's post: recorded as it went, never sent again.
            card_file = posting.card.clone();
            if posting.state == "posted" {
                delivered_utc = Some(posting.at);
                "posted".to_string()
            } else {
                let message = format!(
                    "{}: a run was killed while posting its card at {}: it may be in the channel; not posted again",
                    breach.key,
                    posting.at.format("%Y-%m-%d %H:%M UTC")
                );
                tracing::warn!("{message}");
                delivery.unknown.push(message);
                "unknown".to_string()
            }
        } else {
            delivery.new += 1;
            let kpi_name = breach
                .kpi_id
                .as_ref()
                .and_then(|k| names.get(k))
                .map(String::as_str);
            let body = card(breach, kpi_name, day, detail_link.as_deref());
            let file = out_dir.join(format!("{:03}-{}.json", n + 1, file_stem(breach)));
            std::fs::create_dir_all(out_dir)
                .with_context(|| format!("cannot create {}", out_dir.display()))?;
            crate::files::write_atomic(&file, |f| {
                serde_json::to_writer_pretty(&mut *f, &body)?;
                Ok(())
            })?;
            delivery.card_files.push(file.clone());
            card_file = Some(file.display().to_string());
            let url = std::env::var(&channel).ok().filter(|u| !u.trim().is_empty());
            match url {
                _ if dry_run => {
                    delivery.dry_run += 1;
                    "dry_run".to_string()
                }
                None => {
                    if !delivery.channels_without_url.contains(&channel) {
                        delivery.channels_without_url.push(channel.clone());
                    }
                    delivery.undelivered += 1;
                    "undelivered".to_string()
                }
                Some(url) => {
                    let shown = format!("${channel}");
                    let without_query = url.split('?').next().unwrap_or(&url).to_string();
                    let text = serde_json::to_string(&body)?;
                    let request = Request {
                        url: &url,
                        query: &[],
                        headers: &[],
                        body: http::Body::Json(&text),
                        secrets: &[(&url, &shown), (&without_query, &shown)],
                    };
                    let mut posting = Posting {
                        key: breach.key.clone(),
                        state: "sending".into(),
                        at: Utc::now(),
                        card: card_file.clone(),
                    };
                    journal(lake, &posting)?;
                    match http::send(&request, retry) {
                        Ok(_) => {
                            delivery.posted += 1;
                            if crash_after == Some(delivery.posted) {
                                std::process::abort();
                            }
                            posting.state = "posted".into();
                            posting.at = Utc::now();
                            journal(lake, &posting)?;
                            delivered_utc = Some(posting.at);
                            "posted".to_string()
                        }
                        Err(e) => {
                            let message = format!("{}: posting to {shown} failed: {e}", breach.key);
                            tracing::error!("{message}");
                            delivery.failed.push(message);
                            "failed".to_string()
                        }
                    }
                }
            }
        };
        batch.push_row(
            alert_row(
                breach,
                day,
                is_new,
                &outcome,
                &channel,
                card_file,
                delivered_utc,
                run_id,
            ),
            0,
        );
    }
    if !batch.is_empty() {
        lake.merge(&batch)?;
    }
    // The alerts table holds every outcome now: the journal has nothing more to say.
    let path = lake.root().join(POSTING_JOURNAL);
    if path.exists() {
        std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
    }
    Ok(delivery)
}

#[allow(clippy::too_many_arguments)]
fn alert_row(
    breach: &Breach,
    day: NaiveDate,
    is_new: bool,
    outcome: &str,
    channel: &str,
    card_file: Option<String>,
    delivered_utc: Option<DateTime<Utc>>,
    run_id: &str,
) -> Vec<Value> {
    let text = |s: Option<&str>| s.map_or(Value::Null, |s| Value::Text(s.to_string()));
    let float = |x: Option<f64>| x.map_or(Value::Null, Value::Float);
    vec![
        Value::Date(day),
        Value::Text(breach.key.clone()),
        Value::Text(breach.rule.clone()),
        Value::Text(breach.kind.clone()),
        text(breach.tenant_id.as_deref()),
        text(breach.tenant_name.as_deref()),
        text(breach.kpi_id.as_deref()),
        text(breach.subject.as_deref()),
        float(breach.value),
        float(breach.threshold),
        Value::Text(breach.comparison.clone()),
        Value::Text(breach.detail.clone()),
        Value::Bool(is_new),
        Value::Text(outcome.to_string()),
        Value::Text(channel.to_string()),
        text(card_file.as_deref()),
        delivered_utc.map_or(Value::Null, Value::Timestamp),
        Value::Text(run_id.to_string()),
    ]
}

/// A file name for a breach's card: rule and tenant, in characters every file system takes.
fn file_stem(breach: &Breach) -> String {
    let mut raw = format!(
        "{}-{}",
        breach.rule,
        breach.tenant_id.as_deref().unwrap_or("portfolio")
    );
    if let Some(subject) = &breach.subject {
        raw.push('-');
        raw.push_str(subject);
    }
    let safe: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    // File systems refuse names past 255 bytes: a long tenant id or subject is cut, and a digest
    // of the whole keeps two cut names apart.
    const MAX_STEM: usize = 120;
    if safe.len() <= MAX_STEM {
        return safe;
    }
    let digest = crate::files::sha256_hex(raw.as_bytes());
    format!("{}~{}", &safe[..MAX_STEM - 13], &digest[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breach(tenant: &str, subject: Option<&str>) -> Breach {
        Breach {
            key: format!("r|{tenant}|-"),
            rule: "tenant_patch_compliance".into(),
            kind: "kpi".into(),
            tenant_id: Some(tenant.into()),
            tenant_name: None,
            kpi_id: Some("patch_compliance_rate".into()),
            subject: subject.map(String::from),
            value: Some(0.5),
            threshold: Some(0.9),
            comparison: "below".into(),
            detail: String::new(),
        }
    }

    #[test]
    fn a_card_file_name_stays_short_whatever_the_tenant_id_and_two_long_ids_stay_apart() {
        let dir = tempfile::TempDir::new().unwrap();
        let long = "t".repeat(400);
        let stems = [
            file_stem(&breach(&long, None)),
            file_stem(&breach(&format!("{long}x"), None)),
            file_stem(&breach("acme", Some(&"PC".repeat(300)))),
        ];
        assert_ne!(stems[0], stems[1]);
        for stem in &stems {
            assert!(stem.len() <= 120, "{stem}");
            // A name every file system takes.
            std::fs::write(dir.path().join(format!("001-{stem}.json")), "{}").unwrap();
        }
        assert_eq!(file_stem(&breach("acme", None)), "tenant_patch_compliance-acme");
    }
}
