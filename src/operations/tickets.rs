//! Remediation tickets for failure episodes nobody is working on: an episode (docs/kpi-definitions.md)
//! still open at the end of the day, older than `tickets.open_after_hours`, on a device of its
//! tenant's current snapshot that is not excluded, with no PSA ticket for the same tenant, device
//! and patch (open, or opened since the episode began) and none govpack created before. Each gets
//! a ticket with the root-cause facts.
//!
//! By default they are only written to `output/tickets/YYYY-MM-DD/remediation-tickets.csv` (and
//! the exact payloads to `.json`) for a person to approve: tickets reach customers, and the
//! programme requires human approval of automated customer-facing output. `--apply` creates them
//! through `autotask_api.rs`, after asking Autotask whether a ticket with the episode's externalID
//! exists, and records each in the lake's `remediation_tickets`, so no episode gets two tickets.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use duckdb::Connection;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use crate::calendar::Period;
use crate::canonical::system::REMEDIATION_TICKETS;
use crate::canonical::{Batch, Value};
use crate::config::{Config, TicketSettings};
use crate::lake::Lake;

#[derive(Debug, Clone, PartialEq)]
pub struct PreparedTicket {
    pub external_id: String,
    pub tenant_id: String,
    pub tenant_name: Option<String>,
    pub company_id: Option<String>,
    pub device_id: String,
    pub hostname: Option<String>,
    pub device_class: Option<String>,
    pub role: Option<String>,
    pub patch_id: String,
    pub episode_start_utc: DateTime<Utc>,
    pub last_failure_utc: DateTime<Utc>,
    pub failed_attempts: i64,
    pub error_codes: String,
    pub open_hours: f64,
    pub priority: u8,
    pub due_utc: DateTime<Utc>,
    pub title: String,
    pub description: String,
}

/// The tickets due for the period's open episodes, as of the period's end instant.
pub fn prepare(config: &Config, conn: &Connection, period: Period) -> Result<Vec<PreparedTicket>> {
    let settings = &config.tickets;
    let end_instant = period
        .end
        .succ_opt()
        .expect("a next day")
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
    // The run's values, bound, for the query to read.
    crate::sql::bind(
        conn,
        &[
            ("period_start", crate::sql::date(period.start)),
            ("period_end", crate::sql::date(period.end)),
            (
                "period_end_instant",
                duckdb::types::Value::Timestamp(
                    duckdb::types::TimeUnit::Microsecond,
                    end_instant.timestamp_micros(),
                ),
            ),
            (
                "open_after_hours",
                duckdb::types::Value::Double(f64::from(settings.open_after_hours)),
            ),
        ],
    )?;
    let queries = crate::sql::NamedQueries::read("ops/tickets.sql")?;
    let mut statement = conn.prepare(queries.bound(conn, "episodes-to-ticket")?)?;
    let rows = statement.query_map([], |r| {
        Ok((
            (
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, Option<String>>(6)?,
            ),
            (
                r.get::<_, String>(7)?,
                r.get::<_, String>(8)?,
                r.get::<_, f64>(9)?,
                r.get::<_, i64>(10)?,
                r.get::<_, Option<String>>(11)?,
                r.get::<_, Option<String>>(12)?,
            ),
        ))
    })?;
    let done = already_ticketed(conn, &queries)?;
    let mut out = Vec::new();
    for row in rows {
        let ((tenant_id, tenant_name, company_id, device_id, hostname, device_class, role), rest) = row?;
        let (patch_id, start, open_hours, attempts, last, codes) = rest;
        let episode_start_utc = parse_instant(&start)?;
        let external_id = external_id(&tenant_id, &device_id, &patch_id, episode_start_utc);
        if done.contains(&external_id) {
            continue;
        }
        let priority = priority(settings, device_class.as_deref(), role.as_deref());
        let due_utc =
            end_instant + chrono::Duration::hours(i64::from(settings.due_hours[usize::from(priority) - 1]));
        let host = hostname.clone().unwrap_or_else(|| device_id.clone());
        let error_codes = codes.unwrap_or_default();
        let last_failure_utc = last
            .as_deref()
            .map(parse_instant)
            .transpose()?
            .unwrap_or(episode_start_utc);
        let plural = if attempts == 1 { "" } else { "s" };
        let title =
            format!("Patch remediation: {patch_id} failing on {host} ({attempts} failed attempt{plural})");
        let description = format!(
            "Prepared by govpack for a patch failure episode open longer than {} hours with no ticket.\n\
             Device: {host} ({device_id}), {}, role {}\n\
             Patch: {patch_id}\n\
             Failed attempts: {attempts}, first {}, last {}\n\
             Error codes: {}\n\
             Open for: {open_hours:.0} hours as of {}\n\
             govpack episode: {external_id}",
            settings.open_after_hours,
            device_class.as_deref().unwrap_or("unknown class"),
            role.as_deref().unwrap_or("none"),
            episode_start_utc.format("%Y-%m-%dT%H:%M:%SZ"),
            last_failure_utc.format("%Y-%m-%dT%H:%M:%SZ"),
            if error_codes.is_empty() {
                "none reported"
            } else {
                &error_codes
            },
            end_instant.format("%Y-%m-%d %H:%M UTC"),
        );
        out.push(PreparedTicket {
            external_id,
            tenant_id,
            tenant_name,
            company_id,
            device_id,
            hostname,
            device_class,
            role,
            patch_id,
            episode_start_utc,
            last_failure_utc,
            failed_attempts: attempts,
            error_codes,
            open_hours,
            priority,
            due_utc,
            title,
            description,
        });
    }
    Ok(out)
}

