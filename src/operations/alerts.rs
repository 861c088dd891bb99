//! Breach rules: evaluated by the daily job over the month-to-date KPIs and the lake's freshness.
//! A breach is alerted when it is new, that is when the previous evaluation (the latest earlier
//! day in the `alerts` table) did not have it, or had it but could not deliver its alert: a breach
//! that persists is not re-sent every day, one that clears and comes back is. Re-evaluating a day
//! keeps what that day already delivered.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use chrono::NaiveDate;
use duckdb::Connection;
use duckdb::types::Value;

use crate::calendar::Period;
use crate::config::{AlertRule, Config};
use crate::operations::freshness::TenantFreshness;
use crate::sql::{self, NamedQueries, string_literal};

/// One rule breached by one tenant (or tier, or device).
#[derive(Debug, Clone, PartialEq)]
pub struct Breach {
    /// rule|tenant|subject: the identity that decides whether a breach is new.
    pub key: String,
    pub rule: String,
    pub kind: String,
    pub tenant_id: Option<String>,
    pub tenant_name: Option<String>,
    pub kpi_id: Option<String>,
    /// What within the tenant: a policy tier, a device.
    pub subject: Option<String>,
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    /// `below` or `above` (the breach condition), or `older than`.
    pub comparison: String,
    /// Where to look: a `govpack query` that lists the rows behind the number.
    pub detail: String,
}

/// Every breach of the configured rules for a period's KPIs (already computed) and freshness.
/// With no period (a month with no devices snapshot yet, so no KPIs), only freshness is judged.
pub fn evaluate(
    config: &Config,
    conn: &Connection,
    period: Option<Period>,
    freshness: &[TenantFreshness],
) -> Result<Vec<Breach>> {
    let mut breaches = Vec::new();
    for rule in &config.alerts.rules {
        match (rule.kind.as_str(), period) {
            ("kpi" | "new_chronic_device", None) => {}
            ("kpi", Some(period)) => breaches.extend(kpi_breaches(conn, rule, period)?),
            ("new_chronic_device", Some(period)) => breaches.extend(chronic_breaches(conn, rule, period)?),
            ("stale_data", _) => {
                breaches.extend(stale_breaches(rule, freshness, config.run.stale_tenant_days))
            }
            (other, _) => unreachable!("config validation admits no rule kind {other}"),
        }
    }
    breaches.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(breaches)
}

