//! `govpack run daily|weekly|monthly`: the scheduled job, for cron, a systemd timer or Windows
//! Task Scheduler.
//!
//! Every job first takes the lake's lock (a second run exits 3 and does nothing), records itself
//! in the lake's `runs` table, and ingests the inbox: each new file or folder is loaded and moved
//! to `processed/YYYY-MM-DD/`, or to `failed/YYYY-MM-DD/` with a `.reason.txt`.
//! - daily: recomputes the month to date (as of the day), evaluates the breach rules, posts new
//!   breaches to Teams (or writes dry-run cards), and prepares remediation tickets for review
//!   (`--apply` creates them in Autotask);
//! - weekly: the daily work, plus the scorecard workbook of the month to date for the weekly review;
//! - monthly: closes the previous month: its KPIs and the full pack (workbook, proof brief,
//!   failure-pattern analysis, evidence bundle) for the portfolio and every tenant.
//!
//! With `collect.sources` set, every job first pulls those sources from the vendors' APIs into
//! the inbox (`govpack collect`), then ingests it.
//!
//! `--as-of DATE` runs as if on that day: the same lake and day give the same outputs, so history
//! can be re-run. The run ends `succeeded` (exit 0), `partial` (exit 1: a dataset could not be
//! collected, an inbox entry failed, an
//! alert or ticket could not be delivered (no webhook URL, a failed post, the HTTP budget used up)
//! or a scope's monthly pack could not be written; the rest was done) or `failed` (exit 1, the
//! error in the ledger and on stderr).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{Datelike, NaiveDate, Utc};

use crate::calendar::Period;
use crate::cmd::cli::GlobalArgs;
use crate::config::Config;
use crate::kpi;
use crate::lake::Lake;
use crate::operations::inbox::{self, EntryOutcome};
use crate::operations::ledger::{self, RunRecord};
use crate::operations::lock::{self, Holder};
use crate::operations::{alerts, autotask_api, freshness, teams, tickets};
use crate::{reports, sql};

/// Run the scheduled daily, weekly or monthly job
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  govpack run daily\n  \
    govpack --config /etc/govpack/govpack.toml run daily --inbox /srv/govpack/inbox\n  \
    govpack run weekly --dry-run\n  govpack run monthly --as-of 2026-11-01\n  \
    govpack run daily --as-of 2026-10-21 --apply\n\n\
    Exit codes: 0 succeeded; 1 partial or failed (see `govpack status`); 2 bad usage or config;\n\
    3 another run holds the lake (nothing was done)")]
