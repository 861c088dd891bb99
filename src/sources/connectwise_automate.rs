//! ConnectWise Automate: the patch-rows report CSV (hotfix joined to hotfixdata, computers and
//! clients, as community report queries write it) and ProVal's per-computer compliance view
//! (`plugin_proval_computerpatchcompliance`) -> tenants, devices, patch_status, or
//! device_patch_summary where only the compliance figure exists.
//!
//! Automate's report times are the database server's local time in US form (`05/15/2017 9:41`):
//! set `[sources.connectwise_automate] time_zone` to the server's zone. A client is a tenant:
//! matched by name (patch rows) or by id as rmm_site_id (compliance view) against the tenants
//! table, else `automate-client-<name or id>`; give the tenants file both to link them.

use std::collections::BTreeMap;

use super::registry::{Adapter, FormatSpec, Reads, Stage};
use super::{Cells, Context, FileError, RowSink, SourceFile, VendorCsv, microsoft_release_date};
use crate::canonical::{DEVICE_PATCH_SUMMARY, DEVICES, PATCH_STATUS, TENANTS};
use crate::sources::settings::DateCulture;

pub static ADAPTER: Adapter = Adapter {
    settings_key: "connectwise_automate",
    // Automate's database times come in US form (server-local: set its time_zone).
    default_date_culture: DateCulture::Us,
    formats: &[
        FormatSpec {
            name: "connectwise-automate-patch-rows-csv",
            stage: Stage::Rows,
            reads: Reads::Csv {
                headers: &["Computer_Name", "ComputerId", "kbid", "installed"],
                read: read_patch_rows,
            },
        },
        FormatSpec {
            name: "connectwise-automate-compliance-csv",
            stage: Stage::Rows,
            reads: Reads::Csv {
                headers: &["ComputerID", "ComputerName", "PatchCompliance"],
                read: |file, csv, ctx, sink, _| read_compliance(file, csv, ctx, sink),
            },
        },
    ],
};

fn class_of(machine_type: &str) -> &'static str {
    match machine_type.trim().to_ascii_lowercase().as_str() {
        "server" | "1" | "true" => "server",
        "workstation" | "0" | "false" => "workstation",
        _ => "other",
    }
}

/// `categoryname` -> classification.
fn classification(category: &str) -> Option<&'static str> {
    Some(match category.trim().to_ascii_lowercase().as_str() {
        "security updates" => "security",
        "critical updates" => "critical",
        "update rollups" => "update_rollup",
        "feature packs" | "upgrades" => "feature",
        "drivers" => "driver",
        "definition updates" => "definition",
        "updates" | "service packs" | "tools" => "other",
        _ => return None,
    })
}

fn slug(name: &str) -> String {
    let mut s: String = name
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '-' })
        .collect();
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    s.trim_matches('-').to_string()
}

