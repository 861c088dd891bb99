//! Outbound HTTP for alerts, tickets and collectors: HTTPS only (rustls, webpki roots; plain HTTP
//! to loopback for stand-ins), a timeout per request, retries with doubling backoff for what may
//! pass (timeouts, connection errors, HTTP 429 and 5xx; a 429's `Retry-After` is waited for when
//! it says longer), none for what will not (other 4xx), no redirect followed, answers bounded in
//! size. Secrets (a webhook URL, a key, a token) are replaced by a placeholder in every message
//! this module returns or logs, so they cannot reach a log or the ledger.

use std::time::{Duration, Instant};

use ureq::Agent;

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub retries: u32,
    pub backoff: Duration,
    pub timeout: Duration,
}

/// A request to send: a GET, or with a body a POST. `secrets` are redacted from any error text.
pub struct Request<'a> {
    pub url: &'a str,
    /// Query parameters, encoded by the client.
    pub query: &'a [(&'a str, &'a str)],
    pub headers: &'a [(&'a str, &'a str)],
    pub body: Body<'a>,
    /// (secret, what to show instead)
    pub secrets: &'a [(&'a str, &'a str)],
}

/// What a request sends.
#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    /// A GET.
    None,
    /// A POST of JSON.
    Json(&'a str),
    /// A POST of an HTML form (`application/x-www-form-urlencoded`), as OAuth token endpoints take.
    Form(&'a [(&'a str, &'a str)]),
}

/// The most an answer may hold unless a request says otherwise: alert and ticket answers are
/// small, and an answer is read into memory.
pub const ANSWER_BYTES: u64 = 16 << 20;

/// A response with a 2xx status.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: String,
    pub attempts: u32,
    /// Its headers, names in lower case.
    pub headers: Vec<(String, String)>,
}

impl Response {
    /// A header's value by its name (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request did not succeed: the status of the last answer, if any came, and what happened
/// at each attempt (secrets redacted).
#[derive(Debug, Clone)]
pub struct Failure {
    pub status: Option<u16>,
    pub message: String,
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
    exchange(request, retry, ANSWER_BYTES).map_err(|f| f.message)
}

/// `send`, saying which status the answer had when it failed (a collector refreshes its token on
/// a 401), with answers of up to `limit_bytes`.
pub fn exchange(request: &Request, retry: Retry, limit_bytes: u64) -> Result<Response, Failure> {
    send_by(request, retry, deadline(), limit_bytes)
}

/// `exchange`, with the deadline given (`None`: each request's own timeout only).
fn send_by(
    request: &Request,
    retry: Retry,
    deadline: Option<Instant>,
    limit_bytes: u64,
) -> Result<Response, Failure> {
    let time_left = || deadline.map(|d| d.saturating_duration_since(Instant::now()));
    let failed = |status: Option<u16>, message: String| Failure { status, message };
    allowed_url(request.url).map_err(|e| failed(None, redact(&e, request.secrets)))?;
    if time_left() == Some(Duration::ZERO) {
        return Err(failed(
            None,
            "not sent: the run's time for HTTP work (run.http_deadline_seconds) is used up".into(),
        ));
    }
    let mut failures = Vec::new();
    let mut last_status = None;
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
        let mut asked_wait = None;
        let (outcome, retryable) = match once(&agent, request, limit_bytes) {
            Ok(answer) if (200..300).contains(&answer.status) => {
                return Ok(Response {
                    attempts: attempt,
                    ..answer
                });
            }
            Ok(answer) if (300..400).contains(&answer.status) => {
                last_status = Some(answer.status);
                (
                    format!(
                        "HTTP {}: a redirect, not followed (credentials and content stay with this host)",
                        answer.status
                    ),
                    false,
                )
            }
            Ok(answer) => {
                let status = answer.status;
                last_status = Some(status);
                if status == 429 || status == 503 {
                    asked_wait = answer.header("retry-after").and_then(retry_after);
                }
                let body: String = answer.body.chars().take(300).collect();
                (
                    format!("HTTP {status}: {}", body.trim()),
                    status == 429 || status >= 500,
                )
            }
            Err(ureq::Error::BodyExceedsLimit(limit)) => (
                format!("the answer is larger than {limit} bytes: refused, not read"),
                false,
            ),
            Err(e) => (e.to_string(), true),
        };
        // The server's own word on when to come back wins over the backoff when it is longer.
        let this_wait = asked_wait.map_or(wait, |asked| asked.max(wait));
        let outcome = redact(&outcome, request.secrets);
        tracing::warn!(
            "{} attempt {attempt} failed: {outcome}",
            redact(request.url, request.secrets)
        );
        failures.push(format!("attempt {attempt}: {outcome}"));
        if !retryable || attempt > retry.retries {
            break;
        }
        if time_left().is_some_and(|left| left <= this_wait) {
            failures.push(format!(
                "not retried: waiting {} s would pass the run's time for HTTP work",
                this_wait.as_secs()
            ));
            break;
        }
        std::thread::sleep(this_wait);
        wait = wait.saturating_mul(2);
    }
    Err(failed(last_status, failures.join("; ")))
}

/// A `Retry-After` value: seconds, or an HTTP date (RFC 9110: IMF-fixdate, which RFC 2822 reads).
/// A date in the past asks for no wait; a value that is neither is ignored.
fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let seconds = (at.timestamp() - chrono::Utc::now().timestamp()).max(0);
    Some(Duration::from_secs(seconds as u64))
}

fn once(agent: &Agent, request: &Request, limit_bytes: u64) -> Result<Response, ureq::Error> {
    let query = request.query.iter().copied();
    let mut response = match request.body {
        Body::None => {
            let mut builder = agent.get(request.url).query_pairs(query);
            for (k, v) in request.headers {
                builder = builder.header(*k, *v);
            }
            builder.call()?
        }
        Body::Json(body) => {
            let mut builder = agent
                .post(request.url)
                .query_pairs(query)
                .header("Content-Type", "application/json");
            for (k, v) in request.headers {
                builder = builder.header(*k, *v);
            }
            builder.send(body)?
        }
        Body::Form(fields) => {
            let mut builder = agent.post(request.url).query_pairs(query);
            for (k, v) in request.headers {
                builder = builder.header(*k, *v);
            }
            builder.send_form(fields.iter().copied())?
        }
    };
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = match response
        .body_mut()
        .with_config()
        .limit(limit_bytes)
        .read_to_string()
    {
        Ok(body) => body,
        Err(e @ ureq::Error::BodyExceedsLimit(_)) => return Err(e),
        // An error answer's body is only shown in a message; a success's must be whole.
        Err(e) if (200..300).contains(&status) => return Err(e),
        Err(_) => String::new(),
    };
    Ok(Response {
        status,
        body,
        attempts: 0,
        headers,
    })
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
    fn retry_after_is_read_as_seconds_or_as_an_http_date() {
        assert_eq!(retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO),
            "a date past"
        );
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(90)).to_rfc2822();
        let asked = retry_after(&soon).unwrap();
        assert!((88..=90).contains(&asked.as_secs()), "{asked:?}");
        assert_eq!(retry_after("soon"), None);
        assert_eq!(retry_after("-5"), None);
    }

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
            body: Body::Json("{}"),
            secrets: &[],
        };
        let retry = Retry {
            retries: 1,
            backoff: Duration::from_millis(100),
            timeout: Duration::from_secs(20),
        };
        let started = Instant::now();
        let outcome = send_by(
            &request,
            retry,
            Some(started + Duration::from_secs(4)),
            ANSWER_BYTES,
        );
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
