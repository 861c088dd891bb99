//! The generated MSP written out: as canonical CSV, in the shapes vendors' exports take (Autotask,
//! Datto RMM, NinjaOne, ConnectWise Manage and Automate, WUfB), as the public vulnerability
//! reference files, or as the dated drops of an inbox.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::{Datelike, NaiveDate};

use super::{SampleSpec, TableRows, cve_title, generate, patch_tuesday};
use crate::canonical::{self, Table};

/// The shapes `govpack sample` can write the generated MSP in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SampleFormat {
    /// Every table as canonical CSV.
    Canonical,
    /// Tenants, tickets and changes as Autotask REST exports (companies, picklists, tickets,
    /// change approvals and links); the RMM tables as canonical CSV.
    Autotask,
    /// Devices of the tenants that report per-device summaries as Datto RMM API pages (sites,
    /// one devices page per snapshot day); everything else as canonical CSV.
    DattoRmm,
    /// Both of the above: every table that has a vendor shape here is written in it.
    Vendor,
    /// Devices and Microsoft patch lists and install history as NinjaOne API pages (devices, and
    /// per snapshot day the os-patches and os-patch-installs queries); the rest as canonical CSV.
    /// NinjaOne carries no exclusion, ring, release date or pending reboot.
    Ninjaone,
    /// Tickets and changes as ConnectWise Manage service tickets (changes on a "Change
    /// Management" board); the rest as canonical CSV.
    ConnectwiseManage,
    /// Microsoft patch rows as ConnectWise Automate's patch-rows report, one CSV per snapshot
    /// day; the rest as canonical CSV.
    ConnectwiseAutomate,
    /// Microsoft patch rows of workstations as WUfB `UCClientUpdateStatus` CSV, one per snapshot
    /// day; the rest as canonical CSV.
    Wufb,
}

/// A generated row seen by column name, for the vendor export writers.
struct RowRef<'a> {
    table: &'static Table,
    cells: &'a [String],
}

impl crate::sources::ExportRow for RowRef<'_> {
    fn get(&self, column: &str) -> &str {
        self.table
            .column_index(column)
            .map_or("", |i| self.cells[i].as_str())
    }
}

/// Moves the devices that have a summary row at their snapshot (the summary-only tenants) out of
/// the canonical tables into Datto RMM pages: a sites page and one devices page per day.
fn write_datto(tables: &mut [TableRows], out: &Path) -> Result<Vec<(PathBuf, usize)>> {
    use crate::sources::ExportRow;
    use crate::sources::datto_rmm::export;
    use std::collections::{BTreeMap, BTreeSet};
    let index = |name: &str| table_position(tables, name);
    let (ti, di, si) = (index("tenants"), index("devices"), index("device_patch_summary"));
    let summary_key = |t: &TableRows, r: &[String]| -> (String, String, String) {
        let c = |name: &str| r[t.table.column_index(name).expect("column")].clone();
        (c("snapshot_date"), c("tenant_id"), c("device_id"))
    };
    let summaries: BTreeMap<(String, String, String), usize> = tables[si]
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| (summary_key(&tables[si], r), i))
        .collect();
    let mut days: BTreeMap<String, Vec<(usize, usize)>> = BTreeMap::new();
    for (i, r) in tables[di].rows.iter().enumerate() {
        let key = summary_key(&tables[di], r);
        if let Some(&s) = summaries.get(&key) {
            days.entry(key.0.clone()).or_default().push((i, s));
        }
    }
    let datto_tenants: BTreeSet<String> = days
        .values()
        .flatten()
        .map(|(i, _)| summary_key(&tables[di], &tables[di].rows[*i]).1)
        .collect();
    let mut written = Vec::new();
    let tenant_rows: Vec<RowRef<'_>> = rows(&tables[ti]);
    let site_tenants: Vec<&RowRef<'_>> = tenant_rows
        .iter()
        .filter(|t| datto_tenants.contains(t.get("tenant_id")))
        .collect();
    let site_of = |tenant: &str| {
        tenant_rows
            .iter()
            .find(|t| t.get("tenant_id") == tenant)
            .map_or(String::new(), |t| t.get("rmm_site_id").to_string())
    };
    let mut documents = vec![(
        "datto_rmm_sites.json".to_string(),
        export::sites(&site_tenants),
        site_tenants.len(),
    )];
    let (device_rows, summary_rows) = (rows(&tables[di]), rows(&tables[si]));
    for (day, pairs) in &days {
        let page: Vec<(&RowRef<'_>, &RowRef<'_>)> = pairs
            .iter()
            .map(|(d, s)| (&device_rows[*d], &summary_rows[*s]))
            .collect();
        documents.push((
            format!("datto_rmm_devices_{day}.json"),
            export::devices(&page, site_of),
            page.len(),
        ));
    }
    for (name, document, count) in documents {
        written.push((write_json(out, &name, &document)?, count));
    }
    let moved_devices: BTreeSet<usize> = days.values().flatten().map(|(d, _)| *d).collect();
    let moved_summaries: BTreeSet<usize> = days.values().flatten().map(|(_, s)| *s).collect();
    drop((device_rows, summary_rows, tenant_rows));
    remove_rows(&mut tables[di].rows, &moved_devices);
    remove_rows(&mut tables[si].rows, &moved_summaries);
    Ok(written)
}

