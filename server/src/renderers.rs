//! The console's own threads: every console request (page render and server function) runs
//! on one of a few single-threaded runtimes apart from the API's workers.
//!
//! Why: Leptos' reactive graph takes blocking locks, and under concurrent server renders two
//! threads can take them in opposite orders and wait on each other forever
//! (leptos-rs/leptos#4673, present in leptos 0.8.23). On the shared multi-threaded runtime that
//! stops the workers it happens on, and with them the API, the workers and the health checks.
//! Here a render and everything it spawns stay on one thread, so two of its parts never hold
//! those locks at once on two threads; and if a renderer thread ever stops anyway, only the
//! console requests sent to it wait: it is skipped for new requests, `/readyz` answers 503 so a
//! load balancer takes the instance out, and the log says which thread stopped.
//!
//! A render's response body is produced on its thread too (streamed to the connection through a
//! channel), since out-of-order streaming resolves the page's resources while the body is read.
//!
//! A socket belongs to the runtime that opened it: only that runtime's thread hears its
//! answers. So each renderer thread borrows database connections from a small pool of its own
//! ([`thread_db`]), and the session store, which the API shares, always does its work on the
//! API's runtime ([`SessionsOn`]): a stopped renderer then holds no connection anybody else
//! waits on.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use service::Db;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tracing::Instrument;

thread_local! {
    /// The database as this renderer thread reaches it (set when the thread starts).
    static THREAD_DB: std::cell::RefCell<Option<Db>> = const { std::cell::RefCell::new(None) };
}

/// The database over this renderer thread's own pool, when called on a renderer thread.
pub fn thread_db() -> Option<Db> {
    THREAD_DB.with(|db| db.borrow().clone())
}

/// How often a renderer thread says it is alive.
const BEAT: Duration = Duration::from_millis(250);

/// The console's renderer threads (cheap to clone; the threads end when the last clone is
/// dropped).
#[derive(Clone)]
pub struct Renderers {
    inner: Arc<Inner>,
}

struct Inner {
    threads: Vec<Thread>,
    /// A thread that has not beaten for this long is stalled.
    stall_after: Duration,
    started: Instant,
    /// Ends the threads when the last handle is gone.
    _stop: tokio::sync::watch::Sender<()>,
}

struct Thread {
    name: String,
    handle: tokio::runtime::Handle,
    /// Milliseconds since `started` at the thread's last beat.
    beat: Arc<AtomicU64>,
    /// Console requests on this thread now.
    busy: Arc<AtomicUsize>,
    /// Whether the stall was logged already (logged once per stall).
    reported: std::sync::atomic::AtomicBool,
}

/// No renderer can take a request: every thread has stalled.
#[derive(Debug)]
pub struct AllStalled;

impl Renderers {
    /// Starts `threads` renderer threads (at least one), each reaching the database of `db`
    /// (when given) through a pool of its own of at most that many connections; a thread silent
    /// for `stall_after` is reported stalled.
    pub fn start(
        threads: usize,
        stall_after: Duration,
        db: Option<(&Db, u32)>,
    ) -> std::io::Result<Renderers> {
        let (stop, _) = tokio::sync::watch::channel(());
        let started = Instant::now();
        let mut list = Vec::new();
        for i in 0..threads.max(1) {
            let name = format!("console-{i}");
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .thread_name(name.clone())
                .build()?;
            let handle = runtime.handle().clone();
            let beat = Arc::new(AtomicU64::new(0));
            let mut stopped = stop.subscribe();
            let beating = beat.clone();
            let db = db.map(|(db, connections)| (db.clone(), connections));
            std::thread::Builder::new()
                .name(name.clone())
                .spawn(move || {
                    runtime.block_on(async move {
                        // Made here, so that the pool's own upkeep runs on this thread too.
                        let own = db.map(|(db, connections)| db.with_own_pool(connections));
                        THREAD_DB.with(|slot| *slot.borrow_mut() = own);
                        let beats = async {
                            loop {
                                beating.store(since(started), Ordering::Relaxed);
                                tokio::time::sleep(BEAT).await;
                            }
                        };
                        tokio::select! {
                            _ = stopped.changed() => {}
                            () = beats => {}
                        }
                    });
                    // Requests still on this thread are dropped with the runtime.
                    runtime.shutdown_background();
                })?;
            list.push(Thread {
                name,
                handle,
                beat,
                busy: Arc::new(AtomicUsize::new(0)),
                reported: Default::default(),
            });
        }
        Ok(Renderers {
            inner: Arc::new(Inner {
                threads: list,
                stall_after,
                started,
                _stop: stop,
            }),
        })
    }