pub struct Args {
    /// Which job: daily, weekly or monthly
    #[arg(value_parser = ["daily", "weekly", "monthly"])]
    pub job: String,
    /// Folder of new export files [default: run.inbox of the config]
    #[arg(long, value_name = "DIR")]
    pub inbox: Option<PathBuf>,
    /// Run as if on this date, YYYY-MM-DD [default: today, UTC]
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Write alert cards as JSON files only and post nothing, on purpose (without it, a card whose
    /// channel has no webhook URL stays pending and the run is partial)
    #[arg(long)]
    pub dry_run: bool,
    /// Create the prepared remediation tickets in Autotask (default: a review file only)
    #[arg(long)]
    pub apply: bool,
    /// When another run holds the lake, wait up to this many seconds for it (default: exit 3 at
    /// once)
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub wait_for_lock: u64,
}

pub fn run(global: &GlobalArgs, args: Args) -> Result<i32> {
    let config = global.load_config()?;
    let as_of = super::as_of_date(args.as_of.as_deref())?;
    if args.apply {
        autotask_api::check_credentials(&config)?;
    }
    let lake = global.open_lake(&config)?;
    let started_utc = Utc::now();
    let run_id = format!(
        "{}-{}-{}",
        args.job,
        as_of,
        started_utc.format("%Y%m%dT%H%M%S%.3fZ")
    );
    let holder = Holder::this_process(&args.job, &run_id, started_utc);
    let lock = lock::lock_lake_waiting(
        &lake,
        &args.job,
        &run_id,
        started_utc,
        std::time::Duration::from_secs(args.wait_for_lock),
    )?;
    // The run holds the lock from here: its HTTP work (alerts, tickets) gets a budget in all.
    crate::http::set_budget(std::time::Duration::from_secs(config.run.http_deadline_seconds));
    let mut record = RunRecord {
        run_id: run_id.clone(),
        job: args.job.clone(),
        as_of,
        started_utc,
        status: "running".into(),
        host: holder.host.clone(),
        pid: holder.pid,
        ..RunRecord::default()
    };
    ledger::record_run(&lake, &record)?;
    outln!(
        "govpack run {} as of {as_of} (run {run_id}), lake {}",
        args.job,
        lake.root().display()
    );
    let outcome = execute(&config, &lake, &args, as_of, &mut record);
    record.ended_utc = Some(Utc::now());
    record.status = match &outcome {
        Err(_) => "failed",
        Ok(())
            if record.files_failed
                + record.alerts_undelivered
                + record.tickets_failed
                + record.packs_failed
                + record.collections_failed
                > 0 =>
        {
            "partial"
        }
        Ok(()) => "succeeded",
    }
    .to_string();
    if let Err(e) = &outcome {
        record.error = Some(format!("{e:#}"));
    }
    let failed = record.status == "failed";
    // The ledger row is written even when the job failed: that is when it matters most.
    let recorded = ledger::record_run(&lake, &record);
    if let Some(error) = record.error.as_ref().filter(|_| failed) {
        tracing::error!(run_id = %record.run_id, job = %record.job, status = %record.status, error = %error, "run failed");
    } else {
        tracing::info!(
            run_id = %record.run_id,
            job = %record.job,
            status = %record.status,
            files_failed = record.files_failed,
            alerts_undelivered = record.alerts_undelivered,
            tickets_failed = record.tickets_failed,
            outputs = record.outputs.len(),
            "run finished"
        );
    }
    drop(lock);
    let seconds = (record.ended_utc.expect("set") - started_utc).num_milliseconds() as f64 / 1000.0;
    outln!(
        "Run {}: {} in {seconds:.1} s; recorded in {}",
        record.status,
        run_id,
        lake.table_dir(crate::canonical::system::RUNS.name).display()
    );
    recorded.context("cannot record the run in the ledger")?;
    outcome?;
    if record.status == "partial" {
        // On stderr too, so that cron mails it and a scheduler's history shows it.
        eprintln!(
            "govpack run {}: partial: {} inbox entr(ies) failed, {} alert(s) and {} ticket(s) not delivered, \
             {} pack(s) not written, {} dataset(s) not collected (see govpack status){}",
            record.job,
            record.files_failed,
            record.alerts_undelivered,
            record.tickets_failed,
            record.packs_failed,
            record.collections_failed,
            record
                .error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        );
    }
    Ok(if record.status == "succeeded" { 0 } else { 1 })
}

fn execute(
    config: &Config,
    lake: &Lake,
    args: &Args,
    as_of: NaiveDate,
    record: &mut RunRecord,
) -> Result<()> {
    let inbox_dir = args
        .inbox
        .clone()
        .unwrap_or_else(|| config.resolve(&config.run.inbox));
    let out = config.resolve(&config.run.output);
    let collected = collect_sources(config, lake, &inbox_dir, as_of, record)?;
    ingest_inbox(config, lake, &inbox_dir, as_of, &collected, record)?;
    if lake.table_files("devices")?.is_empty() {
        outln!(
            "The lake holds no devices export yet: nothing to compute. Drop exports into {}",
            inbox_dir.display()
        );
        return Ok(());
    }
    match args.job.as_str() {
        "monthly" => close_month(config, lake, Period::previous_month(as_of), &out, record),
        job => {
            let period = Period::month_to_date(as_of);
            warn_if_closed(lake, period)?;
            if !kpi::has_snapshot_in(&sql::open(lake)?, period)? {
                // The first days of a month, before its first devices export: there is nothing to
                // measure yet, and a month of zeros would read "met". The exports' freshness is
                // still judged, so a client whose exports stopped is alerted all the same.
                outln!(
                    "No devices snapshot from {} to {} yet: the month's KPIs, KPI alerts and tickets \
                     wait for its first RMM export",
                    period.start,
                    period.end
                );
                return alert(config, lake, None, as_of, &out, args.dry_run, record);
            }
            compute(config, lake, period, record)?;
            alert(config, lake, Some(period), as_of, &out, args.dry_run, record)?;
            prepare_tickets(config, lake, period, as_of, &out, args.apply, record)?;
            if job == "weekly" {
                let dir = out.join("weekly").join(as_of.to_string());
                std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
                let file = dir.join(format!("kpi-scorecard-{as_of}.xlsx"));
                let brand = reports::Brand::configured(config)?;
                reports::workbook::write(&reports::session(lake, None)?, period, &brand, &file)?;
                outln!("Weekly review workbook (month to date): {}", file.display());
                record.outputs.push(file.display().to_string());
            }
            Ok(())
        }
    }
}

/// A daily run re-run for a day of a month already closed replaces the close's KPI outputs with
/// the month to that day (each month has one slot): allowed, for history, but said plainly.
fn warn_if_closed(lake: &Lake, period: Period) -> Result<()> {
    let Some(month) = Period::month(period.start.year(), period.start.month()) else {
        return Ok(());
    };
    if month == period {
        return Ok(());
    }
    let conn = sql::open(lake)?;
    sql::bind(
        &conn,
        &[("periods", sql::text(&format!("{}..{}", month.start, month.end)))],
    )?;
    let queries = sql::NamedQueries::read(ledger::RUN_QUERIES)?;
    let closed: Option<String> = conn.query_row(queries.bound(&conn, "closed-by")?, [], |r| r.get(0))?;
    if let Some(run_id) = closed {
        let next = month.end + chrono::Duration::days(1);
        outln!(
            "warning: {} was closed by run {run_id}; this run replaces its KPI outputs with the month to {}. \
             Close it again with `govpack run monthly --as-of {next}`",
            month.label(),
            period.end
        );
        tracing::warn!(closed_by = %run_id, "re-running a day of a closed month");
    }
    Ok(())
}

/// Pulls every source of `collect.sources` into the inbox for the run's day; returns the inbox
/// entries moved in. A source that fails makes the run partial; the others and the ingest go on.
fn collect_sources(
    config: &Config,
    lake: &Lake,
    inbox: &Path,
    day: NaiveDate,
    record: &mut RunRecord,
) -> Result<Vec<String>> {
    if config.collect.sources.is_empty() {
        return Ok(Vec::new());
    }
    // An API answers with its present state: recorded as a past day's snapshot it would put
    // today's devices in that day. A run as of another day re-reads the inbox only.
    if day != Utc::now().date_naive() {
        outln!(
            "Not collecting {}: the APIs give today's state, not {day}'s (a run as of another day ingests the inbox only)",
            config.collect.sources.join(", ")
        );
        return Ok(Vec::new());
    }
    std::fs::create_dir_all(inbox).with_context(|| format!("cannot create the inbox {}", inbox.display()))?;
    let scope = crate::collect::Scope {
        inbox,
        snapshot: day,
        since: None,
        lake: Some(lake),
    };
    let report = crate::collect::collect(
        &config.collect,
        &config.tickets.zone_lookup_url,
        &config.collect.sources,
        scope,
        false,
    );
    outln!("Collected from {}:", config.collect.sources.join(", "));
    super::collect::print_datasets(&report)?;
    crate::collect::record(lake, &report, Some(&record.run_id))?;
    let failed: Vec<String> = report
        .failed()
        .map(|d| {
            format!(
                "{} {}: {}",
                d.source,
                d.dataset,
                d.error.as_deref().unwrap_or("?")
            )
        })
        .collect();
    for failure in &failed {
        tracing::error!(run_id = %record.run_id, "collection failed: {failure}");
    }
    record.collections_failed = failed.len() as u64;
    if !failed.is_empty() {
        record.error = Some(format!("not collected: {}", failed.join("; ")));
    }
    Ok(report.entries())
}

fn ingest_inbox(
    config: &Config,
    lake: &Lake,
    dir: &Path,
    day: NaiveDate,
    collected: &[String],
    record: &mut RunRecord,
) -> Result<()> {
    let report = inbox::process(config, lake, dir, day, collected)?;
    record.files_ingested = report.count(|o| *o == EntryOutcome::Loaded);
    record.files_skipped = report.count(|o| *o == EntryOutcome::Duplicate);
    record.files_failed = report.count(|o| matches!(o, EntryOutcome::Failed(_)));
    record.rows_quarantined = report.ingest.total(|l| l.rows_quarantined);
    tracing::info!(
        run_id = %record.run_id,
        inbox = %dir.display(),
        loaded = record.files_ingested,
        duplicate = record.files_skipped,
        failed = record.files_failed,
        rows_quarantined = record.rows_quarantined,
        "inbox ingested"
    );
    outln!(
        "Inbox {}: {} new: {} loaded, {} already ingested, {} failed; {} rows quarantined",
        dir.display(),
        report.entries.len(),
        record.files_ingested,
        record.files_skipped,
        record.files_failed,
        record.rows_quarantined
    );
    for entry in &report.entries {
        let word = match &entry.outcome {
            EntryOutcome::Loaded => "loaded   ",
            EntryOutcome::Duplicate => "duplicate",
            EntryOutcome::Failed(_) => "FAILED   ",
        };
        outln!("  {word} {} -> {}", entry.name, entry.moved_to.display());
        if let EntryOutcome::Failed(reason) = &entry.outcome {
            tracing::error!(run_id = %record.run_id, entry = %entry.name, moved_to = %entry.moved_to.display(), "inbox entry failed: {reason}");
        }
    }
    for (name, why) in &report.left {
        outln!("  waiting   {name}: {why}");
    }
    Ok(())
}

fn compute(config: &Config, lake: &Lake, period: Period, record: &mut RunRecord) -> Result<()> {
    let run = kpi::compute(config, lake, period)?;
    outln!(
        "KPIs {} to {} (as of {}): {} outputs in {}",
        period.start,
        period.end,
        run.as_of,
        run.outputs.len(),
        lake.root().join("kpi").display()
    );
    record
        .periods_computed
        .push(format!("{}..{}", period.start, period.end));
    tracing::info!(run_id = %record.run_id, period_start = %period.start, period_end = %period.end, as_of = %run.as_of, "KPIs computed");
    Ok(())
}

/// Evaluates the breach rules (with no period: freshness only) and delivers the new breaches.
fn alert(
    config: &Config,
    lake: &Lake,
    period: Option<Period>,
    day: NaiveDate,
    out: &Path,
    dry_run: bool,
    record: &mut RunRecord,
) -> Result<()> {
    let conn = sql::open(lake)?;
    let fresh = freshness::tenants(&conn, day, config.run.stale_tenant_days)?;
    let breaches = alerts::evaluate(config, &conn, period, &fresh.tenants)?;
    let history = alerts::history(&conn, day)?;
    drop(conn);
    let dir = out.join("alerts").join(day.to_string());
    let delivery = teams::deliver(
        config,
        lake,
        &breaches,
        &history,
        day,
        &dir,
        dry_run,
        &record.run_id,
    )?;
    record.alerts_new = delivery.new;
    record.alerts_undelivered = delivery.failed.len() as u64 + delivery.undelivered;
    record
        .outputs
        .extend(delivery.card_files.iter().map(|p| p.display().to_string()));
    outln!(
        "Breaches: {} ({} new since {}): {} posted, {} written as dry-run cards, {} failed, {} without a URL",
        breaches.len(),
        delivery.new,
        history
            .previous_day
            .map_or_else(|| "the first evaluation".to_string(), |d| d.to_string()),
        delivery.posted,
        delivery.dry_run,
        delivery.failed.len(),
        delivery.undelivered
    );
    for message in &delivery.unknown {
        outln!("  alert not re-sent: {message}");
    }
    if delivery.dry_run > 0 {
        outln!("  dry run (--dry-run): cards in {}", dir.display());
    }
    if delivery.undelivered > 0 {
        let message = format!(
            "{} alert(s) not delivered: no webhook URL in {}; the cards are in {} and stay pending \
             until a run with the URL set posts them",
            delivery.undelivered,
            delivery.channels_without_url.join(", "),
            dir.display()
        );
        outln!("  {message}");
        tracing::warn!(run_id = %record.run_id, "{message}");
    }
    tracing::info!(
        run_id = %record.run_id,
        breaches = breaches.len(),
        new = delivery.new,
        posted = delivery.posted,
        dry_run = delivery.dry_run,
        failed = delivery.failed.len(),
        "breach rules evaluated"
    );
    Ok(())
}

fn prepare_tickets(
    config: &Config,
    lake: &Lake,
    period: Period,
    day: NaiveDate,
    out: &Path,
    apply: bool,
    record: &mut RunRecord,
) -> Result<()> {
    let due = tickets::prepare(config, &sql::open(lake)?, period)?;
    record.tickets_prepared = due.len() as u64;
    if due.is_empty() {
        outln!(
            "Remediation tickets: none due (no episode open over {} h without a ticket)",
            config.tickets.open_after_hours
        );
        return Ok(());
    }
    let outcomes = if apply {
        let client = autotask_api::Autotask::from_env(config)?;
        autotask_api::apply(&client, &config.tickets, &due)
    } else {
        tickets::prepared_only(&due)
    };
    let dir = out.join("tickets").join(day.to_string());
    let files = tickets::write_review(&config.tickets, &due, &outcomes, &dir)?;
    tickets::record(lake, &due, &outcomes, day, &record.run_id)?;
    record
        .outputs
        .extend(files.iter().map(|p| p.display().to_string()));
    let count = |s: &str| outcomes.iter().filter(|o| o.status == s).count();
    record.tickets_created = count("created") as u64;
    let failed = count("failed");
    record.tickets_failed = failed as u64;
    if apply {
        outln!(
            "Remediation tickets: {} due: {} created in Autotask, {} already there, {failed} failed: {}",
            due.len(),
            count("created"),
            count("existing"),
            files[0].display()
        );
        for o in outcomes.iter().filter_map(|o| o.error.as_ref()) {
            tracing::error!(run_id = %record.run_id, "remediation ticket not created: {o}");
        }
    } else {
        outln!(
            "Remediation tickets: {} prepared for review in {} (create them with --apply)",
            due.len(),
            files[0].display()
        );
    }
    Ok(())
}

fn close_month(
    config: &Config,
    lake: &Lake,
    period: Period,
    out: &Path,
    record: &mut RunRecord,
) -> Result<()> {
    compute(config, lake, period, record)?;
    let dir = out.join("reports").join(period.label());
    let tenants = reports::tenant_ids(lake)?;
    let scopes = std::iter::once(None).chain(tenants.iter().map(|t| Some(t.as_str())));
    // One scope's bad value must not cost the others their pack: each is written (aside, then
    // swapped in) on its own, and those that failed are named.
    let mut failed = Vec::new();
    let key = reports::signature::EvidenceKey::configured(config)?;
    let brand = reports::Brand::configured(config)?;
    for scope in scopes {
        match reports::write_pack(lake, period, scope, &dir, key.as_ref(), &brand) {
            Ok(written) => record
                .outputs
                .extend(written.iter().map(|p| p.display().to_string())),
            Err(e) => {
                let scope = scope.unwrap_or("portfolio");
                tracing::error!(run_id = %record.run_id, scope, error = %format!("{e:#}"), "pack not written");
                failed.push(format!("{scope}: {e:#}"));
            }
        }
    }
    record.packs_failed = failed.len() as u64;
    if !failed.is_empty() {
        record.error = Some(format!("packs not written: {}", failed.join("; ")));
    }
    outln!(
        "Month {} closed: packs for the portfolio and {} tenants in {}{}",
        period.label(),
        tenants.len(),
        dir.display(),
        if failed.is_empty() {
            String::new()
        } else {
            format!(" ({} not written: see the run's error)", failed.len())
        }
    );
    Ok(())
}
