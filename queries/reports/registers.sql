-- Lists an assessor asks for beside the control tests, written to an evidence bundle's controls/
-- as <name>.csv, for the period bound as `getvariable('period_start')` (see control_tests.sql).

-- Risk acceptance: every exception in force at some time in the period, with whether it was still
-- active at as-of (approved by then, not expired by its end: docs/kpi-definitions.md's "active
-- exception", which removes instances from the compliance KPIs).
-- name: exceptions-register
with period as (
    select distinct period_start, period_end, as_of from kpi_summary where period_start = getvariable('period_start')
),

hosts as (
    select distinct tenant_id, device_id, hostname from compliance_devices where period_start = getvariable('period_start')
)

select coalesce(t.tenant_name, e.tenant_id) as tenant_name, e.tenant_id,
       case when e.device_id is null then 'every device' else coalesce(h.hostname, e.device_id) end as device,
       e.device_id, coalesce(e.patch_id, 'every patch') as patch, e.reason, e.approved_by,
       e.approved_utc, e.expires_utc,
       case when e.approved_utc > cast(period.as_of + 1 as timestamp) then 'approved after as-of'
            when e.expires_utc is null or e.expires_utc > cast(period.as_of + 1 as timestamp) then 'active'
            else 'expired' end as at_as_of
from exceptions as e
cross join period
left join tenants as t on e.tenant_id = t.tenant_id
left join hosts as h on e.tenant_id = h.tenant_id and e.device_id = h.device_id
where in_scope(e.tenant_id)
  and e.approved_utc < cast(period.period_end + 1 as timestamp)
  and (e.expires_utc is null or e.expires_utc >= cast(period.period_start as timestamp))
order by tenant_name, e.tenant_id, device, e.device_id nulls first, patch, e.approved_utc, e.reason;

-- Remediation actions taken: required patches installed in the period on the devices in scope
-- (not excluded at as-of). A patch is installed once: its earliest install time over every
-- snapshot counts, as for docs/kpi-definitions.md's "installed instance in P".
-- name: remediation-actions
with period as (
    select distinct period_start, period_end, string_split(required_classifications, ', ') as required
    from kpi_parameters where period_start = getvariable('period_start')
),

devices_in_scope as (
    select tenant_id, device_id, hostname from compliance_devices where period_start = getvariable('period_start') and not excluded and in_scope(tenant_id)
),

installs as (
    select s.tenant_id, s.device_id, s.patch_id,
           min(s.installed_utc) as installed_utc,
           arg_min(s.classification, s.installed_utc) as classification,
           arg_min(s.severity, s.installed_utc) as severity,
           arg_min(s.release_date, s.installed_utc) as release_date
    from patch_status as s
    cross join period
    where in_scope(s.tenant_id) and s.state = 'installed' and s.installed_utc is not null
      and s.approval = 'approved' and list_contains(period.required, s.classification)
      and s.installed_utc < cast(period.period_end + 1 as timestamp)
    group by s.tenant_id, s.device_id, s.patch_id
)

select coalesce(t.tenant_name, i.tenant_id) as tenant_name, i.tenant_id, d.hostname, i.device_id,
       i.patch_id, i.classification, i.severity, i.release_date, i.installed_utc,
       greatest(cast(i.installed_utc as date) - i.release_date, 0) as days_from_release
from installs as i
cross join period
join devices_in_scope as d on i.tenant_id = d.tenant_id and i.device_id = d.device_id
left join tenants as t on i.tenant_id = t.tenant_id
where i.installed_utc >= cast(period.period_start as timestamp)
order by tenant_name, i.tenant_id, d.hostname, i.device_id, i.patch_id;

-- Flaws not reported in time (NIST SP 800-171A 3.14.1[d]): failure episodes still open at the
-- period's end longer than the ticket time, with no remediation or incident ticket for the device
-- (and patch, when the ticket names one) created since the episode started. The brief and the
-- workbook count these rows for objective [d].
-- name: unreported-flaws
with period as (
    select distinct period_start, ticket_open_after_hours from kpi_parameters where period_start = getvariable('period_start')
),

hosts as (
    select distinct tenant_id, device_id, hostname from compliance_devices where period_start = getvariable('period_start')
)

select h.hostname, client_name(e.tenant_id) as client, e.tenant_id, e.device_id, e.patch_id, e.first_error_code,
       e.start_utc, e.open_age_hours
from failure_episodes as e
join period using (period_start)
left join hosts as h on e.tenant_id = h.tenant_id and e.device_id = h.device_id
where e.open_at_period_end and in_scope(e.tenant_id)
  and e.open_age_hours > period.ticket_open_after_hours
  and not exists (
      select 1 from tickets as t
      where t.tenant_id = e.tenant_id and t.device_id = e.device_id
        and (t.patch_id is null or t.patch_id = e.patch_id)
        and t.ticket_type in ('remediation', 'incident') and t.created_utc >= e.start_utc)
order by e.open_age_hours desc, client, e.tenant_id, e.device_id, e.patch_id;
