-- Patch compliance (docs/kpi-definitions.md: "Device state at as-of", "Compliance").
--
-- Device population: the devices in their tenant's current snapshot (latest devices.snapshot_date
--   <= as_of). Devices absent from it are retired and not counted.
-- Excluded: excluded = true or patch_policy = do_not_patch; outside every compliance population,
--   counted by excluded_devices.
-- Stale: last_seen_utc is null, or date(last_seen_utc) < as_of - stale_after_days.
-- Patch snapshot: the device's latest patch_status.snapshot_date <= as_of; its rows there are its
--   patch state.
-- Required instance: approval = approved, classification in required_classifications,
--   state <> not_applicable, and no active exception (same tenant, device_id empty or equal,
--   patch_id empty or equal, approved_utc <= as_of end, expires_utc empty or > as_of end, where
--   as_of end = as_of + 1 day 00:00 UTC).
-- Patch age = as_of - release_date in days; unknown when release_date is null.
-- Overdue instance: required, state missing or failed (or pending_reboot unless
--   pending_reboot_compliant), and age unknown or > grace_days(severity, tier).
-- Compliant (non-excluded device): not stale, and either it has a patch snapshot with no overdue
--   instance, or it has none and its latest device_patch_summary row <= as_of is fully_patched
--   (or reboot_required when pending_reboot_compliant). Otherwise non-compliant with the first
--   matching reason: stale, no_data, overdue_patch, summary_status.
--
-- patch_compliance_rate = compliant devices / non-excluded devices
--   (portfolio, tenant, tier, device_class, tenant x tier)
-- patch_instance_compliance_rate = required instances installed (or pending_reboot when
--   pending_reboot_compliant) / required instances, over non-excluded devices
--   (portfolio, tenant, tier, age_bucket, tenant x age_bucket, tier x age_bucket)
-- excluded_devices, stale_devices (non-excluded) = counts (portfolio, tenant)
-- chronic_noncompliant_devices = devices non-compliant at as_of and at each of their tenant's
--   chronic_snapshots - 1 previous devices snapshot dates, compliance recomputed with that date as
--   as_of (portfolio, tenant). A tenant with fewer previous snapshots has no chronic devices yet.
--
-- Compliance is computed once for a set of evaluation points (tenant, point_as_of): as_of itself
-- (back = 0) and the previous snapshot dates the chronic rule needs (back = 1, 2, ...).

create or replace temp table compliance_points as
with devices as not materialized (
    select * from lake.devices
),

settings as (
    select * from params
),

tenant_snapshots as (
    select distinct devices.tenant_id, devices.snapshot_date
    from devices cross join settings
    where devices.snapshot_date <= settings.as_of
),

current_snapshot as (
    select tenant_id, max(snapshot_date) as snapshot_date
    from tenant_snapshots
    group by tenant_id
),

previous_snapshots as (
    select
        s.tenant_id,
        s.snapshot_date as point_as_of,
        row_number() over (partition by s.tenant_id order by s.snapshot_date desc) as back
    from tenant_snapshots as s
    join current_snapshot as c on s.tenant_id = c.tenant_id and s.snapshot_date < c.snapshot_date
)

select c.tenant_id, settings.as_of as point_as_of, 0 as back
from current_snapshot as c cross join settings
union all
select p.tenant_id, p.point_as_of, p.back
from previous_snapshots as p cross join settings
where p.back <= settings.chronic_snapshots - 1;

-- An active exception at a day (as_of): same tenant, device_id empty or equal, patch_id empty or
-- equal, approved_utc <= the day's end, expires_utc empty or after it. The workflow controls
-- read it too. A macro has no import CTEs: it names the lake's table, lake.exceptions, itself.
-- noqa: disable=RF03
create or replace temp macro under_exception(tenant, device, patch, at_day) as exists (
    select 1
    from lake.exceptions as e
    where e.tenant_id = tenant
        and (e.device_id is null or e.device_id = device)
        and (e.patch_id is null or e.patch_id = patch)
        and e.approved_utc <= cast(at_day + 1 as timestamp)
        and (e.expires_utc is null or e.expires_utc > cast(at_day + 1 as timestamp))
);
-- noqa: enable=RF03

