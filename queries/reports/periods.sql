-- What there is to report (src/reports/mod.rs, src/cmd/report.rs): the periods whose KPIs are
-- computed, a period's as-of day, and the lake's tenants. `getvariable('period_start')` is the
-- period's first day, bound by govpack (as in every report query).

-- name: computed-periods
select distinct strftime(period_start, '%Y-%m') as period from kpi_summary order by period;

-- The day a period's figures stand at: its reports are dated by it, never by the wall clock.
-- name: as-of
select cast(max(as_of) as varchar) as as_of from kpi_summary where period_start = getvariable('period_start');

-- name: tenants
select tenant_id from tenants order by tenant_id;

-- What `govpack kpi` prints after computing a period: the portfolio's scorecard rows.
-- name: portfolio-scorecard
select kpi_id, round(value, 3) as value, unit, round(baseline_value, 3) as baseline, round(target, 3) as target,
    status, measurement
from kpi_scorecard
where period_start = getvariable('period_start') and period_end = getvariable('period_end')
    and tenant_id is null and policy_tier is null and device_class is null and age_bucket is null
order by kpi_id;
