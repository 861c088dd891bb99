-- kpi_scorecard: every kpi_summary row of the period with its baseline, target and status.
--
-- History: every period's kpi_summary kept in the lake (kpi_history), this period included.
-- Baseline: the KPI's value for the same scope in the configured baseline period
--   (kpi.baseline_period), else in the first period of the history where it has a value.
-- Target: baseline x (1 + the configured relative change for the KPI) (kpi.targets; defaults from
--   the governance programme: patch compliance +10%, MTTR -20%, failed-patch recurrence -10%,
--   change success +10%, emergency-change ratio -10%, rollback effectiveness +10%); ratio targets
--   are capped to 0..1. No configured change: no target.
-- Measurement (docs/kpi-definitions.md, "Measured or not"; coverage.sql), the first that applies:
--   not_measured   the scope lacks an export the KPI is computed from: value null, and the note
--                  says which export is missing;
--   stale          a client's figure from a devices snapshot more than stale_tenant_days before
--                  as_of (its RMM exports stopped): the note says since when;
--   lower_bound    an exposure figure computed while the vulnerability reference lags the
--                  patches (kpi_parameters.vulnerability_reference_gap, the note);
--   partial        a portfolio-wide row (tenant_id null) that leaves out clients not measured, or
--                  includes stale ones: the note names them;
--   measured       otherwise.
-- Status, the first that applies:
--   not_measured   not measured: nothing is judged, a zero that nobody measured is not "met";
--   stale          a stale client's figure: not judged against its baseline or target;
--   lower_bound    an exposure count that is only a lower bound: not_improving when it is
--                  already above its baseline, else not judged (it could be higher);
--   info           a count with no better direction (excluded devices: exceptions approved on
--                  purpose), which is reported, not judged;
--   met            the value is the best there is: a rate of 100% where higher is better, 0 where
--                  lower is better (nothing can improve on it, whatever the baseline);
--   no_data        no value this period (nothing in the KPI's population: no change needing the
--                  CAB, no episode ended), which is not a judgement either way;
--   no_baseline    no baseline value, or this period is the baseline period (or before it);
--   met            the value reaches the target (>= when higher is better, <= when lower);
--   improving      the value is better than the baseline;
--   not_improving  otherwise.
-- Which way is better comes from kpi_catalogue (the KPI list in src/catalog.rs; higher_is_better
-- is null for a KPI with no better direction).

create or replace temp table kpi_scorecard as
with settings as (
    select * from params
),

current as (
    select * from kpi_summary
),

baselines as (
    select
        h.kpi_id,
        h.tenant_id,
        h.policy_tier,
        h.device_class,
        h.age_bucket,
        min(h.period_start) as baseline_period_start,
        -- Two computed periods can share a start (a custom period beside a month): the value breaks
        -- the tie, so the baseline never depends on scan order.
        arg_min(h.value, (h.period_start, h.value)) as baseline_value
    from kpi_history as h cross join settings
    where h.value is not null
        and (settings.baseline_period_start is null or h.period_start = settings.baseline_period_start)
    group by all
),

-- The KPIs computed from the vulnerability reference (lower bounds while it lags).
reference_kpis as (
    select distinct figure as kpi_id from figure_inputs where kind = 'kpi' and input_table in ('kev', 'patch_cves')
),

measured as (
    select
        c.*,
        coalesce(v.measured, false) as measured,
        v.stale_since,
        concat_ws(
            '; ',
            v.note,
            case
                when coalesce(v.measured, false) and r.kpi_id is not null and p.vulnerability_lower_bound
                    then 'lower bound: ' || p.vulnerability_reference_gap
            end
        ) as note,
        coalesce(v.measured, false) and r.kpi_id is not null and coalesce(p.vulnerability_lower_bound, false)
            as lower_bound
    from current as c
    cross join kpi_parameters as p
    left join figure_coverage as v
        on v.kind = 'kpi' and c.kpi_id = v.figure and v.tenant_id is not distinct from c.tenant_id
    left join reference_kpis as r on c.kpi_id = r.kpi_id
),

targeted as (
    select
        c.*,
        b.baseline_period_start,
        b.baseline_value,
        k.higher_is_better,
        case
            when k.target_change is null or b.baseline_value is null then null
            when c.unit = 'ratio' then least(greatest(b.baseline_value * (1 + k.target_change), 0), 1)
            else b.baseline_value * (1 + k.target_change)
        end as target
    from measured as c
    join kpi_catalogue as k using (kpi_id)
    left join baselines as b
        on c.kpi_id = b.kpi_id
        and b.tenant_id is not distinct from c.tenant_id
        and b.policy_tier is not distinct from c.policy_tier
        and b.device_class is not distinct from c.device_class
        and b.age_bucket is not distinct from c.age_bucket
)

select
    kpi_id,
    period_start,
    period_end,
    as_of,
    tenant_id,
    policy_tier,
    device_class,
    age_bucket,
    numerator,
    denominator,
    value,
    unit,
    baseline_period_start,
    cast(baseline_value as double) as baseline_value,
    cast(target as double) as target,
    case
        when not measured then 'not_measured'
        when stale_since is not null then 'stale'
        when lower_bound then 'lower_bound'
        when tenant_id is null and note <> '' then 'partial'
        else 'measured'
    end as measurement,
    nullif(note, '') as measurement_note,
    case
        when not measured then 'not_measured'
        when stale_since is not null then 'stale'
        when higher_is_better is null then 'info'
        -- A lower bound proves a count is at least this high: never that it is low enough.
        when lower_bound and not higher_is_better and value > baseline_value and baseline_period_start < period_start
            then 'not_improving'
        when lower_bound then 'lower_bound'
        when (higher_is_better and unit = 'ratio' and value >= 1) or (not higher_is_better and value <= 0)
            then 'met'
        when value is null then 'no_data'
        when baseline_value is null or baseline_period_start >= period_start then 'no_baseline'
        when target is not null and ((higher_is_better and value >= target) or (not higher_is_better and value <= target))
            then 'met'
        when (higher_is_better and value > baseline_value) or (not higher_is_better and value < baseline_value)
            then 'improving'
        else 'not_improving'
    end as status
from targeted
order by kpi_id, tenant_id nulls first, policy_tier nulls first, device_class nulls first, age_bucket nulls first;
