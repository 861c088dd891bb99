//! Datto RMM: API v2 JSON pages of sites and devices, and the PowerShell (DattoRMM.Core
//! `Export-RMMObjectCsv`) and community CSV exports of them -> tenants, devices,
//! device_patch_summary; patch alerts -> patch_attempts (failures).
//!
//! The API has no per-patch data: a device carries `patchManagement.patchStatus` and three counts,
//! which become `device_patch_summary`. A site is a client: its tenant_id is its
//! `autotaskCompanyId` when it has one (so RMM and PSA rows of one client meet), else
//! `datto-site-<id>`. Devices find their tenant through the site id (sites files load first).
//! System sites (`Managed`, `OnDemand`, `Deleted Devices`) are not clients; deleted devices are
//! not in the population; devices Datto does not patch (network devices, printers: no
//! `patchManagement`) are kept but marked excluded, so they are counted, not judged.

use serde_json::Value;

use super::registry::{Adapter, FormatSpec, Reads, Stage};
use super::{Context, FileError, RowSink, SourceFile, VendorCsv, json};
use crate::canonical::{DEVICE_PATCH_SUMMARY, DEVICES, PATCH_ATTEMPTS, Problem, Reason, TENANTS};
use crate::sources::settings::DateCulture;

pub static ADAPTER: Adapter = Adapter {
    settings_key: "datto_rmm",
    // PowerShell and community CSV exports are written in en-US.
    default_date_culture: DateCulture::Us,
    formats: &[
        FormatSpec {
            name: "datto-rmm-sites-json",
            stage: Stage::Tenants,
            reads: Reads::Json {
                recognises: |p| {
                    p.document_has("sites") || p.record_has(&["autotaskCompanyId", "devicesStatus"])
                },
                read: |_, doc, ctx, sink, warnings| Ok(read_sites_json(doc, ctx, sink, warnings)),
            },
        },
        FormatSpec {
            name: "datto-rmm-sites-csv",
            stage: Stage::Tenants,
            reads: Reads::Csv {
                headers: &["id", "name", "autotaskCompanyId"],
                read: |_, csv, ctx, sink, warnings| Ok(read_sites_csv(csv, ctx, sink, warnings)),
            },
        },
        FormatSpec {
            name: "datto-rmm-devices-json",
            stage: Stage::Rows,
            reads: Reads::Json {
                // A devices page by its envelope (`GET /v2/account/devices`, `/v2/site/{uid}/
                // devices`), whatever its items hold; a single device object by its keys.
                recognises: |p| {
                    (p.document_has("devices") && p.document_has("pageDetails"))
                        || p.record_has(&["siteUid", "deviceType"])
                },
                read: read_devices_json,
            },
        },
        FormatSpec {
            name: "datto-rmm-devices-csv",
            stage: Stage::Rows,
            reads: Reads::Csv {
                headers: &["Uid", "SiteId", "Hostname", "DeviceCategory"],
                read: read_devices_csv,
            },
        },
        FormatSpec {
            name: "datto-rmm-patch-alerts-json",
            stage: Stage::Rows,
            reads: Reads::Json {
                // An alerts page by its envelope (`GET /v2/account/alerts/open`), even when it
                // holds none (a day without open alerts); an alert list by its items' keys.
                recognises: |p| {
                    (p.document_has("alerts") && p.document_has("pageDetails"))
                        || p.alert_has(&["alertUid", "alertContext"])
                },
                read: |_, doc, ctx, sink, warnings| Ok(read_patch_alerts(doc, ctx, sink, warnings)),
            },
        },
    ],
};

const SYSTEM_SITES: [&str; 3] = ["Managed", "OnDemand", "Deleted Devices"];

/// The tenant of a Datto site: its Autotask company when linked, else the site itself.
fn site_tenant(site_id: &str, autotask_company_id: &str) -> String {
    if autotask_company_id.is_empty() {
        format!("datto-site-{site_id}")
    } else {
        autotask_company_id.to_string()
    }
}

