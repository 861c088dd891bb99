//! `govpack.toml`: where the lake is, the KPI settings of docs/kpi-definitions.md, the policy-tier
//! rules, and per-source settings. Every key is optional; `default_config_text()` (what `govpack init`
//! writes) documents each one with its default, and a test keeps the two in step. A misspelt key
//! or a wrong value is an error that names it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::canonical::{CLASSIFICATION, CRITICALITY, DEVICE_CLASS};
use crate::collect::settings::{COLLECTORS, CollectSettings};
use crate::error::UsageError;
use crate::sources::settings::{MappingSettings, SourceSettings};

/// The file `govpack init` writes, but for the default targets: every key with its default and
/// what it means.
const DEFAULT_CONFIG_TEMPLATE: &str = include_str!("default_config.toml");
const TARGETS_MARKER: &str = "# @default targets, from src/catalog.rs@\n";

/// The file `govpack init` writes: every key with its default and what it means. The default
/// targets are written from the KPI catalogue, the one place they are stated.
pub fn default_config_text() -> String {
    let targets: String = crate::catalog::KPIS
        .iter()
        .filter_map(|k| Some(format!("{} = {:.2}\n", k.id, k.target?)))
        .collect();
    DEFAULT_CONFIG_TEMPLATE.replace(TARGETS_MARKER, &targets)
}

/// The config file read when `--config` is not given.
pub const DEFAULT_CONFIG_PATH: &str = "govpack.toml";

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub lake: LakeSettings,
    pub kpi: KpiSettings,
    pub policy_tiers: PolicyTierSettings,
    pub sources: BTreeMap<String, SourceSettings>,
    pub mapping: MappingSettings,
    pub run: RunSettings,
    pub alerts: AlertSettings,
    pub tickets: TicketSettings,
    pub evidence: EvidenceSettings,
    pub collect: CollectSettings,
    pub report: ReportSettings,
    pub owners: OwnerSettings,
    /// The folder relative paths in this file are resolved against (the file's own folder).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LakeSettings {
    pub path: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct KpiSettings {
    pub required_classifications: Vec<String>,
    pub grace_days: GraceDays,
    pub tier_grace_days: BTreeMap<String, GraceDaysOverride>,
    pub stale_after_days: u32,
    pub pending_reboot_compliant: bool,
    pub pilot_soak_days: u32,
    pub chronic_snapshots: u32,
    /// The period (`YYYY-MM`) every KPI is compared with; unset: each KPI's first period in history.
    pub baseline_period: Option<String>,
    /// Target as a relative change from the baseline, per kpi_id (+0.10 = 10% uplift).
    pub targets: BTreeMap<String, f64>,
    /// Days from a CVE's addition to the KEV catalog to its deadline when CISA gives no due date.
    pub kev_due_days: u32,
    /// C8: hours from a failed deployment's first failure within which its ticket must exist.
    pub ticket_within_hours: u32,
    /// C11: days from release within which an update pending review must have been reviewed.
    pub review_days: u32,
    /// C12: days a daytime workstation may wait for the reboot that completes a required update.
    pub daytime_reboot_days: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GraceDays {
    pub critical: u32,
    pub important: u32,
    pub moderate: u32,
    pub low: u32,
    pub unspecified: u32,
}

/// A policy tier's own grace days; a severity left out keeps the general value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GraceDaysOverride {
    pub critical: Option<u32>,
    pub important: Option<u32>,
    pub moderate: Option<u32>,
    pub low: Option<u32>,
    pub unspecified: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyTierSettings {
    pub default_tier: String,
    pub rules: Vec<PolicyTierRule>,
}

/// Assigns `tier` to a device whose export has no policy tier, when every list given matches
/// (an empty or absent list matches anything). The first matching rule wins.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyTierRule {
    pub tier: String,
    #[serde(default)]
    pub tenant_criticality: Vec<String>,
    #[serde(default)]
    pub device_class: Vec<String>,
    #[serde(default)]
    pub role: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            lake: LakeSettings::default(),
            kpi: KpiSettings::default(),
            policy_tiers: PolicyTierSettings::default(),
            sources: BTreeMap::new(),
            mapping: MappingSettings::default(),
            run: RunSettings::default(),
            alerts: AlertSettings::default(),
            tickets: TicketSettings::default(),
            evidence: EvidenceSettings::default(),
            report: ReportSettings::default(),
            owners: OwnerSettings::default(),
            collect: CollectSettings::default(),
            base_dir: PathBuf::from("."),
        }
    }
}

/// The MSP's brand on what a client holds (the brief, the workbook, the deck) and the paper the
/// printed documents are laid out for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ReportSettings {
    /// The MSP's name, on the deck's title slide, the brief's first page and the workbook's Summary.
    pub msp_name: Option<String>,
    /// A PNG logo (relative to this file), beside the MSP's name.
    pub logo: Option<PathBuf>,
    /// The page size of the proof brief and the runbook.
    pub paper: Paper,
    /// A PowerPoint file (relative to this file) whose slide masters, layouts and theme the deck
    /// uses; its own slides are left out.
    pub deck_template: Option<PathBuf>,
}

