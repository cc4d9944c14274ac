//! Row-level security is a real second wall: the application role sees no tenant rows
//! without the tenant setting, and only that tenant's rows with it.

use sqlx::{Connection, Row};

use crate::helpers::TestApp;

/// A transaction on `conn` scoped to `tenant`, as the service opens one.
async fn in_tenant(
    conn: &mut sqlx::PgConnection,
    tenant: uuid::Uuid,
) -> sqlx::Transaction<'_, sqlx::Postgres> {
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("select set_config('tenantry.tenant_id', $1, true)")
        .bind(tenant.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    tx
}

#[tokio::test]
async fn the_application_role_sees_nothing_without_a_tenant() {
    let app = TestApp::spawn().await;
    let mut conn = sqlx::PgConnection::connect(&app.db_url).await.unwrap();

    // As the owner of the schema (superuser here), every row is there.
    let total: i64 = sqlx::query_scalar("select count(*) from identities")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(total, 2);

    sqlx::query("set role tenantry_app")
        .execute(&mut conn)
        .await
        .unwrap();
    // Which tables are walled is read from the catalogue (the test below), not a list.
    // The trail is append-only for the application, its chain is out of reach, and
    // the partitions of `memories` are reached only through `memories` and its policy.
    for sql in [
        "select count(*) from memories_p00",
        "delete from memories_p15",
        "update audit_log set outcome = 'failure'",
        "delete from audit_log",
        "update audit_chain_heads set seq = 0",
        // A record's place in the chain is the sealer's to give, not the writer's.
        "insert into audit_log (tenant_id, id, actor_type, action, target_type, seq, prev_hash, hash)
         values (gen_random_uuid(), gen_random_uuid(), 'system', 'forged', 'x', 1, '\\x00', '\\x00')",
        "select tenantry_audit_seal_any(gen_random_uuid(), 1, true)",
        "insert into audit_checkpoints (tenant_id, seq, hash, pruned) values (gen_random_uuid(), 1, '\\x00', 1)",
    ] {
        let err = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("permission denied"),
            "{sql}: {err}"
        );
    }

    let mut tx = in_tenant(&mut conn, app.acme.id).await;
    let rows = sqlx::query("select tenant_id from identities")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<uuid::Uuid, _>(0), app.acme.id);

    // Writing into another tenant is refused by the policy's WITH CHECK.
    let err = sqlx::query(
        "insert into identities (tenant_id, id, email, kind) values ($1, $2, 'x@y.z', 'user')",
    )
    .bind(app.globex.id)
    .bind(uuid::Uuid::now_v7())
    .execute(&mut *tx)
    .await
    .unwrap_err();
    assert!(err.to_string().contains("row-level security"), "{err}");
    tx.rollback().await.unwrap();

    // And the role cannot switch the wall off.
    let err = sqlx::query("alter table identities disable row level security")
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("must be owner"), "{err}");
}

/// The tables that hold a `tenant_id` but no row-level security, on purpose: job tables the
/// workers claim across tenants, the id→tenant lookups, the sessions store (looked up by
/// the hash of a cookie before any tenant is known), and the limits' tables the operator
/// reads across tenants (overrides, and the counts every instance adds to for many tenants
/// at once). Every tenant-facing read of them filters on `tenant_id` and goes through a
/// table that row-level security guards, or takes the caller's own tenant id. The
/// docs/security.md names them too.
const GLOBAL: [&str; 8] = [
    "api_key_tenants",
    "mail_outbox",
    "rate_limit_usage",
    "sessions",
    "sso_provider_tenants",
    "tenant_limits",
    "webhook_attempts",
    "webhook_deliveries",
];