-- Who is in the population at each point, with the snapshots that describe them.
create or replace temp table compliance_population as
with devices as not materialized (
    select * from lake.devices
),

patch_status as not materialized (
    select * from lake.patch_status
),

device_patch_summary as not materialized (
    select * from lake.device_patch_summary
),

settings as (
    select * from params
),

point_snapshot as (
    select p.tenant_id, p.point_as_of, p.back, max(d.snapshot_date) as snapshot_date
    from compliance_points as p
    join devices as d on p.tenant_id = d.tenant_id and p.point_as_of >= d.snapshot_date
    group by all
),

population as (
    select
        ps.point_as_of,
        ps.back,
        d.snapshot_date,
        d.tenant_id,
        d.device_id,
        d.hostname,
        d.device_class,
        d.track,
        coalesce(d.policy_tier, 'unassigned') as policy_tier,
        d.ring,
        d.os_name,
        d.last_seen_utc,
        coalesce(d.excluded, false) or coalesce(d.patch_policy = 'do_not_patch', false) as excluded,
        d.last_seen_utc is null
            or cast(d.last_seen_utc as date) < ps.point_as_of - settings.stale_after_days as stale
    from point_snapshot as ps
    join devices as d on ps.tenant_id = d.tenant_id and ps.snapshot_date = d.snapshot_date
    cross join settings
),

patch_snapshot as (
    select pop.point_as_of, pop.tenant_id, pop.device_id, max(s.snapshot_date) as patch_snapshot_date
    from population as pop
    join patch_status as s
        on pop.tenant_id = s.tenant_id and pop.device_id = s.device_id and pop.point_as_of >= s.snapshot_date
    group by all
),

summary_ranked as (
    select
        pop.point_as_of,
        pop.tenant_id,
        pop.device_id,
        dps.status,
        row_number() over (
            partition by pop.point_as_of, pop.tenant_id, pop.device_id order by dps.snapshot_date desc
        ) as recency
    from population as pop
    join device_patch_summary as dps
        on pop.tenant_id = dps.tenant_id and pop.device_id = dps.device_id
        and pop.point_as_of >= dps.snapshot_date
)

select pop.*, ps.patch_snapshot_date, sr.status as summary_status
from population as pop
left join patch_snapshot as ps using (point_as_of, tenant_id, device_id)
left join summary_ranked as sr
    on pop.point_as_of = sr.point_as_of and pop.tenant_id = sr.tenant_id and pop.device_id = sr.device_id
    and sr.recency = 1;

-- Every required instance at each point, judged: age bucket, satisfied, overdue.
create or replace temp table compliance_instances as
with patch_status as not materialized (
    select * from lake.patch_status
),

settings as (
    select * from params
),

patch_rows as (
    select
        pop.point_as_of,
        pop.back,
        pop.tenant_id,
        pop.device_id,
        pop.hostname,
        pop.policy_tier,
        pop.excluded,
        pop.patch_snapshot_date,
        s.patch_id,
        s.patch_title,
        s.classification,
        coalesce(s.severity, 'unspecified') as severity,
        s.release_date,
        s.approval,
        s.state
    from compliance_population as pop
    join patch_status as s
        on pop.tenant_id = s.tenant_id and pop.device_id = s.device_id and pop.patch_snapshot_date = s.snapshot_date
),

required as (
    select
        r.*,
        r.point_as_of - r.release_date as age_days,
        coalesce(
            (select g.days from grace_days as g where g.policy_tier = r.policy_tier and g.severity = r.severity),
            (select g.days from grace_days as g where g.policy_tier is null and g.severity = r.severity)
        ) as grace_days
    from patch_rows as r
    where r.approval = 'approved'
        and r.classification in (select rc.classification from required_classifications as rc)
        and r.state <> 'not_applicable'
        and not under_exception(r.tenant_id, r.device_id, r.patch_id, r.point_as_of)
)

