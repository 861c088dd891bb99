//! Writing canonical rows in Autotask's shapes: what `govpack sample --format autotask` uses to
//! show (and test) that an Autotask export of an MSP gives the same KPIs as its canonical form.
//! It writes exactly what the adapter reads with the default `[mapping.autotask]`.

use serde_json::{Value, json};

pub use crate::sources::ExportRow as Row;

const STATUSES: [(&str, i64, &str); 5] = [
    ("new", 1, "New"),
    ("complete", 5, "Complete"),
    ("waiting", 7, "Waiting Customer"),
    ("in_progress", 8, "In Progress"),
    ("cancelled", 30, "Cancelled"),
];
const PRIORITIES: [(i64, &str); 4] = [(1, "Critical"), (2, "High"), (3, "Medium"), (4, "Low")];
const PATCH_SUB_ISSUE: i64 = 271;

fn page(items: Vec<Value>) -> Value {
    json!({
        "items": items,
        "pageDetails": {"count": items.len(), "requestCount": 500, "prevPageUrl": null, "nextPageUrl": null}
    })
}

fn number_or_text(s: &str) -> Value {
    s.parse::<i64>()
        .map_or_else(|_| Value::String(s.to_string()), Value::from)
}

fn opt(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        Value::String(s.to_string())
    }
}

fn status_id(status: &str) -> i64 {
    STATUSES
        .iter()
        .find(|(s, _, _)| *s == status)
        .map_or(1, |(_, id, _)| *id)
}

pub fn companies<R: Row>(tenants: &[R]) -> Value {
    page(
        tenants
            .iter()
            .map(|t| {
                json!({
                    "id": number_or_text(t.get("tenant_id")),
                    "companyName": t.get("tenant_name"),
                    "companyType": 1,
                    "isActive": true,
                    "userDefinedFields": []
                })
            })
            .collect(),
    )
}

/// The picklist export: statuses, priorities, the queues the tickets use, and the
/// "Patch Management" sub-issue type that marks remediation tickets.
pub fn picklists(queues: &[String]) -> Value {
    let values = |pairs: Vec<(String, String)>| -> Vec<Value> {
        pairs
            .into_iter()
            .map(|(value, label)| json!({"value": value, "label": label, "isActive": true}))
            .collect()
    };
    json!({"fields": [
        {"name": "status", "isPickList": true, "picklistValues": values(STATUSES.iter().map(|(_, id, l)| (id.to_string(), l.to_string())).collect())},
        {"name": "priority", "isPickList": true, "picklistValues": values(PRIORITIES.iter().map(|(id, l)| (id.to_string(), l.to_string())).collect())},
        {"name": "queueID", "isPickList": true, "picklistValues": values(queues.iter().enumerate().map(|(i, q)| ((100 + i).to_string(), q.clone())).collect())},
        {"name": "subIssueType", "isPickList": true, "picklistValues": values(vec![(PATCH_SUB_ISSUE.to_string(), "Patch Management".to_string())])}
    ]})
}

/// Tickets and change requests, as one Tickets query page.
pub fn tickets<R: Row>(tickets: &[R], changes: &[R], queues: &[String]) -> Value {
    let mut items = Vec::new();
    for t in tickets {
        let kind = match t.get("ticket_type") {
            "service_request" => 1,
            "problem" => 3,
            "change_request" => 4,
            "alert" => 5,
            _ => 2,
        };
        let queue = queues
            .iter()
            .position(|q| q == t.get("queue"))
            .map(|i| Value::from(100 + i as i64));
        let status = status_id(t.get("status"));
        items.push(json!({
            "id": number_or_text(t.get("ticket_id")),
            "companyID": number_or_text(t.get("tenant_id")),
            "ticketNumber": opt(t.get("ticket_number")),
            "ticketType": kind,
            "title": t.get("title"),
            "priority": t.get("priority").parse::<i64>().ok(),
            "status": status,
            "createDate": t.get("created_utc"),
            "resolvedDateTime": if status == 5 { opt(t.get("resolved_utc")) } else { Value::Null },
            "completedDate": if status == 5 { opt(t.get("resolved_utc")) } else { Value::Null },
            "dueDateTime": opt(t.get("due_utc")),
            "queueID": queue,
            "subIssueType": if t.get("ticket_type") == "remediation" { Some(PATCH_SUB_ISSUE) } else { None },
            "resolution": opt(t.get("root_cause")),
            "userDefinedFields": []
        }));
    }
    for c in changes {
        let status = match c.get("outcome") {
            "in_progress" => "in_progress",
            "cancelled" => "cancelled",
            _ => "complete",
        };
        let udf = |name: &str, column: &str| json!({"name": name, "value": opt(c.get(column))});
        let plan = |column: &str, text: &str| {
            if c.get(column) == "true" {
                text.to_string()
            } else {
                String::new()
            }
        };
        items.push(json!({
            "id": number_or_text(c.get("change_id")),
            "companyID": number_or_text(c.get("tenant_id")),
            "ticketType": 4,
            "title": c.get("title"),
            "status": status_id(status),
            "createDate": c.get("created_utc"),
            "completedDate": opt(c.get("actual_end_utc")),
            "changeInfoField1": plan("has_comm_plan", "Communication: client notified"),
            "changeInfoField2": if c.get("risk").is_empty() { String::new() } else { format!("Risk: {}", c.get("risk")) },
            "changeInfoField4": plan("has_rollback_plan", "Backout: documented"),
            "changeInfoField5": plan("has_test_evidence", "Test: evidence attached"),
            "userDefinedFields": [
                udf("Change Type", "change_type"),
                udf("Change Outcome", "outcome"),
                udf("Maintenance Window", "planned_start_utc"),
                udf("Planned End", "planned_end_utc"),
                udf("Actual Start", "actual_start_utc"),
                udf("Validation Checklist", "has_validation_checklist"),
                udf("Rollback Attempted", "rollback_attempted"),
                udf("Rollback Succeeded", "rollback_succeeded"),
                udf("Post-Change Verified", "post_change_verified"),
                udf("Customer Impact Declared", "customer_impact_declared")
            ]
        }));
    }
    page(items)
}

/// One approval record per CAB decision (none for changes without one).
pub fn approvals<R: Row>(changes: &[R]) -> Value {
    let mut items = Vec::new();
    for (i, c) in changes.iter().enumerate() {
        let vote = match c.get("cab_decision") {
            "approved" => Value::Bool(true),
            "rejected" => Value::Bool(false),
            "pending" => Value::Null,
            _ => continue,
        };
        items.push(json!({
            "id": 900_000 + i as i64,
            "ticketID": number_or_text(c.get("change_id")),
            "isApproved": vote,
            "approveRejectDateTime": if vote.is_null() { Value::Null } else { opt(c.get("cab_decided_utc")) },
            "resourceID": 29_682_885
        }));
    }
    page(items)
}

/// A link to an incident for every change that caused one.
pub fn links<R: Row>(changes: &[R]) -> Value {
    page(
        changes
            .iter()
            .enumerate()
            .filter(|(_, c)| c.get("caused_incident") == "true")
            .map(|(i, c)| {
                json!({
                    "id": 700_000 + i as i64,
                    "changeRequestTicketID": number_or_text(c.get("change_id")),
                    "problemOrIncidentTicketID": 800_000 + i as i64
                })
            })
            .collect(),
    )
}
