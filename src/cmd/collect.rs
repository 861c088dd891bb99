//! `govpack collect [SOURCE...]`: pulls the sources' data from the vendors' APIs into the inbox,
//! where `govpack run` (or `govpack ingest INBOX`) reads it. Sources: `cisa-kev`, `msrc-cvrf`,
//! `datto-rmm`, `ninjaone`; none named = every source of `collect.sources`. Credentials come from the
//! environment only (see `collect`'s module and the README's "Running unattended").
//!
//! Each dataset (one endpoint's pages for the snapshot day) reaches the inbox whole or not at
//! all, and is recorded in the lake's `collections` table either way. Takes the lake's lock (the
//! record is a lake write) and spends at most `run.http_deadline_seconds` on HTTP. Exit 0 when
//! every dataset was collected (or is not published yet), 1 when one failed (the others are
//! still collected), 2 for bad usage, 3 when a run holds the lake.
//!
//! `--check` contacts each source, authenticates and reads one page, prints what it found, and
//! writes nothing (no inbox file, no lake record, no lock); exit 1 if a source fails.

use std::path::PathBuf;

use anyhow::Result;

use crate::cmd::cli::GlobalArgs;
use crate::collect;
use crate::collect::COLLECTORS;
use crate::error::UsageError;

/// Pull the configured sources from the vendors' APIs into the inbox
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  govpack collect                      every source of collect.sources\n  \
    govpack collect cisa-kev msrc-cvrf\n  \
    govpack collect --check              authenticate and read one page of each; write nothing\n  \
    govpack collect datto-rmm --inbox /srv/govpack/inbox --snapshot-date 2026-12-01"
)]
pub struct Args {
    /// Sources to collect [default: collect.sources of the config]
    #[arg(value_name = "SOURCE", value_parser = COLLECTORS)]
    pub sources: Vec<String>,
    /// Folder the datasets go to [default: run.inbox of the config]
    #[arg(long, value_name = "DIR")]
    pub inbox: Option<PathBuf>,
    /// The day the collected inventory is recorded as, YYYY-MM-DD (the APIs answer with their
    /// present state) [default: today, UTC]
    #[arg(long, value_name = "DATE")]
    pub snapshot_date: Option<String>,
    /// Incremental sources (NinjaOne's patch installs, Autotask and Manage tickets) read from this day, YYYY-MM-DD, instead of
    /// the newest record already in the lake [default: that record less collect.overlap_days, or
    /// 90 days back]
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Contact each source, authenticate and read one page; write nothing
    #[arg(long)]
    pub check: bool,
}

pub fn run(global: &GlobalArgs, args: Args) -> Result<i32> {
    let config = global.load_config()?;
    let sources = if args.sources.is_empty() {
        config.collect.sources.clone()
    } else {
        args.sources.clone()
    };
    if sources.is_empty() {
        return Err(UsageError(format!(
            "no source to collect: name one ({}) or list them in collect.sources of the config",
            COLLECTORS.join(", ")
        ))
        .into());
    }
    let snapshot = super::as_of_date(args.snapshot_date.as_deref())?;
    let inbox = args
        .inbox
        .clone()
        .unwrap_or_else(|| config.resolve(&config.run.inbox));
    let since = args
        .since
        .as_deref()
        .map(|d| super::day_arg("since", d))
        .transpose()?;
    crate::http::set_budget(std::time::Duration::from_secs(config.run.http_deadline_seconds));
    if args.check {
        let scope = collect::Scope {
            inbox: &inbox,
            snapshot,
            since,
            lake: None,
        };
        let report = collect::collect(
            &config.collect,
            &config.tickets.zone_lookup_url,
            &sources,
            scope,
            true,
        );
        let mut failed = false;
        for (source, found) in &report.checks {
            match found {
                Ok(found) => outln!("{source}: {found}"),
                Err(why) => {
                    failed = true;
                    outln!("{source}: FAILED: {why}");
                }
            }
        }
        return Ok(i32::from(failed));
    }
    let lake = global.open_lake(&config)?;
    let _lock = crate::operations::lock::lock_for_command(&lake, "collect")?;
    std::fs::create_dir_all(&inbox)
        .map_err(|e| anyhow::anyhow!("cannot create the inbox {}: {e}", inbox.display()))?;
    outln!("govpack collect into {} for {snapshot}", inbox.display());
    let scope = collect::Scope {
        inbox: &inbox,
        snapshot,
        since,
        lake: Some(&lake),
    };
    let report = collect::collect(
        &config.collect,
        &config.tickets.zone_lookup_url,
        &sources,
        scope,
        false,
    );
    print_datasets(&report)?;
    collect::record(&lake, &report, None)?;
    Ok(i32::from(report.failed().next().is_some()))
}

/// A line per dataset: what reached the inbox, or why nothing did.
pub fn print_datasets(report: &collect::CollectReport) -> Result<()> {
    for d in &report.datasets {
        match d.status {
            "collected" => outln!(
                "  collected {} {}: {} record(s) in {} page(s), {} request(s) -> {}",
                d.source,
                d.dataset,
                d.records,
                d.pages,
                d.requests,
                d.inbox_entry.as_deref().unwrap_or("?")
            ),
            "absent" => outln!("  absent    {} {}: not published yet", d.source, d.dataset),
            _ => outln!(
                "  FAILED    {} {}: {} (nothing of it written)",
                d.source,
                d.dataset,
                d.error.as_deref().unwrap_or("?")
            ),
        }
    }
    Ok(())
}
