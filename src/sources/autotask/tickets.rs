//! Tickets query pages: service tickets into `tickets`, change requests (ticketType 4) into
//! `changes`, read with the picklists and the MSP's `[mapping.autotask]`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::AutotaskMapping;
use super::SOURCE;
use crate::canonical::{CHANGES, Problem, TICKETS};
use crate::sources::registry::JsonProbe;
use crate::sources::timestamps::TimeStyle;
use crate::sources::{Context, RowSink, json};

/// A Tickets query page: its records name a ticket number and a company; an empty page (no
/// tickets changed since the last export) is one too.
pub(super) fn is_tickets_page(p: &JsonProbe) -> bool {
    let empty_page = p.document_has("items")
        && p.document_has("pageDetails")
        && json::records(p.document, &["items"]).is_empty();
    p.record_has(&["ticketNumber", "companyID"]) || empty_page
}

/// Picklist labels known from earlier exports: field -> id -> label.
struct Picklists(BTreeMap<String, BTreeMap<String, String>>);

impl Picklists {
    fn from(ctx: &Context) -> Self {
        let mut map: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for l in ctx.lookups.iter().filter(|l| l.kind.starts_with("picklist:")) {
            let field = l.kind.trim_start_matches("picklist:").to_string();
            map.entry(field)
                .or_default()
                .insert(l.record_id.clone(), l.label.clone().unwrap_or_default());
        }
        Picklists(map)
    }

    /// The label of a picklist id, or the id itself when no export named it.
    fn label(&self, field: &str, id: &str) -> Option<String> {
        self.0
            .get(&field.to_ascii_lowercase())
            .and_then(|m| m.get(id))
            .cloned()
    }
}

fn listed(list: &[String], id: &str, label: Option<&str>) -> bool {
    !id.is_empty()
        && list
            .iter()
            .any(|l| l == id || label.is_some_and(|label| l.eq_ignore_ascii_case(label)))
}

/// A priority label -> 1..4: `P1`..`P4` prefixes read directly, else the configured map.
fn priority(label: &str, mapping: &AutotaskMapping) -> Option<i64> {
    let l = label.trim();
    let bytes = l.as_bytes();
    if bytes.len() >= 2 && (bytes[0] == b'P' || bytes[0] == b'p') && (b'1'..=b'4').contains(&bytes[1]) {
        return Some(i64::from(bytes[1] - b'0'));
    }
    mapping.priorities.get(&l.to_ascii_lowercase()).copied()
}

/// A status label -> canonical status. Id 5 is Complete in every Autotask instance.
fn status(id: &str, label: Option<&str>) -> Option<&'static str> {
    if id == "5" {
        return Some("complete");
    }
    let l = label?.to_ascii_lowercase();
    Some(if l == "new" {
        "new"
    } else if l.contains("cancel") {
        "cancelled"
    } else if l.contains("complete") || l.contains("closed") || l.contains("resolved") {
        "complete"
    } else if l.contains("waiting") || l.contains("hold") {
        "waiting"
    } else {
        "in_progress"
    })
}

