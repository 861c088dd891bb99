//! The sample MSP: a deterministic, realistic managed-service provider, simulated here as
//! canonical rows (`writers` puts them into files: canonical CSV or vendor shapes).
//!
//! Same options, same bytes: every draw comes from seeded ChaCha8 streams (`--seed`), in a
//! fixed order, and nothing reads the clock (the last day is `--until`). What it holds, so that
//! every KPI has something to find:
//! - tenants of mixed criticality; one reports per-device summaries only (like the Datto RMM API),
//!   one takes daily snapshots, the others weekly;
//! - servers with roles and workstations with pilot/regular rings and overnight/daytime tracks;
//!   devices that join, retire, go stale, are excluded or set to do-not-patch;
//! - monthly Patch Tuesday cumulative updates per OS, .NET, optional previews, drivers, feature
//!   updates, an out-of-band server update, and third-party patches (one with no release date);
//! - install attempts by ring, with failures that cluster on one bad update a month and a few error
//!   codes, some recurring on the same device for days;
//! - remediation tickets for failures, most at the first failure, with SLAs (some breached) and
//!   root causes (some missing), background PSA tickets;
//! - changes of every type and outcome, rollbacks, CAB gaps, emergency changes, a closed change
//!   without an end time; exceptions active, expired and tenant-wide;
//! - what the operating model's controls test: a declined-by-default driver one client approved,
//!   third-party updates pending review, daytime users putting reboots off;
//! - the public vulnerability data of its Microsoft updates: a KEV catalog and monthly MSRC CVRF
//!   documents, written in their publishers' JSON (`kev` and `patch_cves` in canonical CSV in
//!   `--drops`).

use anyhow::{Result, bail};
use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, Utc, Weekday};
use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::calendar::patch_tuesday;
use crate::canonical::{self, TABLES, Table};

mod estate;
mod patching;
mod psa;
mod vulnerabilities;
mod writers;

pub use writers::{SampleFormat, write, write_as, write_drops};

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleSpec {
    pub tenants: usize,
    pub devices: usize,
    pub months: u32,
    pub seed: u64,
    /// The last day of the data.
    pub until: NaiveDate,
}

/// The options the committed `sample_data/` was generated with (see sample_data/README.md).
pub fn committed_spec() -> SampleSpec {
    SampleSpec {
        tenants: 4,
        devices: 60,
        months: 3,
        seed: 42,
        until: NaiveDate::from_ymd_opt(2026, 10, 31).expect("valid date"),
    }
}

/// Rows of one canonical table, each in the table's column order, as CSV text cells.
#[derive(Debug, Clone)]
pub struct TableRows {
    pub table: &'static Table,
    pub rows: Vec<Vec<String>>,
}

impl TableRows {
    fn new(table: &'static Table) -> Self {
        TableRows {
            table,
            rows: Vec::new(),
        }
    }

    /// Adds a row from (column, cell) pairs; columns not named are empty.
    fn push(&mut self, cells: &[(&str, String)]) {
        let mut row = vec![String::new(); self.table.columns.len()];
        for (name, value) in cells {
            let index = self.table.column_index(name).unwrap_or_else(|| {
                panic!("sample generator names unknown column {}.{name}", self.table.name)
            });
            row[index] = value.clone();
        }
        self.rows.push(row);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cadence {
    Daily,
    Weekly,
}

#[derive(Debug, Clone)]
struct Tenant {
    id: String,
    prefix: &'static str,
    criticality: &'static str,
    cadence: Cadence,
    /// Reports device_patch_summary instead of patch_status and attempts.
    summary_only: bool,
    /// Its export carries policy_tier; the others leave it to the config's rules.
    explicit_tiers: bool,
}

/// A row being built: (column, CSV cell) pairs.
type Cells = Vec<(&'static str, String)>;

/// How a generated change ends, when it is not left to chance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Natural,
    /// Not started when the data ends.
    Open,
    Cancelled,
    /// Closed, but the PSA export has no actual end time.
    EndTimeLost,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Os {
    Win11,
    Win10,
    Server2019,
    Server2022,
    Server2025,
}

impl Os {
    fn name(self) -> &'static str {
        match self {
            Os::Win11 => "Microsoft Windows 11 Pro 24H2",
            Os::Win10 => "Microsoft Windows 10 Pro 22H2",
            Os::Server2019 => "Microsoft Windows Server 2019 Standard",
            Os::Server2022 => "Microsoft Windows Server 2022 Standard",
            Os::Server2025 => "Microsoft Windows Server 2025 Standard",
        }
    }

    fn product(self) -> &'static str {
        match self {
            Os::Win11 => "Windows 11 Version 24H2 for x64-based Systems",
            Os::Win10 => "Windows 10 Version 22H2 for x64-based Systems",
            Os::Server2019 => "Windows Server 2019 for x64-based Systems",
            Os::Server2022 => "Microsoft server operating system version 21H2 for x64-based Systems",
            Os::Server2025 => "Microsoft server operating system version 24H2 for x64-based Systems",
        }
    }

    fn is_server(self) -> bool {
        matches!(self, Os::Server2019 | Os::Server2022 | Os::Server2025)
    }
}

const OSES: [Os; 5] = [
    Os::Win11,
    Os::Win10,
    Os::Server2019,
    Os::Server2022,
    Os::Server2025,
];

#[derive(Debug, Clone)]
struct Device {
    tenant: usize,
    id: String,
    hostname: String,
    class: &'static str,
    role: Option<&'static str>,
    os: Os,
    ring: &'static str,
    track: Option<&'static str>,
    policy: &'static str,
    excluded: bool,
    exclusion_reason: Option<&'static str>,
    joined: NaiveDate,
    retired: Option<NaiveDate>,
    offline_from: Option<NaiveDate>,
    tier: Option<&'static str>,
}

impl Device {
    fn present_on(&self, day: NaiveDate) -> bool {
        self.joined <= day && self.retired.is_none_or(|r| day < r)
    }

