-- Failure patterns for the period (the monthly failure-pattern analysis).
--
-- failure_patterns: failed attempts in P grouped by patch, error code, OS and classification, with
--   failures, devices, tenants, recurring pairs (device and patch failing on more than one UTC
--   day), share of all failures in P and cumulative share in descending order (Pareto), first and
--   last seen. OS is the device's os_name in its latest devices snapshot; classification the
--   patch's latest patch_status classification ('unknown' when the RMM never listed it).
-- failure_classes: failure rate per classification = failed attempts / attempts in P, to find
--   noisy update classes.

create or replace temp table failure_attempts as
with devices as not materialized (
    select * from lake.devices
),

patch_status as not materialized (
    select * from lake.patch_status
),

patch_attempts as not materialized (
    select * from lake.patch_attempts
),

settings as (
    select * from params
),

device_os as (
    select tenant_id, device_id, arg_max(os_name, snapshot_date) as os_name
    from devices
    group by tenant_id, device_id
),

patch_class as (
    -- Devices can report one patch on the same day; the word breaks the tie, so the answer never
    -- depends on the order rows are scanned in.
    select tenant_id, patch_id, arg_max(classification, (snapshot_date, classification)) as classification
    from patch_status
    group by tenant_id, patch_id
)

select
    a.*,
    coalesce(o.os_name, 'unknown') as os_name,
    coalesce(c.classification, 'unknown') as classification
from patch_attempts as a
cross join settings
left join device_os as o using (tenant_id, device_id)
left join patch_class as c using (tenant_id, patch_id)
where a.attempt_utc >= settings.period_start_instant and a.attempt_utc < settings.period_end_instant;

create or replace temp table failure_patterns as
with failures as (
    select * from failure_attempts where result = 'failure'
),

pair_days as (
    select tenant_id, device_id, patch_id, count(distinct cast(attempt_utc as date)) as failure_days
    from failures
    group by all
),

grouped as (
    select
        f.patch_id,
        coalesce(f.error_code, 'none') as error_code,
        f.os_name,
        f.classification,
        count(*) as failures,
        count(distinct row(f.tenant_id, f.device_id)) as devices,
        count(distinct f.tenant_id) as tenants,
        count(distinct row(f.tenant_id, f.device_id)) filter (where d.failure_days > 1) as recurring_pairs,
        min(f.attempt_utc) as first_seen_utc,
        max(f.attempt_utc) as last_seen_utc
    from failures as f
    join pair_days as d using (tenant_id, device_id, patch_id)
    group by all
),

ranked as (
    select
        *,
        failures / sum(failures) over () as share,
        sum(failures) over (
            order by failures desc, patch_id, error_code, os_name, classification
            rows between unbounded preceding and current row
        ) / sum(failures) over () as cumulative_share,
        row_number() over (order by failures desc, patch_id, error_code, os_name, classification) as pareto_rank
    from grouped
)

select
    cast(pareto_rank as bigint) as pareto_rank,
    patch_id,
    error_code,
    os_name,
    classification,
    cast(failures as bigint) as failures,
    cast(devices as bigint) as devices,
    cast(tenants as bigint) as tenants,
    cast(recurring_pairs as bigint) as recurring_pairs,
    cast(share as double) as share,
    cast(cumulative_share as double) as cumulative_share,
    first_seen_utc,
    last_seen_utc
from ranked
order by pareto_rank;

create or replace temp table failure_classes as
select
    classification,
    cast(count(*) as bigint) as attempts,
    cast(count(*) filter (where result = 'failure') as bigint) as failures,
    count(*) filter (where result = 'failure') / count(*) as failure_rate
from failure_attempts
group by classification
order by failure_rate desc, classification;
