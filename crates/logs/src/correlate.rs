//! Joins events into incidents, following the reference's correlation rules (§8):
//!
//! 1. Process deaths ([`Role::Kill`]) within the window of each other, or naming the same pid
//!    within [`SAME_PID_WINDOW`], are one incident (FPM's "execution timed out" and the SIGTERM
//!    that follows; the kernel's OOM lines and the victim's exit).
//! 2. A proxy's symptom or a condition within the window of a death joins the nearest death (an
//!    nginx "upstream prematurely closed" next to a php-fpm "exited on signal 11" is one crash).
//!    Symptoms with no death nearby group with the same cause's other lines in the window.
//! 3. Access-log rows and context lines join the nearest incident in the window, else group by
//!    cause.
//!
//! The incident's cause is its strongest death (stated before inferred, then OOM, timeout kill,
//! crash), else its first condition, else its first symptom. The visitor saw 520 when the
//! edge-facing server itself died, else what the proxy answered.

use jiff::{SignedDuration, Timestamp};
use originlens_wire::Cause;
use serde::Serialize;

use crate::catalog::Role;
use crate::event::Event;
use crate::fix::fix;
use crate::source::Layer;

/// Lines naming the same pid are joined across this span (a timeout kill and the exit it causes
/// can be seconds apart).
pub const SAME_PID_WINDOW: SignedDuration = SignedDuration::from_secs(30);

/// A group of events that tell one story.
#[derive(Clone, Debug, Serialize)]
pub struct Incident {
    /// 1-based number in time order.
    pub id: usize,
    /// The root cause.
    pub cause: Cause,
    /// The status the visitor most likely saw.
    pub status: String,
    /// The edge-facing server itself failed.
    pub edge_facing: bool,
    /// First event time.
    pub start: Option<Timestamp>,
    /// Last event time.
    pub end: Option<Timestamp>,
    /// Layers that saw it.
    pub layers: Vec<Layer>,
    /// The story in one sentence.
    pub story: String,
    /// What to do.
    pub fix: &'static str,
    /// Event ids (into the timeline).
    pub events: Vec<usize>,
}

struct Sets {
    parent: Vec<usize>,
}

impl Sets {
    fn new(n: usize) -> Sets {
        Sets {
            parent: (0..n).collect(),
        }
    }
    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.parent[ra.max(rb)] = ra.min(rb);
        }
    }
}

fn gap(a: Timestamp, b: Timestamp) -> SignedDuration {
    a.duration_since(b).abs()
}

/// The event of `pool` (indexes, time-ordered) nearest in time to `t`, within `window`.
fn nearest(
    events: &[Event],
    pool: &[usize],
    t: Timestamp,
    window: SignedDuration,
) -> Option<usize> {
    let at = pool.partition_point(|&i| events[i].time.is_some_and(|x| x < t));
    let mut best: Option<(SignedDuration, usize)> = None;
    for &i in pool[at.saturating_sub(1)..].iter().take(2) {
        let d = gap(events[i].time?, t);
        if d <= window && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, i));
        }
    }
    best.map(|(_, i)| i)
}

