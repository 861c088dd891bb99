//! The automated control tests behind the control register and the evidence bundles: for each,
//! the population tested and the exceptions found, as queries over the KPI outputs of a period
//! (`{p}` is the period filter) scoped by `in_scope(tenant_id)`.

/// A control test: who is tested (population) and who failed (exceptions).
pub struct Test {
    pub name: &'static str,
    pub population: &'static str,
    pub exceptions: &'static str,
}

pub const TESTS: &[Test] = &[
    Test {
        name: "intake-validation",
        population: "select source_file, snapshot_date, source_format, rows_read, rows_quarantined from ingest_ledger
                     where not scoped() order by source_file, source_sha256, snapshot_date",
        exceptions: "select source_file, snapshot_date, source_format, rows_read, rows_quarantined from ingest_ledger
                     where not scoped() and rows_quarantined > 0 order by source_file, source_sha256, snapshot_date",
    },
    Test {
        name: "patch-compliance",
        population: "select tenant_id, hostname, device_id, device_class, policy_tier, compliant, reason, overdue_count
                     from compliance_devices where {p} and not excluded and in_scope(tenant_id) order by tenant_id, hostname, device_id",
        exceptions: "select tenant_id, hostname, device_id, device_class, policy_tier, reason, overdue_count, oldest_overdue_age_days
                     from compliance_devices where {p} and not excluded and not compliant and in_scope(tenant_id)
                     order by tenant_id, hostname, device_id",
    },
    Test {
        name: "overdue-patches",
        population: "select tenant_id, hostname, device_id, compliant from compliance_devices
                     where {p} and not excluded and in_scope(tenant_id) order by tenant_id, hostname, device_id",
        exceptions: "select tenant_id, hostname, patch_id, classification, severity, release_date, age_days, grace_days, state
                     from overdue_patches where {p} and in_scope(tenant_id) order by tenant_id, hostname, device_id, patch_id",
    },
    Test {
        name: "change-cab-approval",
        population: "select tenant_id, change_id, source_system, title, change_type, risk, cab_decision, cab_decided_utc, actual_start_utc
                     from change_controls where {p} and cab_approved_before_start is not null and in_scope(tenant_id)
                     order by change_id, source_system",
        exceptions: "select tenant_id, change_id, source_system, title, change_type, risk, cab_decision, cab_decided_utc, actual_start_utc
                     from change_controls where {p} and cab_approved_before_start = false and in_scope(tenant_id)
                     order by change_id, source_system",
    },
    Test {
        name: "change-intake",
        population: "select tenant_id, change_id, source_system, title, intake_complete from change_controls
                     where {p} and in_scope(tenant_id) order by change_id, source_system",
        exceptions: "select tenant_id, change_id, source_system, title, change_type, risk from change_controls
                     where {p} and not intake_complete and in_scope(tenant_id) order by change_id, source_system",
    },
    Test {
        name: "pilot-soak",
        population: "select tenant_id, patch_id, first_pilot_success_utc, first_production_success_utc, soak_hours, verdict
                     from pilot_soak where {p} and in_scope(tenant_id) order by tenant_id, patch_id",
        exceptions: "select tenant_id, patch_id, first_pilot_success_utc, first_production_success_utc, soak_hours, verdict
                     from pilot_soak where {p} and verdict <> 'pass' and in_scope(tenant_id) order by tenant_id, patch_id",
    },
    Test {
        name: "remediation-sla",
        population: "select t.tenant_id, t.ticket_id, t.source_system, t.ticket_number, t.priority, t.created_utc, t.due_utc, t.resolved_utc
                     from tickets t, (select distinct period_start, period_end from kpi_summary where {p}) p
                     where t.ticket_type = 'remediation' and t.status = 'complete' and t.due_utc is not null
                       and t.resolved_utc >= p.period_start and t.resolved_utc < p.period_end + 1 and in_scope(t.tenant_id)
                     order by t.ticket_id, t.source_system",
        exceptions: "select t.tenant_id, t.ticket_id, t.source_system, t.ticket_number, t.priority, t.created_utc, t.due_utc, t.resolved_utc
                     from tickets t, (select distinct period_start, period_end from kpi_summary where {p}) p
                     where t.ticket_type = 'remediation' and t.status = 'complete' and t.resolved_utc > t.due_utc
                       and t.resolved_utc >= p.period_start and t.resolved_utc < p.period_end + 1 and in_scope(t.tenant_id)
                     order by t.ticket_id, t.source_system",
    },
];

/// A test's verdict. An empty population tested nothing: that is not a pass.
pub fn result(population: usize, exceptions: usize) -> &'static str {
    match (population, exceptions) {
        (0, _) => "no population",
        (_, 0) => "pass",
        _ => "exceptions found",
    }
}

pub fn test(name: &str) -> Option<&'static Test> {
    TESTS.iter().find(|t| t.name == name)
}
