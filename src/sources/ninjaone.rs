//! NinjaOne: organizations and devices JSON (`/v2/organizations`, `/v2/devices`), the
//! `/v2/queries/os-patches` and `/v2/queries/os-patch-installs` pages, and the Windows patch CSV
//! report -> tenants, devices, patch_status, patch_attempts.
//!
//! The CSV report's `Timestamp` column is when the report ran, not when anything happened on the
//! device, so it is not used.
//!
//! An organization is a client: tenant `ninjaone-org-<id>` unless the tenants table already maps
//! its id (rmm_site_id) to a PSA company. Patch queries name only the device, whose tenant comes
//! from the devices already ingested (devices files load first); a row whose device is unknown is
//! quarantined, not guessed. NinjaOne has no release date: a title starting `YYYY-MM` is a
//! Microsoft monthly release, dated the second Tuesday of that month.

use serde_json::Value;

use super::registry::{Adapter, FormatSpec, JsonProbe, Reads, Stage};
use super::{Cells, Context, FileError, RowSink, SourceFile, VendorCsv, json};
use crate::canonical::{DEVICES, PATCH_ATTEMPTS, PATCH_STATUS, Problem, Reason, TENANTS};
use crate::sources::settings::DateCulture;

pub static ADAPTER: Adapter = Adapter {
    settings_key: "ninjaone",
    // The patch report CSV is written in en-US.
    default_date_culture: DateCulture::Us,
    formats: &[
        FormatSpec {
            name: "ninjaone-organizations-json",
            stage: Stage::Tenants,
            reads: Reads::Json {
                recognises: |p| p.document_has("organizations") || p.record_has(&["nodeApprovalMode"]),
                read: |_, doc, ctx, sink, _| Ok(read_organizations(doc, ctx, sink)),
            },
        },
        FormatSpec {
            name: "ninjaone-devices-json",
            stage: Stage::Rows,
            reads: Reads::Json {
                recognises: |p| p.record_has(&["nodeClass"]),
                read: |file, doc, ctx, sink, _| read_devices(file, doc, ctx, sink),
            },
        },
        FormatSpec {
            name: "ninjaone-os-patches-json",
            stage: Stage::Rows,
            reads: Reads::Json {
                recognises: |p| is_patch_query(p) && !lists_installs(p),
                read: read_os_patches,
            },
        },
        FormatSpec {
            name: "ninjaone-os-patch-installs-json",
            stage: Stage::Rows,
            reads: Reads::Json {
                recognises: |p| is_patch_query(p) && lists_installs(p),
                read: |file, doc, ctx, sink, _| read_os_patch_installs(file, doc, ctx, sink),
            },
        },
        FormatSpec {
            name: "ninjaone-patch-report-csv",
            stage: Stage::Rows,
            reads: Reads::Csv {
                headers: &["DeviceName", "PatchName", "KBNumber", "InstalledAt", "DeviceId"],
                read: |_, csv, ctx, sink, _| Ok(read_patch_report_csv(csv, ctx, sink)),
            },
        },
    ],
};

/// A page of `/v2/queries/os-patches` or `os-patch-installs` (same envelope, a cursor).
fn is_patch_query(p: &JsonProbe) -> bool {
    (p.document_has("results") && p.document_has("cursor")) || p.record_has(&["kbNumber"])
}

/// Install history rather than the patch list: its results carry `installedAt`.
fn lists_installs(p: &JsonProbe) -> bool {
    json::records(p.document, &["results"])
        .iter()
        .any(|r| json::field(r, "installedAt").is_some())
}

fn org_tenant(ctx: &Context, org_id: &str) -> String {
    ctx.site_tenant(org_id)
        .unwrap_or_else(|| format!("ninjaone-org-{org_id}"))
}

/// `nodeClass` -> device_class.
fn device_class(node_class: &str) -> &'static str {
    match node_class {
        "WINDOWS_SERVER" | "LINUX_SERVER" | "MAC_SERVER" => "server",
        "WINDOWS_WORKSTATION" | "MAC" | "LINUX_WORKSTATION" => "workstation",
        _ => "other",
    }
}

