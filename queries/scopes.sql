-- Scopes: the tenants every tenant-scoped KPI reports on (docs/kpi-definitions.md, "Which scope rows
-- exist").
--
-- tenant_scopes = every tenant of the tenants table, with or without rows in the period, so that a
--   client with an empty population shows its row (denominator 0, value null) in every family.
--
-- docs/canonical-model.md: "Every row's tenant exists": ingest quarantines a row whose tenant the
-- tenants table lacks (unknown_tenant). A lake assembled another way (Parquet copied in by hand)
-- can still hold such rows; they would count in the portfolio and in no client's row, so the
-- tenant rows would no longer add up to it. The run stops instead and names them: devices,
-- patch_attempts, tickets and changes are the tables whose tenant_id places a row in a KPI's
-- tenant scope (patch_status, exceptions and the rest reach a KPI through a device).

create or replace temp table tenant_scopes as
with tenants as not materialized (
    select * from lake.tenants
)

select tenant_id from tenants;

-- error() raises only when a row reaches it: with no orphan the statement returns nothing.
with devices as not materialized (
    select * from lake.devices
),

patch_attempts as not materialized (
    select * from lake.patch_attempts
),

tickets as not materialized (
    select * from lake.tickets
),

changes as not materialized (
    select * from lake.changes
)

select
    error(
        'the lake holds rows whose tenant the tenants table lacks (docs/canonical-model.md: every row''s '
        || 'tenant exists); ingest those tenants or remove the rows: '
        || string_agg(
            orphans.lake_table || ' has ' || orphans.row_count || ' rows of tenant '''
            || coalesce(orphans.tenant_id, '(none)') || '''',
            '; ' order by orphans.lake_table, orphans.tenant_id
        )
    ) as refused
from (
    select named.lake_table, named.tenant_id, count(*) as row_count
    from (
        select 'devices' as lake_table, tenant_id from devices
        union all
        select 'patch_attempts', tenant_id from patch_attempts
        union all
        select 'tickets', tenant_id from tickets
        union all
        select 'changes', tenant_id from changes
    ) as named
    where not exists (select 1 from tenant_scopes as t where t.tenant_id = named.tenant_id)
    group by named.lake_table, named.tenant_id
) as orphans
having count(*) > 0;