pub fn read_patch_rows(
    file: &SourceFile,
    csv: &VendorCsv,
    ctx: &Context,
    sink: &mut RowSink,
    warnings: &mut Vec<String>,
) -> Result<u64, FileError> {
    let snapshot = ctx.require_snapshot_date(file)?.format("%Y-%m-%d").to_string();
    let style = ctx.time_style("connectwise_automate");
    let has_approval = csv.has(&["Approved"]);
    if !has_approval {
        warnings.push(
            "no Approved column: every row is taken as an approved patch (Automate's compliance reports \
             list approved patches); add the column to count unapproved ones correctly"
                .into(),
        );
    }
    // Clients and computers repeat on every patch row: one tenant and one device row each.
    let mut tenants: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut devices: BTreeMap<String, (u64, Cells)> = BTreeMap::new();
    let mut unknown_categories: BTreeMap<String, u64> = BTreeMap::new();
    for r in &csv.records {
        let client = r.get("Client_Name");
        let tenant = ctx
            .named_tenant(&client)
            .unwrap_or_else(|| format!("automate-client-{}", slug(&client)));
        if ctx.named_tenant(&client).is_none() {
            tenants.entry(tenant.clone()).or_insert((r.line, client.clone()));
        }
        let computer = r.get("ComputerId");
        let Some(last_seen) =
            sink.time_cell(&style, &DEVICES, r.line, "last_seen_utc", &r.get("Last_Contact"))
        else {
            continue;
        };
        devices.entry(computer.clone()).or_insert_with(|| {
            (
                r.line,
                vec![
                    ("snapshot_date", snapshot.clone()),
                    ("tenant_id", tenant.clone()),
                    ("device_id", computer.clone()),
                    ("hostname", r.get("Computer_Name")),
                    ("device_class", class_of(&r.get("Machine_Type")).to_string()),
                    ("os_name", r.get("OS_Version")),
                    ("last_seen_utc", last_seen),
                ],
            )
        });
        let Some(installed_at) = sink.time_cell(
            &style,
            &PATCH_STATUS,
            r.line,
            "installed_utc",
            &r.get("Install_Date"),
        ) else {
            continue;
        };
        let category = r.get("categoryname");
        let class = classification(&category).unwrap_or_else(|| {
            *unknown_categories.entry(category.clone()).or_default() += 1;
            "other"
        });
        let status = r.get("Install_Status").to_ascii_lowercase();
        let state = if r.get("installed") == "1" {
            "installed"
        } else if status.contains("reboot") {
            "pending_reboot"
        } else if status.contains("fail") || status.contains("error") {
            "failed"
        } else {
            "missing"
        };
        let approval = match (has_approval, r.get("Approved").as_str()) {
            (false, _) | (true, "1") => "approved",
            _ => "not_approved",
        };
        let kb = r.get("kbid");
        let title = r.get("Title");
        sink.push(
            &PATCH_STATUS,
            r.line,
            &[
                ("snapshot_date", snapshot.clone()),
                ("tenant_id", tenant),
                ("device_id", computer),
                (
                    "patch_id",
                    if kb.is_empty() {
                        title.clone()
                    } else {
                        format!("KB{}", kb.trim_start_matches("KB"))
                    },
                ),
                ("patch_title", title.clone()),
                ("vendor", "Microsoft".to_string()),
                ("classification", class.to_string()),
                ("severity", super::severity_word(&r.get("severity")).to_string()),
                (
                    "release_date",
                    microsoft_release_date(&title)
                        .map(|d| d.to_string())
                        .unwrap_or_default(),
                ),
                ("approval", approval.to_string()),
                ("state", state.to_string()),
                (
                    "installed_utc",
                    if state == "installed" {
                        installed_at
                    } else {
                        String::new()
                    },
                ),
            ],
        );
    }
    for (tenant, (line, name)) in tenants {
        sink.push(&TENANTS, line, &ctx.tenant_cells(&tenant, &name, None, None));
    }
    for (_, (line, cells)) in devices {
        sink.push(&DEVICES, line, &cells);
    }
    for (category, n) in unknown_categories {
        warnings.push(format!(
            "unknown Automate category `{category}` on {n} row(s), classified as other"
        ));
    }
    Ok(csv.records.len() as u64)
}