/// Builds incidents from events sorted by time (events without a time at the end).
pub fn correlate(events: &[Event], window: SignedDuration) -> Vec<Incident> {
    let n = events.len();
    let mut sets = Sets::new(n);
    let timed: Vec<usize> = (0..n).filter(|&i| events[i].time.is_some()).collect();
    let kills: Vec<usize> = timed
        .iter()
        .copied()
        .filter(|&i| events[i].role == Role::Kill)
        .collect();

    // 1. Deaths close in time, or of the same pid.
    for w in kills.windows(2) {
        if gap(events[w[0]].time.unwrap(), events[w[1]].time.unwrap()) <= window {
            sets.union(w[0], w[1]);
        }
    }
    let pid_events: Vec<usize> = timed
        .iter()
        .copied()
        .filter(|&i| matches!(events[i].role, Role::Kill | Role::Context) && !events[i].is_echo())
        .collect();
    let mut last_by_pid: std::collections::HashMap<u32, usize> = Default::default();
    for &i in &pid_events {
        let Some(pid) = events[i].fields.pid else {
            continue;
        };
        if let Some(&j) = last_by_pid.get(&pid) {
            if gap(events[i].time.unwrap(), events[j].time.unwrap()) <= SAME_PID_WINDOW {
                sets.union(i, j);
            }
        }
        last_by_pid.insert(pid, i);
    }

    // 2. Symptoms and conditions join the nearest death, else their own kind.
    let mut anchors = kills.clone();
    let mut last_by_cause: std::collections::HashMap<Cause, usize> = Default::default();
    for &i in &timed {
        let e = &events[i];
        if !matches!(e.role, Role::Symptom | Role::Condition) || e.is_echo() {
            continue;
        }
        let t = e.time.unwrap();
        if let Some(k) = nearest(events, &kills, t, window) {
            sets.union(i, k);
        } else if let Some(&j) = last_by_cause.get(&e.cause) {
            if gap(t, events[j].time.unwrap()) <= window {
                sets.union(i, j);
            }
        }
        last_by_cause.insert(e.cause, i);
        anchors.push(i);
    }
    anchors.sort_by_key(|&i| events[i].time);

    // 3. Echoes and context join the nearest incident, else their own kind.
    let mut last_by_cause: std::collections::HashMap<Cause, usize> = Default::default();
    for &i in &timed {
        let e = &events[i];
        let is_rest = e.is_echo() || e.role == Role::Context;
        if !is_rest {
            continue;
        }
        let t = e.time.unwrap();
        if let Some(k) = nearest(events, &anchors, t, window) {
            sets.union(i, k);
        } else if let Some(&j) = last_by_cause.get(&e.cause) {
            if gap(t, events[j].time.unwrap()) <= window {
                sets.union(i, j);
            }
        }
        last_by_cause.insert(e.cause, i);
    }

    // Events without a time: one incident per input and cause.
    let mut untimed_groups: std::collections::HashMap<(&str, Cause), usize> = Default::default();
    for i in (0..n).filter(|&i| events[i].time.is_none()) {
        let key = (events[i].file.as_str(), events[i].cause);
        match untimed_groups.get(&key) {
            Some(&j) => sets.union(i, j),
            None => {
                untimed_groups.insert(key, i);
            }
        }
    }

    let mut groups: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for i in 0..n {
        let root = sets.find(i);
        groups.entry(root).or_default().push(i);
    }
    let mut incidents: Vec<Incident> = groups
        .into_values()
        .map(|members| incident(events, members))
        .collect();
    incidents.sort_by_key(|inc| (inc.start.is_none(), inc.start, inc.events[0]));
    for (k, inc) in incidents.iter_mut().enumerate() {
        inc.id = k + 1;
    }
    incidents
}

/// Rank of a death's cause: stated causes first, then the more specific ones.
fn kill_rank(e: &Event) -> (bool, u8) {
    let specific = match e.cause {
        Cause::OomKill => 0,
        Cause::TimeoutKill => 1,
        Cause::CrashSignal => 2,
        _ => 3,
    };
    (e.inferred, specific)
}

