-- Workflow controls from the operating model, C8-C13 (docs/kpi-definitions.md: "Control tests").
-- Each table holds a control test's population, one row per item tested, with
-- `exception` true for the items that fail it; the control register, the proof brief and the
-- evidence bundle's controls/ read them (src/reports/controls.rs).
--
-- C8 Ticket for every failed deployment [ticket_within_hours]: population = failure episodes
--   that started in P; exception = no tickets row of the same tenant and device (and patch when
--   the ticket names one) with ticket_type remediation or incident created between the episode
--   start and start + ticket_within_hours.                                  -> deployment_tickets
-- C9 Root cause before retry: population = failure episodes whose first retry (the next attempt of
--   the pair after the episode's first failure) is in P; exception = no ticket of the same tenant
--   and device (and patch when the ticket names one), created between the episode start and that
--   retry, has a non-empty root_cause.                                       -> retry_root_causes
-- C10 Drivers declined by default: population = patch_status rows at as_of (current patch
--   snapshot, non-excluded devices) with classification driver; exception = approval = approved
--   with no active exception row for that tenant/device/patch.                -> driver_approvals
-- C11 Manual review within review_days: population = patch_status rows at as_of with approval =
--   pending_review; exception = as_of - release_date > review_days (unknown release date =
--   exception).                                                                -> pending_reviews
-- C12 Daytime reboot within daytime_reboot_days: population = workstations on the daytime track
--   at as_of with a pending_reboot required instance; exception = the instance was already
--   pending_reboot in the device's patch snapshot at or before as_of - daytime_reboot_days.
--                                                                               -> daytime_reboots
-- C13 Emergency change review: population = closed emergency changes in P; exception =
--   post_change_verified not true (the PSA records no review time; the verified flag is the
--   evidence).                                                               -> emergency_reviews
--
-- "At as_of" reads as for every other point-in-time measure: the devices of their tenant's
-- current snapshot, not excluded, and each device's patch snapshot (compliance.sql's population
-- at back = 0). C11 and C12 name no exclusion; an excluded device is outside govpack's patching
-- by the MSP's own decision, so it is outside these populations too, as C10 says outright.

-- The devices at as_of, with their patch snapshot (compliance.sql).
create or replace temp table workflow_devices as
select tenant_id, device_id, hostname, device_class, track, excluded, patch_snapshot_date
from compliance_population
where back = 0;

