//! `flow serve`: the online feature store (and the models runs publish) over HTTP/JSON.
//!
//! hyper's HTTP/1.1 server on the caller's tokio runtime; a small router of our own
//! (`routes`), because seven fixed routes do not need a framework's build cost. Every
//! endpoint but `/healthz` wants the bearer token of [`auth`]. Groups are answered from
//! in-memory snapshots ([`online`]) that a background task refreshes when a run ingests.

pub mod auth;
pub mod metrics;
pub mod models;
pub mod online;
mod routes;
pub mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use flow_engine::store::StateDir;
use flow_featurestore::FeatureStore;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::TcpListener;

pub use crate::auth::{Token, TokenSource};
use crate::metrics::Metrics;
use crate::models::Models;
use crate::online::Groups;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    Token(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What a request may carry. SageMaker's BatchGetRecord takes 100 identifiers; ours takes
/// more, but not unboundedly many.
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_id_bytes: usize,
    pub max_batch: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_body_bytes: 1 << 20, max_id_bytes: 256, max_batch: 1000 }
    }
}

pub struct Config {
    /// The project's state directory: its feature store, run records and stored objects.
    pub state: StateDir,
    pub addr: SocketAddr,
    pub token: Token,
    /// How often the server looks for new feature versions and models.
    pub refresh: Duration,
    pub limits: Limits,
    /// HTTPS with this certificate and key; plain HTTP without.
    pub tls: Option<tls::TlsFiles>,
}

pub(crate) struct State {
    pub groups: Groups,
    pub models: Models,
    pub token: Token,
    pub metrics: Metrics,
    pub limits: Limits,
}

/// A bound server, not yet answering.
pub struct Server {
    listener: TcpListener,
    state: Arc<State>,
    refresh: Duration,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl Server {
    /// Binds the address and loads every group once, so the first request finds them.
    pub async fn bind(config: Config) -> Result<Server, ServeError> {
        let tls = config.tls.as_ref().map(tls::acceptor).transpose()?;
        let listener =
            TcpListener::bind(config.addr).await.map_err(|source| ServeError::Bind { addr: config.addr, source })?;
        let state = Arc::new(State {
            groups: Groups::new(FeatureStore::new(config.state.root.join("featurestore"))),
            models: Models::new(config.state),
            token: config.token,
            metrics: Metrics::default(),
            limits: config.limits,
        });
        let first = Arc::clone(&state);
        let refreshed = tokio::task::spawn_blocking(move || (first.groups.refresh(), first.models.refresh()))
            .await
            .map_err(|e| ServeError::Io(std::io::Error::other(e)))?;
        log_refresh(&refreshed);
        Ok(Server { listener, state, refresh: config.refresh, tls })
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    pub fn local_addr(&self) -> Result<SocketAddr, ServeError> {
        Ok(self.listener.local_addr()?)
    }

    /// The groups loaded at start.
    pub fn groups(&self) -> Vec<String> {
        self.state.groups.names()
    }

    /// The models loaded at start: name, run, digest.
    pub fn models(&self) -> Vec<(String, String, String)> {
        self.state.models.all().iter().map(|m| (m.bundle.name().to_string(), m.run.clone(), m.digest.clone())).collect()
    }

    /// Answers until `shutdown` completes, then stops accepting and lets the requests in
    /// flight finish (up to `drain`).
    pub async fn run(self, shutdown: impl Future<Output = ()>, drain: Duration) -> Result<(), ServeError> {
        let refresher = tokio::spawn(refresh_loop(Arc::clone(&self.state), self.refresh));
        let graceful = GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = self.listener.accept() => {
                    let (stream, _peer) = match accepted {
                        Ok(accepted) => accepted,
                        // Out of file descriptors and the like: pause rather than spin.
                        Err(e) => {
                            tracing::warn!("accept failed: {e}");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    let state = Arc::clone(&self.state);
                    let watcher = graceful.watcher();
                    match &self.tls {
                        None => {
                            tokio::spawn(serve_connection(state, TokioIo::new(stream), watcher));
                        }
                        Some(acceptor) => {
                            let handshake = acceptor.accept(stream);
                            tokio::spawn(async move {
                                // A client that never finishes its handshake holds no task for long.
                                let stream = match tokio::time::timeout(Duration::from_secs(10), handshake).await {
                                    Ok(Ok(stream)) => stream,
                                    Ok(Err(e)) => return tracing::debug!("TLS handshake failed: {e}"),
                                    Err(_) => return tracing::debug!("TLS handshake timed out"),
                                };
                                serve_connection(state, TokioIo::new(stream), watcher).await;
                            });
                        }
                    }
                }
                () = &mut shutdown => break,
            }
        }
        drop(self.listener);
        refresher.abort();
        if tokio::time::timeout(drain, graceful.shutdown()).await.is_err() {
            tracing::warn!("requests still running after {drain:?}; stopping anyway");
        }
        Ok(())
    }
}

/// Answers one HTTP/1.1 connection until it closes or a graceful shutdown ends it; a client
/// has 10 s to send a request's headers.
async fn serve_connection<IO>(state: Arc<State>, io: IO, watcher: Watcher)
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = service_fn(move |request| routes::handle(Arc::clone(&state), request));
    let connection = http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .serve_connection(io, service);
    if let Err(e) = watcher.watch(connection).await {
        tracing::debug!("connection ended: {e}");
    }
}

async fn refresh_loop(state: Arc<State>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let state = Arc::clone(&state);
        if let Ok(refreshed) =
            tokio::task::spawn_blocking(move || (state.groups.refresh(), state.models.refresh())).await
        {
            log_refresh(&refreshed);
        }
    }
}

fn log_refresh((groups, models): &(online::Refreshed, models::Refreshed)) {
    let refreshed = groups;
    for (group, version, records) in &refreshed.loaded {
        tracing::info!(group, version, records, "group loaded");
    }
    for group in &refreshed.dropped {
        tracing::info!(group, "group dropped");
    }
    for (group, error) in &refreshed.failed {
        tracing::warn!(group, "group not (re)loaded: {error}");
    }
    for (model, run, digest) in &models.served {
        tracing::info!(model, run, digest, "model served");
    }
    for (digest, why) in &models.refused {
        tracing::warn!(digest, "model bundle not served: {why}");
    }
}