fn kpi_breaches(conn: &Connection, rule: &AlertRule, period: Period) -> Result<Vec<Breach>> {
    let kpi = rule.kpi.as_deref().expect("validated: kpi rules name a KPI");
    let (per_tenant, per_tier) = match rule.scope.as_deref().expect("validated: kpi rules have a scope") {
        "portfolio" => (false, false),
        "tenant" => (true, false),
        "tier" => (false, true),
        _ => (true, true),
    };
    let (comparison, threshold) = match (rule.below, rule.above) {
        (Some(t), _) => ("below", t),
        (None, Some(t)) => ("above", t),
        (None, None) => unreachable!("validated: one of below or above"),
    };
    let (below, above) = match comparison {
        "below" => (Some(threshold), None),
        _ => (None, Some(threshold)),
    };
    bind_rule(conn, kpi, period, (per_tenant, per_tier), (below, above))?;
    let queries = NamedQueries::read(QUERIES)?;
    let mut statement = conn.prepare(queries.bound(conn, "kpi-breaches")?)?;
    let rows = statement.query_map([], |r| {
        Ok((
            r.get::<_, Option<String>>(0)?,
            r.get::<_, Option<String>>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, f64>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (tenant_id, tenant_name, tier, value) = row?;
        out.push(Breach {
            key: key(&rule.name, tenant_id.as_deref(), tier.as_deref()),
            rule: rule.name.clone(),
            kind: rule.kind.clone(),
            detail: detail_query(kpi, period, tenant_id.as_deref(), tier.as_deref()),
            tenant_id,
            tenant_name,
            kpi_id: Some(kpi.to_string()),
            subject: tier,
            value: Some(value),
            threshold: Some(threshold),
            comparison: comparison.to_string(),
        });
    }
    Ok(out)
}

fn chronic_breaches(conn: &Connection, rule: &AlertRule, period: Period) -> Result<Vec<Breach>> {
    bind_rule(
        conn,
        "chronic_noncompliant_devices",
        period,
        (true, false),
        (None, None),
    )?;
    let queries = NamedQueries::read(QUERIES)?;
    let mut statement = conn.prepare(queries.bound(conn, "chronic-devices")?)?;
    let rows = statement.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Option<String>>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, Option<String>>(4)?,
            r.get::<_, Option<String>>(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (tenant_id, tenant_name, device_id, hostname, reason, at) = row?;
        let subject = match hostname {
            Some(h) => format!("{h} ({device_id})"),
            None => device_id.clone(),
        };
        out.push(Breach {
            key: key(&rule.name, Some(&tenant_id), Some(&device_id)),
            rule: rule.name.clone(),
            kind: rule.kind.clone(),
            detail: format!(
                "non-compliant ({}) at every snapshot of {}; govpack query \"select * from chronic_devices \
                 where period_start = date '{}' and tenant_id = {}\"",
                reason.unwrap_or_else(|| "no reason".into()),
                at.unwrap_or_default(),
                period.start,
                string_literal(&tenant_id)
            ),
            tenant_id: Some(tenant_id),
            tenant_name,
            kpi_id: Some("chronic_noncompliant_devices".into()),
            subject: Some(subject),
            value: None,
            threshold: None,
            comparison: "chronic".into(),
        });
    }
    Ok(out)
}

fn stale_breaches(rule: &AlertRule, freshness: &[TenantFreshness], days: u32) -> Vec<Breach> {
    freshness
        .iter()
        // A tenant that never sent a devices export is onboarding, not stopped: `status` shows it.
        .filter(|t| t.stale && t.devices_age_days.is_some())
        .map(|t| Breach {
            key: key(&rule.name, Some(&t.tenant_id), None),
            rule: rule.name.clone(),
            kind: rule.kind.clone(),
            tenant_id: Some(t.tenant_id.clone()),
            tenant_name: Some(t.tenant_name.clone()),
            kpi_id: None,
            subject: Some("devices export".into()),
            value: t.devices_age_days.map(|d| d as f64),
            threshold: Some(f64::from(days)),
            comparison: "older than (days)".into(),
            detail: format!(
                "latest devices snapshot {}; check the RMM export job for this tenant; govpack status",
                t.latest[0].map_or_else(|| "none".into(), |d| d.to_string())
            ),
        })
        .collect()
}

/// The rule queries of `queries/ops/alerts.sql`.
const QUERIES: &str = "ops/alerts.sql";

/// Binds the rule being evaluated, for the rule queries to read.
fn bind_rule(
    conn: &Connection,
    kpi: &str,
    period: Period,
    (per_tenant, per_tier): (bool, bool),
    (below, above): (Option<f64>, Option<f64>),
) -> Result<()> {
    let limit = |v: Option<f64>| v.map_or(Value::Null, Value::Double);
    sql::bind(
        conn,
        &[
            ("kpi_id", sql::text(kpi)),
            ("period_start", sql::date(period.start)),
            ("period_end", sql::date(period.end)),
            ("per_tenant", Value::Boolean(per_tenant)),
            ("per_tier", Value::Boolean(per_tier)),
            ("below", limit(below)),
            ("above", limit(above)),
        ],
    )
}

fn key(rule: &str, tenant: Option<&str>, subject: Option<&str>) -> String {
    format!("{rule}|{}|{}", tenant.unwrap_or("-"), subject.unwrap_or("-"))
}

/// A query listing the rows behind a KPI, for the card and the ledger.
fn detail_query(kpi: &str, period: Period, tenant: Option<&str>, tier: Option<&str>) -> String {
    // A rule names a KPI the config check found in the catalogue; were it not, the figure.
    let drill_down = crate::catalog::find(kpi).map_or(crate::catalog::FIGURE, |k| k.drill_down);
    let (table, extra) = (drill_down.output, drill_down.filter);
    let mut query = format!(
        "select * from {table} where period_start = date '{}'",
        period.start
    );
    if let Some(t) = tenant {
        query.push_str(&format!(" and tenant_id = {}", string_literal(t)));
    }
    if let Some(t) = tier.filter(|_| table == "compliance_devices") {
        query.push_str(&format!(" and policy_tier = {}", string_literal(t)));
    }
    if table == "kpi_summary" {
        query.push_str(&format!(" and kpi_id = {}", string_literal(kpi)));
    }
    query.push_str(extra);
    format!("govpack query {}", shell_word(&query))
}

/// One word for a POSIX shell, single-quoted where needed (shlex's rules), so that the command a
/// card prints can be pasted as it is: a tenant id is text from an export, and `$(...)` or a
/// backtick in it must reach govpack as text, never run.
fn shell_word(text: &str) -> String {
    // Quoting only refuses a NUL, which no shell word can hold.
    let text = text.replace('\0', "");
    shlex::try_quote(&text).map_or_else(|_| String::new(), |q| q.into_owned())
}

/// What an earlier evaluation recorded: the keys breached at the latest day before `day`, and the
/// deliveries already made on `day` itself (a re-run must not post them again).
#[derive(Debug, Default)]
pub struct History {
    pub previous_day: Option<NaiveDate>,
    pub previous_keys: BTreeSet<String>,
    pub delivered_today: BTreeMap<String, (String, Option<String>)>,
}

pub fn history(conn: &Connection, day: NaiveDate) -> Result<History> {
    let queries = NamedQueries::read(QUERIES)?;
    sql::bind(conn, &[("day", sql::date(day))])?;
    let previous_day: Option<String> =
        conn.query_row(queries.bound(conn, "previous-evaluation")?, [], |r| r.get(0))?;
    let mut history = History {
        previous_day: previous_day
            .as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
        ..History::default()
    };
    if let Some(previous) = history.previous_day {
        sql::bind(conn, &[("day", sql::date(previous))])?;
        let mut statement = conn.prepare(queries.bound(conn, "alerted-on")?)?;
        for key in statement.query_map([], |r| r.get::<_, String>(0))? {
            history.previous_keys.insert(key?);
        }
    }
    sql::bind(conn, &[("day", sql::date(day))])?;
    let mut statement = conn.prepare(queries.bound(conn, "delivered-on")?)?;
    for row in statement.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
        ))
    })? {
        let (key, delivery, card) = row?;
        history.delivered_today.insert(key, (delivery, card));
    }
    Ok(history)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_on_a_card_is_one_shell_word_that_runs_nothing_of_a_tenant_id() {
        let dir = tempfile::TempDir::new().unwrap();
        let marker = dir.path().join("pwned");
        let tenant = format!("x'\"$(touch {m})`touch {m}`;touch {m}", m = marker.display());
        let period = Period::month(2026, 10).unwrap();
        let command = detail_query("patch_compliance_rate", period, Some(&tenant), None);
        let quoted = command.strip_prefix("govpack query ").unwrap();
        // What a shell hands govpack for the pasted command: exactly the query, one argument.
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf '%s\\n' {quoted}"))
            .output()
            .unwrap();
        let expected = format!(
            "select * from compliance_devices where period_start = date '2026-10-01' and tenant_id = {} and not compliant\n",
            string_literal(&tenant)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
        assert!(!marker.exists(), "the shell ran part of the tenant id");
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// The default rules on hand-built KPI rows: strictly below / above the threshold breaches,
    /// the threshold itself does not, nor does a null value, another scope or another period.
    #[test]
    fn the_default_rules_breach_strictly_past_their_thresholds_in_their_own_scope_and_period() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "create table kpi_summary (kpi_id varchar, period_start date, period_end date, tenant_id varchar,
                 policy_tier varchar, device_class varchar, age_bucket varchar, value double);
             create table tenants (tenant_id varchar, tenant_name varchar);
             create table chronic_devices (period_start date, period_end date, tenant_id varchar, device_id varchar,
                 hostname varchar, current_reason varchar, noncompliant_at varchar);
             insert into tenants values ('A', 'Acme'), ('B', 'Bravo'), ('C', 'Cargo'), ('D', 'Delta');
             insert into kpi_summary values
                 ('patch_compliance_rate', '2026-10-01', '2026-10-21', 'A', null, null, null, 0.85),
                 ('patch_compliance_rate', '2026-10-01', '2026-10-21', 'B', null, null, null, 0.90),
                 ('patch_compliance_rate', '2026-10-01', '2026-10-21', 'C', null, null, null, null),
                 ('patch_compliance_rate', '2026-10-01', '2026-10-21', 'D', null, null, null, 0.95),
                 ('patch_compliance_rate', '2026-10-01', '2026-10-21', null, null, null, null, 0.80),
                 ('patch_compliance_rate', '2026-10-01', '2026-10-21', 'A', 'critical_servers', null, null, 0.84),
                 ('patch_compliance_rate', '2026-10-01', '2026-10-21', 'A', 'workstations', null, null, 0.85),
                 ('patch_compliance_rate', '2026-10-01', '2026-10-21', null, 'critical_servers', null, null, 0.50),
                 ('patch_compliance_rate', '2026-10-01', '2026-10-21', 'A', null, 'server', null, 0.10),
                 ('patch_compliance_rate', '2026-09-01', '2026-09-30', 'B', null, null, null, 0.10),
                 ('emergency_change_ratio', '2026-10-01', '2026-10-21', 'A', null, null, null, 0.15),
                 ('emergency_change_ratio', '2026-10-01', '2026-10-21', 'B', null, null, null, 0.16),
                 ('remediation_sla_breach_rate', '2026-10-01', '2026-10-21', 'C', null, null, null, 0.5);
             insert into chronic_devices values
                 ('2026-10-01', '2026-10-21', 'A', 'd1', 'ACME-DC01', 'overdue_patch', '[2026-10-07, 2026-10-14, 2026-10-21]'),
                 ('2026-09-01', '2026-09-30', 'B', 'd9', 'OLD', 'overdue_patch', '[]');",
        )
        .unwrap();
        let fresh = |id: &str, age: Option<i64>, stale: bool| TenantFreshness {
            tenant_id: id.into(),
            tenant_name: id.into(),
            latest: vec![age.map(|a| day("2026-10-21") - chrono::Duration::days(a)); 6],
            devices_age_days: age,
            stale,
        };
        // A's export is 9 days old (stale after 8); E never sent one (onboarding: not alerted).
        let freshness = [
            fresh("A", Some(9), true),
            fresh("B", Some(8), false),
            fresh("E", None, true),
        ];
        let period = Period {
            start: day("2026-10-01"),
            end: day("2026-10-21"),
        };
        let breaches = evaluate(&Config::default(), &conn, Some(period), &freshness).unwrap();
        let keys: Vec<&str> = breaches.iter().map(|b| b.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "emergency_change_ratio|B|-",
                "new_chronic_devices|A|d1",
                "remediation_sla_breaches|C|-",
                "stale_tenant_data|A|-",
                "tenant_patch_compliance|A|-",
                "tier_patch_compliance|A|critical_servers",
            ]
        );
        let tenant = breaches
            .iter()
            .find(|b| b.rule == "tenant_patch_compliance")
            .unwrap();
        assert_eq!((tenant.value, tenant.threshold), (Some(0.85), Some(0.90)));
        assert_eq!(tenant.tenant_name.as_deref(), Some("Acme"));
        assert!(
            tenant.detail.contains("compliance_devices") && tenant.detail.contains("'A'"),
            "{}",
            tenant.detail
        );
        let stale = breaches.iter().find(|b| b.rule == "stale_tenant_data").unwrap();
        assert_eq!((stale.value, stale.threshold), (Some(9.0), Some(8.0)));
    }
}
