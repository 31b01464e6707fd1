//! Real peers from Debian in front of the lab: what nginx and HAProxy really answer through curl
//! must be what the `nginx-1.22` and `haproxy` profiles predict for the same route.
//!
//! Debian 12 ships nginx 1.22.1 and HAProxy 2.6.12; `scripts/setup-debian.sh` installs them. The
//! tests read the installed versions and compare with the profile for that version; a version no
//! profile covers fails with the reason.

mod common;

use common::peers::{self, require};

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Mutex;

use originlens_lab::{routes, LabHandle, Route};

/// The version a program prints (`nginx -v`, `haproxy -v`), from stdout or stderr.
fn installed_version(program: &str, marker: &str) -> String {
    let out = Command::new(require(program))
        .arg("-v")
        .output()
        .unwrap_or_else(|e| panic!("{program} -v: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("{program} -v printed no `{marker}`: {text}"));
    text[at + marker.len()..]
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// `major.minor` of a version string.
fn major_minor(version: &str) -> (u32, u32) {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// The profile that describes this nginx: `nginx-1.22` up to 1.22, `nginx` from 1.23.
fn nginx_profile(version: &str) -> Result<&'static str, String> {
    match major_minor(version) {
        (1, 0..=22) => Ok("nginx-1.22"),
        (1, _) => Ok("nginx"),
        _ => Err(format!(
            "nginx {version}: no profile covers it (nginx-1.22: ≤ 1.22, nginx: 1.x ≥ 1.23)"
        )),
    }
}

/// The profile that describes this HAProxy: `haproxy` is HAProxy 2.6.
fn haproxy_profile(version: &str) -> Result<&'static str, String> {
    match major_minor(version) {
        (2, 6) => Ok("haproxy"),
        _ => Err(format!(
            "HAProxy {version}: no profile covers it (the haproxy profile describes HAProxy 2.6)"
        )),
    }
}

#[test]
fn installed_versions_map_to_their_profiles() {
    assert_eq!(nginx_profile("1.22.1"), Ok("nginx-1.22"));
    assert_eq!(nginx_profile("1.26.3"), Ok("nginx"));
    assert!(nginx_profile("2.0.0").is_err());
    assert_eq!(haproxy_profile("2.6.12"), Ok("haproxy"));
    assert!(haproxy_profile("3.0.11")
        .unwrap_err()
        .contains("HAProxy 2.6"));
}

/// Routes that answer at once (no deliberate stall or slow trickle).
fn prompt_routes() -> Vec<&'static Route> {
    routes()
        .iter()
        .filter(|r| r.hint.read_timeout.is_none() && r.behaviour.delay().is_zero())
        .filter(|r| r.behaviour.end().is_some())
        .collect()
}

/// The status curl reports through the peer (`0` when it got no usable status line).
fn through_peer(curl: &str, port: u16, route: &Route) -> u16 {
    let out = Command::new(curl)
        .args(["-s", "--http0.9", "-o", "/dev/null", "-w", "%{http_code}"])
        .args(["--max-time", "5", "-X", route.hint.method])
        .arg(format!("http://127.0.0.1:{port}{}", route.path))
        .output()
        .expect("run curl");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// The status the binary predicts for the route under `profile` (`0` for no status line).
fn predicted(lab: SocketAddr, profile: &str, route: &Route) -> u16 {
    let url = format!("http://{lab}{}", route.path);
    let out = Command::new(env!("CARGO_BIN_EXE_originlens"))
        .args(["probe", &url, "--format", "json", "--profile", profile])
        .args(["-X", route.hint.method])
        .output()
        .expect("run originlens");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("probe JSON");
    doc["verdict"]["status"].as_u64().unwrap_or(0) as u16
}

fn compare(profile: &str, lab: SocketAddr, port: u16) {
    let curl = require("curl");
    let queue = Mutex::new(prompt_routes());
    let total = queue.lock().unwrap().len();
    assert!(total >= 80, "only {total} routes to compare");
    let mismatches = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..6 {
            s.spawn(|| loop {
                let Some(route) = queue.lock().unwrap().pop() else {
                    return;
                };
                let real = through_peer(&curl, port, route);
                let want = predicted(lab, profile, route);
                if real != want {
                    mismatches
                        .lock()
                        .unwrap()
                        .push(format!("{}: real {real}, predicted {want}", route.path));
                }
            });
        }
    });
    let mismatches = mismatches.into_inner().unwrap();
    assert!(
        mismatches.is_empty(),
        "{profile}: {} of {total} routes disagree:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn nginx_profile_predicts_real_nginx() {
    let profile =
        nginx_profile(&installed_version("nginx", "nginx/")).unwrap_or_else(|e| panic!("{e}"));
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let peer = peers::nginx(lab.addr());
    compare(profile, lab.addr(), peer.port);
    let log = peer.error_log();
    assert!(
        log.contains("upstream sent no valid HTTP/1.0 header")
            && log.contains("upstream sent too big header"),
        "nginx logged the defects the profile predicts:\n{log}"
    );
}

#[test]
fn haproxy_profile_predicts_real_haproxy() {
    let profile = haproxy_profile(&installed_version("haproxy", "HAProxy version "))
        .unwrap_or_else(|e| panic!("{e}"));
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let peer = peers::haproxy(lab.addr());
    compare(profile, lab.addr(), peer.port);
}
