//! Microsoft Security Response Center CVRF documents, in the JSON the Security Update Guide API
//! serves (`/cvrf/v3.0/cvrf/2026-Oct`) and the MsrcSecurityUpdates PowerShell module saves: a
//! month's `Vulnerability` list, each with its `CVE`, `Threats` (type 1 the exploitability
//! assessment, `Publicly Disclosed:Yes;Exploited:No;...`; type 3 the severity, per product),
//! `CVSSScoreSets` (per product) and `Remediations` (type 2 a vendor fix, whose description is the
//! KB number, `5044284`). One `patch_cves` row per KB and CVE, read vulnerability by
//! vulnerability as the file streams.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde_json::Value;

use super::registry::{Adapter, FormatSpec, ListReader, Reads, Stage};
use super::{RowSink, json};
use crate::canonical::PATCH_CVES;
use crate::sources::settings::DateCulture;

pub static ADAPTER: Adapter = Adapter {
    settings_key: "msrc_cvrf",
    default_date_culture: DateCulture::Iso,
    formats: &[FormatSpec {
        name: "msrc-cvrf-json",
        stage: Stage::Reference,
        reads: Reads::JsonList {
            recognises: |p| recognises(p.document),
            document: "the CVRF document",
            list: "Vulnerability",
            reader: |document| {
                Box::new(DocumentReader {
                    source: document_id(document),
                    rows: 0,
                    without_kb: 0,
                })
            },
            released,
        },
    }],
};

/// CVRF's remediation type of a vendor fix, and its threat types.
const VENDOR_FIX: &str = "2";
const EXPLOIT_STATUS: &str = "1";
const SEVERITY: &str = "3";

/// Whether a JSON document is a CVRF document.
pub fn recognises(document: &Value) -> bool {
    json::field(document, "DocumentTracking").is_some() && json::field(document, "Vulnerability").is_some()
}

/// The document's id (`2026-Oct`).
fn document_id(document: &Value) -> String {
    json::path(document, &["DocumentTracking", "Identification", "ID", "Value"])
        .map(json::scalar_text)
        .unwrap_or_default()
}

/// The day the document was last revised (`DocumentTracking.CurrentReleaseDate`): a revision
/// of a month's document replaces the rows of the first release.
pub fn released(document: &Value) -> Option<NaiveDate> {
    let text = json::path(document, &["DocumentTracking", "CurrentReleaseDate"]).map(json::scalar_text)?;
    NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()
}

/// `Yes` or `No` after `name:` in an exploitability text, as `true`/`false`; empty when absent.
fn assessed(text: &str, name: &str) -> String {
    text.split(';')
        .filter_map(|part| part.split_once(':'))
        .find(|(key, _)| key.trim().eq_ignore_ascii_case(name))
        .map(|(_, value)| match value.trim().to_ascii_lowercase().as_str() {
            "yes" => "true".to_string(),
            "no" => "false".to_string(),
            _ => String::new(),
        })
        .unwrap_or_default()
}

/// MSRC's worst severity among a CVE's products.
fn worst_severity(threats: &[Value]) -> String {
    const ORDER: [&str; 4] = ["critical", "important", "moderate", "low"];
    threats
        .iter()
        .filter(|t| json::text(t, "Type") == SEVERITY)
        .filter_map(|t| {
            let word = json::path(t, &["Description", "Value"])
                .map(json::scalar_text)?
                .to_ascii_lowercase();
            ORDER.iter().position(|o| *o == word.trim())
        })
        .min()
        .map_or_else(String::new, |i| ORDER[i].to_string())
}

/// Reads the document's vulnerabilities.
struct DocumentReader {
    /// The document's id, each row's `source_document`.
    source: String,
    /// Rows so far: a row's number in quarantine.
    rows: u64,
    without_kb: u64,
}

impl ListReader for DocumentReader {
    fn item(&mut self, _: u64, vulnerability: &Value, sink: &mut RowSink) -> u64 {
        let cve = json::text(vulnerability, "CVE").trim().to_ascii_uppercase();
        let list = |name: &str| {
            json::field(vulnerability, name)
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice)
        };
        let threats = list("Threats");
        let exploitability = threats
            .iter()
            .find(|t| json::text(t, "Type") == EXPLOIT_STATUS)
            .and_then(|t| json::path(t, &["Description", "Value"]))
            .map(json::scalar_text)
            .unwrap_or_default();
        let cvss = list("CVSSScoreSets")
            .iter()
            .filter_map(|s| json::text(s, "BaseScore").parse::<f64>().ok())
            .fold(None, |best: Option<f64>, score| {
                Some(best.map_or(score, |b| b.max(score)))
            });
        // A KB fixes the CVE for several products: one row per KB. Vendor fixes that are not a
        // KB (release notes, a build number) fix nothing this table can name.
        let kbs: BTreeSet<String> = list("Remediations")
            .iter()
            .filter(|r| json::text(r, "Type") == VENDOR_FIX)
            .filter_map(|r| json::path(r, &["Description", "Value"]).map(json::scalar_text))
            .filter_map(|d| {
                let digits = d.trim().trim_start_matches(['K', 'k', 'B', 'b']);
                (!digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()))
                    .then(|| format!("KB{digits}"))
            })
            .collect();
        if kbs.is_empty() {
            self.without_kb += 1;
        }
        let rows = kbs.len() as u64;
        for kb in kbs {
            self.rows += 1;
            sink.push(
                &PATCH_CVES,
                self.rows,
                &[
                    ("patch_id", kb),
                    ("cve_id", cve.clone()),
                    ("cvss_base_score", cvss.map(|s| s.to_string()).unwrap_or_default()),
                    ("severity", worst_severity(threats)),
                    ("exploited", assessed(&exploitability, "Exploited")),
                    (
                        "publicly_disclosed",
                        assessed(&exploitability, "Publicly Disclosed"),
                    ),
                    ("source_document", self.source.clone()),
                ],
            );
        }
        rows
    }

    fn finish(&mut self, vulnerabilities: u64, warnings: &mut Vec<String>) {
        if self.without_kb > 0 {
            warnings.push(format!(
                "{} of {vulnerabilities} vulnerabilities name no KB among their vendor fixes (cloud \
                 services, release notes): no patch_cves row for them",
                self.without_kb
            ));
        }
    }
}

