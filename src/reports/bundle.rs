//! Auditor evidence bundles: `evidence-<scope>-YYYY-MM/` holding the proof brief, the workbook,
//! the client deck, the runbook of the settings in force for the period (and, for the portfolio,
//! the failure-pattern analysis), CSV extracts of
//! each control's population and exceptions (what an auditor samples from), `run.json` (version,
//! parameters, what the figures rest on (clients whose RMM exports stopped, KPIs not measured and
//! the export each lacks), each control's result (`not_tested`, with a note, where the scope lacks
//! the export the test reads), inputs by SHA-256), `manifest.sha256` listing the SHA-256 of every other file in
//! `sha256sum` format (so `sha256sum -c manifest.sha256` checks it), and
//! `manifest.sha256.sha256` holding the hash of that list, as CMMC artifact hashing asks.
//! With `[evidence] signing_key`, `manifest.sha256.sig` seals the list with the MSP's SSH key
//! (`signature`): the hashes alone can be rebuilt by anyone who edits a file.
//!
//! A tenant's bundle is built from a session scoped to that tenant: every extract filters on
//! `in_scope(tenant_id)`, and nothing portfolio-wide (quarantine, input file names, failure
//! patterns across tenants) goes in.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use duckdb::Connection;

use super::signature::{self, AllowedSigners, EvidenceKey};
use crate::calendar::Period;
use crate::files::{Links, sha256_hex, sha256_of_file};
use crate::sql;

pub const MANIFEST: &str = "manifest.sha256";
/// The proof brief, which quotes the digest of the bundle's other files.
const BRIEF: &str = "proof-brief.pdf";
/// The client briefing deck.
pub const DECK: &str = "exec-brief.pptx";

/// Writes the bundle of one scope and period under `out`, returning its folder. `scope` is
/// `portfolio` or the tenant id the session is scoped to.
/// `key` signs the manifest when the MSP configured one.
pub fn write(
    conn: &Connection,
    period: Period,
    scope: &str,
    out: &Path,
    key: Option<&EvidenceKey>,
    brand: &super::Brand,
) -> Result<PathBuf> {
    let label = period.label();
    // The scope is a tenant id from the exports: it names one folder here, never a path.
    let dir = out.join(format!("evidence-{}-{label}", super::tenant_folder(scope)));
    // Built aside, verified, then swapped in whole: a bundle that fails half-way (a value no
    // format can hold, a full disk) leaves the bundle already issued as it was, and a file left
    // from an earlier run never sits in a bundle its manifest does not list.
    let mut aside = tempfile::Builder::new();
    aside.prefix(".evidence-building-");
    #[cfg(unix)]
    aside.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o755));
    let aside = aside
        .tempdir_in(out)
        .with_context(|| format!("cannot create a folder in {}", out.display()))?;
    build(conn, period, scope, aside.path(), key, brand)?;
    let problems = verify(aside.path())?;
    if !problems.is_empty() {
        bail!(
            "the bundle built for {scope} does not verify: {}",
            problems.join("; ")
        );
    }
    swap_in(aside, &dir)?;
    Ok(dir)
}

/// Puts a built bundle in place of `dir` (if there is one). The old bundle is moved aside first
/// and removed only once the new one is in place.
fn swap_in(built: tempfile::TempDir, dir: &Path) -> Result<()> {
    let out = dir.parent().expect("a bundle is inside its folder");
    let old = dir.exists().then(|| {
        out.join(format!(
            ".{}-replaced-{}",
            dir.file_name().expect("a bundle folder name").to_string_lossy(),
            std::process::id()
        ))
    });
    if let Some(old) = &old {
        std::fs::rename(dir, old).with_context(|| format!("cannot move {} aside", dir.display()))?;
    }
    let built = built.keep();
    if let Err(e) = std::fs::rename(&built, dir) {
        if let Some(old) = &old {
            std::fs::rename(old, dir).ok();
        }
        std::fs::remove_dir_all(&built).ok();
        return Err(e).with_context(|| format!("cannot put the new bundle in place at {}", dir.display()));
    }
    if let Some(old) = &old {
        std::fs::remove_dir_all(old).with_context(|| format!("cannot remove {}", old.display()))?;
    }
    crate::files::sync_dir(out)
}

