//! A real Debian nginx started by a test on a free loopback port, in its own temporary prefix,
//! killed on drop.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::net::{free_port, KillOnDrop};

/// A running nginx.
pub struct Nginx {
    pub port: u16,
    _child: KillOnDrop,
    _dir: tempfile::TempDir,
}

impl Nginx {
    /// Starts nginx with one worker, no access log, `http_extra` in the `http` block and
    /// `server_body` as its one server (which listens on the free port). Panics, naming the
    /// install command, when nginx is missing or does not come up within 10 s.
    pub fn start(http_extra: &str, server_body: &str) -> Nginx {
        Nginx::start_listening("", http_extra, server_body)
    }

    /// As [`Nginx::start`], its listener speaking TLS and HTTP/2 (`server_body` names the
    /// certificate and key).
    pub fn start_tls(http_extra: &str, server_body: &str) -> Nginx {
        Nginx::start_listening(" ssl http2", http_extra, server_body)
    }

    fn start_listening(listen_extra: &str, http_extra: &str, server_body: &str) -> Nginx {
        let bin = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or_else(|| {
                panic!("nginx is needed for this test: apt-get install nginx (scripts/setup-debian.sh)")
            });
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::create_dir_all(p.join("logs")).unwrap();
        std::fs::create_dir_all(p.join("html")).unwrap();
        std::fs::write(p.join("html/index.html"), "ok\n").unwrap();
        let conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {p}/nginx.pid;\nerror_log {p}/logs/error.log;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {p}/tmp;\n  proxy_temp_path {p}/tmp;\n\
               fastcgi_temp_path {p}/tmp;\n  uwsgi_temp_path {p}/tmp;\n  scgi_temp_path {p}/tmp;\n\
               {http_extra}\n\
               server {{ listen 127.0.0.1:{port}{listen_extra}; root {p}/html; {server_body} }}\n}}\n",
            p = p.display()
        );
        std::fs::write(p.join("nginx.conf"), conf).unwrap();
        let child = Command::new(bin)
            .arg("-p")
            .arg(p)
            .arg("-c")
            .arg(p.join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {bin}: {e}"));
        let n = Nginx {
            port,
            _child: KillOnDrop(child),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return n;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = std::fs::read_to_string(n._dir.path().join("logs/error.log")).unwrap_or_default();
        panic!("nginx did not listen on 127.0.0.1:{port} within 10 s:\n{log}");
    }
}
