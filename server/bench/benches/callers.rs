//! What resolving the caller of a request costs when this instance has met them before:
//! the access token's check (first sight: the Ed25519 signature; after: the remembered
//! token, whose expiry alone is checked again) and the caller from memory (see
//! `service::auth::callers`). No database is involved on this path.
//!
//! `make bench` runs it; figures in docs/benchmarks.md.

use std::hint::black_box;
use std::sync::Arc;

use bench::{as_specs, policies, roles};
use criterion::Criterion;
use service::auth::callers::{CallerCache, Known};
use service::auth::keys::KeyRing;
use service::auth::known_caller;
use service::auth::tokens::Tokens;
use service::authz::cache::AuthzCache;
use service::authz::engine::Compiled;
use service::ctx::{AuthMethod, Plan};
use uuid::Uuid;

const TENANT: Uuid = Uuid::from_u128(7);
const IDENTITY: Uuid = Uuid::from_u128(42);

fn known() -> Known {
    Known {
        tenant_slug: "acme".into(),
        tenant_name: "Acme".into(),
        plan: Plan::PRO,
        email: Some("ada@acme.test".into()),
        display_name: "Ada Lovelace".into(),
        kind: "user".into(),
        metadata: serde_json::json!({"team": "platform"}),
        roles: roles().iter().map(|r| r.id).collect(),
        groups: vec![],
        external_id: None,
        created_at: time::OffsetDateTime::UNIX_EPOCH,
        updated_at: time::OffsetDateTime::UNIX_EPOCH,
        tenant_created_at: time::OffsetDateTime::UNIX_EPOCH,
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    // The key ring's (never used) pool is made inside the runtime.
    let _inside = runtime.enter();
    let tokens = Tokens::new(KeyRing::ephemeral(900).expect("key ring"), 900, 3600);
    let callers = CallerCache::default();
    callers.set_online(true);
    let authz = AuthzCache::default();
    authz.set_online(true);
    let compiled =
        Compiled::new(roles(), None, vec![], as_specs(&policies(100, 1))).expect("compiles");
    authz.remember(TENANT, Arc::new(compiled));
    callers.remember(TENANT, IDENTITY, known());
    let caller =
        known_caller(&callers, &authz, TENANT, IDENTITY, AuthMethod::AccessToken).expect("kept");
    let token = tokens.issue_access(&caller).expect("token");

    let mut group = c.benchmark_group("caller");
    group.bench_function("token first sight (signature)", |b| {
        b.iter(|| {
            // A fresh ring each time would measure key generation; a fresh Tokens forgets.
            let fresh = Tokens::new(tokens.keys.clone(), 900, 3600);
            runtime
                .block_on(fresh.verify_access(black_box(&token)))
                .expect("valid")
        })
    });
    group.bench_function("token remembered + caller kept", |b| {
        b.iter(|| {
            let claims = runtime
                .block_on(tokens.verify_access(black_box(&token)))
                .expect("valid");
            known_caller(
                &callers,
                &authz,
                claims.tid,
                claims.sub,
                AuthMethod::AccessToken,
            )
            .expect("kept")
        })
    });
    group.finish();
    c.final_summary();
}
