//! The benchmark's scaled MSP: canonical CSV for any number of devices and days, written as it is
//! generated (one row at a time, never held in memory), so that the data of the largest MSPs
//! (100,000 endpoints, ~25 patch rows each, every day) can be made on the machine that ingests it.
//!
//! The data is shaped like the sample MSP's, not drawn from it: the sample simulates a few
//! hundred devices in detail (and holds them in memory); this writes millions of rows with the
//! distributions that matter to ingest and KPI cost: ~67 devices per client, 8% servers, a
//! catalogue of 60 updates over six months, most installed some days after release, a few
//! percent failing for days (with an attempt a day), the rest missing until installed.
//!
//! Every value comes from a hash of (seed, device, patch, day), so the same options give the
//! same bytes, and any day can be written without the days before it.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{Days, NaiveDate};

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct ScaledMsp {
    pub devices: u64,
    pub days: u64,
    /// The first snapshot day.
    pub start: NaiveDate,
    pub seed: u64,
}

/// Patch rows per device: the planning figure for a Windows estate.
pub const PATCHES_PER_DEVICE: u64 = 25;
/// The size of the update catalogue the devices draw their patches from.
const CATALOGUE: u64 = 60;
/// Devices per client, so 100,000 endpoints make ~1,500 clients.
const DEVICES_PER_TENANT: u64 = 67;

/// Rows written, by table.
#[derive(Debug, Default, Clone, Copy)]
pub struct Written {
    pub tenants: u64,
    pub devices: u64,
    pub device_patch_summary: u64,
    pub patch_status: u64,
    pub patch_attempts: u64,
    pub bytes: u64,
}

impl Written {
    pub fn rows(&self) -> u64 {
        self.tenants + self.devices + self.device_patch_summary + self.patch_status + self.patch_attempts
    }

    fn add(&mut self, other: Written) {
        self.tenants += other.tenants;
        self.devices += other.devices;
        self.device_patch_summary += other.device_patch_summary;
        self.patch_status += other.patch_status;
        self.patch_attempts += other.patch_attempts;
        self.bytes += other.bytes;
    }
}

impl ScaledMsp {
    pub fn tenants(&self) -> u64 {
        self.devices.div_ceil(DEVICES_PER_TENANT).max(1)
    }

    pub fn day(&self, index: u64) -> NaiveDate {
        self.start + Days::new(index)
    }

    /// The folder of one day's drop below `out`.
    pub fn day_dir(&self, out: &Path, index: u64) -> PathBuf {
        out.join(format!("day-{}", self.day(index)))
    }

    /// Writes every day's drop (`out/day-YYYY-MM-DD/`); the tenants file goes with the first.
    pub fn write(&self, out: &Path) -> Result<Written> {
        let mut total = Written::default();
        for index in 0..self.days {
            total.add(self.write_day(out, index)?);
        }
        Ok(total)
    }

