//! What the MSP sets per tool in `govpack.toml`: `[sources.<name>]` (how an export writes times
//! and dates) and `[mapping.<tool>]` (how the MSP set up its PSA). The adapters own these
//! settings; `config` only gathers them into the file.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use super::autotask::AutotaskMapping;
pub use super::connectwise_manage::ManageMapping;

/// How the MSP set up its PSA: which tickets are remediation, what priority labels mean, where
/// change details live.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MappingSettings {
    pub autotask: AutotaskMapping,
    pub connectwise_manage: ManageMapping,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourceSettings {
    /// IANA zone of timestamps the export writes without a zone.
    pub time_zone: String,
    pub date_culture: DateCulture,
}

/// How an export writes dates whose order is ambiguous (`03/04/2026`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DateCulture {
    #[default]
    Iso,
    Us,
    DayFirst,
}

impl Default for SourceSettings {
    fn default() -> Self {
        SourceSettings {
            time_zone: "UTC".into(),
            date_culture: DateCulture::Iso,
        }
    }
}

/// A mapping table of the config file over its defaults, key by key: setting one column's field
/// keeps every other default (a file that set only `outcome` once unmapped `actual_end_utc`, and
/// completed changes never closed). A key set to an empty value is removed.
pub(crate) fn over_defaults<'de, D, V>(
    deserializer: D,
    defaults: BTreeMap<String, V>,
) -> Result<BTreeMap<String, V>, D::Error>
where
    D: serde::Deserializer<'de>,
    V: Deserialize<'de> + IsUnset,
{
    let given = BTreeMap::<String, V>::deserialize(deserializer)?;
    let mut merged = defaults;
    for (key, value) in given {
        if value.is_unset() {
            merged.remove(&key);
        } else {
            merged.insert(key, value);
        }
    }
    Ok(merged)
}

/// A mapping value that means "no mapping".
pub(crate) trait IsUnset {
    fn is_unset(&self) -> bool;
}

impl IsUnset for String {
    fn is_unset(&self) -> bool {
        self.trim().is_empty()
    }
}

impl IsUnset for i64 {
    fn is_unset(&self) -> bool {
        false
    }
}

/// A mapping of canonical `changes` columns to the tool's fields, checked: every key a column,
/// every field named. `key` is the setting's name in messages.
pub(crate) fn check_change_fields(key: &str, fields: &BTreeMap<String, String>) -> Result<(), String> {
    for (column, field) in fields {
        if crate::canonical::CHANGES.column(column).is_none() {
            return Err(format!("{key}.{column}: not a column of the changes table"));
        }
        if field.trim().is_empty() {
            return Err(format!("{key}.{column}: names no field"));
        }
    }
    Ok(())
}

impl MappingSettings {
    /// The checks `govpack.toml` must pass, with the setting named in the message.
    pub fn check(&self) -> Result<(), String> {
        check_change_fields("mapping.autotask.change_fields", &self.autotask.change_fields)?;
        check_change_fields(
            "mapping.connectwise_manage.change_fields",
            &self.connectwise_manage.change_fields,
        )?;
        for (label, p) in &self.autotask.priorities {
            if !(1..=4).contains(p) {
                return Err(format!(
                    "mapping.autotask.priorities.{label}: {p} is not from 1 to 4"
                ));
            }
        }
        Ok(())
    }
}
