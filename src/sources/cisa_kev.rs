//! The CISA Known Exploited Vulnerabilities catalog, in the JSON feed CISA publishes
//! (`known_exploited_vulnerabilities.json`): `{"title", "catalogVersion", "dateReleased", "count",
//! "vulnerabilities": [{"cveID", "vendorProject", "product", "vulnerabilityName", "dateAdded",
//! "shortDescription", "requiredAction", "dueDate", "knownRansomwareCampaignUse", "notes",
//! "cwes"}]}`. One `kev` row per CVE.

use chrono::NaiveDate;
use serde_json::Value;

use super::{RowSink, json};
use crate::canonical::KEV;

/// Whether a JSON document is the catalog.
pub fn recognises(document: &Value) -> bool {
    json::field(document, "catalogVersion").is_some() && json::field(document, "vulnerabilities").is_some()
}

/// The day the catalog was released (`dateReleased`, an ISO instant): a newer catalog's rows
/// replace an older one's, whatever order they are ingested in.
pub fn released(document: &Value) -> Option<NaiveDate> {
    let text = json::text(document, "dateReleased");
    NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()
}

pub fn read_catalog(document: &Value, sink: &mut RowSink) -> u64 {
    let version = json::text(document, "catalogVersion");
    let entries = json::records(document, &["vulnerabilities"]);
    for (i, entry) in entries.iter().enumerate() {
        // `Known` when CISA knows of ransomware campaigns using it, `Unknown` otherwise.
        let ransomware = match json::text(entry, "knownRansomwareCampaignUse")
            .to_ascii_lowercase()
            .as_str()
        {
            "known" => "true",
            "unknown" => "false",
            _ => "",
        };
        sink.push(
            &KEV,
            i as u64 + 1,
            &[
                ("cve_id", json::text(entry, "cveID").trim().to_ascii_uppercase()),
                ("vendor_project", json::text(entry, "vendorProject")),
                ("product", json::text(entry, "product")),
                ("vulnerability_name", json::text(entry, "vulnerabilityName")),
                ("date_added", json::text(entry, "dateAdded")),
                ("due_date", json::text(entry, "dueDate")),
                ("known_ransomware_use", ransomware.to_string()),
                ("catalog_version", version.clone()),
            ],
        );
    }
    entries.len() as u64
}
