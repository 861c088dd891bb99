//! ConnectWise Manage (REST JSON): companies (a bare array) -> tenants; service tickets, a bare
//! array (or one ticket object) -> tickets and, for tickets on the configured change boards,
//! changes.
//!
//! Unset fields are omitted, not null. Boards, types and statuses are the MSP's own names, so
//! which boards hold changes, which types mark remediation and where change details live come
//! from `[mapping.connectwise_manage]`. A ticket's tenant is its company id.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::registry::{Adapter, FormatSpec, Reads, Stage};
use super::settings::{DateCulture, over_defaults};
use super::{Context, RowSink, json};
use crate::canonical::{CHANGES, TENANTS, TICKETS};

/// `[mapping.connectwise_manage]`: how the MSP set up ConnectWise Manage (its client company
/// types, change boards, remediation boards and types, where change details live), over these
/// defaults.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ManageMapping {
    /// Company types whose companies are clients (tenants); empty: every company.
    pub client_types: Vec<String>,
    /// Boards whose tickets are change requests.
    pub change_boards: Vec<String>,
    /// A ticket is a remediation ticket when its board, type or sub-type is listed, or its
    /// summary contains one of the phrases (case-insensitive).
    pub remediation_boards: Vec<String>,
    pub remediation_types: Vec<String>,
    pub remediation_title_contains: Vec<String>,
    /// Canonical changes column -> ticket field: `custom:<caption>`, or a field such as
    /// `impact`, `severity`, `type`, `subType`. Merged key by key over the defaults.
    #[serde(deserialize_with = "manage_change_fields")]
    pub change_fields: BTreeMap<String, String>,
}

impl Default for ManageMapping {
    fn default() -> Self {
        ManageMapping {
            client_types: vec!["Client".into()],
            change_boards: vec!["Change Management".into()],
            remediation_boards: Vec::new(),
            remediation_types: vec!["Patch Management".into()],
            remediation_title_contains: Vec::new(),
            change_fields: [
                ("change_type", "custom:Change Type"),
                ("risk", "impact"),
                ("outcome", "custom:Change Outcome"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        }
    }
}

fn manage_change_fields<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    over_defaults(d, ManageMapping::default().change_fields)
}

pub static ADAPTER: Adapter = Adapter {
    settings_key: SOURCE,
    default_date_culture: DateCulture::Iso,
    formats: &[
        FormatSpec {
            name: "connectwise-manage-companies-json",
            stage: Stage::Tenants,
            reads: Reads::Json {
                recognises: |p| p.record_has(&["identifier", "name", "types"]) && !p.record_has(&["summary"]),
                read: |_, doc, ctx, sink, warnings| Ok(read_companies(doc, ctx, sink, warnings)),
            },
        },
        FormatSpec {
            name: "connectwise-manage-tickets-json",
            stage: Stage::Rows,
            reads: Reads::Json {
                recognises: |p| p.record_has(&["recordType", "board", "summary"]),
                read: |_, doc, ctx, sink, warnings| Ok(read_tickets(doc, ctx, sink, warnings)),
            },
        },
    ],
};

pub const SOURCE: &str = "connectwise_manage";

fn name_of(ticket: &Value, field: &str) -> String {
    json::path(ticket, &[field, "name"])
        .map(json::scalar_text)
        .unwrap_or_default()
}

/// A mapped field: `custom:<caption>`, an object field's name (`type`, `impact`...), or a value.
fn mapped(ticket: &Value, field: &str) -> String {
    match field.strip_prefix("custom:") {
        Some(caption) => json::field(ticket, "customFields")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|c| {
                json::text(c, "caption")
                    .trim()
                    .eq_ignore_ascii_case(caption.trim())
            })
            .map(|c| json::text(c, "value"))
            .unwrap_or_default(),
        None => match json::field(ticket, field) {
            Some(Value::Object(_)) => name_of(ticket, field),
            Some(v) => json::scalar_text(v),
            None => String::new(),
        },
    }
}

fn word(value: &str) -> String {
    let v = value.rsplit_once(':').map_or(value, |(_, v)| v);
    v.trim().to_ascii_lowercase().replace(' ', "_")
}

fn listed(list: &[String], value: &str) -> bool {
    !value.is_empty() && list.iter().any(|l| l.eq_ignore_ascii_case(value))
}

