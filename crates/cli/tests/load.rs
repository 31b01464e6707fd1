//! The real `originlens load` binary against the lab's flaky routes.

use std::process::Command;

use originlens_lab::LabHandle;
use serde_json::Value;

fn load(url: &str, extra: &[&str]) -> (Option<i32>, Value) {
    let mut args = vec!["load", url, "--format", "json", "-c", "4"];
    args.extend(extra);
    let out = Command::new(env!("CARGO_BIN_EXE_originlens"))
        .args(&args)
        .output()
        .expect("run originlens");
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), doc)
}

/// One in 50 answered with FIN and no byte: on new connections that is `response.empty`, 2%.
#[test]
fn flaky_empty_is_found_with_its_count() {
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}/flaky/empty?every=50", lab.addr());
    let (code, doc) = load(&url, &["-n", "1000", "--no-keepalive"]);
    assert_eq!(doc["schema"], "originlens.load/1");
    assert_eq!(code, Some(1), "{doc}");
    assert_eq!(doc["requests"], 1000, "{doc}");
    let n = doc["failures_by_cause"]["response.empty"].as_u64().unwrap();
    assert!((18..=22).contains(&n), "{n} response.empty");
    assert_eq!(doc["status_counts"]["520"].as_u64(), Some(n));
    assert!(doc["evidence"].as_array().unwrap().len() <= 3);
}

/// One in 20 reset: `response.reset`, and under the threshold the exit status is 0.
#[test]
fn flaky_reset_is_found_and_thresholds_decide_the_exit() {
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}/flaky/reset?every=20", lab.addr());
    let (code, doc) = load(
        &url,
        &["-n", "400", "--no-keepalive", "--max-error-rate", "10%"],
    );
    let n = doc["failures_by_cause"]["response.reset"].as_u64().unwrap();
    assert!((18..=22).contains(&n), "{n} response.reset: {doc}");
    assert_eq!(code, Some(0), "{doc}");
}