/// A page size: A4 (most of the world) or US Letter (North America).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Paper {
    #[default]
    A4,
    Letter,
}

impl Paper {
    /// Width and height in millimetres.
    pub fn millimetres(self) -> (f32, f32) {
        match self {
            Paper::A4 => (210.0, 297.0),
            Paper::Letter => (215.9, 279.4),
        }
    }

    /// Width and height in points (1/72 inch).
    pub fn points(self) -> (f32, f32) {
        let (w, h) = self.millimetres();
        (w * 72.0 / 25.4, h * 72.0 / 25.4)
    }
}

/// Who holds each role of the patch process, named in the runbook (names or mailboxes). A role
/// nobody holds is printed as unassigned, never left out.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct OwnerSettings {
    /// Runs the patch cycle and the daily alerts; escalates chronic devices.
    pub noc_lead: Option<String>,
    /// Approves updates for release (and the exceptions the client signs).
    pub approver: Option<String>,
    /// Owns the client relationship and the monthly review.
    pub service_delivery_manager: Option<String>,
    /// The change advisory board that approves medium- and high-risk changes.
    pub cab: Option<String>,
}

/// How evidence bundles are sealed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct EvidenceSettings {
    /// An OpenSSH ed25519 private key without a passphrase (relative to this file): every bundle
    /// then carries `manifest.sha256.sig`, an SSH signature over its manifest.
    pub signing_key: Option<PathBuf>,
}

/// The scheduled job (`govpack run`): where it reads and writes, and when a tenant is stale.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunSettings {
    pub inbox: PathBuf,
    /// An inbox entry is read only once nothing in it changed for this long (`operations::inbox`).
    pub inbox_settle_seconds: u64,
    pub output: PathBuf,
    /// Also accepted as `stale_client_days`: the clients are the MSP's tenants.
    #[serde(alias = "stale_client_days")]
    pub stale_tenant_days: u32,
    /// The longest a run spends on HTTP (collectors, alerts, tickets) in all, from its first
    /// request, while it holds the lake's lock.
    pub http_deadline_seconds: u64,
    /// `status --check` fails when no daily or weekly run finished, or a collected source was not
    /// collected, within this many hours.
    pub max_age_hours: u32,
}

impl Default for RunSettings {
    fn default() -> Self {
        RunSettings {
            inbox: PathBuf::from("inbox"),
            inbox_settle_seconds: 30,
            output: PathBuf::from("output"),
            stale_tenant_days: 8,
            http_deadline_seconds: 600,
            max_age_hours: 36,
        }
    }
}

/// Breach rules and where their alerts go.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertSettings {
    /// The environment variable holding the Teams webhook URL (never the URL itself: it is a
    /// secret that lets anyone post to the channel).
    pub webhook_env: String,
    /// Tenant id -> the environment variable of that tenant's own channel.
    pub tenant_webhook_env: BTreeMap<String, String>,
    pub timeout_seconds: u64,
    pub retries: u32,
    pub retry_backoff_ms: u64,
    /// Where published reports can be opened (an intranet or SharePoint folder); the cards link
    /// `<detail_url>/<period>/` when set, else name the local path.
    pub detail_url: Option<String>,
    pub rules: Vec<AlertRule>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    pub name: String,
    /// `kpi` (a KPI value against a threshold), `new_chronic_device`, `stale_data`.
    #[serde(default = "kpi_rule_kind")]
    pub kind: String,
    #[serde(default)]
    pub kpi: Option<String>,
    /// For `kpi` rules: `portfolio`, `tenant`, `tier` or `tenant_tier`.
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub below: Option<f64>,
    #[serde(default)]
    pub above: Option<f64>,
}

fn kpi_rule_kind() -> String {
    "kpi".into()
}

