//! The Autotask REST API as far as remediation tickets go: the ticket body (`POST /V1.0/Tickets`),
//! the lookup of an episode's ticket by `externalID` (`POST /V1.0/Tickets/query`), the zone lookup
//! (`GET zoneInformation?user=`), and the API user's credentials from the environment
//! (`AUTOTASK_API_INTEGRATION_CODE`, `AUTOTASK_USERNAME`, `AUTOTASK_SECRET`; the zone from
//! `AUTOTASK_BASE_URL` when set). Which episodes need a ticket is `tickets.rs`'s business; this
//! file is the Autotask side, so another PSA would get a file of its own beside it.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::{Value as Json, json};

use crate::collect::autotask::{normalise_base, zone_host};
use crate::config::{Config, TicketSettings};
use crate::error::UsageError;
use crate::http::{self, Request, Retry};
use crate::operations::tickets::{Outcome, PreparedTicket};

/// The Autotask `POST /Tickets` body of a prepared ticket.
pub fn payload(settings: &TicketSettings, ticket: &PreparedTicket) -> Json {
    let company: Json = match ticket.company_id.as_deref().map(str::parse::<i64>) {
        Some(Ok(id)) => json!(id),
        _ => Json::Null,
    };
    let mut body = json!({
        "companyID": company,
        "title": ticket.title,
        "description": ticket.description,
        "status": settings.status_id,
        "priority": settings.autotask_priority_ids[usize::from(ticket.priority) - 1],
        "queueID": settings.queue_id,
        "ticketType": settings.ticket_type_id,
        "dueDateTime": ticket.due_utc.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "externalID": ticket.external_id,
    });
    if let Some(id) = settings.issue_type_id {
        body["issueType"] = json!(id);
    }
    if let Some(id) = settings.sub_issue_type_id {
        body["subIssueType"] = json!(id);
    }
    body
}

const CREDENTIALS: [&str; 3] = [
    "AUTOTASK_API_INTEGRATION_CODE",
    "AUTOTASK_USERNAME",
    "AUTOTASK_SECRET",
];

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// What `--apply` needs before anything runs: the three credentials and a queue.
pub fn check_credentials(config: &Config) -> Result<()> {
    let missing: Vec<&str> = CREDENTIALS.iter().copied().filter(|n| var(n).is_none()).collect();
    if !missing.is_empty() {
        bail!(UsageError(format!(
            "--apply needs the Autotask API user's credentials in the environment; not set: {}",
            missing.join(", ")
        )));
    }
    if config.tickets.queue_id.is_none() {
        bail!(UsageError(
            "--apply needs tickets.queue_id in the config: the Autotask queue remediation tickets go to"
                .into()
        ));
    }
    Ok(())
}

/// The Autotask REST API, as far as tickets go.
pub struct Autotask {
    base: String,
    integration_code: String,
    username: String,
    secret: String,
    retry: Retry,
}

impl Autotask {
    /// Credentials from AUTOTASK_API_INTEGRATION_CODE, AUTOTASK_USERNAME and AUTOTASK_SECRET;
    /// the zone from AUTOTASK_BASE_URL, else asked of the zone lookup for the user.
    pub fn from_env(config: &Config) -> Result<Autotask> {
        check_credentials(config)?;
        let names = CREDENTIALS;
        let mut client = Autotask {
            base: String::new(),
            integration_code: var(names[0]).expect("checked"),
            username: var(names[1]).expect("checked"),
            secret: var(names[2]).expect("checked"),
            retry: Retry {
                retries: config.alerts.retries,
                backoff: Duration::from_millis(config.alerts.retry_backoff_ms),
                timeout: Duration::from_secs(config.alerts.timeout_seconds.max(30)),
            },
        };
        client.base = match var("AUTOTASK_BASE_URL") {
            Some(url) => normalise_base(&url),
            None => {
                let user = [("user", client.username.as_str())];
                let zone: Json =
                    serde_json::from_str(&client.send(&config.tickets.zone_lookup_url, &user, None)?)
                        .context("the Autotask zone lookup did not answer JSON")?;
                let found = zone["url"]
                    .as_str()
                    .context("the Autotask zone lookup gave no url for this user")?;
                zone_host(found)?;
                normalise_base(found)
            }
        };
        Ok(client)
    }

