//! The socket side: accept, read a request head, look up the route, perform its behaviour.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use crate::behaviour::{head_of, Behaviour, End, Step, HOLD_MAX, RESET_PAUSE};
use crate::flaky::{self, Flaky};
use crate::mix::{Choice, Mix};
use crate::request::{self, Request};
use crate::routes::{route, Route};
use crate::tls::{ClientPem, TlsCase, TlsLab};

/// How long a connection may sit idle waiting for a (next) request.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a FIN-closed connection drains the peer's bytes before it is dropped.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the draws of a mix go.
pub type MixSink = Arc<dyn Fn(&Choice<'_>) + Send + Sync>;

/// A mix and its sink, shared by the connections.
pub(crate) struct MixRun {
    mix: Mix,
    sink: MixSink,
}

/// A bound lab listener. [`Lab::serve`] runs it.
pub struct Lab {
    listener: TcpListener,
    addr: SocketAddr,
    mix: Option<Arc<MixRun>>,
}

impl std::fmt::Debug for Lab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lab")
            .field("addr", &self.addr)
            .field("mix", &self.mix.as_ref().map(|m| &m.mix))
            .finish()
    }
}

impl Lab {
    /// Binds `addr` (port 0 picks a free port). Any address is accepted here; the CLI is the one
    /// that refuses non-loopback addresses without `--allow-public`.
    pub async fn bind(addr: SocketAddr) -> io::Result<Lab> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        Ok(Lab {
            listener,
            addr,
            mix: None,
        })
    }

    /// Answers every request with a route drawn from `mix` instead of by path (see
    /// [`crate::mix`]); each draw is passed to `sink` before the route answers.
    pub fn with_mix(mut self, mix: Mix, sink: MixSink) -> Lab {
        self.mix = Some(Arc::new(MixRun { mix, sink }));
        self
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until the task is dropped. Each connection runs on its own task.
    pub async fn serve(self) -> io::Result<()> {
        self.serve_until(std::future::pending()).await
    }

    /// Serves until `shutdown` completes. Connections still open are left to the runtime, which
    /// cancels them when it is dropped.
    pub async fn serve_until(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        tokio::pin!(shutdown);
        let flaky = Arc::new(Flaky::default());
        loop {
            tokio::select! {
                _ = &mut shutdown => return Ok(()),
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        tokio::spawn(connection(stream, flaky.clone(), self.mix.clone()));
                    }
                    // EMFILE, ECONNABORTED and friends are transient: back off, keep serving.
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                },
            }
        }
    }
}

