-- A console session holds the sign-ins of every tenant its browser switched between
-- (data -> 'signins'); ending an identity's sessions ends every session holding a sign-in
-- of it, wherever that session currently points. The index keeps that lookup off a scan.
create index sessions_signins_idx on sessions using gin ((data -> 'signins') jsonb_path_ops);

-- When an identity's sessions were last ended for everyone (a reset, a disable, an admin's
-- revoke): a sign-in older than that no longer stands, even if a session holding it
-- survived somewhere.
alter table identities add column sessions_valid_after timestamptz;