/// Servers by role, then other servers, then everything else.
fn priority(settings: &TicketSettings, class: Option<&str>, role: Option<&str>) -> u8 {
    match (class, role) {
        (Some("server"), Some(r)) if settings.priority1_roles.iter().any(|p| p.eq_ignore_ascii_case(r)) => 1,
        (Some("server"), _) => 2,
        _ => 3,
    }
}

/// The episode's identity in Autotask (`externalID`): the same episode always gives the same id.
pub fn external_id(tenant: &str, device: &str, patch: &str, start: DateTime<Utc>) -> String {
    let digest = Sha256::digest(format!(
        "{tenant}\u{1f}{device}\u{1f}{patch}\u{1f}{}",
        start.timestamp()
    ));
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("govpack-{hex}")
}

fn already_ticketed(
    conn: &Connection,
    queries: &crate::sql::NamedQueries,
) -> Result<std::collections::BTreeSet<String>> {
    let mut statement = conn.prepare(queries.get("already-ticketed")?)?;
    let ids = statement.query_map([], |r| r.get::<_, String>(0))?;
    Ok(ids.collect::<Result<_, _>>()?)
}

fn parse_instant(text: &str) -> Result<DateTime<Utc>> {
    Ok(DateTime::parse_from_rfc3339(text)
        .with_context(|| format!("not an instant: {text}"))?
        .with_timezone(&Utc))
}

/// What became of one ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: String,
    pub autotask_ticket_id: Option<String>,
    pub error: Option<String>,
}

/// Writes the review files (CSV for people, JSON with the exact payloads) and returns their paths.
pub fn write_review(
    settings: &TicketSettings,
    tickets: &[PreparedTicket],
    outcomes: &[Outcome],
    dir: &Path,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let csv_path = dir.join("remediation-tickets.csv");
    crate::files::write_atomic(&csv_path, |f| {
        let mut w = csv::Writer::from_writer(f);
        w.write_record([
            "external_id",
            "status",
            "autotask_ticket_id",
            "error",
            "tenant_id",
            "tenant_name",
            "autotask_company_id",
            "device_id",
            "hostname",
            "device_class",
            "role",
            "patch_id",
            "failed_attempts",
            "first_failure_utc",
            "last_failure_utc",
            "error_codes",
            "open_hours",
            "priority",
            "autotask_priority_id",
            "due_utc",
            "title",
        ])?;
        for (t, o) in tickets.iter().zip(outcomes) {
            // Text from the exports and the PSA is made inert; numbers and times are ours.
            let text = |s: &str| crate::sql::inert_csv_text(s).into_owned();
            w.write_record([
                text(&t.external_id),
                text(&o.status),
                text(o.autotask_ticket_id.as_deref().unwrap_or_default()),
                text(o.error.as_deref().unwrap_or_default()),
                text(&t.tenant_id),
                text(t.tenant_name.as_deref().unwrap_or_default()),
                text(t.company_id.as_deref().unwrap_or_default()),
                text(&t.device_id),
                text(t.hostname.as_deref().unwrap_or_default()),
                text(t.device_class.as_deref().unwrap_or_default()),
                text(t.role.as_deref().unwrap_or_default()),
                text(&t.patch_id),
                t.failed_attempts.to_string(),
                t.episode_start_utc.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                t.last_failure_utc.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                text(&t.error_codes),
                format!("{:.1}", t.open_hours),
                t.priority.to_string(),
                settings.autotask_priority_ids[usize::from(t.priority) - 1].to_string(),
                t.due_utc.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                text(&t.title),
            ])?;
        }
        w.flush()?;
        Ok(())
    })?;
    let json_path = dir.join("remediation-tickets.json");
    let payloads: Vec<Json> = tickets
        .iter()
        .map(|t| crate::operations::autotask_api::payload(settings, t))
        .collect();
    crate::files::write_atomic(&json_path, |f| {
        serde_json::to_writer_pretty(&mut *f, &payloads)?;
        Ok(())
    })?;
    Ok(vec![csv_path, json_path])
}