/// `priority{name, sort}` -> 1..4: "Priority 2 - ..." names say it; a name without a number
/// goes by its sort order. `Err` with the label when neither gives 1 to 4 ("Priority 5 -
/// Service Request", "P5 - Planned"): the ticket keeps no priority rather than a made-up one.
fn priority(ticket: &Value) -> Result<String, String> {
    let name = name_of(ticket, "priority");
    let from_name = name
        .split(|c: char| !c.is_ascii_digit())
        .find(|d| !d.is_empty())
        .and_then(|d| d.parse::<i64>().ok());
    let sort = json::path(ticket, &["priority", "sort"]).and_then(Value::as_i64);
    match from_name.or(sort) {
        Some(p) if (1..=4).contains(&p) => Ok(p.to_string()),
        None if name.is_empty() => Ok(String::new()),
        _ => Err(name),
    }
}

fn status(ticket: &Value) -> &'static str {
    let name = name_of(ticket, "status").to_ascii_lowercase();
    let closed = json::flag(ticket, "closedFlag").unwrap_or(false);
    if name.contains("cancel") {
        "cancelled"
    } else if closed || name.contains("closed") || name.contains("complete") || name.contains("resolved") {
        "complete"
    } else if name == "new" || name.starts_with("new ") {
        "new"
    } else if name.contains("waiting") || name.contains("hold") {
        "waiting"
    } else {
        "in_progress"
    }
}

/// `company/companies`: each client company becomes a tenant (its id is the tenant id, as for its
/// tickets) and is linked to its company id. A deleted company, or one of no type listed in
/// `mapping.connectwise_manage.client_types` (company types are the MSP's own; an empty list takes
/// every company), is no client.
pub fn read_companies(
    document: &Value,
    ctx: &Context,
    sink: &mut RowSink,
    warnings: &mut Vec<String>,
) -> u64 {
    let client_types = &ctx.mapping.connectwise_manage.client_types;
    let companies: Vec<(u64, &Value)> = match document {
        Value::Array(items) => sink.object_items(&TENANTS, items),
        other => vec![(1, other)],
    };
    let mut skipped = 0;
    for &(line, c) in &companies {
        // `types` since Manage 2019.x; a single `type` before.
        let types: Vec<String> = json::field(c, "types")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|t| json::text(t, "name"))
            .chain(std::iter::once(name_of(c, "type")))
            .filter(|t| !t.is_empty())
            .collect();
        let deleted = json::flag(c, "deletedFlag").unwrap_or(false);
        if deleted || (!client_types.is_empty() && !types.iter().any(|t| listed(client_types, t))) {
            skipped += 1;
            continue;
        }
        sink.client_company(ctx, line, &json::text(c, "id"), &json::text(c, "name"));
    }
    if skipped > 0 {
        warnings.push(format!(
            "{skipped} compan(ies) are no clients and were skipped: deleted, or of no type in \
             mapping.connectwise_manage.client_types ({})",
            client_types.join(", ")
        ));
    }
    match document {
        Value::Array(items) => items.len() as u64,
        _ => 1,
    }
}

