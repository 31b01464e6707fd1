//! A fleet's shared incident store: Debian's PostgreSQL started for the test, two edges writing
//! to one database, the database going away and coming back, every incident arriving once.

mod common;

use common::net::free_port;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::curl::Curl;
use common::edge::{export, EdgeProc};
use originlens_lab::LabHandle;

const CURL: Curl = Curl { max_time: "10" };

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The server binaries of Debian's newest installed PostgreSQL.
fn pg_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    versions.retain(|p| p.join("initdb").exists());
    versions.sort();
    versions.pop().unwrap_or_else(|| {
        panic!("PostgreSQL is not installed: run `bash scripts/setup-debian.sh` (Debian package postgresql)")
    })
}

/// A private PostgreSQL on a loopback port, its data in a temporary directory; stopped on drop.
struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl Postgres {
    fn as_postgres(program: &Path) -> Command {
        if is_root() {
            // initdb and postgres refuse to run as root.
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    fn start() -> Postgres {
        let bin = pg_bin();
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let data = dir.path().join("data");
        let out = Self::as_postgres(&bin.join("initdb"))
            .args(["--auth=trust", "-U", "postgres", "-D"])
            .arg(&data)
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut pg = Postgres {
            bin,
            data,
            port: free_port(),
            child: None,
            _dir: dir,
        };
        pg.run();
        pg
    }

    fn run(&mut self) {
        let child = Self::as_postgres(&self.bin.join("postgres"))
            .arg("-D")
            .arg(&self.data)
            .args([
                "-p",
                &self.port.to_string(),
                "-c",
                "listen_addresses=127.0.0.1",
            ])
            .arg("-k")
            .arg(self.data.parent().unwrap())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start postgres");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        while TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "postgres did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        // Accepting connections may come a moment after the port opens.
        std::thread::sleep(Duration::from_millis(300));
    }

    /// Stops the server at once, as a crash or a failover would.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
            // runuser does not pass SIGKILL on: stop the server itself.
            let _ = Self::as_postgres(&self.bin.join("pg_ctl"))
                .args(["stop", "-m", "immediate", "-D"])
                .arg(&self.data)
                .output();
        }
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

fn edge(origin: SocketAddr, store: &str) -> EdgeProc {
    EdgeProc::builder()
        .loopback()
        .args(["--origin", &format!("http://{origin}"), "--store", store])
        .capture_stderr()
        .start()
}

/// Sends `n` requests for `path` through `edge`, returning the incident ids it answered with.
fn drive(edge: &EdgeProc, path: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let seen = CURL.fetch(&format!("http://{}{path}", edge.addr), &[]);
            seen.header("originlens-incident")
                .unwrap_or_else(|| panic!("no incident id for {path}: {}", seen.status))
                .to_owned()
        })
        .collect()
}

#[test]
fn two_edges_share_one_postgres_store_and_lose_nothing_when_it_goes_away() {
    let mut pg = Postgres::start();
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = pg.url();
    let a = edge(lab.addr(), &url);
    let b = edge(lab.addr(), &url);

    let mut sent = drive(&a, "/empty", 15);
    sent.extend(drive(&b, "/head-truncated", 15));
    CURL.wait_for_written(&a, 15);
    CURL.wait_for_written(&b, 15);

    // The database goes away; the edges keep answering and hold the incidents.
    pg.stop();
    sent.extend(drive(&a, "/reset", 10));
    sent.extend(drive(&b, "/empty", 5));
    assert_eq!(
        CURL.metric(a.admin, "originlens_edge_incidents_dropped_total"),
        0
    );
    pg.run();
    CURL.wait_for_written(&a, 25);
    CURL.wait_for_written(&b, 20);

    let stored = export(Path::new(&url));
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    for id in &sent {
        *by_id.entry(id).or_default() += 1;
    }
    assert_eq!(by_id.len(), 45, "incident ids are unique");
    assert_eq!(stored.len(), 45, "every incident arrives once");
    for id in &sent {
        let row = stored
            .get(id)
            .unwrap_or_else(|| panic!("incident {id} missing"));
        assert!(row["cause"].is_string());
    }
    let causes = stored
        .values()
        .filter(|r| r["cause"] == "response.empty")
        .count();
    assert_eq!(causes, 20);

    // `incidents` reads the shared store like a file.
    let out = common::cli::run(&["incidents", "--store", &url, "list", "--limit", "5"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 6);
    let id = &sent[0][..8];
    let out = common::cli::run(&["incidents", "--store", &url, "show", id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("response.empty"));
    // The password never reaches the output.
    let out = common::cli::run(&[
        "incidents",
        "--store",
        &format!("postgres://postgres:secret@127.0.0.1:{}/nope", pg.port),
        "list",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("secret") && err.contains("postgres:***@"),
        "{err}"
    );
}
