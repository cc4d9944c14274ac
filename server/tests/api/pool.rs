//! Pooled connections stay clean when a request goes away mid-query.

use std::time::Duration;

use service::Db;
use service::identities::ListQuery;

use crate::helpers::{TestApp, owner_ctx};

/// A client that disconnects drops its request's future wherever it is, including while
/// the transaction's BEGIN is on the wire. The connection must come back to the pool
/// outside any transaction; otherwise the next borrower's statements would run inside the
/// abandoned one (and hold their locks until the connection dies).
#[tokio::test]
async fn a_request_cancelled_mid_begin_leaves_no_transaction_behind() {
    let app = TestApp::spawn().await;
    // One connection, so every iteration reuses the connection the previous one abandoned.
    let db = Db::connect(&app.db_url, 1)
        .await
        .unwrap()
        .with_master_key(app.master.clone());
    let ctx = owner_ctx(&db, &app.acme).await;
    for i in 0..600u32 {
        // Give up after a growing number of scheduler turns: before, during and after
        // BEGIN's round trip (the timer's millisecond grain is too coarse for this).
        tokio::select! {
            _ = service::identities::list(&ctx, &db, ListQuery::default()) => {}
            _ = async {
                for _ in 0..i * 2 {
                    tokio::task::yield_now().await;
                }
            } => {}
        }
        tokio::time::sleep(Duration::from_micros(100)).await;
        // SAVEPOINT is refused outside a transaction block and accepted inside one.
        let probe = sqlx::raw_sql("savepoint probe")
            .execute(db.pool_for_tests())
            .await;
        assert!(
            probe.is_err(),
            "iteration {i}: the pooled connection was still inside a cancelled transaction"
        );
        let message = probe.unwrap_err().to_string();
        assert!(message.contains("transaction block"), "{message}");
    }
}
