-- Memories' text sealed (issue 19, step 3; docs/data-protection.md).
--
-- A memory's text is stored in `text_sealed`, an envelope under its owner's key (the
-- tenant's data key for a memory without an owner); `text` stays only on rows written
-- before this step, until step 4's job seals them. Exactly one of the two is set.
--
-- The keyword index is derived data kept beside the sealed text: `search` holds the text's
-- lexemes, as PostgreSQL's `english` configuration makes them, each replaced by a keyed hash
-- (positions kept, so ranking is unchanged); the server computes it, so it is no longer a
-- generated column. The dedupe hash (`content_hash`) of a sealed row is keyed too.

alter table memories alter column text drop not null;
alter table memories drop constraint memories_text_check;
alter table memories add column text_sealed bytea;
alter table memories add constraint memories_text_check check (
    (text is null) <> (text_sealed is null)
    and (text is null or length(text) between 1 and 32000)
    and (text_sealed is null or length(text_sealed) <= 200000));
alter table memories alter column search drop expression;

-- A row written with its text in the clear (scripts that load synthetic memories, or a row
-- not sealed yet whose text changes through SQL) keeps a plain index of it, as the
-- generated column did.
create function tenantry_memories_plain_search() returns trigger
language plpgsql as $$
begin
    if new.text is not null then
        new.search := to_tsvector('english', new.text);
    end if;
    return new;
end
$$;
create trigger memories_plain_search before insert or update of text on memories
    for each row execute function tenantry_memories_plain_search();
