-- The scheduled job's remediation tickets (src/ops/tickets.rs): which failure episodes need one.
-- The run's values are bound before the query runs (`getvariable`: period_start, period_end,
-- period_end_instant: midnight after the period's last day, open_after_hours:
-- tickets.open_after_hours).

-- Failure episodes still open at the period's end for at least open_after_hours, on devices of
-- their tenant's current snapshot, that no ticket covers: none open for the device and patch, and
-- none closed since the episode started. Each with its failed attempts up to the period's end:
-- how many, the last one and the error codes seen.
-- name: episodes-to-ticket
with episodes as (
    select e.*
    from failure_episodes as e
    where e.period_start = getvariable('period_start') and e.period_end = getvariable('period_end')
        and e.open_at_period_end and e.open_age_hours >= getvariable('open_after_hours')
),

-- Only devices of their tenant's current snapshot, not excluded: a retired device's episode never
-- closes, and an excluded one is the client's decision, not a fault.
device_now as (
    select c.tenant_id, c.device_id, c.hostname, c.device_class, d.role
    from compliance_devices as c
    left join devices as d
        on c.tenant_id = d.tenant_id and c.device_id = d.device_id and c.snapshot_date = d.snapshot_date
    where c.period_start = getvariable('period_start') and c.period_end = getvariable('period_end')
        and not c.excluded
),

failures as (
    select
        e.tenant_id,
        e.device_id,
        e.patch_id,
        e.start_utc,
        count(*) as failed_attempts,
        max(a.attempt_utc) as last_failure_utc,
        string_agg(distinct a.error_code, ', ' order by a.error_code) as error_codes
    from episodes as e
    join patch_attempts as a
        on e.tenant_id = a.tenant_id and e.device_id = a.device_id and e.patch_id = a.patch_id
    where a.result = 'failure' and a.attempt_utc >= e.start_utc
        and a.attempt_utc < getvariable('period_end_instant')
    group by e.tenant_id, e.device_id, e.patch_id, e.start_utc
)

select
    e.tenant_id,
    t.tenant_name,
    t.psa_company_id,
    e.device_id,
    dn.hostname,
    dn.device_class,
    dn.role,
    e.patch_id,
    strftime(e.start_utc, '%Y-%m-%dT%H:%M:%SZ') as start_utc,
    e.open_age_hours,
    coalesce(f.failed_attempts, 0) as failed_attempts,
    strftime(f.last_failure_utc, '%Y-%m-%dT%H:%M:%SZ') as last_failure_utc,
    f.error_codes
from episodes as e
left join tenants as t on e.tenant_id = t.tenant_id
join device_now as dn on e.tenant_id = dn.tenant_id and e.device_id = dn.device_id
left join failures as f
    on e.tenant_id = f.tenant_id and e.device_id = f.device_id and e.patch_id = f.patch_id
        and e.start_utc = f.start_utc
where not exists (
    select 1 from tickets as k
    where k.tenant_id = e.tenant_id and k.device_id = e.device_id and k.patch_id = e.patch_id
        and (k.status not in ('complete', 'cancelled') or k.created_utc >= e.start_utc)
)
order by e.tenant_id, e.device_id, e.patch_id, e.start_utc;

-- The episodes already ticketed (their external ids): a ticket created, or one Autotask already
-- had, is not created again.
-- name: already-ticketed
select external_id from remediation_tickets where status in ('created', 'existing');