/// Patch `type` -> classification; unknown types are `other` (counted in the warnings).
fn classification(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "SECURITY_UPDATES" => "security",
        "CRITICAL_UPDATES" => "critical",
        "UPDATE_ROLLUPS" => "update_rollup",
        "FEATURE_PACKS" => "feature",
        "DRIVER_UPDATES" => "driver",
        "DEFINITION_UPDATES" => "definition",
        "REGULAR_UPDATES" => "other",
        _ => return None,
    })
}

pub fn read_organizations(document: &Value, ctx: &Context, sink: &mut RowSink) -> u64 {
    let orgs = json::records(document, &["organizations"]);
    for (i, org) in orgs.iter().enumerate() {
        let id = json::text(org, "id");
        let tenant = org_tenant(ctx, &id);
        let cells = ctx.tenant_cells(&tenant, &json::text(org, "name"), None, Some(&id));
        sink.push(&TENANTS, i as u64 + 1, &cells);
        sink.link_site(ctx, i as u64 + 1, &id, &tenant);
    }
    orgs.len() as u64
}

pub fn read_devices(
    file: &SourceFile,
    document: &Value,
    ctx: &Context,
    sink: &mut RowSink,
) -> Result<u64, FileError> {
    let snapshot = ctx.require_snapshot_date(file)?.format("%Y-%m-%d").to_string();
    let style = ctx.time_style("ninjaone");
    let devices = json::records(document, &["devices"]);
    for (line, d) in sink.object_items(&DEVICES, devices) {
        let Some(last_seen) = sink.time_cell(
            &style,
            &DEVICES,
            line,
            "last_seen_utc",
            &json::text(d, "lastContact"),
        ) else {
            continue;
        };
        let hostname = Some(json::text(d, "systemName"))
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| json::text(d, "displayName"));
        let org = json::text(d, "organizationId");
        let tenant = org_tenant(ctx, &org);
        let org_name = json::path(d, &["references", "organization", "name"])
            .map(json::scalar_text)
            .unwrap_or_else(|| format!("NinjaOne organization {org}"));
        sink.tenant(ctx, line, &tenant, &org_name, None, Some(&org));
        sink.link_site(ctx, line, &org, &tenant);
        sink.push(
            &DEVICES,
            line,
            &[
                ("snapshot_date", snapshot.clone()),
                ("tenant_id", tenant),
                ("device_id", json::text(d, "id")),
                ("hostname", hostname),
                (
                    "device_class",
                    device_class(&json::text(d, "nodeClass")).to_string(),
                ),
                ("last_seen_utc", last_seen),
            ],
        );
    }
    Ok(devices.len() as u64)
}

/// One patch record of either query.
struct PatchRecord<'a> {
    line: u64,
    device_id: String,
    record: &'a Value,
}

impl<'a> PatchRecord<'a> {
    /// The `i`th record of a query page with its device's tenant; a device no devices export has
    /// named yet is quarantined as a row of `table` and gives `None`.
    fn located(
        i: usize,
        record: &'a Value,
        ctx: &Context,
        sink: &mut RowSink,
        table: &'static crate::canonical::Table,
    ) -> Option<(PatchRecord<'a>, String)> {
        let p = PatchRecord {
            line: i as u64 + 1,
            device_id: json::text(record, "deviceId"),
            record,
        };
        match ctx.device_tenant(&p.device_id) {
            Some(tenant) => Some((p, tenant)),
            None => {
                unknown_device(sink, table, p.line, &p.device_id);
                None
            }
        }
    }

    fn patch_id(&self) -> String {
        Some(json::text(self.record, "kbNumber"))
            .filter(|kb| !kb.is_empty())
            .unwrap_or_else(|| json::text(self.record, "name"))
    }