/// Moves the devices, the Microsoft patch rows and their install attempts out of the canonical
/// tables into NinjaOne API pages, one set per snapshot day, plus the install history.
fn write_ninjaone(tables: &mut [TableRows], out: &Path, until: NaiveDate) -> Result<Vec<(PathBuf, usize)>> {
    use crate::sources::ExportRow;
    use crate::sources::ninjaone::export;
    use std::collections::{BTreeMap, BTreeSet};
    let [ti, di, pi, ai] = rmm_positions(tables);
    let [tenant_rows, device_rows, patch_rows, attempt_rows] = [ti, di, pi, ai].map(|i| rows(&tables[i]));
    let org_of = |tenant: &str| {
        tenant_rows
            .iter()
            .find(|t| t.get("tenant_id") == tenant)
            .map_or(String::new(), |t| t.get("rmm_site_id").to_string())
    };
    let mut described: BTreeMap<String, (String, String, String)> = BTreeMap::new();
    for p in &patch_rows {
        described.entry(p.get("patch_id").to_string()).or_insert_with(|| {
            (
                p.get("patch_title").into(),
                p.get("classification").into(),
                p.get("severity").into(),
            )
        });
    }
    let failures = FailureTimes::of(&attempt_rows);
    let mut days: BTreeMap<String, (Vec<usize>, Vec<usize>)> = BTreeMap::new();
    for (i, d) in device_rows.iter().enumerate() {
        days.entry(d.get("snapshot_date").to_string())
            .or_default()
            .0
            .push(i);
    }
    for (i, p) in patch_rows
        .iter()
        .enumerate()
        .filter(|(_, p)| export::is_os_patch(*p))
    {
        days.entry(p.get("snapshot_date").to_string())
            .or_default()
            .1
            .push(i);
    }
    let mut documents = Vec::new();
    for (day, (devices, patches)) in &days {
        let date = NaiveDate::parse_from_str(day, "%Y-%m-%d").expect("generated date");
        let devices: Vec<&RowRef<'_>> = devices.iter().map(|i| &device_rows[*i]).collect();
        let patches: Vec<&RowRef<'_>> = patches.iter().map(|i| &patch_rows[*i]).collect();
        let failed_at = |p: &RowRef<'_>| failures.latest(p);
        documents.push((
            format!("ninjaone_devices_{day}.json"),
            export::devices(&devices, org_of),
            devices.len(),
        ));
        documents.push((
            format!("ninjaone_os-patches_{day}.json"),
            export::os_patches(&patches, date),
            patches.len(),
        ));
        documents.push((
            format!("ninjaone_os-patch-installs_{day}.json"),
            export::os_patch_installs(&patches, date, failed_at),
            patches.len(),
        ));
    }
    let history: Vec<&RowRef<'_>> = attempt_rows.iter().filter(|a| export::is_os_patch(*a)).collect();
    let describe = |patch: &str| described.get(patch).cloned().unwrap_or_default();
    documents.push((
        format!("ninjaone_os-patch-installs-history_{until}.json"),
        export::install_history(&history, describe, until),
        history.len(),
    ));
    let mut written = Vec::new();
    for (name, document, count) in documents {
        written.push((write_json(out, &name, &document)?, count));
    }
    let moved_patches: BTreeSet<usize> = days.values().flat_map(|(_, p)| p.iter().copied()).collect();
    let moved_attempts: BTreeSet<usize> = attempt_rows
        .iter()
        .enumerate()
        .filter(|(_, a)| export::is_os_patch(*a))
        .map(|(i, _)| i)
        .collect();
    drop((tenant_rows, device_rows, patch_rows, attempt_rows));
    tables[di].rows.clear();
    remove_rows(&mut tables[pi].rows, &moved_patches);
    remove_rows(&mut tables[ai].rows, &moved_attempts);
    Ok(written)
}

