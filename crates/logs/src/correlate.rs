//! Joins events into incidents by what their lines share, then by time:
//!
//! 1. **Keys first.** Lines naming the same pid (FPM's "execution timed out" and the SIGTERM
//!    that follows, the kernel's OOM lines and the victim's exit), the same nginx connection
//!    (`*N`), the same request line across programs (nginx, its access log, the FPM child that
//!    served it), the nginx worker that died, the same systemd unit, or the same upstream
//!    address (the proxy's URL and the app's listen queue) are one story, within
//!    [`SAME_KEY_WINDOW`].
//! 2. **Time only where keys are silent.** A proxy symptom that a death explains (reset,
//!    closed, timed out) with no key to a death joins the nearest death in the window whose
//!    story names no other request; unit-level lines (systemd, oomd) join the nearest death of
//!    the same service. Other lines of the same cause and key (or no key) within the window
//!    group together. Different causes in one burst stay separate incidents.
//! 3. Access-log rows and context join their incident by key, else the nearest one in the
//!    window. A group of context lines alone (an FPM slowlog entry) is no incident.
//! 4. **Storms.** Incidents of one cause on one key less than [`STORM_GAP`] apart become one
//!    incident with a count, first/last time and rate.
//!
//! The headline is the first decisive event: the earliest stated death, else the earliest
//! inferred one (then said to be inferred), else the first condition, else the first symptom.
//! The visitor saw 520 when the edge-facing server itself died, else what the proxy answered.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use originlens_wire::Cause;
use serde::Serialize;

use crate::catalog::Role;
use crate::event::Event;
use crate::fix::fix_for;
use crate::source::{Layer, Service, Source};

/// Lines sharing a key are joined across this span (a timeout kill and the exit it causes can
/// be seconds apart).
pub const SAME_KEY_WINDOW: SignedDuration = SignedDuration::from_secs(30);
/// Older name of [`SAME_KEY_WINDOW`].
pub const SAME_PID_WINDOW: SignedDuration = SAME_KEY_WINDOW;
/// Incidents of one cause on one key closer than this are one storm.
pub const STORM_GAP: SignedDuration = SignedDuration::from_secs(300);
/// Candidates looked at per key lookup, so a storm on one key stays linear.
const MAX_CANDIDATES: usize = 64;

/// A group of events that tell one story.
#[derive(Clone, Debug, Serialize)]
pub struct Incident {
    /// 1-based number in time order.
    pub id: usize,
    /// The root cause.
    pub cause: Cause,
    /// Causes the evidence also allows when the root was inferred (a SIGKILL without a kernel
    /// OOM line is `oom.kill` or `crash.signal`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alternatives: Vec<Cause>,
    /// What was inferred rather than read, when anything was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inferred: Option<String>,
    /// The status the visitor most likely saw.
    pub status: String,
    /// The edge-facing server itself failed.
    pub edge_facing: bool,
    /// The service whose process the story is about.
    pub service: Service,
    /// The key the story (and its storm) was joined on, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// First event time.
    pub start: Option<Timestamp>,
    /// Last event time.
    pub end: Option<Timestamp>,
    /// Occurrences: 1, or how many times the same failure repeated in a storm.
    pub count: usize,
    /// Occurrences per minute between the first and the last (storms only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_per_min: Option<f64>,
    /// Lines in the incident (all occurrences).
    pub lines: usize,
    /// Layers that saw it.
    pub layers: Vec<Layer>,
    /// The story in one sentence.
    pub story: String,
    /// What to do, for the process that failed.
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
    fn same(&mut self, a: usize, b: usize) -> bool {
        self.find(a) == self.find(b)
    }
}

fn gap(a: Timestamp, b: Timestamp) -> SignedDuration {
    a.duration_since(b).abs()
}

/// The member of `pool` (indexes, time-ordered) nearest in time to `t` within `window` that
/// passes `ok`.
fn nearest(
    events: &[Event],
    pool: &[usize],
    t: Timestamp,
    window: SignedDuration,
    mut ok: impl FnMut(usize) -> bool,
) -> Option<usize> {
    let at = pool.partition_point(|&i| events[i].time.is_some_and(|x| x < t));
    let mut best: Option<(SignedDuration, usize)> = None;
    let before = pool[..at].iter().rev().take(MAX_CANDIDATES);
    let after = pool[at..].iter().take(MAX_CANDIDATES);
    for &i in before.chain(after) {
        let Some(x) = events[i].time else { continue };
        let d = gap(x, t);
        if d > window {
            continue;
        }
        if best.is_none_or(|(bd, _)| d < bd) && ok(i) {
            best = Some((d, i));
        }
    }
    best.map(|(_, i)| i)
}