    fn common_cells(&self, snapshot: &str, tenant: &str) -> Vec<(&'static str, String)> {
        let name = json::text(self.record, "name");
        vec![
            ("snapshot_date", snapshot.to_string()),
            ("tenant_id", tenant.to_string()),
            ("device_id", self.device_id.clone()),
            ("patch_id", self.patch_id()),
            ("patch_title", name.clone()),
            (
                "classification",
                classification(&json::text(self.record, "type"))
                    .unwrap_or("other")
                    .to_string(),
            ),
            (
                "severity",
                super::severity_word(&json::text(self.record, "severity")).to_string(),
            ),
            (
                "release_date",
                super::microsoft_release_date(&name)
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
            ),
        ]
    }
}

fn unknown_device(sink: &mut RowSink, table: &'static crate::canonical::Table, line: u64, device_id: &str) {
    sink.reject(
        table,
        line,
        Problem {
            column: "tenant_id".into(),
            value: device_id.to_string(),
            reason: Reason::MissingRequired,
            detail: format!("device {device_id} is in no devices export ingested so far: ingest the NinjaOne devices first"),
        },
    );
}

/// `/v2/queries/os-patches`: patches not yet attempted -> patch_status `missing`, approval from
/// `status` (MANUAL pending review, APPROVED, REJECTED declined).
pub fn read_os_patches(
    file: &SourceFile,
    document: &Value,
    ctx: &Context,
    sink: &mut RowSink,
    warnings: &mut Vec<String>,
) -> Result<u64, FileError> {
    let snapshot = ctx.require_snapshot_date(file)?.format("%Y-%m-%d").to_string();
    let records = json::records(document, &["results"]);
    let mut unknown_types = 0;
    let mut unknown_severities = std::collections::BTreeMap::new();
    for (line, r) in sink.object_items(&PATCH_STATUS, records) {
        let Some((p, tenant)) = PatchRecord::located(line as usize - 1, r, ctx, sink, &PATCH_STATUS) else {
            continue;
        };
        if classification(&json::text(r, "type")).is_none() {
            unknown_types += 1;
        }
        let severity = json::text(r, "severity");
        if !super::is_severity_word(&severity) {
            *unknown_severities.entry(severity).or_insert(0u64) += 1;
        }
        let approval = match json::text(r, "status").to_ascii_uppercase().as_str() {
            "APPROVED" => "approved",
            "REJECTED" => "declined",
            _ => "pending_review",
        };
        let mut cells = p.common_cells(&snapshot, &tenant);
        cells.push(("approval", approval.to_string()));
        cells.push(("state", "missing".to_string()));
        sink.push(&PATCH_STATUS, p.line, &cells);
    }
    if unknown_types > 0 {
        warnings.push(format!(
            "{unknown_types} patch(es) of an unknown NinjaOne type, classified as other"
        ));
    }
    for (severity, n) in unknown_severities {
        warnings.push(format!(
            "NinjaOne severity `{severity}` on {n} patch(es) is not a severity: unspecified"
        ));
    }
    Ok(records.len() as u64)
}

/// `/v2/queries/os-patch-installs`: install history -> patch_attempts, and the latest result per
/// device and patch -> patch_status (`installed` or `failed`).
pub fn read_os_patch_installs(
    file: &SourceFile,
    document: &Value,
    ctx: &Context,
    sink: &mut RowSink,
) -> Result<u64, FileError> {
    let snapshot = ctx.require_snapshot_date(file)?.format("%Y-%m-%d").to_string();
    let style = ctx.time_style("ninjaone");
    let records = json::records(document, &["results"]);
    let mut latest: std::collections::BTreeMap<(String, String), (String, u64, Cells)> =
        std::collections::BTreeMap::new();
    for (line, r) in sink.object_items(&PATCH_ATTEMPTS, records) {
        let Some((p, tenant)) = PatchRecord::located(line as usize - 1, r, ctx, sink, &PATCH_ATTEMPTS) else {
            continue;
        };
        let Some(at) = sink.time_cell(
            &style,
            &PATCH_ATTEMPTS,
            p.line,
            "attempt_utc",
            &json::text(r, "installedAt"),
        ) else {
            continue;
        };
        let success = json::text(r, "status").eq_ignore_ascii_case("INSTALLED");
        sink.push(
            &PATCH_ATTEMPTS,
            p.line,
            &[
                ("attempt_utc", at.clone()),
                ("tenant_id", tenant.clone()),
                ("device_id", p.device_id.clone()),
                ("patch_id", p.patch_id()),
                ("result", if success { "success" } else { "failure" }.to_string()),
                ("job_id", json::text(r, "id")),
            ],
        );
        let mut cells = p.common_cells(&snapshot, &tenant);
        cells.push(("approval", "approved".to_string()));
        cells.push(("state", if success { "installed" } else { "failed" }.to_string()));
        cells.push(("installed_utc", if success { at.clone() } else { String::new() }));
        let key = (p.device_id.clone(), p.patch_id());
        if latest.get(&key).is_none_or(|(t, _, _)| *t <= at) {
            latest.insert(key, (at, p.line, cells));
        }
    }
    for (_, (_, line, cells)) in latest {
        sink.push(&PATCH_STATUS, line, &cells);
    }
    Ok(records.len() as u64)
}