/// Writes every file of a bundle into `dir` (an empty folder).
fn build(
    conn: &Connection,
    period: Period,
    scope: &str,
    dir: &Path,
    key: Option<&EvidenceKey>,
    brand: &super::Brand,
) -> Result<()> {
    let dir = dir.to_path_buf();
    let label = period.label();
    std::fs::create_dir_all(dir.join("controls"))?;
    super::workbook::write(conn, period, brand, &dir.join("kpi-and-risk-register.xlsx"))?;
    super::deck::write(conn, period, scope, brand, &dir.join(DECK))?;
    // The procedures in force for the period: what the figures were measured against.
    super::runbook::write_for_period(conn, period, scope, brand, &dir.join(super::runbook::FILE))?;
    // The writers above bound their own period; this function's queries read the same.
    super::bind_period(conn, period)?;
    let scoped: bool = conn.query_row("select scoped()", [], |r| r.get(0))?;
    if !scoped {
        // Patterns are counted across tenants: the portfolio's bundle only.
        super::failure_patterns::write(conn, period, &dir.join(format!("failure-patterns-{label}.xlsx")))?;
    }
    // One CSV of `controls/` from a query; returns its rows.
    let extract = |name: &str, query: &str| -> Result<usize> {
        let (names, rows) = sql::rows(conn, query).with_context(|| format!("extracting {name}"))?;
        crate::files::write_atomic(&dir.join("controls").join(format!("{name}.csv")), |f| {
            let mut w = csv::Writer::from_writer(f);
            w.write_record(&names)?;
            for row in &rows {
                w.write_record(row.iter().map(sql::Cell::to_csv))?;
            }
            w.flush()?;
            Ok(())
        })?;
        Ok(rows.len())
    };
    let mut controls = Vec::new();
    for test in super::controls::tests(conn)? {
        let mut counts = Vec::new();
        for (part, query) in [("population", &test.population), ("exceptions", &test.exceptions)] {
            counts.push(extract(&format!("{}-{part}", test.name), query)?);
        }
        let outcome = super::controls::judge(conn, &test.name, counts[0], counts[1])?;
        let mut control = serde_json::json!({
            "control": test.name,
            "population": outcome.population,
            "exceptions": outcome.exceptions,
            "result": outcome.result,
        });
        if let Some(note) = outcome.note {
            control["note"] = note.into();
        }
        controls.push(control);
    }
    let mut registers = serde_json::Map::new();
    for (name, query) in super::controls::registers(conn)? {
        registers.insert(format!("controls/{name}.csv"), extract(&name, &query)?.into());
    }
    // The reference tables (KEV catalog, CVRF documents) carry no client data: their files are in
    // every bundle's list.
    let reference = crate::canonical::TABLES
        .iter()
        .filter(|t| t.is_reference())
        .map(|t| sql::text(t.name))
        .collect();
    sql::bind(
        conn,
        &[("reference_tables", duckdb::types::Value::List(reference))],
    )?;
    let queries = sql::NamedQueries::read("reports/bundle.sql")?;
    let query = |name: &str| queries.bound(conn, name);
    let as_of = super::as_of(conn, period)?;
    // Input files: a tenant's bundle lists the files that brought its rows (`ingest_tenants`),
    // by digest and counts only, since MSPs often name export files after their clients.
    let (_, files) = sql::rows(conn, query("input-files")?)?;
    let inputs: Vec<&Vec<sql::Cell>> = files.iter().filter(|r| r[5] == sql::Cell::Bool(true)).collect();
    let unattributed = files.iter().filter(|r| r[6] == sql::Cell::Bool(true)).count() as i64;
    let inputs: Vec<serde_json::Value> = inputs
        .iter()
        .map(|r| {
            let mut v = serde_json::json!({
                "sha256": r[1].to_json(),
                "format": r[2].to_json(),
                "rows_loaded": r[3].to_json(),
                "snapshot_date": r[4].to_json()
            });
            if !scoped {
                v["file"] = r[0].to_json();
            }
            v
        })
        .collect();
    let (names, values) = sql::rows(conn, query("parameters")?)?;
    let parameters: serde_json::Map<String, serde_json::Value> = match values.first() {
        Some(row) => names
            .iter()
            .cloned()
            .zip(row.iter().map(sql::Cell::to_json))
            .collect(),
        None => serde_json::Map::new(),
    };
    // What the figures rest on: the clients whose RMM exports stopped, and the KPIs not measured
    // for want of an export (queries/reports/coverage.sql).
    let coverage_queries = sql::NamedQueries::read(super::controls::COVERAGE)?;
    let (_, stale) = sql::rows(conn, coverage_queries.bound(conn, "stale-clients")?)?;
    let (_, unmeasured) = sql::rows(conn, coverage_queries.bound(conn, "unmeasured-clients")?)?;
    let coverage = serde_json::json!({
        "stale_clients": stale
            .iter()
            .map(|r| serde_json::json!({"client": r[0].to_json(), "tenant_id": r[1].to_json(), "last_rmm_export": r[2].to_json()}))
            .collect::<Vec<_>>(),
        "not_measured": unmeasured
            .iter()
            .map(|r| serde_json::json!({
                "missing": r[0].to_json(),
                "clients": r[1].to_json(),
                "first_clients": r[2].to_json(),
                "kpis": r[4].to_text().split(',').collect::<Vec<_>>(),
            }))
            .collect::<Vec<_>>(),
    });
    let mut run = serde_json::json!({
        "govpack_version": env!("CARGO_PKG_VERSION"),
        "parameters": parameters,
        "coverage": coverage,
        "scope": scope,
        // The folder the scope's pack is in (`tenant_folder`): an id from an export may not be
        // a folder name as it is.
        "scope_folder": super::tenant_folder(scope),
        "period_start": period.start.to_string(),
        "as_of": as_of,
        "controls": controls,
        "registers": registers,
        "inputs": inputs,
    });
    if scoped {
        run["inputs_of_no_tenant"] = serde_json::json!({
            "files": unattributed,
            "note": "files that loaded no tenant's rows nor reference data (refused whole, or ingested \
                     before govpack recorded the tenants of each file): listed in the portfolio's run.json",
        });
    }
    crate::files::write_atomic(&dir.join("run.json"), |f| {
        serde_json::to_writer_pretty(&mut *f, &run)?;
        f.write_all(b"\n")?;
        Ok(())
    })?;
    // The brief quotes the digest of the evidence it summarises, so it is written last, over a
    // manifest of everything else; the final manifest then lists the brief too.
    let preliminary = manifest_text(&dir)?;
    let digest = sha256_hex(preliminary.as_bytes());
    super::proof_brief::write(conn, period, scope, Some(&digest), brand, &dir.join(BRIEF))?;
    let manifest = write_manifest(&dir)?;
    if let Some(key) = key {
        let sealed = key.sign(manifest.as_bytes())?;
        crate::files::write_atomic(&dir.join(signature::FILE), |f| {
            f.write_all(sealed.as_bytes()).map_err(Into::into)
        })?;
    }
    Ok(())
}