/// Symptoms a process death explains: the connection closed, reset or timed out.
fn death_explains(cause: Cause) -> bool {
    matches!(
        cause,
        Cause::ResponseEmpty
            | Cause::ResponseReset
            | Cause::HeadTruncated
            | Cause::BodyTruncated
            | Cause::KeepaliveRace
            | Cause::TimeoutUpstream
            | Cause::OriginError
    )
}

/// Lines of one story or unit, not of one process: systemd and oomd name a unit, no pid.
fn unit_level(e: &Event) -> bool {
    e.fields.pid.is_none() && e.fields.unit.is_some()
}

/// Joins events that carry the same value of a key, each to the nearest earlier one within
/// [`SAME_KEY_WINDOW`] that `pair` accepts.
fn join_on<K: std::hash::Hash + Eq>(
    events: &[Event],
    timed: &[usize],
    sets: &mut Sets,
    key: impl Fn(&Event) -> Option<K>,
    pair: impl Fn(&Event, &Event) -> bool,
) {
    let mut seen: HashMap<K, Vec<usize>> = HashMap::new();
    for &i in timed {
        let Some(k) = key(&events[i]) else { continue };
        let t = events[i].time.unwrap_or_default();
        let list = seen.entry(k).or_default();
        if let Some(&j) = list.iter().rev().take(MAX_CANDIDATES).find(|&&j| {
            events[j].time.is_some_and(|x| gap(x, t) <= SAME_KEY_WINDOW)
                && pair(&events[j], &events[i])
        }) {
            sets.union(i, j);
        }
        list.push(i);
        if list.len() > 4 * MAX_CANDIDATES {
            list.drain(..list.len() - MAX_CANDIDATES);
        }
    }
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

    // 1. Keys. The victim's pid (not on access-log rows).
    join_on(
        events,
        &timed,
        &mut sets,
        |e| (!e.is_echo()).then_some(e.fields.pid).flatten(),
        |_, _| true,
    );
    // nginx's connection number: one request's lines.
    join_on(
        events,
        &timed,
        &mut sets,
        |e| {
            (e.source == Source::Nginx)
                .then_some(e.fields.connection)
                .flatten()
        },
        |_, _| true,
    );
    // The request line, across programs only: one program's lines of the same URL are
    // different requests unless another key says otherwise.
    join_on(
        events,
        &timed,
        &mut sets,
        |e| e.request_key().map(str::to_owned),
        |a, b| a.source != b.source,
    );
    // The same systemd unit: exit, failure and restart of one service.
    join_on(
        events,
        &timed,
        &mut sets,
        |e| {
            (e.source == Source::Systemd)
                .then(|| e.fields.unit.clone())
                .flatten()
        },
        |_, _| true,
    );
    // The upstream address: the proxy's URL and the app's own words about that address.
    join_on(
        events,
        &timed,
        &mut sets,
        |e| (!e.is_echo()).then(|| e.address_key()).flatten(),
        |a, b| a.source != b.source && (a.role != Role::Symptom || b.role != Role::Symptom),
    );
    // The nginx worker that died and the lines it wrote just before.
    for &k in &kills {
        let e = &events[k];
        if e.source != Source::Nginx {
            continue;
        }
        let (Some(pid), Some(t)) = (e.fields.pid, e.time) else {
            continue;
        };
        if let Some(j) = nearest(events, &timed, t, window, |j| {
            j != k && events[j].fields.worker == Some(pid)
        }) {
            sets.union(k, j);
        }
    }

    // 2. Time where keys are silent. Requests a group's story already names:
    let mut requests: HashMap<usize, Vec<String>> = HashMap::new();
    for &i in &timed {
        if let Some(r) = events[i].request_key() {
            let root = sets.find(i);
            let list = requests.entry(root).or_default();
            if !list.iter().any(|x| x == r) {
                list.push(r.to_owned());
            }
        }
    }
    let has_kill = |sets: &mut Sets, i: usize| kills.iter().any(|&k| sets.same(i, k));
    for &i in &timed {
        let e = &events[i];
        if e.is_echo() || !matches!(e.role, Role::Symptom | Role::Condition | Role::Kill) {
            continue;
        }
        let t = e.time.unwrap_or_default();
        if unit_level(e) && matches!(e.role, Role::Kill | Role::Condition) {
            // oomd or systemd about a service: the nearest death of that service.
            let service = e.service();
            if service != Service::Other {
                if let Some(k) = nearest(events, &kills, t, window, |k| {
                    k != i && !unit_level(&events[k]) && events[k].service() == service
                }) {
                    sets.union(i, k);
                }
            }
            continue;
        }
        if e.role != Role::Symptom || !death_explains(e.cause) || has_kill(&mut sets, i) {
            continue;
        }
        let mine = e.request_key();
        let root_i = sets.find(i);
        let mine_all = requests.get(&root_i).cloned().unwrap_or_default();
        if let Some(k) = nearest(events, &kills, t, window, |k| {
            let rk = sets.find(k);
            match requests.get(&rk) {
                None => true,
                Some(theirs) => {
                    mine.is_some_and(|m| theirs.iter().any(|x| x == m))
                        || theirs.iter().all(|x| mine_all.contains(x))
                }
            }
        }) {
            sets.union(i, k);
        }
    }
    // Same cause, same key (or none), close in time.
    let mut last: HashMap<(Cause, Option<String>), usize> = HashMap::new();
    for &i in &timed {
        let e = &events[i];
        if e.is_echo() || !matches!(e.role, Role::Symptom | Role::Condition) {
            continue;
        }
        let key = (e.cause, e.address_key());
        let t = e.time.unwrap_or_default();
        if let Some(&j) = last.get(&key) {
            if gap(t, events[j].time.unwrap_or_default()) <= window && !has_kill(&mut sets, i) {
                sets.union(i, j);
            }
        }
        last.insert(key, i);
    }

    // 3. Access-log rows and context lines that no key placed.
    let alone: Vec<bool> = {
        let mut size: HashMap<usize, usize> = HashMap::new();
        for i in 0..n {
            *size.entry(sets.find(i)).or_default() += 1;
        }
        (0..n).map(|i| size[&sets.find(i)] == 1).collect()
    };
    let anchors: Vec<usize> = timed
        .iter()
        .copied()
        .filter(|&i| !events[i].is_echo() && events[i].role != Role::Context)
        .collect();
    let mut last_echo: HashMap<Cause, usize> = HashMap::new();
    for &i in &timed {
        let e = &events[i];
        if !(e.is_echo() || e.role == Role::Context) || !alone[i] {
            continue;
        }
        let t = e.time.unwrap_or_default();
        let mine = e.request_key();
        if let Some(k) = nearest(events, &anchors, t, window, |k| {
            let theirs = requests.get(&sets.find(k));
            mine.is_none() || theirs.is_none()
        }) {
            sets.union(i, k);
        } else if e.is_echo() {
            if let Some(&j) = last_echo.get(&e.cause) {
                if gap(t, events[j].time.unwrap_or_default()) <= window {
                    sets.union(i, j);
                }
            }
            last_echo.insert(e.cause, i);
        }
    }

    let mut groups: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for i in 0..n {
        let root = sets.find(i);
        groups.entry(root).or_default().push(i);
    }
    let mut incidents: Vec<Incident> = groups
        .into_values()
        .filter_map(|members| incident(events, members))
        .collect();
    incidents.sort_by_key(|inc| (inc.start.is_none(), inc.start, inc.events[0]));
    let mut incidents = storms(incidents);
    for (k, inc) in incidents.iter_mut().enumerate() {
        inc.id = k + 1;
    }
    incidents
}

