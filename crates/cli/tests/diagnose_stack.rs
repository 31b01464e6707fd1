//! `originlens diagnose` and `verify` against a real Debian nginx + PHP-FPM on loopback, made to
//! fail the four ways the runbook knows: a worker segfault, a request killed at
//! `request_terminate_timeout`, a 20 KB header past nginx's FastCGI buffer, PHP-FPM stopped. For
//! each, the probe's event joins the log line that explains it, and that line's cause leads.

mod common;
mod diagnose_support;

use std::time::Duration;

use common::php_stack::{PhpStack, FAILING_SCRIPTS};
use diagnose_support::{causes, check, run_json};
use serde_json::Value;

/// Failures are spaced wider than the join window (2 s skew plus the second a stamp covers), so
/// each run joins only its own lines.
const GAP: Duration = Duration::from_millis(3500);

fn run(mode: &str, stack: &PhpStack, path: &str) -> (i32, Value) {
    let url = format!("http://localhost{path}");
    let connect = format!("127.0.0.1:{}", stack.port);
    let (error_log, fpm_log) = (
        stack.error_log.display().to_string(),
        stack.fpm_log.display().to_string(),
    );
    let mut args = vec![mode, &url, "--connect-to", &connect];
    args.extend(["--logs", &error_log, "--logs", &fpm_log]);
    if mode == "diagnose" {
        args.extend([
            "--config",
            "none",
            "--keepalive-max",
            "0",
            "--burst",
            "none",
        ]);
    }
    args.extend(["--read-timeout", "15"]);
    let (out, doc) = run_json(&args);
    (out.status.code().unwrap_or(-1), doc)
}

/// The log entries of the timeline joined with a probe entry.
fn joined_log_lines(doc: &Value) -> Vec<String> {
    let entries = doc["timeline"].as_array().expect("a timeline");
    entries
        .iter()
        .filter(|e| e["source"] == "log")
        .filter(|e| {
            e["joined"].as_array().is_some_and(|j| {
                j.iter()
                    .filter_map(Value::as_u64)
                    .any(|i| entries[i as usize]["source"] == "probe")
            })
        })
        .map(|e| e["text"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// One failure: the origin's own 502, the expected cause first, its log line joined.
fn assert_explained(stack: &PhpStack, path: &str, cause: &str, line: &str) {
    let (code, doc) = run("diagnose", stack, path);
    let context = || format!("{path}:\n{doc:#}\n{}", stack.dump());
    assert_eq!(code, 1, "a failure is exit 1: {}", context());
    assert_eq!(doc["verdict"]["status"], 502, "{}", context());
    assert_eq!(doc["verdict"]["generated_by"], "origin", "{}", context());
    assert_eq!(doc["verdict"]["cause"], cause, "{}", context());
    assert_eq!(causes(&doc).first().map(String::as_str), Some(cause));
    assert_eq!(check(&doc, "direct-response-valid"), "fail");
    let joined = joined_log_lines(&doc);
    assert!(
        joined.iter().any(|l| l.contains(line)),
        "no joined log line with `{line}`: {joined:#?}\n{}",
        context()
    );
    let (code, doc) = run("verify", stack, path);
    assert_eq!(code, 1, "verify fails on {path}: {doc:#}");
}

#[test]
fn each_induced_failure_joins_its_log_line_and_names_its_cause() {
    let mut stack = PhpStack::start(FAILING_SCRIPTS);
    assert_eq!(stack.get("/ok.php"), 200, "the stack serves PHP");

    // Clean first: nothing in the logs yet, the page is fine.
    let (code, doc) = run("verify", &stack, "/ok.php");
    assert_eq!(code, 0, "verify passes on a clean origin: {doc:#}");
    assert_eq!(check(&doc, "direct-response-valid"), "pass");
    assert_eq!(check(&doc, "no-crashes-in-logs"), "pass", "{doc:#}");

    assert_explained(&stack, "/crash.php", "crash.signal", "signal 11");
    std::thread::sleep(GAP);
    assert_explained(&stack, "/slow.php", "timeout.kill", "execution timed out");
    std::thread::sleep(GAP);
    assert_explained(&stack, "/big.php", "head.too-large", "too big header");
    std::thread::sleep(GAP);
    stack.stop_fpm();
    assert_explained(
        &stack,
        "/ok.php",
        "upstream.unreachable",
        "connect() to unix:",
    );
}
