-- An evidence bundle's run.json (src/reports/bundle.rs), for the period bound
-- as `getvariable('period_start')`; `getvariable('reference_tables')` is the list of the lake's reference tables (the KEV catalog's and the CVRF
-- documents': they carry no client data).

-- The ingested files, each with whether the bundle lists it: every file in the portfolio's; in a
-- client's, the files that brought the client's rows (ingest_tenants) and the reference files its
-- exposure figures were computed from. A file that brought no tenant's rows (refused whole, or
-- ingested by a govpack that did not record tenants per file) cannot be placed in a client's list:
-- `unattributed`, counted so that none goes unsaid.
-- name: input-files
with ledger as (
    select
        l.*,
        l.rows_loaded > 0 and coalesce(l.tables, '') <> ''
        and list_has_all(getvariable('reference_tables'), string_split(l.tables, ',')) as reference_file,
        exists(
            select 1 from ingest_tenants as t
            where t.source_sha256 = l.source_sha256 and t.snapshot_date is not distinct from l.snapshot_date
                and in_scope(t.tenant_id)
        ) as brought_scope_rows,
        exists(
            select 1 from ingest_tenants as t
            where t.source_sha256 = l.source_sha256 and t.snapshot_date is not distinct from l.snapshot_date
        ) as brought_rows
    from ingest_ledger as l
)

select
    source_file,
    source_sha256,
    source_format,
    rows_loaded,
    cast(snapshot_date as varchar) as snapshot_date,
    not scoped() or reference_file or brought_scope_rows as listed,
    scoped() and not reference_file and not brought_rows as unattributed
from ledger
order by source_file, source_sha256, snapshot_date;

-- name: parameters
select * from kpi_parameters where period_start = getvariable('period_start');
