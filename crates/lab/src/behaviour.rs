//! What the lab server does on the socket once it has read a request head.
//!
//! A [`Behaviour`] is data: the bytes to write, the pauses between them and how the connection
//! ends. The server in `server.rs` interprets it; the route table in `routes.rs` spells it out.

use std::time::Duration;

/// How the origin ends its side of the exchange after writing its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum End {
    /// Close with FIN (`shutdown(SHUT_WR)`), then drain the peer's bytes briefly so the close
    /// stays a FIN and never turns into an RST because of unread request bytes.
    Fin,
    /// Keep the connection open for the next request (clean routes). A response to `HEAD` is cut
    /// after its head.
    KeepAlive,
    /// As [`End::KeepAlive`], but close with FIN once the connection has been idle this long: an
    /// origin whose keep-alive timeout is shorter than the edge's pool (`keepalive.race`).
    IdleClose(Duration),
    /// As [`End::KeepAlive`], but close with FIN right after the n-th response on the connection,
    /// without announcing it with `Connection: close` (a request cap such as nginx's
    /// `keepalive_requests` with a proxy in front that drops the header).
    MaxRequests(u32),
    /// As [`End::KeepAlive`], but once the connection has been idle this long, forget it without
    /// a FIN: later requests get no answer, as when a firewall or NAT drops the connection's state.
    IdleDrop(Duration),
    /// Hold the connection open without writing until the peer closes (at most [`HOLD_MAX`]).
    Hold,
    /// Abort with RST (`SO_LINGER` zero, then close), after a short pause that lets the written
    /// bytes reach the peer first, as a process crashing right after a write would.
    Reset,
}

/// One timed step of a [`Behaviour::Script`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// Write these bytes.
    Write(&'static [u8]),
    /// Pause.
    Sleep(Duration),
}

/// What the server does on the socket for one route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Behaviour {
    /// Write `bytes`, then end as `end` says.
    Reply {
        /// The raw response, byte for byte.
        bytes: &'static [u8],
        /// How the connection ends afterwards.
        end: End,
    },
    /// Run timed steps (trickle, late first byte), then end as `end` says.
    Script {
        /// The steps, in order.
        steps: &'static [Step],
        /// How the connection ends afterwards.
        end: End,
    },
    /// Close with FIN without writing a byte.
    Fin,
    /// Abort with RST without writing a byte.
    Reset,
    /// Write nothing and hold the connection until the peer gives up (at most [`HOLD_MAX`]).
    Hang,
}

/// The longest the server holds a connection open for [`Behaviour::Hang`] and [`End::Hold`].
pub const HOLD_MAX: Duration = Duration::from_secs(600);

/// The pause before an RST that follows written bytes (see [`End::Reset`]).
pub const RESET_PAUSE: Duration = Duration::from_millis(100);

impl Behaviour {
    /// Every byte this behaviour writes, in order (pauses removed).
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Behaviour::Reply { bytes, .. } => bytes.to_vec(),
            Behaviour::Script { steps, .. } => steps
                .iter()
                .filter_map(|s| match s {
                    Step::Write(b) => Some(*b),
                    Step::Sleep(_) => None,
                })
                .flatten()
                .copied()
                .collect(),
            Behaviour::Fin | Behaviour::Reset | Behaviour::Hang => Vec::new(),
        }
    }

    /// Does the connection stay open for another request?
    pub fn keeps_alive(&self) -> bool {
        matches!(
            self.end(),
            Some(End::KeepAlive | End::IdleClose(_) | End::MaxRequests(_) | End::IdleDrop(_))
        )
    }

    /// How the connection ends: `None` for [`Behaviour::Hang`], which never ends by itself.
    pub fn end(&self) -> Option<End> {
        match self {
            Behaviour::Reply { end, .. } | Behaviour::Script { end, .. } => Some(*end),
            Behaviour::Fin => Some(End::Fin),
            Behaviour::Reset => Some(End::Reset),
            Behaviour::Hang => None,
        }
    }

    /// The total time spent in [`Step::Sleep`] steps.
    pub fn delay(&self) -> Duration {
        match self {
            Behaviour::Script { steps, .. } => steps
                .iter()
                .map(|s| match s {
                    Step::Sleep(d) => *d,
                    Step::Write(_) => Duration::ZERO,
                })
                .sum(),
            _ => Duration::ZERO,
        }
    }
}

/// The response head of `bytes`: everything up to and including the first empty line.
///
/// Used to answer `HEAD` on keep-alive routes. Returns all of `bytes` when no empty line is found.
pub fn head_of(bytes: &[u8]) -> &[u8] {
    match bytes.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => &bytes[..i + 4],
        None => bytes,
    }
}

/// Leaks `v`: the route table is built once per process and lives until exit.
pub(crate) fn leak(v: Vec<u8>) -> &'static [u8] {
    Box::leak(v.into_boxed_slice())
}

/// Splits `bytes` into `pieces` writes spread evenly over `over`.
pub(crate) fn trickle(bytes: &'static [u8], pieces: usize, over: Duration) -> &'static [Step] {
    let pieces = pieces.clamp(1, bytes.len().max(1));
    let size = bytes.len().div_ceil(pieces);
    let pause = over / pieces as u32;
    let mut steps = Vec::with_capacity(pieces * 2);
    for (i, chunk) in bytes.chunks(size.max(1)).enumerate() {
        if i > 0 {
            steps.push(Step::Sleep(pause));
        }
        steps.push(Step::Write(chunk));
    }
    Box::leak(steps.into_boxed_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trickle_keeps_every_byte_and_spreads_the_time() {
        let b = Behaviour::Script {
            steps: trickle(b"0123456789", 4, Duration::from_millis(400)),
            end: End::Fin,
        };
        assert_eq!(b.bytes(), b"0123456789");
        assert_eq!(b.delay(), Duration::from_millis(300));
    }

    #[test]
    fn head_of_stops_after_the_empty_line() {
        assert_eq!(
            head_of(b"HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody"),
            b"HTTP/1.1 200 OK\r\nA: b\r\n\r\n"
        );
        assert_eq!(head_of(b"no head"), b"no head");
    }
}
