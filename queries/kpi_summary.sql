-- kpi_summary (docs/kpi-definitions.md: "Output: kpi_summary"): one row per KPI and scope, long format.
--
-- Columns, exact: kpi_id, period_start, period_end, as_of, tenant_id, policy_tier, device_class,
-- age_bucket, numerator, denominator, value, unit.
-- Rates: numerator and denominator are the two counts, value = numerator / denominator, null when
--   the denominator is 0. Means and quantiles: numerator null, denominator the number of items,
--   value null when there are none. Counts: numerator = the count, denominator null, value = count.
-- A null scope column means "all"; the portfolio row has all four null.
-- Not measured (v3; coverage.sql): a row whose scope lacks the KPI's input has numerator,
--   denominator and value null. A rate whose population was measured and found empty keeps its
--   counts (denominator 0, value null); a count is a measured zero only when measured. Tier,
--   device class and age bucket rows follow their client's coverage, or the portfolio's.

create or replace temp table kpi_summary as
with family_rows as (
    select kpi_id, tenant_id, policy_tier, device_class, age_bucket, numerator, denominator,
        cast(null as double) as value, unit
    from kpi_rows_compliance
    union all
    select * from kpi_rows_remediation
    union all
    select * from kpi_rows_change
    union all
    select * from kpi_rows_release_safety
    union all
    select * from kpi_rows_vulnerability
    union all
    select * from kpi_rows_time_to_patch
),

-- A KPI with no coverage row is not measured: nothing says what it was computed from.
measured_rows as (
    select f.*, coalesce(c.measured, false) as measured
    from family_rows as f
    left join figure_coverage as c
        on c.kind = 'kpi' and f.kpi_id = c.figure and c.tenant_id is not distinct from f.tenant_id
)

select
    m.kpi_id,
    params.period_start,
    params.period_end,
    params.as_of,
    cast(m.tenant_id as varchar) as tenant_id,
    cast(m.policy_tier as varchar) as policy_tier,
    cast(m.device_class as varchar) as device_class,
    cast(m.age_bucket as varchar) as age_bucket,
    cast(case when m.measured then m.numerator end as double) as numerator,
    cast(case when m.measured then m.denominator end as double) as denominator,
    cast(
        case
            when not m.measured then null
            when m.unit = 'ratio' then m.numerator / nullif(m.denominator, 0)
            when m.unit = 'count' then m.numerator
            else m.value
        end as double
    ) as value,
    m.unit
from measured_rows as m
cross join params
order by m.kpi_id, m.tenant_id nulls first, m.policy_tier nulls first,
    m.device_class nulls first, m.age_bucket nulls first;

-- The settings the period was computed with, kept beside its figures so that an auditor can
-- recompute them: the run parameters, the required classifications and the grace days in force.
create or replace temp table kpi_parameters as
select
    p.*,
    (select string_agg(rc.classification, ', ' order by rc.classification) from required_classifications as rc)
        as required_classifications,
    (
        select string_agg(coalesce(g.policy_tier, 'every tier') || ': ' || g.severity || ' ' || g.days || ' days', '; '
            order by g.policy_tier nulls first, g.severity)
        from grace_days as g
    ) as grace_days,
    -- The vulnerability reference data the exposure KPIs were computed from, and what is missing.
    v.kev_catalog_version,
    v.latest_cvrf_document,
    v.gap as vulnerability_reference_gap,
    v.lower_bound as vulnerability_lower_bound
from params as p
cross join vulnerability_reference as v;

-- The whole configuration the period was computed with, as TOML (credentials are never in it:
-- they come from the environment): the period's runbook states the procedures in force then.
create or replace temp table kpi_settings as
select settings from run_settings;
