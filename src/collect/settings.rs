//! `[collect]` in `govpack.toml`: which sources a run collects, how patiently, and each
//! collector's own endpoints. Credentials are never here: they come from the environment.

use serde::{Deserialize, Serialize};

/// The sources `govpack collect` (and every run, first) pulls from the vendors' APIs into the
/// inbox. Credentials come from the environment only (see `collect`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CollectSettings {
    /// The sources a run collects (`COLLECTORS`); none by default.
    pub sources: Vec<String>,
    /// Incremental sources re-read this many days before their watermark.
    pub overlap_days: u32,
    /// An answer larger than this is refused, not read.
    pub max_response_mb: u64,
    /// The most pages one dataset may take: a server that pages forever is stopped.
    pub max_pages: u32,
    pub timeout_seconds: u64,
    /// A request that fails in a way that may pass (timeout, 429, 5xx) is retried this many times,
    /// waiting retry_backoff_ms, then twice that, and so on (or what a 429 asks, if longer).
    pub retries: u32,
    pub retry_backoff_ms: u64,
    pub cisa_kev: CisaKevCollect,
    pub msrc_cvrf: MsrcCvrfCollect,
    pub datto_rmm: DattoRmmCollect,
    pub ninjaone: NinjaOneCollect,
    pub autotask: AutotaskCollect,
    pub connectwise_manage: ManageCollect,
    pub wufb: WufbCollect,
}

impl Default for CollectSettings {
    fn default() -> Self {
        CollectSettings {
            sources: Vec::new(),
            overlap_days: 2,
            max_response_mb: 256,
            max_pages: 10_000,
            timeout_seconds: 60,
            retries: 4,
            retry_backoff_ms: 2000,
            cisa_kev: CisaKevCollect::default(),
            msrc_cvrf: MsrcCvrfCollect::default(),
            datto_rmm: DattoRmmCollect::default(),
            ninjaone: NinjaOneCollect::default(),
            autotask: AutotaskCollect::default(),
            connectwise_manage: ManageCollect::default(),
            wufb: WufbCollect::default(),
        }
    }
}

/// The collectors this govpack has, by the name `collect.sources` and `govpack collect` use.
pub const COLLECTORS: [&str; 7] = [
    "cisa-kev",
    "msrc-cvrf",
    "datto-rmm",
    "ninjaone",
    "autotask",
    "connectwise-manage",
    "wufb",
];

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CisaKevCollect {
    pub url: String,
}

impl Default for CisaKevCollect {
    fn default() -> Self {
        CisaKevCollect {
            url: "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MsrcCvrfCollect {
    pub api_url: String,
    /// The snapshot's month and the months before it.
    pub months: u32,
}

impl Default for MsrcCvrfCollect {
    fn default() -> Self {
        MsrcCvrfCollect {
            api_url: "https://api.msrc.microsoft.com/cvrf/v3.0".into(),
            months: 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct DattoRmmCollect {
    /// The account's platform API URL, e.g. https://merlot-api.centrastage.net.
    pub api_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NinjaOneCollect {
    /// The instance: app, eu, oc, ca or us2 .ninjarmm.com.
    pub instance_url: String,
}

impl Default for NinjaOneCollect {
    fn default() -> Self {
        NinjaOneCollect {
            instance_url: "https://app.ninjarmm.com".into(),
        }
    }
}

/// The Autotask collector; its zone comes from `tickets.zone_lookup_url`, as for tickets.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AutotaskCollect {
    /// Requests govpack may send in any hour: Autotask allows 10,000 an hour per database, shared
    /// by every integration of that database (the RMM's sync, quoting and documentation tools).
    pub hourly_budget: u32,
}

impl Default for AutotaskCollect {
    fn default() -> Self {
        AutotaskCollect { hourly_budget: 5000 }
    }
}

/// The ConnectWise Manage collector.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ManageCollect {
    /// The Manage site, e.g. `https://na.myconnectwise.net` (the API is under
    /// `/v4_6_release/apis/3.0/`).
    pub site_url: String,
    /// The company id used at login, first part of the API member's Basic credentials.
    pub company: String,
}

/// The Windows Update for Business reports collector (the Log Analytics query API).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WufbCollect {
    /// The Log Analytics workspace the WUfB reports write to.
    pub workspace_id: String,
    /// The Entra ID tenant of the app registration that may read it.
    pub entra_tenant_id: String,
    pub token_url: String,
    pub api_url: String,
}

impl Default for WufbCollect {
    fn default() -> Self {
        WufbCollect {
            workspace_id: String::new(),
            entra_tenant_id: String::new(),
            token_url: "https://login.microsoftonline.com".into(),
            api_url: "https://api.loganalytics.io".into(),
        }
    }
}
