//! The exports that give the tickets their context: companies (the tenants), the picklists
//! (labels of ids), change approvals and change links, kept in `source_lookups`.

use serde_json::Value;

use super::SOURCE;
use crate::canonical::system::SOURCE_LOOKUPS;
use crate::sources::registry::JsonProbe;
use crate::sources::{Context, RowSink, json};

/// The picklist export: field definitions (`Tickets/entityInformation/fields`, `{"fields": [...]}`
/// or a bare array) whose fields carry `picklistValues`, or a dump of `{value, label}` lists.
pub(super) fn is_picklist_export(p: &JsonProbe) -> bool {
    let has = |object: &Value, key: &str| json::field(object, key).is_some();
    let picklist_dump = p.document.as_object().is_some_and(|m| {
        m.values().any(|v| {
            v.as_array()
                .and_then(|a| a.first())
                .is_some_and(|e| has(e, "value") && has(e, "label"))
        })
    });
    let fields_export = json::field(p.document, "fields")
        .and_then(Value::as_array)
        .or_else(|| p.document.as_array())
        .is_some_and(|f| f.iter().any(|x| has(x, "picklistValues")));
    fields_export || picklist_dump
}

/// Companies: `companyType` 1 is a customer; inactive companies stay tenants (their history
/// counts) but prospects and vendors are not clients.
pub fn read_companies(
    document: &Value,
    ctx: &Context,
    sink: &mut RowSink,
    warnings: &mut Vec<String>,
) -> u64 {
    let companies = json::records(document, &["items"]);
    let mut skipped = 0;
    for (i, c) in companies.iter().enumerate() {
        let kind = json::text(c, "companyType");
        if !kind.is_empty() && kind != "1" {
            skipped += 1;
            continue;
        }
        sink.client_company(
            ctx,
            i as u64 + 1,
            &json::text(c, "id"),
            &json::text(c, "companyName"),
        );
    }
    if skipped > 0 {
        warnings.push(format!(
            "{skipped} compan(ies) that are not customers (companyType <> 1) skipped"
        ));
    }
    companies.len() as u64
}

/// The picklist export: both the REST `fields` shape and a `{field: [{value, label}]}` dump.
pub fn read_picklists(document: &Value, sink: &mut RowSink) -> u64 {
    let mut n = 0;
    let mut push = |field: &str, entry: &Value, sink: &mut RowSink| {
        n += 1;
        sink.push(
            &SOURCE_LOOKUPS,
            n,
            &[
                ("source", SOURCE.to_string()),
                ("kind", format!("picklist:{}", field.to_ascii_lowercase())),
                ("record_id", json::text(entry, "value")),
                ("label", json::text(entry, "label")),
                ("parent", json::text(entry, "parentValue")),
            ],
        );
    };
    // `{"fields": [...]}` as the API answers, or the bare array common tools cache.
    let fields = json::field(document, "fields")
        .and_then(Value::as_array)
        .or_else(|| document.as_array());
    if let Some(fields) = fields {
        for f in fields {
            let name = json::text(f, "name");
            for entry in json::field(f, "picklistValues")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                push(&name, entry, sink);
            }
        }
    } else if let Some(map) = document.as_object() {
        // A dump of picklists by field name: only entries that are picklist values count.
        let is_value = |e: &&Value| json::field(e, "value").is_some() && json::field(e, "label").is_some();
        for (name, entries) in map.iter().filter(|(k, _)| !k.starts_with('_')) {
            for entry in entries.as_array().into_iter().flatten().filter(is_value) {
                push(name, entry, sink);
            }
        }
    }
    n
}

/// TicketChangeRequestApprovals: one vote per approver.
pub fn read_approvals(document: &Value, ctx: &Context, sink: &mut RowSink) -> u64 {
    let style = ctx.time_style(SOURCE);
    let approvals = json::records(document, &["items"]);
    for (i, a) in approvals.iter().enumerate() {
        let at = style
            .parse(&json::text(a, "approveRejectDateTime"))
            .ok()
            .flatten();
        sink.push(
            &SOURCE_LOOKUPS,
            i as u64 + 1,
            &[
                ("source", SOURCE.to_string()),
                ("kind", "change_approval".to_string()),
                ("record_id", json::text(a, "id")),
                ("key", json::text(a, "ticketID")),
                (
                    "flag",
                    json::flag(a, "isApproved")
                        .map(|b| b.to_string())
                        .unwrap_or_default(),
                ),
                ("at_utc", at.map(|t| t.to_rfc3339()).unwrap_or_default()),
            ],
        );
    }
    approvals.len() as u64
}

/// ChangeRequestLinks: a change linked to the incident or problem it caused (or fixed).
pub fn read_links(document: &Value, sink: &mut RowSink) -> u64 {
    let links = json::records(document, &["items"]);
    for (i, l) in links.iter().enumerate() {
        let change = json::text(l, "changeRequestTicketID");
        let other = json::text(l, "problemOrIncidentTicketID");
        sink.push(
            &SOURCE_LOOKUPS,
            i as u64 + 1,
            &[
                ("source", SOURCE.to_string()),
                ("kind", "change_link".to_string()),
                ("record_id", format!("{change}-{other}")),
                ("key", change),
                ("label", other),
            ],
        );
    }
    links.len() as u64
}
