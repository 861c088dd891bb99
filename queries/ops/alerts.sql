-- The scheduled job's breach rules (src/ops/alerts.rs, `[[alerts.rules]]` of the config). The rule
-- being evaluated is bound before each query runs (`getvariable`: kpi_id, period_start,
-- period_end, per_tenant, per_tier, below, above).

-- A `kpi` rule: the kpi_summary rows of its KPI and scope (portfolio: neither tenant nor tier;
-- tenant; tier; tenant and tier) whose value is below `below` or above `above` (one is set).
-- name: kpi-breaches
select s.tenant_id, t.tenant_name, s.policy_tier, s.value
from kpi_summary as s
left join tenants as t on s.tenant_id = t.tenant_id
where s.kpi_id = getvariable('kpi_id') and s.period_start = getvariable('period_start')
    and s.period_end = getvariable('period_end')
    and s.device_class is null and s.age_bucket is null and s.value is not null
    and (s.tenant_id is not null) = getvariable('per_tenant')
    and (s.policy_tier is not null) = getvariable('per_tier')
    and (s.value < getvariable('below') or s.value > getvariable('above'))
order by s.tenant_id, s.policy_tier;

-- A `new_chronic_device` rule: the period's chronic devices (the breach key makes only new ones
-- alert).
-- name: chronic-devices
select c.tenant_id, t.tenant_name, c.device_id, c.hostname, c.current_reason, c.noncompliant_at
from chronic_devices as c
left join tenants as t on c.tenant_id = t.tenant_id
where c.period_start = getvariable('period_start') and c.period_end = getvariable('period_end')
order by c.tenant_id, c.device_id;

-- The alert history a day's evaluation compares with (`getvariable('day')` is the day evaluated): the latest
-- earlier day evaluated, the breaches that day alerted (one whose alert did not go out, because
-- the post failed or its channel had no URL, is not "already alerted": it stays new until one is
-- delivered), and what this day already delivered (re-evaluating a day keeps it).
-- name: previous-evaluation
select cast(max(evaluated_on) as varchar) from alerts where evaluated_on < getvariable('day');

-- name: alerted-on
select breach_key from alerts
where evaluated_on = getvariable('day') and delivery not in ('failed', 'undelivered');

-- name: delivered-on
select breach_key, delivery, card_file from alerts
where evaluated_on = getvariable('day') and delivery in ('posted', 'dry_run', 'unknown');
