-- Searches no longer read a GIN index's pending list.
--
-- With `fastupdate` (PostgreSQL's default) a GIN index gathers new rows' entries in an
-- unsorted pending list of up to `gin_pending_list_limit` (4 MB) and merges them into the
-- index only when the list is full or a vacuum runs. Every search through the index reads
-- the whole list: a keyword search over 100,000 memories took 10-21 ms in the index scan
-- with a full list against 0.14 ms once merged, and a tenant's keyword and hybrid searches
-- ran at 14-16 a second after a bulk ingest until autovacuum came (docs/benchmarks.md).
-- Without the list each insert places its entries in the index at once; what that costs a
-- write is measured in docs/benchmarks.md, and is small beside embedding the text.
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
