//! `originlens logs --format otlp-json`: OpenTelemetry log records (the OTLP/JSON mapping of
//! `ExportLogsServiceRequest`) from files written here, and `logs -` streaming them from stdin
//! as lines arrive, with memory that does not grow with the input.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

const NGINX: &str = "2024/01/02 03:04:05 [error] 2211#2211: *9141 upstream prematurely closed connection while reading response header from upstream, client: 172.70.42.10, server: example.com, request: \"GET /api/orders HTTP/1.1\", upstream: \"fastcgi://unix:/run/php/php8.2-fpm.sock:\", host: \"example.com\"";
const FPM: &str = "[02-Jan-2024 03:04:05] WARNING: [pool www] child 48211 exited on signal 11 (SIGSEGV - core dumped) after 912.503112 seconds from start";
const NOISE: &str =
    "127.0.0.1 - - [02/Jan/2024:03:00:00 +0000] \"GET /ok HTTP/1.1\" 200 2 \"-\" \"curl/8.5\"\n";

/// Every record of every line, with the line's resource attributes.
fn records(stdout: &str) -> (Vec<Value>, Vec<Value>) {
    let mut resources = Vec::new();
    let mut records = Vec::new();
    for line in stdout.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        for rl in v["resourceLogs"].as_array().expect("resourceLogs[]") {
            resources.push(rl["resource"].clone());
            for sl in rl["scopeLogs"].as_array().expect("scopeLogs[]") {
                assert_eq!(sl["scope"]["name"], "originlens.logs");
                records.extend(sl["logRecords"].as_array().expect("logRecords[]").clone());
            }
        }
    }
    (resources, records)
}

/// The value of attribute `key` (`stringValue`, `intValue` as its decimal string, or
/// `boolValue`), if present.
fn attr(attributes: &Value, key: &str) -> Option<String> {
    let kv = attributes
        .as_array()
        .expect("attributes[]")
        .iter()
        .find(|kv| kv["key"] == key)?;
    let v = &kv["value"];
    Some(
        v["stringValue"]
            .as_str()
            .or(v["intValue"].as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| v["boolValue"].to_string()),
    )
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned()
}

fn find<'a>(records: &'a [Value], body: &str) -> &'a Value {
    records
        .iter()
        .find(|r| r["body"]["stringValue"] == body)
        .unwrap_or_else(|| panic!("no record with body {body:?} in {records:#?}"))
}

