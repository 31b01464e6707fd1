//! `originlens logs` end to end: the real binary on generated logs, stdin, gzip, hostile input,
//! and on the logs of a real nginx + php-fpm pair made to fail four different ways.

mod common;

use common::php_stack::{PhpStack, FAILING_SCRIPTS};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
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

fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn explains_a_real_nginx_and_php_fpm_failure_run() {
    let started = Instant::now();
    // (a) past request_terminate_timeout, (b) headers larger than fastcgi_buffer_size,
    // (c) the worker dies abruptly, and a healthy page.
    let mut stack = PhpStack::start(FAILING_SCRIPTS);
    let (error_log, fpm_log, access_log) = (
        stack.error_log.clone(),
        stack.fpm_log.clone(),
        stack.access_log.clone(),
    );
    assert_eq!(stack.get("/ok.php"), 200, "the setup serves PHP");

    // Incidents are spaced further apart than the correlation window (2 s).
    let gap = Duration::from_millis(3500);
    assert_eq!(stack.get("/slow.php"), 502, "(a) request_terminate_timeout");
    std::thread::sleep(gap);
    assert_eq!(
        stack.get("/big.php"),
        502,
        "(b) headers larger than fastcgi_buffer_size"
    );
    std::thread::sleep(gap);
    assert_eq!(stack.get("/crash.php"), 502, "(c) the worker dies");
    std::thread::sleep(gap);
    stack.stop_fpm();
    assert_eq!(stack.get("/ok.php"), 502, "(d) php-fpm stopped");

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

// ---- Issue 12: incidents on real servers' files (lines written in the style of real logs) ----

fn write_all(dir: &Path, files: &[(&str, &str)]) -> Vec<String> {
    files
        .iter()
        .map(|(name, text)| write_file(dir, name, text).display().to_string())
        .collect()
}

fn run_json(paths: &[String], extra: &[&str]) -> (Output, Vec<(String, Value)>) {
    let mut args: Vec<&str> = paths.iter().map(String::as_str).collect();
    args.extend_from_slice(&["--format", "json", "--tz", "UTC"]);
    args.extend_from_slice(extra);
    let o = logs(&args, None);
    let lines = json(&o);
    (o, lines)
}

/// The incident whose events include a line of `file` at `line`.
fn incident_with<'a>(lines: &'a [(String, Value)], file: &str, line: u64) -> &'a Value {
    let events = of(lines, "event");
    let id = events
        .iter()
        .position(|e| e["file"].as_str().unwrap().ends_with(file) && e["line"] == line)
        .unwrap_or_else(|| panic!("no event {file}:{line}"));
    let id = events[id]["id"].as_u64().unwrap();
    of(lines, "incident")
        .into_iter()
        .find(|i| i["events"].as_array().unwrap().iter().any(|e| e == id))
        .unwrap_or_else(|| panic!("{file}:{line} is in no incident"))
}

const SHOP_NGINX: &str = "\
2025/03/14 12:42:30 [error] 880#880: *41 upstream sent too big header while reading response header from upstream, client: 203.0.113.9, server: shop.example, request: \"GET /cart.php HTTP/1.1\", upstream: \"fastcgi://unix:/run/php/php8.2-fpm.sock:\", host: \"shop.example\"
2025/03/14 12:42:30 [error] 880#880: *42 FastCGI sent in stderr: \"PHP message: PHP Fatal error:  Allowed memory size of 134217728 bytes exhausted (tried to allocate 65536 bytes) in /srv/shop/export.php on line 12\" while reading response header from upstream, client: 203.0.113.9, server: shop.example, request: \"GET /export.php HTTP/1.1\", upstream: \"fastcgi://unix:/run/php/php8.2-fpm.sock:\", host: \"shop.example\"
2025/03/14 12:42:30 [error] 880#880: *43 recv() failed (104: Connection reset by peer) while reading response header from upstream, client: 203.0.113.9, server: shop.example, request: \"GET /thumb.php HTTP/1.1\", upstream: \"fastcgi://unix:/run/php/php8.2-fpm.sock:\", host: \"shop.example\"
2025/03/14 12:42:31 [error] 880#880: *40 upstream prematurely closed connection while reading response header from upstream, client: 203.0.113.9, server: shop.example, request: \"GET /report.php HTTP/1.1\", upstream: \"fastcgi://unix:/run/php/php8.2-fpm.sock:\", host: \"shop.example\"
";
const SHOP_FPM: &str = "\
[14-Mar-2025 12:42:30] WARNING: [pool shop] child 7101, script '/srv/shop/report.php' (request: \"GET /report.php\") execution timed out (30.012044 sec), terminating
[14-Mar-2025 12:42:30] WARNING: [pool shop] child 7102 exited on signal 11 (SIGSEGV - core dumped) after 4.120001 seconds from start
[14-Mar-2025 12:42:30] WARNING: [pool shop] child 7101 exited on signal 15 (SIGTERM) after 31.200113 seconds from start
";

