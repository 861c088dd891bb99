-- Change (docs/kpi-definitions.md: "Change").
--
-- Closed changes in P: outcome in (successful, successful_with_issues, failed, rolled_back) and
-- actual_end_utc in P. A closed outcome with no actual_end_utc is a data-quality finding
-- (change_data_quality), not a KPI row.
--
-- change_success_rate = closed with outcome = successful and caused_incident not true / closed
-- emergency_change_ratio = closed with change_type = emergency / closed
-- rollback_effectiveness_rate = closed with rollback_attempted and rollback_succeeded
--   / closed with rollback_attempted
-- cab_compliance_rate = closed medium/high-risk changes with cab_decision = approved and
--   cab_decided_utc <= actual_start_utc / closed medium/high-risk changes
-- change_intake_completeness_rate = closed with all four has_* flags true and both planned times
--   present / closed
-- change_window_compliance_rate = closed with planned_start_utc <= actual_start_utc and
--   actual_end_utc <= planned_end_utc / closed with all four times present
-- post_change_verification_rate = closed with post_change_verified and customer_impact_declared
--   both true / closed
-- All: portfolio and tenant.

-- The closed changes in P, as the PSA recorded them (the workflow controls read them too).
create or replace temp table closed_changes as
with changes as not materialized (
    select * from lake.changes
),

settings as (
    select * from params
)

select c.*
from changes as c cross join settings
where c.outcome in ('successful', 'successful_with_issues', 'failed', 'rolled_back')
    and c.actual_end_utc >= settings.period_start_instant and c.actual_end_utc < settings.period_end_instant;

-- Drill-down: every closed change in P with each control passed (true), failed (false) or not
-- applicable (null).
create or replace temp table change_controls as
select
    change_id,
    source_system,
    tenant_id,
    title,
    change_type,
    risk,
    outcome,
    created_utc,
    planned_start_utc,
    planned_end_utc,
    actual_start_utc,
    actual_end_utc,
    cab_decision,
    cab_decided_utc,
    approver,
    outcome = 'successful' and caused_incident is not true as success,
    change_type = 'emergency' as emergency,
    case when rollback_attempted then coalesce(rollback_succeeded, false) end as rollback_effective,
    case
        when risk in ('medium', 'high')
            then cab_decision = 'approved' and coalesce(cab_decided_utc <= actual_start_utc, false)
    end as cab_approved_before_start,
    coalesce(
        has_rollback_plan and has_test_evidence and has_comm_plan and has_validation_checklist, false
    ) and planned_start_utc is not null and planned_end_utc is not null as intake_complete,
    case
        when planned_start_utc is not null and planned_end_utc is not null and actual_start_utc is not null
            then planned_start_utc <= actual_start_utc and actual_end_utc <= planned_end_utc
    end as within_window,
    coalesce(post_change_verified and customer_impact_declared, false) as verified
from closed_changes
-- In a total order, so the output file is the same bytes however many threads computed it.
order by all;

-- Closed changes the PSA exported without an end time: they cannot be placed in any period.
create or replace temp table change_data_quality as
with changes as not materialized (
    select * from lake.changes
)

select change_id, source_system, tenant_id, title, change_type, risk, outcome, created_utc, actual_start_utc,
    'closed outcome without actual_end_utc' as finding
from changes
where outcome in ('successful', 'successful_with_issues', 'failed', 'rolled_back') and actual_end_utc is null
-- In a total order, so the output file is the same bytes however many threads computed it.
order by all;

create or replace temp table kpi_rows_change as
with scoped as (
    select cast(null as varchar) as tenant_id, * exclude (tenant_id) from change_controls
    union all
    select tenant_id, * exclude (tenant_id) from change_controls
),

scopes as (
    select cast(null as varchar) as tenant_id
    union all
    select tenant_id from tenant_scopes
),

counted as (
    select
        s.tenant_id,
        count(c.change_id) as closed,
        count(c.change_id) filter (where c.success) as successful,
        count(c.change_id) filter (where c.emergency) as emergency,
        count(c.change_id) filter (where c.rollback_effective) as rollback_effective,
        count(c.change_id) filter (where c.rollback_effective is not null) as rollback_attempted,
        count(c.change_id) filter (where c.cab_approved_before_start) as cab_ok,
        count(c.change_id) filter (where c.cab_approved_before_start is not null) as cab_population,
        count(c.change_id) filter (where c.intake_complete) as intake_complete,
        count(c.change_id) filter (where c.within_window) as within_window,
        count(c.change_id) filter (where c.within_window is not null) as window_population,
        count(c.change_id) filter (where c.verified) as verified
    from scopes as s
    left join scoped as c on c.tenant_id is not distinct from s.tenant_id
    group by s.tenant_id
)

select kpi_id, tenant_id, null as policy_tier, null as device_class, null as age_bucket,
    cast(numerator as double) as numerator, cast(denominator as double) as denominator,
    cast(null as double) as value, 'ratio' as unit
from (
    select 'change_success_rate' as kpi_id, tenant_id, successful as numerator, closed as denominator from counted
    union all
    select 'emergency_change_ratio', tenant_id, emergency, closed from counted
    union all
    select 'rollback_effectiveness_rate', tenant_id, rollback_effective, rollback_attempted from counted
    union all
    select 'cab_compliance_rate', tenant_id, cab_ok, cab_population from counted
    union all
    select 'change_intake_completeness_rate', tenant_id, intake_complete, closed from counted
    union all
    select 'change_window_compliance_rate', tenant_id, within_window, window_population from counted
    union all
    select 'post_change_verification_rate', tenant_id, verified, closed from counted
) as kpi_rows;