    fn patched(&self) -> bool {
        !self.excluded && self.policy != "do_not_patch"
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Applies {
    Os(Os),
    AllWindows,
    Servers,
    Workstations,
}

#[derive(Debug, Clone)]
struct Patch {
    id: String,
    title: String,
    vendor: &'static str,
    classification: &'static str,
    severity: &'static str,
    release: NaiveDate,
    /// Whether the RMM reports the release date (third-party catalogues sometimes do not).
    release_known: bool,
    approval: &'static str,
    /// The one tenant whose technicians approved it, against the MSP's default (`approval`).
    approved_for: Option<usize>,
    /// For an update pending review: days after its release a technician decided, and how.
    reviewed: Option<(i64, &'static str)>,
    applies: Applies,
    failure_rate: f64,
    errors: &'static [&'static str],
}

impl Patch {
    /// A patch that installs everywhere it is tried, with its release date known.
    fn new(
        id: String,
        title: String,
        vendor: &'static str,
        (classification, severity): (&'static str, &'static str),
        release: NaiveDate,
        approval: &'static str,
        applies: Applies,
    ) -> Patch {
        Patch {
            id,
            title,
            vendor,
            classification,
            severity,
            release,
            release_known: true,
            approval,
            approved_for: None,
            reviewed: None,
            applies,
            failure_rate: 0.0,
            errors: &[],
        }
    }

    fn failing(self, failure_rate: f64, errors: &'static [&'static str]) -> Patch {
        Patch {
            failure_rate,
            errors,
            ..self
        }
    }

    fn approved_for(self, tenant: usize) -> Patch {
        Patch {
            approved_for: Some(tenant),
            ..self
        }
    }

    fn reviewed(self, days: i64, decision: &'static str) -> Patch {
        Patch {
            reviewed: Some((days, decision)),
            ..self
        }
    }

    /// The approval an RMM shows for the patch on a tenant's devices on a day.
    fn approval_on(&self, tenant: usize, day: NaiveDate) -> &'static str {
        match self.reviewed {
            Some((days, decision)) if day >= self.release + Duration::days(days) => decision,
            _ if self.approved_for == Some(tenant) => "approved",
            _ => self.approval,
        }
    }

    fn release_unknown(self) -> Patch {
        Patch {
            release_known: false,
            ..self
        }
    }

    fn applies_to(&self, d: &Device) -> bool {
        match self.applies {
            Applies::Os(os) => d.os == os,
            Applies::AllWindows => d.class != "other",
            Applies::Servers => d.os.is_server(),
            Applies::Workstations => d.class == "workstation",
        }
    }
}

#[derive(Debug, Clone)]
struct Attempt {
    at: DateTime<Utc>,
    success: bool,
    error: Option<&'static str>,
}

/// What happened to one device and one patch over the whole timeline.
#[derive(Debug, Clone, Default)]
struct PairHistory {
    not_applicable: bool,
    attempts: Vec<Attempt>,
    installed: Option<DateTime<Utc>>,
    rebooted: Option<DateTime<Utc>>,
}

impl PairHistory {
    /// The patch state an RMM would report at `at`.
    fn state_at(&self, at: DateTime<Utc>) -> &'static str {
        if self.not_applicable {
            return "not_applicable";
        }
        match self.attempts.iter().rev().find(|a| a.at <= at) {
            None => "missing",
            Some(a) if !a.success => "failed",
            Some(_) if self.rebooted.is_some_and(|r| r <= at) => "installed",
            Some(_) => "pending_reboot",
        }
    }
}

