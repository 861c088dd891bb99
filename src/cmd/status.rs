//! `govpack status`: is the scheduled job working, and is the data arriving?
//!
//! Shows the last runs from the lake's `runs` ledger (status, counts, the error of a failed run),
//! the freshness of each source (files and latest ingest per export format) and of each tenant
//! (latest date per table, as of a day; a tenant whose devices export is older than
//! `run.stale_tenant_days` is flagged STALE), the breaches of the latest evaluation, and data
//! quality (quarantined rows by table and reason, files ingested with warnings). Reads only; a
//! folder that holds no lake is refused (exit 2), creating nothing.
//!
//! `--check` is for a monitor (an RMM script check, Nagios, PRTG): it exits 1 and says why when
//! something needs a person: no daily or weekly run has finished within `--max-age-hours` (the
//! job itself stopped, which it cannot report), the latest run failed, was partial or was
//! abandoned, a tenant is stale, a source of `collect.sources` was not collected within the hours
//! or its latest collection failed.

use anyhow::Result;
use chrono::Utc;
use duckdb::OptionalExt;

use crate::cmd::cli::GlobalArgs;
use crate::operations::freshness;
use crate::sql;

/// Show the last runs, source and tenant freshness, open breaches and data quality
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  govpack status\n  govpack status --as-of 2026-10-31 --runs 20\n  \
    govpack status --check            exit 1 when the job stopped, failed or was partial, alerts
                                      were not delivered, a tenant is stale, or a source of
                                      collect.sources is late or failing"
)]
pub struct Args {
    /// Judge freshness as of this date, YYYY-MM-DD [default: today, UTC]
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// How many of the latest runs to show
    #[arg(long, default_value_t = 10)]
    pub runs: u32,
    /// Exit 1, saying why, when the job stopped or failed or a tenant is stale (for a monitor)
    #[arg(long)]
    pub check: bool,
    /// With --check: the longest time since a daily or weekly run finished, or a source of
    /// collect.sources was collected [default: run.max_age_hours of the config, 36]
    #[arg(long, value_name = "HOURS")]
    pub max_age_hours: Option<u32>,
}

/// The status command's queries.
const QUERIES: &str = "ops/status.sql";

pub fn run(global: &GlobalArgs, args: Args) -> Result<i32> {
    let config = global.load_config()?;
    let as_of = super::as_of_date(args.as_of.as_deref())?;
    let lake = global.open_existing_lake(&config)?;
    let conn = sql::open(&lake)?;
    let queries = sql::NamedQueries::read(QUERIES)?;
    outln!("govpack status of {} as of {as_of}\n", lake.root().display());

    outln!("Last runs (lake table runs):");
    out!(
        "{}",
        sql::pretty_table(&conn, {
            sql::bind(
                &conn,
                &[("runs", duckdb::types::Value::BigInt(i64::from(args.runs)))],
            )?;
            queries.bound(&conn, "last-runs")?
        })?
    );

    outln!("\nSources (lake table ingest_ledger):");
    out!("{}", sql::pretty_table(&conn, queries.get("sources")?)?);

    outln!("\nCollections from the vendors' APIs (lake table collections):");
    out!("{}", sql::pretty_table(&conn, queries.get("collections")?)?);
    if config.collect.sources.iter().any(|s| s == "autotask") {
        let since = (chrono::Utc::now() - chrono::Duration::hours(1)).timestamp();
        sql::bind(
            &conn,
            &[
                ("source", sql::text("autotask")),
                ("since", duckdb::types::Value::BigInt(since)),
            ],
        )?;
        let used: i64 = conn.query_row(queries.bound(&conn, "requests-since")?, [], |r| r.get(0))?;
        outln!(
            "autotask: {used} of its {} requests an hour used in the last hour \
             (collect.autotask.hourly_budget; Autotask allows 10,000 per database, all integrations together)",
            config.collect.autotask.hourly_budget
        );
    }

    let days = config.run.stale_tenant_days;
    let freshness = freshness::tenants(&conn, as_of, days)?;
    let tenants = &freshness.tenants;
    outln!(
        "\nTenants: latest export date per table (flagged STALE when the devices export is older than {days} days, or missing)"
    );
    let mut header = vec!["tenant_id".to_string(), "tenant_name".to_string()];
    header.extend(freshness.tables.iter().cloned());
    header.push("age_days".into());
    header.push("flag".into());
    let mut lines = vec![header];
    for t in tenants {
        let mut line = vec![t.tenant_id.clone(), t.tenant_name.clone()];
        line.extend(
            t.latest
                .iter()
                .map(|d| d.map_or_else(|| "-".to_string(), |d| d.to_string())),
        );
        line.push(
            t.devices_age_days
                .map_or_else(|| "-".to_string(), |d| d.to_string()),
        );
        line.push(match (t.stale, t.devices_age_days) {
            (true, Some(_)) => "STALE: exports stopped".into(),
            (true, None) => "STALE: no devices export yet".into(),
            _ => "ok".into(),
        });
        lines.push(line);
    }
    if tenants.is_empty() {
        outln!("(no tenants yet: ingest a tenants export)");
    } else {
        out!("{}", text_table(&lines));
    }
    let stale = tenants.iter().filter(|t| t.stale).count();
    if stale > 0 {
        outln!("{stale} tenant(s) stale: check their RMM export jobs and the inbox's failed/ folder.");
    }

    outln!("\nBreaches at the latest evaluation (lake table alerts):");
    out!("{}", sql::pretty_table(&conn, queries.get("latest-breaches")?)?);

    outln!("\nData quality: quarantined rows (lake table quarantine) and files with warnings:");
    out!("{}", sql::pretty_table(&conn, queries.get("quarantine")?)?);
    let warned: i64 = conn.query_row(queries.get("files-with-warnings")?, [], |r| r.get(0))?;
    outln!(
        "{warned} ingested file(s) carry warnings (unknown vendor words, ignored columns): see ingest_ledger.warnings"
    );
    if !args.check {
        return Ok(0);
    }
    let max_age_hours = args.max_age_hours.unwrap_or(config.run.max_age_hours);
    let mut problems = check(&conn, &queries, tenants, max_age_hours)?;
    problems.extend(check_collections(
        &conn,
        &queries,
        &config.collect.sources,
        max_age_hours,
    )?);
    outln!();
    if problems.is_empty() {
        outln!("CHECK OK");
        return Ok(0);
    }
    for p in &problems {
        outln!("CHECK FAILED: {p}");
    }
    Ok(1)
}

