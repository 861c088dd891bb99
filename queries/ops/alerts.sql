-- The scheduled job's breach rules (src/ops/alerts.rs, `[[alerts.rules]]` of the config). The rule
-- being evaluated comes from `alert_rule` (kpi_id, period_start, period_end, per_tenant, per_tier,
-- below, above), a one-row table govpack fills with bound values before each query runs.

-- A `kpi` rule: the kpi_summary rows of its KPI and scope (portfolio: neither tenant nor tier;
-- tenant; tier; tenant and tier) whose value is below `below` or above `above` (one is set).
-- name: kpi-breaches
select s.tenant_id, t.tenant_name, s.policy_tier, s.value
from kpi_summary as s
cross join alert_rule as r
left join tenants as t on s.tenant_id = t.tenant_id
where s.kpi_id = r.kpi_id and s.period_start = r.period_start and s.period_end = r.period_end
    and s.device_class is null and s.age_bucket is null and s.value is not null
    and (s.tenant_id is not null) = r.per_tenant and (s.policy_tier is not null) = r.per_tier
    and (s.value < r.below or s.value > r.above)
order by s.tenant_id, s.policy_tier;

-- A `new_chronic_device` rule: the period's chronic devices (the breach key makes only new ones
-- alert).
-- name: chronic-devices
select c.tenant_id, t.tenant_name, c.device_id, c.hostname, c.current_reason, c.noncompliant_at
from chronic_devices as c
cross join alert_rule as r
left join tenants as t on c.tenant_id = t.tenant_id
where c.period_start = r.period_start and c.period_end = r.period_end
order by c.tenant_id, c.device_id;

-- The alert history a day's evaluation compares with (`{day}` is the day evaluated): the latest
-- earlier day evaluated, the breaches that day alerted (one whose alert did not go out, because
-- the post failed or its channel had no URL, is not "already alerted": it stays new until one is
-- delivered), and what this day already delivered (re-evaluating a day keeps it).
-- name: previous-evaluation
select cast(max(evaluated_on) as varchar) from alerts where evaluated_on < {day};

-- name: alerted-on
select breach_key from alerts
where evaluated_on = {day} and delivery not in ('failed', 'undelivered');

-- name: delivered-on
select breach_key, delivery, card_file from alerts
where evaluated_on = {day} and delivery in ('posted', 'dry_run', 'unknown');