-- The episodes C8 and C9 test (started in P, or first retried in P): the first failure
-- (remediation.sql's pair order), when its ticket is due, and the pair's next attempt.
create or replace temp table workflow_episodes as
with settings as (
    select * from params
),

starts as (
    select tenant_id, device_id, patch_id, seq, attempt_utc as start_utc, error_code as first_error_code
    from remediation_attempts
    where result = 'failure' and (previous_result is null or previous_result = 'success')
),

timed as (
    select
        s.tenant_id, s.device_id, s.patch_id, s.start_utc, s.first_error_code,
        s.start_utc + to_hours(settings.ticket_within_hours) as ticket_due_utc,
        retry.attempt_utc as retry_utc, retry.result as retry_result,
        s.start_utc >= settings.period_start_instant and s.start_utc < settings.period_end_instant
            as started_in_period,
        coalesce(
            retry.attempt_utc >= settings.period_start_instant and retry.attempt_utc < settings.period_end_instant,
            false
        ) as retried_in_period
    from starts as s
    cross join settings
    left join remediation_attempts as retry
        on s.tenant_id = retry.tenant_id and s.device_id = retry.device_id and s.patch_id = retry.patch_id
        and retry.seq = s.seq + 1
)

select * from timed where started_in_period or retried_in_period;

-- The tickets of an episode's tenant and device (and patch, when the ticket names one) created
-- from its start until its ticket was due or its retry, whichever is later: what C8 and C9 read.
create or replace temp table episode_tickets as
with tickets as not materialized (
    select * from lake.tickets
)

select
    e.tenant_id, e.device_id, e.patch_id, e.start_utc, e.ticket_due_utc, e.retry_utc,
    t.ticket_id, t.source_system, t.ticket_number, t.ticket_type, t.created_utc, t.root_cause
from workflow_episodes as e
join tickets as t
    on e.tenant_id = t.tenant_id and e.device_id = t.device_id
    and (t.patch_id is null or e.patch_id = t.patch_id)
    and e.start_utc <= t.created_utc
    and t.created_utc <= greatest(e.ticket_due_utc, coalesce(e.retry_utc, e.ticket_due_utc));

-- C8: each episode started in P, with its first remediation or incident ticket in time, if any.
create or replace temp table deployment_tickets as
with first_ticket as (
    select tenant_id, device_id, patch_id, start_utc, ticket_id, source_system, ticket_number, created_utc
    from episode_tickets
    where ticket_type in ('remediation', 'incident') and created_utc <= ticket_due_utc
    qualify row_number() over (
        partition by tenant_id, device_id, patch_id, start_utc order by created_utc, source_system, ticket_id
    ) = 1
)

select
    e.tenant_id, d.hostname, e.device_id, e.patch_id, e.first_error_code, e.start_utc, e.ticket_due_utc,
    t.ticket_id, t.source_system as ticket_source_system, t.ticket_number, t.created_utc as ticket_created_utc,
    t.ticket_id is null as exception
from workflow_episodes as e
left join workflow_devices as d using (tenant_id, device_id)
left join first_ticket as t using (tenant_id, device_id, patch_id, start_utc)
where e.started_in_period
-- In a total order, so the output file is the same bytes however many threads computed it.
order by all;

-- C9: each episode first retried in P, with the first ticket before the retry that records a
-- root cause, if any.
create or replace temp table retry_root_causes as
with first_root_cause as (
    select tenant_id, device_id, patch_id, start_utc, ticket_id, source_system, ticket_number, root_cause
    from episode_tickets
    where created_utc <= retry_utc and trim(root_cause) <> ''
    qualify row_number() over (
        partition by tenant_id, device_id, patch_id, start_utc order by created_utc, source_system, ticket_id
    ) = 1
)

select
    e.tenant_id, d.hostname, e.device_id, e.patch_id, e.first_error_code, e.start_utc, e.retry_utc,
    e.retry_result, t.ticket_id, t.source_system as ticket_source_system, t.ticket_number, t.root_cause,
    t.ticket_id is null as exception
from workflow_episodes as e
left join workflow_devices as d using (tenant_id, device_id)
left join first_root_cause as t using (tenant_id, device_id, patch_id, start_utc)
where e.retried_in_period
-- In a total order, so the output file is the same bytes however many threads computed it.
order by all;

-- The patch rows at as_of the controls C10-C12 test (each device's current patch snapshot).
create or replace temp table workflow_patch_rows as
with patch_status as not materialized (
    select * from lake.patch_status
)

select d.tenant_id, d.hostname, d.device_id, d.device_class, d.track, s.patch_id, s.patch_title,
    s.classification, coalesce(s.severity, 'unspecified') as severity, s.release_date, s.approval, s.state,
    d.patch_snapshot_date
from workflow_devices as d
join patch_status as s
    on d.tenant_id = s.tenant_id and d.device_id = s.device_id and d.patch_snapshot_date = s.snapshot_date
where not d.excluded
    and (s.classification = 'driver' or s.approval = 'pending_review' or s.state = 'pending_reboot');

-- C10: driver updates at as_of; an approved one is an exception unless an exception row covers it.
create or replace temp table driver_approvals as
select
    r.tenant_id, r.hostname, r.device_id, r.patch_id, r.patch_title, r.release_date, r.approval, r.state,
    r.approval = 'approved' and under_exception(r.tenant_id, r.device_id, r.patch_id, settings.as_of)
        as approved_by_exception,
    r.approval = 'approved' and not under_exception(r.tenant_id, r.device_id, r.patch_id, settings.as_of)
        as exception
from workflow_patch_rows as r cross join params as settings
where r.classification = 'driver'
-- In a total order, so the output file is the same bytes however many threads computed it.
order by all;

-- C11: updates waiting for a person's review at as_of, and for how long since their release.
create or replace temp table pending_reviews as
select
    r.tenant_id, r.hostname, r.device_id, r.patch_id, r.patch_title, r.classification, r.severity,
    r.release_date, r.state,
    cast(settings.as_of - r.release_date as bigint) as days_since_release,
    settings.review_days,
    r.release_date is null or settings.as_of - r.release_date > settings.review_days as exception
from workflow_patch_rows as r cross join params as settings
where r.approval = 'pending_review'
-- In a total order, so the output file is the same bytes however many threads computed it.
order by all;

-- C12: required instances waiting for a reboot on daytime workstations, and whether the device's
-- patch snapshot daytime_reboot_days earlier already showed them waiting.
create or replace temp table daytime_reboots as
with patch_status as not materialized (
    select * from lake.patch_status
),

settings as (
    select * from params
),

waiting as (
    select r.*
    from workflow_patch_rows as r
    join compliance_instances as i
        on i.back = 0 and r.tenant_id = i.tenant_id and r.device_id = i.device_id and r.patch_id = i.patch_id
    where r.device_class = 'workstation' and r.track = 'daytime' and r.state = 'pending_reboot'
),

earlier_snapshot as (
    select w.tenant_id, w.device_id, max(s.snapshot_date) as snapshot_date
    from (select distinct tenant_id, device_id from waiting) as w
    join patch_status as s on w.tenant_id = s.tenant_id and w.device_id = s.device_id
    cross join settings
    where s.snapshot_date <= settings.as_of - settings.daytime_reboot_days
    group by all
),

earlier_state as (
    select w.tenant_id, w.device_id, w.patch_id,
        min(s.state) as state, bool_or(s.state = 'pending_reboot') as was_pending_reboot
    from waiting as w
    join earlier_snapshot as e using (tenant_id, device_id)
    join patch_status as s
        on w.tenant_id = s.tenant_id and w.device_id = s.device_id and w.patch_id = s.patch_id
        and e.snapshot_date = s.snapshot_date
    group by all
)

select
    w.tenant_id, w.hostname, w.device_id, w.patch_id, w.patch_title, w.classification, w.severity,
    w.release_date, w.patch_snapshot_date, settings.daytime_reboot_days,
    e.snapshot_date as earlier_snapshot_date, s.state as earlier_state,
    coalesce(s.was_pending_reboot, false) as exception
from waiting as w
cross join settings
left join earlier_snapshot as e using (tenant_id, device_id)
left join earlier_state as s using (tenant_id, device_id, patch_id)
-- In a total order, so the output file is the same bytes however many threads computed it.
order by all;

-- C13: closed emergency changes in P and whether the PSA records them verified after the change.
create or replace temp table emergency_reviews as
select
    change_id, source_system, tenant_id, title, risk, outcome, actual_start_utc, actual_end_utc, approver,
    post_change_verified,
    post_change_verified is not true as exception
from closed_changes
where change_type = 'emergency'
-- In a total order, so the output file is the same bytes however many threads computed it.
order by all;

-- Only the control tables above are read later: the working tables go, and their memory with them.
drop table workflow_patch_rows;
drop table episode_tickets;
drop table workflow_episodes;
drop table workflow_devices;
