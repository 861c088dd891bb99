-- Whether each tenant's exports still arrive (src/ops/freshness.rs): `govpack status` prints these
-- dates, and the scheduled job alerts on a tenant whose devices export is older than
-- stale_tenant_days (or missing). `getvariable('day')` is the day judged: rows dated after it are ignored, so
-- a rerun of a past day agrees with its first run.

-- Each tenant's latest date per exported table on or before the day; `devices` is the one judged.
-- name: latest-exports
with devices_latest as (
    select tenant_id, max(snapshot_date) as latest from devices where snapshot_date <= getvariable('day') group by tenant_id
),

patch_status_latest as (
    select tenant_id, max(snapshot_date) as latest from patch_status where snapshot_date <= getvariable('day')
    group by tenant_id
),

summary_latest as (
    select tenant_id, max(snapshot_date) as latest from device_patch_summary where snapshot_date <= getvariable('day')
    group by tenant_id
),

attempts_latest as (
    select tenant_id, max(cast(attempt_utc as date)) as latest from patch_attempts
    where cast(attempt_utc as date) <= getvariable('day') group by tenant_id
),

tickets_latest as (
    select tenant_id, max(cast(created_utc as date)) as latest from tickets
    where cast(created_utc as date) <= getvariable('day') group by tenant_id
),

changes_latest as (
    select tenant_id, max(cast(created_utc as date)) as latest from changes
    where cast(created_utc as date) <= getvariable('day') group by tenant_id
)

select
    t.tenant_id,
    t.tenant_name,
    cast(d.latest as varchar) as devices,
    cast(s.latest as varchar) as patch_status,
    cast(ds.latest as varchar) as device_patch_summary,
    cast(a.latest as varchar) as patch_attempts,
    cast(k.latest as varchar) as tickets,
    cast(c.latest as varchar) as changes
from tenants as t
left join devices_latest as d on t.tenant_id = d.tenant_id
left join patch_status_latest as s on t.tenant_id = s.tenant_id
left join summary_latest as ds on t.tenant_id = ds.tenant_id
left join attempts_latest as a on t.tenant_id = a.tenant_id
left join tickets_latest as k on t.tenant_id = k.tenant_id
left join changes_latest as c on t.tenant_id = c.tenant_id
order by t.tenant_id;