fn incident(events: &[Event], members: Vec<usize>) -> Incident {
    let of = |role: Role| -> Vec<&Event> {
        members
            .iter()
            .map(|&i| &events[i])
            .filter(|e| e.role == role && !e.is_echo())
            .collect()
    };
    let kills = of(Role::Kill);
    let conditions = of(Role::Condition);
    let symptoms = of(Role::Symptom);
    let echoes: Vec<&Event> = members
        .iter()
        .map(|&i| &events[i])
        .filter(|e| e.is_echo())
        .collect();
    let first = &events[members[0]];

    let root: &Event = kills
        .iter()
        .min_by_key(|e| kill_rank(e))
        .or(conditions.first())
        .or(symptoms.first())
        .or(echoes.iter().find(|e| e.role != Role::Context))
        .copied()
        .unwrap_or(first);
    let edge_facing = kills.iter().any(|e| e.edge_facing)
        || (kills.is_empty() && conditions.iter().chain(&symptoms).any(|e| e.edge_facing));
    let proxy_line = symptoms
        .iter()
        .chain(&conditions)
        .find(|e| e.layer == Layer::Edge)
        .or(echoes.iter().find(|e| e.role != Role::Context))
        .copied();
    let status = if kills.iter().any(|e| e.edge_facing) {
        "520".to_owned()
    } else if let Some(p) = proxy_line.filter(|_| !kills.is_empty() || root.layer != Layer::Edge) {
        p.status.to_owned()
    } else {
        root.status.to_owned()
    };

    let mut layers: Vec<Layer> = members.iter().map(|&i| events[i].layer).collect();
    layers.sort();
    layers.dedup();

    let mut story_parts: Vec<String> = Vec::new();
    let push = |parts: &mut Vec<String>, e: &Event| {
        let subject = e.subject();
        let part = if subject.is_empty() {
            e.title.to_owned()
        } else {
            format!("{} ({subject})", e.title)
        };
        if !parts.iter().any(|p| p.starts_with(e.title)) {
            parts.push(part);
        }
    };
    push(&mut story_parts, root);
    for e in kills.iter().chain(&conditions).chain(&symptoms) {
        push(&mut story_parts, e);
    }
    if story_parts.len() < 2 {
        if let Some(e) = echoes.first() {
            push(&mut story_parts, e);
        }
    }
    let story = format!(
        "{}; the visitor most likely saw {status}",
        story_parts.join("; then ")
    );

    let times: Vec<Timestamp> = members.iter().filter_map(|&i| events[i].time).collect();
    Incident {
        id: 0,
        cause: root.cause,
        status,
        edge_facing,
        start: times.iter().min().copied(),
        end: times.iter().max().copied(),
        layers,
        story,
        fix: fix(root.cause),
        events: members.iter().map(|&i| events[i].id).collect(),
    }
}

#[cfg(test)]
mod tests {
    use crate::report::{Analysis, Report, ReportOptions};
    use crate::timestamp::TimeContext;
    use crate::Scanner;
    use originlens_wire::Cause;

    fn analyse(inputs: &[(&str, &str)], boot: Option<&str>) -> Analysis {
        let scanner = Scanner::new(TimeContext {
            tz: jiff::tz::TimeZone::UTC,
            boot: boot.map(|b| b.parse().unwrap()),
            now: "2024-06-01T00:00:00Z".parse().unwrap(),
            year: None,
        });
        let mut report = Report::new(ReportOptions::default());
        for (name, text) in inputs {
            let i = report.input(name);
            scanner.scan_bytes(i, name, text.as_bytes(), &mut report);
        }
        report.finish()
    }

    const NGINX_N1: &str = "2024/01/02 03:04:05 [error] 2211#2211: *9141 upstream prematurely closed connection while reading response header from upstream, client: 172.70.42.10, server: example.com, request: \"GET /api/orders HTTP/1.1\", upstream: \"fastcgi://unix:/run/php/php8.2-fpm.sock:\", host: \"example.com\"\n";

    #[test]
    fn nginx_fpm_and_kernel_lines_are_one_crash() {
        let a = analyse(
            &[
                ("error.log", NGINX_N1),
                ("fpm.log", "[02-Jan-2024 03:04:05] WARNING: [pool www] child 48211 exited on signal 11 (SIGSEGV - core dumped) after 912.503112 seconds from start\n"),
                ("kern.log", "Jan  2 03:04:04 web1 kernel: [1234567.891011] php-fpm8.2[48211]: segfault at 0 ip 00007f3a1c2b4d10 sp 00007ffd9a8c1f40 error 4 in opcache.so[7f3a1c000000+5a3000]\n"),
                ("access.log", "172.70.42.10 - - [02/Jan/2024:03:04:05 +0000] \"GET /api/orders HTTP/1.1\" 502 166 \"-\" \"Mozilla/5.0\"\n"),
            ],
            None,
        );
        assert_eq!(a.incidents.len(), 1, "{:#?}", a.incidents);
        let inc = &a.incidents[0];
        assert_eq!(inc.cause, Cause::CrashSignal);
        assert_eq!(inc.status, "502");
        assert!(!inc.edge_facing);
        assert_eq!(inc.events.len(), 4);
        assert!(
            inc.story.contains("php-fpm child died on a signal") || inc.story.contains("segfault"),
            "{}",
            inc.story
        );
        assert_eq!(a.summary[0].cause, Cause::CrashSignal);
        assert_eq!(a.summary[0].incidents, 1);
    }