/// Every file of a bundle but the manifest, its hash and its signature, as paths relative to the
/// bundle.
fn bundle_files(dir: &Path) -> Result<BundleListing> {
    fn walk(dir: &Path, base: &Path, out: &mut BundleListing) -> Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            let relative = path
                .strip_prefix(base)
                .expect("inside the bundle")
                .to_string_lossy()
                .replace('\\', "/");
            // Never followed: a link in a bundle can lead anywhere (`root -> /`).
            let kind = entry.file_type()?;
            if kind.is_symlink() {
                out.odd
                    .push(format!("{relative}: a symbolic link; a bundle holds only files"));
            } else if kind.is_dir() {
                walk(&path, base, out)?;
            } else if !kind.is_file() {
                out.odd.push(format!(
                    "{relative}: not a regular file (a pipe, socket or device)"
                ));
            } else {
                let seal = relative == MANIFEST
                    || relative == format!("{MANIFEST}.sha256")
                    || relative == signature::FILE;
                if !seal {
                    out.files.push(relative);
                }
            }
        }
        Ok(())
    }
    let mut listing = BundleListing::default();
    walk(dir, dir, &mut listing)?;
    listing.files.sort();
    Ok(listing)
}

/// The files of a bundle folder (seal files apart) and what it holds that is no file.
#[derive(Default)]
struct BundleListing {
    files: Vec<String>,
    odd: Vec<String>,
}

