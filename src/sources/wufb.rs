//! Windows Update for Business reports: the `UCClientUpdateStatus` export (Log Analytics or the
//! portal's CSV) -> devices, patch_status, patch_attempts.
//!
//! Devices are Entra (Azure AD) devices, tenanted by `AzureADTenantId` (matched to rmm_site_id in
//! the tenants table, else `aad-<tenant id>`). WUfB reports Windows clients only: every device is a
//! workstation, and `TimeGenerated` (when the client last reported) is its last-seen time. Header
//! names may carry a ` [UTC]` suffix.

use std::collections::BTreeMap;

use super::registry::{Adapter, FormatSpec, Reads, Stage};
use super::{Cells, Context, FileError, RowSink, SourceFile, VendorCsv};
use crate::canonical::{DEVICES, PATCH_ATTEMPTS, PATCH_STATUS};
use crate::sources::settings::DateCulture;

pub static ADAPTER: Adapter = Adapter {
    settings_key: "wufb",
    default_date_culture: DateCulture::Iso,
    formats: &[FormatSpec {
        name: "wufb-ucclientupdatestatus-csv",
        stage: Stage::Rows,
        reads: Reads::Csv {
            headers: &["AzureADDeviceId", "DeviceName", "UpdateClassification"],
            read: |file, csv, ctx, sink, _| read_client_update_status(file, csv, ctx, sink),
        },
    }],
};

/// `UpdateClassification` -> classification.
fn classification(raw: &str) -> &'static str {
    match raw.trim().to_ascii_lowercase().as_str() {
        "security" => "security",
        "driver" => "driver",
        "upgrade" => "feature",
        _ => "other",
    }
}

/// `ClientState` / `ClientSubstate` (and the WSUS install states) -> patch state.
fn state(client_state: &str, substate: &str) -> &'static str {
    let (s, sub) = (client_state.to_ascii_lowercase(), substate.to_ascii_lowercase());
    if s == "notapplicable" {
        "not_applicable"
    } else if s == "installedpendingreboot" || sub.contains("reboot") || sub.contains("restart") {
        "pending_reboot"
    } else if s == "installed" || sub == "updateinstalled" {
        "installed"
    } else if s.contains("fail") || sub.contains("fail") || sub.contains("error") {
        "failed"
    } else {
        "missing"
    }
}

pub fn read_client_update_status(
    file: &SourceFile,
    csv: &VendorCsv,
    ctx: &Context,
    sink: &mut RowSink,
) -> Result<u64, FileError> {
    let snapshot = ctx.require_snapshot_date(file)?.format("%Y-%m-%d").to_string();
    let style = ctx.time_style("wufb");
    let mut devices: BTreeMap<String, (u64, Cells)> = BTreeMap::new();
    for r in &csv.records {
        let time = |column: &str| {
            style
                .parse(&r.get(column))
                .map(|t| t.map(|t| t.to_rfc3339()).unwrap_or_default())
        };
        let times = (
            time("TimeGenerated"),
            time("UpdateReleaseTime"),
            time("UpdateInstalledTime"),
            time("ClientSubstateTime"),
        );
        let (generated, released, installed, substate_time) = match times {
            (Ok(a), Ok(b), Ok(c), Ok(d)) => (a, b, c, d),
            (a, b, c, d) => {
                let reason = [a, b, c, d].into_iter().find_map(Result::err).unwrap_or_default();
                sink.reject(
                    &PATCH_STATUS,
                    r.line,
                    super::bad_value("installed_utc", "", reason),
                );
                continue;
            }
        };
        let aad_tenant = r.get("AzureADTenantId");
        let tenant = ctx
            .site_tenant(&aad_tenant)
            .unwrap_or_else(|| format!("aad-{aad_tenant}"));
        sink.tenant(
            ctx,
            r.line,
            &tenant,
            &format!("Entra ID tenant {aad_tenant}"),
            None,
            Some(&aad_tenant),
        );
        sink.link_site(ctx, r.line, &aad_tenant, &tenant);
        let device = Some(r.get("AzureADDeviceId"))
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| r.get("GlobalDeviceId"));
        // The device's newest report is its last-seen time.
        let entry = devices
            .entry(device.clone())
            .or_insert_with(|| (r.line, Vec::new()));
        let newer = entry
            .1
            .iter()
            .find(|(c, _)| *c == "last_seen_utc")
            .is_none_or(|(_, seen)| *seen < generated);
        if newer {
            entry.1 = vec![
                ("snapshot_date", snapshot.clone()),
                ("tenant_id", tenant.clone()),
                ("device_id", device.clone()),
                ("hostname", r.get("DeviceName")),
                ("device_class", "workstation".to_string()),
                ("last_seen_utc", generated.clone()),
            ];
        }
        let patch_id = Some(r.get("TargetKBNumber"))
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| r.get("UpdateDisplayName"));
        let state = state(&r.get("ClientState"), &r.get("ClientSubstate"));
        let release_date = released.get(..10).unwrap_or_default().to_string();
        sink.push(
            &PATCH_STATUS,
            r.line,
            &[
                ("snapshot_date", snapshot.clone()),
                ("tenant_id", tenant.clone()),
                ("device_id", device.clone()),
                ("patch_id", patch_id.clone()),
                ("patch_title", r.get("UpdateDisplayName")),
                ("vendor", "Microsoft".to_string()),
                (
                    "classification",
                    classification(&r.get("UpdateClassification")).to_string(),
                ),
                ("release_date", release_date),
                // Offered to the device by its WUfB policy: approved.
                ("approval", "approved".to_string()),
                ("state", state.to_string()),
                (
                    "installed_utc",
                    if state == "installed" {
                        installed.clone()
                    } else {
                        String::new()
                    },
                ),
            ],
        );
        let attempt = match state {
            "installed" if !installed.is_empty() => Some((installed, "success")),
            "failed" if !substate_time.is_empty() => Some((substate_time, "failure")),
            _ => None,
        };
        if let Some((at, result)) = attempt {
            let cells = [
                ("attempt_utc", at),
                ("tenant_id", tenant),
                ("device_id", device),
                ("patch_id", patch_id),
                ("result", result.to_string()),
                (
                    "error_message",
                    if result == "failure" {
                        r.get("ClientSubstate")
                    } else {
                        String::new()
                    },
                ),
                ("job_id", r.get("DeploymentId")),
            ];
            sink.push(&PATCH_ATTEMPTS, r.line, &cells);
        }
    }
    for (_, (line, cells)) in devices {
        sink.push(&DEVICES, line, &cells);
    }
    Ok(csv.records.len() as u64)
}

