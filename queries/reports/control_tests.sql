-- The automated control tests behind the control register (report_templates/registers.toml) and
-- the evidence bundles: for each test, the population tested and the exceptions found, over the
-- KPI outputs of a period: `getvariable('period_start')` is its first day, a DATE govpack binds
-- before the queries run (never pasted into their text); `in_scope(tenant_id)` keeps a client's pack to that client, `scoped()`
-- is true in a client's pack; a row about a client starts with its name (`client_name`) and id.
-- Each test is a pair: `-- name: <test>.population` then `-- name: <test>.exceptions`, in the
-- order the register and the bundle list them.

-- name: intake-validation.population
select source_file, snapshot_date, source_format, rows_read, rows_quarantined from ingest_ledger
where not scoped() order by source_file, source_sha256, snapshot_date;

-- name: intake-validation.exceptions
select source_file, snapshot_date, source_format, rows_read, rows_quarantined from ingest_ledger
where not scoped() and rows_quarantined > 0 order by source_file, source_sha256, snapshot_date;

-- name: patch-compliance.population
select client_name(tenant_id) as client, tenant_id, hostname, device_id, device_class, policy_tier, compliant, reason, overdue_count
from compliance_devices where period_start = getvariable('period_start') and not excluded and in_scope(tenant_id) order by tenant_id, hostname, device_id;

-- name: patch-compliance.exceptions
select client_name(tenant_id) as client, tenant_id, hostname, device_id, device_class, policy_tier, reason, overdue_count, oldest_overdue_age_days
from compliance_devices where period_start = getvariable('period_start') and not excluded and not compliant and in_scope(tenant_id)
order by tenant_id, hostname, device_id;

-- The devices whose patches were reported one by one (a patch snapshot): a device known only by
-- its per-device summary has no patch instances to find overdue.
-- name: overdue-patches.population
select client_name(tenant_id) as client, tenant_id, hostname, device_id, compliant from compliance_devices
where period_start = getvariable('period_start') and not excluded and patch_snapshot_date is not null and in_scope(tenant_id)
order by tenant_id, hostname, device_id;

-- name: overdue-patches.exceptions
select client_name(tenant_id) as client, tenant_id, hostname, patch_id, classification, severity, release_date, age_days, grace_days, state
from overdue_patches where period_start = getvariable('period_start') and in_scope(tenant_id) order by tenant_id, hostname, device_id, patch_id;

-- name: change-cab-approval.population
select client_name(tenant_id) as client, tenant_id, change_id, source_system, title, change_type, risk, cab_decision, cab_decided_utc, actual_start_utc
from change_controls where period_start = getvariable('period_start') and cab_approved_before_start is not null and in_scope(tenant_id)
order by change_id, source_system;

-- name: change-cab-approval.exceptions
select client_name(tenant_id) as client, tenant_id, change_id, source_system, title, change_type, risk, cab_decision, cab_decided_utc, actual_start_utc
from change_controls where period_start = getvariable('period_start') and cab_approved_before_start = false and in_scope(tenant_id)
order by change_id, source_system;

-- name: change-intake.population
select client_name(tenant_id) as client, tenant_id, change_id, source_system, title, intake_complete from change_controls
where period_start = getvariable('period_start') and in_scope(tenant_id) order by change_id, source_system;

-- name: change-intake.exceptions
select client_name(tenant_id) as client, tenant_id, change_id, source_system, title, change_type, risk from change_controls
where period_start = getvariable('period_start') and not intake_complete and in_scope(tenant_id) order by change_id, source_system;

-- name: pilot-soak.population
select client_name(tenant_id) as client, tenant_id, patch_id, first_pilot_success_utc, first_production_success_utc, soak_hours, verdict
from pilot_soak where period_start = getvariable('period_start') and in_scope(tenant_id) order by tenant_id, patch_id;

-- name: pilot-soak.exceptions
select client_name(tenant_id) as client, tenant_id, patch_id, first_pilot_success_utc, first_production_success_utc, soak_hours, verdict
from pilot_soak where period_start = getvariable('period_start') and verdict <> 'pass' and in_scope(tenant_id) order by tenant_id, patch_id;

-- name: remediation-sla.population
with period as (
    select distinct period_start, period_end from kpi_summary where period_start = getvariable('period_start')
)

select client_name(t.tenant_id) as client, t.tenant_id, t.ticket_id, t.source_system, t.ticket_number, t.priority, t.created_utc, t.due_utc, t.resolved_utc
from tickets as t
cross join period as p
where t.ticket_type = 'remediation' and t.status = 'complete' and t.due_utc is not null
  and t.resolved_utc >= p.period_start and t.resolved_utc < p.period_end + 1 and in_scope(t.tenant_id)
order by t.ticket_id, t.source_system;

-- name: remediation-sla.exceptions
with period as (
    select distinct period_start, period_end from kpi_summary where period_start = getvariable('period_start')
)

select client_name(t.tenant_id) as client, t.tenant_id, t.ticket_id, t.source_system, t.ticket_number, t.priority, t.created_utc, t.due_utc, t.resolved_utc
from tickets as t
cross join period as p
where t.ticket_type = 'remediation' and t.status = 'complete' and t.resolved_utc > t.due_utc
  and t.resolved_utc >= p.period_start and t.resolved_utc < p.period_end + 1 and in_scope(t.tenant_id)
order by t.ticket_id, t.source_system;

-- C4, the weekly KPI review: each week of the period (Monday to Sunday, to as-of) is to have a
-- weekly run that wrote the review workbook (the run ledger: `govpack run weekly`, succeeded or
-- partial). The meeting itself is evidenced by hand; this tests that its material existed.
-- name: weekly-review.population
with period as (
    select distinct period_start, as_of from kpi_summary where period_start = getvariable('period_start')
),

