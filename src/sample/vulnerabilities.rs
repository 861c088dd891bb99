//! The public vulnerability data of the sample's Microsoft updates: the CISA KEV catalog and one
//! MSRC CVRF document a month.

use super::*;

impl Generator<'_> {
    /// The public vulnerability data of the Microsoft updates, as MSRC and CISA publish it: the
    /// CVEs each security update fixes (one CVRF document a month: a CVE in every cumulative update,
    /// one of each update's own, one of .NET's and the out-of-band fix's) and the KEV catalog's
    /// entries for those exploited in the wild (the last month's shared CVE, the second month's
    /// .NET one, and the out-of-band one, used by ransomware), plus a browser CVE no update here
    /// fixes. Numbered
    /// from the month (`CVE-2026-41001` is October's first), so no draw is taken.
    pub(super) fn vulnerabilities(&mut self) {
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
}
