-- Invitations' personal fields sealed (docs/data-protection.md): the address and the
-- inviter's message are stored as envelopes under a key of the invitation's own, wrapped
-- by the tenant's data key and kept in the row, so deleting the invitation (as erasing the
-- person it invited does) erases them and every copy sealed under that key (the audit
-- records and events of the invitation). `email_index` is the address's blind index, for
-- the pending-invitation check and for finding a person's invitations.
--
-- Rows written before this migration keep `email` and `message` in plain text (and no
-- key) until the sealing job reaches them; a sealed row has `email` null and `message`
-- empty.
alter table invitations
    alter column email drop not null,
    add column email_sealed   bytea,
    add column message_sealed bytea,
    add column email_index    bytea check (email_index is null or length(email_index) = 16),
    add column key_wrapped    bytea;

create index invitations_email_index_idx on invitations (tenant_id, email_index)
    where email_index is not null;
