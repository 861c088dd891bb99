-- The executive deck's figures beyond the summary's (src/reports/deck.rs), for the period
-- bound as `getvariable('period_start')`; `in_scope(tenant_id)` keeps the client's rows (every client's for the portfolio) and
-- `own_scope(tenant_id)` the scope's own KPI rows (queries/reports/session.sql).

-- Progress against the programme's targets: every KPI with a target, from its baseline period.
-- name: progress
select kpi_id, unit, baseline_value, value, target, status,
    strftime(baseline_period_start, '%Y-%m') as baseline_period,
    cast(period_end - baseline_period_start + 1 as integer) as days_since_baseline, measurement_note
from kpi_scorecard
where period_start = getvariable('period_start') and target is not null
    and policy_tier is null and device_class is null and age_bucket is null and own_scope(tenant_id)
order by kpi_id;

-- Devices past a KEV deadline, longest past first.
-- name: kev-devices
select hostname, client_name(tenant_id), cves, cast(kev_deadline as varchar), days_past_deadline
from kev_exposure
where period_start = getvariable('period_start') and in_scope(tenant_id) and days_past_deadline > 0
order by days_past_deadline desc, hostname, patch_id;

-- Changes closed in the period that did not succeed.
-- name: failed-changes
select distinct change_id, client_name(tenant_id), title, change_type, outcome,
    cast(cast(coalesce(actual_end_utc, planned_end_utc) as date) as varchar) as closed_on
from change_controls
where period_start = getvariable('period_start') and in_scope(tenant_id) and not success
order by closed_on desc nulls last, change_id;

-- Exceptions the client signed that expire within 30 days after the period's end or expired in the
-- 30 days before it, soonest first: each needs a new sign-off or the device is counted again.
-- The device by its name in the period's snapshot (its id when it has left the snapshot).
-- name: expiring-exceptions
with period as (select max(period_end) as period_end from kpi_summary where period_start = getvariable('period_start')),

names as (select tenant_id, device_id, hostname from compliance_devices where period_start = getvariable('period_start'))

select coalesce(n.hostname, e.device_id, 'every device'), client_name(e.tenant_id),
    coalesce(e.patch_id, 'every patch'), e.reason, e.approved_by, cast(cast(e.expires_utc as date) as varchar)
from exceptions as e
cross join period
left join names as n on e.tenant_id = n.tenant_id and e.device_id = n.device_id
where in_scope(e.tenant_id) and e.expires_utc is not null
    and cast(e.expires_utc as date) <= period.period_end + 30
    and cast(e.expires_utc as date) >= period.period_end - 30
order by e.expires_utc, e.tenant_id, e.device_id, e.patch_id;

-- What waits for a decision at the period's end: driver updates approved although drivers are
-- declined by default and no exception covers them (control C10: the client signs an exception or
-- the driver is declined), and updates waiting for a person's review (C11). A declined driver is
-- decided and is not listed.
-- name: awaiting-approval
select hostname, client_name(tenant_id), patch_id, patch_title, 'driver_approved_without_exception' as kind
from driver_approvals
where period_start = getvariable('period_start') and in_scope(tenant_id) and exception
union all
select hostname, client_name(tenant_id), patch_id, patch_title, 'pending_review' as kind
from pending_reviews
where period_start = getvariable('period_start') and in_scope(tenant_id)
order by hostname, patch_id;

-- The failure patterns of the period that the scope's own failures belong to.
-- name: patterns
select distinct f.patch_id, f.error_code, f.os_name, f.classification, f.failures, f.devices, f.tenants,
    f.recurring_pairs, f.share, f.pareto_rank
from failure_patterns as f
where f.period_start = getvariable('period_start') and exists (
    select 1 from failure_episodes as e
    where e.period_start = getvariable('period_start') and in_scope(e.tenant_id) and e.patch_id = f.patch_id and e.first_error_code = f.error_code
)
order by f.pareto_rank;