    /// The id of a ticket carrying this externalID, if Autotask has one.
    pub fn find(&self, external_id: &str) -> Result<Option<String>> {
        let query = json!({"filter": [{"op": "eq", "field": "externalID", "value": external_id}]});
        let answer: Json = serde_json::from_str(&self.send(
            &format!("{}V1.0/Tickets/query", self.base),
            &[],
            Some(&query.to_string()),
        )?)
        .context("Autotask's ticket query did not answer JSON")?;
        Ok(answer["items"]
            .as_array()
            .and_then(|items| items.first())
            .and_then(|item| id_text(&item["id"])))
    }

    /// Creates the ticket of `external_id`; returns its id. A create is never simply sent again:
    /// a request that timed out or failed may still have made the ticket, so before each new try
    /// the externalID is looked up again and a ticket found there is the answer.
    pub fn create(&self, external_id: &str, body: &Json) -> Result<String> {
        let once = Retry {
            retries: 0,
            ..self.retry
        };
        let mut wait = self.retry.backoff;
        let mut failures = Vec::new();
        for attempt in 0..=self.retry.retries {
            if attempt > 0 {
                std::thread::sleep(wait);
                wait = wait.saturating_mul(2);
                if let Some(id) = self.find(external_id)? {
                    return Ok(id);
                }
            }
            match self.send_with(
                &format!("{}V1.0/Tickets", self.base),
                &[],
                Some(&body.to_string()),
                once,
            ) {
                Ok(text) => {
                    let answer: Json = serde_json::from_str(&text)
                        .context("Autotask's ticket creation did not answer JSON")?;
                    return id_text(&answer["itemId"])
                        .context("Autotask created the ticket but gave no itemId");
                }
                Err(e) => failures.push(format!("{e:#}")),
            }
        }
        bail!("{}", failures.join("; "))
    }

    fn send(&self, url: &str, query: &[(&str, &str)], body: Option<&str>) -> Result<String> {
        self.send_with(url, query, body, self.retry)
    }

    fn send_with(
        &self,
        url: &str,
        query: &[(&str, &str)],
        body: Option<&str>,
        retry: Retry,
    ) -> Result<String> {
        let method = if body.is_some() { "POST" } else { "GET" };
        let headers = [
            ("ApiIntegrationCode", self.integration_code.as_str()),
            ("UserName", self.username.as_str()),
            ("Secret", self.secret.as_str()),
        ];
        let request = Request {
            url,
            query,
            headers: &headers,
            body: body.map_or(http::Body::None, http::Body::Json),
            secrets: &[
                (&self.secret, "$AUTOTASK_SECRET"),
                (&self.integration_code, "$AUTOTASK_API_INTEGRATION_CODE"),
            ],
        };
        http::send(&request, retry)
            .map(|r| r.body)
            .map_err(|e| anyhow::anyhow!("Autotask {method} {url}: {e}"))
    }
}

fn id_text(value: &Json) -> Option<String> {
    match value {
        Json::Number(n) => Some(n.to_string()),
        Json::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// Creates each prepared ticket unless Autotask already has its episode; never stops at one
/// failure (the others still go), and says what happened to each.
pub fn apply(client: &Autotask, settings: &TicketSettings, tickets: &[PreparedTicket]) -> Vec<Outcome> {
    tickets
        .iter()
        .map(|t| {
            let attempt = || -> Result<Outcome> {
                if t.company_id
                    .as_deref()
                    .and_then(|c| c.parse::<i64>().ok())
                    .is_none()
                {
                    bail!(
                        "tenant {} has no Autotask company id (psa_company_id)",
                        t.tenant_id
                    );
                }
                if let Some(id) = client.find(&t.external_id)? {
                    return Ok(Outcome {
                        status: "existing".into(),
                        autotask_ticket_id: Some(id),
                        error: None,
                    });
                }
                let id = client.create(&t.external_id, &payload(settings, t))?;
                Ok(Outcome {
                    status: "created".into(),
                    autotask_ticket_id: Some(id),
                    error: None,
                })
            };
            attempt().unwrap_or_else(|e| Outcome {
                status: "failed".into(),
                autotask_ticket_id: None,
                error: Some(format!("{e:#}")),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_the_zone_url_gives_the_same_base() {
        for url in [
            "https://webservices5.autotask.net/ATServicesRest",
            "https://webservices5.autotask.net/ATServicesRest/",
            "https://webservices5.autotask.net/ATServicesRest/V1.0",
            "https://webservices5.autotask.net/ATServicesRest/v1.0/",
        ] {
            assert_eq!(
                normalise_base(url),
                "https://webservices5.autotask.net/ATServicesRest/",
                "{url}"
            );
        }
    }
}