/// `deviceType.category` -> device_class.
fn device_class(category: &str) -> &'static str {
    match category.trim().to_ascii_lowercase().as_str() {
        "server" => "server",
        "desktop" | "laptop" | "workstation" => "workstation",
        _ => "other",
    }
}

/// `patchStatus` -> device_patch_summary.status; `None` for a word Datto has not documented.
fn summary_status(status: &str) -> Option<&'static str> {
    Some(match status.trim().to_ascii_lowercase().as_str() {
        "nopolicy" => "no_policy",
        "nodata" => "no_data",
        "rebootrequired" => "reboot_required",
        "installerror" => "install_error",
        "approvedpending" => "approved_pending",
        "fullypatched" => "fully_patched",
        _ => return None,
    })
}

pub fn read_sites_json(
    document: &Value,
    ctx: &Context,
    sink: &mut RowSink,
    warnings: &mut Vec<String>,
) -> u64 {
    let sites = json::records(document, &["sites"]);
    for (i, site) in sites.iter().enumerate() {
        let s = Site {
            line: i as u64 + 1,
            id: json::text(site, "id"),
            name: json::text(site, "name"),
            autotask_company_id: json::text(site, "autotaskCompanyId"),
            on_demand: json::flag(site, "onDemand").unwrap_or(false),
        };
        push_site(ctx, sink, warnings, s);
    }
    sites.len() as u64
}

pub fn read_sites_csv(csv: &VendorCsv, ctx: &Context, sink: &mut RowSink, warnings: &mut Vec<String>) -> u64 {
    for record in &csv.records {
        let s = Site {
            line: record.line,
            id: record.get("id"),
            name: record.get("name"),
            autotask_company_id: record.get("autotaskCompanyId"),
            on_demand: false,
        };
        push_site(ctx, sink, warnings, s);
    }
    csv.records.len() as u64
}

/// One site as both shapes describe it.
struct Site {
    line: u64,
    id: String,
    name: String,
    autotask_company_id: String,
    on_demand: bool,
}

fn push_site(ctx: &Context, sink: &mut RowSink, warnings: &mut Vec<String>, site: Site) {
    let Site {
        line,
        id,
        name,
        autotask_company_id,
        on_demand,
    } = site;
    let (id, name, autotask_company_id) = (id.as_str(), name.as_str(), autotask_company_id.as_str());
    if SYSTEM_SITES.contains(&name) || on_demand {
        warnings.push(format!(
            "record {line}: Datto system site `{name}` is not a client and was skipped"
        ));
        return;
    }
    let tenant = site_tenant(id, autotask_company_id);
    sink.push(
        &TENANTS,
        line,
        &ctx.tenant_cells(&tenant, name, Some(autotask_company_id), Some(id)),
    );
    sink.link_site(ctx, line, id, &tenant);
}

/// One device as both shapes describe it.
struct Device {
    line: u64,
    uid: String,
    site_id: String,
    site_name: String,
    hostname: String,
    category: String,
    os: String,
    /// As exported: epoch milliseconds (API) or culture-dependent text (PowerShell CSV).
    last_seen: String,
    deleted: bool,
    suspended: bool,
    /// `None` when Datto does not patch the device (no patchManagement object).
    patch: Option<(String, String, String, String)>,
}