/// The title its publisher gives a sample CVE, by its number within its month (see
/// `vulnerabilities`).
fn cve_title(cve: &str) -> &'static str {
    const OWN: [&str; 5] = [
        "Windows Remote Desktop Services Remote Code Execution Vulnerability",
        "Windows SMBv3 Client Remote Code Execution Vulnerability",
        "Windows Hyper-V Remote Code Execution Vulnerability",
        "Windows Print Spooler Remote Code Execution Vulnerability",
        "Windows Netlogon Remote Code Execution Vulnerability",
    ];
    if cve.ends_with("-5419") {
        return "Chromium V8 Type Confusion Vulnerability";
    }
    match cve
        .rsplit('-')
        .next()
        .and_then(|n| n.parse::<usize>().ok())
        .map(|n| n % 100)
    {
        Some(1) => "Windows Kernel Elevation of Privilege Vulnerability",
        Some(k @ 2..=6) => OWN[k - 2],
        Some(10) => ".NET Framework Denial of Service Vulnerability",
        _ => "Windows Server Remote Code Execution Vulnerability",
    }
}

/// Which random stream a ticket's draws come from: the workflow tickets draw from their own, so
/// that adding them left every other generated row as it was.
#[derive(Debug, Clone, Copy)]
enum TicketDraws {
    Main,
    Workflow,
}

/// What a technician writes as the root cause of a failed install, by its error code.
fn root_cause(code: &str) -> &'static str {
    match code {
        "0x800f0922" => "System Reserved partition too small; extended with diskpart and retried",
        "0x80073712" => "Component store corruption; repaired with DISM /RestoreHealth",
        "0x80070070" => "System volume full; cleared WinSxS and temp files",
        "0x80070643" => ".NET installer state broken; ran the .NET repair tool",
        "0x8024402c" => "Proxy settings blocked Windows Update; fixed WinHTTP proxy",
        "1603" => "Application running during install; closed it and reinstalled",
        _ => "Install retried after reboot",
    }
}

/// A remediation ticket for a failed install, with the SLA of its device's priority.
#[allow(clippy::too_many_arguments)]
fn remediation_ticket(
    tenant: &Tenant,
    d: &Device,
    patch: &Patch,
    code: &str,
    created: DateTime<Utc>,
    status: &str,
    resolved: Option<DateTime<Utc>>,
    root_cause: Option<&str>,
) -> Cells {
    let priority: i64 = match (d.class, tenant.criticality) {
        ("server", "critical" | "high") => 1,
        ("server", _) => 2,
        (_, "critical") => 2,
        _ => 3,
    };
    let sla_hours = [24, 72, 120, 240][priority as usize - 1];
    vec![
        ("tenant_id", tenant.id.clone()),
        ("ticket_type", "remediation".into()),
        (
            "title",
            format!("Patch failure: {} on {} ({code})", patch.id, d.hostname),
        ),
        ("priority", priority.to_string()),
        ("status", status.into()),
        ("created_utc", ts(created)),
        ("resolved_utc", resolved.map(ts).unwrap_or_default()),
        ("due_utc", ts(created + Duration::hours(sla_hours))),
        ("queue", "Patch Management".into()),
        ("device_id", d.id.clone()),
        ("patch_id", patch.id.clone()),
        ("root_cause", opt(root_cause)),
    ]
}

const TENANT_NAMES: [(&str, &str); 10] = [
    ("Northwind Dental Group", "NWD"),
    ("Harbor Freight Logistics", "HFL"),
    ("Cedar Valley Family Clinic", "CVC"),
    ("Summit & Vale Legal LLP", "SVL"),
    ("Bluewater Manufacturing", "BWM"),
    ("Pinecrest Academy", "PCA"),
    ("Oakridge Community Credit Union", "OCU"),
    ("Meridian Architects", "MRA"),
    ("Lakeside Veterinary Partners", "LVP"),
    ("Granite Peak Engineering", "GPE"),
];