    /// Runs `work` on the least busy renderer thread that has not stalled, and waits for it.
    pub async fn run<F>(&self, work: F) -> Result<F::Output, AllStalled>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let now = since(self.inner.started);
        let thread = self
            .inner
            .threads
            .iter()
            .filter(|t| !self.stalled_at(t, now))
            .min_by_key(|t| t.busy.load(Ordering::Relaxed))
            .ok_or(AllStalled)?;
        let busy = thread.busy.clone();
        busy.fetch_add(1, Ordering::Relaxed);
        let done = Done(busy);
        let task = thread.handle.spawn(
            async move {
                let out = work.await;
                drop(done);
                out
            }
            .in_current_span(),
        );
        match task.await {
            Ok(out) => Ok(out),
            // A renderer's panic is the request's, as it would be on the API's workers.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // The renderers are shutting down.
            Err(_) => Err(AllStalled),
        }
    }

    fn stalled_at(&self, thread: &Thread, now: u64) -> bool {
        let beat = thread.beat.load(Ordering::Relaxed);
        // A thread that has not beaten yet is starting.
        beat != 0 && now.saturating_sub(beat) > self.inner.stall_after.as_millis() as u64
    }

    /// The names of the threads that have stalled (logged once per stall).
    pub fn stalled(&self) -> Vec<String> {
        let now = since(self.inner.started);
        let mut names = Vec::new();
        for thread in &self.inner.threads {
            if self.stalled_at(thread, now) {
                if !thread.reported.swap(true, Ordering::Relaxed) {
                    tracing::error!(
                        thread = %thread.name,
                        busy = thread.busy.load(Ordering::Relaxed),
                        "a console renderer thread has stopped answering; its requests wait \
                         and it takes no new ones; restart this instance"
                    );
                }
                names.push(thread.name.clone());
            } else {
                thread.reported.store(false, Ordering::Relaxed);
            }
        }
        names
    }

    /// How many renderer threads there are.
    pub fn len(&self) -> usize {
        self.inner.threads.len()
    }

    /// Never true: there is at least one thread.
    pub fn is_empty(&self) -> bool {
        self.inner.threads.is_empty()
    }
}

/// Counts a request off its thread when it ends, however it ends.
struct Done(Arc<AtomicUsize>);

impl Drop for Done {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn since(started: Instant) -> u64 {
    // Starts at 1 so that 0 means "not yet".
    started.elapsed().as_millis() as u64 + 1
}

/// Middleware for the console's routes: the request, and the reading of its response body, run
/// on a renderer thread.
pub async fn on_renderer(
    State(renderers): State<Renderers>,
    request: Request,
    next: Next,
) -> Response {
    let work = async move {
        let response = next.run(request).await;
        let (parts, body) = response.into_parts();
        // The body is read here, on the renderer, and handed to the connection in chunks.
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, axum::Error>>(8);
        tokio::spawn(
            async move {
                let mut chunks = body.into_data_stream();
                while let Some(chunk) = chunks.next().await {
                    let failed = chunk.is_err();
                    if tx.send(chunk).await.is_err() || failed {
                        break;
                    }
                }
            }
            .in_current_span(),
        );
        let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|chunk| (chunk, rx))
        }));
        Response::from_parts(parts, body)
    };
    match renderers.run(work).await {
        Ok(response) => response,
        Err(AllStalled) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(axum::http::header::RETRY_AFTER, "5")],
            "The console is not available on this instance; the API is. Try again shortly.",
        )
            .into_response(),
    }
}

/// A session store whose work always runs on one runtime (the API's), wherever it is called
/// from: connections it opens are then never tied to a renderer thread.
#[derive(Debug, Clone)]
pub struct SessionsOn<S> {
    store: S,
    runtime: tokio::runtime::Handle,
}

impl<S> SessionsOn<S> {
    /// `store`, doing its work on the runtime this is called on.
    pub fn current(store: S) -> SessionsOn<S> {
        SessionsOn {
            store,
            runtime: tokio::runtime::Handle::current(),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = session_store::Result<T>> + Send + 'static,
    ) -> session_store::Result<T> {
        self.runtime
            .spawn(work.in_current_span())
            .await
            .map_err(|e| session_store::Error::Backend(format!("session store task: {e}")))?
    }
}

#[async_trait::async_trait]
impl<S: SessionStore + Clone> SessionStore for SessionsOn<S> {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let store = self.store.clone();
        let mut created = record.clone();
        *record = self
            .run(async move {
                store.create(&mut created).await?;
                Ok(created)
            })
            .await?;
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let store = self.store.clone();
        let record = record.clone();
        self.run(async move { store.save(&record).await }).await
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let store = self.store.clone();
        let id = *id;
        self.run(async move { store.load(&id).await }).await
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let store = self.store.clone();
        let id = *id;
        self.run(async move { store.delete(&id).await }).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_on_a_renderer_thread_and_a_stalled_thread_is_skipped() {
        let renderers = Renderers::start(2, Duration::from_millis(300), None).unwrap();
        let name = renderers
            .run(async { std::thread::current().name().map(str::to_owned) })
            .await
            .unwrap();
        assert!(name.unwrap().starts_with("console-"));
        // Let both threads beat once.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(renderers.stalled().is_empty());

        // Block one thread as a deadlock would.
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let blocked = renderers.clone();
        let stuck = tokio::spawn(async move {
            blocked
                .run(async move {
                    let _ = wait.recv();
                    std::thread::current().name().map(str::to_owned)
                })
                .await
        });
        tokio::time::sleep(Duration::from_millis(700)).await;
        let stalled = renderers.stalled();
        assert_eq!(stalled.len(), 1, "{stalled:?}");

        // New work goes to the other thread, several times over.
        for _ in 0..5 {
            let name = renderers
                .run(async { std::thread::current().name().map(str::to_owned) })
                .await
                .unwrap()
                .unwrap();
            assert_ne!(name, stalled[0]);
        }

        release.send(()).unwrap();
        let name = stuck.await.unwrap().unwrap().unwrap();
        assert_eq!(name, stalled[0]);
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(renderers.stalled().is_empty(), "the thread is back");
    }
}
