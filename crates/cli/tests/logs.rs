//! `originlens logs` end to end: the real binary on generated logs, stdin, gzip, hostile input,
//! and on the logs of a real nginx + php-fpm pair made to fail four different ways.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

fn logs(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_originlens"))
        .arg("logs")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run originlens");
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.unwrap_or_default().to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait for originlens");
    writer.join().unwrap();
    let o = Output {
        code: out.status.code().expect("exited, not killed by a signal"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !o.stderr.contains("panicked"),
        "originlens panicked: {}",
        o.stderr
    );
    o
}

/// JSON lines grouped by type.
fn json(o: &Output) -> Vec<(String, Value)> {
    o.stdout
        .lines()
        .map(|l| {
            let v: Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}"));
            (v["type"].as_str().unwrap().to_owned(), v["data"].clone())
        })
        .collect()
}

fn of<'a>(lines: &'a [(String, Value)], kind: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|(t, _)| t == kind)
        .map(|(_, v)| v)
        .collect()
}

const CRASH_ERROR_LOG: &str = "2024/01/02 03:04:05 [error] 2211#2211: *9141 upstream prematurely closed connection while reading response header from upstream, client: 172.70.42.10, server: example.com, request: \"GET /api/orders HTTP/1.1\", upstream: \"fastcgi://unix:/run/php/php8.2-fpm.sock:\", host: \"example.com\"\n";
const CRASH_FPM_LOG: &str = "[02-Jan-2024 03:04:00] NOTICE: ready to handle connections\n[02-Jan-2024 03:04:05] WARNING: [pool www] child 48211 exited on signal 11 (SIGSEGV - core dumped) after 912.503112 seconds from start\n";
const CRASH_KERN_LOG: &str = "Jan  2 03:04:05 web1 kernel: [1234567.891011] php-fpm8.2[48211]: segfault at 0 ip 00007f3a1c2b4d10 sp 00007ffd9a8c1f40 error 4 in opcache.so[7f3a1c000000+5a3000]\n";
const NOISE: &str = "2024/01/02 03:00:00 [error] 2211#2211: *1 open() \"/var/www/favicon.ico\" failed (2: No such file or directory), client: 1.2.3.4\n";

#[test]
fn joins_nginx_fpm_and_kernel_lines_into_one_crash() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let e = write("error.log", &format!("{NOISE}{CRASH_ERROR_LOG}"));
    let f = write("php8.2-fpm.log", CRASH_FPM_LOG);
    let k = write("kern.log", CRASH_KERN_LOG);
    let o = logs(
        &[
            &e, &f, &k, "--tz", "UTC", "--year", "2024", "--format", "json",
        ],
        None,
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    let lines = json(&o);
    let incidents = of(&lines, "incident");
    assert_eq!(incidents.len(), 1, "{}", o.stdout);
    assert_eq!(incidents[0]["cause"], "crash.signal");
    assert_eq!(incidents[0]["status"], "502");
    assert_eq!(incidents[0]["events"].as_array().unwrap().len(), 3);
    let events = of(&lines, "event");
    let nginx = events.iter().find(|e| e["signature"] == "N1").unwrap();
    assert_eq!(nginx["line"], 2, "file:line points at the real line");
    assert_eq!(
        nginx["fields"]["upstream"],
        "fastcgi://unix:/run/php/php8.2-fpm.sock:"
    );
    assert_eq!(nginx["time"], "2024-01-02T03:04:05Z");
    let summary = of(&lines, "cause");
    assert_eq!(summary[0]["cause"], "crash.signal");
    assert!(summary[0]["fix"].as_str().unwrap().contains("core dump"));
    let end = of(&lines, "end");
    assert_eq!(end[0]["lines"], 5);

    // The same run as text names the cause, the status, file:line and the fix.
    let o = logs(
        &[
            &e, &f, &k, "--tz", "UTC", "--year", "2024", "--color", "never",
        ],
        None,
    );
    assert_eq!(o.code, 1);
    for needle in [
        "crash.signal",
        "visitor saw 502",
        "error.log:2",
        "php8.2-fpm.log:2",
        "kern.log:1",
        "What to do",
    ] {
        assert!(
            o.stdout.contains(needle),
            "missing {needle:?} in\n{}",
            o.stdout
        );
    }
    assert!(
        !o.stdout.contains("\u{1b}["),
        "no colour when not a terminal and --color never"
    );
}