const ERROR_MESSAGES: [(&str, &str); 8] = [
    (
        "0x800f0922",
        "CBS_E_INSTALLERS_FAILED: the update could not be installed (System Reserved partition too small or VPN blocking)",
    ),
    (
        "0x80073712",
        "ERROR_SXS_COMPONENT_STORE_CORRUPT: the component store has been corrupted",
    ),
    (
        "0x800f081f",
        "CBS_E_SOURCE_MISSING: the source files could not be found",
    ),
    (
        "0x80070643",
        "ERROR_INSTALL_FAILURE: fatal error during installation",
    ),
    (
        "0x8024402c",
        "WU_E_PT_WINHTTP_NAME_NOT_RESOLVED: the proxy or update server name could not be resolved",
    ),
    (
        "0x80070070",
        "ERROR_DISK_FULL: there is not enough space on the disk",
    ),
    (
        "0x80240022",
        "WU_E_ALL_UPDATES_FAILED: operation failed for all the updates",
    ),
    ("1603", "MSI exit code 1603: fatal error during installation"),
];

fn error_message(code: &str) -> &'static str {
    ERROR_MESSAGES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("installation failed", |(_, m)| *m)
}

fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn at(d: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    d.and_hms_opt(hour, minute, 0).expect("valid time").and_utc()
}

fn yes(b: bool) -> String {
    if b { "true".into() } else { "false".into() }
}

fn opt(s: Option<&str>) -> String {
    s.unwrap_or_default().to_string()
}

/// The summary status an RMM reports for a device under a patch policy, from its counts of
/// approved patches that failed, wait for a reboot, or wait to install: the worst state wins.
pub fn summary_status(failed: u64, pending_reboot: u64, approved_pending: u64) -> &'static str {
    if failed > 0 {
        "install_error"
    } else if pending_reboot > 0 {
        "reboot_required"
    } else if approved_pending > 0 {
        "approved_pending"
    } else {
        "fully_patched"
    }
}

/// Generates every canonical table of the sample MSP.
pub fn generate(spec: &SampleSpec) -> Result<Vec<TableRows>> {
    if spec.tenants == 0 || spec.tenants > TENANT_NAMES.len() {
        bail!("--tenants must be from 1 to {}", TENANT_NAMES.len());
    }
    if spec.devices < spec.tenants * 3 {
        bail!(
            "--devices must be at least 3 per tenant ({} for {} tenants)",
            spec.tenants * 3,
            spec.tenants
        );
    }
    if spec.months == 0 || spec.months > 24 {
        bail!("--months must be from 1 to 24");
    }
    let mut g = Generator::new(spec);
    g.tenants();
    g.devices();
    g.catalogue();
    g.histories();
    g.snapshots();
    g.attempts();
    g.tickets();
    g.changes();
    g.exceptions();
    g.vulnerabilities();
    Ok(g.finish())
}

struct Generator<'a> {
    spec: &'a SampleSpec,
    rng: ChaCha8Rng,
    start: NaiveDate,
    tenants: Vec<Tenant>,
    devices: Vec<Device>,
    patches: Vec<Patch>,
    /// histories[device][patch]
    histories: Vec<Vec<PairHistory>>,
    out: Vec<TableRows>,
    next_ticket: u64,
    /// The draws of what the workflow controls (C8-C13) look at, apart from `rng`, so that adding
    /// them left the rest of the sample as it was.
    workflow_rng: ChaCha8Rng,
}

impl<'a> Generator<'a> {
    fn new(spec: &'a SampleSpec) -> Self {
        let first_of_last = spec.until.with_day(1).expect("day 1");
        let start = first_of_last - Months::new(spec.months - 1);
        Generator {
            spec,
            rng: ChaCha8Rng::seed_from_u64(spec.seed),
            start,
            tenants: Vec::new(),
            devices: Vec::new(),
            patches: Vec::new(),
            histories: Vec::new(),
            out: TABLES.iter().map(|t| TableRows::new(t)).collect(),
            next_ticket: 31_000,
            workflow_rng: ChaCha8Rng::seed_from_u64(spec.seed.wrapping_add(1)),
        }
    }

    fn table(&mut self, table: &Table) -> &mut TableRows {
        self.out
            .iter_mut()
            .find(|t| t.table.name == table.name)
            .expect("canonical table")
    }

    fn finish(self) -> Vec<TableRows> {
        self.out
    }

    fn days(&self) -> impl Iterator<Item = NaiveDate> + use<> {
        let (start, until) = (self.start, self.spec.until);
        start.iter_days().take_while(move |d| *d <= until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_options_are_refused() {
        let mut spec = committed_spec();
        spec.tenants = 0;
        assert!(generate(&spec).is_err());
        let mut spec = committed_spec();
        spec.devices = 5;
        assert!(generate(&spec).is_err());
    }
}