/// Folds incidents of one cause on one key, each less than [`STORM_GAP`] after the previous
/// one, into the first.
fn storms(incidents: Vec<Incident>) -> Vec<Incident> {
    let mut out: Vec<Incident> = Vec::new();
    let mut open: HashMap<(Cause, Option<String>, Service), usize> = HashMap::new();
    for inc in incidents {
        let key = (inc.cause, inc.key.clone(), inc.service);
        if let (Some(&at), Some(start)) = (open.get(&key), inc.start) {
            let prev = &mut out[at];
            if prev
                .end
                .is_some_and(|e| start.duration_since(e) <= STORM_GAP)
            {
                prev.count += 1;
                prev.lines += inc.lines;
                prev.end = prev.end.max(inc.end);
                prev.events.extend(inc.events);
                prev.edge_facing |= inc.edge_facing;
                for l in inc.layers {
                    if !prev.layers.contains(&l) {
                        prev.layers.push(l);
                    }
                }
                prev.layers.sort();
                continue;
            }
        }
        open.insert(key, out.len());
        out.push(inc);
    }
    for inc in &mut out {
        if inc.count > 1 {
            let (Some(s), Some(e)) = (inc.start, inc.end) else {
                continue;
            };
            let minutes = e.duration_since(s).as_secs_f64() / 60.0;
            let rate = if minutes > 0.0 {
                inc.count as f64 / minutes
            } else {
                inc.count as f64
            };
            inc.rate_per_min = Some((rate * 100.0).round() / 100.0);
            inc.story = format!(
                "{} (storm: {} times in {:.0} min, {:.2}/min)",
                inc.story, inc.count, minutes, rate
            );
        }
    }
    out
}

