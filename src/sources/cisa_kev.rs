//! The CISA Known Exploited Vulnerabilities catalog, in the JSON feed CISA publishes
//! (`known_exploited_vulnerabilities.json`): `{"title", "catalogVersion", "dateReleased", "count",
//! "vulnerabilities": [{"cveID", "vendorProject", "product", "vulnerabilityName", "dateAdded",
//! "shortDescription", "requiredAction", "dueDate", "knownRansomwareCampaignUse", "notes",
//! "cwes"}]}`. One `kev` row per CVE.

use chrono::NaiveDate;
use serde_json::Value;

use super::registry::{Adapter, FormatSpec, Reads, Stage};
use super::{FileError, RowSink, SourceFile, json};
use crate::canonical::KEV;
use crate::config::DateCulture;

pub static ADAPTER: Adapter = Adapter {
    settings_key: "cisa_kev",
    default_date_culture: DateCulture::Iso,
    formats: &[FormatSpec {
        name: "cisa-kev-json",
        stage: Stage::Reference,
        reads: Reads::Json {
            recognises: |p| recognises(p.document),
            read: |file, doc, _, sink, warnings| read_catalog(file, doc, sink, warnings),
            released: Some(released),
        },
    }],
};

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

pub fn read_catalog(
    file: &SourceFile,
    document: &Value,
    sink: &mut RowSink,
    warnings: &mut Vec<String>,
) -> Result<u64, FileError> {
    let version = json::text(document, "catalogVersion");
    // A catalog whose list is not a list would load nothing and look like an empty catalog:
    // refused, so that no exposure reads 0 for want of a readable file.
    let Some(entries) = json::field(document, "vulnerabilities").and_then(Value::as_array) else {
        return Err(FileError::whole(
            &file.path,
            "the KEV catalog's `vulnerabilities` is not a list",
        ));
    };
    // Words other than CISA's two, by how often: the entry loads with the flag not recorded.
    let mut unknown_words = std::collections::BTreeMap::<String, u64>::new();
    for (i, entry) in entries.iter().enumerate() {
        // `Known` when CISA knows of ransomware campaigns using it, `Unknown` otherwise; absent
        // from catalogs older than the field.
        let word = json::text(entry, "knownRansomwareCampaignUse");
        let ransomware = match word.trim().to_ascii_lowercase().as_str() {
            "known" => "true",
            "unknown" => "false",
            "" => "",
            _ => {
                *unknown_words.entry(word.trim().to_string()).or_default() += 1;
                ""
            }
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
    if !unknown_words.is_empty() {
        let words: Vec<String> = unknown_words
            .iter()
            .map(|(w, n)| format!("`{w}` ({n})"))
            .collect();
        warnings.push(format!(
            "knownRansomwareCampaignUse other than Known or Unknown: {}; read as not recorded",
            words.join(", ")
        ));
    }
    Ok(entries.len() as u64)
}

/// The catalog as CISA publishes it, from `kev` rows (the sample MSP's reference data).
pub mod export {
    use serde_json::{Value, json};

    use crate::sources::ExportRow;

    /// `version` is the catalog's `catalogVersion`, `released` its `dateReleased` instant.
    pub fn catalog<R: ExportRow>(version: &str, released: &str, rows: &[&R]) -> Value {
        let vulnerabilities: Vec<Value> = rows
            .iter()
            .map(|r| {
                let cve = r.get("cve_id");
                json!({
                    "cveID": cve,
                    "vendorProject": r.get("vendor_project"),
                    "product": r.get("product"),
                    "vulnerabilityName": r.get("vulnerability_name"),
                    "dateAdded": r.get("date_added"),
                    "shortDescription": format!("{} contains an unspecified vulnerability.", r.get("product")),
                    "requiredAction": "Apply mitigations per vendor instructions or discontinue use of the product if mitigations are unavailable.",
                    "dueDate": r.get("due_date"),
                    "knownRansomwareCampaignUse": if r.get("known_ransomware_use") == "true" { "Known" } else { "Unknown" },
                    "notes": format!("https://nvd.nist.gov/vuln/detail/{cve}"),
                    "cwes": [],
                })
            })
            .collect();
        json!({
            "title": "CISA Catalog of Known Exploited Vulnerabilities",
            "catalogVersion": version,
            "dateReleased": released,
            "count": vulnerabilities.len(),
            "vulnerabilities": vulnerabilities,
        })
    }
}