/// Moves Microsoft patch rows into one report CSV per snapshot day, in Automate's or WUfB's
/// columns (the export modules beside those adapters say which rows each reports).
fn write_patch_reports(
    tables: &mut [TableRows],
    out: &Path,
    format: SampleFormat,
) -> Result<Vec<(PathBuf, usize)>> {
    use crate::sources::{ExportRow, connectwise_automate, wufb};
    use std::collections::{BTreeMap, BTreeSet};
    let [ti, di, pi, ai] = rmm_positions(tables);
    let [tenant_rows, device_rows, patch_rows, attempt_rows] = [ti, di, pi, ai].map(|i| rows(&tables[i]));
    let key = |r: &RowRef<'_>| {
        (
            r.get("snapshot_date").to_string(),
            r.get("tenant_id").to_string(),
            r.get("device_id").to_string(),
        )
    };
    let devices: BTreeMap<_, &RowRef<'_>> = device_rows.iter().map(|d| (key(d), d)).collect();
    let tenant = |id: &str| tenant_rows.iter().find(|t| t.get("tenant_id") == id);
    let failures = FailureTimes::of(&attempt_rows);
    let (prefix, header): (&str, &[&str]) = match format {
        SampleFormat::Wufb => ("wufb_ucclientupdatestatus", &wufb::export::HEADER),
        _ => (
            "connectwise_automate_patch_rows",
            &connectwise_automate::export::HEADER,
        ),
    };
    let mut days: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    let mut moved = BTreeSet::new();
    for (i, p) in patch_rows.iter().enumerate() {
        let Some(device) = devices.get(&key(p)) else {
            continue;
        };
        let Some(t) = tenant(p.get("tenant_id")) else {
            continue;
        };
        if !p.get("patch_id").starts_with("KB") {
            continue;
        }
        let row = match format {
            SampleFormat::Wufb if device.get("device_class") == "workstation" => {
                let failed_at = failures.latest(p);
                wufb::export::row(p, *device, t.get("rmm_site_id"), failed_at)
            }
            SampleFormat::Wufb => None,
            _ => connectwise_automate::export::row(p, *device, t.get("tenant_name")),
        };
        if let Some(row) = row {
            days.entry(p.get("snapshot_date").to_string())
                .or_default()
                .push(row);
            moved.insert(i);
        }
    }
    let mut written = Vec::new();
    for (day, report) in days {
        let path = out.join(format!("{prefix}_{day}.csv"));
        crate::files::write_atomic(&path, |file| {
            let mut w = csv::Writer::from_writer(file);
            w.write_record(header)?;
            for row in &report {
                w.write_record(row)?;
            }
            w.flush()?;
            Ok(())
        })?;
        written.push((path, report.len()));
    }
    drop((tenant_rows, device_rows, patch_rows, attempt_rows));
    remove_rows(&mut tables[pi].rows, &moved);
    Ok(written)
}

/// Where the tables an RMM's patch exports carry are: tenants, devices, patch_status,
/// patch_attempts.
fn rmm_positions(tables: &[TableRows]) -> [usize; 4] {
    ["tenants", "devices", "patch_status", "patch_attempts"].map(|name| table_position(tables, name))
}

fn table_position(tables: &[TableRows], name: &str) -> usize {
    tables
        .iter()
        .position(|t| t.table.name == name)
        .expect("generated table")
}

/// When each device and patch failed, for exports that report a failure with its time.
struct FailureTimes(std::collections::BTreeMap<(String, String, String), Vec<String>>);