    #[test]
    fn fpm_timeout_kill_wins_over_the_sigterm_it_causes() {
        let a = analyse(
            &[
                ("error.log", &NGINX_N1.replace("03:04:05", "03:05:05")),
                ("fpm.log", "[02-Jan-2024 03:05:05] WARNING: [pool www] child 48213, script '/var/www/html/index.php' (request: \"POST /index.php\") execution timed out (60.000612 sec), terminating\n[02-Jan-2024 03:05:06] WARNING: [pool www] child 48213 exited on signal 15 (SIGTERM) after 70.1 seconds from start\n"),
            ],
            None,
        );
        assert_eq!(a.incidents.len(), 1);
        assert_eq!(a.incidents[0].cause, Cause::TimeoutKill);
        assert_eq!(a.incidents[0].status, "502");
    }

    #[test]
    fn kernel_oom_lines_and_sigkill_are_one_oom() {
        let kern = "[1000.000001] php-fpm8.2 invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0\n[1000.000900] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/system.slice/php8.2-fpm.service,task=php-fpm8.2,pid=48214,uid=33\n[1000.001200] Out of memory: Killed process 48214 (php-fpm8.2) total-vm:912340kB, anon-rss:523456kB, file-rss:1204kB, shmem-rss:45678kB, UID:33 pgtables:1400kB oom_score_adj:0\n";
        let a = analyse(
            &[
                ("dmesg", kern),
                ("fpm.log", "[02-Jan-2024 00:16:41] WARNING: [pool www] child 48214 exited on signal 9 (SIGKILL) after 5.0 seconds from start\n"),
            ],
            Some("2024-01-02T00:00:00Z"),
        );
        assert_eq!(a.incidents.len(), 1, "{:#?}", a.incidents);
        assert_eq!(a.incidents[0].cause, Cause::OomKill);
        assert_eq!(a.incidents[0].layers.len(), 2);
    }

    #[test]
    fn an_edge_worker_crash_is_a_520() {
        let a = analyse(
            &[("error.log", "2024/01/02 03:04:05 [alert] 1022#1022: worker process 2211 exited on signal 11 (core dumped)\n")],
            None,
        );
        assert_eq!(a.incidents[0].status, "520");
        assert!(a.incidents[0].edge_facing);
    }

    #[test]
    fn failures_apart_in_time_are_separate_incidents() {
        let mut log = String::new();
        for (t, line) in [("03:04:05", NGINX_N1), ("03:10:00", NGINX_N1)] {
            log.push_str(&line.replace("03:04:05", t));
        }
        log.push_str("2024/01/02 03:20:00 [crit] 1#1: *5 connect() to unix:/run/php/php8.2-fpm.sock failed (2: No such file or directory) while connecting to upstream, client: 1.2.3.4\n");
        log.push_str("2024/01/02 03:20:01 [crit] 1#1: *6 connect() to unix:/run/php/php8.2-fpm.sock failed (2: No such file or directory) while connecting to upstream, client: 1.2.3.4\n");
        let a = analyse(&[("error.log", &log)], None);
        let causes: Vec<Cause> = a.incidents.iter().map(|i| i.cause).collect();
        assert_eq!(
            causes,
            vec![
                Cause::ResponseEmpty,
                Cause::ResponseEmpty,
                Cause::UpstreamUnreachable
            ]
        );
        assert_eq!(a.incidents[2].events.len(), 2);
    }

    #[test]
    fn since_until_filter_events_but_keep_undated_ones() {
        let scanner = Scanner::new(TimeContext::default());
        let mut report = Report::new(ReportOptions {
            since: Some("2024-01-02T03:05:00Z".parse().unwrap()),
            ..ReportOptions::default()
        });
        let i = report.input("e");
        let text = format!("{NGINX_N1}{}", NGINX_N1.replace("03:04:05", "03:06:00"));
        scanner.scan_bytes(i, "e", text.as_bytes(), &mut report);
        let j = report.input("node");
        scanner.scan_bytes(j, "node", b"Node.js v20.11.0\n", &mut report);
        let a = report.finish();
        assert_eq!(a.totals.outside_time_range, 1);
        assert_eq!(a.timeline.len(), 2);
        assert!(a.timeline[1].time.is_none());
    }
}