impl Default for AlertSettings {
    fn default() -> Self {
        let kpi = |name: &str, kpi: &str, scope: &str, below: Option<f64>, above: Option<f64>| AlertRule {
            name: name.into(),
            kind: "kpi".into(),
            kpi: Some(kpi.into()),
            scope: Some(scope.into()),
            below,
            above,
        };
        let special = |name: &str, kind: &str| AlertRule {
            name: name.into(),
            kind: kind.into(),
            kpi: None,
            scope: None,
            below: None,
            above: None,
        };
        AlertSettings {
            webhook_env: "GOVPACK_TEAMS_WEBHOOK_URL".into(),
            tenant_webhook_env: BTreeMap::new(),
            timeout_seconds: 10,
            retries: 3,
            retry_backoff_ms: 2000,
            detail_url: None,
            rules: vec![
                kpi(
                    "tenant_patch_compliance",
                    "patch_compliance_rate",
                    "tenant",
                    Some(0.90),
                    None,
                ),
                kpi(
                    "tier_patch_compliance",
                    "patch_compliance_rate",
                    "tenant_tier",
                    Some(0.85),
                    None,
                ),
                special("new_chronic_devices", "new_chronic_device"),
                kpi(
                    "remediation_sla_breaches",
                    "remediation_sla_breach_rate",
                    "tenant",
                    None,
                    Some(0.10),
                ),
                kpi(
                    "emergency_change_ratio",
                    "emergency_change_ratio",
                    "tenant",
                    None,
                    Some(0.15),
                ),
                special("stale_tenant_data", "stale_data"),
                // Any device of a client past a KEV deadline (docs/kpi-definitions.md): the flaws an
                // attacker is known to use, past the date by which CISA says they must be fixed.
                kpi(
                    "tenant_kev_overdue",
                    "kev_overdue_devices",
                    "tenant",
                    None,
                    Some(0.0),
                ),
            ],
        }
    }
}

/// Remediation tickets prepared for failure episodes nobody has a ticket for.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TicketSettings {
    pub open_after_hours: u32,
    /// Server roles whose failures are priority 1; other servers are 2, workstations 3.
    pub priority1_roles: Vec<String>,
    /// Hours from preparation to the due date, for priority 1, 2 and 3.
    pub due_hours: [u32; 3],
    /// The Autotask priority picklist id for priority 1, 2 and 3.
    pub autotask_priority_ids: [i64; 3],
    pub queue_id: Option<i64>,
    pub status_id: i64,
    pub ticket_type_id: i64,
    pub issue_type_id: Option<i64>,
    pub sub_issue_type_id: Option<i64>,
    pub zone_lookup_url: String,
}

impl Default for TicketSettings {
    fn default() -> Self {
        TicketSettings {
            open_after_hours: 72,
            priority1_roles: ["domain_controller", "hypervisor", "sql", "backup"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            due_hours: [24, 72, 120],
            autotask_priority_ids: [4, 1, 2],
            queue_id: None,
            status_id: 1,
            ticket_type_id: 1,
            issue_type_id: None,
            sub_issue_type_id: None,
            zone_lookup_url: "https://webservices.autotask.net/atservicesrest/V1.0/zoneInformation".into(),
        }
    }
}

impl Default for LakeSettings {
    fn default() -> Self {
        LakeSettings {
            path: PathBuf::from("lake"),
        }
    }
}

impl Default for KpiSettings {
    fn default() -> Self {
        KpiSettings {
            required_classifications: vec!["security".into(), "critical".into()],
            grace_days: GraceDays::default(),
            tier_grace_days: BTreeMap::new(),
            stale_after_days: 7,
            pending_reboot_compliant: false,
            pilot_soak_days: 7,
            chronic_snapshots: 3,
            baseline_period: None,
            kev_due_days: 14,
            ticket_within_hours: 24,
            review_days: 7,
            daytime_reboot_days: 3,
            targets: crate::catalog::KPIS
                .iter()
                .filter_map(|k| Some((k.id.to_string(), k.target?)))
                .collect(),
        }
    }
}

impl Default for GraceDays {
    fn default() -> Self {
        GraceDays {
            critical: 14,
            important: 30,
            moderate: 60,
            low: 90,
            unspecified: 30,
        }
    }
}

impl Default for PolicyTierSettings {
    fn default() -> Self {
        let rule = |tier: &str, criticality: &[&str], class: &[&str], role: &[&str]| PolicyTierRule {
            tier: tier.into(),
            tenant_criticality: criticality.iter().map(|s| s.to_string()).collect(),
            device_class: class.iter().map(|s| s.to_string()).collect(),
            role: role.iter().map(|s| s.to_string()).collect(),
        };
        PolicyTierSettings {
            default_tier: "other".into(),
            rules: vec![
                rule("critical_servers", &["critical", "high"], &["server"], &[]),
                rule(
                    "critical_servers",
                    &[],
                    &["server"],
                    &["domain_controller", "hypervisor"],
                ),
                rule("servers", &[], &["server"], &[]),
                rule("workstations", &[], &["workstation"], &[]),
            ],
        }
    }
}

impl GraceDays {
    /// Grace days for a severity word of the canonical vocabulary.
    pub fn for_severity(&self, severity: &str) -> u32 {
        match severity {
            "critical" => self.critical,
            "important" => self.important,
            "moderate" => self.moderate,
            "low" => self.low,
            _ => self.unspecified,
        }
    }