impl FailureTimes {
    fn of(attempts: &[RowRef<'_>]) -> Self {
        use crate::sources::ExportRow;
        let mut map = std::collections::BTreeMap::new();
        for a in attempts.iter().filter(|a| a.get("result") == "failure") {
            let key = (
                a.get("tenant_id").to_string(),
                a.get("device_id").to_string(),
                a.get("patch_id").to_string(),
            );
            map.entry(key)
                .or_insert_with(Vec::new)
                .push(a.get("attempt_utc").to_string());
        }
        FailureTimes(map)
    }

    /// The last failure of a patch row's device and patch up to the end of the row's snapshot day.
    fn latest(&self, patch: &RowRef<'_>) -> Option<String> {
        use crate::sources::ExportRow;
        let end = format!("{}T23:59:59Z", patch.get("snapshot_date"));
        let key = (
            patch.get("tenant_id").to_string(),
            patch.get("device_id").to_string(),
            patch.get("patch_id").to_string(),
        );
        self.0
            .get(&key)
            .and_then(|times| times.iter().filter(|t| t.as_str() <= end.as_str()).max().cloned())
    }
}

/// Moves the reference tables out into the files their publishers serve: the CISA KEV catalog
/// (as released on `until`) and one MSRC CVRF document per month.
fn write_vulnerability_reference(
    tables: &mut Vec<TableRows>,
    out: &Path,
    until: NaiveDate,
) -> Result<Vec<(PathBuf, usize)>> {
    use std::collections::BTreeMap;
    let mut take = |name: &str| {
        let i = table_position(tables, name);
        tables.remove(i)
    };
    let (kev, fixes) = (take("kev"), take("patch_cves"));
    let mut written = Vec::new();
    let catalog = crate::sources::cisa_kev::export::catalog(
        &until.format("%Y.%m.%d").to_string(),
        &format!("{until}T15:00:00.000Z"),
        &rows(&kev).iter().collect::<Vec<_>>(),
    );
    written.push((
        write_json(out, "known_exploited_vulnerabilities.json", &catalog)?,
        kev.rows.len(),
    ));
    let fix_rows = rows(&fixes);
    let mut documents: BTreeMap<&str, Vec<&RowRef<'_>>> = BTreeMap::new();
    for row in &fix_rows {
        use crate::sources::ExportRow;
        documents.entry(row.get("source_document")).or_default().push(row);
    }
    for (id, rows) in documents {
        let month = NaiveDate::parse_from_str(&format!("{id}-01"), "%Y-%b-%d")
            .with_context(|| format!("sample CVRF document id {id}"))?;
        let document = crate::sources::msrc_cvrf::export::document(
            id,
            patch_tuesday(month.year(), month.month()),
            &rows,
            |cve| cve_title(cve).to_string(),
        );
        written.push((
            write_json(out, &format!("msrc-cvrf-{id}.json"), &document)?,
            rows.len(),
        ));
    }
    Ok(written)
}

fn remove_rows(rows: &mut Vec<Vec<String>>, moved: &std::collections::BTreeSet<usize>) {
    let mut i = 0;
    rows.retain(|_| {
        i += 1;
        !moved.contains(&(i - 1))
    });
}

fn write_json(out: &Path, name: &str, document: &serde_json::Value) -> Result<PathBuf> {
    let path = out.join(name);
    crate::files::write_atomic(&path, |file| {
        serde_json::to_writer_pretty(&mut *file, document)?;
        use std::io::Write;
        file.write_all(b"\n")?;
        Ok(())
    })?;
    Ok(path)
}

fn rows(t: &TableRows) -> Vec<RowRef<'_>> {
    t.rows
        .iter()
        .map(|r| RowRef {
            table: t.table,
            cells: r,
        })
        .collect()
}

/// Writes the sample in canonical CSV (see `write_as`).
pub fn write(spec: &SampleSpec, out: &Path) -> Result<Vec<(PathBuf, usize)>> {
    write_as(spec, out, SampleFormat::Canonical)
}

/// Writes the sample into `out` in the given shape, returning each file with its row count.
pub fn write_as(spec: &SampleSpec, out: &Path, format: SampleFormat) -> Result<Vec<(PathBuf, usize)>> {
    use crate::sources::autotask::export;
    let mut tables = generate(spec)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut written = write_vulnerability_reference(&mut tables, out, spec.until)?;
    if matches!(format, SampleFormat::DattoRmm | SampleFormat::Vendor) {
        written.extend(write_datto(&mut tables, out)?);
    }
    if format == SampleFormat::Ninjaone {
        written.extend(write_ninjaone(&mut tables, out, spec.until)?);
    }
    if matches!(format, SampleFormat::ConnectwiseAutomate | SampleFormat::Wufb) {
        written.extend(write_patch_reports(&mut tables, out, format)?);
    }
    if format == SampleFormat::ConnectwiseManage {
        let index = |name: &str| table_position(&tables, name);
        let (ti, ci) = (index("tickets"), index("changes"));
        let (tickets, changes) = (rows(&tables[ti]), rows(&tables[ci]));
        let document = crate::sources::connectwise_manage::export::tickets(
            &tickets.iter().collect::<Vec<_>>(),
            &changes.iter().collect::<Vec<_>>(),
        );
        let count = tickets.len() + changes.len();
        drop((tickets, changes));
        written.push((
            write_json(out, "connectwise_manage_tickets.json", &document)?,
            count,
        ));
        tables[ti].rows.clear();
        tables[ci].rows.clear();
    }
    if matches!(format, SampleFormat::Autotask | SampleFormat::Vendor) {
        let take = |tables: &mut Vec<TableRows>, name: &str| {
            let i = tables
                .iter()
                .position(|t| t.table.name == name)
                .expect("generated table");
            tables.remove(i)
        };
        let (tenants, tickets, changes) = (
            take(&mut tables, "tenants"),
            take(&mut tables, "tickets"),
            take(&mut tables, "changes"),
        );
        let mut queues: Vec<String> = tickets
            .rows
            .iter()
            .map(|r| r[tickets.table.column_index("queue").expect("queue")].clone())
            .filter(|q| !q.is_empty())
            .collect();
        queues.sort();
        queues.dedup();
        let documents = [
            (
                "autotask_companies.json",
                export::companies(&rows(&tenants)),
                tenants.rows.len(),
            ),
            ("autotask_picklists.json", export::picklists(&queues), 0),
            (
                "autotask_change_approvals.json",
                export::approvals(&rows(&changes)),
                0,
            ),
            ("autotask_change_links.json", export::links(&rows(&changes)), 0),
            (
                "autotask_tickets.json",
                export::tickets(&rows(&tickets), &rows(&changes), &queues),
                tickets.rows.len() + changes.rows.len(),
            ),
        ];
        for (name, document, count) in documents {
            let path = write_json(out, name, &document)?;
            let count = if count == 0 {
                document["items"].as_array().map_or(0, Vec::len)
            } else {
                count
            };
            written.push((path, count));
        }
    }
    for t in tables {
        let path = out.join(format!("{}.csv", t.table.name));
        write_canonical_csv(&path, t.table, t.rows.iter())?;
        written.push((path, t.rows.len()));
    }
    Ok(written)
}

