-- Invitations: a person is asked by email to join a tenant with roles and groups. The
-- invitee holds `iv1.<tenant><id><secret>`; only SHA-256 of the secret is stored, and a
-- resend replaces it (the old link dies).
create table invitations (
    tenant_id      uuid not null references tenants (id) on delete cascade,
    id             uuid not null,
    email          text not null,
    -- Role names granted on acceptance (a role deleted meanwhile is skipped).
    roles          text[] not null default '{}',
    group_ids      uuid[] not null default '{}',
    message        text not null default '',
    token_hash     bytea not null check (length(token_hash) = 32),
    invited_by     uuid,
    created_at     timestamptz not null default now(),
    expires_at     timestamptz not null,
    sent_count     integer not null default 1,
    last_sent_at   timestamptz not null default now(),
    accepted_at    timestamptz,
    accepted_by    uuid,
    revoked_at     timestamptz,
    primary key (tenant_id, id)
);
create index invitations_email_idx on invitations (tenant_id, lower(email));
create index invitations_created_idx on invitations (tenant_id, created_at desc);

alter table invitations enable row level security;
alter table invitations force row level security;
create policy tenant_isolation on invitations
    using (tenant_id = tenantry_current_tenant())
    with check (tenant_id = tenantry_current_tenant());
grant select, insert, update, delete on invitations to tenantry_app;

-- Mail waiting to go out, retried until sent. Global like the sessions table, because the
-- sender works for every tenant; each row names its tenant and every tenant-facing read
-- filters on it. The message is sealed with the master key: it carries a link that is a
-- credential.
create table mail_outbox (
    id              uuid primary key,
    tenant_id       uuid references tenants (id) on delete cascade,
    kind            text not null,
    -- What the mail is about (an invitation id), to find it from there.
    subject_id      uuid,
    to_address      text not null,
    subject         text not null,
    body_sealed     bytea not null,
    created_at      timestamptz not null default now(),
    attempts        integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    -- `smtp` once the SMTP server accepted it; `log` when no SMTP server is configured and
    -- the mail was written to the log instead.
    sent_via        text check (sent_via in ('smtp', 'log')),
    sent_at         timestamptz,
    failed_at       timestamptz,
    last_error      text
);
create index mail_outbox_due_idx on mail_outbox (next_attempt_at) where sent_at is null and failed_at is null;
create index mail_outbox_tenant_idx on mail_outbox (tenant_id, created_at desc);
grant select, insert, update, delete on mail_outbox to tenantry_app;