#[test]
fn exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.log");
    std::fs::write(&clean, NOISE).unwrap();
    let o = logs(&[clean.to_str().unwrap()], None);
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert!(o.stdout.contains("No line of the catalogue was found"));
    let o = logs(&["-"], Some(CRASH_ERROR_LOG.as_bytes()));
    assert_eq!(o.code, 1);
    let missing = dir.path().join("missing.log");
    let o = logs(&[clean.to_str().unwrap(), missing.to_str().unwrap()], None);
    assert_eq!(o.code, 2);
    assert!(
        o.stdout.contains("missing.log: no such file or directory"),
        "{}",
        o.stdout
    );
    let o = logs(&["-", "--since", "in a while"], Some(b""));
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("--since"), "{}", o.stderr);
    let o = logs(&[], None);
    assert_eq!(o.code, 2, "no path is a usage error");
}

#[test]
fn stdin_gzip_directories_and_globs() {
    let dir = tempfile::tempdir().unwrap();
    // A logrotate-style rotation, compressed by the real gzip.
    std::fs::write(dir.path().join("error.log.2"), CRASH_ERROR_LOG).unwrap();
    let gz = Command::new("gzip")
        .arg(dir.path().join("error.log.2"))
        .status()
        .expect("gzip is installed");
    assert!(gz.success());
    std::fs::write(dir.path().join("error.log"), NOISE).unwrap();
    std::fs::write(dir.path().join("fpm.log"), CRASH_FPM_LOG).unwrap();

    let o = logs(
        &[
            dir.path().to_str().unwrap(),
            "--tz",
            "UTC",
            "--format",
            "json",
        ],
        None,
    );
    let lines = json(&o);
    assert_eq!(
        of(&lines, "begin")[0]["inputs"].as_array().unwrap().len(),
        3
    );
    let incidents = of(&lines, "incident");
    assert_eq!(incidents.len(), 1, "{}", o.stdout);
    assert_eq!(incidents[0]["cause"], "crash.signal");
    assert!(of(&lines, "event")
        .iter()
        .any(|e| e["file"].as_str().unwrap().ends_with("error.log.2.gz")));

    let pattern = dir.path().join("error.log*").display().to_string();
    let o = logs(&[&pattern, "--format", "json", "--tz", "UTC"], None);
    let lines = json(&o);
    assert_eq!(of(&lines, "end")[0]["inputs"], 2);

    let o = logs(
        &["-", "--format", "json", "--tz", "UTC"],
        Some(CRASH_FPM_LOG.as_bytes()),
    );
    let lines = json(&o);
    assert_eq!(of(&lines, "event")[0]["file"], "-");
}