    pub fn with_override(&self, o: &GraceDaysOverride) -> GraceDays {
        GraceDays {
            critical: o.critical.unwrap_or(self.critical),
            important: o.important.unwrap_or(self.important),
            moderate: o.moderate.unwrap_or(self.moderate),
            low: o.low.unwrap_or(self.low),
            unspecified: o.unspecified.unwrap_or(self.unspecified),
        }
    }
}

impl KpiSettings {
    /// Grace days in force for a policy tier (the general values, overridden per tier).
    pub fn grace_days_for_tier(&self, tier: Option<&str>) -> GraceDays {
        match tier.and_then(|t| self.tier_grace_days.get(t)) {
            Some(o) => self.grace_days.with_override(o),
            None => self.grace_days,
        }
    }
}

impl PolicyTierSettings {
    /// The tier of a device whose export names none.
    pub fn tier_for(&self, tenant_criticality: &str, device_class: &str, role: Option<&str>) -> &str {
        let matches = |list: &[String], value: Option<&str>| {
            list.is_empty() || value.is_some_and(|v| list.iter().any(|l| l.eq_ignore_ascii_case(v)))
        };
        self.rules
            .iter()
            .find(|r| {
                matches(&r.tenant_criticality, Some(tenant_criticality))
                    && matches(&r.device_class, Some(device_class))
                    && matches(&r.role, role)
            })
            .map_or(self.default_tier.as_str(), |r| r.tier.as_str())
    }
}

impl Config {
    /// Reads the config: the named file (which must exist), else `./govpack.toml` when there is
    /// one, else the built-in defaults.
    pub fn load(explicit: Option<&Path>) -> Result<Config, UsageError> {
        let Some(path) = Config::file_in_effect(explicit)? else {
            return Ok(Config::default());
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| UsageError(format!("{}: cannot read: {e}", path.display())))?;
        let mut config = Config::parse(&text).map_err(|e| UsageError(format!("{}: {e}", path.display())))?;
        config.base_dir = path
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        if config.base_dir.as_os_str().is_empty() {
            config.base_dir = PathBuf::from(".");
        }
        Ok(config)
    }

    /// The config file `load` reads: the named one (which must exist), else `./govpack.toml`
    /// when there is one, else none (the built-in defaults).
    pub fn file_in_effect(explicit: Option<&Path>) -> Result<Option<PathBuf>, UsageError> {
        match explicit {
            Some(p) if !p.exists() => Err(UsageError(format!(
                "config file {} does not exist (run `govpack init` to write one)",
                p.display()
            ))),
            Some(p) => Ok(Some(p.to_path_buf())),
            None if Path::new(DEFAULT_CONFIG_PATH).exists() => Ok(Some(PathBuf::from(DEFAULT_CONFIG_PATH))),
            None => Ok(None),
        }
    }

    /// Parses and validates config text; the error names the key and, for syntax and type
    /// errors, the line and column.
    pub fn parse(text: &str) -> Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
        config.validate()?;
        Ok(config)
    }

    /// The lake folder: `--lake` when given, else `lake.path` relative to the config file.
    pub fn lake_dir(&self, lake_override: Option<&Path>) -> PathBuf {
        match lake_override {
            Some(dir) => dir.to_path_buf(),
            None if self.lake.path.is_absolute() => self.lake.path.clone(),
            None => self.base_dir.join(&self.lake.path),
        }
    }

    /// A path of the config relative to the config file's folder.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }

