//! Integration tests: the real router and service layer on a real PostgreSQL.

mod helpers;

mod access;
mod audit_chain;
mod callers;
mod cli;
mod console_runtimes;
mod costly;
mod escalation;
mod fleet_limits;
mod http_api_keys;
mod http_auth;
mod http_events;
mod http_identities;
mod http_invitations;
mod http_memories;
mod http_sessions;
mod http_sso;
mod http_webhooks;
mod isolation;
mod limits;
mod limits_redis;
mod object_rules;
mod ops;
mod pool;
mod privacy;
mod privacy_jobs;
mod privacy_memories;
mod query_filters;
mod quotas;
mod retention;
mod rls;
mod service_identities;
mod service_memories;
mod service_roles;
mod webhook_instances;