/// ProVal's compliance view: one row per computer with its compliance figure (0..1). A computer
/// at 1.0 is fully patched; below it has approved patches pending. The view carries no counts
/// govpack could honestly split, so the summary counts stay empty.
pub fn read_compliance(
    file: &SourceFile,
    csv: &VendorCsv,
    ctx: &Context,
    sink: &mut RowSink,
) -> Result<u64, FileError> {
    let snapshot = ctx.require_snapshot_date(file)?.format("%Y-%m-%d").to_string();
    let style = ctx.time_style("connectwise_automate");
    for r in &csv.records {
        let client = r.get("ClientID");
        let tenant = ctx
            .site_tenant(&client)
            .unwrap_or_else(|| format!("automate-client-{client}"));
        let name = Some(r.get("ClientName"))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| format!("Automate client {client}"));
        sink.tenant(ctx, r.line, &tenant, &name, None, Some(&client));
        sink.link_site(ctx, r.line, &client, &tenant);
        let Some(last_seen) = sink.time_cell(
            &style,
            &DEVICES,
            r.line,
            "last_seen_utc",
            &r.get("ComputerDateLastContact"),
        ) else {
            continue;
        };
        let computer = r.get("ComputerID");
        let os = Some(r.get("FullOSName"))
            .filter(|o| !o.is_empty())
            .unwrap_or_else(|| r.get("ComputerOS"));
        sink.push(
            &DEVICES,
            r.line,
            &[
                ("snapshot_date", snapshot.clone()),
                ("tenant_id", tenant.clone()),
                ("device_id", computer.clone()),
                ("hostname", r.get("ComputerName")),
                ("device_class", class_of(&r.get("ComputerIsServer")).to_string()),
                ("os_name", os),
                ("last_seen_utc", last_seen),
            ],
        );
        let compliance = r.get("PatchCompliance");
        let status = match compliance.parse::<f64>() {
            Ok(c) if c >= 1.0 => "fully_patched",
            Ok(_) => "approved_pending",
            Err(_) => "no_data",
        };
        sink.push(
            &DEVICE_PATCH_SUMMARY,
            r.line,
            &[
                ("snapshot_date", snapshot.clone()),
                ("tenant_id", tenant),
                ("device_id", computer),
                ("status", status.to_string()),
            ],
        );
    }
    Ok(csv.records.len() as u64)
}

/// Writing canonical patch rows as Automate's patch-rows report CSV, for vendor-shaped sample
/// data: Microsoft updates only (Automate's hotfix table), with the computer and client columns
/// the report repeats on every row, times in the US form the report query writes.
pub mod export {
    use chrono::DateTime;

    use crate::sources::ExportRow;

    pub const HEADER: [&str; 17] = [
        "Install_Status",
        "Client_Name",
        "Location_Name",
        "Computer_Name",
        "ComputerId",
        "OS_Version",
        "Machine_Type",
        "Online",
        "Last_Contact",
        "Last_Reboot",
        "Install_Date",
        "kbid",
        "installed",
        "severity",
        "categoryname",
        "Title",
        "Approved",
    ];

    fn us_time(iso: &str) -> String {
        DateTime::parse_from_rfc3339(iso).map_or(String::new(), |t| t.format("%m/%d/%Y %-H:%M").to_string())
    }

    fn category(classification: &str) -> &'static str {
        match classification {
            "security" => "Security Updates",
            "critical" => "Critical Updates",
            "update_rollup" => "Update Rollups",
            "feature" => "Feature Packs",
            "driver" => "Drivers",
            "definition" => "Definition Updates",
            _ => "Updates",
        }
    }

    /// One report row of a patch on a device; `None` for states the report does not list.
    pub fn row<R: ExportRow>(patch: &R, device: &R, client_name: &str) -> Option<Vec<String>> {
        let (status, installed) = match patch.get("state") {
            "installed" => ("Completed", "1"),
            "pending_reboot" => ("Pending Reboot", "0"),
            "failed" => ("Failed", "0"),
            "missing" => ("Not Installed", "0"),
            _ => return None,
        };
        let severity = match patch.get("severity") {
            "unspecified" | "" => String::new(),
            s => {
                let mut c = s.chars();
                c.next()
                    .map_or_else(String::new, |f| f.to_uppercase().collect::<String>() + c.as_str())
            }
        };
        let machine = match device.get("device_class") {
            "server" => "Server",
            "workstation" => "Workstation",
            _ => "Other",
        };
        Some(vec![
            status.to_string(),
            client_name.to_string(),
            "Main Office".to_string(),
            device.get("hostname").to_string(),
            device.get("device_id").to_string(),
            device.get("os_name").to_string(),
            machine.to_string(),
            "1".to_string(),
            us_time(device.get("last_seen_utc")),
            String::new(),
            if installed == "1" {
                us_time(patch.get("installed_utc"))
            } else {
                String::new()
            },
            patch.get("patch_id").trim_start_matches("KB").to_string(),
            installed.to_string(),
            severity,
            category(patch.get("classification")).to_string(),
            patch.get("patch_title").to_string(),
            if patch.get("approval") == "approved" {
                "1"
            } else {
                "0"
            }
            .to_string(),
        ])
    }
}
