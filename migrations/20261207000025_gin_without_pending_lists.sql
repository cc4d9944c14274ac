-- Searches no longer read a GIN index's pending list.
--
-- With `fastupdate` (PostgreSQL's default) a GIN index gathers new rows' entries in an
-- unsorted pending list of up to `gin_pending_list_limit` (4 MB) and merges them into the
-- index only when the list is full or a vacuum runs. Every search through the index reads
-- the whole list: a keyword query took 1.98 ms with a list against 0.50 ms without, an
-- identities' substring search 11.06 ms against 0.91 ms (scripts/bench-gin.sh,
-- docs/benchmarks.md), until autovacuum came. Without the list each insert places its
-- entries in the index at once: one memory's insert costs the same, one identity's
-- 0.14 ms more, a bulk SQL insert 44% more (the API's bulk ingest waits on the embedding
-- model far longer).
--
-- `memories` is partitioned: a partitioned index takes no storage parameters, so each
-- partition's index is altered, and what its pending list holds now is merged.

do $$
declare
    idx regclass;
begin
    for idx in
        select i.inhrelid::regclass
        from pg_inherits i
        where i.inhparent in ('memories_search_idx'::regclass, 'memories_tags_idx'::regclass,
                              'memories_metadata_idx'::regclass)
        union all
        select 'identities_search_idx'::regclass
    loop
        execute format('alter index %s set (fastupdate = off)', idx);
        perform gin_clean_pending_list(idx);
    end loop;
end
$$;
