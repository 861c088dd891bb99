//! Outbound HTTP for alerts and tickets: JSON over HTTPS (rustls, webpki roots), a timeout per
//! request, retries with doubling backoff for what may pass (timeouts, connection errors, HTTP 429
//! and 5xx), none for what will not (other 4xx). Secrets (a webhook URL is one) are replaced by a
//! placeholder in every message this module returns, so they cannot reach a log or the ledger.

use std::time::Duration;

use ureq::Agent;

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub retries: u32,
    pub backoff: Duration,
    pub timeout: Duration,
}

/// A request to send: a GET, or with a body a POST of JSON. `secrets` are redacted from any
/// error text.
pub struct Request<'a> {
    pub url: &'a str,
    /// Query parameters, encoded by the client.
    pub query: &'a [(&'a str, &'a str)],
    pub headers: &'a [(&'a str, &'a str)],
    pub body: Option<&'a str>,
    /// (secret, what to show instead)
    pub secrets: &'a [(&'a str, &'a str)],
}

/// A response with a 2xx status.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: String,
    pub attempts: u32,
}

/// Whether a URL may be sent to: HTTPS, or plain HTTP to this machine (a test's stand-in).
/// Credentials and webhook signatures never cross a network in clear text.
pub fn allowed_url(url: &str) -> Result<(), String> {
    let Ok(uri) = url.parse::<ureq::http::Uri>() else {
        return Err("not a URL".into());
    };
    let loopback = matches!(uri.host(), Some("127.0.0.1" | "localhost" | "[::1]" | "::1"));
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") if loopback => Ok(()),
        _ => Err(format!(
            "only HTTPS URLs are used (got {}://{})",
            uri.scheme_str().unwrap_or("?"),
            uri.host().unwrap_or("?")
        )),
    }
}

/// How long this process may spend on HTTP in all, counted from its first request: a run sets
/// it (`run.http_deadline_seconds`), so that a slow or silent server cannot hold the lake's lock
/// for hours. Unset: no limit but each request's own timeout.
static BUDGET: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
static DEADLINE: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Sets the process's budget for HTTP work (the first call wins).
pub fn set_budget(budget: Duration) {
    BUDGET.set(budget).ok();
}

/// Time left in the budget, if one is set; the clock starts at the first request.
fn time_left() -> Option<Duration> {
    let budget = *BUDGET.get()?;
    let deadline = DEADLINE.get_or_init(|| std::time::Instant::now() + budget);
    Some(deadline.saturating_duration_since(std::time::Instant::now()))
}

/// Sends the request, retrying as `retry` says. The error says what happened at each attempt.
/// Redirects are never followed: the headers (Autotask's credentials) and the body would go to
/// wherever the answer points.
pub fn send(request: &Request, retry: Retry) -> Result<Response, String> {
    allowed_url(request.url).map_err(|e| redact(&e, request.secrets))?;
    if time_left() == Some(Duration::ZERO) {
        return Err("not sent: the run's time for HTTP work (run.http_deadline_seconds) is used up".into());
    }
    // No request outlives the deadline.
    let timeout = time_left().map_or(retry.timeout, |left| left.min(retry.timeout));
    let agent: Agent = Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let mut failures = Vec::new();
    let mut wait = retry.backoff;
    for attempt in 1..=retry.retries + 1 {
        let (outcome, retryable) = match once(&agent, request) {
            Ok((status, body)) if (200..300).contains(&status) => {
                return Ok(Response {
                    status,
                    body,
                    attempts: attempt,
                });
            }
            Ok((status, _)) if (300..400).contains(&status) => (
                format!(
                    "HTTP {status}: a redirect, not followed (credentials and content stay with this host)"
                ),
                false,
            ),
            Ok((status, body)) => {
                let body: String = body.chars().take(300).collect();
                (
                    format!("HTTP {status}: {}", body.trim()),
                    status == 429 || status >= 500,
                )
            }
            Err(e) => (e.to_string(), true),
        };
        let outcome = redact(&outcome, request.secrets);
        tracing::warn!(
            "{} attempt {attempt} failed: {outcome}",
            redact(request.url, request.secrets)
        );
        failures.push(format!("attempt {attempt}: {outcome}"));
        if !retryable || attempt > retry.retries || time_left().is_some_and(|left| left <= wait) {
            break;
        }
        std::thread::sleep(wait);
        wait = wait.saturating_mul(2);
    }
    Err(failures.join("; "))
}

fn once(agent: &Agent, request: &Request) -> Result<(u16, String), ureq::Error> {
    let mut response = match request.body {
        None => {
            let mut builder = agent.get(request.url).query_pairs(request.query.iter().copied());
            for (k, v) in request.headers {
                builder = builder.header(*k, *v);
            }
            builder.call()?
        }
        Some(body) => {
            let mut builder = agent
                .post(request.url)
                .query_pairs(request.query.iter().copied())
                .header("Content-Type", "application/json");
            for (k, v) in request.headers {
                builder = builder.header(*k, *v);
            }
            builder.send(body)?
        }
    };
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    Ok((status, body))
}

/// The text with every secret replaced by its placeholder.
pub fn redact(text: &str, secrets: &[(&str, &str)]) -> String {
    let mut out = text.to_string();
    for (secret, shown) in secrets {
        if !secret.is_empty() {
            out = out.replace(secret, shown);
        }
    }
    out
}