fn is_oom_confirmation(e: &Event) -> bool {
    e.cause == Cause::OomKill && !e.inferred && matches!(e.source, Source::Kernel | Source::Systemd)
}

fn incident(events: &[Event], members: Vec<usize>) -> Option<Incident> {
    let all: Vec<&Event> = members.iter().map(|&i| &events[i]).collect();
    let of = |role: Role| -> Vec<&Event> {
        all.iter()
            .copied()
            .filter(|e| e.role == role && !e.is_echo())
            .collect()
    };
    let kills = of(Role::Kill);
    let conditions = of(Role::Condition);
    let symptoms = of(Role::Symptom);
    let echoes: Vec<&Event> = all
        .iter()
        .copied()
        .filter(|e| e.is_echo() && e.role != Role::Context)
        .collect();
    if kills.is_empty() && conditions.is_empty() && symptoms.is_empty() && echoes.is_empty() {
        // Context alone (a slowlog entry, a reload) explains nothing.
        return None;
    }

    // The first decisive event: the earliest stated death, else the earliest inferred one.
    let first_stated = kills.iter().find(|e| !e.inferred);
    let root: &Event = first_stated
        .or(kills.first())
        .or(conditions.first())
        .or(symptoms.first())
        .or(echoes.first())
        .copied()?;
    let confirmed_oom = all.iter().any(|e| is_oom_confirmation(e));
    let (cause, inferred, alternatives) = if root.inferred && first_stated.is_none() {
        match root.fields.signal {
            Some(9) if confirmed_oom => (Cause::OomKill, None, Vec::new()),
            Some(9) => (
                Cause::OomKill,
                Some("killed (SIGKILL): oom.kill or crash.signal (inferred: no kernel OOM line seen)".to_owned()),
                vec![Cause::CrashSignal],
            ),
            Some(15) => (
                root.cause,
                Some("terminated (SIGTERM) (inferred: a supervisor's timeout kill; no timeout line seen)".to_owned()),
                vec![Cause::ProcessRestart],
            ),
            Some(6) => (
                root.cause,
                Some("aborted (SIGABRT) (inferred: follows a worker timeout; no timeout line seen)".to_owned()),
                vec![Cause::CrashSignal],
            ),
            _ => (
                root.cause,
                Some("inferred from the signal, not stated by the line".to_owned()),
                Vec::new(),
            ),
        }
    } else {
        (root.cause, None, Vec::new())
    };
    let edge_facing = kills.iter().any(|e| e.edge_facing)
        || (kills.is_empty() && conditions.iter().chain(&symptoms).any(|e| e.edge_facing));
    let proxy_line = symptoms
        .iter()
        .chain(&conditions)
        .find(|e| e.layer == Layer::Edge)
        .or(echoes.first())
        .copied();
    let status = if kills.iter().any(|e| e.edge_facing) {
        "520".to_owned()
    } else if let Some(p) = proxy_line.filter(|_| !kills.is_empty() || root.layer != Layer::Edge) {
        p.status.to_owned()
    } else {
        root.status.to_owned()
    };

    let mut layers: Vec<Layer> = all.iter().map(|e| e.layer).collect();
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
    if let Some(text) = &inferred {
        story_parts[0] = format!("{}: {text}", story_parts[0]);
    }
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
    let service = root.service();
    let key = root
        .address_key()
        .or_else(|| {
            symptoms
                .iter()
                .chain(&conditions)
                .find_map(|e| e.address_key())
        })
        .or_else(|| root.fields.unit.clone())
        .or_else(|| root.fields.pool.as_ref().map(|p| format!("pool {p}")));

    let times: Vec<Timestamp> = all.iter().filter_map(|e| e.time).collect();
    Some(Incident {
        id: 0,
        cause,
        alternatives,
        inferred,
        status,
        edge_facing,
        service,
        key,
        start: times.iter().min().copied(),
        end: times.iter().max().copied(),
        count: 1,
        rate_per_min: None,
        lines: members.len(),
        layers,
        story,
        fix: fix_for(cause, service),
        events: all.iter().map(|e| e.id).collect(),
    })
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
                // The nginx line is about the request the FPM child was serving.
                ("error.log", &NGINX_N1.replace("03:04:05", "03:05:05").replace("GET /api/orders", "POST /index.php")),
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
