//! Microsoft Security Response Center CVRF documents, in the JSON the Security Update Guide API
//! serves (`/cvrf/v3.0/cvrf/2026-Oct`) and the MsrcSecurityUpdates PowerShell module saves: a
//! month's `Vulnerability` list, each with its `CVE`, `Threats` (type 1 the exploitability
//! assessment, `Publicly Disclosed:Yes;Exploited:No;...`; type 3 the severity, per product),
//! `CVSSScoreSets` (per product) and `Remediations` (type 2 a vendor fix, whose description is the
//! KB number, `5044284`). One `patch_cves` row per KB and CVE.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde_json::Value;

use super::{FileError, RowSink, SourceFile, json};
use crate::canonical::PATCH_CVES;

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

pub fn read_document(
    file: &SourceFile,
    document: &Value,
    sink: &mut RowSink,
    warnings: &mut Vec<String>,
) -> Result<u64, FileError> {
    let source = document_id(document);
    // Not a list: nothing would load and the month would look free of fixes. Refused.
    let Some(vulnerabilities) = json::field(document, "Vulnerability").and_then(Value::as_array) else {
        return Err(FileError::whole(
            &file.path,
            "the CVRF document's `Vulnerability` is not a list",
        ));
    };
    let mut line = 0;
    let mut without_kb = 0;
    for vulnerability in vulnerabilities {
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
            without_kb += 1;
        }
        for kb in kbs {
            line += 1;
            sink.push(
                &PATCH_CVES,
                line,
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
                    ("source_document", source.clone()),
                ],
            );
        }
    }
    if without_kb > 0 {
        warnings.push(format!(
            "{without_kb} of {} vulnerabilities name no KB among their vendor fixes (cloud services, \
             release notes): no patch_cves row for them",
            vulnerabilities.len()
        ));
    }
    Ok(line)
}