select
    r.*,
    case
        when r.age_days is null then 'unknown'
        when r.age_days <= 7 then '0-7'
        when r.age_days <= 14 then '8-14'
        when r.age_days <= 30 then '15-30'
        when r.age_days <= 60 then '31-60'
        when r.age_days <= 90 then '61-90'
        else '91+'
    end as age_bucket,
    r.state = 'installed' or (r.state = 'pending_reboot' and settings.pending_reboot_compliant) as satisfied,
    (r.state in ('missing', 'failed') or (r.state = 'pending_reboot' and not settings.pending_reboot_compliant))
        and (r.age_days is null or r.age_days > r.grace_days) as overdue
from required as r
cross join settings;

-- Each device's compliance and reason at each point.
create or replace temp table compliance_eval as
with settings as (
    select * from params
),

overdue_by_device as (
    select
        point_as_of,
        tenant_id,
        device_id,
        count(*) filter (where overdue) as overdue_count,
        max(age_days) filter (where overdue) as oldest_overdue_age_days,
        bool_or(overdue and age_days is null) as has_overdue_of_unknown_age
    from compliance_instances
    group by all
),

judged as (
    select
        pop.*,
        coalesce(o.overdue_count, 0) as overdue_count,
        o.oldest_overdue_age_days,
        coalesce(o.has_overdue_of_unknown_age, false) as has_overdue_of_unknown_age,
        case
            when pop.excluded then null
            when pop.stale then false
            when pop.patch_snapshot_date is not null then coalesce(o.overdue_count, 0) = 0
            else coalesce(
                pop.summary_status = 'fully_patched'
                    or (pop.summary_status = 'reboot_required' and settings.pending_reboot_compliant),
                false
            )
        end as compliant
    from compliance_population as pop
    cross join settings
    left join overdue_by_device as o using (point_as_of, tenant_id, device_id)
)

select
    *,
    case
        when excluded then 'excluded'
        when compliant then null
        when stale then 'stale'
        when patch_snapshot_date is null and summary_status is null then 'no_data'
        when patch_snapshot_date is not null then 'overdue_patch'
        else 'summary_status'
    end as reason
from judged;

-- Drill-down: one row per device of the current snapshots (excluded ones included).
create or replace temp table compliance_devices as
with chronic as (
    select tenant_id, device_id
    from compliance_eval
    group by tenant_id, device_id
    having count(*) filter (where compliant = false) = (select p.chronic_snapshots from params as p)
)

select
    e.tenant_id,
    e.device_id,
    e.hostname,
    e.snapshot_date,
    e.device_class,
    e.policy_tier,
    e.ring,
    e.os_name,
    e.last_seen_utc,
    e.excluded,
    e.stale,
    e.compliant,
    e.reason,
    e.patch_snapshot_date,
    e.summary_status,
    cast(e.overdue_count as bigint) as overdue_count,
    cast(e.oldest_overdue_age_days as bigint) as oldest_overdue_age_days,
    e.has_overdue_of_unknown_age,
    c.device_id is not null as chronic
from compliance_eval as e
left join chronic as c using (tenant_id, device_id)
where e.back = 0
-- In a total order, so the output file is the same bytes however many threads computed it.
order by all;

-- Drill-down: every overdue required instance at as_of.
create or replace temp table overdue_patches as
select
    tenant_id,
    device_id,
    hostname,
    policy_tier,
    patch_id,
    patch_title,
    classification,
    severity,
    release_date,
    cast(age_days as bigint) as age_days,
    age_bucket,
    cast(grace_days as bigint) as grace_days,
    state,
    patch_snapshot_date
from compliance_instances
where back = 0 and overdue and not excluded
-- In a total order, so the output file is the same bytes however many threads computed it.
order by all;

-- The escalation list: devices non-compliant at every evaluation point.
create or replace temp table chronic_devices as
select
    d.tenant_id,
    d.device_id,
    d.hostname,
    d.device_class,
    d.policy_tier,
    d.reason as current_reason,
    cast(d.overdue_count as bigint) as overdue_count,
    cast((
        select list(e.point_as_of order by e.point_as_of)
        from compliance_eval as e
        where e.tenant_id = d.tenant_id and e.device_id = d.device_id
    ) as varchar) as noncompliant_at
from compliance_devices as d
where d.chronic
-- In a total order, so the output file is the same bytes however many threads computed it.
order by all;

