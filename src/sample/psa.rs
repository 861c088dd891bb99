//! What the PSA holds: remediation tickets and incidents for failed deployments, change requests
//! with their CAB decisions and outcomes, and the exception register.

use super::*;

impl Generator<'_> {
    pub(super) fn tickets(&mut self) {
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

    pub(super) fn changes(&mut self) {
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
    pub(super) fn change_row(
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

    pub(super) fn exceptions(&mut self) {
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
