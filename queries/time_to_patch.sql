-- Time to patch, release to install (docs/kpi-definitions.md: "Time to patch").
--
-- Installed instance in P: a patch_status row of a non-excluded device (device state at as_of:
--   compliance.sql's population) with state = installed, installed_utc in P, release_date not
--   null, classification in required_classifications and approval approved; for each
--   (tenant_id, device_id, patch_id) only its earliest installed_utc over all snapshots counts (a
--   patch is installed once).
-- Latency = date(installed_utc) - release_date in days; negative values count as 0.
-- patch_latency_days_median, patch_latency_days_p90 = quantile_cont 0.5 / 0.9 of latency over the
--   installed instances in P; denominator = their count (portfolio, tenant, tier)
-- installed_within_grace_rate = installed instances in P with latency <= grace_days(severity,
--   tier) / installed instances in P (portfolio, tenant, tier)
-- Severity and release date are those of the row with the earliest install; the tier is the
-- device's at as_of; grace days per tier, else the general ones (as compliance.sql).

create or replace temp table installed_instances as
with patch_status as not materialized (
    select * from lake.patch_status
),

settings as (
    select * from params
),

devices_at_as_of as (
    select tenant_id, device_id, policy_tier
    from compliance_population
    where back = 0 and not excluded
),

installed_rows as (
    select s.*
    from patch_status as s
    where s.state = 'installed'
        and s.installed_utc is not null
        and s.release_date is not null
        and s.approval = 'approved'
        and s.classification in (select rc.classification from required_classifications as rc)
),

-- Installs in P, each device and patch once at its earliest time in P. Grouping only the rows
-- whose install is in P keeps a month of daily snapshots (75 M rows at the largest MSPs) from
-- being grouped whole: every row of a patch installed before P is filtered out as it is read.
in_period as (
    select
        s.tenant_id,
        s.device_id,
        s.patch_id,
        min(s.installed_utc) as installed_utc,
        arg_min(coalesce(s.severity, 'unspecified'), s.installed_utc) as severity,
        arg_min(s.release_date, s.installed_utc) as release_date
    from installed_rows as s
    cross join settings
    where s.installed_utc >= settings.period_start_instant and s.installed_utc < settings.period_end_instant
    group by s.tenant_id, s.device_id, s.patch_id
),

-- Of those, the ones an earlier snapshot shows installed before P: not installed in P.
installed_before as (
    select distinct s.tenant_id, s.device_id, s.patch_id
    from installed_rows as s
    cross join settings
    semi join in_period as p
        on s.tenant_id = p.tenant_id and s.device_id = p.device_id and s.patch_id = p.patch_id
    where s.installed_utc < settings.period_start_instant
),

first_installs as (
    select p.*
    from in_period as p
    anti join installed_before as b
        on p.tenant_id = b.tenant_id and p.device_id = b.device_id and p.patch_id = b.patch_id
)

select
    f.tenant_id,
    f.device_id,
    f.patch_id,
    d.policy_tier,
    f.severity,
    f.release_date,
    f.installed_utc,
    greatest(cast(f.installed_utc as date) - f.release_date, 0) as latency_days,
    coalesce(
        (select g.days from grace_days as g where g.policy_tier = d.policy_tier and g.severity = f.severity),
        (select g.days from grace_days as g where g.policy_tier is null and g.severity = f.severity)
    ) as grace_days
from first_installs as f
join devices_at_as_of as d on f.tenant_id = d.tenant_id and f.device_id = d.device_id;

create or replace temp table kpi_rows_time_to_patch as
with per_scope as (
    select
        tenant_id,
        policy_tier,
        count(*) as installed,
        count(*) filter (where latency_days <= grace_days) as within_grace,
        quantile_cont(latency_days, 0.5) as latency_median,
        quantile_cont(latency_days, 0.9) as latency_p90
    from installed_instances
    group by grouping sets ((), (tenant_id), (policy_tier))
),

scopes as (
    select cast(null as varchar) as tenant_id, cast(null as varchar) as policy_tier
    union all
    select tenant_id, null from tenant_scopes
    union all
    select distinct null, policy_tier from compliance_population where back = 0 and not excluded
),

scoped as (
    select
        s.tenant_id,
        s.policy_tier,
        coalesce(p.installed, 0) as installed,
        coalesce(p.within_grace, 0) as within_grace,
        p.latency_median,
        p.latency_p90
    from scopes as s
    left join per_scope as p
        on p.tenant_id is not distinct from s.tenant_id and p.policy_tier is not distinct from s.policy_tier
)

select kpi_id, tenant_id, policy_tier, null as device_class, null as age_bucket,
    cast(numerator as double) as numerator, cast(denominator as double) as denominator,
    cast(value as double) as value, unit
from (
    select 'patch_latency_days_median' as kpi_id, tenant_id, policy_tier, null as numerator,
        installed as denominator, latency_median as value, 'days' as unit from scoped
    union all
    select 'patch_latency_days_p90', tenant_id, policy_tier, null, installed, latency_p90, 'days' from scoped
    union all
    select 'installed_within_grace_rate', tenant_id, policy_tier, within_grace, installed, null, 'ratio' from scoped
) as kpi_rows;
