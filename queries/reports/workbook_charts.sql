-- The workbook's Scorecard sheet and Charts sheet (src/reports/workbook.rs), for the period
-- bound as `getvariable('period_start')` (its first day, a DATE); `own_scope(tenant_id)` keeps
-- the report's own KPI rows (queries/reports/session.sql).

-- Every headline figure with its baseline, target and status, and what it was measured from
-- (measurement and its note: not measured, stale, a lower bound, clients left out): the
-- portfolio's first (in the portfolio's workbook), then each client's.
-- name: Scorecard
select s.kpi_id, case when s.tenant_id is null then 'portfolio' else client_name(s.tenant_id) end as scope,
    s.tenant_id, s.unit, s.value, s.baseline_value, s.target, s.status, s.measurement, s.measurement_note,
    s.numerator, s.denominator, s.baseline_period_start
from kpi_scorecard as s
where s.period_start = getvariable('period_start') and s.policy_tier is null and s.device_class is null and s.age_bucket is null
    and (s.tenant_id is null and not scoped() or in_scope(s.tenant_id))
order by s.tenant_id is not null, scope, s.tenant_id, s.kpi_id;

-- The month values behind the Scorecard's sparklines, this period's month the last.
-- name: Scorecard trends
select h.kpi_id, h.tenant_id, strftime(h.period_start, '%Y-%m') as month, h.value
from kpi_summary as h
where h.period_start <= getvariable('period_start') and h.period_end = last_day(h.period_start)
    and extract(day from h.period_start) = 1
    and h.policy_tier is null and h.device_class is null and h.age_bucket is null
    and (h.tenant_id is null and not scoped() or in_scope(h.tenant_id))
order by month;

-- The Charts sheet: one block of data and its chart each, named as the chart's title.
-- name: Patch compliance by policy tier
select policy_tier, value as compliance from kpi_summary
where period_start = getvariable('period_start') and kpi_id = 'patch_compliance_rate' and policy_tier is not null
    and device_class is null and age_bucket is null and own_scope(tenant_id)
order by policy_tier;

-- name: Required patch instances by age (days since release)
select age_bucket, denominator as required, numerator as installed from kpi_summary
where period_start = getvariable('period_start') and kpi_id = 'patch_instance_compliance_rate' and age_bucket is not null
    and policy_tier is null and own_scope(tenant_id)
order by case age_bucket when '0-7' then 1 when '8-14' then 2 when '15-30' then 3
    when '31-60' then 4 when '61-90' then 5 when '91+' then 6 else 7 end;

-- name: Trend: patch compliance and change success
select strftime(period_start, '%Y-%m') as period,
    max(value) filter (where kpi_id = 'patch_compliance_rate') as patch_compliance,
    max(value) filter (where kpi_id = 'change_success_rate') as change_success
from kpi_summary
where period_start <= getvariable('period_start') and policy_tier is null and device_class is null
    and age_bucket is null and own_scope(tenant_id)
group by period_start order by period_start;

-- name: Failure Pareto (top 10 patterns)
select patch_id || ' ' || error_code as pattern, failures, cumulative_share
from failure_patterns where period_start = getvariable('period_start') and not scoped() order by pareto_rank limit 10;
