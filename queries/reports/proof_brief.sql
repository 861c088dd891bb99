-- The proof brief's figures and tables (src/reports/proof_brief.rs), for the
-- period bound as `getvariable('period_start')` (its first day, a DATE); `own_scope(tenant_id)` keeps a KPI row
-- that is the report's own (the portfolio's rows in the portfolio's brief, the client's in its own;
-- queries/reports/session.sql).

-- The period and its as-of date, under the title.
-- name: period
select cast(min(period_start) as varchar), cast(min(period_end) as varchar), cast(max(as_of) as varchar)
from kpi_summary where period_start = getvariable('period_start');

-- The KPI table: every headline figure of the scope with its baseline, target and status.
-- name: kpis
select kpi_id, unit, value, baseline_value, target, status, measurement from kpi_scorecard
where period_start = getvariable('period_start') and policy_tier is null and device_class is null and age_bucket is null and own_scope(tenant_id)
order by kpi_id;

-- The trend chart: the two headline rates of every calendar month up to this period (the brief
-- keeps the last twelve).
-- name: trend
select strftime(period_start, '%Y-%m') as month, kpi_id, value from kpi_summary
where period_start <= getvariable('period_start') and extract(day from period_start) = 1
    and period_end = last_day(period_start) and kpi_id in ('patch_compliance_rate', 'change_success_rate')
    and policy_tier is null and device_class is null and age_bucket is null and own_scope(tenant_id)
order by month;

-- name: tiers
select policy_tier, value from kpi_summary
where period_start = getvariable('period_start') and kpi_id = 'patch_compliance_rate'
    and policy_tier is not null and device_class is null and age_bucket is null and own_scope(tenant_id)
order by policy_tier;

-- Instance compliance by patch age, youngest bucket first.
-- name: age-buckets
select age_bucket, denominator, value from kpi_summary
where period_start = getvariable('period_start') and kpi_id = 'patch_instance_compliance_rate' and age_bucket is not null and policy_tier is null
    and own_scope(tenant_id)
order by case age_bucket when '0-7' then 1 when '8-14' then 2 when '15-30' then 3
    when '31-60' then 4 when '61-90' then 5 when '91+' then 6 else 7 end;

-- The portfolio's ten largest failure patterns.
-- name: failure-patterns
select patch_id, error_code, failures, devices, share from failure_patterns
where period_start = getvariable('period_start') order by pareto_rank limit 10;

-- How the scope's KEV exposure was measured: not_measured (no catalog, no update-to-CVE rows, no
-- per-patch export), a lower bound, partial; and the note that says why.
-- name: kev-measurement
select measurement, measurement_note from kpi_scorecard
where period_start = getvariable('period_start') and kpi_id = 'kev_exposed_devices'
    and policy_tier is null and device_class is null and age_bucket is null and own_scope(tenant_id);

-- KEV exposure by client: devices exposed, devices past a KEV deadline, instances; most overdue
-- first.
-- name: kev-clients
select client_name(tenant_id) as client, count(distinct device_id) as devices,
    count(distinct device_id) filter (where days_past_deadline is not null) as overdue_devices,
    count(*) as instances
from kev_exposure where period_start = getvariable('period_start') and in_scope(tenant_id)
group by tenant_id
order by overdue_devices desc, devices desc, client, tenant_id;

-- The fifteen KEV CVEs with the nearest deadlines, with the devices exposed to each. Each CVE's own
-- deadline and ransomware flag come from the catalog: an instance's are those of the most urgent
-- of its CVEs.
-- name: kev-cves
with instances as (
    select tenant_id, device_id, unnest(string_split(cves, ', ')) as cve
    from kev_exposure where period_start = getvariable('period_start') and in_scope(tenant_id)
),

settings as (
    select kev_due_days from kpi_parameters where period_start = getvariable('period_start')
)

select i.cve, cast(coalesce(k.due_date, k.date_added + s.kev_due_days) as varchar) as deadline,
    count(distinct row(i.tenant_id, i.device_id)),
    case when k.known_ransomware_use then 'known' else '' end
from instances as i
join kev as k on i.cve = k.cve_id
cross join settings as s
group by all
order by deadline, i.cve
limit 15;
