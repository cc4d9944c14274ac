//! Embeddings from any OpenAI-compatible `POST /embeddings` endpoint (OpenAI, Azure,
//! vLLM, Ollama, LocalAI, text-embeddings-inference...).
//!
//! A slow or dead provider must not hold the server: each attempt has a timeout, failed
//! attempts that may succeed later (connection errors, 429, 5xx) are retried with a short
//! backoff, and after [`OpenAi::trip_after`] failed requests in a row the circuit opens:
//! for [`OpenAi::cool_down`] every call fails at once with a 503 that says when to retry.
//! The first call after that is a trial; one success closes the circuit.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::json;

use super::embeddings::Provider;
use crate::error::{Error, Result};

#[derive(Default)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
}

pub struct OpenAi {
    url: String,
    model: String,
    key: Option<String>,
    client: reqwest::Client,
    /// Retries after the first attempt, for failures that may pass.
    pub retries: u32,
    pub trip_after: u32,
    pub cool_down: Duration,
    breaker: Mutex<Breaker>,
}

impl std::fmt::Debug for OpenAi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key stays out of logs.
        f.debug_struct("OpenAi")
            .field("url", &self.url)
            .field("model", &self.model)
            .finish()
    }
}

#[derive(Deserialize)]
struct Response {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    index: usize,
    embedding: Vec<f32>,
}

/// Why one attempt failed, and whether another attempt may do better.
struct Failure {
    message: String,
    retry: bool,
}

impl OpenAi {
    /// `url` is the endpoint (`https://api.openai.com/v1/embeddings`) or its base
    /// (`https://api.openai.com/v1`); `timeout` bounds each attempt.
    pub fn new(url: &str, model: &str, key: Option<String>, timeout: Duration) -> Result<OpenAi> {
        let url = url.trim().trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Error::Internal(format!(
                "TENANTRY_EMBEDDINGS_URL must be an http(s) URL, not {url:?}"
            )));
        }
        if model.trim().is_empty() {
            return Err(Error::Internal(
                "TENANTRY_EMBEDDINGS_MODEL is required with TENANTRY_EMBEDDINGS_URL".into(),
            ));
        }
        let url = if url.ends_with("/embeddings") {
            url.to_owned()
        } else {
            format!("{url}/embeddings")
        };
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(3)))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::internal("embeddings http client", e))?;
        Ok(OpenAi {
            url,
            model: model.trim().to_owned(),
            key: key.filter(|k| !k.is_empty()),
            client,
            retries: 2,
            trip_after: 5,
            cool_down: Duration::from_secs(30),
            breaker: Mutex::new(Breaker::default()),
        })
    }

    /// Fails fast while the circuit is open.
    fn admit(&self) -> Result<()> {
        let mut b = self.breaker.lock().expect("breaker lock");
        if let Some(until) = b.open_until {
            let now = Instant::now();
            if now < until {
                let secs = (until - now).as_secs().max(1);
                return Err(Error::EmbeddingsUnavailable(format!(
                    "The embedding provider is failing; Tenantry will try it again in {secs} s."
                )));
            }
            // Half open: let this call through as the trial; others wait for its outcome
            // by finding the circuit open a little longer.
            b.open_until = Some(now + self.cool_down);
        }
        Ok(())
    }

    fn record(&self, ok: bool) {
        let mut b = self.breaker.lock().expect("breaker lock");
        if ok {
            *b = Breaker::default();
        } else {
            b.failures += 1;
            if b.failures >= self.trip_after {
                b.open_until = Some(Instant::now() + self.cool_down);
                tracing::warn!(url = %self.url, failures = b.failures, "embedding provider circuit opened");
            }
        }
    }

    async fn attempt(&self, texts: &[String]) -> std::result::Result<Vec<Vec<f32>>, Failure> {
        let mut request = self
            .client
            .post(&self.url)
            .json(&json!({ "model": self.model, "input": texts }));
        if let Some(key) = &self.key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.map_err(|e| Failure {
            message: if e.is_timeout() {
                "the embedding provider did not answer in time".into()
            } else {
                format!("cannot reach the embedding provider: {}", without_url(&e))
            },
            retry: true,
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(Failure {
                message: format!("the embedding provider answered {status}"),
                retry: status.as_u16() == 429 || status.is_server_error(),
            });
        }
        let body: Response = response.json().await.map_err(|e| Failure {
            message: format!(
                "the embedding provider's answer is not an embeddings list: {}",
                without_url(&e)
            ),
            retry: false,
        })?;
        let mut vectors: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
        for item in body.data {
            if let Some(slot) = vectors.get_mut(item.index) {
                *slot = Some(item.embedding);
            }
        }
        let vectors: Vec<Vec<f32>> = vectors.into_iter().flatten().collect();
        let dim = vectors.first().map_or(0, Vec::len);
        if vectors.len() != texts.len() || dim == 0 || vectors.iter().any(|v| v.len() != dim) {
            return Err(Failure {
                message: "the embedding provider returned a wrong number or size of vectors".into(),
                retry: false,
            });
        }
        Ok(vectors)
    }
}

fn without_url(e: &reqwest::Error) -> String {
    // The URL may carry credentials in its query; the kind of failure is what matters.
    let mut s = e.to_string();
    if let Some(url) = e.url() {
        s = s.replace(url.as_str(), "<url>");
    }
    s
}

#[async_trait::async_trait]
impl Provider for OpenAi {
    fn model(&self) -> &str {
        &self.model
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        self.admit()?;
        let mut delay = Duration::from_millis(200);
        let mut attempt = 0;
        loop {
            match self.attempt(&texts).await {
                Ok(vectors) => {
                    self.record(true);
                    return Ok(vectors);
                }
                Err(f) if f.retry && attempt < self.retries => {
                    attempt += 1;
                    tracing::info!(error = %f.message, attempt, "embedding request failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Err(f) => {
                    self.record(false);
                    tracing::warn!(error = %f.message, "embedding request failed");
                    return Err(Error::EmbeddingsUnavailable(format!(
                        "The embedding provider is unavailable: {}.",
                        f.message
                    )));
                }
            }
        }
    }
}
