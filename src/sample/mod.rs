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

use crate::canonical::{self, TABLES, Table};
use crate::catalog::patch_tuesday;

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

    fn tenants(&mut self) {
        let criticalities = [
            "critical", "high", "standard", "low", "standard", "high", "standard", "critical", "low",
            "standard",
        ];
        let n = self.spec.tenants;
        for i in 0..n {
            let (name, prefix) = TENANT_NAMES[i];
            let tenant = Tenant {
                id: (29_683_500 + 17 * i as u64).to_string(),
                prefix,
                criticality: criticalities[i],
                cadence: Cadence::Weekly,
                summary_only: n >= 3 && i == 2,
                explicit_tiers: i % 2 == 0,
            };
            let site = format!(
                "{:08x}-5e1f-4c2a-9d3b-{:012x}",
                0x1a2b_0000u32 + i as u32,
                0xa11c_e000_0000u64 + i as u64
            );
            self.table(&canonical::TENANTS).push(&[
                ("tenant_id", tenant.id.clone()),
                ("tenant_name", name.into()),
                ("criticality", tenant.criticality.into()),
                ("psa_company_id", tenant.id.clone()),
                ("rmm_site_id", site),
            ]);
            self.tenants.push(tenant);
        }
    }

    fn devices(&mut self) {
        let n = self.tenants.len();
        let weights: Vec<f64> = (0..n).map(|_| self.rng.random_range(0.6..1.4)).collect();
        let total: f64 = weights.iter().sum();
        let mut counts: Vec<usize> = weights
            .iter()
            .map(|w| ((w / total) * self.spec.devices as f64).floor().max(3.0) as usize)
            .collect();
        while counts.iter().sum::<usize>() < self.spec.devices {
            let i = self.rng.random_range(0..n);
            counts[i] += 1;
        }
        while counts.iter().sum::<usize>() > self.spec.devices {
            let i = counts
                .iter()
                .enumerate()
                .max_by_key(|(_, c)| **c)
                .map(|(i, _)| i)
                .expect("tenants");
            counts[i] -= 1;
        }
        // The smallest tenant with patch detail sends daily snapshots.
        if let Some(daily) = (0..n)
            .filter(|i| !self.tenants[*i].summary_only)
            .min_by_key(|i| counts[*i])
        {
            self.tenants[daily].cadence = Cadence::Daily;
        }
        let roles = [
            "domain_controller",
            "file",
            "sql",
            "app",
            "backup",
            "hypervisor",
            "web",
            "utility",
        ];
        let days: Vec<NaiveDate> = self.days().collect();
        for (t, &count) in counts.iter().enumerate() {
            let servers = ((count as f64 * 0.18).round() as usize).max(1);
            let mut ws = 0;
            for k in 0..count {
                let tenant = &self.tenants[t];
                let is_server = k < servers;
                let is_other = !is_server && k == count - 1 && count >= 8;
                let (class, role, os, hostname) = if is_server {
                    let role = roles[k % roles.len()];
                    let os = *[Os::Server2019, Os::Server2022, Os::Server2022, Os::Server2025]
                        .choose(&mut self.rng)
                        .expect("non-empty");
                    let short = match role {
                        "domain_controller" => "DC",
                        "file" => "FS",
                        "sql" => "SQL",
                        "app" => "APP",
                        "backup" => "BKP",
                        "hypervisor" => "HV",
                        "web" => "WEB",
                        _ => "UTL",
                    };
                    (
                        "server",
                        Some(role),
                        os,
                        format!("{}-{short}{:02}", tenant.prefix, k / roles.len() + 1),
                    )
                } else if is_other {
                    (
                        "other",
                        Some("kiosk"),
                        Os::Win10,
                        format!("{}-KIOSK01", tenant.prefix),
                    )
                } else {
                    ws += 1;
                    let os = if self.rng.random_bool(0.3) {
                        Os::Win10
                    } else {
                        Os::Win11
                    };
                    let kind = if self.rng.random_bool(0.35) { "LT" } else { "WS" };
                    (
                        "workstation",
                        None,
                        os,
                        format!("{}-{kind}{ws:03}", tenant.prefix),
                    )
                };
                let ring = match class {
                    "server" if k == 1 && servers > 2 => "test",
                    "server" => "production",
                    _ if ws > 0 && ws <= 2 => "pilot",
                    _ => "regular",
                };
                let track = (class == "workstation").then(|| {
                    if self.rng.random_bool(0.7) {
                        "overnight"
                    } else {
                        "daytime"
                    }
                });
                let mut policy = match class {
                    "server" if self.rng.random_bool(0.35) => "manual",
                    "server" => "auto_install_manual_reboot",
                    "other" => "auto_install_auto_reboot",
                    _ if self.rng.random_bool(0.15) => "auto_install_manual_reboot",
                    _ => "auto_install_auto_reboot",
                };
                let mut excluded = false;
                let mut exclusion_reason = None;
                if class == "workstation" && ws == 5 {
                    excluded = true;
                    exclusion_reason = Some("Lab instrument PC: vendor certifies only its own image");
                }
                if class == "workstation" && ws == 9 {
                    policy = "do_not_patch";
                }
                let joined = if k > 3 && self.rng.random_bool(0.05) {
                    days[self.rng.random_range(0..days.len())]
                } else {
                    self.start
                };
                let retired = (k > 3 && self.rng.random_bool(0.04))
                    .then(|| days[self.rng.random_range(days.len() / 3..days.len())]);
                let offline_from = (!is_server && self.rng.random_bool(0.06))
                    .then(|| days[self.rng.random_range(days.len() / 2..days.len())]);
                let tier = tenant.explicit_tiers.then_some(match (class, role) {
                    ("server", Some("domain_controller" | "hypervisor")) => "critical_servers",
                    ("server", _) if matches!(tenant.criticality, "critical" | "high") => "critical_servers",
                    ("server", _) => "servers",
                    ("workstation", _) => "workstations",
                    _ => "other",
                });
                let id = format!("{}-{:04}", tenant.prefix.to_ascii_lowercase(), 1000 + k * 7);
                self.devices.push(Device {
                    tenant: t,
                    id,
                    hostname,
                    class,
                    role,
                    os,
                    ring,
                    track,
                    policy,
                    excluded,
                    exclusion_reason,
                    joined,
                    retired,
                    offline_from,
                    tier,
                });
            }
        }
    }

    /// Patches released from one month before the data starts until its last day.
    fn catalogue(&mut self) {
        const SECURITY_CRITICAL: (&str, &str) = ("security", "critical");
        const SECURITY_IMPORTANT: (&str, &str) = ("security", "important");
        let first = self.start - Months::new(1);
        let mut kb = 5_044_000u64;
        let mut month = first;
        let mut n = 0;
        while month <= self.spec.until {
            let (y, m) = (month.year(), month.month());
            let tuesday = patch_tuesday(y, m);
            let label = format!("{y}-{m:02}");
            let ms = |kb: u64, title: String, kind, release, approval, applies| {
                Patch::new(
                    format!("KB{kb}"),
                    title,
                    "Microsoft",
                    kind,
                    release,
                    approval,
                    applies,
                )
            };
            let bad_os = *[Os::Win10, Os::Win11, Os::Server2019]
                .choose(&mut self.rng)
                .expect("non-empty");
            for os in OSES {
                kb += 31;
                let title = format!("{label} Cumulative Update for {} (KB{kb})", os.product());
                let kind = if n % 3 == 0 {
                    SECURITY_CRITICAL
                } else {
                    SECURITY_IMPORTANT
                };
                let cu = ms(kb, title, kind, tuesday, "approved", Applies::Os(os));
                self.patches.push(if os == bad_os {
                    cu.failing(0.22, &["0x800f0922", "0x800f0922", "0x80073712"])
                } else {
                    cu.failing(0.02, &["0x80073712", "0x8024402c", "0x80070070"])
                });
            }
            kb += 13;
            let title = format!("{label} Cumulative Update for .NET Framework 3.5, 4.8 and 4.8.1 (KB{kb})");
            let dotnet = ms(
                kb,
                title,
                SECURITY_IMPORTANT,
                tuesday,
                "approved",
                Applies::AllWindows,
            );
            self.patches
                .push(dotnet.failing(if n % 2 == 1 { 0.12 } else { 0.03 }, &["0x80070643"]));
            kb += 7;
            let title = format!("{label} Cumulative Update Preview for Windows 11 Version 24H2 (KB{kb})");
            let preview = tuesday + Duration::days(14);
            let kind = ("optional", "unspecified");
            self.patches.push(ms(
                kb,
                title,
                kind,
                preview,
                "not_approved",
                Applies::Os(Os::Win11),
            ));
            if n % 2 == 0 {
                kb += 5;
                let title = format!("Intel - System - {label} driver update (KB{kb})");
                let kind = ("driver", "unspecified");
                let release = tuesday + Duration::days(3);
                self.patches
                    .push(ms(kb, title, kind, release, "declined", Applies::Workstations));
            }
            // Third-party: Chrome every month, Acrobat Reader every other month, both security.
            let chrome = format!("{}.0.{}.{}", 128 + n, 6600 + 60 * n, 70 + 3 * n);
            let release = tuesday + Duration::days(1);
            self.patches.push(
                Patch::new(
                    format!("chrome-{chrome}"),
                    format!("Google Chrome {chrome}"),
                    "Google",
                    SECURITY_CRITICAL,
                    release,
                    "approved",
                    Applies::Workstations,
                )
                .failing(0.03, &["1603"]),
            );
            if n % 2 == 1 {
                let reader = format!("24.00{}.2{}", 3 + n, 100 + 11 * n);
                self.patches.push(
                    Patch::new(
                        format!("acrobat-reader-{reader}"),
                        format!("Adobe Acrobat Reader DC {reader}"),
                        "Adobe",
                        SECURITY_IMPORTANT,
                        tuesday,
                        "approved",
                        Applies::Workstations,
                    )
                    .failing(0.05, &["1603", "0x80070643"]),
                );
            }
            if n == 1 {
                // The catalogue lists this one without a release date: it is overdue from day one.
                self.patches.push(
                    Patch::new(
                        "7zip-24.08".into(),
                        "7-Zip 24.08 (x64)".into(),
                        "Igor Pavlov",
                        ("security", "moderate"),
                        tuesday + Duration::days(6),
                        "approved",
                        Applies::Workstations,
                    )
                    .failing(0.02, &["1603"])
                    .release_unknown(),
                );
                kb += 3;
                let title = format!("Feature update to Windows 11, version 25H2 (KB{kb})");
                let kind = ("feature", "unspecified");
                let release = tuesday + Duration::days(20);
                self.patches
                    .push(ms(kb, title, kind, release, "declined", Applies::Os(Os::Win10)));
            }
            if n == self.spec.months.min(2) {
                // An out-of-band fix for an actively exploited server flaw, on a Thursday.
                kb += 1;
                let title = format!("Out-of-band security update for Windows Server (KB{kb})");
                let release = tuesday + Duration::days(9);
                let oob = ms(
                    kb,
                    title,
                    ("critical", "critical"),
                    release,
                    "approved",
                    Applies::Servers,
                );
                self.patches.push(oob.failing(0.08, &["0x800f081f"]));
            }
            // The hardware vendor's graphics driver, declined by default but approved for one
            // client (control C10), and third-party updates that wait for a person's review
            // (control C11): Notepad++ is reviewed (and declined) in five days, Zoom never is.
            // None is installed here: approved drivers wait for the next window.
            let driver = format!("31.0.101.{}", 5500 + 30 * n);
            self.patches.push(
                Patch::new(
                    format!("dell-igfx-{driver}"),
                    format!("Dell - Display - Intel(R) Graphics driver {driver}"),
                    "Dell",
                    ("driver", "unspecified"),
                    tuesday + Duration::days(5),
                    "declined",
                    Applies::Workstations,
                )
                .approved_for(1),
            );
            let notepad = format!("8.7.{}", n + 1);
            self.patches.push(
                Patch::new(
                    format!("notepadpp-{notepad}"),
                    format!("Notepad++ {notepad} (64-bit)"),
                    "Notepad++",
                    ("security", "moderate"),
                    tuesday + Duration::days(8),
                    "pending_review",
                    Applies::Workstations,
                )
                .reviewed(5, "declined"),
            );
            let zoom = format!("6.{}.{}", 2 + n, 11_000 + 100 * n);
            self.patches.push(Patch::new(
                format!("zoom-workplace-{zoom}"),
                format!("Zoom Workplace {zoom} (64-bit)"),
                "Zoom",
                ("security", "important"),
                tuesday + Duration::days(16),
                "pending_review",
                Applies::Workstations,
            ));
            n += 1;
            month = month + Months::new(1);
        }
        self.patches.retain(|p| p.release <= self.spec.until);
    }

    /// Simulates every device's installs of every patch that applies to it.
    fn histories(&mut self) {
        let end = at(self.spec.until, 23, 59);
        let mut histories = Vec::with_capacity(self.devices.len());
        for d in &self.devices {
            let mut row = Vec::with_capacity(self.patches.len());
            for p in &self.patches {
                let mut h = PairHistory::default();
                if !p.applies_to(d) {
                    row.push(h);
                    continue;
                }
                // .NET 3.5 is absent on a few servers: the RMM reports the update as not applicable.
                h.not_applicable =
                    p.title.contains(".NET") && d.os == Os::Server2025 && self.rng.random_bool(0.5);
                if h.not_applicable || p.approval != "approved" || !d.patched() {
                    row.push(h);
                    continue;
                }
                let delay = match (d.ring, d.policy) {
                    ("pilot", _) => self.rng.random_range(0..2),
                    ("test", _) => self.rng.random_range(2..5),
                    (_, "manual") => self.rng.random_range(12..26),
                    ("production", _) => self.rng.random_range(9..20),
                    _ => self.rng.random_range(7..15),
                };
                let mut when = p.release.max(d.joined) + Duration::days(delay);
                let (hour, retry_days) = match (d.track, d.policy) {
                    (Some("daytime"), _) => (12, 1),
                    (_, "manual") => (22, 7),
                    _ => (2, 1),
                };
                // Some device/patch pairs fail again and again with the same error.
                let stubborn = self.rng.random_bool(p.failure_rate * 0.4);
                let stubborn_error = *p.errors.choose(&mut self.rng).unwrap_or(&"0x80240022");
                let stubborn_tries = if self.rng.random_bool(0.25) {
                    u32::MAX
                } else {
                    self.rng.random_range(2..6)
                };
                let mut failures = 0;
                loop {
                    if when > self.spec.until
                        || d.offline_from.is_some_and(|o| when >= o)
                        || d.retired.is_some_and(|r| when >= r)
                    {
                        break;
                    }
                    let t = at(when, hour, self.rng.random_range(0..50));
                    let fail = if stubborn {
                        failures < stubborn_tries
                    } else {
                        self.rng.random_bool(p.failure_rate)
                    };
                    if fail {
                        let error = if stubborn {
                            stubborn_error
                        } else {
                            *p.errors.choose(&mut self.rng).unwrap_or(&"0x80240022")
                        };
                        h.attempts.push(Attempt {
                            at: t,
                            success: false,
                            error: Some(error),
                        });
                        failures += 1;
                        when += Duration::days(retry_days);
                        continue;
                    }
                    h.attempts.push(Attempt {
                        at: t,
                        success: true,
                        error: None,
                    });
                    h.installed = Some(t);
                    let mut reboot = match d.policy {
                        "auto_install_auto_reboot" => Some(t + Duration::minutes(12)),
                        _ if self.rng.random_bool(0.1) => None,
                        _ => Some(t + Duration::hours(self.rng.random_range(6..96))),
                    };
                    // Daytime users asked to reboot put it off, half of them for days (control
                    // C12 finds those still waiting after three).
                    if d.track == Some("daytime")
                        && d.policy != "auto_install_auto_reboot"
                        && self.workflow_rng.random_bool(0.5)
                    {
                        let put_off = Duration::days(self.workflow_rng.random_range(3..10));
                        reboot = reboot.map(|r| r + put_off);
                    }
                    h.rebooted = reboot.filter(|r| *r <= end);
                    break;
                }
                row.push(h);
            }
            histories.push(row);
        }
        self.histories = histories;
    }

    fn snapshot_days(&self, tenant: &Tenant) -> Vec<NaiveDate> {
        self.days()
            .filter(|d| {
                tenant.cadence == Cadence::Daily || d.weekday() == Weekday::Mon || *d == self.spec.until
            })
            .collect()
    }

    /// devices, patch_status and device_patch_summary for every snapshot of every tenant.
    fn snapshots(&mut self) {
        for t in 0..self.tenants.len() {
            let tenant = self.tenants[t].clone();
            for snap in self.snapshot_days(&tenant) {
                let taken = at(snap, 6, 0);
                for i in 0..self.devices.len() {
                    let d = self.devices[i].clone();
                    if d.tenant != t || !d.present_on(snap) {
                        continue;
                    }
                    let last_seen = match d.offline_from {
                        Some(o) if o <= snap => at(o, 1, 17) - Duration::days(1),
                        _ => taken - Duration::minutes(self.rng.random_range(3..900)),
                    };
                    self.table(&canonical::DEVICES).push(&[
                        ("snapshot_date", day(snap)),
                        ("tenant_id", tenant.id.clone()),
                        ("device_id", d.id.clone()),
                        ("hostname", d.hostname.clone()),
                        ("device_class", d.class.into()),
                        ("role", opt(d.role)),
                        ("os_name", d.os.name().into()),
                        ("policy_tier", opt(d.tier)),
                        ("ring", d.ring.into()),
                        ("track", opt(d.track)),
                        ("patch_policy", d.policy.into()),
                        ("excluded", yes(d.excluded)),
                        ("exclusion_reason", opt(d.exclusion_reason)),
                        ("last_seen_utc", ts(last_seen)),
                    ]);
                    if tenant.summary_only {
                        self.summary_row(&tenant, &d, i, snap, taken);
                    } else {
                        self.patch_rows(&tenant, &d, i, snap, taken);
                    }
                }
            }
        }
    }

    /// An RMM lists recent patches and anything not yet installed; an offline device's list
    /// freezes at its last check-in.
    fn listed(&self, device: usize, p: usize, snap: NaiveDate) -> bool {
        let patch = &self.patches[p];
        let h = &self.histories[device][p];
        if !patch.applies_to(&self.devices[device]) || patch.release > snap {
            return false;
        }
        let recent = (snap - patch.release).num_days() <= 45;
        let outstanding = h.installed.is_none_or(|i| i.date_naive() > snap);
        recent || (outstanding && patch.approval == "approved" && !h.not_applicable)
    }

    fn patch_rows(&mut self, tenant: &Tenant, d: &Device, i: usize, snap: NaiveDate, taken: DateTime<Utc>) {
        let seen = match d.offline_from {
            Some(o) if o <= snap => at(o, 0, 0),
            _ => taken,
        };
        for p in 0..self.patches.len() {
            if !self.listed(i, p, snap) {
                continue;
            }
            let patch = self.patches[p].clone();
            let h = &self.histories[i][p];
            let state = h.state_at(seen);
            let installed = h.installed.filter(|t| *t <= seen && state != "failed");
            self.table(&canonical::PATCH_STATUS).push(&[
                ("snapshot_date", day(snap)),
                ("tenant_id", tenant.id.clone()),
                ("device_id", d.id.clone()),
                ("patch_id", patch.id.clone()),
                ("patch_title", patch.title.clone()),
                ("vendor", patch.vendor.into()),
                ("classification", patch.classification.into()),
                ("severity", patch.severity.into()),
                (
                    "release_date",
                    if patch.release_known {
                        day(patch.release)
                    } else {
                        String::new()
                    },
                ),
                ("approval", patch.approval_on(d.tenant, snap).into()),
                ("state", state.into()),
                ("installed_utc", installed.map(ts).unwrap_or_default()),
            ]);
        }
    }

    fn summary_row(&mut self, tenant: &Tenant, d: &Device, i: usize, snap: NaiveDate, taken: DateTime<Utc>) {
        let seen = match d.offline_from {
            Some(o) if o <= snap => at(o, 0, 0),
            _ => taken,
        };
        let (mut pending, mut not_approved, mut installed, mut failed, mut reboot) = (0, 0, 0, 0, 0);
        for p in 0..self.patches.len() {
            let patch = &self.patches[p];
            if !patch.applies_to(d) || patch.release > snap || self.histories[i][p].not_applicable {
                continue;
            }
            match (patch.approval, self.histories[i][p].state_at(seen)) {
                ("approved", "installed") => installed += 1,
                ("approved", "pending_reboot") => reboot += 1,
                ("approved", "failed") => failed += 1,
                ("approved", _) => pending += 1,
                _ => not_approved += 1,
            }
        }
        let status = if d.patched() {
            summary_status(failed, reboot, pending)
        } else {
            "no_policy"
        };
        self.table(&canonical::DEVICE_PATCH_SUMMARY).push(&[
            ("snapshot_date", day(snap)),
            ("tenant_id", tenant.id.clone()),
            ("device_id", d.id.clone()),
            ("status", status.into()),
            ("approved_pending_count", (pending + failed).to_string()),
            ("not_approved_count", not_approved.to_string()),
            ("installed_count", (installed + reboot).to_string()),
        ]);
    }

    fn attempts(&mut self) {
        let mut rows = Vec::new();
        let mut job = 880_000u64;
        for (i, d) in self.devices.iter().enumerate() {
            let tenant = &self.tenants[d.tenant];
            if tenant.summary_only {
                continue;
            }
            for (p, h) in self.histories[i].iter().enumerate() {
                for a in &h.attempts {
                    if a.at.date_naive() < self.start {
                        continue;
                    }
                    job += 1;
                    rows.push(vec![
                        ("attempt_utc", ts(a.at)),
                        ("tenant_id", tenant.id.clone()),
                        ("device_id", d.id.clone()),
                        ("patch_id", self.patches[p].id.clone()),
                        (
                            "result",
                            if a.success { "success" } else { "failure" }.to_string(),
                        ),
                        ("error_code", opt(a.error)),
                        (
                            "error_message",
                            a.error.map(error_message).unwrap_or_default().to_string(),
                        ),
                        ("job_id", format!("job-{job}")),
                    ]);
                }
            }
        }
        rows.sort_by(|a, b| {
            a[0].1
                .cmp(&b[0].1)
                .then(a[2].1.cmp(&b[2].1))
                .then(a[3].1.cmp(&b[3].1))
        });
        for row in rows {
            self.table(&canonical::PATCH_ATTEMPTS).push(&row);
        }
    }

    fn tickets(&mut self) {
        let end = at(self.spec.until, 23, 59);
        // Collected first, then numbered in creation order, as a PSA numbers them.
        let mut tickets: Vec<(DateTime<Utc>, Cells, TicketDraws)> = Vec::new();
        // Remediation: a ticket for every failure the retry did not fix, and for most of those the
        // retry fixed on devices patched automatically (the rest, and the tickets opened only
        // after a failed retry, are what controls C8 and C9 find).
        for i in 0..self.devices.len() {
            let d = self.devices[i].clone();
            let tenant = self.tenants[d.tenant].clone();
            for p in 0..self.patches.len() {
                let h = self.histories[i][p].clone();
                let failures: Vec<&Attempt> = h.attempts.iter().filter(|a| !a.success).collect();
                let Some(first) = failures.first() else {
                    continue;
                };
                let code = first.error.unwrap_or("0x80240022");
                let patch = self.patches[p].clone();
                if failures.len() == 1 {
                    if first.at.date_naive() < self.start
                        || d.policy == "manual"
                        || !self.workflow_rng.random_bool(0.7)
                    {
                        continue;
                    }
                    let created = first.at + Duration::minutes(self.workflow_rng.random_range(20..90));
                    let fixed = h.attempts.iter().find(|a| a.success).map(|a| a.at);
                    let resolved = fixed
                        .map(|f| f.max(created) + Duration::minutes(self.workflow_rng.random_range(30..300)))
                        .filter(|r| *r <= end);
                    let status = if resolved.is_some() {
                        "complete"
                    } else {
                        "in_progress"
                    };
                    // A quarter are closed without the root cause written down.
                    let root_cause = (resolved.is_some() && !self.workflow_rng.random_bool(0.25))
                        .then(|| root_cause(code));
                    let cells =
                        remediation_ticket(&tenant, &d, &patch, code, created, status, resolved, root_cause);
                    tickets.push((created, cells, TicketDraws::Workflow));
                    continue;
                }
                if failures[1].at.date_naive() < self.start {
                    continue;
                }
                // Opened at the first failure; for devices patched by hand in a weekly window only
                // once the retry failed too (govpack's remediation tickets step in before that).
                let opened_after = if d.policy == "manual" {
                    failures[1].at
                } else {
                    first.at
                };
                let created = opened_after + Duration::minutes(self.rng.random_range(20..90));
                let fixed = h
                    .attempts
                    .iter()
                    .find(|a| a.success && a.at > created)
                    .map(|a| a.at);
                let (status, resolved) = match fixed {
                    Some(f) => (
                        "complete",
                        Some(f + Duration::minutes(self.rng.random_range(30..300))),
                    ),
                    None if self.rng.random_bool(0.1) => ("cancelled", Some(created + Duration::hours(30))),
                    None => (
                        *["new", "in_progress", "waiting"]
                            .choose(&mut self.rng)
                            .expect("non-empty"),
                        None,
                    ),
                };
                let resolved = resolved.filter(|r| *r <= end);
                let status = if resolved.is_none() && matches!(status, "complete" | "cancelled") {
                    "in_progress"
                } else {
                    status
                };
                let root_cause = (status == "complete").then(|| root_cause(code));
                let cells =
                    remediation_ticket(&tenant, &d, &patch, code, created, status, resolved, root_cause);
                tickets.push((created, cells, TicketDraws::Main));
            }
        }
        // Background PSA work, so that remediation is not the only ticket type.
        let titles: [(&str, &str, &str); 6] = [
            ("incident", "Outlook keeps prompting for password", "Service Desk"),
            ("incident", "VPN disconnects every few minutes", "Service Desk"),
            (
                "service_request",
                "New starter: laptop and accounts",
                "Service Requests",
            ),
            (
                "service_request",
                "Add user to shared mailbox",
                "Service Requests",
            ),
            ("alert", "Disk space low on C: (below 10%)", "Monitoring Alerts"),
            ("problem", "Recurring print spooler crashes", "Problem Management"),
        ];
        for t in 0..self.tenants.len() {
            let tenant_id = self.tenants[t].id.clone();
            let days: Vec<NaiveDate> = self.days().collect();
            for _ in 0..(self.spec.months as usize * 4) {
                let (kind, title, queue) = *titles.choose(&mut self.rng).expect("non-empty");
                let created = at(
                    days[self.rng.random_range(0..days.len())],
                    self.rng.random_range(8..18),
                    self.rng.random_range(0..60),
                );
                let priority: i64 = self.rng.random_range(2..5);
                let resolved = created + Duration::hours(self.rng.random_range(1..120));
                let done = resolved <= end && self.rng.random_bool(0.85);
                tickets.push((
                    created,
                    vec![
                        ("tenant_id", tenant_id.clone()),
                        ("ticket_type", kind.into()),
                        ("title", title.into()),
                        ("priority", priority.to_string()),
                        ("status", if done { "complete" } else { "in_progress" }.into()),
                        ("created_utc", ts(created)),
                        ("resolved_utc", if done { ts(resolved) } else { String::new() }),
                        (
                            "due_utc",
                            ts(created + Duration::hours([24, 72, 120, 240][priority as usize - 1])),
                        ),
                        ("queue", queue.into()),
                    ],
                    TicketDraws::Main,
                ));
            }
        }
        tickets.sort_by_key(|(created, _, _)| *created);
        for (created, mut cells, draws) in tickets {
            self.next_ticket += match draws {
                TicketDraws::Main => self.rng.random_range(1..9),
                TicketDraws::Workflow => self.workflow_rng.random_range(1..9),
            };
            let id = self.next_ticket;
            cells.push(("ticket_id", id.to_string()));
            cells.push((
                "ticket_number",
                format!("T{}.{:04}", created.format("%Y%m%d"), id % 10_000),
            ));
            self.table(&canonical::TICKETS).push(&cells);
        }
    }

    /// The public vulnerability data of the Microsoft updates, as MSRC and CISA publish it: the
    /// CVEs each security update fixes (one CVRF document a month: a CVE in every cumulative update,
    /// one of each update's own, one of .NET's and the out-of-band fix's) and the KEV catalog's
    /// entries for those exploited in the wild (the last month's shared CVE, the second month's
    /// .NET one, and the out-of-band one, used by ransomware), plus a browser CVE no update here
    /// fixes. Numbered
    /// from the month (`CVE-2026-41001` is October's first), so no draw is taken.
    fn vulnerabilities(&mut self) {
        use std::collections::BTreeMap;
        let mut months: BTreeMap<NaiveDate, Vec<Patch>> = BTreeMap::new();
        for p in &self.patches {
            if p.vendor == "Microsoft" && matches!(p.classification, "security" | "critical") {
                let month = p.release.with_day(1).expect("day 1");
                months.entry(month).or_default().push(p.clone());
            }
        }
        let version = self.spec.until.format("%Y.%m.%d").to_string();
        let last = months.keys().last().copied();
        let mut kev = Vec::new();
        for (m, (first, patches)) in months.iter().enumerate() {
            let document = first.format("%Y-%b").to_string();
            let tuesday = patch_tuesday(first.year(), first.month());
            let cve = |k: usize| {
                format!(
                    "CVE-{}-{}",
                    first.year(),
                    40_000 + first.month() as usize * 100 + k
                )
            };
            let exploited = Some(*first) == last;
            let fix = |g: &mut Generator,
                       patch: &Patch,
                       cve: String,
                       score: &str,
                       severity: &str,
                       flags: (bool, bool)| {
                g.table(&canonical::PATCH_CVES).push(&[
                    ("patch_id", patch.id.clone()),
                    ("cve_id", cve),
                    ("cvss_base_score", score.into()),
                    ("severity", severity.into()),
                    ("exploited", flags.0.to_string()),
                    ("publicly_disclosed", flags.1.to_string()),
                    ("source_document", document.clone()),
                ]);
            };
            let cumulative: Vec<&Patch> = patches
                .iter()
                .filter(|p| matches!(p.applies, Applies::Os(_)))
                .collect();
            for (i, p) in cumulative.iter().enumerate() {
                fix(self, p, cve(1), "7.8", "important", (exploited, false));
                let score = if p.severity == "critical" { "8.8" } else { "7.5" };
                fix(self, p, cve(2 + i), score, p.severity, (false, m == 1 && i == 0));
            }
            if exploited && !cumulative.is_empty() {
                kev.push((cve(1), "Windows", tuesday, tuesday + Duration::days(21), false));
            }
            for p in patches.iter().filter(|p| p.applies == Applies::AllWindows) {
                fix(self, p, cve(10), "7.5", "important", (m == 1, false));
                if m == 1 {
                    kev.push((
                        cve(10),
                        ".NET Framework",
                        tuesday + Duration::days(1),
                        tuesday + Duration::days(22),
                        false,
                    ));
                }
            }
            for p in patches.iter().filter(|p| p.applies == Applies::Servers) {
                fix(self, p, cve(20), "9.8", "critical", (true, true));
                let added = p.release + Duration::days(1);
                kev.push((cve(20), "Windows Server", added, added + Duration::days(14), true));
            }
        }
        let browser_added = self.start + Duration::days(5);
        kev.push((
            format!("CVE-{}-5419", browser_added.year()),
            "Chromium V8",
            browser_added,
            browser_added + Duration::days(21),
            false,
        ));
        for (cve, product, added, due, ransomware) in kev {
            let vendor = if product == "Chromium V8" {
                "Google"
            } else {
                "Microsoft"
            };
            self.table(&canonical::KEV).push(&[
                ("vulnerability_name", format!("{vendor} {}", cve_title(&cve))),
                ("cve_id", cve),
                ("vendor_project", vendor.into()),
                ("product", product.into()),
                ("date_added", day(added)),
                ("due_date", day(due)),
                ("known_ransomware_use", ransomware.to_string()),
                ("catalog_version", version.clone()),
            ]);
        }
    }

    fn changes(&mut self) {
        let end = at(self.spec.until, 23, 59);
        let mut next_change = 60_000u64;
        let oob = self
            .patches
            .iter()
            .find(|p| p.applies == Applies::Servers)
            .map(|p| p.release);
        let last_month = self.spec.until.with_day(1).expect("day 1");
        for t in 0..self.tenants.len() {
            let tenant = self.tenants[t].clone();
            let mut month = self.start;
            while month <= self.spec.until {
                let tuesday = patch_tuesday(month.year(), month.month());
                let label = month.format("%B %Y").to_string();
                let mut plans: Vec<(&str, &str, String, NaiveDate, Fate)> = vec![
                    (
                        "standard",
                        "low",
                        format!("Workstation patch deployment - {label}"),
                        tuesday + Duration::days(7),
                        Fate::Natural,
                    ),
                    (
                        "normal",
                        "medium",
                        format!("Server patching window - {label}"),
                        tuesday + Duration::days(11),
                        Fate::Natural,
                    ),
                ];
                if self.rng.random_bool(0.6) {
                    let (title, risk) = *[
                        ("Firewall firmware upgrade", "high"),
                        ("SQL Server cumulative update", "medium"),
                        ("Replace core switch", "high"),
                        ("Update backup agent", "low"),
                    ]
                    .choose(&mut self.rng)
                    .expect("non-empty");
                    plans.push((
                        "normal",
                        risk,
                        title.to_string(),
                        month + Duration::days(self.rng.random_range(2..26)),
                        Fate::Natural,
                    ));
                }
                if let Some(released) = oob.filter(|r| r.year() == month.year() && r.month() == month.month())
                    && !tenant.summary_only
                {
                    let title = "Emergency: out-of-band Windows Server security update".to_string();
                    plans.push((
                        "emergency",
                        "high",
                        title,
                        released + Duration::days(1),
                        Fate::Natural,
                    ));
                }
                if month == last_month {
                    // Work still open when the data ends, and one change called off: every
                    // outcome of the vocabulary appears, not only the closed ones.
                    let (title, fate) = if t % 2 == 0 {
                        ("Upgrade practice-management application", Fate::Open)
                    } else {
                        ("Migrate file shares to SharePoint", Fate::Cancelled)
                    };
                    plans.push((
                        "normal",
                        "high",
                        title.to_string(),
                        self.spec.until - Duration::days(2),
                        fate,
                    ));
                    if t == 0 {
                        // The PSA lost this one's end time: a data-quality finding, not a KPI row.
                        plans[1].4 = Fate::EndTimeLost;
                    }
                }
                for (kind, risk, title, planned_day, fate) in plans {
                    next_change += self.rng.random_range(3..40);
                    self.change_row(&tenant, next_change, kind, risk, &title, planned_day, end, fate);
                }
                month = month + Months::new(1);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn change_row(
        &mut self,
        tenant: &Tenant,
        id: u64,
        kind: &str,
        risk: &str,
        title: &str,
        planned_day: NaiveDate,
        end: DateTime<Utc>,
        fate: Fate,
    ) {
        let r = &mut self.rng;
        let planned_start = at(planned_day, 22, 0);
        let planned_end = planned_start + Duration::hours(4);
        let created = planned_start
            - Duration::days(if kind == "emergency" {
                0
            } else {
                r.random_range(3..10)
            })
            - Duration::hours(6);
        let actual_start = planned_start + Duration::minutes(r.random_range(-10..25));
        let overrun = r.random_bool(0.12);
        let actual_end = actual_start
            + Duration::minutes(if overrun {
                r.random_range(250..400)
            } else {
                r.random_range(60..230)
            });
        let (cab, decided) = match kind {
            "standard" => ("none", None),
            "emergency" => (
                "approved",
                Some(actual_start + Duration::hours(r.random_range(2..30))),
            ),
            _ => match r.random_range(0..10) {
                0 => ("none", None),
                1 => ("approved", Some(actual_start + Duration::hours(12))),
                _ => ("approved", Some(planned_start - Duration::days(2))),
            },
        };
        let finished = actual_end <= end && matches!(fate, Fate::Natural | Fate::EndTimeLost);
        let outcome = match fate {
            Fate::Open => "in_progress",
            Fate::Cancelled => "cancelled",
            _ if !finished => "in_progress",
            Fate::EndTimeLost => "successful",
            Fate::Natural => match r.random_range(0..20) {
                0..=13 => "successful",
                14..=15 => "successful_with_issues",
                16..=17 => "rolled_back",
                _ => "failed",
            },
        };
        let (cab, decided) = match fate {
            Fate::Open => ("pending", None),
            Fate::Cancelled => ("rejected", Some(created + Duration::hours(20))),
            _ => (cab, decided),
        };
        let rollback_attempted = outcome == "rolled_back" || (outcome == "failed" && r.random_bool(0.5));
        let rollback_succeeded = rollback_attempted && (outcome == "rolled_back" && r.random_bool(0.8));
        let closed = matches!(
            outcome,
            "successful" | "successful_with_issues" | "failed" | "rolled_back"
        );
        let end_missing = fate == Fate::EndTimeLost;
        let has = |r: &mut ChaCha8Rng, p: f64| yes(r.random_bool(p));
        let cells = vec![
            ("change_id", id.to_string()),
            ("tenant_id", tenant.id.clone()),
            ("title", title.to_string()),
            ("change_type", kind.to_string()),
            ("risk", risk.to_string()),
            ("created_utc", ts(created)),
            (
                "planned_start_utc",
                if kind == "emergency" {
                    String::new()
                } else {
                    ts(planned_start)
                },
            ),
            (
                "planned_end_utc",
                if kind == "emergency" {
                    String::new()
                } else {
                    ts(planned_end)
                },
            ),
            (
                "actual_start_utc",
                if matches!(fate, Fate::Open | Fate::Cancelled) || actual_start > end {
                    String::new()
                } else {
                    ts(actual_start)
                },
            ),
            (
                "actual_end_utc",
                if finished && closed && !end_missing {
                    ts(actual_end)
                } else {
                    String::new()
                },
            ),
            ("cab_decision", cab.to_string()),
            (
                "cab_decided_utc",
                decided.filter(|d| *d <= end).map(ts).unwrap_or_default(),
            ),
            (
                "approver",
                if matches!(cab, "approved" | "rejected") {
                    "J. Alvarez (CAB chair)".into()
                } else {
                    String::new()
                },
            ),
            ("has_rollback_plan", has(r, 0.9)),
            (
                "has_test_evidence",
                has(r, if kind == "emergency" { 0.3 } else { 0.8 }),
            ),
            ("has_comm_plan", has(r, 0.85)),
            ("has_validation_checklist", has(r, 0.85)),
            ("outcome", outcome.to_string()),
            (
                "rollback_attempted",
                if closed {
                    yes(rollback_attempted)
                } else {
                    String::new()
                },
            ),
            (
                "rollback_succeeded",
                if rollback_attempted {
                    yes(rollback_succeeded)
                } else {
                    String::new()
                },
            ),
            (
                "post_change_verified",
                if closed { has(r, 0.85) } else { String::new() },
            ),
            (
                "customer_impact_declared",
                if closed { has(r, 0.8) } else { String::new() },
            ),
            (
                "caused_incident",
                if closed { has(r, 0.06) } else { String::new() },
            ),
        ];
        self.table(&canonical::CHANGES).push(&cells);
    }

    fn exceptions(&mut self) {
        let until_end = at(self.spec.until, 23, 59);
        for t in 0..self.tenants.len() {
            let tenant = self.tenants[t].clone();
            let device_of = |g: &Generator, pred: &dyn Fn(&Device) -> bool| {
                g.devices.iter().find(|d| d.tenant == t && pred(d)).cloned()
            };
            let cu_for = |g: &Generator, os: Os| {
                g.patches
                    .iter()
                    .rev()
                    .find(|p| p.applies == Applies::Os(os))
                    .cloned()
            };
            // An application server held back from the latest CU while its vendor certifies it.
            if let Some(d) = device_of(self, &|d: &Device| d.role == Some("app") || d.role == Some("sql"))
                && let Some(p) = cu_for(self, d.os)
            {
                let approved = at(p.release, 15, 0) + Duration::days(2);
                self.table(&canonical::EXCEPTIONS).push(&[
                    ("tenant_id", tenant.id.clone()),
                    ("device_id", d.id.clone()),
                    ("patch_id", p.id.clone()),
                    (
                        "reason",
                        format!("Line-of-business vendor has not certified {} yet", p.id),
                    ),
                    ("approved_by", "M. Chen (Service Delivery Manager)".into()),
                    ("approved_utc", ts(approved)),
                    ("expires_utc", ts(approved + Duration::days(30))),
                ]);
            }
            // An exception that expired during the data: the device is back in scope.
            if let Some(d) = device_of(self, &|d: &Device| d.class == "workstation" && d.os == Os::Win10)
                && let Some(p) = self
                    .patches
                    .iter()
                    .find(|p| p.applies == Applies::Os(Os::Win10) && p.release >= self.start)
                    .cloned()
            {
                let approved = at(p.release, 10, 0);
                self.table(&canonical::EXCEPTIONS).push(&[
                    ("tenant_id", tenant.id.clone()),
                    ("device_id", d.id.clone()),
                    ("patch_id", p.id.clone()),
                    ("reason", "User travelling with metered connection".into()),
                    ("approved_by", "M. Chen (Service Delivery Manager)".into()),
                    ("approved_utc", ts(approved)),
                    ("expires_utc", ts(approved + Duration::days(14))),
                ]);
            }
            // The CAD workstation that needs the approved graphics driver (control C10).
            if let Some(d) = device_of(self, &|d: &Device| d.class == "workstation" && d.patched())
                && let Some(p) = self
                    .patches
                    .iter()
                    .rev()
                    .find(|p| p.approved_for == Some(t))
                    .cloned()
            {
                self.table(&canonical::EXCEPTIONS).push(&[
                    ("tenant_id", tenant.id.clone()),
                    ("device_id", d.id.clone()),
                    ("patch_id", p.id.clone()),
                    ("reason", "CAD software needs the vendor's graphics driver".into()),
                    ("approved_by", "M. Chen (Service Delivery Manager)".into()),
                    ("approved_utc", ts(at(p.release, 16, 0))),
                    ("expires_utc", String::new()),
                ]);
            }
            // Tenant-wide: every device of the tenant exempt from one patch, no expiry.
            if t == 0
                && let Some(p) = self.patches.iter().find(|p| p.vendor == "Adobe").cloned()
            {
                self.table(&canonical::EXCEPTIONS).push(&[
                    ("tenant_id", tenant.id.clone()),
                    ("patch_id", p.id.clone()),
                    (
                        "reason",
                        "Client's e-signature plug-in breaks on this Reader build".into(),
                    ),
                    ("approved_by", "Client IT director (email on file)".into()),
                    ("approved_utc", ts(at(p.release, 16, 30))),
                ]);
            }
            // Approved after the data ends: not active for any period in it.
            if t == 1
                && let Some(d) = device_of(self, &|d: &Device| d.class == "server")
            {
                self.table(&canonical::EXCEPTIONS).push(&[
                    ("tenant_id", tenant.id.clone()),
                    ("device_id", d.id.clone()),
                    (
                        "reason",
                        "Server decommission scheduled; no further patching".into(),
                    ),
                    ("approved_by", "M. Chen (Service Delivery Manager)".into()),
                    ("approved_utc", ts(until_end + Duration::days(3))),
                    ("expires_utc", ts(until_end + Duration::days(60))),
                ]);
            }
        }
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