/// A lab running on its own thread with its own single-threaded runtime. Dropping it stops the
/// server and closes every connection.
#[derive(Debug)]
pub struct LabHandle {
    addr: SocketAddr,
    tls: Vec<(TlsCase, SocketAddr)>,
    ca_pem: String,
    client: ClientPem,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl LabHandle {
    /// Binds `addr` (and one TLS listener per [`TlsCase`] on the same IP, free ports) and starts
    /// serving; returns once every listener is bound.
    pub fn start(addr: SocketAddr) -> io::Result<LabHandle> {
        let (bound_tx, bound_rx) = mpsc::channel();
        let (stop, stop_rx) = oneshot::channel::<()>();
        let thread = thread::Builder::new()
            .name("originlens-lab".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = bound_tx.send(Err(e));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let lab = match Lab::bind(addr).await {
                        Ok(lab) => lab,
                        Err(e) => {
                            let _ = bound_tx.send(Err(e));
                            return;
                        }
                    };
                    let tls = match TlsLab::bind(lab.local_addr().ip()).await {
                        Ok(tls) => tls,
                        Err(e) => {
                            let _ = bound_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = bound_tx.send(Ok((
                        lab.local_addr(),
                        tls.addrs(),
                        tls.root_pem().to_owned(),
                        tls.client_pem().clone(),
                    )));
                    tokio::select! {
                        _ = lab.serve_until(async {
                            let _ = stop_rx.await;
                        }) => {}
                        _ = tls.serve() => {}
                    }
                });
                // Dropping the runtime here cancels every connection task.
            })?;
        let (addr, tls, ca_pem, client) = bound_rx
            .recv()
            .map_err(|_| io::Error::other("lab thread ended before binding"))??;
        Ok(LabHandle {
            addr,
            tls,
            ca_pem,
            client,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address the lab listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address of the TLS listener for `case`.
    pub fn tls_addr(&self, case: TlsCase) -> Option<SocketAddr> {
        self.tls.iter().find(|(c, _)| *c == case).map(|(_, a)| *a)
    }

    /// The lab root CA in PEM, to trust the lab's TLS listeners (`--ca-file`).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The client certificate the `client-cert-required` listeners accept (`--cert`/`--key`).
    pub fn client_pem(&self) -> &ClientPem {
        &self.client
    }
}

impl Drop for LabHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One connection: requests in a loop while the routes keep it alive.
pub(crate) async fn connection(mut stream: TcpStream, flaky: Arc<Flaky>, mix: Option<Arc<MixRun>>) {
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::new();
    let mut idle = IDLE_TIMEOUT;
    let mut silent_after_idle = false;
    let mut served: u32 = 0;
    loop {
        let read = tokio::time::timeout(idle, request::read(&mut stream, &mut buf)).await;
        if read.is_err() && silent_after_idle {
            // State dropped: keep the socket, never answer again, never send a FIN.
            return hold(stream).await;
        }
        let req = match read {
            Ok(Ok(request::Read::Request(req))) => req,
            Ok(Ok(request::Read::Bad(bytes))) => {
                let _ = stream.write_all(bytes).await;
                finish(stream, End::Fin).await;
                return;
            }
            // Idle too long: close with FIN, as an origin's keep-alive timeout does.
            Err(_) => return finish(stream, End::Fin).await,
            // Peer closed or I/O error: nothing more to do.
            Ok(Ok(request::Read::Closed)) | Ok(Err(_)) => return,
        };
        served = served.saturating_add(1);
        silent_after_idle = false;
        let answered = match &mix {
            Some(run) => {
                let id = req.query.split('&').find_map(|kv| kv.strip_prefix("id="));
                let choice = run.mix.choose(id);
                (run.sink)(&choice);
                perform(&mut stream, &req, choice.route).await
            }
            None => respond(&mut stream, &req, &flaky).await,
        };
        match answered {
            Ok(Some(End::KeepAlive)) if !req.close => idle = IDLE_TIMEOUT,
            Ok(Some(End::IdleClose(after))) if !req.close => idle = after,
            Ok(Some(End::MaxRequests(n))) if !req.close && served < n => idle = IDLE_TIMEOUT,
            Ok(Some(End::IdleDrop(after))) if !req.close => {
                idle = after;
                silent_after_idle = true;
            }
            Ok(Some(
                End::KeepAlive | End::IdleClose(_) | End::MaxRequests(_) | End::IdleDrop(_),
            )) => return finish(stream, End::Fin).await,
            Ok(Some(end)) => return finish(stream, end).await,
            Ok(None) => return hold(stream).await,
            Err(_) => return,
        }
    }
}

/// Writes the route's bytes; returns how the connection should end (`None`: hang).
async fn respond(stream: &mut TcpStream, req: &Request, flaky: &Flaky) -> io::Result<Option<End>> {
    if let Some(act) = flaky.act(&req.path, &req.query).await {
        return flaky::perform(stream, act, req.is_head()).await.map(Some);
    }
    let Some(route) = route(&req.path) else {
        let body = format!("no such route: {}\ntry / for the list\n", req.path);
        let head = format!(
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await?;
        if !req.is_head() {
            stream.write_all(body.as_bytes()).await?;
        }
        return Ok(Some(End::KeepAlive));
    };
    perform(stream, req, route).await
}

/// Performs `route`'s behaviour; returns how the connection should end (`None`: hang).
async fn perform(stream: &mut TcpStream, req: &Request, route: &Route) -> io::Result<Option<End>> {
    match route.behaviour {
        Behaviour::Reply { bytes, end } => {
            // Only keep-alive routes are HEAD-aware: the others misbehave the same for every method.
            let bytes = if route.behaviour.keeps_alive() && req.is_head() {
                head_of(bytes)
            } else {
                bytes
            };
            stream.write_all(bytes).await?;
            Ok(Some(end))
        }
        Behaviour::Script { steps, end } => {
            for step in steps {
                match step {
                    Step::Write(b) => stream.write_all(b).await?,
                    Step::Sleep(d) => tokio::time::sleep(*d).await,
                }
            }
            Ok(Some(end))
        }
        Behaviour::Fin => Ok(Some(End::Fin)),
        Behaviour::Reset => Ok(Some(End::Reset)),
        Behaviour::Hang => Ok(None),
    }
}

/// Ends the connection as `end` says (the keep-alive ends mean FIN here).
async fn finish(mut stream: TcpStream, end: End) {
    match end {
        End::Fin | End::KeepAlive | End::IdleClose(_) | End::MaxRequests(_) | End::IdleDrop(_) => {
            let _ = stream.shutdown().await;
            // Closing with unread request bytes would send RST instead of the FIN we promised.
            let _ = tokio::time::timeout(DRAIN_TIMEOUT, drain(&mut stream)).await;
        }
        End::Hold => hold(stream).await,
        End::Reset => reset(stream).await,
    }
}

/// Keeps the connection open, writing nothing, until the peer closes or [`HOLD_MAX`] passes.
async fn hold(mut stream: TcpStream) {
    let _ = tokio::time::timeout(HOLD_MAX, drain(&mut stream)).await;
}

/// Aborts with RST, after [`RESET_PAUSE`] so that written bytes reach the peer before the RST.
async fn reset(stream: TcpStream) {
    tokio::time::sleep(RESET_PAUSE).await;
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
}

/// Reads and discards until EOF or an error.
async fn drain(stream: &mut TcpStream) {
    let mut sink = [0u8; 4096];
    while let Ok(n) = stream.read(&mut sink).await {
        if n == 0 {
            break;
        }
    }
}
