-- The counts behind NIST SP 800-171A's objectives for 3.14.1 (src/reports/objectives.rs): each
-- query returns one number, for the period bound as `getvariable('period_start')`;
-- `own_scope(tenant_id)` keeps the report's
-- own KPI row (queries/reports/session.sql).

-- The settings the period was computed with (kpi_summary.sql), for the objectives' wording.
-- name: settings
select * from kpi_parameters where period_start = getvariable('period_start');

-- [b] and [f]: the devices judged for patch compliance, and the compliant ones.
-- name: devices
select cast(denominator as bigint) from kpi_summary
where period_start = getvariable('period_start') and kpi_id = 'patch_compliance_rate'
    and policy_tier is null and device_class is null and age_bucket is null and own_scope(tenant_id);

-- name: compliant-devices
select cast(numerator as bigint) from kpi_summary
where period_start = getvariable('period_start') and kpi_id = 'patch_compliance_rate'
    and policy_tier is null and device_class is null and age_bucket is null and own_scope(tenant_id);

-- [b]: devices whose data is too old to judge.
-- name: stale-devices
select cast(value as bigint) from kpi_summary
where period_start = getvariable('period_start') and kpi_id = 'stale_devices'
    and policy_tier is null and device_class is null and age_bucket is null and own_scope(tenant_id);

-- [f]: overdue patches, and the devices that have one.
-- name: overdue-patches
select count(*) from overdue_patches where period_start = getvariable('period_start') and in_scope(tenant_id);

-- name: overdue-devices
select count(distinct row(tenant_id, device_id)) from overdue_patches where period_start = getvariable('period_start') and in_scope(tenant_id);

-- [d]: failure episodes open at the period's end longer than the ticket time (unreported-flaws in
-- registers.sql lists those of them without a ticket).
-- name: open-episodes
with settings as (
    select distinct period_start, ticket_open_after_hours from kpi_parameters where period_start = getvariable('period_start')
)

select count(*)
from failure_episodes as e
join settings as k on e.period_start = k.period_start
where e.open_at_period_end and in_scope(e.tenant_id) and e.open_age_hours > k.ticket_open_after_hours;

-- [d], control C8: the failed deployments tested, and those not ticketed within the time frame.
-- name: failed-deployments
select count(*) from deployment_tickets where period_start = getvariable('period_start') and in_scope(tenant_id);

-- name: failed-deployments-late
select count(*) from deployment_tickets where period_start = getvariable('period_start') and exception and in_scope(tenant_id);

-- [c]: the days of the period (to as-of) on which a scheduled run evaluated the breach rules, of
-- the days in it, and the first and last of them (the run ledger: daily and weekly runs that
-- finished, succeeded or partial). A pack made by a one-off `govpack report` has none.
-- name: evaluation-days
with period as (
    select distinct period_start, as_of from kpi_summary where period_start = getvariable('period_start')
),

evaluations as (
    select distinct r.as_of
    from runs as r
    cross join period
    where r.job in ('daily', 'weekly') and r.status in ('succeeded', 'partial')
        and r.as_of between period.period_start and period.as_of
)

select
    (select count(*) from evaluations) as evaluated_days,
    (select max(period.as_of - period.period_start) + 1 from period) as period_days,
    (select cast(min(e.as_of) as varchar) from evaluations as e) as first_day,
    (select cast(max(e.as_of) as varchar) from evaluations as e) as last_day;
