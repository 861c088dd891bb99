-- kpi_summary (kpi-definitions.md: "Output: kpi_summary"): one row per KPI and scope, long format.
--
-- Columns, exact: kpi_id, period_start, period_end, as_of, tenant_id, policy_tier, device_class,
-- age_bucket, numerator, denominator, value, unit.
-- Rates: numerator and denominator are the two counts, value = numerator / denominator, null when
--   the denominator is 0. Means and quantiles: numerator null, denominator the number of items,
--   value null when there are none. Counts: numerator = the count, denominator null, value = count.
-- A null scope column means "all"; the portfolio row has all four null.

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
)

select
    family_rows.kpi_id,
    params.period_start,
    params.period_end,
    params.as_of,
    cast(family_rows.tenant_id as varchar) as tenant_id,
    cast(family_rows.policy_tier as varchar) as policy_tier,
    cast(family_rows.device_class as varchar) as device_class,
    cast(family_rows.age_bucket as varchar) as age_bucket,
    cast(family_rows.numerator as double) as numerator,
    cast(family_rows.denominator as double) as denominator,
    cast(
        case family_rows.unit
            when 'ratio' then family_rows.numerator / nullif(family_rows.denominator, 0)
            when 'count' then family_rows.numerator
            else family_rows.value
        end as double
    ) as value,
    family_rows.unit
from family_rows
cross join params
order by family_rows.kpi_id, family_rows.tenant_id nulls first, family_rows.policy_tier nulls first,
    family_rows.device_class nulls first, family_rows.age_bucket nulls first;

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
    v.gap as vulnerability_reference_gap
from params as p
cross join vulnerability_reference as v;
