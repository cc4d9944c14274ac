//! Row-level security is a real second wall: the application role sees no tenant rows
//! without the tenant setting, and only that tenant's rows with it.

use sqlx::{Connection, Row};

use crate::helpers::TestApp;

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
    for table in [
        "identities",
        "audit_log",
        "outbox_events",
        "refresh_tokens",
        "roles",
        "role_permissions",
        "identity_roles",
        "groups",
        "group_members",
        "group_roles",
        "policies",
        "policy_versions",
        "api_keys",
        "memories",
        "audit_chain_heads",
        "audit_checkpoints",
    ] {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from {table}")))
                .fetch_one(&mut conn)
                .await
                .unwrap();
        assert_eq!(n, 0, "{table} leaks rows without a tenant");
    }

    // The trail is append-only for the application, its chain heads are out of reach, and
    // the partitions of `memories` are reached only through `memories` and its policy.
    for sql in [
        "select count(*) from memories_p00",
        "delete from memories_p15",
        "update audit_log set outcome = 'failure'",
        "delete from audit_log",
        "update audit_chain_heads set seq = 0",
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

    let mut tx = conn.begin().await.unwrap();
    sqlx::query("select set_config('tenantry.tenant_id', $1, true)")
        .bind(app.acme.id.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
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