/// A ticket field by mapping name: `udf:<name>`, or a field of the ticket.
/// User-defined fields come as the API sends them, `[{"name": .., "value": ..}]`, or as an object
/// of name to value (how some PowerShell modules and caches flatten them).
fn mapped(ticket: &Value, field: &str) -> String {
    let Some(name) = field.strip_prefix("udf:") else {
        return json::text(ticket, field);
    };
    match json::field(ticket, "userDefinedFields") {
        Some(Value::Array(fields)) => fields
            .iter()
            .find(|u| json::text(u, "name").eq_ignore_ascii_case(name))
            .map(|u| json::text(u, "value"))
            .unwrap_or_default(),
        Some(Value::Object(fields)) => fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| json::scalar_text(v))
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// "Risk: Low" -> "low"; "Normal change" stays as is for the enum match.
fn after_label(value: &str) -> String {
    let v = value.rsplit_once(':').map_or(value, |(_, v)| v);
    v.trim().to_ascii_lowercase().replace(' ', "_")
}

pub fn read_tickets(document: &Value, ctx: &Context, sink: &mut RowSink, warnings: &mut Vec<String>) -> u64 {
    let style = ctx.time_style(SOURCE);
    let mapping = &ctx.mapping.autotask;
    let picklists = Picklists::from(ctx);
    let tickets = json::records(document, &["items"]);
    let mut unknown_priorities = BTreeMap::<String, u64>::new();
    let mut unlabelled_priorities = BTreeMap::<String, u64>::new();
    let mut unlabelled_statuses = BTreeMap::<String, u64>::new();
    let mut defaulted_types = 0;
    for (line, t) in sink.object_items(&TICKETS, tickets) {
        let time = |field: &str| -> Result<String, Problem> {
            style
                .parse(&json::text(t, field))
                .map(|v| v.map(|v| v.to_rfc3339()).unwrap_or_default())
                .map_err(|reason| crate::sources::bad_value(field, &json::text(t, field), reason))
        };
        let id = json::text(t, "id");
        let kind = json::text(t, "ticketType");
        let tenant = match ctx.company_tenant(&json::text(t, "companyID")) {
            Ok(tenant) => tenant,
            Err(problem) => {
                sink.reject(if kind == "4" { &CHANGES } else { &TICKETS }, line, problem);
                continue;
            }
        };
        let status_id = json::text(t, "status");
        let status_label = picklists.label("status", &status_id);
        let status = status(&status_id, status_label.as_deref()).unwrap_or_else(|| {
            *unlabelled_statuses.entry(status_id.clone()).or_default() += 1;
            "in_progress"
        });
        let (created, resolved, completed, due, updated) = match (
            time("createDate"),
            time("resolvedDateTime"),
            time("completedDate"),
            time("dueDateTime"),
            time("lastActivityDate"),
        ) {
            (Ok(a), Ok(b), Ok(c), Ok(d), Ok(e)) => (a, b, c, d, e),
            (a, b, c, d, e) => {
                let problem = [a, b, c, d, e]
                    .into_iter()
                    .find_map(Result::err)
                    .expect("one failed");
                sink.reject(&TICKETS, line, problem);
                continue;
            }
        };
        let resolved = if resolved.is_empty() {
            completed.clone()
        } else {
            resolved
        };
        let title = json::text(t, "title");
        if kind == "4" {
            read_change(
                t,
                ctx,
                mapping,
                line,
                &id,
                status,
                [&created, &updated, &tenant],
                sink,
                &mut defaulted_types,
            );
            continue;
        }
        let queue_id = json::text(t, "queueID");
        let queue = picklists.label("queueID", &queue_id);
        let issue = json::text(t, "issueType");
        let sub_issue = json::text(t, "subIssueType");
        let remediation = listed(&mapping.remediation_queues, &queue_id, queue.as_deref())
            || listed(
                &mapping.remediation_issue_types,
                &issue,
                picklists.label("issueType", &issue).as_deref(),
            )
            || listed(
                &mapping.remediation_sub_issue_types,
                &sub_issue,
                picklists.label("subIssueType", &sub_issue).as_deref(),
            )
            || mapping
                .remediation_title_contains
                .iter()
                .any(|p| title.to_ascii_lowercase().contains(&p.to_ascii_lowercase()));
        let ticket_type = if remediation {
            "remediation"
        } else {
            match kind.as_str() {
                "1" => "service_request",
                "2" => "incident",
                "3" => "problem",
                "5" => "alert",
                _ => "incident",
            }
        };
        let priority_id = json::text(t, "priority");
        let priority_label = picklists.label("priority", &priority_id);
        if priority_label.is_none() && !priority_id.is_empty() {
            *unlabelled_priorities.entry(priority_id.clone()).or_default() += 1;
        }
        let priority = priority_label
            .and_then(|label| {
                let p = priority(&label, mapping);
                if p.is_none() {
                    *unknown_priorities.entry(label).or_default() += 1;
                }
                p
            })
            .map(|p| p.to_string())
            .unwrap_or_default();
        let patch =
            crate::sources::kb_in(&title).or_else(|| crate::sources::kb_in(&json::text(t, "description")));
        sink.push(
            &TICKETS,
            line,
            &[
                ("ticket_id", id),
                ("tenant_id", tenant),
                ("ticket_number", json::text(t, "ticketNumber")),
                ("ticket_type", ticket_type.to_string()),
                ("title", title),
                ("priority", priority),
                ("status", status.to_string()),
                ("created_utc", created),
                (
                    "resolved_utc",
                    if status == "complete" {
                        resolved
                    } else {
                        String::new()
                    },
                ),
                ("due_utc", due),
                ("queue", queue.unwrap_or(queue_id)),
                ("patch_id", patch.unwrap_or_default()),
                ("root_cause", json::text(t, "resolution")),
                ("source_system", SOURCE.to_string()),
                ("updated_utc", updated),
            ],
        );
    }
    for (id, n) in unlabelled_priorities {
        warnings.push(format!(
            "priority id {id} on {n} ticket(s) has no label (ingest the picklist export first): left empty"
        ));
    }
    for (label, n) in unknown_priorities {
        warnings.push(format!(
            "priority `{label}` on {n} ticket(s) has no [mapping.autotask.priorities] entry: left empty"
        ));
    }
    for (id, n) in unlabelled_statuses {
        warnings.push(format!(
            "status id {id} on {n} ticket(s) has no label (ingest the picklist export first): counted as in_progress"
        ));
    }
    if defaulted_types > 0 {
        warnings.push(format!(
            "{defaulted_types} change request(s) without a change type (mapping.autotask.change_fields.change_type): counted as normal"
        ));
    }
    tickets.len() as u64
}

#[allow(clippy::too_many_arguments)]
fn read_change(
    t: &Value,
    ctx: &Context,
    mapping: &AutotaskMapping,
    line: u64,
    id: &str,
    status: &str,
    [created, updated, tenant]: [&str; 3],
    sink: &mut RowSink,
    defaulted_types: &mut u64,
) {
    let style: TimeStyle = ctx.time_style(SOURCE);
    let field = |column: &str| {
        mapping
            .change_fields
            .get(column)
            .map(|f| mapped(t, f))
            .unwrap_or_default()
    };
    let word = |column: &str| {
        let v = field(column);
        if v.is_empty() { v } else { after_label(&v) }
    };
    let filled = |column: &str| {
        if mapping.change_fields.contains_key(column) {
            let v = field(column);
            match crate::canonical::parse_bool(&after_label(&v)) {
                Some(b) => b.to_string(),
                None => (!v.trim().is_empty()).to_string(),
            }
        } else {
            String::new()
        }
    };
    let mut time = |column: &str| match style.parse(&field(column)) {
        Ok(v) => Ok(v.map(|v| v.to_rfc3339()).unwrap_or_default()),
        Err(reason) => Err(crate::sources::bad_value(column, &field(column), reason)),
    };
    let times: Vec<Result<String, Problem>> = [
        "planned_start_utc",
        "planned_end_utc",
        "actual_start_utc",
        "actual_end_utc",
    ]
    .map(&mut time)
    .into();
    if let Some(problem) = times.iter().find_map(|t| t.clone().err()) {
        sink.reject(&CHANGES, line, problem);
        return;
    }
    let [planned_start, planned_end, actual_start, actual_end]: [String; 4] = times
        .into_iter()
        .map(Result::unwrap)
        .collect::<Vec<_>>()
        .try_into()
        .expect("four");
    let mut change_type = word("change_type");
    if change_type.is_empty() {
        *defaulted_types += 1;
        change_type = "normal".into();
    }
    let outcome = match crate::sources::change_outcome(
        word("outcome"),
        status,
        "mapping.autotask.change_fields.outcome",
    ) {
        Ok(o) => o,
        Err(problem) => {
            sink.reject(&CHANGES, line, problem);
            return;
        }
    };
    // CAB: approved once an approver said yes, rejected once one said no; the decision time is
    // the latest vote.
    let votes: Vec<_> = ctx
        .lookups
        .iter()
        .filter(|l| l.kind == "change_approval" && l.key.as_deref() == Some(id))
        .collect();
    let decided = votes
        .iter()
        .filter(|v| v.flag.is_some())
        .filter_map(|v| v.at_utc)
        .max();
    let cab = if votes.iter().any(|v| v.flag == Some(false)) {
        "rejected"
    } else if votes.iter().any(|v| v.flag == Some(true)) && votes.iter().all(|v| v.flag.is_some()) {
        "approved"
    } else if votes.is_empty() {
        "none"
    } else {
        "pending"
    };
    // Linked to an incident or problem: known only once a links export was ingested.
    let links_known = ctx.lookups.iter().any(|l| l.kind == "change_link");
    let linked = ctx
        .lookups
        .iter()
        .any(|l| l.kind == "change_link" && l.key.as_deref() == Some(id));
    sink.push(
        &CHANGES,
        line,
        &[
            ("change_id", id.to_string()),
            ("tenant_id", tenant.to_string()),
            ("title", json::text(t, "title")),
            ("change_type", change_type),
            ("risk", word("risk")),
            ("created_utc", created.to_string()),
            ("planned_start_utc", planned_start),
            ("planned_end_utc", planned_end),
            ("actual_start_utc", actual_start),
            (
                "actual_end_utc",
                if status == "complete" {
                    actual_end
                } else {
                    String::new()
                },
            ),
            ("cab_decision", cab.to_string()),
            (
                "cab_decided_utc",
                if cab == "approved" || cab == "rejected" {
                    decided.map(|d| d.to_rfc3339()).unwrap_or_default()
                } else {
                    String::new()
                },
            ),
            ("has_rollback_plan", filled("has_rollback_plan")),
            ("has_test_evidence", filled("has_test_evidence")),
            ("has_comm_plan", filled("has_comm_plan")),
            ("has_validation_checklist", filled("has_validation_checklist")),
            ("outcome", outcome),
            ("rollback_attempted", filled("rollback_attempted")),
            ("rollback_succeeded", filled("rollback_succeeded")),
            ("post_change_verified", filled("post_change_verified")),
            ("customer_impact_declared", filled("customer_impact_declared")),
            (
                "caused_incident",
                if links_known {
                    linked.to_string()
                } else {
                    String::new()
                },
            ),
            ("source_system", SOURCE.to_string()),
            ("updated_utc", updated.to_string()),
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kb_numbers_are_found_in_ticket_titles() {
        assert_eq!(
            crate::sources::kb_in("Patch failure: KB5040442 on PC1"),
            Some("KB5040442".into())
        );
        assert_eq!(crate::sources::kb_in("kb 12"), None);
        assert_eq!(crate::sources::kb_in("Install Error"), None);
    }

    #[test]
    fn priority_labels_read_p_prefixes_or_the_map() {
        let mapping = AutotaskMapping::default();
        assert_eq!(priority("P2 Important", &mapping), Some(2));
        assert_eq!(priority("High", &mapping), Some(2));
        assert_eq!(priority("Critical", &mapping), Some(1));
        assert_eq!(priority("Whenever", &mapping), None);
    }
}
