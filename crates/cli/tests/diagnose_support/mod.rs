//! What the diagnose tests share: the binary run with `--format json`, the document checked
//! against `schemas/diagnose.json`, and readers for its checklist and causes.

#![allow(dead_code)]

use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

/// The binary under test.
pub fn originlens() -> Command {
    Command::new(env!("CARGO_BIN_EXE_originlens"))
}

fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas/diagnose.json");
        let schema: Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("read schema"))
                .expect("schema is JSON");
        jsonschema::validator_for(&schema).expect("schema compiles")
    })
}

/// Runs `originlens <args> --format json`, checks the exit status is 0 or 1 and the document
/// against the schema, and returns both.
pub fn run_json(args: &[&str]) -> (Output, Value) {
    let out = originlens()
        .args(args)
        .args(["--format", "json", "--color", "never"])
        .output()
        .expect("run originlens");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}), status {:?}:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let errors: Vec<String> = validator()
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "schema violations: {errors:#?}\n{doc:#}");
    assert_eq!(
        out.status.code(),
        doc["exit_status"].as_u64().map(|c| c as i32),
        "exit status matches the document"
    );
    (out, doc)
}

/// The status of checklist item `id`.
pub fn check<'a>(doc: &'a Value, id: &str) -> &'a str {
    doc["checklist"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["id"] == id))
        .and_then(|i| i["status"].as_str())
        .unwrap_or_else(|| panic!("no checklist item {id} in {doc:#}"))
}

/// The evidence of checklist item `id`.
pub fn check_evidence<'a>(doc: &'a Value, id: &str) -> &'a str {
    doc["checklist"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["id"] == id))
        .and_then(|i| i["evidence"].as_str())
        .unwrap_or("")
}

/// The ranked cause ids.
pub fn causes(doc: &Value) -> Vec<String> {
    doc["causes"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter_map(|c| c["cause"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The checklist ids in order.
pub fn checklist_ids(doc: &Value) -> Vec<String> {
    doc["checklist"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter_map(|c| c["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A program's path, or a panic naming the package to install.
pub fn require(program: &str, package: &str) -> String {
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain(["/usr/sbin".into(), "/sbin".into()])
    {
        let p = dir.join(program);
        if p.is_file() {
            return p.display().to_string();
        }
    }
    panic!("{program} is not installed: run scripts/setup-debian.sh (apt-get install {package})");
}
