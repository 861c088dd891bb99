-- Release safety (docs/kpi-definitions.md: "Release safety").
--
-- pilot_soak_compliance_rate: over (tenant_id, patch_id) pairs whose first success on a device
--   with ring regular or production (ring from the device's current snapshot) falls in P: those
--   with a success on a pilot-ring device of the same tenant at least pilot_soak_days x 24 h
--   before that first regular/production success / all such pairs. Portfolio and tenant.

-- Drill-down: each tenant and patch promoted in P, its pilot and first production success and the
-- verdict (pass, too_short, no_pilot).
create or replace temp table pilot_soak as
with patch_attempts as not materialized (
    select * from lake.patch_attempts
),

settings as (
    select * from params
),

current_rings as (
    select tenant_id, device_id, ring from compliance_population where back = 0
),

successes as (
    select a.tenant_id, a.patch_id, a.device_id, a.attempt_utc, r.ring
    from patch_attempts as a
    join current_rings as r using (tenant_id, device_id)
    where a.result = 'success'
),

first_production as (
    select tenant_id, patch_id, min(attempt_utc) as first_production_success_utc
    from successes
    where ring in ('regular', 'production')
    group by tenant_id, patch_id
),

promoted as (
    select f.*
    from first_production as f cross join settings
    where f.first_production_success_utc >= settings.period_start_instant
        and f.first_production_success_utc < settings.period_end_instant
),

judged as (
    select
        p.tenant_id,
        p.patch_id,
        p.first_production_success_utc,
        (
            select min(s.attempt_utc)
            from successes as s
            where s.tenant_id = p.tenant_id and s.patch_id = p.patch_id and s.ring = 'pilot'
        ) as first_pilot_success_utc,
        (
            select max(s.attempt_utc)
            from successes as s
            where s.tenant_id = p.tenant_id and s.patch_id = p.patch_id and s.ring = 'pilot'
                and s.attempt_utc <= p.first_production_success_utc - to_hours(24 * settings.pilot_soak_days)
        ) as soaked_pilot_success_utc
    from promoted as p
    cross join settings
)

select
    tenant_id,
    patch_id,
    first_pilot_success_utc,
    first_production_success_utc,
    (epoch(first_production_success_utc) - epoch(first_pilot_success_utc)) / 3600.0 as soak_hours,
    case
        when soaked_pilot_success_utc is not null then 'pass'
        when first_pilot_success_utc is null then 'no_pilot'
        else 'too_short'
    end as verdict
from judged
-- In a total order, so the output file is the same bytes however many threads computed it.
order by all;

create or replace temp table kpi_rows_release_safety as
with scopes as (
    select cast(null as varchar) as tenant_id
    union all
    select tenant_id from tenant_scopes
)

select
    'pilot_soak_compliance_rate' as kpi_id,
    s.tenant_id,
    null as policy_tier,
    null as device_class,
    null as age_bucket,
    cast(count(p.patch_id) filter (where p.verdict = 'pass') as double) as numerator,
    cast(count(p.patch_id) as double) as denominator,
    cast(null as double) as value,
    'ratio' as unit
from scopes as s
left join pilot_soak as p on s.tenant_id is null or s.tenant_id = p.tenant_id
group by s.tenant_id;
