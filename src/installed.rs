//! The files govpack ships with its binary: the KPI SQL (`queries/`) and the reports' wording,
//! rules and fonts (`report_templates/`).
//!
//! An MSP may rephrase the wording or change a query, so a file is read from the folder
//! `GOVPACK_QUERIES` / `GOVPACK_TEMPLATES` names, else from the folder of that name beside the
//! executable (an install carrying the MSP's own copy), else from the copy compiled into the
//! binary. Never from the source tree the binary was built from, nor from whatever folder a job
//! happens to start in: a KPI an auditor relies on is defined by what was installed, and a
//! scheduled job's working folder is nobody's decision.

use std::borrow::Cow;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};

/// One folder of files shipped with govpack (queries/, report_templates/) and the copy of it built
/// into the binary.
pub struct InstalledFolder {
    folder: &'static str,
    env: &'static str,
    /// A file every copy of the folder holds: a folder beside the binary without it is not one.
    marker: &'static str,
    built_in: &'static [(&'static str, &'static [u8])],
}

pub static QUERIES: InstalledFolder = InstalledFolder {
    folder: "queries",
    env: "GOVPACK_QUERIES",
    marker: "compliance.sql",
    built_in: &[
        ("scopes.sql", include_bytes!("../queries/scopes.sql")),
        ("coverage.sql", include_bytes!("../queries/coverage.sql")),
        ("compliance.sql", include_bytes!("../queries/compliance.sql")),
        (
            "vulnerability.sql",
            include_bytes!("../queries/vulnerability.sql"),
        ),
        (
            "time_to_patch.sql",
            include_bytes!("../queries/time_to_patch.sql"),
        ),
        ("remediation.sql", include_bytes!("../queries/remediation.sql")),
        ("change.sql", include_bytes!("../queries/change.sql")),
        (
            "release_safety.sql",
            include_bytes!("../queries/release_safety.sql"),
        ),
        (
            "workflow_controls.sql",
            include_bytes!("../queries/workflow_controls.sql"),
        ),
        (
            "failure_patterns.sql",
            include_bytes!("../queries/failure_patterns.sql"),
        ),
        ("kpi_summary.sql", include_bytes!("../queries/kpi_summary.sql")),
        ("scorecard.sql", include_bytes!("../queries/scorecard.sql")),
        ("manifest.toml", include_bytes!("../queries/manifest.toml")),
        (
            "reports/control_tests.sql",
            include_bytes!("../queries/reports/control_tests.sql"),
        ),
        (
            "reports/registers.sql",
            include_bytes!("../queries/reports/registers.sql"),
        ),
        (
            "reports/workbook.sql",
            include_bytes!("../queries/reports/workbook.sql"),
        ),
        (
            "reports/workbook_charts.sql",
            include_bytes!("../queries/reports/workbook_charts.sql"),
        ),
        (
            "reports/periods.sql",
            include_bytes!("../queries/reports/periods.sql"),
        ),
        (
            "reports/bundle.sql",
            include_bytes!("../queries/reports/bundle.sql"),
        ),
        (
            "reports/proof_brief.sql",
            include_bytes!("../queries/reports/proof_brief.sql"),
        ),
        (
            "reports/session.sql",
            include_bytes!("../queries/reports/session.sql"),
        ),
        (
            "reports/summary.sql",
            include_bytes!("../queries/reports/summary.sql"),
        ),
        (
            "reports/objectives.sql",
            include_bytes!("../queries/reports/objectives.sql"),
        ),
        (
            "reports/coverage.sql",
            include_bytes!("../queries/reports/coverage.sql"),
        ),
        (
            "reports/failure_patterns.sql",
            include_bytes!("../queries/reports/failure_patterns.sql"),
        ),
        ("reports/deck.sql", include_bytes!("../queries/reports/deck.sql")),
        ("ops/alerts.sql", include_bytes!("../queries/ops/alerts.sql")),
        ("ops/collect.sql", include_bytes!("../queries/ops/collect.sql")),
        (
            "ops/freshness.sql",
            include_bytes!("../queries/ops/freshness.sql"),
        ),
        ("ops/runs.sql", include_bytes!("../queries/ops/runs.sql")),
        ("ops/status.sql", include_bytes!("../queries/ops/status.sql")),
        ("ops/tickets.sql", include_bytes!("../queries/ops/tickets.sql")),
    ],
};

