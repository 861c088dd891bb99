-- `govpack status` (src/cmd/status.rs): what the scheduled job did and what needs a person, from
-- the lake's own tables. `getvariable('runs')` is how many runs to list.

-- name: last-runs
select job, as_of, strftime(started_utc, '%Y-%m-%d %H:%M:%S') as started,
    round(epoch(ended_utc) - epoch(started_utc), 1) as seconds, status,
    files_ingested as files_in, files_skipped as dup, files_failed as failed,
    rows_quarantined as quarantined, alerts_new, tickets_prepared as tickets,
    alerts_undelivered + tickets_failed as undelivered,
    left(split_part(error, chr(10), 1), 80) as error
from runs order by started_utc desc limit getvariable('runs');

-- name: sources
select source_format, count(*) as files, sum(rows_loaded) as rows_loaded,
    sum(rows_quarantined) as rows_quarantined,
    strftime(max(ingested_utc), '%Y-%m-%d %H:%M') as last_ingested_utc
from ingest_ledger group by all order by source_format;

-- The breaches of the latest day evaluated.
-- name: latest-breaches
select a.evaluated_on, a.rule, t.tenant_name, a.tenant_id, a.subject, round(a.value, 3) as value,
    a.comparison, round(a.threshold, 3) as threshold, a.is_new, a.delivery
from alerts as a
left join tenants as t using (tenant_id)
where a.evaluated_on = (select max(l.evaluated_on) from alerts as l)
order by a.rule, a.tenant_id, a.subject;

-- name: quarantine
-- noqa: disable=RF06
select table_name, reason, count(*) as "rows", count(distinct source_file) as files,
    strftime(max(quarantined_utc), '%Y-%m-%d') as latest
from quarantine group by all order by "rows" desc;
-- noqa: enable=RF06

-- name: files-with-warnings
select count(*) from ingest_ledger where warnings is not null;

-- `--check`: when a daily or weekly run last finished.
-- name: last-daily-run
select strftime(max(ended_utc), '%Y-%m-%d %H:%M UTC'), cast(max(epoch(ended_utc)) as bigint) from runs
where job in ('daily', 'weekly') and status in ('succeeded', 'partial');

-- name: latest-run
select run_id, status, error from runs where status <> 'running' order by started_utc desc limit 1;

-- Breaches whose alert has not gone out on the latest day evaluated (the post failed, or the
-- channel has no URL): they go out with the next run that can deliver them.
-- name: undelivered-alerts
select breach_key, delivery from alerts
where evaluated_on = (select max(l.evaluated_on) from alerts as l) and delivery in ('failed', 'undelivered')
order by breach_key;

-- Each collected dataset: its last success and its last attempt (lake table collections).
-- name: collections
select
    source,
    dataset,
    strftime(max(ended_utc) filter (where status in ('collected', 'absent')), '%Y-%m-%d %H:%M')
        as last_collected_utc,
    arg_max(status, started_utc) as last_status,
    arg_max(records, started_utc) as last_records,
    arg_max(requests, started_utc) as last_requests,
    left(arg_max(coalesce(error, ''), started_utc), 80) as last_error
from collections
group by all
order by source, dataset;

-- The requests a source's collections sent since `getvariable('since')` (epoch seconds):
-- an hourly budget's use.
-- name: requests-since
select cast(coalesce(sum(requests), 0) as bigint) as requests
from collections
where source = getvariable('source') and epoch(ended_utc) >= getvariable('since');

-- A source's last successful collection, as text and epoch seconds.
-- name: source-collected
select
    strftime(max(ended_utc), '%Y-%m-%d %H:%M UTC') as collected,
    cast(epoch(max(ended_utc)) as bigint) as collected_epoch
from collections
where source = getvariable('source') and status = 'collected';

-- Datasets whose latest attempt, since `getvariable('since')` (epoch seconds), failed.
-- name: failing-datasets
select source, dataset, strftime(max(started_utc), '%Y-%m-%d %H:%M UTC') as attempted,
    left(split_part(arg_max(coalesce(error, ''), started_utc), chr(10), 1), 120) as error
from collections
where epoch(started_utc) >= getvariable('since')
group by all
having arg_max(status, started_utc) = 'failed'
order by source, dataset;
