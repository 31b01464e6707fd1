//! curl as the visitor, and the admin listener's metrics read with it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use super::edge::EdgeProc;

/// curl with what every request of a test file shares.
#[derive(Clone, Copy, Debug)]
pub struct Curl {
    /// `--max-time`: curl gives up after this many seconds.
    pub max_time: &'static str,
}

/// What curl saw.
#[derive(Debug)]
pub struct Seen {
    /// Status of the final head (0 when there was none).
    pub status: u16,
    /// Statuses of the interim (1xx) heads before the final one.
    pub interim: Vec<u16>,
    /// The final head's fields, lower-cased names.
    pub headers: HashMap<String, Vec<String>>,
    pub body: Vec<u8>,
    pub curl_exit: i32,
    /// How long curl ran.
    pub took: Duration,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Curl {
    /// `curl -s --max-time T EXTRA URL`, keeping every head and the body it got.
    pub fn fetch(self, url: &str, extra: &[&str]) -> Seen {
        let dir = tempfile::tempdir().unwrap();
        let (head_file, body_file) = (dir.path().join("h"), dir.path().join("b"));
        let started = Instant::now();
        let out = Command::new("curl")
            .args(["-s", "--max-time", self.max_time, "-o"])
            .arg(&body_file)
            .arg("-D")
            .arg(&head_file)
            .args(extra)
            .arg(url)
            .output()
            .unwrap();
        let took = started.elapsed();
        let head = std::fs::read(&head_file).unwrap_or_default();
        let body = std::fs::read(&body_file).unwrap_or_default();
        let text = String::from_utf8_lossy(&head);
        let status_of = |block: &str| -> u16 {
            block
                .split(' ')
                .nth(1)
                .and_then(|c| c.parse().ok())
                .unwrap_or(0)
        };
        // curl writes every head it got: the interim ones first, the final one last.
        let mut blocks: Vec<&str> = text.split("\r\n\r\n").filter(|b| !b.is_empty()).collect();
        let last = blocks.pop().unwrap_or("");
        let interim = blocks.iter().map(|b| status_of(b)).collect();
        let mut lines = last.split("\r\n");
        let status = lines.next().map_or(0, status_of);
        let mut headers: HashMap<String, Vec<String>> = HashMap::new();
        for l in lines {
            if let Some((n, v)) = l.split_once(':') {
                headers
                    .entry(n.trim().to_ascii_lowercase())
                    .or_default()
                    .push(v.trim().to_owned());
            }
        }
        Seen {
            status,
            interim,
            headers,
            body,
            curl_exit: out.status.code().unwrap_or(-1),
            took,
        }
    }

    /// Sums the samples of every metric line starting with `name` on the admin listener.
    pub fn metric(self, admin: SocketAddr, name: &str) -> u64 {
        let seen = self.fetch(&format!("http://{admin}/metrics"), &[]);
        seen.text()
            .lines()
            .filter(|l| l.starts_with(name))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }

    /// Waits (10 s at most) until the edge has written `n` incidents.
    pub fn wait_for_written(self, edge: &EdgeProc, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.metric(edge.admin, "originlens_edge_incidents_written_total") < n {
            assert!(Instant::now() < deadline, "{n} incidents never written");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