#[test]
fn journald_and_dmesg_from_stdin() {
    // `journalctl -o short-iso` and `dmesg` piped in.
    let journal = "2024-01-02T03:04:05+0000 web1 kernel: Out of memory: Killed process 48214 (php-fpm8.2) total-vm:912340kB, anon-rss:523456kB, file-rss:1204kB, shmem-rss:45678kB, UID:33 pgtables:1400kB oom_score_adj:0\n2024-01-02T03:04:05+0000 web1 systemd[1]: php8.2-fpm.service: A process of this unit has been killed by the OOM killer.\n";
    let o = logs(&["-", "--format", "json"], Some(journal.as_bytes()));
    let lines = json(&o);
    let incidents = of(&lines, "incident");
    assert_eq!(incidents.len(), 1, "{}", o.stdout);
    assert_eq!(incidents[0]["cause"], "oom.kill");

    let dmesg = "[  100.000000] Out of memory: Killed process 48214 (php-fpm8.2) total-vm:912340kB, anon-rss:523456kB, file-rss:1204kB, shmem-rss:45678kB\n";
    let o = logs(
        &[
            "-",
            "--format",
            "json",
            "--boot-time",
            "2024-01-02T00:00:00Z",
        ],
        Some(dmesg.as_bytes()),
    );
    let lines = json(&o);
    assert_eq!(of(&lines, "event")[0]["time"], "2024-01-02T00:01:40Z");
    assert_eq!(of(&lines, "event")[0]["fields"]["memory"], 523456);
    let o = logs(&["-", "--format", "json"], Some(dmesg.as_bytes()));
    let lines = json(&o);
    assert!(of(&lines, "note")
        .iter()
        .any(|n| n["message"].as_str().unwrap().contains("--boot-time")));
    let o = logs(
        &["-", "--boot-time", "auto", "--format", "json"],
        Some(dmesg.as_bytes()),
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(of(&json(&o), "event")[0]["time"].is_string());
}

#[test]
fn since_and_until_select_a_window() {
    let two = format!(
        "{CRASH_ERROR_LOG}{}",
        CRASH_ERROR_LOG.replace("03:04:05", "05:00:00")
    );
    let o = logs(
        &[
            "-",
            "--tz",
            "UTC",
            "--format",
            "json",
            "--since",
            "2024-01-02 04:00",
            "--until",
            "2024-01-02T06:00:00Z",
        ],
        Some(two.as_bytes()),
    );
    let lines = json(&o);
    let events = of(&lines, "event");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["time"], "2024-01-02T05:00:00Z");
    assert_eq!(of(&lines, "end")[0]["outside_time_range"], 1);
    let o = logs(&["-", "--since", "2 hours ago"], Some(two.as_bytes()));
    assert_eq!(o.code, 0, "2024 is more than two hours ago");
}