/// Records the tickets in `remediation_tickets`.
pub fn record(
    lake: &Lake,
    tickets: &[PreparedTicket],
    outcomes: &[Outcome],
    day: NaiveDate,
    run_id: &str,
) -> Result<()> {
    let mut batch = Batch::without_lineage(&REMEDIATION_TICKETS);
    for (t, o) in tickets.iter().zip(outcomes) {
        let created = o.status == "created" || o.status == "existing";
        batch.push_row(
            vec![
                Value::Text(t.external_id.clone()),
                Value::Text(t.tenant_id.clone()),
                Value::Text(t.device_id.clone()),
                Value::Text(t.patch_id.clone()),
                Value::Timestamp(t.episode_start_utc),
                Value::Date(day),
                Value::Int(i64::from(t.priority)),
                Value::Timestamp(t.due_utc),
                Value::Text(if created {
                    o.status.clone()
                } else {
                    "prepared".into()
                }),
                o.autotask_ticket_id.clone().map_or(Value::Null, Value::Text),
                if created {
                    Value::Timestamp(Utc::now())
                } else {
                    Value::Null
                },
                Value::Text(run_id.to_string()),
            ],
            0,
        );
    }
    if !batch.is_empty() {
        lake.merge(&batch)?;
    }
    Ok(())
}
/// Outcomes for the review-file mode: every ticket is prepared, awaiting approval.
pub fn prepared_only(tickets: &[PreparedTicket]) -> Vec<Outcome> {
    tickets
        .iter()
        .map(|_| Outcome {
            status: "prepared".into(),
            autotask_ticket_id: None,
            error: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_by_role_come_first_then_other_servers_then_everything_else() {
        let settings = TicketSettings::default();
        assert_eq!(priority(&settings, Some("server"), Some("Domain_Controller")), 1);
        assert_eq!(priority(&settings, Some("server"), Some("sql")), 1);
        assert_eq!(priority(&settings, Some("server"), Some("file")), 2);
        assert_eq!(priority(&settings, Some("server"), None), 2);
        assert_eq!(priority(&settings, Some("workstation"), Some("sql")), 3);
        assert_eq!(priority(&settings, None, None), 3);
    }

    #[test]
    fn an_episode_keeps_its_external_id_and_fits_autotasks_field() {
        let start = DateTime::parse_from_rfc3339("2026-08-23T22:36:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let id = external_id("29683500", "nwd-1000", "KB5044348", start);
        assert_eq!(id, external_id("29683500", "nwd-1000", "KB5044348", start));
        assert_ne!(id, external_id("29683500", "nwd-1000", "KB5044349", start));
        assert_ne!(
            id,
            external_id(
                "29683500",
                "nwd-1000",
                "KB5044348",
                start + chrono::Duration::seconds(1)
            )
        );
        // No separator games: ("a|b", "c") is not ("a", "b|c").
        assert_ne!(
            external_id("a|b", "c", "p", start),
            external_id("a", "b|c", "p", start)
        );
        assert!(id.starts_with("govpack-") && id.len() <= 50, "{id}");
    }
}
