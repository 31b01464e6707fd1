//! A real Debian nginx in front of a real PHP-FPM pool, both on loopback with their own
//! configuration, logs and scripts in a temporary directory: the stack most 520 reports are
//! about, made to fail on purpose by the scripts a test writes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::net::free_port;

const INSTALL: &str = "run scripts/setup-debian.sh (it installs nginx and php-fpm from Debian)";

/// Scripts that make the pool fail in the ways the runbook names.
pub const FAILING_SCRIPTS: &[(&str, &str)] = &[
    ("ok.php", "<?php echo 'hi';"),
    // Runs past `request_terminate_timeout`: FPM kills the child.
    ("slow.php", "<?php sleep(10); echo 'late';"),
    // One 20 KB header: more than nginx's `fastcgi_buffer_size`.
    (
        "big.php",
        "<?php header('X-Big: ' . str_repeat('a', 20000)); echo 'ok';",
    ),
    // The worker dies on SIGSEGV mid-request.
    (
        "crash.php",
        "<?php posix_kill(posix_getpid(), 11); echo 'unreachable';",
    ),
];

/// A process stopped with SIGTERM (then SIGKILL) when dropped.
struct Peer {
    name: &'static str,
    child: Option<Child>,
}

impl Peer {
    fn start(name: &'static str, cmd: &mut Command) -> Peer {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}; {INSTALL}"));
        Peer {
            name,
            child: Some(child),
        }
    }

    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("{} did not stop on SIGTERM; killing it", self.name);
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// nginx → PHP-FPM on a Unix socket, `request_terminate_timeout = 1s`, default FastCGI buffers.
pub struct PhpStack {
    /// nginx's loopback port.
    pub port: u16,
    /// nginx's error log.
    pub error_log: PathBuf,
    /// PHP-FPM's log.
    pub fpm_log: PathBuf,
    /// nginx's access log.
    pub access_log: PathBuf,
    /// The nginx configuration file.
    pub nginx_conf: PathBuf,
    fpm: Peer,
    _nginx: Peer,
    _dir: tempfile::TempDir,
}

fn find_binary(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|p| p.is_file())
}

fn fpm_binary() -> Option<PathBuf> {
    if let Some(p) = find_binary(&["/usr/sbin/php-fpm8.2"]) {
        return Some(p);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/sbin")
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("php-fpm"))
        })
        .collect();
    found.sort();
    found.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ready() {
        assert!(
            Instant::now() < deadline,
            "{what} did not become ready within 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl PhpStack {
    /// Starts the pair serving `scripts` (name, PHP source).
    pub fn start(scripts: &[(&str, &str)]) -> PhpStack {
        let nginx = find_binary(&["/usr/sbin/nginx", "/usr/local/sbin/nginx"])
            .unwrap_or_else(|| panic!("nginx is not installed; {INSTALL}"));
        let fpm = fpm_binary().unwrap_or_else(|| panic!("php-fpm is not installed; {INSTALL}"));
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let www = d.join("www");
        let tmp = d.join("tmp");
        std::fs::create_dir_all(&www).unwrap();
        std::fs::create_dir_all(&tmp).unwrap();
        for (name, source) in scripts {
            std::fs::write(www.join(name), source).unwrap();
        }
        let sock = d.join("fpm.sock");
        let fpm_log = d.join("php-fpm.log");
        let error_log = d.join("error.log");
        let access_log = d.join("access.log");
        let fpm_conf = d.join("php-fpm.conf");
        std::fs::write(
            &fpm_conf,
            format!(
                "[global]\nerror_log = {}\nlog_level = notice\ndaemonize = no\npid = {}\n\n\
                 [www]\nlisten = {}\npm = static\npm.max_children = 2\n\
                 request_terminate_timeout = 1s\ncatch_workers_output = yes\n",
                fpm_log.display(),
                d.join("fpm.pid").display(),
                sock.display()
            ),
        )
        .unwrap();
        let port = free_port();
        let nginx_conf = d.join("nginx.conf");
        std::fs::write(
            &nginx_conf,
            format!(
                "daemon off;\n{user}pid {pid};\nerror_log {err} error;\n\
                 events {{ worker_connections 64; }}\n\
                 http {{\n  access_log {acc};\n  client_body_temp_path {t}/b; proxy_temp_path {t}/p; \
                 fastcgi_temp_path {t}/f; uwsgi_temp_path {t}/u; scgi_temp_path {t}/s;\n\
                 \x20 server {{\n    listen 127.0.0.1:{port};\n    root {www};\n\
                 \x20   location ~ \\.php$ {{\n      fastcgi_pass unix:{sock};\n\
                 \x20     fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\n\
                 \x20     fastcgi_param REQUEST_METHOD $request_method;\n\
                 \x20     fastcgi_param REQUEST_URI $request_uri;\n\
                 \x20     fastcgi_param QUERY_STRING $query_string;\n\
                 \x20     fastcgi_read_timeout 20s;\n    }}\n  }}\n}}\n",
                user = if is_root() { "user root;\n" } else { "" },
                pid = d.join("nginx.pid").display(),
                err = error_log.display(),
                acc = access_log.display(),
                t = tmp.display(),
                www = www.display(),
                sock = sock.display(),
            ),
        )
        .unwrap();
        let mut fpm_cmd = Command::new(&fpm);
        fpm_cmd
            .args(["-n", "-d", "extension=posix", "-y"])
            .arg(&fpm_conf);
        if is_root() {
            fpm_cmd.arg("-R");
        }
        let fpm = Peer::start("php-fpm", &mut fpm_cmd);
        let nginx = Peer::start(
            "nginx",
            Command::new(&nginx)
                .arg("-p")
                .arg(d)
                .arg("-c")
                .arg(&nginx_conf)
                .arg("-e")
                .arg(&error_log),
        );
        wait_for("php-fpm", || sock.exists());
        wait_for("nginx", || TcpStream::connect(("127.0.0.1", port)).is_ok());
        PhpStack {
            port,
            error_log,
            fpm_log,
            access_log,
            nginx_conf,
            fpm,
            _nginx: nginx,
            _dir: dir,
        }
    }

    /// Stops PHP-FPM; nginx keeps running and answers 502.
    pub fn stop_fpm(&mut self) {
        self.fpm.stop();
    }

    /// One HTTP/1.0 GET; the status code (0 when the connection ended without one).
    pub fn get(&self, path: &str) -> u16 {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to nginx");
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        let text = String::from_utf8_lossy(&buf);
        text.split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }

    /// The three logs, for a failure message.
    pub fn dump(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!(
            "--- error.log\n{}--- php-fpm.log\n{}--- access.log\n{}",
            read(&self.error_log),
            read(&self.fpm_log),
            read(&self.access_log)
        )
    }
}