pub static TEMPLATES: InstalledFolder = InstalledFolder {
    folder: "report_templates",
    env: "GOVPACK_TEMPLATES",
    marker: "proof_brief.toml",
    built_in: &[
        (
            "proof_brief.toml",
            include_bytes!("../report_templates/proof_brief.toml"),
        ),
        ("kpis.toml", include_bytes!("../report_templates/kpis.toml")),
        ("deck.toml", include_bytes!("../report_templates/deck.toml")),
        ("runbook.toml", include_bytes!("../report_templates/runbook.toml")),
        (
            "registers.toml",
            include_bytes!("../report_templates/registers.toml"),
        ),
        (
            "failure_rules.toml",
            include_bytes!("../report_templates/failure_rules.toml"),
        ),
        (
            "fonts/DejaVuSans.ttf",
            include_bytes!("../report_templates/fonts/DejaVuSans.ttf"),
        ),
        (
            "fonts/DejaVuSans-Bold.ttf",
            include_bytes!("../report_templates/fonts/DejaVuSans-Bold.ttf"),
        ),
    ],
};

/// A shipped file's content and where it came from (a path, or the built-in copy), for messages.
pub struct InstalledFile {
    pub bytes: Cow<'static, [u8]>,
    pub origin: String,
}

impl InstalledFile {
    pub fn text(&self) -> Result<&str> {
        std::str::from_utf8(&self.bytes).with_context(|| format!("{} is not UTF-8 text", self.origin))
    }
}

impl InstalledFolder {
    /// The folder files are read from; `None` for the built-in copy.
    pub fn folder_in_use(&self) -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os(self.env) {
            return Some(PathBuf::from(dir));
        }
        let exe = std::env::current_exe().ok()?;
        let beside = exe.parent()?.join(self.folder);
        beside.join(self.marker).is_file().then_some(beside)
    }

    /// The copy of a text file built into govpack, whatever folder is in use.
    pub fn built_in_text(&self, file: &str) -> &'static str {
        self.built_in
            .iter()
            .find(|(name, _)| *name == file)
            .and_then(|(_, bytes)| std::str::from_utf8(bytes).ok())
            .unwrap_or_else(|| panic!("{}/{file} is built in as UTF-8 text", self.folder))
    }

    /// One file (`fonts/DejaVuSans.ttf`: a path inside the folder, `/`-separated).
    pub fn read(&self, file: &str) -> Result<InstalledFile> {
        if let Some(dir) = self.folder_in_use() {
            let path = dir.join(file);
            let bytes = std::fs::read(&path).with_context(|| {
                format!(
                    "cannot read {} (the {} folder in use{})",
                    path.display(),
                    self.folder,
                    if std::env::var_os(self.env).is_some() {
                        format!(", from {}", self.env)
                    } else {
                        ", beside the binary".to_string()
                    }
                )
            })?;
            return Ok(InstalledFile {
                bytes: Cow::Owned(bytes),
                origin: path.display().to_string(),
            });
        }
        match self.built_in.iter().find(|(name, _)| *name == file) {
            Some((_, bytes)) => Ok(InstalledFile {
                bytes: Cow::Borrowed(bytes),
                origin: format!("{}/{file} (built into govpack)", self.folder),
            }),
            None => bail!(
                "{}/{file} is not one of the files built into govpack: put a {} folder holding it \
                 beside the binary, or name one with {}",
                self.folder,
                self.folder,
                self.env
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_file_is_built_in_so_an_install_needs_no_folder_beside_it() {
        for (shipped, dir) in [(&QUERIES, "queries"), (&TEMPLATES, "report_templates")] {
            let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
            let mut on_disk = Vec::new();
            for entry in std::fs::read_dir(&root)
                .unwrap()
                .chain(std::fs::read_dir(root.join("fonts")).into_iter().flatten())
                .chain(std::fs::read_dir(root.join("reports")).into_iter().flatten())
                .chain(std::fs::read_dir(root.join("ops")).into_iter().flatten())
            {
                let path = entry.unwrap().path();
                let name = path
                    .strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                if matches!(
                    path.extension().and_then(|e| e.to_str()),
                    Some("sql" | "toml" | "ttf")
                ) {
                    on_disk.push(name);
                }
            }
            on_disk.sort();
            let mut built_in: Vec<String> = shipped.built_in.iter().map(|(n, _)| n.to_string()).collect();
            built_in.sort();
            assert_eq!(built_in, on_disk, "{dir}: a shipped file missing from the binary");
            assert!(built_in.iter().any(|n| n == shipped.marker));
        }
    }
}
