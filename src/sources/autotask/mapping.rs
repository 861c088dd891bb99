//! `[mapping.autotask]`: how the MSP set up Autotask (which tickets are remediation, what its
//! priority labels mean, where change requests keep their details), over these defaults.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::sources::settings::over_defaults;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AutotaskMapping {
    /// A ticket is a remediation ticket when its queue, issue type or sub-issue type (label or
    /// id) is listed, or its title contains one of the phrases (case-insensitive).
    pub remediation_queues: Vec<String>,
    pub remediation_issue_types: Vec<String>,
    pub remediation_sub_issue_types: Vec<String>,
    pub remediation_title_contains: Vec<String>,
    /// Priority label (case-insensitive) -> 1..4, 1 the most urgent. Labels like `P2 ...` need
    /// no entry. Merged key by key over the defaults.
    #[serde(deserialize_with = "autotask_priorities")]
    pub priorities: BTreeMap<String, i64>,
    /// Canonical changes column -> the ticket field holding it: `changeInfoField1..5`, a ticket
    /// field (`completedDate`), or a user-defined field as `udf:<name>`. Merged key by key over
    /// the defaults; a column set to `""` is unmapped.
    #[serde(deserialize_with = "autotask_change_fields")]
    pub change_fields: BTreeMap<String, String>,
}

fn autotask_priorities<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, i64>, D::Error> {
    over_defaults(d, AutotaskMapping::default().priorities)
}

fn autotask_change_fields<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    over_defaults(d, AutotaskMapping::default().change_fields)
}

impl Default for AutotaskMapping {
    fn default() -> Self {
        let map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        AutotaskMapping {
            remediation_queues: Vec::new(),
            remediation_issue_types: Vec::new(),
            remediation_sub_issue_types: vec!["Patch Management".into()],
            remediation_title_contains: Vec::new(),
            priorities: [
                ("critical", 1),
                ("high", 2),
                ("medium", 3),
                ("normal", 3),
                ("low", 4),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            change_fields: map(&[
                ("change_type", "udf:Change Type"),
                ("risk", "changeInfoField2"),
                ("outcome", "udf:Change Outcome"),
                ("has_comm_plan", "changeInfoField1"),
                ("has_rollback_plan", "changeInfoField4"),
                ("has_test_evidence", "changeInfoField5"),
                ("planned_start_utc", "udf:Maintenance Window"),
                ("planned_end_utc", "udf:Planned End"),
                ("actual_start_utc", "udf:Actual Start"),
                ("actual_end_utc", "completedDate"),
                ("has_validation_checklist", "udf:Validation Checklist"),
                ("rollback_attempted", "udf:Rollback Attempted"),
                ("rollback_succeeded", "udf:Rollback Succeeded"),
                ("post_change_verified", "udf:Post-Change Verified"),
                ("customer_impact_declared", "udf:Customer Impact Declared"),
            ]),
        }
    }
}