create or replace temp table kpi_rows_compliance as
with current_devices as (
    select * from compliance_devices
),

in_scope as (
    select * from current_devices where not excluded
),

instances as (
    select * from compliance_instances where back = 0 and not excluded
),

tiers as (
    select distinct policy_tier from current_devices
),

classes as (
    select distinct device_class from current_devices
),

tenant_tiers as (
    select distinct tenant_id, policy_tier from current_devices
),

device_rate as (
    select 'patch_compliance_rate' as kpi_id, null as tenant_id, null as policy_tier, null as device_class,
        count(*) filter (where compliant) as numerator, count(*) as denominator
    from in_scope
    union all
    select 'patch_compliance_rate', t.tenant_id, null, null,
        count(d.device_id) filter (where d.compliant), count(d.device_id)
    from tenant_scopes as t left join in_scope as d using (tenant_id)
    group by t.tenant_id
    union all
    select 'patch_compliance_rate', null, t.policy_tier, null,
        count(d.device_id) filter (where d.compliant), count(d.device_id)
    from tiers as t left join in_scope as d using (policy_tier)
    group by t.policy_tier
    union all
    select 'patch_compliance_rate', null, null, c.device_class,
        count(d.device_id) filter (where d.compliant), count(d.device_id)
    from classes as c left join in_scope as d using (device_class)
    group by c.device_class
    union all
    select 'patch_compliance_rate', t.tenant_id, t.policy_tier, null,
        count(d.device_id) filter (where d.compliant), count(d.device_id)
    from tenant_tiers as t left join in_scope as d using (tenant_id, policy_tier)
    group by t.tenant_id, t.policy_tier
),

instance_rate as (
    select null as tenant_id, null as policy_tier, null as age_bucket,
        count(*) filter (where satisfied) as numerator, count(*) as denominator
    from instances
    union all
    select t.tenant_id, null, null, count(i.patch_id) filter (where i.satisfied), count(i.patch_id)
    from tenant_scopes as t left join instances as i using (tenant_id)
    group by t.tenant_id
    union all
    select null, t.policy_tier, null, count(i.patch_id) filter (where i.satisfied), count(i.patch_id)
    from tiers as t left join instances as i using (policy_tier)
    group by t.policy_tier
    union all
    select null, null, age_bucket, count(*) filter (where satisfied), count(*)
    from instances group by age_bucket
    union all
    select tenant_id, null, age_bucket, count(*) filter (where satisfied), count(*)
    from instances group by tenant_id, age_bucket
    union all
    select null, policy_tier, age_bucket, count(*) filter (where satisfied), count(*)
    from instances group by policy_tier, age_bucket
),

counts as (
    select 'excluded_devices' as kpi_id, null as tenant_id, count(*) filter (where excluded) as n
    from current_devices
    union all
    select 'excluded_devices', t.tenant_id, count(d.device_id) filter (where d.excluded)
    from tenant_scopes as t left join current_devices as d using (tenant_id)
    group by t.tenant_id
    union all
    select 'stale_devices', null, count(*) filter (where stale) from in_scope
    union all
    select 'stale_devices', t.tenant_id, count(d.device_id) filter (where d.stale)
    from tenant_scopes as t left join in_scope as d using (tenant_id)
    group by t.tenant_id
    union all
    select 'chronic_noncompliant_devices', null, count(*) filter (where chronic) from in_scope
    union all
    select 'chronic_noncompliant_devices', t.tenant_id, count(d.device_id) filter (where d.chronic)
    from tenant_scopes as t left join in_scope as d using (tenant_id)
    group by t.tenant_id
)

select kpi_id, tenant_id, policy_tier, device_class, null as age_bucket,
    cast(numerator as double) as numerator, cast(denominator as double) as denominator, 'ratio' as unit
from device_rate
union all
select 'patch_instance_compliance_rate', tenant_id, policy_tier, null, age_bucket,
    cast(numerator as double), cast(denominator as double), 'ratio'
from instance_rate
union all
select kpi_id, tenant_id, null, null, null, cast(n as double), null, 'count'
from counts;
