-- Queued and sent mail keeps no personal data in the clear (docs/data-protection.md, "Copies
-- of personal data elsewhere"): from format 2 on, the recipient travels inside the sealed
-- body (sealed by the master key, its context naming the tenant and the message), the
-- subject (which names the inviter) is made again from the body when shown, and the
-- recipient's blind index (the domain of identities' addresses) lets erasure find a
-- person's mail. Rows of format 1 (written before) keep `to_address` and `subject` until
-- they are sent and cleaned up (30 days).
alter table mail_outbox
    alter column to_address drop not null,
    alter column subject drop not null,
    add column format   smallint not null default 1 check (format in (1, 2)),
    add column to_index bytea check (to_index is null or length(to_index) = 16),
    add constraint mail_outbox_sealed_check check (
        format = 1 and to_address is not null and subject is not null
        or format = 2 and to_address is null and subject is null);
create index mail_outbox_to_index_idx on mail_outbox (tenant_id, to_index) where to_index is not null;