    /// Writes one day's drop: devices, device_patch_summary, patch_status and patch_attempts of
    /// that day (and the tenants on the first day).
    pub fn write_day(&self, out: &Path, index: u64) -> Result<Written> {
        let day = self.day(index);
        let dir = self.day_dir(out, index);
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut written = Written::default();
        if index == 0 {
            let mut w = CsvOut::create(&dir.join("tenants.csv"), "tenant_id,tenant_name,criticality")?;
            for t in 0..self.tenants() {
                let criticality = ["standard", "high", "critical", "low"][(self.hash(&[t, 1]) % 4) as usize];
                writeln!(w.out, "t{t:05},Client {t:05},{criticality}")?;
                w.rows += 1;
            }
            written.tenants = w.rows;
            written.bytes += w.finish()?;
        }
        let mut devices = CsvOut::create(
            &dir.join(format!("devices_{day}.csv")),
            "snapshot_date,tenant_id,device_id,hostname,device_class,role,os_name,ring,track,patch_policy,excluded,last_seen_utc",
        )?;
        let mut summary = CsvOut::create(
            &dir.join(format!("device_patch_summary_{day}.csv")),
            "snapshot_date,tenant_id,device_id,status,approved_pending_count,not_approved_count,installed_count",
        )?;
        let mut status = CsvOut::create(
            &dir.join(format!("patch_status_{day}.csv")),
            "snapshot_date,tenant_id,device_id,patch_id,patch_title,vendor,classification,severity,release_date,approval,state,installed_utc",
        )?;
        let mut attempts = CsvOut::create(
            &dir.join(format!("patch_attempts_{day}.csv")),
            "attempt_utc,tenant_id,device_id,patch_id,result,error_code,error_message,job_id",
        )?;
        for device in 0..self.devices {
            let tenant = device % self.tenants();
            let server = self.hash(&[device, 2]) % 100 < 8;
            let (class, prefix, role, os) = if server {
                ("server", "SRV", "file_server", "Windows Server 2022 Standard")
            } else {
                ("workstation", "WS", "", "Windows 11 Pro")
            };
            let ring = ["pilot", "test", "regular", "regular", "production"][(device % 5) as usize];
            let excluded = self.hash(&[device, 3]).is_multiple_of(200);
            writeln!(
                devices.out,
                "{day},t{tenant:05},d{device:07},{prefix}-{device:07},{class},{role},{os},{ring},overnight,\
                 auto_install_auto_reboot,{excluded},{day}T06:{:02}:00Z",
                device % 60
            )?;
            devices.rows += 1;
            let (mut pending, mut not_approved, mut installed, mut failed, mut reboot) =
                (0u64, 0u64, 0u64, 0u64, 0u64);
            for k in 0..PATCHES_PER_DEVICE {
                let patch = (device * 7 + k * 13) % CATALOGUE;
                let p = self.patch_on(device, patch, day);
                match p.state {
                    "installed" => installed += 1,
                    "failed" => failed += 1,
                    "pending_reboot" => reboot += 1,
                    _ if p.approval == "approved" => pending += 1,
                    _ => not_approved += 1,
                }
                let installed_utc = match p.installed_on {
                    Some(d) if p.state == "installed" => format!("{d}T02:{:02}:00Z", device % 60),
                    _ => String::new(),
                };
                writeln!(
                    status.out,
                    "{day},t{tenant:05},d{device:07},KB50{patch:05},{} Cumulative Update for Windows (KB50{patch:05}),\
                     Microsoft,{},{},{},{},{},{installed_utc}",
                    p.release.format("%Y-%m"),
                    p.classification,
                    p.severity,
                    p.release,
                    p.approval,
                    p.state
                )?;
                status.rows += 1;
                if p.state == "failed" {
                    writeln!(
                        attempts.out,
                        "{day}T02:{:02}:00Z,t{tenant:05},d{device:07},KB50{patch:05},failure,0x80070005,\
                         Access is denied.,job-{day}-{tenant}",
                        device % 60
                    )?;
                    attempts.rows += 1;
                } else if p.state == "installed" && p.installed_on == Some(day) {
                    writeln!(
                        attempts.out,
                        "{day}T02:{:02}:00Z,t{tenant:05},d{device:07},KB50{patch:05},success,,,job-{day}-{tenant}",
                        device % 60
                    )?;
                    attempts.rows += 1;
                }
            }
            let summary_status = crate::sample::summary_status(failed, reboot, pending);
            writeln!(
                summary.out,
                "{day},t{tenant:05},d{device:07},{summary_status},{pending},{not_approved},{installed}"
            )?;
            summary.rows += 1;
        }
        written.devices = devices.rows;
        written.device_patch_summary = summary.rows;
        written.patch_status = status.rows;
        written.patch_attempts = attempts.rows;
        for w in [devices, summary, status, attempts] {
            written.bytes += w.finish()?;
        }
        Ok(written)
    }