fn write_canonical_csv<'a>(
    path: &Path,
    table: &Table,
    rows: impl Iterator<Item = &'a Vec<String>>,
) -> Result<usize> {
    let mut count = 0;
    crate::files::write_atomic(path, |file| {
        let mut w = csv::Writer::from_writer(file);
        w.write_record(table.columns.iter().map(|c| c.name))?;
        for row in rows {
            w.write_record(row)?;
            count += 1;
        }
        w.flush()?;
        Ok(())
    })?;
    Ok(count)
}

/// Writes the sample as the exports an MSP's inbox receives over time: one folder per snapshot
/// day, `out/YYYY-MM-DD/<table>_YYYY-MM-DD.csv`, holding that day's snapshots, the attempts since
/// the previous drop, and the tickets, changes and exceptions created since then (tenants come
/// with the first drop). For rehearsing the scheduled job: move each folder into the inbox and
/// run `govpack run daily --as-of` its day.
pub fn write_drops(spec: &SampleSpec, out: &Path) -> Result<Vec<(NaiveDate, PathBuf, usize)>> {
    use std::collections::{BTreeMap, BTreeSet};
    let tables = generate(spec)?;
    // The day each row belongs to, by table: snapshots by their date, events by when they happened.
    let day_column = |table: &str| match table {
        "devices" | "patch_status" | "device_patch_summary" => Some("snapshot_date"),
        "patch_attempts" => Some("attempt_utc"),
        "tickets" | "changes" => Some("created_utc"),
        "exceptions" => Some("approved_utc"),
        _ => None,
    };
    let day_of = |t: &TableRows, row: &[String]| -> Option<NaiveDate> {
        let column = t.table.column_index(day_column(t.table.name)?)?;
        row[column]
            .get(..10)
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    };
    let drop_days: BTreeSet<NaiveDate> = tables
        .iter()
        .filter(|t| t.table.name == "devices")
        .flat_map(|t| t.rows.iter().filter_map(|r| day_of(t, r)))
        .collect();
    let Some(first) = drop_days.first().copied() else {
        bail!("the sample has no devices snapshot");
    };
    // Each row goes to the first drop on or after its day (the last drop takes any later ones).
    let drop_for = |day: Option<NaiveDate>| -> NaiveDate {
        day.and_then(|d| drop_days.range(d..).next().copied())
            .unwrap_or_else(|| *drop_days.last().expect("one drop at least"))
    };
    let mut by_drop: BTreeMap<(NaiveDate, &str), Vec<&Vec<String>>> = BTreeMap::new();
    for t in &tables {
        for row in &t.rows {
            let day = if day_column(t.table.name).is_some() {
                drop_for(day_of(t, row))
            } else {
                first
            };
            by_drop.entry((day, t.table.name)).or_default().push(row);
        }
    }
    let mut written = Vec::new();
    for ((day, name), rows) in by_drop {
        let dir = out.join(day.to_string());
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let table = canonical::table(name).expect("a canonical table");
        let path = dir.join(format!("{name}_{day}.csv"));
        let count = write_canonical_csv(&path, table, rows.into_iter())?;
        written.push((day, path, count));
    }
    Ok(written)
}
