//! What the adapters look up in the lake before they read an export: which tenant a site, a
//! client name or a device belongs to, the links each tool wrote (`source_lookups`), and each
//! tenant's facts. Read here, by the ingest, and handed to the adapters in their `Context`, so an
//! adapter never reads the lake itself.

use std::collections::{HashMap, HashSet};

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::canonical::{
    self,
    system::{Lookup, SOURCE_LOOKUPS},
};
use crate::lake::{self, Lake};

/// The record ids of `kind` lookups that tools other than `source` wrote.
pub fn lookup_ids_of_other_sources(lake: &Lake, source: &str, kind: &str) -> Result<HashSet<String>> {
    let Some(frame) = lake.read_table(SOURCE_LOOKUPS.name)? else {
        return Ok(Default::default());
    };
    let sources = frame.column("source")?.str()?;
    let kinds = frame.column("kind")?.str()?;
    let ids = frame.column("record_id")?.str()?;
    Ok(sources
        .iter()
        .zip(kinds.iter())
        .zip(ids.iter())
        .filter(|((s, k), _)| *s != Some(source) && *k == Some(kind))
        .filter_map(|(_, id)| id.map(str::to_string))
        .collect())
}

/// Every `source_lookups` row of one source.
pub fn source_lookups(lake: &Lake, source: &str) -> Result<Vec<Lookup>> {
    let Some(frame) = lake.read_table(SOURCE_LOOKUPS.name)? else {
        return Ok(Vec::new());
    };
    let text = |name: &str| -> Result<Vec<Option<String>>> {
        Ok(frame
            .column(name)?
            .str()?
            .iter()
            .map(|v| v.map(str::to_string))
            .collect())
    };
    let (sources, kinds, ids, keys, labels, parents) = (
        text("source")?,
        text("kind")?,
        text("record_id")?,
        text("key")?,
        text("label")?,
        text("parent")?,
    );
    let flags: Vec<Option<bool>> = frame.column("flag")?.bool()?.iter().collect();
    let times: Vec<Option<i64>> = frame.column("at_utc")?.datetime()?.physical().iter().collect();
    let mut out = Vec::new();
    for i in 0..frame.height() {
        if sources[i].as_deref() != Some(source) {
            continue;
        }
        out.push(Lookup {
            source: source.to_string(),
            kind: kinds[i].clone().unwrap_or_default(),
            record_id: ids[i].clone().unwrap_or_default(),
            key: keys[i].clone(),
            label: labels[i].clone(),
            parent: parents[i].clone(),
            flag: flags[i],
            at_utc: times[i].and_then(DateTime::<Utc>::from_timestamp_micros),
        });
    }
    Ok(out)
}

/// `key column -> tenant_id` over the rows of a table in the lake (later days win), for
/// adapters whose exports name a site, a client name or a device but not the tenant. Reads
/// two columns of one file at a time: memory grows with the distinct keys, not the history.
pub fn tenant_lookup(
    lake: &Lake,
    table: &str,
    key: &str,
    lower_case: bool,
) -> Result<HashMap<String, String>> {
    tenant_lookup_from(lake, table, key, lower_case, None)
}

/// `tenant_lookup` over the rows that came from the named source files only (their lineage):
/// a vendor's ids resolved against that vendor's exports, never another tool's.
pub fn tenant_lookup_from(
    lake: &Lake,
    table: &str,
    key: &str,
    lower_case: bool,
    from_files: Option<&HashSet<String>>,
) -> Result<HashMap<String, String>> {
    let mut map = HashMap::new();
    // Files come in day order, so a later snapshot's tenant replaces an earlier one's.
    for file in lake.table_files(table)? {
        let columns: &[&str] = match from_files {
            Some(_) => &["tenant_id", key, canonical::LINEAGE_SOURCE_FILE],
            None => &["tenant_id", key],
        };
        let frame = lake::read_parquet_columns(&file, Some(columns))?;
        let tenants = frame.column("tenant_id")?.str()?;
        let keys = frame.column(key)?.str()?;
        let sources: Vec<Option<&str>> = match from_files {
            Some(_) => frame
                .column(canonical::LINEAGE_SOURCE_FILE)?
                .str()?
                .iter()
                .collect(),
            None => vec![None; frame.height()],
        };
        for ((tenant, k), source) in tenants.iter().zip(keys.iter()).zip(sources) {
            let allowed = from_files.is_none_or(|files| source.is_some_and(|s| files.contains(s)));
            if !allowed {
                continue;
            }
            if let (Some(tenant), Some(k)) = (tenant, k) {
                let k = if lower_case {
                    k.to_lowercase()
                } else {
                    k.to_string()
                };
                map.insert(k, tenant.to_string());
            }
        }
    }
    Ok(map)
}

/// Each tenant's (criticality, psa_company_id, rmm_site_id), for adapters that know only some.
pub fn tenant_facts(lake: &Lake) -> Result<HashMap<String, [Option<String>; 3]>> {
    let mut map = HashMap::new();
    if let Some(tenants) = lake.read_table(canonical::TENANTS.name)? {
        let column = |name: &str| -> Result<Vec<Option<String>>> {
            Ok(tenants
                .column(name)?
                .str()?
                .iter()
                .map(|v| v.map(str::to_string))
                .collect())
        };
        let (ids, crit, psa, rmm) = (
            column("tenant_id")?,
            column("criticality")?,
            column("psa_company_id")?,
            column("rmm_site_id")?,
        );
        for i in 0..ids.len() {
            if let Some(id) = &ids[i] {
                map.insert(id.clone(), [crit[i].clone(), psa[i].clone(), rmm[i].clone()]);
            }
        }
    }
    Ok(map)
}

/// The criticality of each tenant in the lake, for the policy-tier rules.
pub fn tenant_criticality(lake: &Lake) -> Result<HashMap<String, String>> {
    match lake.read_table(canonical::TENANTS.name)? {
        Some(tenants) => lake::text_pairs(&tenants, "tenant_id", "criticality"),
        None => Ok(HashMap::new()),
    }
}
