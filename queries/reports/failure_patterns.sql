-- The monthly failure-pattern analysis workbook (src/reports/failure_patterns.rs), the portfolio's
-- only, for the period bound as `getvariable('period_start')`. `top-patterns` fills the first sheet (govpack adds each
-- pattern's rule and recommendation from report_templates/failure_rules.toml); the others are one
-- sheet each, named as the sheet, in sheet order.

-- name: top-patterns
select pareto_rank, patch_id, error_code, os_name, classification, failures, devices, tenants,
    recurring_pairs, share, cumulative_share, first_seen_utc, last_seen_utc
from failure_patterns where period_start = getvariable('period_start') order by pareto_rank;

-- name: Error codes
with total as (
    select sum(failures) as failures from failure_patterns where period_start = getvariable('period_start')
)

select f.error_code, sum(f.failures) as failures, sum(f.devices) as devices, count(*) as patterns,
    sum(f.failures) / any_value(total.failures) as share
from failure_patterns as f
cross join total
where f.period_start = getvariable('period_start')
group by f.error_code
order by failures desc, f.error_code;

-- Device and patch pairs that failed on more than one day of the period.
-- name: Recurring pairs
with period as (
    select distinct period_start, period_end from failure_patterns where period_start = getvariable('period_start')
),

pairs as (
    select a.tenant_id, a.device_id, a.patch_id, count(*) as failures,
        count(distinct cast(a.attempt_utc as date)) as failure_days,
        min(a.attempt_utc) as first_failure_utc, max(a.attempt_utc) as last_failure_utc,
        string_agg(distinct a.error_code, ', ' order by a.error_code) as error_codes
    from patch_attempts as a
    cross join period as p
    where a.result = 'failure' and a.attempt_utc >= p.period_start and a.attempt_utc < p.period_end + 1
    group by all
    having count(distinct cast(a.attempt_utc as date)) > 1
),

hosts as (
    select tenant_id, device_id, any_value(hostname) as hostname
    from compliance_devices where period_start = getvariable('period_start') group by all
)

select h.hostname, client_name(r.tenant_id) as client, r.*
from pairs as r
left join hosts as h using (tenant_id, device_id)
order by r.failure_days desc, r.failures desc, client, r.tenant_id, r.device_id, r.patch_id;

-- name: Noisy classes
select classification, attempts, failures, failure_rate from failure_classes where period_start = getvariable('period_start')
order by failure_rate desc, classification;
