//! What the RMM reports: each device's installs of each update simulated day by day, then
//! written as the snapshots an RMM exports (per-patch rows or per-device summaries) and the
//! deployment attempts.

use super::*;

impl Generator<'_> {
    /// Simulates every device's installs of every patch that applies to it.
    pub(super) fn histories(&mut self) {
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

    pub(super) fn snapshot_days(&self, tenant: &Tenant) -> Vec<NaiveDate> {
        self.days()
            .filter(|d| {
                tenant.cadence == Cadence::Daily || d.weekday() == Weekday::Mon || *d == self.spec.until
            })
            .collect()
    }

    /// devices, patch_status and device_patch_summary for every snapshot of every tenant.
    pub(super) fn snapshots(&mut self) {
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
    pub(super) fn listed(&self, device: usize, p: usize, snap: NaiveDate) -> bool {
        let patch = &self.patches[p];
        let h = &self.histories[device][p];
        if !patch.applies_to(&self.devices[device]) || patch.release > snap {
            return false;
        }
        let recent = (snap - patch.release).num_days() <= 45;
        let outstanding = h.installed.is_none_or(|i| i.date_naive() > snap);
        recent || (outstanding && patch.approval == "approved" && !h.not_applicable)
    }

    pub(super) fn patch_rows(
        &mut self,
        tenant: &Tenant,
        d: &Device,
        i: usize,
        snap: NaiveDate,
        taken: DateTime<Utc>,
    ) {
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

    pub(super) fn summary_row(
        &mut self,
        tenant: &Tenant,
        d: &Device,
        i: usize,
        snap: NaiveDate,
        taken: DateTime<Utc>,
    ) {
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

    pub(super) fn attempts(&mut self) {
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
}