/// A month's CVRF document as the Security Update Guide serves it, from `patch_cves` rows of one
/// document (the sample MSP's reference data).
pub mod export {
    use std::collections::BTreeMap;

    use chrono::NaiveDate;
    use serde_json::{Value, json};

    use crate::sources::ExportRow;

    /// A CVSS 3.1 vector that gives the base score (the scores the sample uses).
    fn vector(score: &str) -> &'static str {
        match score {
            "9.8" => "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "8.8" => "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
            "7.8" => "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
            "7.5" => "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
            _ => "",
        }
    }

    fn yes_no(flag: &str) -> &'static str {
        if flag == "true" { "Yes" } else { "No" }
    }

    /// `id` is the document id (`2026-Oct`), `released` its release day, `title` names a CVE.
    pub fn document<R: ExportRow>(
        id: &str,
        released: NaiveDate,
        rows: &[&R],
        title: impl Fn(&str) -> String,
    ) -> Value {
        let mut by_cve: BTreeMap<&str, Vec<&R>> = BTreeMap::new();
        for row in rows {
            by_cve.entry(row.get("cve_id")).or_default().push(row);
        }
        let vulnerabilities: Vec<Value> = by_cve
            .iter()
            .enumerate()
            .map(|(ordinal, (cve, fixes))| {
                let first = fixes[0];
                let mut severity = first.get("severity").to_string();
                if let Some(initial) = severity.get(..1) {
                    severity = initial.to_ascii_uppercase() + &severity[1..];
                }
                let remediations: Vec<Value> = fixes
                    .iter()
                    .map(|f| {
                        let kb = f.get("patch_id");
                        json!({
                            "Description": {"Value": kb.trim_start_matches("KB")},
                            "URL": format!("https://catalog.update.microsoft.com/v7/site/Search.aspx?q={kb}"),
                            "Type": 2,
                            "DateSpecified": false,
                            "AffectedFiles": [],
                            "RestartRequired": {"Value": "Yes"},
                            "SubType": "Security Update",
                        })
                    })
                    .collect();
                let scores: Vec<Value> = first
                    .get("cvss_base_score")
                    .parse::<f64>()
                    .ok()
                    .map(|score| json!({"BaseScore": score, "Vector": vector(first.get("cvss_base_score"))}))
                    .into_iter()
                    .collect();
                json!({
                    "Title": {"Value": title(cve)},
                    "CVE": cve,
                    "Threats": [
                        {"Description": {"Value": severity}, "Type": 3, "DateSpecified": false},
                        {
                            "Description": {"Value": format!(
                                "Publicly Disclosed:{};Exploited:{};Latest Software Release:{}",
                                yes_no(first.get("publicly_disclosed")),
                                yes_no(first.get("exploited")),
                                if first.get("exploited") == "true" { "Exploitation Detected" } else { "Exploitation Less Likely" }
                            )},
                            "Type": 1,
                            "DateSpecified": false
                        }
                    ],
                    "CVSSScoreSets": scores,
                    "Remediations": remediations,
                    "Ordinal": (ordinal + 1).to_string(),
                })
            })
            .collect();
        let at = format!("{}T07:00:00", released.format("%Y-%m-%d"));
        let month = released.format("%B %Y").to_string();
        json!({
            "DocumentTitle": {"Value": format!("{month} Security Updates")},
            "DocumentType": {"Value": "Security Update"},
            "DocumentTracking": {
                "Identification": {"ID": {"Value": id}, "Alias": {"Value": id}},
                "Status": 2,
                "Version": "1.0",
                "RevisionHistory": [{"Number": "1", "Date": at, "Description": {"Value": format!("{month} Security Updates")}}],
                "InitialReleaseDate": at,
                "CurrentReleaseDate": at,
            },
            "Vulnerability": vulnerabilities,
        })
    }
}
