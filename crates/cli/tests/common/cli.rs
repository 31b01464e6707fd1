//! Running the real `originlens` binary and reading its JSON.

use std::process::{Command, Output};

use serde_json::Value;

/// The binary under test.
pub fn originlens() -> Command {
    Command::new(env!("CARGO_BIN_EXE_originlens"))
}

/// Runs the binary with `args` to the end.
pub fn run(args: &[&str]) -> Output {
    originlens().args(args).output().expect("run originlens")
}

/// The JSON document on stdout; a panic shows both streams when it is not JSON.
pub fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}
