//! The webhook deliverer: runs `service::webhooks::delivery::run_batch` in a few loops,
//! woken by `NOTIFY tenantry_webhooks` when deliveries are queued and every second for
//! retries that come due. Any number of instances may run it: a batch's rows stay locked
//! (`FOR UPDATE SKIP LOCKED`) until its attempts are recorded.

use std::time::Duration;

use service::Db;
use service::webhooks::delivery;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Deliveries one loop claims at a time.
pub const BATCH: i64 = 200;

/// Starts `loops` delivery loops (each holds one database connection while it works) and
/// the listener that wakes them.
pub fn spawn(db: Db, loops: usize) -> JoinHandle<()> {
    tokio::spawn(async move {
        let (wake, woken) = watch::channel(0u64);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..loops.max(1) {
            tasks.spawn(deliver_loop(db.clone(), woken.clone()));
        }
        tasks.spawn(listen(db, wake));
        // The loops run until the server stops (and this task is aborted with them).
        while tasks.join_next().await.is_some() {}
    })
}

async fn deliver_loop(db: Db, mut woken: watch::Receiver<u64>) {
    loop {
        match delivery::run_batch(&db, BATCH).await {
            // A full batch: there may be more waiting.
            Ok(report) if report.claimed as i64 >= BATCH => continue,
            Ok(report) => {
                if report.claimed > 0 {
                    tracing::debug!(?report, "webhook deliveries made");
                    continue;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "webhook delivery failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        // Nothing due: sleep until deliveries are queued, or a retry may be due.
        let _ = tokio::time::timeout(Duration::from_secs(1), woken.changed()).await;
    }
}

/// Turns `NOTIFY tenantry_webhooks` into a wake-up of every loop; reconnects when the
/// connection is lost (the loops' one-second tick covers the gap).
async fn listen(db: Db, wake: watch::Sender<u64>) {
    loop {
        match db.listen(delivery::CHANNEL).await {
            Ok(mut listener) => loop {
                match listener.try_recv().await {
                    Ok(_) => wake.send_modify(|n| *n = n.wrapping_add(1)),
                    Err(e) => {
                        tracing::warn!(error = %e, "webhook listener failed");
                        break;
                    }
                }
            },
            Err(e) => tracing::warn!(error = %e, "cannot listen for webhook deliveries"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
