-- The workbook's data sheets, in the order they follow the Summary and Scorecard sheets: one query
-- per sheet, named as the sheet, for the period bound as `getvariable('period_start')` (see
-- control_tests.sql), `getvariable('version')` govpack's version; `in_scope(tenant_id)` keeps a client's workbook to that client.

-- The league table of the portfolio: one row per client, worst first (lowest patch compliance,
-- then most overdue devices; clients with no compliance figure last), every figure a kpi_summary
-- value of the client except overdue devices (its non-excluded devices with an overdue patch,
-- from compliance_devices; not measured, null, for a client with no per-patch export). `status`
-- is the client's patch compliance status; `note` what its figures rest on: the date of its last
-- RMM export when its exports stopped, the exports it never sent. Empty in a client's own pack.
-- The proof brief's league table is this query too.
-- name: Clients
with coverage as (
    select
        tenant_id,
        max(stale_since) as stale_since,
        bool_and(measured) filter (where figure = 'patch_instance_compliance_rate') as instances_measured
    from figure_coverage
    where period_start = getvariable('period_start') and kind = 'kpi' and tenant_id is not null
    group by tenant_id
),

-- The exports a client sends that it has not sent (the reference files serve every client, and a
-- per-device summary stands in for nothing the client lacks when it sends per-patch state).
client_gaps as (
    select tenant_id, string_agg(export, '; ' order by input_table) as missing
    from data_coverage
    where period_start = getvariable('period_start') and tenant_id is not null and not present
        and input_table in ('devices', 'patch_status', 'patch_attempts', 'tickets', 'changes')
    group by tenant_id
),

kpis as (
    select tenant_id,
           max(denominator) filter (where kpi_id = 'patch_compliance_rate') as devices,
           max(value) filter (where kpi_id = 'patch_compliance_rate') as patch_compliance_rate,
           max(value) filter (where kpi_id = 'chronic_noncompliant_devices') as chronic_devices,
           max(value) filter (where kpi_id = 'open_failure_episodes') as open_failure_episodes,
           max(value) filter (where kpi_id = 'mttr_hours_mean') as mttr_hours_mean,
           max(value) filter (where kpi_id = 'change_success_rate') as change_success_rate,
           max(status) filter (where kpi_id = 'patch_compliance_rate') as status
    from kpi_scorecard
    where period_start = getvariable('period_start') and tenant_id is not null and policy_tier is null and device_class is null and age_bucket is null
    group by tenant_id
),

overdue as (
    select tenant_id, count(*) filter (where overdue_count > 0) as overdue_devices
    from compliance_devices where period_start = getvariable('period_start') and not excluded group by tenant_id
)

select n.client, n.tenant_id, k.devices, k.patch_compliance_rate,
       case when c.instances_measured then coalesce(o.overdue_devices, 0) end as overdue_devices,
       k.chronic_devices, k.open_failure_episodes, k.mttr_hours_mean, k.change_success_rate,
       coalesce(k.status, 'no data') as status,
       nullif(concat_ws('; ',
           'no RMM export since ' || strftime(c.stale_since, '%Y-%m-%d'),
           'not measured: no ' || g.missing), '') as note
from client_names as n
left join kpis as k using (tenant_id)
left join overdue as o using (tenant_id)
left join coverage as c using (tenant_id)
left join client_gaps as g using (tenant_id)
where not scoped()
order by k.patch_compliance_rate asc nulls last, overdue_devices desc, n.client, n.tenant_id;

-- name: Compliance
select kpi_id, case when tenant_id is null then 'all clients' else client_name(tenant_id) end as client,
       coalesce(tenant_id, 'all') as tenant_id, coalesce(policy_tier, 'all') as policy_tier,
       coalesce(device_class, 'all') as device_class, coalesce(age_bucket, 'all') as age_bucket,
       numerator, denominator, value
from kpi_summary
where period_start = getvariable('period_start') and kpi_id in ('patch_compliance_rate', 'patch_instance_compliance_rate')
  and (tenant_id is null and not scoped() or in_scope(tenant_id))
order by kpi_id, tenant_id is not null, client, tenant_id, policy_tier, device_class, age_bucket;

