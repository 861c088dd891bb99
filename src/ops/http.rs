//! Outbound HTTP for alerts and tickets: JSON over HTTPS (rustls, webpki roots), a timeout per
//! request, retries with doubling backoff for what may pass (timeouts, connection errors, HTTP 429
//! and 5xx), none for what will not (other 4xx). Secrets (a webhook URL is one) are replaced by a
//! placeholder in every message this module returns, so they cannot reach a log or the ledger.

use std::time::{Duration, Instant};

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
static DEADLINE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Sets the process's budget for HTTP work (the first call wins).
pub fn set_budget(budget: Duration) {
    BUDGET.set(budget).ok();
}

/// The process's deadline for HTTP work, if a budget is set; the clock starts at the first request.
fn deadline() -> Option<Instant> {
    let budget = *BUDGET.get()?;
    Some(*DEADLINE.get_or_init(|| Instant::now() + budget))
}

/// Sends the request, retrying as `retry` says. The error says what happened at each attempt.
/// Redirects are never followed: the headers (Autotask's credentials) and the body would go to
/// wherever the answer points.
pub fn send(request: &Request, retry: Retry) -> Result<Response, String> {
    send_by(request, retry, deadline())
}

/// `send`, with the deadline given (`None`: each request's own timeout only).
fn send_by(request: &Request, retry: Retry, deadline: Option<Instant>) -> Result<Response, String> {
    let time_left = || deadline.map(|d| d.saturating_duration_since(Instant::now()));
    allowed_url(request.url).map_err(|e| redact(&e, request.secrets))?;
    if time_left() == Some(Duration::ZERO) {
        return Err("not sent: the run's time for HTTP work (run.http_deadline_seconds) is used up".into());
    }
    let mut failures = Vec::new();
    let mut wait = retry.backoff;
    for attempt in 1..=retry.retries + 1 {
        // No attempt outlives the deadline: each gets the time left when it starts, so a retry
        // after a backoff cannot run a whole request timeout past it.
        let timeout = match time_left() {
            Some(Duration::ZERO) => {
                failures.push(format!(
                    "attempt {attempt}: not sent, the run's time for HTTP work is used up"
                ));
                break;
            }
            Some(left) => left.min(retry.timeout),
            None => retry.timeout,
        };
        let agent: Agent = Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_after_a_backoff_gets_only_the_time_left_before_the_deadline() {
        // The first attempt takes most of the budget and fails; the retry meets a server that
        // never answers. It must be cut at the deadline, not a whole request timeout past it.
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let port = server.server_addr().to_ip().unwrap().port();
        let handle = std::thread::spawn(move || {
            let mut held = Vec::new();
            for (n, request) in server.incoming_requests().enumerate() {
                if n == 0 {
                    std::thread::sleep(Duration::from_millis(3000));
                    request.respond(tiny_http::Response::empty(503)).ok();
                } else {
                    held.push(request); // never answered
                    if held.len() == 2 {
                        break;
                    }
                }
            }
        });
        let url = format!("http://127.0.0.1:{port}/hook");
        let request = Request {
            url: &url,
            query: &[],
            headers: &[],
            body: Some("{}"),
            secrets: &[],
        };
        let retry = Retry {
            retries: 1,
            backoff: Duration::from_millis(100),
            timeout: Duration::from_secs(20),
        };
        let started = Instant::now();
        let outcome = send_by(&request, retry, Some(started + Duration::from_secs(4)));
        let took = started.elapsed();
        assert!(outcome.is_err());
        // A whole timeout past it would be 3 s + 0.1 s + 4 s.
        assert!(
            took < Duration::from_millis(5500),
            "ran {took:?} against a 4 s deadline"
        );
        // Let the server thread end.
        std::net::TcpStream::connect(("127.0.0.1", port)).ok();
        drop(handle);
    }
}