/// Writing canonical patch rows as `UCClientUpdateStatus` rows, for vendor-shaped sample data:
/// Microsoft updates on workstations (WUfB manages Windows clients), tenanted by an Entra tenant
/// id, times in the portal export's `yyyy/MM/dd hh:mm:ss.fff AM` form.
pub mod export {
    use chrono::DateTime;

    use crate::sources::ExportRow;

    pub const HEADER: [&str; 14] = [
        "TimeGenerated [UTC]",
        "AzureADTenantId",
        "AzureADDeviceId",
        "DeviceName",
        "UpdateCategory",
        "UpdateClassification",
        "UpdateDisplayName",
        "TargetKBNumber",
        "UpdateReleaseTime [UTC]",
        "UpdateInstalledTime [UTC]",
        "ClientState",
        "ClientSubstate",
        "ClientSubstateTime [UTC]",
        "DeploymentId",
    ];

    fn ms_time(iso: &str) -> String {
        DateTime::parse_from_rfc3339(iso).map_or(String::new(), |t| {
            t.format("%Y/%m/%d %I:%M:%S%.3f %p").to_string()
        })
    }

    /// One status row; `None` for patches WUfB would not report (not applicable, not approved).
    pub fn row<R: ExportRow>(
        patch: &R,
        device: &R,
        aad_tenant: &str,
        failed_at: Option<String>,
    ) -> Option<Vec<String>> {
        let (state, substate) = match patch.get("state") {
            "installed" => ("Installed", "UpdateInstalled"),
            "pending_reboot" => ("Installing", "RebootRequired"),
            "failed" => ("Failed", "InstallFailed"),
            "missing" => ("Offering", "OfferReady"),
            _ => return None,
        };
        if patch.get("approval") != "approved" {
            return None;
        }
        let classification = match patch.get("classification") {
            "security" | "critical" => "Security",
            "driver" => "Driver",
            "feature" => "Upgrade",
            _ => "NonSecurity",
        };
        let release = patch.get("release_date");
        Some(vec![
            ms_time(device.get("last_seen_utc")),
            aad_tenant.to_string(),
            device.get("device_id").to_string(),
            device.get("hostname").to_string(),
            "WindowsQualityUpdate".to_string(),
            classification.to_string(),
            patch.get("patch_title").to_string(),
            patch.get("patch_id").to_string(),
            if release.is_empty() {
                String::new()
            } else {
                ms_time(&format!("{release}T00:00:00Z"))
            },
            if state == "Installed" {
                ms_time(patch.get("installed_utc"))
            } else {
                String::new()
            },
            state.to_string(),
            substate.to_string(),
            failed_at.map(|t| ms_time(&t)).unwrap_or_default(),
            String::new(),
        ])
    }
}