    /// Writes `rows` tickets (remediation work on the first day's devices) as one canonical file:
    /// the small file of the benchmark's "a 100-row file into a large lake".
    pub fn write_tickets(&self, path: &Path, rows: u64) -> Result<u64> {
        let mut w = CsvOut::create(
            path,
            "ticket_id,tenant_id,ticket_type,priority,status,created_utc,resolved_utc,device_id,patch_id",
        )?;
        let day = self.day(0);
        for i in 0..rows {
            let device = self.hash(&[i, 9]) % self.devices.max(1);
            writeln!(
                w.out,
                "B{i:06},t{:05},remediation,{},complete,{day}T08:00:00Z,{day}T12:00:00Z,d{device:07},KB50{:05}",
                device % self.tenants(),
                1 + i % 4,
                (device * 7) % CATALOGUE
            )?;
            w.rows += 1;
        }
        w.finish()?;
        Ok(rows)
    }

    /// Writes a CISA KEV catalog of `entries` entries as CISA publishes it (every field, texts of
    /// the real catalog's lengths, ~0.8 KB an entry), streamed: the benchmark's large reference
    /// document. Returns its size in bytes.
    pub fn write_kev_catalog(&self, path: &Path, entries: u64) -> Result<u64> {
        const PRODUCTS: [(&str, &str, &str); 6] = [
            (
                "Microsoft",
                "Windows",
                "Windows Common Log File System Driver Heap-Based Buffer Overflow Vulnerability",
            ),
            (
                "Microsoft",
                "Exchange Server",
                "Microsoft Exchange Server Remote Code Execution Vulnerability",
            ),
            (
                "Fortinet",
                "FortiOS",
                "Fortinet FortiOS Out-of-Bound Write Vulnerability",
            ),
            (
                "Ivanti",
                "Connect Secure",
                "Ivanti Connect Secure Stack-Based Buffer Overflow Vulnerability",
            ),
            (
                "Google",
                "Chromium V8",
                "Google Chromium V8 Type Confusion Vulnerability",
            ),
            (
                "Apple",
                "Multiple Products",
                "Apple Multiple Products Use-After-Free Vulnerability",
            ),
        ];
        let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        write!(
            out,
            "{{\n    \"title\": \"CISA Catalog of Known Exploited Vulnerabilities\",\n    \"catalogVersion\": \"{}\",\n    \"dateReleased\": \"{}T17:02:11.5522Z\",\n    \"count\": {entries},\n    \"vulnerabilities\": [",
            self.start.format("%Y.%m.%d"),
            self.start
        )?;
        for i in 0..entries {
            let h = self.hash(&[i, 11]);
            let (vendor, product, name) = PRODUCTS[(h % PRODUCTS.len() as u64) as usize];
            let added = self.start - Days::new(h % 1500);
            let year = chrono::Datelike::year(&added);
            let cve = format!("CVE-{year}-{}", 10_000 + i);
            write!(
                out,
                "{}\n        {{\n            \"cveID\": \"{cve}\",\n            \"vendorProject\": \"{vendor}\",\n            \"product\": \"{product}\",\n            \"vulnerabilityName\": \"{name}\",\n            \"dateAdded\": \"{added}\",\n            \"shortDescription\": \"{vendor} {product} contains a memory corruption vulnerability that could allow a remote, unauthenticated attacker to execute arbitrary code or commands via specially crafted requests.\",\n            \"requiredAction\": \"Apply mitigations per vendor instructions, follow applicable BOD 22-01 guidance for cloud services, or discontinue use of the product if mitigations are unavailable.\",\n            \"dueDate\": \"{}\",\n            \"knownRansomwareCampaignUse\": \"{}\",\n            \"notes\": \"https://msrc.microsoft.com/update-guide/vulnerability/{cve} ; https://nvd.nist.gov/vuln/detail/{cve}\",\n            \"cwes\": [\n                \"CWE-{}\"\n            ]\n        }}",
                if i == 0 { "" } else { "," },
                added + Days::new(21),
                if (h >> 8).is_multiple_of(5) {
                    "Known"
                } else {
                    "Unknown"
                },
                [787, 416, 122, 20, 78][((h >> 16) % 5) as usize],
            )?;
        }
        write!(out, "\n    ]\n}}\n")?;
        out.flush()
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(std::fs::metadata(path)?.len())
    }