/// The largest manifest, signature or brief `verify` reads whole: far above what a bundle holds,
/// far below what would hurt the machine checking it.
const LARGEST_READ_WHOLE: u64 = 256 << 20;

fn read_bundle_file(path: &Path) -> std::io::Result<Vec<u8>> {
    crate::files::read_regular(path, Links::Refuse, LARGEST_READ_WHOLE)
}

/// The `sha256sum` lines of every file of the bundle but the manifest and its hash.
fn manifest_text(dir: &Path) -> Result<String> {
    let mut manifest = String::new();
    let listing = bundle_files(dir)?;
    if let Some(odd) = listing.odd.first() {
        bail!("{}: {odd}", dir.display());
    }
    for file in listing.files {
        let digest = sha256_of_file(&dir.join(&file), Links::Refuse)?;
        manifest.push_str(&format!("{digest}  {file}\n"));
    }
    Ok(manifest)
}

/// Writes the manifest and its hash, returning the manifest.
fn write_manifest(dir: &Path) -> Result<String> {
    let manifest = manifest_text(dir)?;
    crate::files::write_atomic(&dir.join(MANIFEST), |f| {
        f.write_all(manifest.as_bytes()).map_err(Into::into)
    })?;
    let digest = sha256_hex(manifest.as_bytes());
    let line = format!("{digest}  {MANIFEST}\n");
    crate::files::write_atomic(&dir.join(format!("{MANIFEST}.sha256")), |f| {
        f.write_all(line.as_bytes()).map_err(Into::into)
    })?;
    Ok(manifest)
}

/// What `check` found: problems (none when the bundle is intact) and, when it is signed and the
/// signature holds, who signed it.
pub struct Verification {
    pub problems: Vec<String>,
    pub sealed_by: Option<String>,
}

/// What `check` finds wrong with a bundle, without a list of allowed signers; empty when intact.
pub fn verify(dir: &Path) -> Result<Vec<String>> {
    Ok(check(dir, None)?.problems)
}

