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
