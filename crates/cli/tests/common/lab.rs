//! The real `originlens lab` binary on an ephemeral loopback port.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use super::cli::originlens;
use super::net::KillOnDrop;

/// Starts `originlens lab --listen 127.0.0.1:0` and reads its address from the banner; the lab
/// stops when the returned child is dropped.
pub fn lab_proc() -> (KillOnDrop, SocketAddr) {
    let mut child = originlens()
        .args(["lab", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start originlens lab");
    let stdout = child.stdout.take().unwrap();
    let child = KillOnDrop(child);
    // Read the banner on a thread so a silent lab fails the test instead of blocking it; the
    // thread then drains the rest, so the lab never writes to a closed pipe.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let _ = tx.send(lines.next());
        for _ in lines {}
    });
    let first = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("originlens lab prints its address within 20 s")
        .expect("a banner line")
        .expect("readable banner");
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| panic!("no address in the lab's banner {first:?}"));
    (child, addr)
}
