-- Collectors (src/collect/). Watermarks: where an incremental dataset is read from next, the
-- newest record the lake holds from files of one export format, in epoch seconds (empty when it
-- holds none): `getvariable('format')` is the format the ingest ledger records.

-- name: newest-attempt
select cast(epoch(max(a.attempt_utc)) as bigint) as newest
from patch_attempts as a
inner join ingest_ledger as l on a._source_file = l.source_file
where l.source_format = getvariable('format');

-- name: newest-ticket-update
select cast(epoch(max(t.updated_utc)) as bigint) as newest
from tickets as t
inner join ingest_ledger as l on t._source_file = l.source_file
where l.source_format = getvariable('format');
