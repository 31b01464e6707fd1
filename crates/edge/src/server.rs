//! The listeners: visitors (one task per connection, see [`crate::visitor`]) and the admin side
//! (`/metrics`, `/healthz`, served by hyper).

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use bytes::Bytes;
use http::{header, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::config::EdgeConfig;
use crate::health::Health;
use crate::metrics::{self, Metrics};
use crate::shared::Shared;
use crate::store::{StoreError, Writer};
use crate::visitor;

/// Errors starting the edge.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration is not usable.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The store cannot be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A listener cannot be bound.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
}

/// A bound edge, ready to serve.
#[derive(Debug)]
pub struct Edge {
    shared: Arc<Shared>,
    listener: TcpListener,
    admin: Option<TcpListener>,
    addr: SocketAddr,
    admin_addr: Option<SocketAddr>,
    store_thread: Option<thread::JoinHandle<()>>,
    workers: usize,
}

impl Edge {
    /// Opens the store and binds the listeners; visitors will be served by `workers` threads.
    pub async fn bind(config: EdgeConfig, workers: usize) -> Result<Edge, StartError> {
        let workers = workers.max(1);
        let metrics = Arc::new(Metrics::new(workers));
        let (writer, store_thread) = match &config.store {
            Some(path) => {
                let (w, h) = Writer::start(path, metrics.clone())?;
                (Some(w), Some(h))
            }
            None => (None, None),
        };
        let bind = |addr: SocketAddr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Bind { addr, source })
        };
        let listener = bind(config.listen).await?;
        let admin = match config.admin {
            Some(a) => Some(bind(a).await?),
            None => None,
        };
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
        let admin_addr = admin.as_ref().and_then(|a| a.local_addr().ok());
        let shared = Arc::new(Shared::new(config, metrics, writer, workers)?);
        Ok(Edge {
            shared,
            listener,
            admin,
            addr,
            admin_addr,
            store_thread,
            workers,
        })
    }

    /// The visitor-facing address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The admin address, if any.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// The store writer thread; join it after the runtime is gone to be sure every queued
    /// incident is committed.
    pub fn take_store_thread(&mut self) -> Option<thread::JoinHandle<()>> {
        self.store_thread.take()
    }

    /// Serves until `shutdown` completes. This thread accepts; connections are dealt in turn to
    /// the workers: this thread's runtime and `workers - 1` more threads, each with its own
    /// single-threaded runtime. A connection stays on its worker, and so do the upstream
    /// connections it uses (see [`crate::shared::OriginRuntime::pools`]): no read ever wakes a
    /// task on another thread. Connections still open when `shutdown` completes are dropped
    /// with their worker's runtime.
    pub async fn serve_until(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        if let Some(admin) = self.admin {
            tokio::spawn(serve_admin(admin, self.shared.clone()));
        }
        let mut workers = Vec::new();
        for i in 1..self.workers {
            let (send, mut receive) =
                mpsc::unbounded_channel::<(std::net::TcpStream, SocketAddr)>();
            let shared = self.shared.clone();
            let thread = thread::Builder::new()
                .name(format!("originlens-edge-{i}"))
                .spawn(move || -> io::Result<()> {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    // Ends when the sender is dropped, then the runtime drops its connections.
                    runtime.block_on(async move {
                        while let Some((stream, peer)) = receive.recv().await {
                            if let Ok(stream) = TcpStream::from_std(stream) {
                                tokio::spawn(visitor::serve(stream, peer, shared.clone(), i));
                            }
                        }
                    });
                    Ok(())
                })?;
            workers.push((send, thread));
        }
        tokio::pin!(shutdown);
        let mut next = 0usize;
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let worker = next % self.workers;
                        next = next.wrapping_add(1);
                        let send = worker.checked_sub(1).map(|w| &workers[w].0);
                        deal(stream, peer, send, &self.shared);
                    }
                    // EMFILE and friends are transient: back off and keep serving.
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                },
            }
        }
        for (send, thread) in workers {
            drop(send);
            let _ = thread.join();
        }
        Ok(())
    }
}

/// Hands a visitor connection to a worker thread (`send`), or serves it on this thread when
/// `send` is `None` or its worker's runtime could not start.
fn deal(
    stream: TcpStream,
    peer: SocketAddr,
    send: Option<&mpsc::UnboundedSender<(std::net::TcpStream, SocketAddr)>>,
    shared: &Arc<Shared>,
) {
    let stream = match send {
        None => stream,
        Some(send) => {
            let Ok(std) = stream.into_std() else { return };
            match send.send((std, peer)) {
                Ok(()) => return,
                Err(mpsc::error::SendError((std, _))) => match TcpStream::from_std(std) {
                    Ok(stream) => stream,
                    Err(_) => return,
                },
            }
        }
    };
    tokio::spawn(visitor::serve(stream, peer, shared.clone(), 0));
}

async fn serve_admin(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(admin(&shared, &req)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// `/healthz` answers JSON (`originlens.edge-health/1`) to `Accept: application/json` or
/// `?format=json`, and a plain `ok` otherwise, for probes that only read the status.
fn wants_json(req: &Request<Incoming>) -> bool {
    req.uri()
        .query()
        .is_some_and(|q| q.split('&').any(|p| p == "format=json"))
        || req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("application/json"))
}

fn admin(shared: &Shared, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match req.uri().path() {
        "/metrics" => {
            shared
                .metrics
                .pool_idle
                .set(shared.idle_connections() as i64);
            (
                StatusCode::OK,
                metrics::CONTENT_TYPE,
                shared.metrics.encode(),
            )
        }
        "/healthz" if wants_json(req) => (
            StatusCode::OK,
            "application/json",
            Health::of(shared).to_json(),
        ),
        "/healthz" => (StatusCode::OK, "text/plain", "ok\n".to_owned()),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "try /metrics or /healthz\n".to_owned(),
        ),
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    resp
}
