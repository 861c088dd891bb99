-- The report session: the scope a report is written for and the helpers every report query uses.
-- `report_scope` holds the tenant asked for, none for the portfolio: govpack fills it with a bound
-- value after this file runs.
create temp table report_scope (tenant_id varchar);

-- True in a client's own pack.
create temp macro scoped() as ((select count(*) from report_scope) > 0);

-- A tenant the report may show: any in the portfolio's, only the client in its own.
create temp macro in_scope(t) as (not scoped() or t in (select tenant_id from report_scope));

-- What people call a client: its tenant_name, else its id.
create temp table client_names as
select tenant_id, coalesce(max(nullif(trim(tenant_name), '')), tenant_id) as client
from tenants group by tenant_id;

create temp macro client_name(t) as
coalesce((select n.client from client_names as n where n.tenant_id = t), t); -- noqa: RF03

-- A KPI row that is the report's own figure: the portfolio's (no tenant) in the portfolio's
-- report, the client's in its own.
create temp macro own_scope(t) as (
    t is null and not scoped() or t is not null and scoped() and in_scope(t)
);