    fn validate(&self) -> Result<(), String> {
        /// A link a card or a client will open, or an address govpack calls: a web address only.
        /// A `javascript:` or `file:` URL in a Teams card runs or opens whatever it says.
        fn web_address(key: &str, url: &str) -> Result<(), String> {
            let lower = url.trim().to_ascii_lowercase();
            let rest = lower
                .strip_prefix("https://")
                .or_else(|| lower.strip_prefix("http://"));
            match rest {
                Some(host)
                    if !host.is_empty() && !host.starts_with('/') && !url.chars().any(char::is_control) =>
                {
                    Ok(())
                }
                _ => Err(format!(
                    "{key}: `{}` is not a web address (https://host/...)",
                    crate::canonical::clipped(url, 80)
                )),
            }
        }
        let one_of = |key: String, value: &str, words: &[&str]| {
            if words.contains(&value) {
                Ok(())
            } else {
                Err(format!("{key}: `{value}` is not one of: {}", words.join(", ")))
            }
        };
        if let Some(url) = &self.alerts.detail_url {
            web_address("alerts.detail_url", url)?;
        }
        web_address("tickets.zone_lookup_url", &self.tickets.zone_lookup_url)?;
        let collect = &self.collect;
        for (i, source) in collect.sources.iter().enumerate() {
            one_of(format!("collect.sources[{i}]"), source, &COLLECTORS)?;
        }
        web_address("collect.cisa_kev.url", &collect.cisa_kev.url)?;
        web_address("collect.msrc_cvrf.api_url", &collect.msrc_cvrf.api_url)?;
        web_address("collect.ninjaone.instance_url", &collect.ninjaone.instance_url)?;
        if !collect.datto_rmm.api_url.is_empty() {
            web_address("collect.datto_rmm.api_url", &collect.datto_rmm.api_url)?;
        } else if collect.sources.iter().any(|s| s == "datto-rmm") {
            return Err(
                "collect.datto_rmm.api_url: collect.sources has datto-rmm but its API URL is not set \
                        (the account's platform, e.g. https://merlot-api.centrastage.net)"
                    .into(),
            );
        }
        let manage = &collect.connectwise_manage;
        if !manage.site_url.is_empty() {
            web_address("collect.connectwise_manage.site_url", &manage.site_url)?;
        }
        if collect.sources.iter().any(|s| s == "connectwise-manage")
            && (manage.site_url.is_empty() || manage.company.trim().is_empty())
        {
            return Err(
                "collect.connectwise_manage: collect.sources has connectwise-manage but site_url or \
                 company is not set (the Manage site, e.g. https://na.myconnectwise.net, and the \
                 company id used at login)"
                    .into(),
            );
        }
        web_address("collect.wufb.token_url", &collect.wufb.token_url)?;
        web_address("collect.wufb.api_url", &collect.wufb.api_url)?;
        if collect.sources.iter().any(|s| s == "wufb")
            && (collect.wufb.workspace_id.trim().is_empty() || collect.wufb.entra_tenant_id.trim().is_empty())
        {
            return Err(
                "collect.wufb: collect.sources has wufb but workspace_id or entra_tenant_id is not set \
                 (the Log Analytics workspace of the WUfB reports, and the Entra ID tenant of the app)"
                    .into(),
            );
        }
        if !(1..=10_000).contains(&collect.autotask.hourly_budget) {
            return Err(format!(
                "collect.autotask.hourly_budget: {} is not 1 to 10000 (Autotask's own limit per database)",
                collect.autotask.hourly_budget
            ));
        }
        if !(1..=36).contains(&collect.msrc_cvrf.months) {
            return Err(format!(
                "collect.msrc_cvrf.months: {} is not 1 to 36",
                collect.msrc_cvrf.months
            ));
        }
        if !(1..=4096).contains(&collect.max_response_mb)
            || collect.max_pages == 0
            || collect.timeout_seconds == 0
        {
            return Err(
                "collect: max_response_mb must be 1 to 4096, max_pages and timeout_seconds at least 1".into(),
            );
        }
        if self.kpi.required_classifications.is_empty() {
            return Err("kpi.required_classifications: needs at least one classification".into());
        }
        for (i, c) in self.kpi.required_classifications.iter().enumerate() {
            one_of(format!("kpi.required_classifications[{i}]"), c, CLASSIFICATION)?;
        }
        if let Some(p) = &self.kpi.baseline_period {
            crate::calendar::Period::parse_month(p)
                .map_err(|_| format!("kpi.baseline_period: `{p}` is not a month (expected YYYY-MM)"))?;
        }
        for (id, change) in &self.kpi.targets {
            match crate::catalog::find(id).map(|k| k.better) {
                None => {
                    return Err(format!(
                        "kpi.targets.{id}: not a KPI of the spec (known: {})",
                        crate::catalog::ids().join(", ")
                    ));
                }
                Some(crate::catalog::Better::Neither) => {
                    return Err(format!(
                        "kpi.targets.{id}: a count with no better direction takes no target"
                    ));
                }
                Some(_) => {}
            }
            if !change.is_finite() || *change <= -1.0 {
                return Err(format!(
                    "kpi.targets.{id}: {change} is not a relative change above -1"
                ));
            }
        }
        if self.kpi.chronic_snapshots == 0 {
            return Err("kpi.chronic_snapshots: must be at least 1".into());
        }
        if self.policy_tiers.default_tier.trim().is_empty() {
            return Err("policy_tiers.default_tier: must not be empty".into());
        }
        for (i, rule) in self.policy_tiers.rules.iter().enumerate() {
            let key = format!("policy_tiers.rules[{i}]");
            if rule.tier.trim().is_empty() {
                return Err(format!("{key}.tier: must not be empty"));
            }
            for c in &rule.tenant_criticality {
                one_of(format!("{key}.tenant_criticality"), c, CRITICALITY)?;
            }
            for c in &rule.device_class {
                one_of(format!("{key}.device_class"), c, DEVICE_CLASS)?;
            }
        }
        self.mapping.check()?;
        for (i, rule) in self.alerts.rules.iter().enumerate() {
            let key = format!("alerts.rules[{i}] ({})", rule.name);
            one_of(
                format!("{key}.kind"),
                &rule.kind,
                &["kpi", "new_chronic_device", "stale_data"],
            )?;
            if rule.kind == "kpi" {
                let kpi = rule
                    .kpi
                    .as_deref()
                    .ok_or_else(|| format!("{key}.kpi: a kpi rule names its KPI"))?;
                if crate::catalog::find(kpi).is_none() {
                    return Err(format!(
                        "{key}.kpi: `{kpi}` is not a KPI of the spec (known: {})",
                        crate::catalog::ids().join(", ")
                    ));
                }
                one_of(
                    format!("{key}.scope"),
                    rule.scope.as_deref().unwrap_or(""),
                    &["portfolio", "tenant", "tier", "tenant_tier"],
                )?;
                if rule.below.is_some() == rule.above.is_some() {
                    return Err(format!("{key}: give exactly one of `below` or `above`"));
                }
                if let Some(x) = rule.below.or(rule.above).filter(|x| !x.is_finite()) {
                    return Err(format!("{key}: threshold {x} is not a number"));
                }
            } else if rule.kpi.is_some()
                || rule.scope.is_some()
                || rule.below.is_some()
                || rule.above.is_some()
            {
                // Would be ignored: say so rather than let the MSP believe a threshold is in force.
                return Err(format!(
                    "{key}: a `{}` rule takes no kpi, scope, below or above (its threshold is fixed: \
                     chronic_snapshots, run.stale_tenant_days)",
                    rule.kind
                ));
            }
            // The name is part of each breach's identity (what makes an alert new or not).
            if self.alerts.rules[..i].iter().any(|r| r.name == rule.name) {
                return Err(format!(
                    "{key}.name: another rule is already called `{}`",
                    rule.name
                ));
            }
            if rule.name.trim().is_empty() || rule.name.contains('|') {
                return Err(format!("{key}.name: must be non-empty, without `|`"));
            }
        }
        if self.alerts.webhook_env.trim().is_empty() {
            return Err("alerts.webhook_env: names no environment variable".into());
        }
        if self.alerts.timeout_seconds == 0 {
            return Err("alerts.timeout_seconds: must be at least 1".into());
        }
        // Bounds that keep every setting inside what dates, SQL integers and sleeps can hold: a
        // value past them is a typo, not a policy.
        const DAYS: u64 = 3650;
        const HOURS: u64 = 8760;
        let at_most = |key: &str, value: u64, max: u64| {
            if value > max {
                Err(format!("{key}: {value} is more than {max}"))
            } else {
                Ok(())
            }
        };
        let kpi = &self.kpi;
        at_most("kpi.stale_after_days", kpi.stale_after_days.into(), DAYS)?;
        at_most("kpi.pilot_soak_days", kpi.pilot_soak_days.into(), DAYS)?;
        at_most("kpi.chronic_snapshots", kpi.chronic_snapshots.into(), 366)?;
        at_most("kpi.kev_due_days", kpi.kev_due_days.into(), DAYS)?;
        at_most(
            "kpi.ticket_within_hours",
            kpi.ticket_within_hours.into(),
            DAYS * 24,
        )?;
        at_most("kpi.review_days", kpi.review_days.into(), DAYS)?;
        at_most("kpi.daytime_reboot_days", kpi.daytime_reboot_days.into(), DAYS)?;
        let grace = |key: &str, g: [Option<u32>; 5]| -> Result<(), String> {
            for (severity, days) in ["critical", "important", "moderate", "low", "unspecified"]
                .iter()
                .zip(g)
            {
                if let Some(days) = days {
                    at_most(&format!("{key}.{severity}"), days.into(), DAYS)?;
                }
            }
            Ok(())
        };
        let g = kpi.grace_days;
        grace(
            "kpi.grace_days",
            [g.critical, g.important, g.moderate, g.low, g.unspecified].map(Some),
        )?;
        for (tier, o) in &kpi.tier_grace_days {
            grace(
                &format!("kpi.tier_grace_days.{tier}"),
                [o.critical, o.important, o.moderate, o.low, o.unspecified],
            )?;
        }
        at_most("run.stale_tenant_days", self.run.stale_tenant_days.into(), DAYS)?;
        at_most("run.inbox_settle_seconds", self.run.inbox_settle_seconds, 86_400)?;
        at_most(
            "run.http_deadline_seconds",
            self.run.http_deadline_seconds,
            86_400,
        )?;
        at_most("alerts.timeout_seconds", self.alerts.timeout_seconds, 3600)?;
        at_most("alerts.retries", self.alerts.retries.into(), 10)?;
        at_most("alerts.retry_backoff_ms", self.alerts.retry_backoff_ms, 600_000)?;
        at_most(
            "tickets.open_after_hours",
            self.tickets.open_after_hours.into(),
            HOURS,
        )?;
        for (p, hours) in self.tickets.due_hours.iter().enumerate() {
            let key = format!("tickets.due_hours[{p}]");
            if *hours == 0 {
                return Err(format!("{key}: must be at least 1"));
            }
            at_most(&key, (*hours).into(), HOURS)?;
        }
        for (p, id) in self.tickets.autotask_priority_ids.iter().enumerate() {
            if *id < 1 {
                return Err(format!(
                    "tickets.autotask_priority_ids[{p}]: {id} is not a picklist id"
                ));
            }
        }
        for (name, source) in &self.sources {
            // The adapters' registry says which sources exist: the one import of `sources`
            // here, so that adding a vendor does not mean adding its name to a second list.
            let known: Vec<&str> = crate::sources::registry::settings_keys().collect();
            one_of("sources".to_string(), name, &known)
                .map_err(|_| format!("sources.{name}: unknown source (known: {})", known.join(", ")))?;
            source.time_zone.parse::<chrono_tz::Tz>().map_err(|_| {
                format!(
                    "sources.{name}.time_zone: `{}` is not an IANA time zone (e.g. UTC, Europe/London, America/New_York)",
                    source.time_zone
                )
            })?;
        }
        Ok(())
    }
}