pub fn read_devices_json(
    file: &SourceFile,
    document: &Value,
    ctx: &Context,
    sink: &mut RowSink,
    warnings: &mut Vec<String>,
) -> Result<u64, FileError> {
    let devices: Vec<(u64, &Value)> = match json::field(document, "devices") {
        Some(_) => sink.object_items(&DEVICES, json::records(document, &["devices"])),
        // A single device object (GET /v2/device/{uid}).
        None => vec![(1, document)],
    };
    let parsed = devices.iter().map(|&(line, d)| Device {
        line,
        uid: json::text(d, "uid"),
        site_id: json::text(d, "siteId"),
        site_name: json::text(d, "siteName"),
        hostname: json::text(d, "hostname"),
        category: json::path(d, &["deviceType", "category"])
            .map(json::scalar_text)
            .unwrap_or_default(),
        os: json::text(d, "operatingSystem"),
        last_seen: json::text(d, "lastSeen"),
        deleted: json::flag(d, "deleted").unwrap_or(false),
        suspended: json::flag(d, "suspended").unwrap_or(false),
        patch: json::field(d, "patchManagement").map(|p| {
            (
                json::text(p, "patchStatus"),
                json::text(p, "patchesApprovedPending"),
                json::text(p, "patchesNotApproved"),
                json::text(p, "patchesInstalled"),
            )
        }),
    });
    push_devices(file, parsed.collect(), ctx, sink, warnings)?;
    // Every item of the page was read, malformed ones included.
    Ok(json::records(document, &["devices"]).len().max(devices.len()) as u64)
}

pub fn read_devices_csv(
    file: &SourceFile,
    csv: &VendorCsv,
    ctx: &Context,
    sink: &mut RowSink,
    warnings: &mut Vec<String>,
) -> Result<u64, FileError> {
    let parsed = csv.records.iter().map(|r| {
        let status = r.get("PatchStatus");
        Device {
            line: r.line,
            uid: r.get("Uid"),
            site_id: r.get("SiteId"),
            site_name: r.get("SiteName"),
            hostname: r.get("Hostname"),
            category: r.get("DeviceCategory"),
            os: r.get("OperatingSystem"),
            last_seen: r.get("LastSeen"),
            deleted: crate::canonical::parse_bool(&r.get("Deleted")).unwrap_or(false),
            suspended: crate::canonical::parse_bool(&r.get("Suspended")).unwrap_or(false),
            patch: (!status.is_empty()).then(|| (status, String::new(), String::new(), String::new())),
        }
    });
    push_devices(file, parsed.collect(), ctx, sink, warnings)?;
    Ok(csv.records.len() as u64)
}

