-- The run ledger's lookups (src/ops/ledger.rs, src/cmd/run.rs). `getvariable('run_id')` and
-- `getvariable('periods')` are bound by govpack.

-- A run the ledger still shows running: taken over, it is recorded as abandoned.
-- name: running
select job, cast(as_of as varchar) as as_of, strftime(started_utc, '%Y-%m-%dT%H:%M:%S.%fZ') as started,
    host
from runs where run_id = getvariable('run_id') and status = 'running';

-- The monthly run that closed a month (computed it whole and succeeded), if one did.
-- name: closed-by
select max(run_id) as run_id from runs
where job = 'monthly' and status = 'succeeded' and periods_computed = getvariable('periods');