pub fn read_tickets(document: &Value, ctx: &Context, sink: &mut RowSink, warnings: &mut Vec<String>) -> u64 {
    let style = ctx.time_style(SOURCE);
    let mapping = &ctx.mapping.connectwise_manage;
    let tickets: Vec<(u64, &Value)> = match document {
        Value::Array(items) => sink.object_items(&TICKETS, items),
        other => vec![(1, other)],
    };
    let read = match document {
        Value::Array(items) => items.len(),
        _ => 1,
    };
    let mut defaulted_types = 0;
    let mut unmapped_priorities = std::collections::BTreeMap::<String, u64>::new();
    for &(line, t) in &tickets {
        let entered = json::text(t, "dateEntered");
        let entered = if entered.is_empty() {
            json::path(t, &["_info", "dateEntered"])
                .or_else(|| json::path(t, &["info", "dateEntered"]))
                .map(json::scalar_text)
                .unwrap_or_default()
        } else {
            entered
        };
        let updated = json::path(t, &["_info", "lastUpdated"])
            .or_else(|| json::path(t, &["info", "lastUpdated"]))
            .map(json::scalar_text)
            .unwrap_or_default();
        let times = [
            entered,
            json::text(t, "closedDate"),
            json::text(t, "requiredDate"),
            updated,
        ]
        .map(|raw| {
            style
                .parse(&raw)
                .map(|v| v.map(|v| v.to_rfc3339()).unwrap_or_default())
                .map_err(|r| (raw, r))
        });
        let [created, closed, due, updated] = match times {
            [Ok(a), Ok(b), Ok(c), Ok(d)] => [a, b, c, d],
            other => {
                let columns = ["created_utc", "resolved_utc", "due_utc", "updated_utc"];
                let (column, (raw, reason)) = columns
                    .into_iter()
                    .zip(other)
                    .find_map(|(column, time)| time.err().map(|e| (column, e)))
                    .expect("one failed");
                sink.reject(&TICKETS, line, super::bad_value(column, &raw, reason));
                continue;
            }
        };
        let id = json::text(t, "id");
        let company_id = json::path(t, &["company", "id"])
            .map(json::scalar_text)
            .unwrap_or_default();
        let company = json::path(t, &["company", "name"])
            .map(json::scalar_text)
            .unwrap_or_default();
        let flagged = json::flag(t, "requestForChangeFlag").unwrap_or(false);
        let tenant = match ctx.company_tenant(&company_id) {
            Ok(tenant) => tenant,
            Err(problem) => {
                let table = if flagged || listed(&mapping.change_boards, &name_of(t, "board")) {
                    &CHANGES
                } else {
                    &TICKETS
                };
                sink.reject(table, line, problem);
                continue;
            }
        };
        sink.tenant(ctx, line, &tenant, &company, Some(&company_id), None);
        sink.link_company(ctx, line, &company_id, &tenant);
        let board = name_of(t, "board");
        let title = json::text(t, "summary");
        let status = status(t);
        // A change by Manage's own signal (the request-for-change flag) or a board the MSP keeps
        // for changes; never by a word in a type's name.
        if flagged || listed(&mapping.change_boards, &board) {
            let field = |column: &str| {
                mapping
                    .change_fields
                    .get(column)
                    .map(|f| mapped(t, f))
                    .unwrap_or_default()
            };
            let mut change_type = word(&field("change_type"));
            if change_type.is_empty() {
                defaulted_types += 1;
                change_type = "normal".into();
            }
            let key = "mapping.connectwise_manage.change_fields.outcome";
            let outcome = match super::change_outcome(word(&field("outcome")), status, key) {
                Ok(o) => o,
                Err(problem) => {
                    sink.reject(&CHANGES, line, problem);
                    continue;
                }
            };
            sink.push(
                &CHANGES,
                line,
                &[
                    ("change_id", id),
                    ("tenant_id", tenant),
                    ("title", title),
                    ("change_type", change_type),
                    ("risk", word(&field("risk"))),
                    ("created_utc", created),
                    (
                        "actual_end_utc",
                        if status == "complete" {
                            closed
                        } else {
                            String::new()
                        },
                    ),
                    ("outcome", outcome),
                    ("source_system", SOURCE.to_string()),
                    ("updated_utc", updated),
                ],
            );
            continue;
        }
        let kind = name_of(t, "type").to_ascii_lowercase();
        let remediation = listed(&mapping.remediation_boards, &board)
            || listed(&mapping.remediation_types, &name_of(t, "type"))
            || listed(&mapping.remediation_types, &name_of(t, "subType"))
            || mapping
                .remediation_title_contains
                .iter()
                .any(|p| title.to_ascii_lowercase().contains(&p.to_ascii_lowercase()));
        let ticket_type = if remediation {
            "remediation"
        } else if kind.contains("problem") {
            "problem"
        } else if kind.contains("request") {
            "service_request"
        } else if kind.contains("alert") {
            "alert"
        } else {
            "incident"
        };
        sink.push(
            &TICKETS,
            line,
            &[
                ("ticket_id", id),
                ("tenant_id", tenant),
                ("ticket_type", ticket_type.to_string()),
                ("title", title),
                (
                    "priority",
                    priority(t).unwrap_or_else(|label| {
                        *unmapped_priorities.entry(label).or_default() += 1;
                        String::new()
                    }),
                ),
                ("status", status.to_string()),
                ("created_utc", created),
                (
                    "resolved_utc",
                    if status == "complete" {
                        closed
                    } else {
                        String::new()
                    },
                ),
                ("due_utc", due),
                ("queue", board),
                ("source_system", SOURCE.to_string()),
                ("updated_utc", updated),
            ],
        );
    }
    if defaulted_types > 0 {
        warnings.push(format!(
            "{defaulted_types} change(s) without a change type (mapping.connectwise_manage.change_fields.change_type): counted as normal"
        ));
    }
    for (label, n) in unmapped_priorities {
        warnings.push(format!(
            "priority `{label}` on {n} ticket(s) is not 1 to 4: the priority was left empty"
        ));
    }
    read as u64
}

