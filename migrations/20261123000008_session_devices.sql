-- Sessions as their owners see them: a public id to name one (the key stays a hash of the
-- cookie), and the device they came from.
alter table sessions
    add column public_id  uuid not null default gen_random_uuid(),
    add column ip         inet,
    add column user_agent text;
create unique index sessions_public_id_idx on sessions (public_id);