#[test]
fn a_burst_of_different_causes_stays_separate_incidents_joined_by_their_keys() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_all(
        dir.path(),
        &[("error.log", SHOP_NGINX), ("php8.2-fpm.log", SHOP_FPM)],
    );
    let (o, lines) = run_json(&paths, &[]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    let mut causes: Vec<&str> = of(&lines, "incident")
        .iter()
        .map(|i| i["cause"].as_str().unwrap())
        .collect();
    causes.sort_unstable();
    assert_eq!(
        causes,
        [
            "app.fatal",
            "crash.signal",
            "head.too-large",
            "timeout.kill"
        ],
        "{}",
        o.stdout
    );
    // The empty reply a second later is the timed-out request (same request line), not the
    // segfault; the reset without a killed request of its own is the segfault's.
    let kill = incident_with(&lines, "php8.2-fpm.log", 1);
    assert_eq!(kill["cause"], "timeout.kill");
    assert_eq!(incident_with(&lines, "error.log", 4)["id"], kill["id"]);
    assert_eq!(incident_with(&lines, "php8.2-fpm.log", 3)["id"], kill["id"]);
    assert_eq!(kill["events"].as_array().unwrap().len(), 3);
    let crash = incident_with(&lines, "php8.2-fpm.log", 2);
    assert_eq!(crash["cause"], "crash.signal");
    assert_eq!(incident_with(&lines, "error.log", 3)["id"], crash["id"]);
    assert_eq!(crash["events"].as_array().unwrap().len(), 2);
    assert_eq!(
        incident_with(&lines, "error.log", 1)["cause"],
        "head.too-large"
    );
    assert_eq!(incident_with(&lines, "error.log", 2)["cause"], "app.fatal");
}

#[test]
fn the_headline_is_the_first_decisive_event() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_all(
        dir.path(),
        &[
            ("kern.log", "Mar 14 12:42:30 web1 kernel: [904211.551020] php-fpm8.2[7301]: segfault at 8 ip 00007f11aa2b3c40 sp 00007ffe6b1d2e90 error 4 in libphp.so[7f11aa000000+600000]\n"),
            ("syslog", "Mar 14 12:42:31 web1 systemd-oomd[612]: Killed /system.slice/php8.2-fpm.service due to memory pressure for /system.slice being 91.20% > 80.00% for > 20s with reclaim activity\n"),
            ("php8.2-fpm.log", "[14-Mar-2025 12:42:30] WARNING: [pool www] child 7301 exited on signal 11 (SIGSEGV - core dumped) after 2.5 seconds from start\n"),
        ],
    );
    let (o, lines) = run_json(&paths, &["--year", "2025"]);
    let incidents = of(&lines, "incident");
    assert_eq!(incidents.len(), 1, "{}", o.stdout);
    assert_eq!(incidents[0]["cause"], "crash.signal", "{}", o.stdout);
    assert_eq!(incidents[0]["events"].as_array().unwrap().len(), 3);
}