/// Checks a bundle: every file against the manifest, the manifest against its hash, the digest
/// the proof brief quotes against the manifest, and the signature when there is one. With
/// `allowed`, the bundle must be signed by one of those keys.
pub fn check(dir: &Path, allowed: Option<&AllowedSigners>) -> Result<Verification> {
    let manifest_path = dir.join(MANIFEST);
    let manifest = match read_bundle_file(&manifest_path) {
        Ok(bytes) => {
            String::from_utf8(bytes).with_context(|| format!("{} is not text", manifest_path.display()))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!("{} has no {MANIFEST}", dir.display()),
        Err(e) => bail!("{}: cannot read: {e}", manifest_path.display()),
    };
    let mut problems = Vec::new();
    match read_bundle_file(&dir.join(format!("{MANIFEST}.sha256"))) {
        Ok(line)
            if String::from_utf8_lossy(&line).split_whitespace().next()
                == Some(sha256_hex(manifest.as_bytes()).as_str()) => {}
        Ok(_) => problems.push(format!(
            "{MANIFEST} does not match {MANIFEST}.sha256: the list was changed"
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            problems.push(format!("{MANIFEST}.sha256 is missing"))
        }
        Err(e) => problems.push(format!("{MANIFEST}.sha256: cannot read: {e}")),
    }
    let mut listed = Vec::new();
    for (i, line) in manifest.lines().enumerate() {
        let Some((digest, file)) = line.split_once("  ") else {
            problems.push(format!("{MANIFEST} line {}: not `<sha256>  <file>`", i + 1));
            continue;
        };
        listed.push(file.to_string());
        // An entry can name only a file of the bundle: never a path that leaves it.
        let inside = std::path::Path::new(file)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
            && !file.contains('\\')
            && !file.contains(':');
        if !inside {
            problems.push(format!(
                "{MANIFEST} line {}: `{file}` is not a file of the bundle",
                i + 1
            ));
            continue;
        }
        // O_NOFOLLOW guards the last part of a path only: a folder on the way may not be a link.
        let through_link = std::path::Path::new(file).ancestors().skip(1).any(|folder| {
            !folder.as_os_str().is_empty()
                && std::fs::symlink_metadata(dir.join(folder)).is_ok_and(|m| m.file_type().is_symlink())
        });
        if through_link {
            problems.push(format!(
                "{file}: reached through a symbolic link; a bundle holds only files"
            ));
            continue;
        }
        match sha256_of_file(&dir.join(file), Links::Refuse) {
            Ok(actual) if actual == digest => {}
            Ok(_) => problems.push(format!("{file}: content differs from the manifest")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                problems.push(format!("{file}: listed but missing"))
            }
            Err(e) => problems.push(format!("{file}: cannot be checked: {e}")),
        }
    }
    let listing = bundle_files(dir)?;
    problems.extend(listing.odd);
    for file in listing.files {
        if !listed.contains(&file) {
            problems.push(format!("{file}: in the bundle but not in the manifest"));
        }
    }
    if listed.iter().any(|f| f == BRIEF) {
        problems.extend(brief_digest_problem(dir, &manifest));
    }
    let sealed = match read_bundle_file(&dir.join(signature::FILE)) {
        Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            problems.push(format!("{}: cannot read: {e}", signature::FILE));
            None
        }
    };
    let sealed_by = match signature::check(manifest.as_bytes(), sealed.as_deref(), allowed) {
        Ok(by) => by,
        Err(problem) => {
            problems.push(problem);
            None
        }
    };
    Ok(Verification { problems, sealed_by })
}

/// The brief was written over a manifest of every other file and quotes that manifest's digest,
/// so a brief handed round stays tied to its evidence: a file changed and both manifests rebuilt
/// with `sha256sum` no longer match the digest the brief quotes.
fn brief_digest_problem(dir: &Path, manifest: &str) -> Option<String> {
    let others: String = manifest
        .lines()
        .filter(|line| line.split_once("  ").is_none_or(|(_, file)| file != BRIEF))
        .map(|line| format!("{line}\n"))
        .collect();
    let expected = sha256_hex(others.as_bytes());
    let bytes = match read_bundle_file(&dir.join(BRIEF)) {
        Ok(bytes) => bytes,
        Err(e) => return Some(format!("{BRIEF}: cannot read: {e}")),
    };
    let text = lopdf::Document::load_mem(&bytes).and_then(|pdf| {
        let pages: Vec<u32> = pdf.get_pages().keys().copied().collect();
        pdf.extract_text(&pages)
    });
    match text {
        Ok(text) => {
            let squashed: String = text.split_whitespace().collect();
            (!squashed.contains(&expected)).then(|| {
                format!(
                    "{BRIEF} does not quote the digest of the bundle's other files ({expected}): \
                     the brief and the evidence were not issued together"
                )
            })
        }
        Err(e) => Some(format!("{BRIEF}: cannot read its text: {e}")),
    }
}