-- The oldest overdue patch of each device: the longest overdue (unknown age first), then by id.
-- name: Non-compliant devices
with oldest_overdue as (
    select tenant_id, device_id, patch_id
    from overdue_patches
    where period_start = getvariable('period_start')
    qualify row_number() over (
        partition by tenant_id, device_id order by age_days desc nulls first, patch_id
    ) = 1
)

select d.hostname, client_name(d.tenant_id) as client, d.tenant_id, d.device_id, d.device_class,
       d.policy_tier, d.reason,
       d.overdue_count, d.oldest_overdue_age_days,
       o.patch_id as oldest_overdue_patch,
       d.last_seen_utc, d.stale, d.chronic
from compliance_devices as d
left join oldest_overdue as o on d.tenant_id = o.tenant_id and d.device_id = o.device_id
where d.period_start = getvariable('period_start') and d.compliant = false and in_scope(d.tenant_id)
order by client, d.tenant_id, d.reason, d.hostname, d.device_id;

-- name: Chronic devices
select hostname, client_name(tenant_id) as client, tenant_id, device_id, device_class, policy_tier,
       current_reason, overdue_count, noncompliant_at
from chronic_devices where period_start = getvariable('period_start') and in_scope(tenant_id) order by client, tenant_id, hostname, device_id;

-- name: Overdue patches
select hostname, client_name(tenant_id) as client, tenant_id, patch_id, patch_title, classification,
       severity, release_date, age_days, age_bucket, grace_days, state
from overdue_patches where period_start = getvariable('period_start') and in_scope(tenant_id)
order by age_days desc nulls first, client, tenant_id, hostname, device_id, patch_id;

-- Every missing required update by device, as N-able and NinjaOne print it: the overdue first,
-- then the highest CVSS (unknown last), then by release. `kev` and `cvss_base_score` are empty (not
-- known) when the lake has no KEV catalog or no MSRC data names the update. A managed device with
-- no per-patch export (its RMM reports a status only) has one row, state `not_measured`, so an
-- empty list never reads "nothing missing" for it.
-- name: Missing patches
with listed as (
    select hostname, tenant_id, device_id, policy_tier, patch_id, patch_title, classification, severity,
        cvss_base_score, kev, release_date, age_days, due_date, overdue, state, reboot_pending,
        patch_snapshot_date
    from missing_patches where period_start = getvariable('period_start') and in_scope(tenant_id)
    union all
    select hostname, tenant_id, device_id, policy_tier, null, 'no per-patch status export for this device; '
        || 'its RMM reports ' || coalesce(summary_status, 'no status'),
        null, null, null, null, null, null, null, null, 'not_measured', null, null
    from compliance_devices
    where period_start = getvariable('period_start') and in_scope(tenant_id) and not excluded and patch_snapshot_date is null
)

select hostname, client_name(tenant_id) as client, tenant_id, device_id, policy_tier, patch_id, patch_title,
       classification, severity, cvss_base_score, kev, release_date, age_days, due_date, overdue, state,
       reboot_pending, patch_snapshot_date
from listed
order by client, tenant_id, hostname, device_id, overdue desc nulls last, cvss_base_score desc nulls last,
    release_date nulls first, patch_id;

-- name: KEV exposure
select hostname, client_name(tenant_id) as client, tenant_id, device_id, patch_id, patch_title, cves,
       date_added, kev_deadline, days_past_deadline, known_ransomware_use
from kev_exposure where period_start = getvariable('period_start') and in_scope(tenant_id)
order by days_past_deadline desc nulls last, kev_deadline, client, tenant_id, hostname, device_id, patch_id;

-- name: Failure patterns
select pareto_rank, patch_id, error_code, os_name, classification, failures, devices, tenants,
       recurring_pairs, share, cumulative_share, first_seen_utc, last_seen_utc
from failure_patterns where period_start = getvariable('period_start') and not scoped() order by pareto_rank;

-- name: Remediation
with hosts as (
    select distinct tenant_id, device_id, hostname from compliance_devices where period_start = getvariable('period_start')
)

select h.hostname, client_name(e.tenant_id) as client, e.tenant_id, e.device_id, e.patch_id, e.first_error_code,
       e.start_utc, e.end_utc, e.remediation_hours, e.failed_attempts, e.ends_in_period,
       e.open_at_period_end, e.open_age_hours
