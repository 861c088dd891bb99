-- The executive summary (src/reports/summary.rs): the headline figures against the previous
-- calendar month, and the lists under them. `getvariable('period_start')` is the period's first
-- day and `getvariable('previous_start')` the previous month's (DATEs, bound by govpack; null
-- when there is none).

-- The latest calendar month before this period that has figures.
-- name: previous-period
select cast(max(period_start) as varchar) from kpi_summary
where period_start < getvariable('period_start') and extract(day from period_start) = 1
    and period_end = last_day(period_start);

-- Every headline figure of the scope, with the previous month's value beside it.
-- name: kpis
with this_period as (
    select * from kpi_scorecard
    where period_start = getvariable('period_start')
        and policy_tier is null and device_class is null and age_bucket is null and own_scope(tenant_id)
),

previous as (
    select kpi_id, value from kpi_summary
    where period_start = getvariable('previous_start')
        and policy_tier is null and device_class is null and age_bucket is null and own_scope(tenant_id)
)

select s.kpi_id, s.unit, s.value, p.value as previous, s.baseline_value, s.target, s.status,
    s.measurement, s.measurement_note, s.baseline_period_start
from this_period as s
left join previous as p using (kpi_id)
order by s.kpi_id;

-- Devices with an overdue patch (not excluded), this month, the previous one and the baseline
-- period: the period of the patch instance compliance baseline (kpi.baseline_period, else the
-- first period with a value), since an overdue patch is a required instance that is not
-- installed. Judged like a KPI (scorecard.sql), with no target.
-- name: overdue-devices
with baseline as (
    select baseline_period_start from kpi_scorecard
    where period_start = getvariable('period_start') and kpi_id = 'patch_instance_compliance_rate'
        and policy_tier is null and device_class is null and age_bucket is null and own_scope(tenant_id)
)

select
    cast(c.period_start as varchar) as period_start,
    count(*) filter (where c.overdue_count > 0 and not c.excluded) as devices
from compliance_devices as c
where (c.period_start in (getvariable('period_start'), getvariable('previous_start')) or c.period_start = (select b.baseline_period_start from baseline as b))
    and in_scope(c.tenant_id)
group by all;

-- name: chronic-devices
select hostname, client_name(tenant_id), current_reason from chronic_devices
where period_start = getvariable('period_start') and in_scope(tenant_id) order by overdue_count desc, hostname, tenant_id, device_id;

-- name: overdue-patches
select hostname, client_name(tenant_id), patch_id, severity, age_days from overdue_patches
where period_start = getvariable('period_start') and in_scope(tenant_id)
order by age_days desc nulls first, hostname, tenant_id, device_id, patch_id;

-- Failure episodes still open at the period's end, oldest first, with their age in days.
-- name: open-episodes
with hosts as (
    select distinct tenant_id, device_id, hostname from compliance_devices where period_start = getvariable('period_start')
)

select h.hostname, client_name(e.tenant_id), e.patch_id, e.first_error_code, round(e.open_age_hours / 24, 1)
from failure_episodes as e
left join hosts as h on e.tenant_id = h.tenant_id and e.device_id = h.device_id
where e.period_start = getvariable('period_start') and e.open_at_period_end and in_scope(e.tenant_id)
order by e.open_age_hours desc nulls last, e.tenant_id, e.device_id, e.patch_id;

-- Each KPI of the scope with its counts: the brief, the deck and the Summary sheet show a small population's rate with them
-- ("50.0% (1 of 2)"), since a rate over two devices says little on its own.
-- name: counts
select kpi_id, numerator, denominator from kpi_summary
where period_start = getvariable('period_start') and policy_tier is null and device_class is null and age_bucket is null and own_scope(tenant_id);