    /// One device's state of one catalogue patch on one day.
    fn patch_on(&self, device: u64, patch: u64, day: NaiveDate) -> PatchDay {
        // The catalogue's patches were released every ~3 days over the six months before start.
        let release = self.start - Days::new(180 - patch * 3);
        let h = self.hash(&[device, patch, 4]);
        let (classification, severity) = match patch % 6 {
            0 | 1 => ("security", "critical"),
            2 | 3 => ("security", "important"),
            4 => ("update_rollup", "moderate"),
            _ => ("driver", "unspecified"),
        };
        let approval = match h % 100 {
            0..=3 => "not_approved",
            4..=5 => "pending_review",
            _ => "approved",
        };
        // Most devices install within weeks; 3% of pairs fail for a long stretch first.
        let chronic = (h >> 8) % 100 < 3;
        let delay = if chronic {
            60 + (h >> 16) % 120
        } else {
            2 + (h >> 16) % 40
        };
        let installed_on = (approval == "approved").then(|| release + Days::new(delay));
        let state = match installed_on {
            Some(d) if day >= d => "installed",
            Some(d) if day + Days::new(1) == d && (h >> 24).is_multiple_of(5) => "pending_reboot",
            Some(_) if chronic && day >= release + Days::new(7) => "failed",
            _ => "missing",
        };
        PatchDay {
            release,
            classification,
            severity,
            approval,
            state,
            installed_on,
        }
    }

    fn hash(&self, parts: &[u64]) -> u64 {
        parts.iter().fold(self.seed ^ 0x9E37_79B9_7F4A_7C15, |h, p| {
            splitmix64(h ^ p.wrapping_mul(0xBF58_476D_1CE4_E5B9))
        })
    }
}

struct PatchDay {
    release: NaiveDate,
    classification: &'static str,
    severity: &'static str,
    approval: &'static str,
    state: &'static str,
    installed_on: Option<NaiveDate>,
}

/// SplitMix64's finaliser: a fast, well-mixed hash of one word.
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A CSV file being written: its header is out, rows are counted by the caller.
struct CsvOut {
    path: PathBuf,
    out: BufWriter<File>,
    rows: u64,
}

impl CsvOut {
    fn create(path: &Path, header: &str) -> Result<CsvOut> {
        let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        writeln!(out, "{header}")?;
        Ok(CsvOut {
            path: path.to_path_buf(),
            out,
            rows: 0,
        })
    }

    /// Flushes the file and returns its size.
    fn finish(mut self) -> Result<u64> {
        self.out
            .flush()
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        Ok(std::fs::metadata(&self.path)?.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msp() -> ScaledMsp {
        ScaledMsp {
            devices: 200,
            days: 2,
            start: NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
            seed: 7,
        }
    }

    #[test]
    fn the_same_options_write_the_same_bytes_and_the_promised_row_counts() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let written = msp().write(a.path()).unwrap();
        msp().write(b.path()).unwrap();
        assert_eq!(written.devices, 400);
        assert_eq!(written.patch_status, 400 * PATCHES_PER_DEVICE);
        assert_eq!(written.tenants, 3, "200 devices at 67 a client");
        for name in [
            "day-2026-10-02/patch_status_2026-10-02.csv",
            "day-2026-10-01/tenants.csv",
        ] {
            assert_eq!(
                std::fs::read(a.path().join(name)).unwrap(),
                std::fs::read(b.path().join(name)).unwrap()
            );
        }
    }

    #[test]
    fn states_are_mostly_installed_with_some_missing_and_failing_devices() {
        let dir = tempfile::tempdir().unwrap();
        msp().write(dir.path()).unwrap();
        let text =
            std::fs::read_to_string(dir.path().join("day-2026-10-01/patch_status_2026-10-01.csv")).unwrap();
        let share =
            |state: &str| text.lines().filter(|l| l.contains(&format!(",{state},"))).count() as f64 / 5000.0;
        assert!(share("installed") > 0.6, "{}", share("installed"));
        assert!(share("missing") > 0.02, "{}", share("missing"));
        assert!(share("failed") > 0.0, "{}", share("failed"));
    }
}
