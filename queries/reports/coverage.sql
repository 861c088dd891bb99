-- What the period's figures rest on, for the report's scope (queries/coverage.sql computes it with
-- the KPIs): the clients whose RMM exports stopped, the exports a client never sent, and whether a
-- figure (a KPI, a control test) could be measured, for the period bound as
-- `getvariable('period_start')`.

-- A figure (`getvariable('kind')` 'kpi' or 'control_test', `getvariable('figure')` its name) for the report's own scope:
-- whether it was measured, whether it stands on a client's export that stopped, and the note (a client's missing export, stale figures; the
-- portfolio's clients left out). No row: a control test that reads govpack's own records
-- (intake validation), always there.
-- name: figure
select measured, stale_since is not null as stale, note from figure_coverage
where period_start = getvariable('period_start') and kind = getvariable('kind') and figure = getvariable('figure') and own_scope(tenant_id);

-- The clients in scope whose latest devices snapshot is older than stale_tenant_days at as-of,
-- oldest first: their figures are those of that snapshot.
-- name: stale-clients
select client_name(tenant_id) as client, tenant_id, cast(last_date as varchar) as last_export
from data_coverage
where period_start = getvariable('period_start') and input_table = 'devices' and stale and in_scope(tenant_id)
order by last_date, client, tenant_id;

-- The exports clients in scope lack, one row each (an export, or a group of alternatives: "RMM
-- per-patch status export"), with how many clients in scope lack it, the first five by name, how
-- many clients are in scope, and the KPIs not measured for want of it. Page 1 says each once, so
-- a reference file nobody sent is one line, not one a client.
-- name: unmeasured-clients
with gaps as (
    select c.tenant_id, c.figure, unnest(string_split(c.missing, '; ')) as export
    from figure_coverage as c
    where c.period_start = getvariable('period_start') and c.kind = 'kpi' and not c.measured and c.tenant_id is not null and in_scope(c.tenant_id)
),

scope as (
    select count(*) as clients from client_names where in_scope(tenant_id)
)

select
    g.export,
    count(distinct g.tenant_id) as clients,
    array_to_string(list_slice(list(distinct n.client order by n.client), 1, 5), ', ') as first_clients,
    (select s.clients from scope as s) as scope_clients,
    string_agg(distinct g.figure, ',' order by g.figure) as kpis
from gaps as g
join client_names as n on g.tenant_id = n.tenant_id
group by g.export
order by clients desc, g.export;
