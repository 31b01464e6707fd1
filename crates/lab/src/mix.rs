//! `lab --mix`: every request is answered by a route drawn from a weighted mix of clean and
//! broken ones, so that a long run through the edge meets every kind of failure in proportion.
//!
//! The draw is a function of the seed and the request's key: its `id=` query parameter when it
//! has one, else its number in order of arrival. A run can therefore be replayed, and a request
//! the edge retries (same id) meets the same route again. A broken route may have no head at
//! all, or one a proxy refuses, so the route cannot be named in a response header: each draw
//! goes to the caller's sink instead ([`Choice`]; `originlens lab --mix` prints one line per
//! request on stderr).
//!
//! A mix is written `PATH=WEIGHT,...` (`/ok=90,/empty=5,/cl-conflict=5`; the leading `/` may be
//! left out) or `default` ([`DEFAULT_MIX`]). Only routes that answer at once can be drawn: a
//! route that hangs, stalls or trickles would hold a soak's connections for its whole delay.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::behaviour::Behaviour;
use crate::routes::{route, Route};

/// The mix of `--mix` without a value: about 85 % clean responses of several shapes, 10 %
/// heads the edge refuses (520 or 502), 3 % bodies cut after the head, 2.5 % origin 5xx.
pub const DEFAULT_MIX: &str = "/ok=700,/chunked-ok=40,/gzip-ok=30,/keep-alive=30,/obs-fold=10,\
/bare-lf=10,/continue-then-200=10,/early-hints=10,/set-cookie-flood=10,\
/empty=10,/reset=10,/head-truncated=5,/head-reset=5,/version-2=5,/status-4-digits=5,\
/missing-colon=5,/value-nul=5,/head-130k=5,/fields-300=5,/cl-conflict=10,/cl-invalid=5,\
/te-chunked-not-final=5,/unsolicited-101=5,/gzip-cl-decoded=5,/gzip-corrupt=5,\
/chunk-size-invalid=5,/chunked-eof=10,/short-of-cl=10,/body-reset=5,\
/origin-500=15,/origin-502=5,/origin-504=5";

/// A mix that cannot be used, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MixError(String);

impl fmt::Display for MixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "--mix: {}", self.0)
    }
}

impl std::error::Error for MixError {}

/// What identifies a request to the draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key<'a> {
    /// The request's `id=` query parameter.
    Id(&'a str),
    /// The request's number in order of arrival (from 1), when it has no id.
    Seq(u64),
}

impl fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Id(id) => write!(f, "id={id}"),
            Key::Seq(n) => write!(f, "seq={n}"),
        }
    }
}

/// One draw: the request's key and the route that answers it.
#[derive(Clone, Copy, Debug)]
pub struct Choice<'a> {
    /// The request's key.
    pub key: Key<'a>,
    /// The route drawn.
    pub route: &'static Route,
}

/// A weighted mix of routes and the seed of its draws.
#[derive(Debug)]
pub struct Mix {
    /// Routes with their weights, in the order given.
    entries: Vec<(&'static Route, u64)>,
    /// Running sums of the weights, for the draw.
    upto: Vec<u64>,
    seed: u64,
    arrivals: AtomicU64,
}

impl Mix {
    /// Parses `spec` (`default`, or `PATH=WEIGHT,...`); draws follow `seed`.
    pub fn parse(spec: &str, seed: u64) -> Result<Mix, MixError> {
        let spec = match spec.trim() {
            "" | "default" => DEFAULT_MIX,
            s => s,
        };
        let mut entries: Vec<(&'static Route, u64)> = Vec::new();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (path, weight) = item
                .split_once('=')
                .ok_or_else(|| MixError(format!("`{item}`: write PATH=WEIGHT, e.g. /empty=5")))?;
            let path = path.trim();
            let wanted = if path.starts_with('/') {
                path.to_owned()
            } else {
                format!("/{path}")
            };
            let r = route(&wanted).ok_or_else(|| {
                MixError(format!(
                    "`{path}` is not a lab route (see `originlens lab --list`)"
                ))
            })?;
            let weight: u64 = weight
                .trim()
                .parse()
                .ok()
                .filter(|&w| w > 0)
                .ok_or_else(|| {
                    MixError(format!(
                        "`{item}`: the weight must be a whole number above 0"
                    ))
                })?;
            if !prompt(r) {
                return Err(MixError(format!(
                    "`{}` does not answer at once (it hangs, stalls or trickles); a mix takes prompt routes only",
                    r.path
                )));
            }
            if entries.iter().any(|(e, _)| e.path == r.path) {
                return Err(MixError(format!("`{}` is given twice", r.path)));
            }
            entries.push((r, weight));
        }
        if entries.is_empty() {
            return Err(MixError("no route given".into()));
        }
        let upto = entries
            .iter()
            .scan(0u64, |sum, (_, w)| {
                *sum = sum.saturating_add(*w);
                Some(*sum)
            })
            .collect();
        Ok(Mix {
            entries,
            upto,
            seed,
            arrivals: AtomicU64::new(0),
        })
    }

