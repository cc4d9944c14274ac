//! The console's own runtimes: every console request (page render and server function) runs
//! on one of a few small runtimes apart from the one the API, the workers and the probes run on.
//!
//! Why: Leptos' reactive graph takes blocking locks, and when two threads run parts of one
//! render at once they can take them in opposite orders and wait on each other forever
//! (leptos-rs/leptos#4673, present in leptos 0.8.23). Seen here under load on /events: a
//! resource's task holds its `ArcAsyncDerivedInner` lock while registering with a
//! `SuspenseContext` (whose write marks the Suspense's effect dirty, taking `EffectInner`),
//! while the Suspense's effect, on the other thread, holds `EffectInner` and unsubscribes from
//! that resource (taking `ArcAsyncDerivedInner`). So each console runtime has a single worker
//! thread: every task of a render (the resources Leptos spawns, the Suspense effects, the
//! body's stream) runs on that one thread, where the two cannot interleave. (The spawned
//! futures are `Send`, so none can hold one of those standard-library guards across an
//! await: one thread cannot deadlock with itself on them.) Several runtimes serve at once.
//!
//! Should a runtime stop all the same, it can stop only itself: its heartbeat stops, it gets
//! no new request (the others take them), `/readyz` answers 503 so a load balancer drains the
//! instance, and the log says which runtime stopped.
//!
//! A render's response body is produced on its runtime too (streamed to the connection through
//! a channel), since out-of-order streaming resolves the page's resources while the body is
//! read.
//!
//! A socket belongs to the runtime that opened it: only that runtime's threads hear its
//! answers. So each console runtime borrows database connections from a small pool of its own
//! ([`console_db`]), and the session store, which the API shares, always does its work on the
//! API's runtime ([`SessionsOn`]): a stopped console runtime then holds no connection anybody
//! else waits on.

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

tokio::task_local! {
    /// The database as the console runtime running this request reaches it.
    static CONSOLE_DB: Db;
}

/// The database over the current console runtime's own pool, when called while a console
/// request is being handled.
pub fn console_db() -> Option<Db> {
    CONSOLE_DB.try_with(Db::clone).ok()
}

/// How often a console runtime says it is alive.
const BEAT: Duration = Duration::from_millis(250);

/// Worker threads of each console runtime: one, so that a render's tasks never run on two
/// threads at once (see the module's text).
const THREADS_EACH: usize = 1;

/// The console's runtimes (cheap to clone; they stop when the last clone is dropped).
#[derive(Clone)]
pub struct Renderers {
    inner: Arc<Inner>,
}

struct Inner {
    runtimes: Vec<Renderer>,
    /// A runtime that has not beaten for this long is stalled.
    stall_after: Duration,
    started: Instant,
}

struct Renderer {
    name: String,
    runtime: std::sync::Mutex<Option<tokio::runtime::Runtime>>,
    handle: tokio::runtime::Handle,
    /// The database through this runtime's own pool (none in unit tests).
    db: Option<Db>,
    /// Milliseconds since `started` at the runtime's last beat.
    beat: Arc<AtomicU64>,
    /// Console requests on this runtime now.
    busy: Arc<AtomicUsize>,
    /// Whether the stall was logged already (logged once per stall).
    reported: std::sync::atomic::AtomicBool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for r in &self.runtimes {
            // Dropped from async code too (a test's server): never wait for the threads.
            if let Some(runtime) = r.runtime.lock().unwrap_or_else(|e| e.into_inner()).take() {
                runtime.shutdown_background();
            }
        }
    }
}

/// No console runtime can take a request: every one has stalled, or they are shutting down.
#[derive(Debug)]
pub struct AllStalled;

impl Renderers {
    /// Starts `runtimes` console runtimes (at least one) of one thread each, each reaching the
    /// database of `db` (when given) through a pool of its own of at most that many
    /// connections; a runtime silent for `stall_after` is reported stalled.
    pub fn start(
        runtimes: usize,
        stall_after: Duration,
        db: Option<(&Db, u32)>,
    ) -> std::io::Result<Renderers> {
        let started = Instant::now();
        let mut list = Vec::new();
        for i in 0..runtimes.max(1) {
            let name = format!("console-{i}");
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(THREADS_EACH)
                .thread_name(name.clone())
                .enable_all()
                .build()?;
            let handle = runtime.handle().clone();
            // Made inside the runtime, so that the pool's own upkeep runs there too.
            let db = db.map(|(db, connections)| {
                let _inside = handle.enter();
                db.with_own_pool(connections)
            });
            let beat = Arc::new(AtomicU64::new(0));
            let beating = beat.clone();
            handle.spawn(async move {
                loop {
                    beating.store(since(started), Ordering::Relaxed);
                    tokio::time::sleep(BEAT).await;
                }
            });
            list.push(Renderer {
                name,
                runtime: std::sync::Mutex::new(Some(runtime)),
                handle,
                db,
                beat,
                busy: Arc::new(AtomicUsize::new(0)),
                reported: Default::default(),
            });
        }
        Ok(Renderers {
            inner: Arc::new(Inner {
                runtimes: list,
                stall_after,
                started,
            }),
        })
    }

