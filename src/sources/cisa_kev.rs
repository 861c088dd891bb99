//! The CISA Known Exploited Vulnerabilities catalog, in the JSON feed CISA publishes
//! (`known_exploited_vulnerabilities.json`): `{"title", "catalogVersion", "dateReleased", "count",
//! "vulnerabilities": [{"cveID", "vendorProject", "product", "vulnerabilityName", "dateAdded",
//! "shortDescription", "requiredAction", "dueDate", "knownRansomwareCampaignUse", "notes",
//! "cwes"}]}`. One `kev` row per CVE, read entry by entry as the file streams.

use chrono::NaiveDate;
use serde_json::Value;

use super::registry::{Adapter, FormatSpec, ListReader, Reads, Stage};
use super::{RowSink, json};
use crate::canonical::KEV;
use crate::sources::settings::DateCulture;

pub static ADAPTER: Adapter = Adapter {
    settings_key: "cisa_kev",
    default_date_culture: DateCulture::Iso,
    formats: &[FormatSpec {
        name: "cisa-kev-json",
        stage: Stage::Reference,
        reads: Reads::JsonList {
            recognises: |p| recognises(p.document),
            document: "the KEV catalog",
            list: "vulnerabilities",
            reader: |catalog| {
                Box::new(CatalogReader {
                    version: json::text(catalog, "catalogVersion"),
                    unknown_words: Default::default(),
                })
            },
            released,
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

/// Reads the catalog's entries.
struct CatalogReader {
    version: String,
    /// Words other than CISA's two, by how often: the entry loads with the flag not recorded.
    unknown_words: std::collections::BTreeMap<String, u64>,
}

impl ListReader for CatalogReader {
    fn item(&mut self, number: u64, entry: &Value, sink: &mut RowSink) -> u64 {
        // `Known` when CISA knows of ransomware campaigns using it, `Unknown` otherwise; absent
        // from catalogs older than the field.
        let word = json::text(entry, "knownRansomwareCampaignUse");
        let ransomware = match word.trim().to_ascii_lowercase().as_str() {
            "known" => "true",
            "unknown" => "false",
            "" => "",
            _ => {
                *self.unknown_words.entry(word.trim().to_string()).or_default() += 1;
                ""
            }
        };
        sink.push(
            &KEV,
            number,
            &[
                ("cve_id", json::text(entry, "cveID").trim().to_ascii_uppercase()),
                ("vendor_project", json::text(entry, "vendorProject")),
                ("product", json::text(entry, "product")),
                ("vulnerability_name", json::text(entry, "vulnerabilityName")),
                ("date_added", json::text(entry, "dateAdded")),
                ("due_date", json::text(entry, "dueDate")),
                ("known_ransomware_use", ransomware.to_string()),
                ("catalog_version", self.version.clone()),
            ],
        );
        1
    }

    fn finish(&mut self, _: u64, warnings: &mut Vec<String>) {
        if !self.unknown_words.is_empty() {
            let words: Vec<String> = self
                .unknown_words
                .iter()
                .map(|(w, n)| format!("`{w}` ({n})"))
                .collect();
            warnings.push(format!(
                "knownRansomwareCampaignUse other than Known or Unknown: {}; read as not recorded",
                words.join(", ")
            ));
        }
    }
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