#[test]
fn otlp_json_has_the_resource_the_records_and_their_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let error_log = dir.path().join("error.log");
    std::fs::write(&error_log, format!("{NOISE}{NGINX}\n")).unwrap();
    let fpm_log = dir.path().join("php8.2-fpm.log");
    std::fs::write(&fpm_log, format!("{FPM}\n")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_originlens"))
        .arg("logs")
        .arg(&error_log)
        .arg(&fpm_log)
        .args(["--tz", "UTC", "--year", "2024", "--format", "otlp-json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "an incident is exit 1: {stderr}"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let (resources, records) = records(&stdout);
    assert!(!resources.is_empty());
    for r in &resources {
        let a = &r["attributes"];
        assert_eq!(attr(a, "host.name"), Some(hostname()), "{r}");
        assert_eq!(attr(a, "service.name").as_deref(), Some("originlens"));
        assert_eq!(
            attr(a, "originlens.schema").as_deref(),
            Some("originlens.logs.otlp/1")
        );
    }

    let nginx = find(&records, NGINX);
    // 2024-01-02T03:04:05Z in nanoseconds, as protobuf JSON writes a fixed64: a string.
    assert_eq!(nginx["timeUnixNano"], "1704164645000000000");
    assert!(nginx["observedTimeUnixNano"]
        .as_str()
        .is_some_and(|t| t.len() >= 19 && t.bytes().all(|b| b.is_ascii_digit())));
    assert_eq!(nginx["severityNumber"], 17);
    assert_eq!(nginx["severityText"], "ERROR");
    let a = &nginx["attributes"];
    assert_eq!(
        attr(a, "originlens.cause").as_deref(),
        Some("response.empty")
    );
    assert_eq!(attr(a, "originlens.source").as_deref(), Some("nginx"));
    assert_eq!(
        attr(a, "log.file.path"),
        Some(error_log.display().to_string())
    );
    assert_eq!(attr(a, "log.file.line").as_deref(), Some("2"));
    assert_eq!(
        attr(a, "originlens.request").as_deref(),
        Some("GET /api/orders HTTP/1.1")
    );
    // The line number is an int64: a decimal string, never a JSON number.
    let line = a
        .as_array()
        .unwrap()
        .iter()
        .find(|kv| kv["key"] == "log.file.line")
        .unwrap();
    assert!(line["value"]["intValue"].is_string(), "{line}");

    // The worker's death is FATAL, from php-fpm, line 1 of its own file.
    let fpm = find(&records, FPM);
    assert_eq!(fpm["severityNumber"], 21);
    assert_eq!(fpm["severityText"], "FATAL");
    let a = &fpm["attributes"];
    assert_eq!(attr(a, "originlens.cause").as_deref(), Some("crash.signal"));
    assert_eq!(attr(a, "originlens.source").as_deref(), Some("php-fpm"));
    assert_eq!(
        attr(a, "log.file.path"),
        Some(fpm_log.display().to_string())
    );
    assert_eq!(attr(a, "log.file.line").as_deref(), Some("1"));

    // Both belong to one incident, which follows as its own record.
    let id = attr(&nginx["attributes"], "originlens.incident").expect("incident id");
    assert_eq!(
        attr(&fpm["attributes"], "originlens.incident"),
        Some(id.clone())
    );
    let incident = records
        .iter()
        .find(|r| attr(&r["attributes"], "event.name").as_deref() == Some("originlens.incident"))
        .expect("an incident record");
    let a = &incident["attributes"];
    assert_eq!(attr(a, "originlens.incident"), Some(id));
    assert_eq!(attr(a, "originlens.cause").as_deref(), Some("crash.signal"));
    assert_eq!(attr(a, "originlens.visitor_status").as_deref(), Some("502"));
    assert!(incident["body"]["stringValue"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
    // The access-log line is not an event.
    assert!(records
        .iter()
        .all(|r| r["body"]["stringValue"] != NOISE.trim_end()));
}

/// `VmHWM` (peak resident set) of a running process, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in /proc/{pid}/status"))
}

/// Events come out while stdin is still open, and tens of MiB of noise through stdin do not
/// raise the peak memory by more than a fraction of that.
#[test]
fn logs_dash_streams_records_before_stdin_closes_with_bounded_memory() {
    // Debug builds scan a few MiB a second; this size keeps the test within ~20 s and is still
    // several times what a reader that kept its input would add to its peak.
    const NOISE_BYTES: usize = 12 << 20;
    let mut child = Command::new(env!("CARGO_BIN_EXE_originlens"))
        .args(["logs", "-", "--format", "otlp-json", "--tz", "UTC"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next_record = |what: &str| -> Value {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no record for {what} within 30 s while stdin is open"));
        let (_, recs) = records(&line);
        assert_eq!(recs.len(), 1, "one record a line when streaming: {line}");
        recs[0].clone()
    };
    let mut stdin = child.stdin.take().unwrap();

    writeln!(stdin, "{NGINX}").unwrap();
    stdin.flush().unwrap();
    let first = next_record("the first line");
    assert_eq!(first["body"]["stringValue"], NGINX);
    assert_eq!(
        attr(&first["attributes"], "log.file.path").as_deref(),
        Some("-")
    );
    assert_eq!(
        attr(&first["attributes"], "log.file.line").as_deref(),
        Some("1")
    );
    let before = peak_rss_kib(pid);

    let started = Instant::now();
    let chunk = NOISE.repeat((64 << 10) / NOISE.len());
    let mut fed = 0;
    let mut lines = 1;
    while fed < NOISE_BYTES {
        stdin.write_all(chunk.as_bytes()).unwrap();
        fed += chunk.len();
        lines += chunk.len() / NOISE.len();
    }
    writeln!(stdin, "{FPM}").unwrap();
    stdin.flush().unwrap();
    let last = next_record("the line after the noise");
    assert_eq!(last["body"]["stringValue"], FPM);
    assert_eq!(
        attr(&last["attributes"], "log.file.line"),
        Some((lines + 1).to_string())
    );
    let after = peak_rss_kib(pid);
    let fed_kib = (fed / 1024) as u64;
    assert!(
        after.saturating_sub(before) < fed_kib / 3,
        "peak RSS grew from {before} KiB to {after} KiB over {fed_kib} KiB of stdin"
    );
    eprintln!(
        "{fed_kib} KiB of noise in {:.1} s; peak RSS {before} KiB before, {after} KiB after",
        started.elapsed().as_secs_f64()
    );

    // Closing stdin ends the run: the incident joining both lines follows, exit 1.
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "logs - did not end after stdin closed"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    reader.join().unwrap();
    let rest: Vec<String> = rx.try_iter().collect();
    let (_, recs) = records(&rest.join("\n"));
    assert!(
        recs.iter().any(|r| {
            attr(&r["attributes"], "event.name").as_deref() == Some("originlens.incident")
                && attr(&r["attributes"], "originlens.cause").as_deref() == Some("crash.signal")
        }),
        "no crash.signal incident after stdin closed: {rest:?}"
    );
    assert_eq!(status.code(), Some(1));
}
