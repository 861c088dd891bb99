-- kpi_summary (kpi-definitions.md: "Output: kpi_summary"): one row per KPI and scope, long format.
--
-- Columns, exact: kpi_id, period_start, period_end, as_of, tenant_id, policy_tier, device_class,
-- age_bucket, numerator, denominator, value, unit.
-- Rates: numerator and denominator are the two counts, value = numerator / denominator, null when
--   the denominator is 0. Means and quantiles: numerator null, denominator the number of items,
--   value null when there are none. Counts: numerator = the count, denominator null, value = count.
-- A null scope column means "all"; the portfolio row has all four null.

create or replace temp table kpi_summary as
with rows as (
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
)

select
    rows.kpi_id,
    params.period_start,
    params.period_end,
    params.as_of,
    cast(rows.tenant_id as varchar) as tenant_id,
    cast(rows.policy_tier as varchar) as policy_tier,
    cast(rows.device_class as varchar) as device_class,
    cast(rows.age_bucket as varchar) as age_bucket,
    cast(rows.numerator as double) as numerator,
    cast(rows.denominator as double) as denominator,
    cast(
        case rows.unit
            when 'ratio' then rows.numerator / nullif(rows.denominator, 0)
            when 'count' then rows.numerator
            else rows.value
        end as double
    ) as value,
    rows.unit
from rows
cross join params
order by rows.kpi_id, rows.tenant_id nulls first, rows.policy_tier nulls first,
    rows.device_class nulls first, rows.age_bucket nulls first;

-- The settings the period was computed with, kept beside its figures so that an auditor can
-- recompute them: the run parameters, the required classifications and the grace days in force.
create or replace temp table kpi_parameters as
select
    p.*,
    (select string_agg(classification, ', ' order by classification) from required_classifications)
        as required_classifications,
    (
        select string_agg(coalesce(policy_tier, 'every tier') || ': ' || severity || ' ' || days || ' days', '; '
            order by policy_tier nulls first, severity)
        from grace_days
    ) as grace_days,
    -- The vulnerability reference data the exposure KPIs were computed from, and what is missing.
    v.kev_catalog_version,
    v.latest_cvrf_document,
    v.gap as vulnerability_reference_gap
from params as p
cross join vulnerability_reference as v;