/// The Windows patch report CSV: one row per installed patch -> patch_attempts (success). It
/// carries no classification or approval, so it adds install history without overwriting the
/// patch state the queries report.
pub fn read_patch_report_csv(csv: &VendorCsv, ctx: &Context, sink: &mut RowSink) -> u64 {
    let style = ctx.time_style("ninjaone");
    for r in &csv.records {
        let device = r.get("DeviceId");
        let Some(tenant) = ctx
            .device_tenant(&device)
            .or_else(|| ctx.named_tenant(&r.get("OrganizationName")))
        else {
            unknown_device(sink, &PATCH_ATTEMPTS, r.line, &device);
            continue;
        };
        let Some(installed) = sink.time_cell(
            &style,
            &PATCH_ATTEMPTS,
            r.line,
            "attempt_utc",
            &r.get("InstalledAt"),
        ) else {
            continue;
        };
        let patch_id = Some(r.get("KBNumber"))
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| r.get("PatchName"));
        sink.push(
            &PATCH_ATTEMPTS,
            r.line,
            &[
                ("attempt_utc", installed),
                ("tenant_id", tenant),
                ("device_id", device),
                ("patch_id", patch_id),
                ("result", "success".to_string()),
            ],
        );
    }
    csv.records.len() as u64
}

/// Writing canonical rows in NinjaOne's API shapes, for vendor-shaped sample data: devices pages,
/// and per snapshot the `os-patches` (not yet attempted) and `os-patch-installs` (installed or
/// failed) queries, plus the install history. NinjaOne's OS patch queries cover Microsoft
/// updates only (third-party software has its own endpoints), and carry no release date, ring,
/// exclusion or pending reboot: what they cannot say stays unsaid.
pub mod export {
    use chrono::{DateTime, NaiveDate};
    use serde_json::{Value, json};

    use crate::sources::ExportRow;

    fn epoch_s(iso: &str) -> Value {
        DateTime::parse_from_rfc3339(iso)
            .map_or(Value::Null, |t| Value::from(t.timestamp_millis() as f64 / 1000.0))
    }

    fn query(results: Vec<Value>, day: NaiveDate) -> Value {
        let expires = day.and_hms_opt(23, 0, 0).expect("valid").and_utc().timestamp() as f64;
        json!({"cursor": {"name": "c2FtcGxl", "offset": 0, "count": results.len(), "expires": expires}, "results": results})
    }

