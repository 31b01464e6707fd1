//! A fleet's shared incident store: Debian's PostgreSQL started for the test, two edges writing
//! to one database, the database going away and coming back, every incident arriving once.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

use common::curl::Curl;
use common::edge::{export, EdgeProc};
use common::postgres::Postgres;
use originlens_lab::LabHandle;

const CURL: Curl = Curl { max_time: "10" };

fn edge(origin: SocketAddr, store: &str) -> EdgeProc {
    EdgeProc::builder()
        .loopback()
        .args(["--origin", &format!("http://{origin}"), "--store", store])
        .capture_stderr()
        .start()
}

/// Sends `n` requests for `path` through `edge`, returning the incident ids it answered with.
fn drive(edge: &EdgeProc, path: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let seen = CURL.fetch(&format!("http://{}{path}", edge.addr), &[]);
            seen.header("originlens-incident")
                .unwrap_or_else(|| panic!("no incident id for {path}: {}", seen.status))
                .to_owned()
        })
        .collect()
}

#[test]
fn two_edges_share_one_postgres_store_and_lose_nothing_when_it_goes_away() {
    let mut pg = Postgres::start();
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = pg.url();
    let a = edge(lab.addr(), &url);
    let b = edge(lab.addr(), &url);

    let mut sent = drive(&a, "/empty", 15);
    sent.extend(drive(&b, "/head-truncated", 15));
    CURL.wait_for_written(&a, 15);
    CURL.wait_for_written(&b, 15);

    // The database goes away; the edges keep answering and hold the incidents.
    pg.stop();
    sent.extend(drive(&a, "/reset", 10));
    sent.extend(drive(&b, "/empty", 5));
    assert_eq!(
        CURL.metric(a.admin, "originlens_edge_incidents_dropped_total"),
        0
    );
    pg.run();
    CURL.wait_for_written(&a, 25);
    CURL.wait_for_written(&b, 20);

    let stored = export(Path::new(&url));
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    for id in &sent {
        *by_id.entry(id).or_default() += 1;
    }
    assert_eq!(by_id.len(), 45, "incident ids are unique");
    assert_eq!(stored.len(), 45, "every incident arrives once");
    for id in &sent {
        let row = stored
            .get(id)
            .unwrap_or_else(|| panic!("incident {id} missing"));
        assert!(row["cause"].is_string());
    }
    let causes = stored
        .values()
        .filter(|r| r["cause"] == "response.empty")
        .count();
    assert_eq!(causes, 20);

    // `incidents` reads the shared store like a file.
    let out = common::cli::run(&["incidents", "--store", &url, "list", "--limit", "5"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 6);
    let id = &sent[0][..8];
    let out = common::cli::run(&["incidents", "--store", &url, "show", id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("response.empty"));
    // The password never reaches the output.
    let out = common::cli::run(&[
        "incidents",
        "--store",
        &format!("postgres://postgres:secret@127.0.0.1:{}/nope", pg.port),
        "list",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("secret") && err.contains("postgres:***@"),
        "{err}"
    );
}
