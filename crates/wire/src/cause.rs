//! The stable cause vocabulary (`CAUSES.md` at the repository root; what each cause means and
//! how to fix it: [`crate::cause_table`]).
//!
//! Every verdict, finding, incident and log event names one [`Cause`]. The string returned by
//! [`Cause::as_str`] is a public contract used in JSON, the incident store, metrics labels and
//! tests: ids are added, never renamed or reused.

use std::fmt;
use std::str::FromStr;

/// The phase of an exchange in which a cause shows itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Resolving the origin's name.
    Resolve,
    /// Opening the TCP connection.
    Connect,
    /// The TLS handshake.
    Tls,
    /// Reading the response head (status line and fields).
    Head,
    /// Reusing a pooled keep-alive connection.
    Reuse,
    /// Reading the response body, after the head could have been forwarded.
    Body,
    /// Not tied to the wire (process-level causes found in logs).
    Process,
}

impl Phase {
    /// Stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Resolve => "resolve",
            Phase::Connect => "connect",
            Phase::Tls => "tls",
            Phase::Head => "head",
            Phase::Reuse => "reuse",
            Phase::Body => "body",
            Phase::Process => "process",
        }
    }
}

macro_rules! causes {
    ($( $(#[$doc:meta])* $variant:ident => $id:literal, $phase:ident; )*) => {
        /// A cause id from `CAUSES.md`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum Cause {
            $( $(#[$doc])* $variant, )*
        }

        impl Cause {
            /// Every cause, in the order of `CAUSES.md`.
            pub const ALL: &'static [Cause] = &[ $( Cause::$variant, )* ];

            /// The stable id, e.g. `"response.empty"`.
            pub fn as_str(self) -> &'static str {
                match self { $( Cause::$variant => $id, )* }
            }

            /// The phase in which this cause shows itself.
            pub fn phase(self) -> Phase {
                match self { $( Cause::$variant => Phase::$phase, )* }
            }
        }
    };
}

causes! {
    /// The origin hostname does not resolve.
    DnsUnresolved => "dns.unresolved", Resolve;
    /// The origin answered the SYN with RST.
    ConnectRefused => "connect.refused", Connect;
    /// No SYN-ACK in time.
    ConnectTimeout => "connect.timeout", Connect;
    /// No route to the origin address.
    ConnectUnreachable => "connect.unreachable", Connect;
    /// The TLS handshake failed.
    TlsHandshake => "tls.handshake", Tls;
    /// The origin's certificate is not acceptable.
    TlsCertificate => "tls.certificate", Tls;
    /// No complete response head before the read timeout.
    ResponseTimeout => "response.timeout", Head;
    /// The origin closed (FIN) without sending a single byte.
    ResponseEmpty => "response.empty", Head;
    /// The origin reset (RST) the connection before any byte.
    ResponseReset => "response.reset", Head;
    /// The connection ended in the middle of the response head.
    HeadTruncated => "head.truncated", Head;
    /// The response head exceeds the profile's limit.
    HeadTooLarge => "head.too-large", Head;
    /// No valid status line.
    StartLineInvalid => "start-line.invalid", Head;
    /// A header line is malformed.
    FieldInvalid => "field.invalid", Head;
    /// The body length cannot be trusted.
    FramingInvalid => "framing.invalid", Head;
    /// The origin offered HTTP/2 but broke the protocol.
    H2Protocol => "h2.protocol", Head;
    /// The origin closes keep-alive connections before the edge stops reusing them.
    KeepaliveRace => "keepalive.race", Reuse;
    /// The connection ended before the body was complete.
    BodyTruncated => "body.truncated", Body;
    /// The body stalled longer than the read timeout.
    BodyTimeout => "body.timeout", Body;
    /// Chunked framing is malformed.
    ChunkedInvalid => "chunked.invalid", Body;
    /// Bytes after the declared end of the body.
    BodyExcess => "body.excess", Body;
    /// A compressed body that does not fit its Content-Length, or broken compressed data.
    EncodingMismatch => "encoding.mismatch", Body;
    /// The origin itself answered 5xx.
    OriginError => "origin.error", Head;
    /// A process died on a signal.
    CrashSignal => "crash.signal", Process;
    /// Killed by the OOM killer or a memory limit.
    OomKill => "oom.kill", Process;
    /// A supervisor killed a slow request.
    TimeoutKill => "timeout.kill", Process;
    /// A proxy stopped waiting for its upstream.
    TimeoutUpstream => "timeout.upstream", Process;
    /// The upstream is not listening or all peers are down.
    UpstreamUnreachable => "upstream.unreachable", Process;
    /// Worker pool or listen backlog full.
    Saturated => "saturated", Process;
    /// An application fatal error turned into HTTP 500.
    AppFatal => "app.fatal", Process;
    /// The client hung up first.
    ClientAbort => "client.abort", Process;
    /// The service restarted or is in a restart loop.
    ProcessRestart => "process.restart", Process;
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The error returned when a string is not a known cause id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownCause(pub String);

impl fmt::Display for UnknownCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown cause id `{}`", self.0)
    }
}

impl std::error::Error for UnknownCause {}

impl FromStr for Cause {
    type Err = UnknownCause;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cause::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownCause(s.to_owned()))
    }
}

impl serde::Serialize for Cause {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Cause {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for &c in Cause::ALL {
            assert!(seen.insert(c.as_str()), "duplicate id {}", c);
            assert_eq!(c.as_str().parse::<Cause>().unwrap(), c);
        }
        assert!("no.such".parse::<Cause>().is_err());
    }

    #[test]
    fn serde_uses_the_stable_id() {
        let json = serde_json::to_string(&Cause::HeadTooLarge).unwrap();
        assert_eq!(json, "\"head.too-large\"");
        let back: Cause = serde_json::from_str(&json).unwrap();
        assert_eq!(back, Cause::HeadTooLarge);
    }
}
