-- Remediation (docs/kpi-definitions.md: "Remediation").
--
-- A pair is (tenant_id, device_id, patch_id). A pair's attempts are ordered by attempt_utc; on
-- equal timestamps a failure sorts before a success.
-- Failure episode: starts at a failure that is the pair's first attempt or follows a success;
--   ends at the first success after it. Remediation time = end - start, in hours.
-- Open episode at P's end: started before the period end instant, with no success before it.
--   v3: one whose device is not in the device state at as_of (absent from its tenant's current
--   snapshot: retired, or its tenant's exports no longer list it) is not counted in
--   open_failure_episodes nor in open_episode_age_hours_mean; the drill-down lists it with status
--   device_gone and the device's last snapshot date.
--
-- failed_patch_recurrence_rate = pairs with a failure in P that has an earlier failure of the same
--   pair on an earlier UTC day (any time before) / pairs with >= 1 failure in P
-- mttr_hours_mean / _median / _p90 = mean / quantile_cont 0.5 / quantile_cont 0.9 of remediation
--   hours over episodes that end in P (denominator: those episodes)
-- open_failure_episodes = count of open episodes at P's end
-- open_episode_age_hours_mean = mean of (period end instant - start) over those open episodes
-- first_pass_success_rate = pairs whose first-ever attempt is in P and is a success / pairs whose
--   first-ever attempt is in P
-- remediation_ticket_mttr_hours_mean = mean(resolved_utc - created_utc) over tickets with
--   ticket_type = remediation, status = complete, resolved in P
-- remediation_sla_breach_rate = of those tickets with a due_utc: resolved after due_utc / with due_utc
-- All: portfolio and tenant.
--
-- Means are taken exactly: durations summed as whole microseconds (an integer sum, the same in any
-- order), divided once. A floating-point avg() adds in whatever order the engine's threads finish,
-- and a mean could differ in its last bit between two runs of the same data (and so would the
-- workbook and the evidence bundle's digest).

create or replace temp table remediation_attempts as
with patch_attempts as not materialized (
    select * from lake.patch_attempts
)

select
    tenant_id,
    device_id,
    patch_id,
    attempt_utc,
    result,
    error_code,
    row_number() over pair_order as seq,
    lag(result) over pair_order as previous_result
from patch_attempts
window pair_order as (
    partition by tenant_id, device_id, patch_id
    order by attempt_utc, case result when 'failure' then 0 else 1 end
);

-- Drill-down: every episode that overlaps P (open or closed), with its start, end and hours, and
-- its status: ended (in P), open (at P's end), device_gone (open, its device no longer reported).
create or replace temp table failure_episodes as
with devices as not materialized (
    select * from lake.devices
),

settings as (
    select * from params
),

starts as (
    select tenant_id, device_id, patch_id, seq as start_seq, attempt_utc as start_utc, error_code as first_error_code
    from remediation_attempts
    where result = 'failure' and (previous_result is null or previous_result = 'success')
),

episodes as (
    select
        s.*,
        (
            select min(a.seq)
            from remediation_attempts as a
            where a.tenant_id = s.tenant_id and a.device_id = s.device_id and a.patch_id = s.patch_id
                and a.seq > s.start_seq and a.result = 'success'
        ) as end_seq
    from starts as s
),

timed as (
    select
        e.tenant_id,
        e.device_id,
        e.patch_id,
        e.start_utc,
        a.attempt_utc as end_utc,
        e.first_error_code,
        (
            select count(*)
            from remediation_attempts as f
            where f.tenant_id = e.tenant_id and f.device_id = e.device_id and f.patch_id = e.patch_id
                and f.seq >= e.start_seq and (e.end_seq is null or f.seq < e.end_seq)
        ) as failed_attempts
    from episodes as e
    left join remediation_attempts as a
        on e.tenant_id = a.tenant_id and e.device_id = a.device_id and e.patch_id = a.patch_id
        and e.end_seq = a.seq
),

overlapping as (
    select
        t.*,
        t.end_utc >= settings.period_start_instant and t.end_utc < settings.period_end_instant as ends_in_period,
        t.end_utc is null or t.end_utc >= settings.period_end_instant as open_at_end
    from timed as t
    cross join settings
    where t.start_utc < settings.period_end_instant
        and (t.end_utc is null or t.end_utc >= settings.period_start_instant)
),

-- The devices of their tenant's current snapshot (compliance.sql's population at as_of).
device_state as (
    select distinct tenant_id, device_id from compliance_population where back = 0
),

last_snapshot as (
    select d.tenant_id, d.device_id, max(d.snapshot_date) as device_last_snapshot_date
    from devices as d
    cross join settings
    where d.snapshot_date <= settings.as_of
        and exists (
            select 1 from overlapping as o where o.tenant_id = d.tenant_id and o.device_id = d.device_id
        )
    group by d.tenant_id, d.device_id
)

select
    o.tenant_id,
    o.device_id,
    o.patch_id,
    o.start_utc,
    o.end_utc,
    o.first_error_code,
    cast(o.failed_attempts as bigint) as failed_attempts,
    (epoch(o.end_utc) - epoch(o.start_utc)) / 3600.0 as remediation_hours,
    o.ends_in_period,
    o.open_at_end and s.device_id is not null as open_at_period_end,
    case
        when o.open_at_end then (epoch(settings.period_end_instant) - epoch(o.start_utc)) / 3600.0
    end as open_age_hours,
    case
        when not o.open_at_end then 'ended'
        when s.device_id is not null then 'open'
        else 'device_gone'
    end as status,
    l.device_last_snapshot_date
from overlapping as o
cross join settings
left join device_state as s on o.tenant_id = s.tenant_id and o.device_id = s.device_id
left join last_snapshot as l on o.tenant_id = l.tenant_id and o.device_id = l.device_id
-- In a total order, so the output file is the same bytes however many threads computed it.
order by all;

create or replace temp table kpi_rows_remediation as
with tickets as not materialized (
    select * from lake.tickets
),

settings as (
    select * from params
),

failures_in_period as (
    select a.*
    from remediation_attempts as a cross join settings
    where a.result = 'failure'
        and a.attempt_utc >= settings.period_start_instant and a.attempt_utc < settings.period_end_instant
),

failing_pairs as (
    select
        f.tenant_id,
        f.device_id,
        f.patch_id,
        max(cast(f.attempt_utc as date)) as last_failure_day_in_period,
        (
            select min(cast(e.attempt_utc as date))
            from remediation_attempts as e
            where e.tenant_id = f.tenant_id and e.device_id = f.device_id and e.patch_id = f.patch_id
                and e.result = 'failure'
        ) as first_failure_day_ever
    from failures_in_period as f
    group by f.tenant_id, f.device_id, f.patch_id
),

recurring as (
    select *, first_failure_day_ever < last_failure_day_in_period as recurred
    from failing_pairs
),

first_attempts as (
    select a.tenant_id, a.result
    from remediation_attempts as a cross join settings
    where a.seq = 1
        and a.attempt_utc >= settings.period_start_instant and a.attempt_utc < settings.period_end_instant
),

ended as (
    select * from failure_episodes where ends_in_period
),

open_episodes as (
    select * from failure_episodes where open_at_period_end
),

resolved_tickets as (
    select
        t.tenant_id,
        epoch_us(t.resolved_utc) - epoch_us(t.created_utc) as micros,
        t.due_utc,
        t.resolved_utc > t.due_utc as breached
    from tickets as t cross join settings
    where t.ticket_type = 'remediation' and t.status = 'complete'
        and t.resolved_utc >= settings.period_start_instant and t.resolved_utc < settings.period_end_instant
),

-- Each measure once per tenant and once for the portfolio (the empty grouping set, tenant null).
recurrence as (
    select tenant_id, count(*) filter (where recurred) as recurring_pairs, count(*) as failing_pairs
    from recurring
    group by grouping sets ((), (tenant_id))
),

mttr as (
    select
        tenant_id,
        count(*) as ended_episodes,
        sum(epoch_us(end_utc) - epoch_us(start_utc)) / count(*) / 3600e6 as mttr_mean,
        quantile_cont(remediation_hours, 0.5) as mttr_median,
        quantile_cont(remediation_hours, 0.9) as mttr_p90
    from ended
    group by grouping sets ((), (tenant_id))
),

still_open as (
    select
        o.tenant_id,
        count(*) as open_episodes,
        sum(epoch_us(settings.period_end_instant) - epoch_us(o.start_utc)) / count(*) / 3600e6 as open_age_mean
    from open_episodes as o
    cross join settings
    group by grouping sets ((), (o.tenant_id))
),

first_pass as (
    select
        tenant_id,
        count(*) filter (where result = 'success') as first_pass_successes,
        count(*) as first_attempt_pairs
    from first_attempts
    group by grouping sets ((), (tenant_id))
),

ticket_times as (
    select
        tenant_id,
        count(*) as resolved_tickets,
        sum(micros) / count(*) / 3600e6 as ticket_mttr_mean,
        count(*) filter (where breached) as breached_tickets,
        count(*) filter (where due_utc is not null) as tickets_with_due
    from resolved_tickets
    group by grouping sets ((), (tenant_id))
),

scopes as (
    select cast(null as varchar) as tenant_id
    union all
    select tenant_id from tenant_scopes
),

scoped as (
    select
        s.tenant_id,
        coalesce(r.recurring_pairs, 0) as recurring_pairs,
        coalesce(r.failing_pairs, 0) as failing_pairs,
        coalesce(m.ended_episodes, 0) as ended_episodes,
        m.mttr_mean,
        m.mttr_median,
        m.mttr_p90,
        coalesce(o.open_episodes, 0) as open_episodes,
        o.open_age_mean,
        coalesce(f.first_pass_successes, 0) as first_pass_successes,
        coalesce(f.first_attempt_pairs, 0) as first_attempt_pairs,
        coalesce(t.resolved_tickets, 0) as resolved_tickets,
        t.ticket_mttr_mean,
        coalesce(t.breached_tickets, 0) as breached_tickets,
        coalesce(t.tickets_with_due, 0) as tickets_with_due
    from scopes as s
    left join recurrence as r on r.tenant_id is not distinct from s.tenant_id
    left join mttr as m on m.tenant_id is not distinct from s.tenant_id
    left join still_open as o on o.tenant_id is not distinct from s.tenant_id
    left join first_pass as f on f.tenant_id is not distinct from s.tenant_id
    left join ticket_times as t on t.tenant_id is not distinct from s.tenant_id
)

select kpi_id, tenant_id, null as policy_tier, null as device_class, null as age_bucket,
    cast(numerator as double) as numerator, cast(denominator as double) as denominator,
    cast(value as double) as value, unit
from (
    select 'failed_patch_recurrence_rate' as kpi_id, tenant_id, recurring_pairs as numerator,
        failing_pairs as denominator, null as value, 'ratio' as unit from scoped
    union all
    select 'mttr_hours_mean', tenant_id, null, ended_episodes, mttr_mean, 'hours' from scoped
    union all
    select 'mttr_hours_median', tenant_id, null, ended_episodes, mttr_median, 'hours' from scoped
    union all
    select 'mttr_hours_p90', tenant_id, null, ended_episodes, mttr_p90, 'hours' from scoped
    union all
    -- A union branch's names are the first branch's: open_episodes twice is numerator and value.
    select 'open_failure_episodes', tenant_id, open_episodes, null, open_episodes, 'count' from scoped -- noqa: AL08
    union all
    select 'open_episode_age_hours_mean', tenant_id, null, open_episodes, open_age_mean, 'hours' from scoped
    union all
    select 'first_pass_success_rate', tenant_id, first_pass_successes, first_attempt_pairs, null, 'ratio' from scoped
    union all
    select 'remediation_ticket_mttr_hours_mean', tenant_id, null, resolved_tickets, ticket_mttr_mean, 'hours'
    from scoped
    union all
    select 'remediation_sla_breach_rate', tenant_id, breached_tickets, tickets_with_due, null, 'ratio' from scoped
) as kpi_rows;
