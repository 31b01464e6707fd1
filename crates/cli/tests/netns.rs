//! 522 and 523 for real: each test makes a network namespace of its own (`ip netns`, root) with
//! a veth pair and addresses only inside it, and runs the binary in it. An address behind a
//! neighbour entry that no interface answers to loses every SYN (the frames reach the veth peer,
//! which drops them for their MAC address) -> `connect.timeout`, 522. An address with no route,
//! or an `unreachable` route -> `connect.unreachable`, 523. `probe`, `edge` and `keepalive` are
//! each held to both.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod common;
use common::cli::json_of;
use common::edge::export;

/// Behind a neighbour entry nobody answers to: SYNs vanish.
const SILENT: &str = "10.231.0.2";
/// No route at all inside the namespace.
const NO_ROUTE: &str = "10.232.0.2";
/// Behind an `unreachable` route.
const UNREACHABLE_ROUTE: &str = "10.233.0.2";

/// A namespace of this test process, deleted (with its veth pair) on drop.
struct Netns {
    name: String,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap_or_else(|e| {
        panic!("running `ip`: {e}; install iproute2 (apt-get install -y iproute2)")
    });
    assert!(
        out.status.success(),
        "ip {}: {} (network namespaces need root and iproute2)",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

impl Netns {
    fn new() -> Netns {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "olt{}n{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        ip(&["netns", "add", &name]);
        let ns = Netns { name };
        let n = ns.name.as_str();
        ip(&["-n", n, "link", "set", "lo", "up"]);
        ip(&[
            "-n", n, "link", "add", "ol0", "type", "veth", "peer", "name", "ol1",
        ]);
        ip(&["-n", n, "addr", "add", "10.231.0.1/24", "dev", "ol0"]);
        ip(&["-n", n, "link", "set", "ol0", "up"]);
        ip(&["-n", n, "link", "set", "ol1", "up"]);
        // A MAC address no interface has: the peer drops every frame sent to it.
        let lladdr = "02:00:5e:00:53:02";
        ip(&[
            "-n",
            n,
            "neigh",
            "add",
            SILENT,
            "lladdr",
            lladdr,
            "dev",
            "ol0",
            "nud",
            "permanent",
        ]);
        ip(&["-n", n, "route", "add", "unreachable", "10.233.0.0/24"]);
        ns
    }

    /// `program args...` run inside the namespace.
    fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    fn originlens(&self) -> Command {
        self.command(env!("CARGO_BIN_EXE_originlens"))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn probe(ns: &Netns, addr: &str) -> (Output, Duration) {
    let started = Instant::now();
    let out = ns
        .originlens()
        .args([
            "probe",
            &format!("http://{addr}/"),
            "--connect-timeout",
            "2",
        ])
        .args(["--format", "json"])
        .output()
        .unwrap();
    (out, started.elapsed())
}

#[test]
fn probe_names_a_dropped_syn_522_and_no_route_523() {
    let ns = Netns::new();
    let (out, took) = probe(&ns, SILENT);
    let v = json_of(&out);
    assert_eq!(v["verdict"]["cause"], "connect.timeout", "{v}");
    assert_eq!(v["verdict"]["status"], 522, "{v}");
    assert!(
        took >= Duration::from_millis(1900),
        "gave up after {took:?}"
    );
    for addr in [NO_ROUTE, UNREACHABLE_ROUTE] {
        let (out, took) = probe(&ns, addr);
        let v = json_of(&out);
        assert_eq!(v["verdict"]["cause"], "connect.unreachable", "{addr}: {v}");
        assert_eq!(v["verdict"]["status"], 523, "{addr}: {v}");
        assert!(took < Duration::from_secs(2), "{addr}: {took:?}");
    }
}

/// An edge running inside `ns` in front of `origin`, with a store; killed on drop.
struct NsEdge {
    child: Child,
    listen: String,
    store: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for NsEdge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ns_edge(ns: &Netns, origin: &str) -> NsEdge {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("incidents.db");
    let mut child = ns
        .originlens()
        .args(["edge", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
        .args([
            "--origin",
            &format!("http://{origin}"),
            "--connect-timeout",
            "2",
        ])
        .arg("--store")
        .arg(&store)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut listen = None;
    while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        if let Some(rest) = line.strip_prefix("originlens edge: listening on ") {
            listen = Some(rest.trim_end_matches('/').to_owned());
        } else if line.starts_with("store:") {
            break;
        }
    }
    NsEdge {
        child,
        listen: listen.expect("the edge in the namespace printed its address"),
        store,
        _dir: dir,
    }
}

#[test]
fn the_edge_answers_522_for_a_dropped_syn_and_523_without_a_route() {
    let ns = Netns::new();
    for (origin, status, cause) in [
        (SILENT, 522, "connect.timeout"),
        (NO_ROUTE, 523, "connect.unreachable"),
        (UNREACHABLE_ROUTE, 523, "connect.unreachable"),
    ] {
        let edge = ns_edge(&ns, origin);
        // curl runs in the namespace too: the edge's loopback listener is only there.
        let out = ns
            .command("curl")
            .args(["-s", "-m", "10", "-H", "Accept: application/json"])
            .arg(format!("{}/x", edge.listen))
            .output()
            .expect("curl (apt-get install -y curl)");
        let page = json_of(&out);
        assert_eq!(page["status"], status, "{origin}: {page}");
        assert_eq!(page["cause"], cause, "{origin}: {page}");
        let id = page["incident"]
            .as_str()
            .expect("an incident id")
            .to_owned();
        // The writer commits in batches: give it a moment.
        let deadline = Instant::now() + Duration::from_secs(5);
        let row = loop {
            if let Some(row) = export(&edge.store).remove(&id) {
                break row;
            }
            assert!(
                Instant::now() < deadline,
                "{origin}: incident {id} not stored"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(row["cause"], cause, "{origin}: {row}");
        assert_eq!(row["visitor_status"], status, "{origin}: {row}");
    }
}

/// `keepalive` names the connect cause like probe and the edge do, and gives up within the
/// connect timeout instead of waiting out its idle times: nothing was measured, and it says so.
#[test]
fn keepalive_names_a_dropped_syn_522_and_no_route_523() {
    let ns = Netns::new();
    for (addr, at_least, cause, status) in [
        (SILENT, Duration::from_millis(1900), "connect.timeout", 522),
        (NO_ROUTE, Duration::ZERO, "connect.unreachable", 523),
        (
            UNREACHABLE_ROUTE,
            Duration::ZERO,
            "connect.unreachable",
            523,
        ),
    ] {
        let started = Instant::now();
        let out = ns
            .originlens()
            .args([
                "keepalive",
                &format!("http://{addr}/"),
                "--connect-timeout",
                "2",
            ])
            .args(["--idle", "1,5", "--format", "json"])
            .output()
            .unwrap();
        let took = started.elapsed();
        let v = json_of(&out);
        assert!(
            took >= at_least && took < Duration::from_secs(4),
            "{addr}: took {took:?}"
        );
        assert_eq!(out.status.code(), Some(1), "{addr}: {v}");
        assert_eq!(v["cause"], cause, "{addr}: {v}");
        assert_eq!(v["connect"]["cause"], cause, "{addr}: {v}");
        assert_eq!(v["connect"]["status"], status, "{addr}: {v}");
        assert!(
            v["connect"]["message"].as_str().unwrap().contains(addr),
            "{addr}: {v}"
        );
        assert_eq!(v["race"], false, "{addr}: {v}");
        assert_eq!(v["requests"]["ended"], "failed", "{addr}: {v}");
        assert_eq!(v["connection_close"]["answered"], false, "{addr}: {v}");
        let probes = v["idle"]["probes"].as_array().unwrap();
        assert_eq!(probes.len(), 2, "{addr}: {v}");
        assert!(
            probes.iter().all(|p| p["outcome"] == "failed"),
            "{addr}: {v}"
        );
    }
    // The text output leads with the same cause.
    let out = ns
        .originlens()
        .args([
            "keepalive",
            &format!("http://{SILENT}/"),
            "--connect-timeout",
            "1",
        ])
        .args(["--idle", "1", "--color", "never"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("verdict       connect.timeout (522 at the edge)"),
        "{text}"
    );
}
