//! The real `originlens edge` binary, started on loopback ports and killed on drop.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub use super::cli::originlens;

/// A running edge; killed (SIGKILL) on drop.
pub struct EdgeProc {
    pub child: Child,
    pub addr: SocketAddr,
    pub admin: SocketAddr,
    /// The store given by [`EdgeBuilder::temp_store`].
    store: Option<PathBuf>,
    /// Where stderr goes, with [`EdgeBuilder::capture_stderr`].
    stderr: Option<PathBuf>,
    /// Holds the store and the stderr file.
    _dir: tempfile::TempDir,
}

impl Drop for EdgeProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The command line of an edge to start: `originlens edge` and the arguments given, in order.
pub struct EdgeBuilder {
    args: Vec<OsString>,
    store: Option<PathBuf>,
    stderr: Option<PathBuf>,
    dir: tempfile::TempDir,
}

impl EdgeBuilder {
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// `--listen 127.0.0.1:0 --admin 127.0.0.1:0`.
    pub fn loopback(self) -> Self {
        self.args(["--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
    }

    /// `--store` in a temporary directory that lives as long as the edge ([`EdgeProc::store`]).
    pub fn temp_store(mut self) -> Self {
        let store = self.dir.path().join("incidents.db");
        self = self.args([OsStr::new("--store"), store.as_os_str()]);
        self.store = Some(store);
        self
    }

    /// Sends stderr to a file ([`EdgeProc::stderr_text`]) instead of nowhere.
    pub fn capture_stderr(mut self) -> Self {
        self.stderr = Some(self.dir.path().join("edge.err"));
        self
    }

    /// Starts the edge (which must bind an admin listener) and reads the bound addresses from
    /// its first lines, giving up after 10 s. Its stdout is drained for as long as it runs.
    pub fn start(self) -> EdgeProc {
        let stderr = match &self.stderr {
            Some(path) => Stdio::from(std::fs::File::create(path).unwrap()),
            None => Stdio::null(),
        };
        let mut child = originlens()
            .args(&self.args)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Keep reading when nobody listens: the edge must not meet a closed stdout.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let (mut addr, mut admin) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            if let Some(rest) = line.strip_prefix("originlens edge: listening on http://") {
                addr = rest.trim_end_matches('/').parse().ok();
            } else if let Some(rest) = line.strip_prefix("admin: http://") {
                admin = rest.trim_end_matches("/metrics").parse().ok();
            } else if line.starts_with("store:") {
                break;
            }
        }
        let mut edge = EdgeProc {
            child,
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            admin: SocketAddr::from(([0, 0, 0, 0], 0)),
            store: self.store,
            stderr: self.stderr,
            _dir: self.dir,
        };
        match (addr, admin) {
            (Some(a), Some(m)) => (edge.addr, edge.admin) = (a, m),
            _ => panic!(
                "the edge did not print its addresses; stderr:\n{}",
                edge.stderr_text()
            ),
        }
        edge
    }
}

impl EdgeProc {
    /// `originlens edge` with no arguments yet.
    pub fn builder() -> EdgeBuilder {
        EdgeBuilder {
            args: vec!["edge".into()],
            store: None,
            stderr: None,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The store of an edge started with [`EdgeBuilder::temp_store`].
    pub fn store(&self) -> &Path {
        self.store
            .as_deref()
            .expect("the edge was started with a temporary store")
    }

    /// What the edge wrote to stderr, with [`EdgeBuilder::capture_stderr`] (empty otherwise).
    pub fn stderr_text(&self) -> String {
        self.stderr
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }
}

/// Every stored incident by id (`originlens incidents export`).
pub fn export(store: &Path) -> HashMap<String, serde_json::Value> {
    let out = originlens()
        .args(["incidents", "--store"])
        .arg(store)
        .arg("export")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["id"].as_str().unwrap().to_owned(), v)
        })
        .collect()
}