#[test]
fn a_storm_is_one_incident_with_a_count_and_the_text_caps_what_it_prints() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = String::new();
    // 30 minutes, one refused connect every 10 s, to one upstream.
    for k in 0..180u32 {
        let (m, s) = (k * 10 / 60, k * 10 % 60);
        log.push_str(&format!("2025/03/14 13:{m:02}:{s:02} [error] 880#880: *{} connect() failed (111: Connection refused) while connecting to upstream, client: 198.51.100.{}, server: api.example, request: \"GET /v1/items HTTP/1.1\", upstream: \"http://127.0.0.1:8000/v1/items\", host: \"api.example\"\n", 1000 + k, k % 250));
    }
    // Two other failures an hour later, apart from each other.
    log.push_str("2025/03/14 14:30:00 [error] 880#880: *5000 upstream sent too big header while reading response header from upstream, client: 198.51.100.7, server: api.example, request: \"GET /v1/me HTTP/1.1\", upstream: \"http://127.0.0.1:8000/v1/me\", host: \"api.example\"\n");
    log.push_str("2025/03/14 15:30:00 [error] 880#880: *6000 upstream sent invalid header: \"X-Trace\\x0D...\" while reading response header from upstream, client: 198.51.100.7, server: api.example, request: \"GET /v1/x HTTP/1.1\", upstream: \"http://127.0.0.1:8000/v1/x\", host: \"api.example\"\n");
    let paths = write_all(dir.path(), &[("error.log", &log)]);
    let (o, lines) = run_json(&paths, &[]);
    let incidents = of(&lines, "incident");
    assert_eq!(incidents.len(), 3, "{}", o.stdout);
    let storm = incidents[0];
    assert_eq!(storm["cause"], "upstream.unreachable");
    assert_eq!(storm["count"], 180);
    assert_eq!(storm["lines"], 180);
    assert_eq!(storm["start"], "2025-03-14T13:00:00Z");
    assert_eq!(storm["end"], "2025-03-14T13:29:50Z");
    let rate = storm["rate_per_min"].as_f64().unwrap();
    assert!((rate - 6.03).abs() < 0.1, "{rate}");
    assert_eq!(
        storm["events"].as_array().unwrap().len(),
        180,
        "JSON has all"
    );

    let o = logs(
        &[
            &paths[0],
            "--tz",
            "UTC",
            "--incidents",
            "2",
            "--timeline",
            "0",
        ],
        None,
    );
    assert!(o.stdout.contains("180 times"), "{}", o.stdout);
    assert!(o.stdout.contains("… 172 more line(s)"), "{}", o.stdout);
    assert!(
        o.stdout
            .contains("… 1 more incident(s) (raise --incidents, or use --format json)"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.lines().count() < 40, "{}", o.stdout);
}

const DESKTOP_SYSLOG: &str = "\
Mar 14 12:50:01 web1 systemd[1]: geoclue.service: Main process exited, code=dumped, status=11/SEGV
Mar 14 12:50:01 web1 systemd[1]: geoclue.service: Failed with result 'core-dump'.
Mar 14 12:50:02 web1 systemd[1402]: bamfdaemon.service: Main process exited, code=killed, status=9/KILL
Mar 14 12:50:03 web1 systemd[1]: nginx.service: Main process exited, code=killed, status=15/TERM
";

#[test]
fn only_the_web_stack_counts() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_all(dir.path(), &[("syslog", DESKTOP_SYSLOG)]);
    let (o, lines) = run_json(&paths, &["--year", "2025"]);
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert!(of(&lines, "incident").is_empty(), "{}", o.stdout);
    let note = of(&lines, "note")
        .into_iter()
        .find(|n| n["kind"] == "ignored")
        .expect("a note says what was left out");
    let text = note["message"].as_str().unwrap();
    assert!(
        text.contains("geoclue.service") && text.contains("--unit"),
        "{text}"
    );
    assert_eq!(of(&lines, "end")[0]["outside_web_stack"], 3);

    // Naming the unit makes it part of the stack; a gunicorn unit is always.
    let mut more = DESKTOP_SYSLOG.to_owned();
    more.push_str("Mar 14 12:51:00 web1 systemd[1]: gunicorn-shop.service: Main process exited, code=dumped, status=6/ABRT\n");
    let paths = write_all(dir.path(), &[("syslog", &more)]);
    let (o, lines) = run_json(&paths, &["--year", "2025", "--unit", "geoclue"]);
    assert_eq!(o.code, 1);
    let units: Vec<String> = of(&lines, "incident")
        .iter()
        .map(|i| i["key"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        units,
        ["geoclue.service", "gunicorn-shop.service"],
        "{}",
        o.stdout
    );
}