#[tokio::test]
async fn every_table_with_a_tenant_id_is_walled_but_the_documented_global_ones() {
    let app = TestApp::spawn().await;
    // Rows in the other tenant for the tables a hand-kept list used to miss.
    let globex = crate::helpers::owner_ctx(&app.db, &app.globex).await;
    service::invitations::create(
        &globex,
        &app.db,
        service::invitations::NewInvitation {
            email: "walled@globex.test".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    service::webhooks::create(
        &globex,
        &app.db,
        service::webhooks::Input {
            name: Some("Walled".into()),
            url: Some(crate::helpers::receiver().url("walled")),
            event_types: Some(vec!["identity.*".into()]),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    service::sso::create(
        &globex,
        &app.db,
        service::sso::ProviderInput {
            name: Some("Walled IdP".into()),
            issuer: Some(crate::helpers::oidc_provider().issuer()),
            client_id: Some("walled".into()),
            client_secret: Some("walled-secret".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    service::account::request_password_reset(
        &service::Ctx::system(),
        &app.db,
        "globex",
        &app.globex.owner_email,
    )
    .await
    .unwrap();

    let mut conn = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    let tables: Vec<(String, bool)> = sqlx::query_as(
        "select c.relname::text, c.relrowsecurity from pg_class c
         join pg_namespace n on n.oid = c.relnamespace
         join pg_attribute a on a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped
         where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition
         order by 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for global in GLOBAL {
        assert!(
            tables.iter().any(|(t, _)| t == global),
            "{global} is listed as global but is gone: update the list"
        );
    }
    let walled: Vec<&str> = tables
        .iter()
        .filter(|(t, _)| !GLOBAL.contains(&t.as_str()))
        .map(|(t, rls)| {
            assert!(rls, "{t} has a tenant_id and no row-level security");
            t.as_str()
        })
        .collect();
    assert!(walled.len() >= 20, "{walled:?}");

    sqlx::query("set role tenantry_app")
        .execute(&mut conn)
        .await
        .unwrap();
    let mut tx = conn.begin().await.unwrap();
    for table in &walled {
        let count = |sql: String| sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql));
        // No tenant set: nothing at all.
        let n = count(format!("select count(*) from {table}"))
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(n, 0, "{table} shows rows without a tenant");
    }
    sqlx::query("select set_config('tenantry.tenant_id', $1, true)")
        .bind(app.acme.id.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    for table in &walled {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select count(*) from {table} where tenant_id <> $1"
        )))
        .bind(app.acme.id)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        assert_eq!(n, 0, "{table} shows another tenant's rows");
    }
    tx.rollback().await.unwrap();
    // And the rows are there for the other tenant (the walls hold something).
    let mut conn = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    for table in [
        "invitations",
        "webhook_subscriptions",
        "sso_providers",
        "password_resets",
    ] {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select count(*) from {table} where tenant_id = $1"
        )))
        .bind(app.globex.id)
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert!(n > 0, "{table} holds no row of the other tenant");
    }
}

#[tokio::test]
async fn the_servers_connections_cannot_leave_the_application_role() {
    let app = TestApp::spawn().await;
    let mut conn = app.db.pool_for_tests().acquire().await.unwrap();
    // A statement that found its way in cannot become anyone stronger.
    sqlx::query("reset role").execute(&mut *conn).await.unwrap();
    let (user, superuser, owned): (String, bool, i64) = sqlx::query_as(
        "select current_user::text,
                (select rolsuper from pg_roles where rolname = current_user),
                (select count(*) from pg_class where relowner =
                    (select oid from pg_roles where rolname = current_user))",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(user, "tenantry_app");
    assert!(!superuser);
    assert_eq!(owned, 0, "the application role owns no table");
    let err = sqlx::query("set role tenantry")
        .execute(&mut *conn)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");

    // Inside acme's transaction: no plan or retention change, no pruning of globex.
    let mut tx = app.db.pool_for_tests().begin().await.unwrap();
    sqlx::query("select set_config('tenantry.tenant_id', $1, true)")
        .bind(app.acme.id.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    for sql in [
        "update tenants set plan = 'enterprise' where id = $1",
        "update tenants set audit_retention_days = 1 where id = $1",
    ] {
        let err = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(app.acme.id)
            .execute(&mut *tx)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("permission denied"),
            "{sql}: {err}"
        );
        tx.rollback().await.unwrap();
        tx = app.db.pool_for_tests().begin().await.unwrap();
        sqlx::query("select set_config('tenantry.tenant_id', $1, true)")
            .bind(app.acme.id.to_string())
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    for sql in [
        "select tenantry_audit_prune($1)",
        "select tenantry_events_prune($1, 1, 10)",
    ] {
        let err = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(app.globex.id)
            .execute(&mut *tx)
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("only on the tenant of its transaction"),
            "{sql}: {err}"
        );
        tx.rollback().await.unwrap();
        tx = app.db.pool_for_tests().begin().await.unwrap();
        sqlx::query("select set_config('tenantry.tenant_id', $1, true)")
            .bind(app.acme.id.to_string())
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    // Its own tenant's work still runs.
    let n: i64 = sqlx::query_scalar("select tenantry_events_prune($1, 3650, 10)")
        .bind(app.acme.id)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

/// `tenantry_identity_get` (one round trip for `GET /v1/identities/{id}`) sets the tenant
/// for its own statement only: row-level security still applies to its read, nothing is
/// left set after it, and inside a transaction the transaction's tenant is put back.
#[tokio::test]
async fn a_one_trip_read_scopes_only_itself() {
    let app = TestApp::spawn().await;
    let mut conn = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    sqlx::query("set role tenantry_app")
        .execute(&mut conn)
        .await
        .unwrap();
    async fn get(
        conn: &mut sqlx::PgConnection,
        tenant: uuid::Uuid,
        id: uuid::Uuid,
    ) -> Option<uuid::Uuid> {
        sqlx::query_scalar("select id from tenantry_identity_get($1, $2)")
            .bind(tenant)
            .bind(id)
            .fetch_optional(conn)
            .await
            .unwrap()
    }

    let found = get(&mut conn, app.acme.id, app.acme.owner_id).await;
    assert_eq!(found, Some(app.acme.owner_id));
    // Asked in one tenant for another's identity: nothing.
    assert_eq!(get(&mut conn, app.acme.id, app.globex.owner_id).await, None);
    // The statement's setting did not outlive it.
    let visible: i64 = sqlx::query_scalar("select count(*) from identities")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(visible, 0);

    let mut tx = in_tenant(&mut conn, app.acme.id).await;
    let found = get(&mut tx, app.globex.id, app.globex.owner_id).await;
    assert_eq!(found, Some(app.globex.owner_id));
    let tenants: Vec<uuid::Uuid> = sqlx::query_scalar("select tenant_id from identities")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(tenants, vec![app.acme.id]);
    tx.rollback().await.unwrap();
}

/// Row-level security does not keep searches off their indexes: as the application role,
/// inside a tenant, each search's condition is answered by its GIN index (migration 027
/// marked the functions behind the operators LEAKPROOF; without that, each plan reads every
/// row of the tenant: a sequential scan, or the tenant's rows through another index).
#[tokio::test]
async fn searches_use_their_indexes_under_row_level_security() {
    let app = TestApp::spawn().await;
    let mut conn = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    // Enough rows, each search matching few, that an index is the plan to choose whenever
    // it may be used (written here as the cluster's superuser, past row-level security).
    for sql in [
        "insert into memories (tenant_id, id, text, tags, metadata, embedding, embedding_model,
                               embedding_dim, content_hash)
         select $1, gen_random_uuid(), 'note ' || i || ' about ' || md5(i::text),
                array[md5(i::text)], jsonb_build_object('team', md5(i::text)),
                '[0.1,0.2,0.3]'::vector, 'm', 3, sha256(i::text::bytea)
         from generate_series(1, 3000) i",
        "insert into identities (tenant_id, id, email, display_name, kind, name_grams)
         select $1, gen_random_uuid(), 'person' || i || '@example.test', md5(i::text), 'user',
                array[i, i + 100000, i + 200000]
         from generate_series(1, 3000) i",
    ] {
        sqlx::query(sql)
            .bind(app.acme.id)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    sqlx::query("analyze memories, identities")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("set role tenantry_app")
        .execute(&mut conn)
        .await
        .unwrap();
    let mut tx = in_tenant(&mut conn, app.acme.id).await;
    // A table this small may still be read whole; the choice that matters is between the
    // search's own index and the tenant's rows through another.
    sqlx::query("set local enable_seqscan = off")
        .execute(&mut *tx)
        .await
        .unwrap();
    for (condition, index) in [
        (
            "memories m where m.tenant_id = $1 and m.search @@ websearch_to_tsquery('english', 'c4ca4238a0b923820dcc509a6f75849b')",
            "_search_idx",
        ),
        (
            "memories m where m.tenant_id = $1 and m.tags @> array['c4ca4238a0b923820dcc509a6f75849b']",
            "_tags_idx",
        ),
        (
            "memories m where m.tenant_id = $1 and m.metadata @> '{\"team\": \"c4ca4238a0b923820dcc509a6f75849b\"}'",
            "_metadata_idx",
        ),
        (
            "identities i where i.tenant_id = $1 and i.search_text like '%person2999@%'",
            "identities_search_idx",
        ),
        (
            "identities i where i.tenant_id = $1 and i.name_grams @> array[2999, 102999]",
            "identities_name_grams_idx",
        ),
    ] {
        let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "explain (costs off) select * from {condition}"
        )))
        .bind(app.acme.id)
        .fetch_all(&mut *tx)
        .await
        .unwrap();
        let plan = plan.join("\n");
        assert!(
            plan.contains("Index Scan") && plan.contains(index) && !plan.contains("Seq Scan"),
            "{condition}:\n{plan}"
        );
    }
}