/// What needs a person: the job stopped or failed, or a tenant's exports stopped.
fn check(
    conn: &duckdb::Connection,
    queries: &sql::NamedQueries,
    tenants: &[freshness::TenantFreshness],
    max_age_hours: u32,
) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let last_daily: Option<(String, i64)> = conn
        .query_row(queries.get("last-daily-run")?, [], |r| {
            Ok((r.get::<_, Option<String>>(0)?, r.get::<_, Option<i64>>(1)?))
        })
        .map(|(text, epoch)| text.zip(epoch))?;
    match last_daily {
        None => problems.push("no daily or weekly run has finished yet".to_string()),
        Some((when, epoch)) if Utc::now().timestamp() - epoch >= i64::from(max_age_hours) * 3600 => problems
            .push(format!(
                "no daily or weekly run has finished in the last {max_age_hours} hours (last: {when}): \
                 is the schedule running?"
            )),
        Some(_) => {}
    }
    let latest: Option<(String, String, Option<String>)> = conn
        .query_row(queries.get("latest-run")?, [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    if let Some((run_id, status, error)) = latest
        && status != "succeeded"
    {
        let why = error.map_or_else(String::new, |e| format!(": {}", e.lines().next().unwrap_or("")));
        problems.push(format!("the latest run {run_id} is {status}{why}"));
    }
    // Breaches whose alert has not gone out on the latest day evaluated (the post failed, or the
    // channel has no URL): they go out with the next run that can deliver them.
    let mut pending = conn.prepare(queries.get("undelivered-alerts")?)?;
    let pending: Vec<String> = pending
        .query_map([], |r| {
            Ok(format!("{} ({})", r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?
        .collect::<duckdb::Result<_>>()?;
    if !pending.is_empty() {
        problems.push(format!(
            "{} alert(s) not delivered: {}",
            pending.len(),
            pending.join(", ")
        ));
    }
    let stale: Vec<String> = tenants
        .iter()
        .filter(|t| t.stale)
        .map(|t| match t.tenant_name.trim() {
            "" => t.tenant_id.clone(),
            name => format!("{name} ({})", t.tenant_id),
        })
        .collect();
    if !stale.is_empty() {
        problems.push(format!("stale tenant(s): {}", stale.join(", ")));
    }
    Ok(problems)
}

/// What needs a person about the collectors: a source of `collect.sources` not collected within
/// the hours, a dataset whose latest attempt within them failed.
fn check_collections(
    conn: &duckdb::Connection,
    queries: &sql::NamedQueries,
    sources: &[String],
    max_age_hours: u32,
) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for source in sources {
        sql::bind(conn, &[("source", sql::text(source))])?;
        let (when, epoch): (Option<String>, Option<i64>) =
            conn.query_row(queries.bound(conn, "source-collected")?, [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        match when.zip(epoch) {
            None => problems.push(format!("{source} (collect.sources) has never been collected")),
            Some((when, epoch)) if Utc::now().timestamp() - epoch >= i64::from(max_age_hours) * 3600 => {
                problems.push(format!(
                    "{source} has not been collected in the last {max_age_hours} hours (last: {when})"
                ));
            }
            Some(_) => {}
        }
    }
    let since = Utc::now().timestamp() - i64::from(max_age_hours) * 3600;
    sql::bind(conn, &[("since", duckdb::types::Value::BigInt(since))])?;
    let mut failing = conn.prepare(queries.bound(conn, "failing-datasets")?)?;
    let failing: Vec<String> = failing
        .query_map([], |r| {
            Ok(format!(
                "{} {} failed at {}: {}",
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?
            ))
        })?
        .collect::<duckdb::Result<_>>()?;
    problems.extend(failing);
    Ok(problems)
}

/// Columns padded to their widest cell.
fn text_table(lines: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..lines[0].len())
        .map(|i| lines.iter().map(|l| l[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for line in lines {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