#[test]
fn what_is_inferred_is_said_and_the_fix_fits_the_process() {
    let dir = tempfile::tempdir().unwrap();
    // An nginx worker killed by SIGKILL, with no kernel line.
    let paths = write_all(
        dir.path(),
        &[(
            "error.log",
            "2025/03/14 13:00:00 [alert] 880#880: worker process 881 exited on signal 9\n",
        )],
    );
    let (o, lines) = run_json(&paths, &[]);
    let inc = of(&lines, "incident")[0];
    assert_eq!(inc["cause"], "oom.kill", "{}", o.stdout);
    assert_eq!(inc["alternatives"][0], "crash.signal");
    assert!(inc["story"].as_str().unwrap().contains(
        "killed (SIGKILL): oom.kill or crash.signal (inferred: no kernel OOM line seen)"
    ));
    assert_eq!(inc["status"], "520");
    let fix = inc["fix"].as_str().unwrap();
    assert!(
        !fix.contains("pm.max_children ") && fix.contains("nginx"),
        "{fix}"
    );

    // An FPM child killed by SIGKILL that the kernel confirms: a plain OOM, an FPM fix.
    let paths = write_all(
        dir.path(),
        &[
            ("php8.2-fpm.log", "[14-Mar-2025 13:05:01] WARNING: [pool www] child 7401 exited on signal 9 (SIGKILL) after 40.0 seconds from start\n"),
            ("kern.log", "Mar 14 13:05:01 web1 kernel: [904811.000100] Out of memory: Killed process 7401 (php-fpm8.2) total-vm:1312340kB, anon-rss:903456kB, file-rss:1204kB, shmem-rss:45678kB, UID:33 pgtables:2400kB oom_score_adj:0\n"),
        ],
    );
    let (o, lines) = run_json(&paths, &["--year", "2025"]);
    let inc = of(&lines, "incident")[0];
    assert_eq!(inc["cause"], "oom.kill", "{}", o.stdout);
    assert!(inc.get("inferred").is_none() && inc.get("alternatives").is_none());
    assert!(inc["fix"].as_str().unwrap().contains("pm.max_children"));

    // uWSGI signal 6 is an abort; a connect timeout a connect failure; a slowlog entry context.
    let paths = write_all(
        dir.path(),
        &[
            ("uwsgi.log", "Fri Mar 14 13:10:00 2025 - DAMN ! worker 2 (pid: 5120) died, killed by signal 6 :( trying respawn ...\n"),
            ("error.log", "2025/03/14 13:20:00 [error] 880#880: *77 upstream timed out (110: Connection timed out) while connecting to upstream, client: 203.0.113.9, server: shop.example, request: \"GET / HTTP/1.1\", upstream: \"http://10.20.0.5:8080/\", host: \"shop.example\"\n"),
            ("php8.2-fpm.log", "[14-Mar-2025 13:30:00] WARNING: [pool www] child 7501, script '/srv/shop/search.php' (request: \"GET /search.php\") executing too slow (5.410012 sec), logging\n"),
        ],
    );
    let (o, lines) = run_json(&paths, &[]);
    let causes: Vec<&str> = of(&lines, "incident")
        .iter()
        .map(|i| i["cause"].as_str().unwrap())
        .collect();
    assert_eq!(
        causes,
        ["crash.signal", "upstream.unreachable"],
        "{}",
        o.stdout
    );
    let connect = incident_with(&lines, "error.log", 1);
    assert!(connect["story"]
        .as_str()
        .unwrap()
        .contains("host down or port filtered"));
    assert_eq!(
        of(&lines, "event").len(),
        3,
        "the slowlog line is kept as context"
    );
}

#[test]
fn container_and_syslog_wrappers_are_unwrapped_and_timed() {
    let dir = tempfile::tempdir().unwrap();
    let docker = r#"{"log":"2025/03/14 12:00:00 [error] 29#29: *8 upstream sent too big header while reading response header from upstream, client: 172.18.0.1, server: _, request: \"GET /cart HTTP/1.1\", upstream: \"http://172.18.0.3:9000/cart\", host: \"localhost\"\n","stream":"stderr","time":"2025-03-14T12:00:03.250000000Z"}
"#;
    let compose = "shop-fpm-1  | [14-Mar-2025 12:10:00] WARNING: [pool www] child 31 exited on signal 11 (SIGSEGV - core dumped) after 3.2 seconds from start\n";
    let rfc5424 = "<27>1 2025-03-14T13:20:00.500+01:00 web1 php-fpm 811 - - [pool www] child 32 exited on signal 7 (SIGBUS) after 1.0 seconds from start\n";
    let journal = r#"{"__REALTIME_TIMESTAMP":"1741955400000000","_PID":"1","SYSLOG_IDENTIFIER":"systemd","_SYSTEMD_UNIT":"init.scope","MESSAGE":"php8.2-fpm.service: Main process exited, code=dumped, status=11/SEGV"}
"#;
    let paths = write_all(
        dir.path(),
        &[
            ("docker.json", docker),
            ("compose.log", compose),
            ("remote.log", rfc5424),
            ("journal.json", journal),
        ],
    );
    let (o, lines) = run_json(&paths, &[]);
    let events = of(&lines, "event");
    let find = |file: &str| {
        *events
            .iter()
            .find(|e| e["file"].as_str().unwrap().ends_with(file))
            .unwrap_or_else(|| panic!("nothing from {file}: {}", o.stdout))
    };
    let d = find("docker.json");
    assert_eq!(d["cause"], "head.too-large");
    assert_eq!(d["time"], "2025-03-14T12:00:03.25Z", "docker's time wins");
    assert!(d["text"].as_str().unwrap().starts_with("2025/03/14"));
    let c = find("compose.log");
    assert_eq!(c["cause"], "crash.signal");
    assert_eq!(c["time"], "2025-03-14T12:10:00Z");
    let r = find("remote.log");
    assert_eq!(r["fields"]["signal"], 7);
    assert_eq!(r["time"], "2025-03-14T12:20:00.5Z");
    let j = find("journal.json");
    assert_eq!(j["signature"], "S1");
    assert_eq!(j["time"], "2025-03-14T12:30:00Z");
}