#[test]
fn hostile_input_gives_notes_and_keeps_the_real_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostile.log");
    let mut data = Vec::new();
    data.extend_from_slice(b"2024/01/02 03:00:00 [notice] 1#1: start worker processes\n");
    data.extend_from_slice(&vec![b'A'; 1 << 20]);
    data.push(b'\n');
    // A hole of NUL bytes after a crash, further into a text log: a note, and the scan goes on.
    data.extend_from_slice(b"\x00\x00\x00\x00\xff\xfe\xfd hole\n");
    data.extend_from_slice(b"2024/01/02 03:04:05 [error] 1#1: *1 upstream sent too big header while reading response header from upstream, client: \xc3\x28\n");
    data.extend_from_slice(CRASH_ERROR_LOG.trim_end().as_bytes());
    std::fs::write(&path, &data).unwrap();
    let o = logs(
        &[path.to_str().unwrap(), "--format", "json", "--tz", "UTC"],
        None,
    );
    assert_eq!(o.code, 1);
    let lines = json(&o);
    let kinds: Vec<&str> = of(&lines, "note")
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    for kind in ["binary", "invalid-utf8", "truncated-last-line"] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    let events = of(&lines, "event");
    assert_eq!(
        events
            .iter()
            .map(|e| e["line"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![4, 5]
    );

    // A binary file (it starts like one) is a note, not a source of incidents.
    let elf = dir.path().join("core.log");
    let mut bin = b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00".to_vec();
    bin.extend_from_slice(CRASH_ERROR_LOG.as_bytes());
    std::fs::write(&elf, &bin).unwrap();
    let o = logs(&[elf.to_str().unwrap(), "--format", "json"], None);
    assert_eq!(o.code, 0, "{}", o.stdout);
    let lines = json(&o);
    assert!(of(&lines, "incident").is_empty(), "{}", o.stdout);
    assert_eq!(of(&lines, "note")[0]["kind"], "binary", "{}", o.stdout);

    // Unsupported compression is named, not scanned as text.
    let zst = dir.path().join("error.log.zst");
    std::fs::write(&zst, [0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0]).unwrap();
    let o = logs(&[zst.to_str().unwrap()], None);
    assert_eq!(o.code, 2);
    assert!(o.stdout.contains("zstd"), "{}", o.stdout);
}

#[test]
fn literals_and_catalogue() {
    let o = logs(&["--literals"], None);
    assert_eq!(o.code, 0);
    let lits: Vec<&str> = o.stdout.lines().collect();
    assert!(lits.contains(&"prematurely closed"));
    assert!(lits.contains(&"exited"));
    assert!(
        lits.len() <= 64,
        "few enough literals for the packed (Teddy) searcher: {}",
        lits.len()
    );
    let o = logs(&["--catalogue"], None);
    assert!(o.stdout.contains("N22") && o.stdout.contains("oom.kill"));
}

// ---------------------------------------------------------------------------------------------
// Real nginx + php-fpm.

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
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// One HTTP/1.0 request; returns the status code (0 when the connection ended without one).
fn get(port: u16, path: &str) -> u16 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to nginx");
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

fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn explains_a_real_nginx_and_php_fpm_failure_run() {
    let started = Instant::now();
    let nginx = find_binary(&["/usr/sbin/nginx", "/usr/local/sbin/nginx"]).unwrap_or_else(|| {
        panic!("nginx is not installed; run scripts/setup-debian.sh (it installs nginx, php-fpm and ripgrep)")
    });
    let fpm = fpm_binary().unwrap_or_else(|| {
        panic!("php-fpm is not installed; run scripts/setup-debian.sh (it installs nginx, php-fpm and ripgrep)")
    });
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let www = d.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::create_dir_all(d.join("tmp")).unwrap();
    // (a) past request_terminate_timeout, (b) headers larger than fastcgi_buffer_size,
    // (c) the worker dies abruptly, and a healthy page.
    write_file(&www, "slow.php", "<?php sleep(10); echo 'late';");
    write_file(&www, "big.php", "<?php for ($i = 0; $i < 16; $i++) header(\"X-Big-$i: \" . str_repeat('a', 1000)); echo 'ok';");
    write_file(
        &www,
        "crash.php",
        "<?php posix_kill(posix_getpid(), 11); echo 'unreachable';",
    );
    write_file(&www, "ok.php", "<?php echo 'hi';");

    let sock = d.join("fpm.sock");
    let fpm_log = d.join("php-fpm.log");
    let error_log = d.join("error.log");
    let access_log = d.join("access.log");
    let fpm_conf = write_file(
        d,
        "php-fpm.conf",
        &format!(
            "[global]\nerror_log = {}\nlog_level = notice\ndaemonize = no\npid = {}\n\n[www]\nlisten = {}\npm = static\npm.max_children = 2\nrequest_terminate_timeout = 1s\ncatch_workers_output = yes\n",
            fpm_log.display(),
            d.join("fpm.pid").display(),
            sock.display()
        ),
    );
    let port = free_port();
    let t = d.join("tmp");
    let nginx_conf = write_file(
        d,
        "nginx.conf",
        &format!(
            "daemon off;\n{user}pid {pid};\nerror_log {err} error;\nevents {{ worker_connections 64; }}\nhttp {{\n  access_log {acc};\n  client_body_temp_path {t}/b; proxy_temp_path {t}/p; fastcgi_temp_path {t}/f; uwsgi_temp_path {t}/u; scgi_temp_path {t}/s;\n  server {{\n    listen 127.0.0.1:{port};\n    root {www};\n    location ~ \\.php$ {{\n      fastcgi_pass unix:{sock};\n      fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\n      fastcgi_param REQUEST_METHOD $request_method;\n      fastcgi_param REQUEST_URI $request_uri;\n      fastcgi_param QUERY_STRING $query_string;\n      fastcgi_buffer_size 4k;\n      fastcgi_read_timeout 20s;\n    }}\n  }}\n}}\n",
            user = if is_root() { "user root;\n" } else { "" },
            pid = d.join("nginx.pid").display(),
            err = error_log.display(),
            acc = access_log.display(),
            t = t.display(),
            www = www.display(),
            sock = sock.display(),
        ),
    );

    let mut fpm_cmd = Command::new(&fpm);
    fpm_cmd
        .args(["-n", "-d", "extension=posix", "-y"])
        .arg(&fpm_conf);
    if is_root() {
        fpm_cmd.arg("-R");
    }
    let mut fpm_peer = Peer::start("php-fpm", &mut fpm_cmd);
    let _nginx_peer = Peer::start(
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
    assert_eq!(get(port, "/ok.php"), 200, "the setup serves PHP");

    // Incidents are spaced further apart than the correlation window (2 s).
    let gap = Duration::from_millis(3500);
    assert_eq!(get(port, "/slow.php"), 502, "(a) request_terminate_timeout");
    std::thread::sleep(gap);
    assert_eq!(
        get(port, "/big.php"),
        502,
        "(b) headers larger than fastcgi_buffer_size"
    );
    std::thread::sleep(gap);
    assert_eq!(get(port, "/crash.php"), 502, "(c) the worker dies");
    std::thread::sleep(gap);
    fpm_peer.stop();
    assert_eq!(get(port, "/ok.php"), 502, "(d) php-fpm stopped");
    drop(_nginx_peer);

    let args = [
        error_log.to_str().unwrap(),
        fpm_log.to_str().unwrap(),
        access_log.to_str().unwrap(),
        "--format",
        "json",
    ];
    let o = logs(&args, None);
    let dump = || {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!(
            "--- error.log\n{}--- php-fpm.log\n{}--- access.log\n{}--- originlens\n{}",
            read(&error_log),
            read(&fpm_log),
            read(&access_log),
            o.stdout
        )
    };
    assert_eq!(o.code, 1, "{}", dump());
    let lines = json(&o);
    let events = of(&lines, "event");
    let incidents = of(&lines, "incident");
    let signatures_of = |inc: &Value| -> Vec<String> {
        inc["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| {
                events[id.as_u64().unwrap() as usize]["signature"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let causes: Vec<&str> = incidents
        .iter()
        .map(|i| i["cause"].as_str().unwrap())
        .collect();
    assert_eq!(
        causes,
        vec![
            "timeout.kill",
            "head.too-large",
            "crash.signal",
            "upstream.unreachable"
        ],
        "{}",
        dump()
    );
    for inc in &incidents {
        assert_eq!(inc["status"], "502", "{inc}");
        assert!(!inc["edge_facing"].as_bool().unwrap());
    }
    // (a): FPM's kill, the SIGTERM it causes, and nginx's view of it are one story.
    let a = signatures_of(incidents[0]);
    for sig in ["P3", "P1", "L1"] {
        assert!(
            a.contains(&sig.to_owned()),
            "(a) lacks {sig}: {a:?}\n{}",
            dump()
        );
    }
    assert!(
        a.iter().any(|s| s.starts_with('N')),
        "(a) lacks the nginx line: {a:?}"
    );
    // (b): nginx says the header was too big.
    assert!(signatures_of(incidents[1]).contains(&"N13".to_owned()));
    // (c): FPM saw SIGSEGV, nginx saw the upstream go away.
    let c = signatures_of(incidents[2]);
    assert!(
        c.contains(&"P1".to_owned()) && c.iter().any(|s| s.starts_with('N')),
        "{c:?}"
    );
    let p1 = events
        .iter()
        .find(|e| e["signature"] == "P1" && e["fields"]["signal"] == 11)
        .unwrap();
    assert_eq!(p1["fields"]["signal_name"], "SIGSEGV");
    // (d): nginx cannot reach the socket.
    let d_sigs = signatures_of(incidents[3]);
    assert!(
        d_sigs.contains(&"N8".to_owned()) || d_sigs.contains(&"N7".to_owned()),
        "{d_sigs:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the test took {:?}",
        started.elapsed()
    );
}