/// A key as TOML writes it: bare when it can be, quoted otherwise (`"udf:Change Type"`).
pub fn toml_key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        name.to_string()
    } else {
        toml::Value::String(name.to_string()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapping_table_in_the_file_changes_only_the_keys_it_sets() {
        let config = Config::parse(
            "[mapping.autotask.change_fields]\noutcome = \"changeInfoField5\"\nhas_test_evidence = \"\"\n\
             [mapping.autotask.priorities]\nurgent = 1\n",
        )
        .unwrap();
        let fields = &config.mapping.autotask.change_fields;
        assert_eq!(fields["outcome"], "changeInfoField5");
        // The defaults the file did not touch stay: completed changes still close.
        assert_eq!(fields["actual_end_utc"], "completedDate");
        assert_eq!(fields["risk"], "changeInfoField2");
        // An empty value unmaps a column.
        assert!(!fields.contains_key("has_test_evidence"));
        let priorities = &config.mapping.autotask.priorities;
        assert_eq!((priorities["urgent"], priorities["critical"]), (1, 1));
        let manage =
            Config::parse("[mapping.connectwise_manage.change_fields]\nrisk = \"severity\"\n").unwrap();
        assert_eq!(
            manage.mapping.connectwise_manage.change_fields["risk"],
            "severity"
        );
        assert_eq!(
            manage.mapping.connectwise_manage.change_fields["outcome"],
            "custom:Change Outcome"
        );
    }

    #[test]
    fn the_file_init_writes_holds_exactly_the_built_in_defaults() {
        let text = default_config_text();
        assert!(
            !text.contains("@default targets"),
            "the targets marker was not replaced"
        );
        assert_eq!(Config::parse(&text).unwrap(), Config::default());
    }

    #[test]
    fn settings_past_what_dates_and_sleeps_can_hold_are_config_errors_naming_the_key() {
        for (text, key) in [
            (
                "[tickets]\ndue_hours = [4294967295, 72, 120]\n",
                "tickets.due_hours[0]: 4294967295 is more than 8760",
            ),
            (
                "[tickets]\ndue_hours = [24, 0, 120]\n",
                "tickets.due_hours[1]: must be at least 1",
            ),
            (
                "[tickets]\nopen_after_hours = 100000\n",
                "tickets.open_after_hours",
            ),
            ("[kpi]\nstale_after_days = 4294967295\n", "kpi.stale_after_days"),
            ("[kpi.grace_days]\ncritical = 100000\n", "kpi.grace_days.critical"),
            (
                "[kpi.tier_grace_days.servers]\nlow = 100000\n",
                "kpi.tier_grace_days.servers.low",
            ),
            (
                "[alerts]\nretry_backoff_ms = 18446744073709551615\n",
                "alerts.retry_backoff_ms",
            ),
            ("[run]\nstale_tenant_days = 4294967295\n", "run.stale_tenant_days"),
            (
                "[run]\ninbox_settle_seconds = 4294967295000\n",
                "run.inbox_settle_seconds",
            ),
            (
                "[alerts]\ndetail_url = \"javascript:alert(1)\"\n",
                "alerts.detail_url: `javascript:alert(1)` is not a web address",
            ),
            (
                "[alerts]\ndetail_url = \"file:///etc/passwd\"\n",
                "alerts.detail_url",
            ),
            (
                "[tickets]\nzone_lookup_url = \"javascript://x\"\n",
                "tickets.zone_lookup_url",
            ),
        ] {
            let err = Config::parse(text).unwrap_err().to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
        assert!(Config::parse("[tickets]\ndue_hours = [8760, 1, 120]\n").is_ok());
        assert!(Config::parse("[alerts]\ndetail_url = \"https://intranet.msp.example/reports\"\n").is_ok());
    }

    #[test]
    fn an_empty_file_means_the_defaults() {
        assert_eq!(Config::parse("").unwrap(), Config::default());
    }

    #[test]
    fn breach_rules_are_checked_against_the_spec_and_name_the_rule() {
        let rule = |body: &str| Config::parse(&format!("[[alerts.rules]]\nname = \"r1\"\n{body}"));
        let err = rule("kind = \"kpi\"\nkpi = \"patch_complience_rate\"\nscope = \"tenant\"\nbelow = 0.9\n")
            .unwrap_err();
        assert!(
            err.contains("alerts.rules[0] (r1).kpi") && err.contains("patch_complience_rate"),
            "{err}"
        );
        let err = rule("kpi = \"patch_compliance_rate\"\nscope = \"tenant\"\nbelow = 0.9\nabove = 0.1\n")
            .unwrap_err();
        assert!(err.contains("exactly one of `below` or `above`"), "{err}");
        let err = rule("kpi = \"patch_compliance_rate\"\nscope = \"site\"\nbelow = 0.9\n").unwrap_err();
        assert!(err.contains("scope: `site`"), "{err}");
        let err = rule("kpi = \"patch_compliance_rate\"\nscope = \"tenant\"\nbelow = nan\n").unwrap_err();
        assert!(err.contains("is not a number"), "{err}");
        let err = rule("kind = \"stale_data\"\nbelow = 3.0\n").unwrap_err();
        assert!(
            err.contains("a `stale_data` rule takes no kpi, scope, below or above"),
            "{err}"
        );
        let twice = "[[alerts.rules]]\nname = \"r1\"\nkind = \"stale_data\"\n\
                     [[alerts.rules]]\nname = \"r1\"\nkind = \"new_chronic_device\"\n";
        let err = Config::parse(twice).unwrap_err();
        assert!(
            err.contains("alerts.rules[1] (r1).name: another rule is already called `r1`"),
            "{err}"
        );
        let err = rule("kind = \"page_someone\"\n").unwrap_err();
        assert!(err.contains("kind: `page_someone`"), "{err}");
        // A rule list replaces the defaults; the kind defaults to kpi.
        let config = rule("kpi = \"emergency_change_ratio\"\nscope = \"portfolio\"\nabove = 0.2\n").unwrap();
        assert_eq!(config.alerts.rules.len(), 1);
        assert_eq!(config.alerts.rules[0].kind, "kpi");
    }

    #[test]
    fn a_misspelt_key_is_named_with_its_line() {
        let err = Config::parse("[kpi]\nstale_after_dayz = 3\n").unwrap_err();
        assert!(err.contains("stale_after_dayz"), "{err}");
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn a_wrong_value_is_named() {
        let err =
            Config::parse("[kpi]\nrequired_classifications = [\"security\", \"securty\"]\n").unwrap_err();
        assert!(
            err.contains("kpi.required_classifications[1]: `securty`"),
            "{err}"
        );
        let err = Config::parse("[kpi]\nstale_after_days = -1\n").unwrap_err();
        assert!(err.contains("stale_after_days"), "{err}");
        let err = Config::parse("[sources.datto_rmm]\ntime_zone = \"Mars/Olympus\"\n").unwrap_err();
        assert!(err.contains("sources.datto_rmm.time_zone"), "{err}");
        let err = Config::parse("[sources.kaseya]\n").unwrap_err();
        assert!(err.contains("sources.kaseya: unknown source"), "{err}");
        let err = Config::parse("[sources.ninjaone]\ndate_culture = \"uk\"\n").unwrap_err();
        assert!(err.contains("uk") && err.contains("day_first"), "{err}");
    }

    #[test]
    fn targets_and_baseline_are_checked_against_the_spec() {
        let err = Config::parse("[kpi.targets]\npatch_compliance = 0.1\n").unwrap_err();
        assert!(err.contains("kpi.targets.patch_compliance: not a KPI"), "{err}");
        let err = Config::parse("[kpi]\nbaseline_period = \"2026-13\"\n").unwrap_err();
        assert!(err.contains("kpi.baseline_period"), "{err}");
        let config = Config::parse("[kpi.targets]\nmttr_hours_p90 = -0.3\n").unwrap();
        assert_eq!(
            config.kpi.targets.len(),
            1,
            "a [kpi.targets] table replaces the defaults"
        );
    }

    #[test]
    fn tier_grace_days_override_only_what_they_name() {
        let config = Config::parse("[kpi.tier_grace_days.critical_servers]\ncritical = 7\n").unwrap();
        let g = config.kpi.grace_days_for_tier(Some("critical_servers"));
        assert_eq!((g.critical, g.important), (7, 30));
        assert_eq!(config.kpi.grace_days_for_tier(Some("workstations")).critical, 14);
        assert_eq!(config.kpi.grace_days_for_tier(None).for_severity("low"), 90);
    }

    #[test]
    fn policy_tier_rules_apply_in_order_with_a_default() {
        let rules = PolicyTierSettings::default();
        assert_eq!(
            rules.tier_for("critical", "server", Some("sql")),
            "critical_servers"
        );
        assert_eq!(
            rules.tier_for("standard", "server", Some("domain_controller")),
            "critical_servers"
        );
        assert_eq!(rules.tier_for("standard", "server", None), "servers");
        assert_eq!(rules.tier_for("low", "workstation", None), "workstations");
        assert_eq!(rules.tier_for("low", "other", None), "other");
    }
}