#[test]
fn the_missed_variants_are_read() {
    let cases = [
        ("Fri Mar 14 12:00:00 2025 - *** uWSGI listen queue of socket 4 full !!! (129/128) ***", "U4", "saturated"),
        ("[14-Mar-2025 12:00:00] WARNING: [pool  v6] child 9001 exited on signal 11 (SIGSEGV) after 1.5 seconds from start", "P1", "crash.signal"),
        ("Mar 14 12:00:00 web1 kernel: [812345.120001] Out of memory: Kill process 3882 (python) score 623 or sacrifice child", "K5b", "oom.kill"),
        ("Error: listen EADDRINUSE: address already in use :::3000", "J5", "upstream.unreachable"),
        ("Mar 14 12:00:00 web1 systemd[1]: node-api.service: Start request repeated too quickly.", "S6", "process.restart"),
    ];
    for (line, sig, cause) in cases {
        let o = logs(
            &["-", "--format", "json", "--year", "2025"],
            Some(format!("{line}\n").as_bytes()),
        );
        let lines = json(&o);
        let events = of(&lines, "event");
        assert_eq!(events.len(), 1, "{line}: {}", o.stdout);
        assert_eq!(events[0]["signature"], sig, "{line}");
        assert_eq!(events[0]["cause"], cause, "{line}");
        assert_eq!(o.code, 1, "{line}: an incident");
    }
}

#[test]
fn nothing_read_is_not_nothing_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write_file(dir.path(), "error.log", "");
    let o = logs(&[empty.to_str().unwrap()], None);
    assert_eq!(o.code, 0);
    assert!(o.stdout.contains("Nothing was read"), "{}", o.stdout);
    assert!(
        o.stdout.contains("error.log: the input is empty"),
        "{}",
        o.stdout
    );
    assert!(!o.stdout.contains("do not explain"), "{}", o.stdout);

    let o = logs(&["-"], Some(b"-- No entries --\n"));
    assert_eq!(o.code, 0);
    assert!(
        o.stdout.contains("journalctl found no entries"),
        "{}",
        o.stdout
    );
    let o = logs(&["-"], Some(b"No journal files were found.\n"));
    assert_eq!(o.code, 2, "{}", o.stdout);
    assert!(o.stdout.contains("found no journal files"), "{}", o.stdout);

    // `logs DIR` reads every log in it: rotations, .gz and subdirectories.
    let var = dir.path().join("log");
    std::fs::create_dir_all(var.join("nginx")).unwrap();
    std::fs::write(var.join("nginx/error.log"), NOISE).unwrap();
    std::fs::write(var.join("nginx/error.log.1"), NOISE).unwrap();
    std::fs::write(var.join("nginx/error.log.2"), CRASH_ERROR_LOG).unwrap();
    assert!(Command::new("gzip")
        .arg(var.join("nginx/error.log.2"))
        .status()
        .expect("gzip is installed")
        .success());
    std::fs::write(var.join("php8.2-fpm.log"), CRASH_FPM_LOG).unwrap();
    let (o, lines) = run_json(&[var.display().to_string()], &[]);
    let names: Vec<String> = of(&lines, "begin")[0]["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            i["name"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            "error.log",
            "error.log.1",
            "error.log.2.gz",
            "php8.2-fpm.log"
        ],
        "{}",
        o.stdout
    );
    assert_eq!(of(&lines, "incident")[0]["cause"], "crash.signal");
}
