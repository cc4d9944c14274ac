-- Searches through GIN indexes under row-level security.
--
-- Row-level security evaluates a query's own conditions after the policy's
-- (`tenant_id = tenantry_current_tenant()`) unless the functions behind them are
-- LEAKPROOF, lest a condition reveal something of a row the policy hides. None of the
-- operators the searches' GIN indexes serve is marked so: `@@` (full text), `like` (the
-- identities' trigram index) and `@>` (memories' tags and metadata). So, as the
-- application role, every keyword search read each of its tenant's memories (490 ms at
-- 100,000 memories against 5.8 ms through the index, docs/benchmarks.md), and so did the
-- identities' substring search and the tag and metadata filters.
--
-- They are marked LEAKPROOF here. What that gives up: the assurance that a query run as
-- `tenantry_app` cannot learn, from an error these functions raise, about a row another
-- tenant holds. Only Tenantry's own statements run as that role; none calls them in a way
-- whose errors depend on a row (a LIKE pattern is always the query's, never a column), and
-- each condition still meets the tenant's policy in the same plan node.
--
-- Only a superuser may mark a function LEAKPROOF. The embedded cluster migrates as one; on
-- a database whose migrating role is not, this leaves a warning (and the server repeats it
-- at start): searches then work, reading every row of the tenant. docs/configuration.md
-- says what a database administrator runs instead.
do $$
begin
    if (select rolsuper from pg_roles where rolname = current_user) then
        alter function ts_match_vq(tsvector, tsquery) leakproof;
        alter function textlike(text, text) leakproof;
        alter function arraycontains(anyarray, anyarray) leakproof;
        alter function jsonb_contains(jsonb, jsonb) leakproof;
    else
        raise warning 'not a superuser: searches cannot use their indexes under row-level security (see docs/configuration.md)';
    end if;
end
$$;