    /// The routes and their weights, in the order given.
    pub fn entries(&self) -> &[(&'static Route, u64)] {
        &self.entries
    }

    /// The sum of the weights.
    pub fn total(&self) -> u64 {
        self.upto.last().copied().unwrap_or(0)
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The route for a request with this `id=` (or, without one, the next arrival).
    pub fn choose<'a>(&self, id: Option<&'a str>) -> Choice<'a> {
        let key = match id {
            Some(id) => Key::Id(id),
            None => Key::Seq(self.arrivals.fetch_add(1, Ordering::Relaxed) + 1),
        };
        Choice {
            key,
            route: self.route_for(key),
        }
    }

    /// The route drawn for `key`: the same for the same seed and key, every time.
    pub fn route_for(&self, key: Key<'_>) -> &'static Route {
        let h = match key {
            Key::Id(id) => fnv1a(id.as_bytes()),
            Key::Seq(n) => n,
        };
        let point = splitmix64(self.seed ^ splitmix64(h)) % self.total().max(1);
        let i = self.upto.partition_point(|&u| u <= point);
        self.entries[i.min(self.entries.len() - 1)].0
    }
}

/// Does the route answer without a deliberate delay?
fn prompt(r: &Route) -> bool {
    !matches!(r.behaviour, Behaviour::Hang | Behaviour::Script { .. })
        && r.hint.read_timeout.is_none()
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Sebastiano Vigna's SplitMix64 finaliser: every input bit moves every output bit.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_mix_parses_and_draws_every_route_in_proportion() {
        let mix = Mix::parse("default", 7).unwrap();
        assert_eq!(mix.total(), 1000);
        let mut counts = vec![0u64; mix.entries().len()];
        let n = 200_000u64;
        for i in 0..n {
            let id = i.to_string();
            let r = mix.choose(Some(&id)).route;
            let at = mix.entries().iter().position(|(e, _)| e.path == r.path);
            counts[at.unwrap()] += 1;
        }
        for ((r, w), got) in mix.entries().iter().zip(&counts) {
            let want = n * w / mix.total();
            let off = (*got as f64 - want as f64).abs() / want as f64;
            assert!(off < 0.2, "{}: {got} drawn, {want} expected", r.path);
        }
    }

    #[test]
    fn draws_are_a_function_of_seed_and_key() {
        let a = Mix::parse("ok=1,empty=1,cl-conflict=1", 1).unwrap();
        let b = Mix::parse("ok=1,empty=1,cl-conflict=1", 1).unwrap();
        let c = Mix::parse("ok=1,empty=1,cl-conflict=1", 2).unwrap();
        let ids: Vec<String> = (0..64).map(|i| format!("r{i}")).collect();
        let paths =
            |m: &Mix| -> Vec<&str> { ids.iter().map(|id| m.choose(Some(id)).route.path).collect() };
        assert_eq!(paths(&a), paths(&b));
        assert_ne!(paths(&a), paths(&c));
        // Without ids, arrivals are numbered from 1.
        assert_eq!(a.choose(None).key, Key::Seq(1));
        assert_eq!(a.choose(None).key, Key::Seq(2));
        assert_eq!(a.choose(Some("x")).key.to_string(), "id=x");
    }

    #[test]
    fn mistakes_are_named() {
        for (spec, needle) in [
            ("ok", "PATH=WEIGHT"),
            ("/nope=1", "`/nope` is not a lab route"),
            ("ok=0", "above 0"),
            ("ok=x", "above 0"),
            ("ok=1,/hang=1", "`/hang` does not answer at once"),
            (
                "ok=1,slow-trickle=1",
                "`/slow-trickle` does not answer at once",
            ),
            ("ok=1,/ok=2", "`/ok` is given twice"),
            (",", "no route"),
        ] {
            let e = Mix::parse(spec, 0).unwrap_err().to_string();
            assert!(
                e.starts_with("--mix: ") && e.contains(needle),
                "{spec}: {e}"
            );
        }
    }
}