from failure_episodes as e
left join hosts as h on e.tenant_id = h.tenant_id and e.device_id = h.device_id
where e.period_start = getvariable('period_start') and in_scope(e.tenant_id)
order by e.start_utc, client, e.tenant_id, e.device_id, e.patch_id;

-- name: Changes
select client_name(tenant_id) as client, tenant_id, change_id, source_system, title, change_type, risk,
       outcome, actual_start_utc, actual_end_utc,
       success, emergency, rollback_effective, cab_approved_before_start, intake_complete,
       within_window, verified
from change_controls where period_start = getvariable('period_start') and in_scope(tenant_id) order by actual_end_utc, change_id, source_system;

-- name: Pilot soak
select client_name(tenant_id) as client, tenant_id, patch_id, first_pilot_success_utc,
       first_production_success_utc, soak_hours, verdict
from pilot_soak where period_start = getvariable('period_start') and in_scope(tenant_id) order by client, tenant_id, patch_id;

-- name: Data quality
select 'quarantined row' as finding, table_name as subject, reason as detail, count(*) as count
from quarantine where not scoped() group by all
union all
select 'closed change without an end time', change_id, title, 1
from change_data_quality where period_start = getvariable('period_start') and in_scope(tenant_id)
union all
select 'device with no patch data', hostname, client_name(tenant_id) || ' (' || tenant_id || ')', 1
from compliance_devices where period_start = getvariable('period_start') and reason = 'no_data' and in_scope(tenant_id)
union all
select 'ingest warning', source_file, warnings, 1
from ingest_ledger where warnings is not null and not scoped()
union all
select
    case when vulnerability_lower_bound then 'vulnerability reference data lagging' else 'vulnerability reference data missing' end,
    case when vulnerability_lower_bound then 'KEV exposure KPIs are lower bounds' else 'KEV exposure KPIs are not measured' end,
    vulnerability_reference_gap, 1
from kpi_parameters where period_start = getvariable('period_start') and vulnerability_reference_gap is not null
union all
select 'client whose RMM exports stopped', client_name(tenant_id), 'no RMM export since ' || strftime(last_date, '%Y-%m-%d'), 1
from data_coverage where period_start = getvariable('period_start') and input_table = 'devices' and stale and in_scope(tenant_id)
union all
select 'figures not measured', client_name(tenant_id), 'no ' || missing || ': ' || string_agg(figure, ', ' order by figure), count(*)
from figure_coverage
where period_start = getvariable('period_start') and kind = 'kpi' and not measured and tenant_id is not null and in_scope(tenant_id)
group by tenant_id, missing
order by all;

-- Each part keeps its place (`part`): a union's branches may finish in any order.
-- name: About
with period as (
    select distinct period_start, period_end from kpi_summary where period_start = getvariable('period_start')
),

settings as (
    unpivot (
        select
            cast(stale_after_days as varchar) as stale_after_days,
            cast(pending_reboot_compliant as varchar) as pending_reboot_compliant,
            cast(pilot_soak_days as varchar) as pilot_soak_days,
            cast(chronic_snapshots as varchar) as chronic_snapshots,
            coalesce(cast(baseline_period_start as varchar), 'first period with a value') as baseline,
            required_classifications,
            grace_days
        from kpi_parameters where period_start = getvariable('period_start')
    )
    on columns(*) into name name value value
),

parts as (
    select 1 as part, 'period' as item, cast(period_start as varchar) || ' to ' || cast(period_end as varchar) as value
    from period
    union all
    select 2, 'as of', cast(max(as_of) as varchar) from kpi_summary where period_start = getvariable('period_start')
    union all
    select 3, 'scope', coalesce((select string_agg(r.tenant_id, ', ' order by r.tenant_id) from report_scope as r), 'portfolio')
    union all
    select 4, 'govpack version', getvariable('version')
    union all
    select 5, 'setting ' || name, value from settings
    union all
    select 6, 'input file ' || source_file, source_sha256 || ' (' || rows_loaded || ' rows)'
    from ingest_ledger where not scoped()
)

select item, value from parts
order by part, item, value;