    fn kind(classification: &str) -> &'static str {
        match classification {
            "security" => "SECURITY_UPDATES",
            "critical" => "CRITICAL_UPDATES",
            "update_rollup" => "UPDATE_ROLLUPS",
            "feature" => "FEATURE_PACKS",
            "driver" => "DRIVER_UPDATES",
            "definition" => "DEFINITION_UPDATES",
            _ => "REGULAR_UPDATES",
        }
    }

    fn record<R: ExportRow>(p: &R, status: &str, day: NaiveDate) -> Value {
        let severity = match p.get("severity") {
            "unspecified" | "" => "unknown".to_string(),
            s => s.to_ascii_uppercase(),
        };
        json!({
            "id": format!("{}-{}", p.get("device_id"), p.get("patch_id")),
            "name": p.get("patch_title"),
            "severity": severity,
            "status": status,
            "type": kind(p.get("classification")),
            "deviceId": p.get("device_id"),
            "timestamp": day.and_hms_opt(6, 0, 0).expect("valid").and_utc().timestamp() as f64,
            "kbNumber": p.get("patch_id")
        })
    }

    /// Whether NinjaOne's OS patch queries would list this patch: a Microsoft KB update.
    pub fn is_os_patch<R: ExportRow>(p: &R) -> bool {
        p.get("patch_id").starts_with("KB")
    }

    pub fn devices<R: ExportRow>(devices: &[&R], org_of: impl Fn(&str) -> String) -> Value {
        Value::Array(
            devices
                .iter()
                .map(|d| {
                    let node_class = match d.get("device_class") {
                        "server" => "WINDOWS_SERVER",
                        "workstation" => "WINDOWS_WORKSTATION",
                        _ => "NMS_OTHER",
                    };
                    json!({
                        "id": d.get("device_id"),
                        "organizationId": org_of(d.get("tenant_id")),
                        "nodeClass": node_class,
                        "systemName": d.get("hostname"),
                        "displayName": d.get("hostname"),
                        "lastContact": epoch_s(d.get("last_seen_utc"))
                    })
                })
                .collect(),
        )
    }

    /// `os-patches` of one day: the patches not yet attempted, with their approval.
    pub fn os_patches<R: ExportRow>(rows: &[&R], day: NaiveDate) -> Value {
        let results = rows
            .iter()
            .filter(|p| p.get("state") == "missing")
            .map(|p| {
                let status = match p.get("approval") {
                    "approved" => "APPROVED",
                    "declined" => "REJECTED",
                    _ => "MANUAL",
                };
                record(*p, status, day)
            })
            .collect();
        query(results, day)
    }

    /// `os-patch-installs` of one day: each installed or failed patch's latest result, at the
    /// time of the install (or of the failed attempt `failed_at` names).
    pub fn os_patch_installs<R: ExportRow>(
        rows: &[&R],
        day: NaiveDate,
        failed_at: impl Fn(&R) -> Option<String>,
    ) -> Value {
        let results = rows
            .iter()
            .filter_map(|p| {
                let (status, at) = match p.get("state") {
                    "installed" | "pending_reboot" => ("INSTALLED", Some(p.get("installed_utc").to_string())),
                    "failed" => ("FAILED", failed_at(p)),
                    _ => return None,
                };
                let mut r = record(*p, status, day);
                r["installedAt"] = epoch_s(&at?);
                Some(r)
            })
            .collect();
        query(results, day)
    }

    /// The install history: every attempt as an `os-patch-installs` record; `describe` gives a
    /// patch's (title, classification, severity) as the patch lists know them.
    pub fn install_history<R: ExportRow>(
        attempts: &[&R],
        describe: impl Fn(&str) -> (String, String, String),
        day: NaiveDate,
    ) -> Value {
        let results = attempts
            .iter()
            .map(|a| {
                let (title, classification, severity) = describe(a.get("patch_id"));
                let severity = if severity.is_empty() || severity == "unspecified" {
                    "unknown".to_string()
                } else {
                    severity.to_ascii_uppercase()
                };
                json!({
                    "id": a.get("job_id"),
                    "name": title,
                    "severity": severity,
                    "status": if a.get("result") == "success" { "INSTALLED" } else { "FAILED" },
                    "type": kind(&classification),
                    "deviceId": a.get("device_id"),
                    "installedAt": epoch_s(a.get("attempt_utc")),
                    "timestamp": epoch_s(a.get("attempt_utc")),
                    "kbNumber": a.get("patch_id")
                })
            })
            .collect();
        query(results, day)
    }
}
