//! The memories worker: loads the embedding model ahead of the first request, removes
//! expired memories (and old Trash) every minute, and re-embeds memories that another
//! model embedded. Every instance runs it; `service::memories::upkeep` claims rows with
//! `FOR UPDATE SKIP LOCKED`, so instances share the work.

use std::time::Duration;

use service::Db;
use service::memories::upkeep;
use tokio::task::JoinHandle;

/// Rows removed per transaction (and per `memory.expired` event).
pub const PURGE_BATCH: i64 = 500;
/// Memories re-embedded per transaction.
pub const REEMBED_BATCH: i64 = 64;
pub const EVERY: Duration = Duration::from_secs(60);

pub fn spawn(db: Db) -> JoinHandle<()> {
    tokio::spawn(async move {
        // The first request should not wait for the model to load.
        let embedder = db.embedder();
        match embedder.embed(vec!["warm up".into()]).await {
            Ok(_) => tracing::info!(model = embedder.model(), "embedding model ready"),
            Err(e) => {
                tracing::warn!(error = %e, "the embedding model is not available; storing and searching memories will fail until it is")
            }
        }
        let mut tick = tokio::time::interval(EVERY);
        loop {
            tick.tick().await;
            match upkeep::purge_expired(&db, PURGE_BATCH).await {
                Ok(n) if n > 0 => tracing::info!(removed = n, "expired memories removed"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = ?e, "memory expiry failed"),
            }
            match upkeep::reembed_all(&db, REEMBED_BATCH).await {
                Ok(n) if n > 0 => {
                    tracing::info!(count = n, model = embedder.model(), "memories re-embedded")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = ?e, "re-embedding memories failed"),
            }
        }
    })
}
