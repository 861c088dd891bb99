//! The sample's estate: its clients, their devices (classes, rings, tracks, policies, fates) and
//! the updates released over the months it covers.

use super::*;

impl Generator<'_> {
    pub(super) fn tenants(&mut self) {
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

    pub(super) fn devices(&mut self) {
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
    pub(super) fn catalogue(&mut self) {
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
}