weeks as (
    select cast(unnest(generate_series(
        cast(date_trunc('week', period.period_start) as timestamp), cast(period.as_of as timestamp), interval 7 day
    )) as date) as week_start
    from period
)

select week_start, week_start + 6 as week_end from weeks order by week_start;

-- name: weekly-review.exceptions
with period as (
    select distinct period_start, as_of from kpi_summary where period_start = getvariable('period_start')
),

weeks as (
    select cast(unnest(generate_series(
        cast(date_trunc('week', period.period_start) as timestamp), cast(period.as_of as timestamp), interval 7 day
    )) as date) as week_start
    from period
)

select w.week_start, w.week_start + 6 as week_end
from weeks as w
where not exists (
    select 1 from runs as r
    where r.job = 'weekly' and r.status in ('succeeded', 'partial') and r.as_of between w.week_start and w.week_start + 6
)
order by w.week_start;

-- The operating model's workflow controls C8-C13 (docs/kpi-definitions.md): the KPI engine judges
-- each item (queries/workflow_controls.sql); here they are listed.
-- name: failed-deployment-ticket.population
select client_name(tenant_id) as client, tenant_id, hostname, device_id, patch_id, first_error_code, start_utc,
       ticket_due_utc, ticket_number, ticket_created_utc
from deployment_tickets where period_start = getvariable('period_start') and in_scope(tenant_id)
order by start_utc, tenant_id, device_id, patch_id;

-- name: failed-deployment-ticket.exceptions
select client_name(tenant_id) as client, tenant_id, hostname, device_id, patch_id, first_error_code, start_utc, ticket_due_utc
from deployment_tickets where period_start = getvariable('period_start') and exception and in_scope(tenant_id)
order by start_utc, tenant_id, device_id, patch_id;

-- name: root-cause-before-retry.population
select client_name(tenant_id) as client, tenant_id, hostname, device_id, patch_id, first_error_code, start_utc,
       retry_utc, retry_result, ticket_number, root_cause
from retry_root_causes where period_start = getvariable('period_start') and in_scope(tenant_id)
order by retry_utc, tenant_id, device_id, patch_id;

-- name: root-cause-before-retry.exceptions
select client_name(tenant_id) as client, tenant_id, hostname, device_id, patch_id, first_error_code, start_utc,
       retry_utc, retry_result
from retry_root_causes where period_start = getvariable('period_start') and exception and in_scope(tenant_id)
order by retry_utc, tenant_id, device_id, patch_id;

-- name: drivers-declined.population
select client_name(tenant_id) as client, tenant_id, hostname, device_id, patch_id, patch_title, release_date,
       approval, state, approved_by_exception
from driver_approvals where period_start = getvariable('period_start') and in_scope(tenant_id)
order by tenant_id, hostname, device_id, patch_id;

-- name: drivers-declined.exceptions
select client_name(tenant_id) as client, tenant_id, hostname, device_id, patch_id, patch_title, release_date, approval, state
from driver_approvals where period_start = getvariable('period_start') and exception and in_scope(tenant_id)
order by tenant_id, hostname, device_id, patch_id;

-- name: manual-review.population
select client_name(tenant_id) as client, tenant_id, hostname, device_id, patch_id, patch_title, classification,
       severity, release_date, days_since_release, review_days
from pending_reviews where period_start = getvariable('period_start') and in_scope(tenant_id)
order by tenant_id, hostname, device_id, patch_id;

-- name: manual-review.exceptions
select client_name(tenant_id) as client, tenant_id, hostname, device_id, patch_id, patch_title, classification,
       severity, release_date, days_since_release, review_days
from pending_reviews where period_start = getvariable('period_start') and exception and in_scope(tenant_id)
order by tenant_id, hostname, device_id, patch_id;

-- The population is workstations: one row per device, its waiting updates joined.
-- name: daytime-reboot.population
select client_name(tenant_id) as client, tenant_id, hostname, device_id,
       string_agg(patch_id, ', ' order by patch_id) as pending_reboot_patches,
       max(patch_snapshot_date) as patch_snapshot_date, max(earlier_snapshot_date) as earlier_snapshot_date
from daytime_reboots where period_start = getvariable('period_start') and in_scope(tenant_id)
group by tenant_id, hostname, device_id
order by tenant_id, hostname, device_id;

-- name: daytime-reboot.exceptions
select client_name(tenant_id) as client, tenant_id, hostname, device_id,
       string_agg(patch_id, ', ' order by patch_id) filter (where exception) as waiting_since_earlier_snapshot,
       max(earlier_snapshot_date) as earlier_snapshot_date, max(daytime_reboot_days) as daytime_reboot_days
from daytime_reboots where period_start = getvariable('period_start') and in_scope(tenant_id)
group by tenant_id, hostname, device_id
having bool_or(exception)
order by tenant_id, hostname, device_id;

-- name: emergency-change-review.population
select client_name(tenant_id) as client, tenant_id, change_id, source_system, title, risk, outcome, actual_end_utc,
       approver, post_change_verified
from emergency_reviews where period_start = getvariable('period_start') and in_scope(tenant_id)
order by change_id, source_system;

-- name: emergency-change-review.exceptions
select client_name(tenant_id) as client, tenant_id, change_id, source_system, title, risk, outcome, actual_end_utc,
       approver, post_change_verified
from emergency_reviews where period_start = getvariable('period_start') and exception and in_scope(tenant_id)
order by change_id, source_system;
