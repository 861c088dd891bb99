-- Coverage: which exports each client's figures rest on at as_of, and which KPIs were therefore
-- measured (docs/kpi-definitions.md, "Measured or not": a KPI whose input table has no rows for a
-- scope at as_of is not_measured, value null, never a measured zero).
--
-- An input (a canonical table) is present for a client when the client has rows of it:
--   devices, patch_status, device_patch_summary: in the device state at as_of (compliance.sql's
--     population: the client's current devices snapshot, and its devices' patch snapshots and
--     summaries on or before as_of), read from there rather than by scanning a month of patch
--     rows a second time;
--   patch_attempts: an attempt before the period end instant;
--   tickets, changes: a row created before the period end instant;
--   kev, patch_cves: reference tables that serve every client: any row at all (with rows present
--     the exposure KPIs are computed, a lower bound when the reference lags: vulnerability.sql).
-- The portfolio (tenant_id null) has an input when any client has it.
-- A client is stale when its latest devices snapshot is more than stale_tenant_days before as_of:
--   its figures are those of that snapshot, and every report says since when.
--
-- data_coverage: one row per client and input table, and the portfolio's (tenant_id null), with
--   the rows of it (for devices, patch_status and device_patch_summary: the devices of the
--   current snapshot that have it) and the latest date.
-- figure_coverage: one row per figure (a KPI, or a control test of the reports) and client, and
--   the portfolio's. figure_inputs (src/catalog.rs) lists each figure's inputs in groups: a figure
--   is measured for a client when each group has an input present (device compliance needs
--   devices, and patch_status or device_patch_summary). The portfolio is measured when at least
--   one client is; note says which clients it leaves out, and which of its clients' figures
--   stand on exports that stopped. missing: the exports a figure lacks, where it is not measured.
--   The note says why, in words a report prints after the status it qualifies ("not measured:
--   no RMM per-patch status export for this client on or before 2026-10-31", "stale: no RMM
--   export since 2026-10-12").

create or replace temp table data_coverage as
with patch_attempts as not materialized (
    select * from lake.patch_attempts
),

tickets as not materialized (
    select * from lake.tickets
),

changes as not materialized (
    select * from lake.changes
),

kev as not materialized (
    select * from lake.kev
),

patch_cves as not materialized (
    select * from lake.patch_cves
),

settings as (
    select * from params
),

-- What each input is, in the words of the one who has to send it.
exports as (
    select e.input_table, e.reference, e.export from (
        values
        ('devices', false, 'RMM devices export'),
        ('patch_status', false, 'RMM per-patch status export'),
        ('device_patch_summary', false, 'RMM per-device patch summary export'),
        ('patch_attempts', false, 'RMM patch history (install attempts) export'),
        ('tickets', false, 'PSA tickets export'),
        ('changes', false, 'PSA changes export'),
        ('kev', true, 'CISA KEV catalog (known_exploited_vulnerabilities.json, --source cisa-kev-json)'),
        ('patch_cves', true, 'MSRC CVRF documents (update to CVE, --source msrc-cvrf-json)')
    ) as e (input_table, reference, export)
),

-- The device state at as_of: each client's current devices, with their patch snapshots and
-- summaries (the rows counted are devices).
device_state as (
    select * from compliance_population where back = 0
),

tenant_rows as (
    select 'devices' as input_table, d.tenant_id, count(*) as row_count, max(d.snapshot_date) as last_date
    from device_state as d
    group by d.tenant_id
    union all
    select 'patch_status', d.tenant_id, count(d.patch_snapshot_date), max(d.patch_snapshot_date)
    from device_state as d
    group by d.tenant_id
    union all
    select 'device_patch_summary', d.tenant_id, count(d.summary_status), null
    from device_state as d
    group by d.tenant_id
    union all
    select 'patch_attempts', a.tenant_id, count(*), max(cast(a.attempt_utc as date))
    from patch_attempts as a cross join settings
    where a.attempt_utc < settings.period_end_instant
    group by a.tenant_id
    union all
    select 'tickets', t.tenant_id, count(*), max(cast(t.created_utc as date))
    from tickets as t cross join settings
    where t.created_utc < settings.period_end_instant
    group by t.tenant_id
    union all
    select 'changes', c.tenant_id, count(*), max(cast(c.created_utc as date))
    from changes as c cross join settings
    where c.created_utc < settings.period_end_instant
    group by c.tenant_id
),

reference_rows as (
    select 'kev' as input_table, count(*) as row_count, max(date_added) as last_date from kev
    union all
    select 'patch_cves', count(*), null from patch_cves
),

by_tenant as (
    select t.tenant_id, e.input_table, e.export, coalesce(r.row_count, 0) as row_count, r.last_date
    from tenant_scopes as t
    cross join exports as e
    left join tenant_rows as r on e.input_table = r.input_table and t.tenant_id = r.tenant_id
    where not e.reference
    union all
    select t.tenant_id, e.input_table, e.export, r.row_count, r.last_date
    from tenant_scopes as t
    cross join exports as e
    join reference_rows as r on e.input_table = r.input_table
),

portfolio as (
    select
        cast(null as varchar) as tenant_id,
        e.input_table,
        e.export,
        coalesce(sum(b.row_count), 0) as row_count,
        max(b.last_date) as last_date
    from exports as e
    left join by_tenant as b on e.input_table = b.input_table and not e.reference
    where not e.reference
    group by e.input_table, e.export
    union all
    select null, e.input_table, e.export, r.row_count, r.last_date
    from exports as e
    join reference_rows as r on e.input_table = r.input_table
)

select
    c.tenant_id,
    c.input_table,
    c.export,
    c.row_count > 0 as present,
    cast(c.row_count as bigint) as row_count,
    c.last_date,
    case
        when c.input_table = 'devices' and c.tenant_id is not null and c.row_count > 0
            then settings.as_of - c.last_date > settings.stale_tenant_days
    end as stale
from (
    select * from by_tenant
    union all
    select * from portfolio
) as c
cross join settings
-- In a total order, so the output file is the same bytes however many threads computed it.
order by c.tenant_id nulls first, c.input_table;

-- A note names five clients at the most; the workbook's Data quality sheet lists them all.
create or replace temp macro first_names(names) as
array_to_string(list_slice(names, 1, 5), ', ')
|| case when len(names) > 5 then ' and ' || (len(names) - 5) || ' more' else '' end;

create or replace temp table figure_coverage as
with tenants as not materialized (
    select * from lake.tenants
),

client_names as (
    select tenant_id, coalesce(max(nullif(trim(tenant_name), '')), tenant_id) as client
    from tenants
    group by tenant_id
),

settings as (
    select * from params
),

-- Each figure's input groups in words ("RMM per-patch status export or RMM per-device patch
-- summary export"), once: not once a client.
group_exports as (
    select k.figure, k.input_group, string_agg(c.export, ' or ' order by c.input_table) as exports
    from figure_inputs as k
    join data_coverage as c on k.input_table = c.input_table
    where c.tenant_id is null
    group by k.figure, k.input_group
),

-- Each figure's input groups, judged per client: a group holds when one of its inputs is present.
groups_by_tenant as (
    select k.figure, k.kind, c.tenant_id, k.input_group, bool_or(c.present) as held
    from figure_inputs as k
    join data_coverage as c on k.input_table = c.input_table
    where c.tenant_id is not null
    group by k.figure, k.kind, c.tenant_id, k.input_group
),

-- Measured when every group holds; the groups that do not, as bits of one number, so that their
-- words are put together once for each combination rather than once a client.
by_tenant as (
    select
        g.figure,
        g.kind,
        g.tenant_id,
        bool_and(g.held) as measured,
        bit_or(cast(1 as bigint) << g.input_group) filter (where not g.held) as missing_groups
    from groups_by_tenant as g
    group by g.figure, g.kind, g.tenant_id
),

missing_words as (
    select m.figure, m.missing_groups, string_agg(e.exports, '; ' order by e.input_group) as missing
    from (select distinct figure, missing_groups from by_tenant where missing_groups is not null) as m
    join group_exports as e on m.figure = e.figure and (m.missing_groups >> e.input_group) & 1 = 1
    group by m.figure, m.missing_groups
),

-- The clients whose figures stand on a devices snapshot that stopped arriving.
stale_tenants as (
    select c.tenant_id, c.last_date as last_devices_snapshot
    from data_coverage as c
    where c.input_table = 'devices' and c.stale
),

reads_devices as (
    select distinct figure from figure_inputs where input_table = 'devices'
),

tenant_rows as (
    select
        b.figure,
        b.kind,
        b.tenant_id,
        b.measured,
        w.missing,
        case when b.measured and r.figure is not null then s.last_devices_snapshot end as stale_since,
        case
            when not b.measured
                then 'no ' || w.missing || ' for this client on or before ' || strftime(settings.as_of, '%Y-%m-%d')
            when r.figure is not null and s.tenant_id is not null
                then 'no RMM export since ' || strftime(s.last_devices_snapshot, '%Y-%m-%d')
        end as note
    from by_tenant as b
    cross join settings
    left join missing_words as w on b.figure = w.figure and b.missing_groups = w.missing_groups
    left join reads_devices as r on b.figure = r.figure
    left join stale_tenants as s on b.tenant_id = s.tenant_id
),

-- The export groups the portfolio's unmeasured clients lack, each with how many lack it: the
-- portfolio's note names the groups every one of them lacks (a reference file nobody sent), or,
-- when they lack different things, each group some lack.
portfolio_gaps as (
    select c.figure, e.exports, c.clients
    from (
        select g.figure, g.input_group, count(*) as clients
        from groups_by_tenant as g
        join by_tenant as b on g.figure = b.figure and g.tenant_id = b.tenant_id
        where not g.held and not b.measured
        group by g.figure, g.input_group
    ) as c
    join group_exports as e on c.figure = e.figure and c.input_group = e.input_group
),

unmeasured_counts as (
    select figure, count(*) filter (where not measured) as unmeasured from by_tenant group by figure
),

portfolio_missing as (
    select
        gp.figure,
        coalesce(
            string_agg(gp.exports, '; ' order by gp.exports) filter (where gp.clients = u.unmeasured),
            string_agg(gp.exports, '; ' order by gp.exports)
        ) as missing
    from portfolio_gaps as gp
    join unmeasured_counts as u on gp.figure = u.figure
    group by gp.figure
),

portfolio as (
    select
        k.figure,
        k.kind,
        coalesce(bool_or(t.measured), false) as measured,
        count(t.tenant_id) filter (where not t.measured) as unmeasured_clients,
        list(n.client order by n.client, t.tenant_id) filter (where not t.measured) as unmeasured_names,
        count(t.tenant_id) filter (where t.stale_since is not null) as stale_clients,
        list(
            n.client || ' (since ' || strftime(t.stale_since, '%Y-%m-%d') || ')' order by n.client, t.tenant_id
        ) filter (where t.stale_since is not null) as stale_names
    from (select distinct figure, kind from figure_inputs) as k
    left join tenant_rows as t on k.figure = t.figure
    left join client_names as n on t.tenant_id = n.tenant_id
    group by k.figure, k.kind
)

select figure, kind, tenant_id, measured, missing, stale_since, note
from tenant_rows
union all
select
    p.figure,
    p.kind,
    null,
    p.measured,
    case when not p.measured then m.missing end,
    null,
    nullif(concat_ws(
        '; ',
        case
            when not p.measured and m.missing is null then 'the lake has no clients'
            when not p.measured then 'no client has the exports this figure needs (' || m.missing || ')'
            when p.unmeasured_clients > 0
                then 'leaves out ' || p.unmeasured_clients || ' client(s) with no ' || m.missing || ': '
                || first_names(p.unmeasured_names)
        end,
        case
            when p.measured and p.stale_clients > 0
                then 'includes ' || p.stale_clients || ' client(s) whose RMM exports stopped: '
                || first_names(p.stale_names)
        end
    ), '') as note
from portfolio as p
left join portfolio_missing as m on p.figure = m.figure
-- In a total order, so the output file is the same bytes however many threads computed it.
order by all;

drop macro first_names;
