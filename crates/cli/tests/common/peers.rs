//! Debian's nginx and HAProxy started in front of an origin on loopback, each from its own
//! temporary directory, stopped when dropped.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::net::{free_port, KillOnDrop};

/// Stops a peer with SIGTERM first, so that nginx's master takes its workers with it (a killed
/// master leaves them listening), then kills what is left.
impl Drop for Peer {
    fn drop(&mut self) {
        let pid = self.proc.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.proc.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The path of an installed program; a missing one fails the test with the install command.
pub fn require(program: &str) -> String {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"] {
        let path = format!("{dir}/{program}");
        if Path::new(&path).exists() {
            return path;
        }
    }
    panic!("{program} is not installed: run scripts/setup-debian.sh (Debian packages nginx, haproxy, curl)");
}

/// A running peer: its port, its directory (configuration and logs) and the process.
pub struct Peer {
    pub port: u16,
    pub dir: tempfile::TempDir,
    proc: KillOnDrop,
}

impl Peer {
    /// The peer's error log so far (nginx; empty for HAProxy, which logs nowhere here).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

fn wait_listening(port: u16, peer: &mut KillOnDrop) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = peer.0.try_wait() {
            panic!("the peer exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on port {port} after 10 s");
}

/// nginx with `proxy_pass` to `origin` (HTTP/1.1, `Connection ""`, 5 s read timeout).
pub fn nginx(origin: SocketAddr) -> Peer {
    let nginx = require("nginx");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let port = free_port();
    let conf = format!(
        "worker_processes 1;\nerror_log {d}/error.log info;\npid {d}/nginx.pid;\ndaemon off;\n\
         events {{ worker_connections 512; }}\n\
         http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/body;\n\
           proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n\
           scgi_temp_path {d}/scgi;\n\
           server {{\n    listen 127.0.0.1:{port};\n    location / {{\n\
               proxy_pass http://{origin};\n      proxy_http_version 1.1;\n\
               proxy_set_header Connection \"\";\n      proxy_read_timeout 5s;\n    }}\n  }}\n}}\n"
    );
    std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
    let mut proc = KillOnDrop(
        Command::new(nginx)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx"),
    );
    wait_listening(port, &mut proc);
    Peer { port, dir, proc }
}

/// HAProxy in `mode http` with Debian's defaults for the timeouts that matter here.
pub fn haproxy(origin: SocketAddr) -> Peer {
    let haproxy = require("haproxy");
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = format!(
        "global\n  maxconn 500\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 10s\n\
         timeout server 5s\nfrontend edge\n  bind 127.0.0.1:{port}\n  default_backend origin\n\
         backend origin\n  server lab {origin}\n"
    );
    let cfg = dir.path().join("haproxy.cfg");
    std::fs::write(&cfg, conf).unwrap();
    let mut proc = KillOnDrop(
        Command::new(haproxy)
            .arg("-f")
            .arg(&cfg)
            .arg("-db")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start haproxy"),
    );
    wait_listening(port, &mut proc);
    Peer { port, dir, proc }
}