    /// Runs `work` on the least busy console runtime that has not stalled, and waits for it.
    pub async fn run<F>(&self, work: F) -> Result<F::Output, AllStalled>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let now = since(self.inner.started);
        let renderer = self
            .inner
            .runtimes
            .iter()
            .filter(|r| !self.stalled_at(r, now))
            .min_by_key(|r| r.busy.load(Ordering::Relaxed))
            .ok_or(AllStalled)?;
        let busy = renderer.busy.clone();
        busy.fetch_add(1, Ordering::Relaxed);
        let done = Done(busy);
        let work = async move {
            let out = work.await;
            drop(done);
            out
        }
        .in_current_span();
        let task = match renderer.db.clone() {
            Some(db) => renderer.handle.spawn(CONSOLE_DB.scope(db, work)),
            None => renderer.handle.spawn(work),
        };
        match task.await {
            Ok(out) => Ok(out),
            // A renderer's panic is the request's, as it would be on the API's runtime.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // The runtime is shutting down.
            Err(_) => Err(AllStalled),
        }
    }

    /// Occupies every thread of console runtime `index` until the sender is used or dropped,
    /// as a deadlock would: for tests of what a stalled runtime does.
    pub fn block_for_tests(&self, index: usize) -> std::sync::mpsc::Sender<()> {
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let wait = Arc::new(std::sync::Mutex::new(wait));
        let handle = &self.inner.runtimes[index].handle;
        let gate = Arc::new(std::sync::Barrier::new(THREADS_EACH));
        for _ in 0..THREADS_EACH {
            let (wait, gate) = (wait.clone(), gate.clone());
            handle.spawn(async move {
                // Both threads are held before either waits for the release.
                gate.wait();
                let _ = wait.lock().map(|w| w.recv());
            });
        }
        release
    }

    fn stalled_at(&self, renderer: &Renderer, now: u64) -> bool {
        let beat = renderer.beat.load(Ordering::Relaxed);
        // A runtime that has not beaten yet is starting.
        beat != 0 && now.saturating_sub(beat) > self.inner.stall_after.as_millis() as u64
    }

    /// The names of the runtimes that have stalled (logged once per stall).
    pub fn stalled(&self) -> Vec<String> {
        let now = since(self.inner.started);
        let mut names = Vec::new();
        for r in &self.inner.runtimes {
            if self.stalled_at(r, now) {
                if !r.reported.swap(true, Ordering::Relaxed) {
                    tracing::error!(
                        runtime = %r.name,
                        busy = r.busy.load(Ordering::Relaxed),
                        "a console runtime has stopped answering; its requests wait and it \
                         takes no new ones; restart this instance"
                    );
                }
                names.push(r.name.clone());
            } else {
                r.reported.store(false, Ordering::Relaxed);
            }
        }
        names
    }
}

/// Counts a request off its runtime when it ends, however it ends.
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
/// on a console runtime.
pub async fn on_renderer(
    State(renderers): State<Renderers>,
    request: Request,
    next: Next,
) -> Response {
    let work = async move {
        let response = next.run(request).await;
        let (parts, body) = response.into_parts();
        // The body is read here, on the console runtime, and handed to the connection in chunks.
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
/// from: connections it opens are then never tied to a console runtime.
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

    /// Waits (up to 30 s) until exactly `names` count as stalled.
    async fn until_stalled(renderers: &Renderers, names: &[&str]) {
        let start = Instant::now();
        while renderers.stalled() != names {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{:?}",
                renderers.stalled()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What keeps Leptos' lock-order deadlock away: the tasks a render spawns (its
    /// resources, its effects) all run on the render's one thread, however many there are
    /// and however often they yield.
    #[tokio::test]
    async fn every_task_a_render_spawns_runs_on_its_one_thread() {
        let renderers = Renderers::start(2, Duration::from_secs(5), None).unwrap();
        for _ in 0..4 {
            let threads = renderers
                .run(async {
                    let tasks: Vec<_> = (0..64)
                        .map(|_| {
                            tokio::spawn(async {
                                let mut seen = Vec::new();
                                for _ in 0..16 {
                                    seen.push(std::thread::current().id());
                                    tokio::task::yield_now().await;
                                }
                                seen
                            })
                        })
                        .collect();
                    let mut threads = vec![std::thread::current().id()];
                    for t in tasks {
                        threads.extend(t.await.unwrap());
                    }
                    threads.sort_by_key(|t| format!("{t:?}"));
                    threads.dedup();
                    threads
                })
                .await
                .unwrap();
            assert_eq!(threads.len(), 1, "{threads:?}");
        }
    }

    #[tokio::test]
    async fn work_runs_on_a_console_runtime_and_a_stalled_one_is_skipped() {
        let renderers = Renderers::start(2, Duration::from_secs(1), None).unwrap();
        let name = || std::thread::current().name().map(str::to_owned);
        let on = renderers.run(async move { name() }).await.unwrap();
        assert!(on.unwrap().starts_with("console-"));
        assert!(renderers.stalled().is_empty());

        // Runtime 0 stops, as a deadlock would stop it.
        let release = renderers.block_for_tests(0);
        until_stalled(&renderers, &["console-0"]).await;
        // New work goes to the other runtime, every time.
        for _ in 0..5 {
            let on = renderers.run(async move { name() }).await.unwrap().unwrap();
            assert_eq!(on, "console-1");
        }
        // Both stop: work is refused at once.
        let release_other = renderers.block_for_tests(1);
        until_stalled(&renderers, &["console-0", "console-1"]).await;
        assert!(renderers.run(async {}).await.is_err());

        drop(release);
        drop(release_other);
        until_stalled(&renderers, &[]).await;
        assert!(renderers.run(async {}).await.is_ok());
    }
}
