//! The host snapshot: memory and swap, top processes by resident memory (what
//! `ps aux --sort=-%mem` shows), the OOM-kill counter and the boot time, all from /proc.

use std::time::Duration;

use crate::document::{HostSnapshot, ProcessMem};

/// The step's time limit.
pub const LIMIT: Duration = Duration::from_secs(5);
/// Processes listed.
const TOP: usize = 10;
/// Processes read at most.
const MAX_PROCESSES: usize = 100_000;

fn kib(meminfo: &str, key: &str) -> Option<u64> {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Reads the snapshot; missing /proc files leave their fields empty.
pub fn run() -> HostSnapshot {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let total = kib(&meminfo, "MemTotal");
    let mut top: Vec<ProcessMem> = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for entry in rd.flatten().take(MAX_PROCESSES) {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
                continue;
            };
            let name = status
                .lines()
                .find_map(|l| l.strip_prefix("Name:"))
                .map(|s| s.trim().to_owned())
                .unwrap_or_default();
            let Some(rss) = kib(&status, "VmRSS") else {
                continue;
            };
            let mem_percent = total.map_or(0.0, |t| {
                ((rss as f64 / t.max(1) as f64) * 1000.0).round() / 10.0
            });
            top.push(ProcessMem {
                pid,
                name,
                rss_kib: rss,
                mem_percent,
            });
        }
    }
    top.sort_by(|a, b| b.rss_kib.cmp(&a.rss_kib).then(a.pid.cmp(&b.pid)));
    top.truncate(TOP);
    let oom = std::fs::read_to_string("/proc/vmstat").ok().and_then(|v| {
        v.lines()
            .find_map(|l| l.strip_prefix("oom_kill "))
            .and_then(|n| n.trim().parse().ok())
    });
    HostSnapshot {
        mem_total_kib: total,
        mem_available_kib: kib(&meminfo, "MemAvailable"),
        swap_total_kib: kib(&meminfo, "SwapTotal"),
        swap_free_kib: kib(&meminfo, "SwapFree"),
        oom_kills_since_boot: oom,
        boot_time: originlens_logs::bound::boot_time()
            .ok()
            .map(crate::timeline::rfc3339),
        top,
        events: Vec::new(),
    }
}