fn push_devices(
    file: &SourceFile,
    devices: Vec<Device>,
    ctx: &Context,
    sink: &mut RowSink,
    warnings: &mut Vec<String>,
) -> Result<(), FileError> {
    let snapshot = ctx.require_snapshot_date(file)?.format("%Y-%m-%d").to_string();
    let style = ctx.time_style("datto_rmm");
    let mut unknown_sites = std::collections::BTreeSet::new();
    let mut unknown_statuses = std::collections::BTreeMap::<String, u64>::new();
    let mut deleted = 0;
    for d in devices {
        if d.deleted {
            deleted += 1;
            continue;
        }
        if d.site_id.is_empty() {
            // No site, no client: the device cannot count anywhere, and is not guessed into one.
            sink.reject(
                &DEVICES,
                d.line,
                Problem {
                    column: "siteId".into(),
                    value: String::new(),
                    reason: Reason::UnknownTenant,
                    detail: "the device names no site (siteId), so its client cannot be told".into(),
                },
            );
            continue;
        }
        let tenant = ctx.site_tenant(&d.site_id).unwrap_or_else(|| {
            if !d.site_id.is_empty() {
                unknown_sites.insert(format!("{} ({})", d.site_id, d.site_name));
            }
            site_tenant(&d.site_id, "")
        });
        if !d.site_id.is_empty() {
            sink.tenant(ctx, d.line, &tenant, &d.site_name, None, Some(&d.site_id));
            sink.link_site(ctx, d.line, &d.site_id, &tenant);
        }
        let Some(last_seen) = sink.time_cell(&style, &DEVICES, d.line, "last_seen_utc", &d.last_seen) else {
            continue;
        };
        let (excluded, reason) = if d.suspended {
            ("true", "suspended in Datto RMM")
        } else if d.patch.is_none() {
            ("true", "not patch-managed by Datto RMM (no patch policy data)")
        } else {
            ("false", "")
        };
        sink.push(
            &DEVICES,
            d.line,
            &[
                ("snapshot_date", snapshot.clone()),
                ("tenant_id", tenant.clone()),
                ("device_id", d.uid.clone()),
                ("hostname", d.hostname.clone()),
                ("device_class", device_class(&d.category).to_string()),
                ("os_name", d.os.clone()),
                ("excluded", excluded.to_string()),
                ("exclusion_reason", reason.to_string()),
                ("last_seen_utc", last_seen),
            ],
        );
        if let Some((status, pending, not_approved, installed)) = d.patch {
            let status = summary_status(&status).unwrap_or_else(|| {
                *unknown_statuses.entry(status.clone()).or_default() += 1;
                "no_data"
            });
            sink.push(
                &DEVICE_PATCH_SUMMARY,
                d.line,
                &[
                    ("snapshot_date", snapshot.clone()),
                    ("tenant_id", tenant),
                    ("device_id", d.uid),
                    ("status", status.to_string()),
                    ("approved_pending_count", pending),
                    ("not_approved_count", not_approved),
                    ("installed_count", installed),
                ],
            );
        }
    }
    if deleted > 0 {
        warnings.push(format!("{deleted} deleted device(s) left out of the population"));
    }
    if !unknown_sites.is_empty() {
        warnings.push(format!(
            "devices of sites not in the tenants table were given tenant `datto-site-<id>`; ingest the \
             Datto sites export first to link them to their PSA company: {}",
            unknown_sites.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    for (status, n) in unknown_statuses {
        warnings.push(format!(
            "unknown Datto patchStatus `{status}` on {n} device(s), counted as no_data"
        ));
    }
    Ok(())
}

/// The patch a patch alert is about: its `patchUid`, else the KB its `patchTitle` names (alerts
/// of some Datto versions carry only the title), else the title itself.
fn patch_of(context: &Value) -> String {
    let uid = json::text(context, "patchUid");
    if !uid.trim().is_empty() {
        return uid;
    }
    let title = json::text(context, "patchTitle");
    super::kb_in(&title).unwrap_or(title)
}

/// Patch alerts (`alertContext` of class `patch_ctx`), one alert or an alerts page: each is a
/// failed install of a patch on a device -> patch_attempts (failure, with Datto's error info).
/// Alerts of other kinds are skipped and counted. The device's tenant comes from the devices
/// already ingested; an alert on an unknown device is quarantined.
pub fn read_patch_alerts(
    document: &Value,
    ctx: &Context,
    sink: &mut RowSink,
    warnings: &mut Vec<String>,
) -> u64 {
    let style = ctx.time_style("datto_rmm");
    let alerts: Vec<(u64, &Value)> = match json::field(document, "alerts") {
        Some(_) => sink.object_items(&PATCH_ATTEMPTS, json::records(document, &["alerts"])),
        None => vec![(1, document)],
    };
    let mut other_kinds = 0;
    for &(line, alert) in &alerts {
        let context = json::field(alert, "alertContext");
        let is_patch = context.is_some_and(|c| json::text(c, "@class") == "patch_ctx");
        let Some(context) = context.filter(|_| is_patch) else {
            other_kinds += 1;
            continue;
        };
        let device = json::path(alert, &["alertSourceInfo", "deviceUid"])
            .map(json::scalar_text)
            .unwrap_or_default();
        let Some(tenant) = ctx.device_tenant(&device) else {
            sink.reject(
                &PATCH_ATTEMPTS,
                line,
                crate::canonical::Problem {
                    column: "tenant_id".into(),
                    value: device.clone(),
                    reason: crate::canonical::Reason::MissingRequired,
                    detail: format!("device {device} is in no devices export ingested so far: ingest the Datto devices first"),
                },
            );
            continue;
        };
        let Some(at) = sink.time_cell(
            &style,
            &PATCH_ATTEMPTS,
            line,
            "attempt_utc",
            &json::text(alert, "timestamp"),
        ) else {
            continue;
        };
        sink.push(
            &PATCH_ATTEMPTS,
            line,
            &[
                ("attempt_utc", at),
                ("tenant_id", tenant),
                ("device_id", device),
                ("patch_id", patch_of(context)),
                ("result", "failure".to_string()),
                ("error_code", json::text(context, "info")),
                ("error_message", json::text(alert, "diagnostics")),
                ("job_id", json::text(alert, "alertUid")),
            ],
        );
    }
    if other_kinds > 0 {
        warnings.push(format!(
            "{other_kinds} alert(s) that are not patch alerts skipped"
        ));
    }
    json::records(document, &["alerts"]).len().max(alerts.len()) as u64
}

/// Writing canonical devices and summaries in Datto RMM's API shape, for vendor-shaped sample
/// data: exactly what the reader above takes back.
pub mod export {
    use chrono::DateTime;
    use serde_json::{Value, json};

    use crate::sources::ExportRow;

    fn epoch_ms(iso: &str) -> Value {
        DateTime::parse_from_rfc3339(iso).map_or(Value::Null, |t| Value::from(t.timestamp_millis()))
    }

    fn patch_status(status: &str) -> &'static str {
        match status {
            "no_policy" => "NoPolicy",
            "reboot_required" => "RebootRequired",
            "install_error" => "InstallError",
            "approved_pending" => "ApprovedPending",
            "fully_patched" => "FullyPatched",
            _ => "NoData",
        }
    }

    /// The sites page: one site per tenant, linked to its Autotask company.
    pub fn sites<R: ExportRow>(tenants: &[&R]) -> Value {
        let sites: Vec<Value> = tenants
            .iter()
            .map(|t| {
                json!({
                    "id": t.get("rmm_site_id"),
                    "name": t.get("tenant_name"),
                    "onDemand": false,
                    "autotaskCompanyId": t.get("tenant_id"),
                    "autotaskCompanyName": t.get("tenant_name"),
                    "devicesStatus": {"numberOfDevices": null}
                })
            })
            .collect();
        json!({"pageDetails": {"count": sites.len(), "totalCount": sites.len(), "prevPageUrl": null, "nextPageUrl": null}, "sites": sites})
    }

    /// One devices page of a snapshot: each device with its summary row. Devices excluded from
    /// patching are written as suspended, the only way Datto marks a device it does not patch.
    pub fn devices<R: ExportRow>(devices: &[(&R, &R)], site_of: impl Fn(&str) -> String) -> Value {
        let items: Vec<Value> = devices
            .iter()
            .map(|(d, s)| {
                let category = match d.get("device_class") {
                    "server" => "Server",
                    "workstation" => "Desktop",
                    _ => "Network Device",
                };
                let count = |c: &str| d_count(s.get(c));
                let site = site_of(d.get("tenant_id"));
                json!({
                    "uid": d.get("device_id"),
                    "siteId": site,
                    "siteUid": site,
                    "hostname": d.get("hostname"),
                    "deviceType": {"category": category, "type": category},
                    "operatingSystem": d.get("os_name"),
                    "lastSeen": epoch_ms(d.get("last_seen_utc")),
                    "deleted": false,
                    "suspended": d.get("excluded") == "true" || d.get("patch_policy") == "do_not_patch",
                    "patchManagement": {
                        "patchStatus": patch_status(s.get("status")),
                        "patchesApprovedPending": count("approved_pending_count"),
                        "patchesNotApproved": count("not_approved_count"),
                        "patchesInstalled": count("installed_count")
                    }
                })
            })
            .collect();
        json!({"pageDetails": {"count": items.len(), "totalCount": items.len(), "prevPageUrl": null, "nextPageUrl": null}, "devices": items})
    }

    fn d_count(s: &str) -> Value {
        s.parse::<i64>().map_or(Value::Null, Value::from)
    }
}