/// Writing canonical tickets and changes as ConnectWise Manage service tickets, for
/// vendor-shaped sample data: what the reader above takes back with the default mapping. Manage
/// tickets carry no CAB decision, plan or rollback fields by default: changes keep their type,
/// risk (as impact), outcome and times only.
pub mod export {
    use serde_json::{Value, json};

    use crate::sources::ExportRow;

    fn number_or_text(s: &str) -> Value {
        s.parse::<i64>()
            .map_or_else(|_| Value::String(s.to_string()), Value::from)
    }

    fn capitalised(s: &str) -> String {
        let mut c = s.chars();
        c.next()
            .map_or_else(String::new, |f| f.to_uppercase().collect::<String>() + c.as_str())
    }

    fn status(status: &str) -> (&'static str, bool) {
        match status {
            "new" => ("New", false),
            "waiting" => ("Waiting on Client", false),
            "complete" => ("Closed", true),
            "cancelled" => ("Cancelled", true),
            _ => ("In Progress", false),
        }
    }

    fn base(id: &str, tenant: &str, summary: &str, created: &str) -> Value {
        json!({
            "id": number_or_text(id),
            "summary": summary,
            "recordType": "ServiceTicket",
            "company": {"id": number_or_text(tenant)},
            "dateEntered": created,
            "customFields": []
        })
    }

    pub fn tickets<R: ExportRow>(tickets: &[&R], changes: &[&R]) -> Value {
        let mut items = Vec::new();
        for t in tickets {
            let mut item = base(
                t.get("ticket_id"),
                t.get("tenant_id"),
                t.get("title"),
                t.get("created_utc"),
            );
            let kind = match t.get("ticket_type") {
                "remediation" => "Patch Management",
                "service_request" => "Service Request",
                "problem" => "Problem",
                "alert" => "Alert",
                "change_request" => "Change Request",
                _ => "Incident",
            };
            let (status, closed) = status(t.get("status"));
            item["board"] =
                json!({"name": if t.get("queue").is_empty() { "Service Desk" } else { t.get("queue") }});
            item["type"] = json!({"name": kind});
            item["status"] = json!({"name": status});
            item["closedFlag"] = Value::Bool(closed);
            if let Ok(p) = t.get("priority").parse::<i64>() {
                item["priority"] = json!({"name": format!("Priority {p}"), "sort": p});
            }
            if status == "Closed" && !t.get("resolved_utc").is_empty() {
                item["closedDate"] = Value::String(t.get("resolved_utc").to_string());
            }
            if !t.get("due_utc").is_empty() {
                item["requiredDate"] = Value::String(t.get("due_utc").to_string());
            }
            items.push(item);
        }
        for c in changes {
            let mut item = base(
                c.get("change_id"),
                c.get("tenant_id"),
                c.get("title"),
                c.get("created_utc"),
            );
            let outcome_status = match c.get("outcome") {
                "in_progress" => "in_progress",
                "cancelled" => "cancelled",
                _ => "complete",
            };
            let (status, closed) = status(outcome_status);
            item["board"] = json!({"name": "Change Management"});
            item["type"] = json!({"name": "Change"});
            item["status"] = json!({"name": status});
            item["closedFlag"] = Value::Bool(closed);
            item["impact"] = Value::String(capitalised(c.get("risk")));
            if !c.get("actual_end_utc").is_empty() {
                item["closedDate"] = Value::String(c.get("actual_end_utc").to_string());
            }
            item["customFields"] = json!([
                {"caption": "Change Type", "value": c.get("change_type")},
                {"caption": "Change Outcome", "value": c.get("outcome")}
            ]);
            items.push(item);
        }
        Value::Array(items)
    }
}
