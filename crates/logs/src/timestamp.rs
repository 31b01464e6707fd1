//! Line timestamps: every format of the reference's §1, parsed by hand from fixed columns (no
//! per-line regex), then resolved to an instant with the zone, boot time and year the caller
//! supplies.
//!
//! | format | example | resolved with |
//! |---|---|---|
//! | nginx error | `2024/01/02 03:04:05` | `--tz` |
//! | access log | `[02/Jan/2024:03:04:05 +0000]` | its offset |
//! | Apache 2.4 / 2.2 | `[Tue Jan 02 03:04:05.123456 2024]` | `--tz` |
//! | PHP-FPM | `[02-Jan-2024 03:04:05]` | `--tz` |
//! | PHP | `[02-Jan-2024 03:04:05 UTC]` | its zone name |
//! | dmesg | `[12345.678901]` | `--boot-time` |
//! | dmesg -T | `[Tue Jan  2 03:04:05 2024]` | `--tz` |
//! | ISO 8601 (journal short-iso, dmesg --time-format=iso, RFC 3339 syslog, docker -t) | `2024-01-02T03:04:05+0000` | its offset, else `--tz` |
//! | journal short / syslog | `Jan  2 03:04:05` | `--tz` and the year of "now" |
//! | gunicorn | `[2024-01-02 03:04:05 +0000]` | its offset |
//! | uWSGI (ctime) | `Tue Jan  2 03:04:05 2024` | `--tz` |
//! | Unicorn (Ruby Logger) | `E, [2024-01-02T03:04:05.123456 #1234]` | `--tz` |
//!
//! Node.js and Puma write no stamp: their lines take the nearest stamped neighbour's time.

use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

/// A stamp as written in the line, before zone, boot time or year are applied.
#[derive(Clone, Debug, PartialEq)]
pub enum Stamp {
    /// The line named its offset or zone.
    Instant(Timestamp),
    /// Wall-clock time without a zone.
    Civil(DateTime),
    /// Wall-clock time without a zone and without a year (journal `short`, syslog).
    NoYear(DateTime),
    /// Microseconds since boot (raw dmesg).
    SinceBoot(i64),
}

/// Which stamp format a line carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StampFormat {
    /// `2024/01/02 03:04:05`.
    Nginx,
    /// `[02/Jan/2024:03:04:05 +0000]`.
    AccessLog,
    /// `[Tue Jan 02 03:04:05.123456 2024]` (Apache 2.4, 2.2 and `dmesg -T`).
    Ctime,
    /// `[02-Jan-2024 03:04:05]`.
    PhpFpm,
    /// `[02-Jan-2024 03:04:05 UTC]`.
    Php,
    /// `[12345.678901]`.
    Dmesg,
    /// ISO 8601 / RFC 3339.
    Iso8601,
    /// `Jan  2 03:04:05`.
    Syslog,
    /// `[2024-01-02 03:04:05 +0000]`.
    Gunicorn,
    /// `Tue Jan  2 03:04:05 2024 - `.
    Uwsgi,
    /// `E, [2024-01-02T03:04:05.123456 #1234]`.
    Ruby,
}

/// What the resolver needs to turn a [`Stamp`] into an instant.
#[derive(Clone, Debug)]
pub struct TimeContext {
    /// Zone of zone-less logs (nginx, Apache, PHP-FPM, syslog, uWSGI, Unicorn).
    pub tz: TimeZone,
    /// Boot time, for raw dmesg stamps.
    pub boot: Option<Timestamp>,
    /// "Now": picks the year of year-less stamps (the latest year not in the future).
    pub now: Timestamp,
    /// The year of year-less stamps, when the caller knows it better than "now" does.
    pub year: Option<i16>,
}

impl Default for TimeContext {
    fn default() -> Self {
        TimeContext {
            tz: TimeZone::UTC,
            boot: None,
            now: Timestamp::now(),
            year: None,
        }
    }
}

impl TimeContext {
    /// Builds a context from command-line style values: `tz` is an IANA name (`Europe/Berlin`),
    /// `UTC`, or a fixed offset (`+02:00`); default this machine's zone. `boot` is `auto`
    /// (read `/proc/stat`) or an RFC 3339 instant.
    pub fn from_flags(tz: Option<&str>, boot: Option<&str>) -> Result<TimeContext, String> {
        let tz = match tz {
            None => TimeZone::try_system().unwrap_or(TimeZone::UTC),
            Some(name) => zone(name)?,
        };
        let boot = match boot {
            None => None,
            Some("auto") => Some(crate::bound::boot_time()?),
            Some(s) => Some(s.parse::<Timestamp>().map_err(|e| {
                format!("--boot-time `{s}`: expected `auto` or an instant like 2024-01-02T03:04:05Z ({e})")
            })?),
        };
        Ok(TimeContext {
            tz,
            boot,
            now: Timestamp::now(),
            year: None,
        })
    }

    /// `2024-01-02 03:04:05` in the context's zone.
    pub fn format(&self, t: Timestamp) -> String {
        self.tz
            .to_datetime(t)
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string()
    }

    /// Resolves a stamp; `None` when it needs a boot time that was not given, or names a day
    /// that does not exist.
    pub fn resolve(&self, stamp: &Stamp) -> Option<Timestamp> {
        match stamp {
            Stamp::Instant(t) => Some(*t),
            Stamp::Civil(dt) => self.tz.to_timestamp(*dt).ok(),
            Stamp::NoYear(dt) if self.year.is_some() => {
                let this = dt.with().year(self.year?).build().ok()?;
                self.tz.to_timestamp(this).ok()
            }
            Stamp::NoYear(dt) => {
                let now_year = self.tz.to_datetime(self.now).year();
                let this = dt.with().year(now_year).build().ok()?;
                let t = self.tz.to_timestamp(this).ok()?;
                // A stamp more than a day ahead of "now" is from last year (logs span New Year).
                if t.duration_since(self.now) > SignedDuration::from_hours(24) {
                    let last = dt.with().year(now_year - 1).build().ok()?;
                    self.tz.to_timestamp(last).ok()
                } else {
                    Some(t)
                }
            }
            Stamp::SinceBoot(us) => self
                .boot?
                .checked_add(SignedDuration::from_micros(*us))
                .ok(),
        }
    }
}

/// A zone by name, `UTC`, or a fixed offset like `+02:00` / `-0700`.
pub fn zone(name: &str) -> Result<TimeZone, String> {
    if let Some((off, used)) = offset(name.as_bytes(), 0) {
        if used == name.len() {
            return Ok(TimeZone::fixed(off));
        }
    }
    if name.eq_ignore_ascii_case("utc") || name == "Z" {
        return Ok(TimeZone::UTC);
    }
    TimeZone::get(name).map_err(|e| format!("unknown time zone `{name}`: {e}"))
}

/// Parses the stamp a line starts with (or, for access logs, the first `[...]` field).
pub fn parse(line: &[u8]) -> Option<(Stamp, StampFormat)> {
    let first = *line.first()?;
    if first.is_ascii_digit() {
        if let Some(s) = nginx(line) {
            return Some((s, StampFormat::Nginx));
        }
        if let Some((s, _)) = iso(line) {
            return Some((s, StampFormat::Iso8601));
        }
    } else if first == b'[' {
        let inner = &line[1..];
        match inner.first() {
            Some(b) if b.is_ascii_digit() || *b == b' ' => {
                if let Some(r) = bracket_numeric(inner) {
                    return Some(r);
                }
            }
            Some(b) if b.is_ascii_alphabetic() => {
                if let Some(s) = ctime(inner, true) {
                    return Some((s, StampFormat::Ctime));
                }
            }
            _ => {}
        }
    } else if first.is_ascii_alphabetic() {
        if let Some(s) = syslog(line) {
            return Some((s, StampFormat::Syslog));
        }
        if let Some(s) = ctime(line, false) {
            return Some((s, StampFormat::Uwsgi));
        }
        if let Some(s) = ruby(line) {
            return Some((s, StampFormat::Ruby));
        }
    }
    access_log(line).map(|s| (s, StampFormat::AccessLog))
}

fn num(b: &[u8], at: usize, len: usize) -> Option<i32> {
    let s = b.get(at..at + len)?;
    let mut v = 0i32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i32::from(c - b'0');
    }
    Some(v)
}

/// A day that may be space-padded (`" 2"`) or zero-padded (`"02"`).
fn day(b: &[u8], at: usize) -> Option<i32> {
    match b.get(at..at + 2)? {
        [b' ', d] if d.is_ascii_digit() => Some(i32::from(d - b'0')),
        _ => num(b, at, 2),
    }
}

fn month(b: &[u8], at: usize) -> Option<i32> {
    let m = b.get(at..at + 3)?;
    const NAMES: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    NAMES.iter().position(|n| n[..] == *m).map(|i| i as i32 + 1)
}

fn at(b: &[u8], i: usize, c: u8) -> bool {
    b.get(i) == Some(&c)
}

/// `HH:MM:SS` at `i`.
fn hms(b: &[u8], i: usize) -> Option<(i32, i32, i32)> {
    if !(at(b, i + 2, b':') && at(b, i + 5, b':')) {
        return None;
    }
    Some((num(b, i, 2)?, num(b, i + 3, 2)?, num(b, i + 6, 2)?))
}

/// Fraction after `.` or `,` at `i`: (nanoseconds, bytes consumed including the separator).
fn fraction(b: &[u8], i: usize) -> (i32, usize) {
    if !(at(b, i, b'.') || at(b, i, b',')) {
        return (0, 0);
    }
    let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return (0, 0);
    }
    let mut ns = 0i32;
    for k in 0..9 {
        ns = ns * 10
            + if k < digits {
                i32::from(b[i + 1 + k] - b'0')
            } else {
                0
            };
    }
    (ns, 1 + digits)
}

fn civil(y: i32, mo: i32, d: i32, (h, mi, s): (i32, i32, i32), ns: i32) -> Option<DateTime> {
    DateTime::new(
        i16::try_from(y).ok()?,
        mo as i8,
        d as i8,
        h as i8,
        mi as i8,
        s as i8,
        ns,
    )
    .ok()
}

/// `+0000`, `+00:00`, `-0700`, `Z` at `i`: (offset, bytes consumed).
fn offset(b: &[u8], i: usize) -> Option<(Offset, usize)> {
    let sign = match b.get(i)? {
        b'Z' => return Some((Offset::UTC, 1)),
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let h = num(b, i + 1, 2)?;
    let (m, used) = if at(b, i + 3, b':') {
        (num(b, i + 4, 2)?, 6)
    } else {
        (num(b, i + 3, 2)?, 5)
    };
    Some((Offset::from_seconds(sign * (h * 3600 + m * 60)).ok()?, used))
}

fn instant(dt: DateTime, off: Offset) -> Option<Stamp> {
    Some(Stamp::Instant(off.to_timestamp(dt).ok()?))
}

/// `2024/01/02 03:04:05`.
fn nginx(b: &[u8]) -> Option<Stamp> {
    if !(at(b, 4, b'/') && at(b, 7, b'/') && at(b, 10, b' ')) {
        return None;
    }
    let dt = civil(num(b, 0, 4)?, num(b, 5, 2)?, num(b, 8, 2)?, hms(b, 11)?, 0)?;
    Some(Stamp::Civil(dt))
}

/// `2024-01-02T03:04:05[.frac][Z|+hh:mm|+hhmm]`, also with a space instead of `T`. Returns
/// the stamp and the bytes consumed.
fn iso(b: &[u8]) -> Option<(Stamp, usize)> {
    if !(at(b, 4, b'-') && at(b, 7, b'-') && (at(b, 10, b'T') || at(b, 10, b' '))) {
        return None;
    }
    let (ns, used) = fraction(b, 19);
    let dt = civil(num(b, 0, 4)?, num(b, 5, 2)?, num(b, 8, 2)?, hms(b, 11)?, ns)?;
    let end = 19 + used;
    match offset(b, end) {
        Some((off, n)) => Some((instant(dt, off)?, end + n)),
        None => Some((Stamp::Civil(dt), end)),
    }
}

/// After `[`: PHP-FPM, PHP, gunicorn, or raw dmesg.
fn bracket_numeric(b: &[u8]) -> Option<(Stamp, StampFormat)> {
    // `02-Jan-2024 03:04:05` (PHP-FPM / PHP)
    if at(b, 2, b'-') && at(b, 6, b'-') && at(b, 11, b' ') {
        let (ns, used) = fraction(b, 20);
        let dt = civil(num(b, 7, 4)?, month(b, 3)?, num(b, 0, 2)?, hms(b, 12)?, ns)?;
        let end = 20 + used;
        return match b.get(end)? {
            b']' => Some((Stamp::Civil(dt), StampFormat::PhpFpm)),
            b' ' => {
                let rest = &b[end + 1..];
                let close = memchr::memchr(b']', rest.get(..64).unwrap_or(rest))?;
                let name = std::str::from_utf8(&rest[..close]).ok()?;
                let tz = TimeZone::get(name).ok()?;
                Some((Stamp::Instant(tz.to_timestamp(dt).ok()?), StampFormat::Php))
            }
            _ => None,
        };
    }
    // `2024-01-02 03:04:05 +0000]` (gunicorn)
    if at(b, 4, b'-') {
        let (s, used) = iso(b)?;
        let used = used + usize::from(at(b, used, b' '));
        let stamp = match (s, offset(b, used)) {
            (Stamp::Civil(dt), Some((off, _))) => instant(dt, off)?,
            (s, _) => s,
        };
        return Some((stamp, StampFormat::Gunicorn));
    }
    // `    5.123456]` / `12345.678901]` (dmesg)
    let start = b.iter().take_while(|&&c| c == b' ').count();
    let int_len = b[start..].iter().take_while(|c| c.is_ascii_digit()).count();
    if int_len == 0 || int_len > 12 || !at(b, start + int_len, b'.') {
        return None;
    }
    let frac_at = start + int_len + 1;
    let frac_len = b[frac_at..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    if frac_len == 0 || frac_len > 9 || !at(b, frac_at + frac_len, b']') {
        return None;
    }
    let secs: i64 = std::str::from_utf8(&b[start..start + int_len])
        .ok()?
        .parse()
        .ok()?;
    let mut micros = 0i64;
    for k in 0..6 {
        micros = micros * 10
            + if k < frac_len {
                i64::from(b[frac_at + k] - b'0')
            } else {
                0
            };
    }
    Some((
        Stamp::SinceBoot(secs * 1_000_000 + micros),
        StampFormat::Dmesg,
    ))
}

/// `Tue Jan 02 03:04:05[.123456] 2024` (Apache, `dmesg -T`, uWSGI). The day may be space-padded.
fn ctime(b: &[u8], bracketed: bool) -> Option<Stamp> {
    if !(at(b, 3, b' ') && at(b, 7, b' ') && at(b, 10, b' ')) {
        return None;
    }
    let (ns, used) = fraction(b, 19);
    let year_at = 19 + used;
    if !at(b, year_at, b' ') {
        return None;
    }
    let year = num(b, year_at + 1, 4)?;
    let end = year_at + 5;
    if bracketed && !at(b, end, b']') {
        return None;
    }
    let dt = civil(year, month(b, 4)?, day(b, 8)?, hms(b, 11)?, ns)?;
    Some(Stamp::Civil(dt))
}

/// `Jan  2 03:04:05[.123456]` (syslog, journal `short`, `short-precise`).
fn syslog(b: &[u8]) -> Option<Stamp> {
    if !(at(b, 3, b' ') && at(b, 6, b' ')) {
        return None;
    }
    let (ns, _) = fraction(b, 15);
    // Year 2000 is a leap year, so Feb 29 survives until the real year is applied.
    let dt = civil(2000, month(b, 0)?, day(b, 4)?, hms(b, 7)?, ns)?;
    Some(Stamp::NoYear(dt))
}

/// `E, [2024-01-02T03:04:05.123456 #1234]` (Ruby Logger).
fn ruby(b: &[u8]) -> Option<Stamp> {
    if !(at(b, 1, b',') && at(b, 2, b' ') && at(b, 3, b'[')) {
        return None;
    }
    iso(&b[4..]).map(|(s, _)| s)
}

/// `... [02/Jan/2024:03:04:05 +0000] ...` (access logs): the first `[` in the first 256 bytes.
fn access_log(line: &[u8]) -> Option<Stamp> {
    let head = line.get(..256).unwrap_or(line);
    let open = memchr::memchr(b'[', head)?;
    let b = &line[open + 1..];
    if !(at(b, 2, b'/') && at(b, 6, b'/') && at(b, 11, b':') && at(b, 20, b' ')) {
        return None;
    }
    let dt = civil(num(b, 7, 4)?, month(b, 3)?, num(b, 0, 2)?, hms(b, 12)?, 0)?;
    let (off, _) = offset(b, 21)?;
    instant(dt, off)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn ctx() -> TimeContext {
        TimeContext {
            tz: TimeZone::UTC,
            boot: Some(utc("2024-01-01T00:00:00Z")),
            now: utc("2024-06-01T00:00:00Z"),
            year: None,
        }
    }

    fn check(line: &str, format: StampFormat, expect: &str) {
        let (stamp, f) = parse(line.as_bytes()).unwrap_or_else(|| panic!("no stamp in {line:?}"));
        assert_eq!(f, format, "{line}");
        assert_eq!(ctx().resolve(&stamp), Some(utc(expect)), "{line}");
    }

    #[test]
    fn every_reference_format() {
        use StampFormat::*;
        check(
            "2024/01/02 03:04:05 [error] 1#1: x",
            Nginx,
            "2024-01-02T03:04:05Z",
        );
        check(
            r#"1.2.3.4 - - [02/Jan/2024:03:04:05 +0100] "GET / HTTP/1.1" 502 1"#,
            AccessLog,
            "2024-01-02T02:04:05Z",
        );
        check(
            "[Tue Jan 02 03:04:05.123456 2024] [core:notice] x",
            Ctime,
            "2024-01-02T03:04:05.123456Z",
        );
        check(
            "[Tue Jan 02 03:04:05 2024] [error] x",
            Ctime,
            "2024-01-02T03:04:05Z",
        );
        check(
            "[Tue Jan  2 03:04:05 2024] php-fpm8.2[1]: segfault",
            Ctime,
            "2024-01-02T03:04:05Z",
        );
        check(
            "[02-Jan-2024 03:04:05] WARNING: x",
            PhpFpm,
            "2024-01-02T03:04:05Z",
        );
        check(
            "[02-Jan-2024 03:04:05.123456] DEBUG: x",
            PhpFpm,
            "2024-01-02T03:04:05.123456Z",
        );
        check(
            "[02-Jan-2024 03:04:05 Europe/Berlin] PHP Fatal error:  x",
            Php,
            "2024-01-02T02:04:05Z",
        );
        check(
            "[02-Jan-2024 03:04:05 UTC] PHP Fatal error:  x",
            Php,
            "2024-01-02T03:04:05Z",
        );
        check("[   61.500000] x", Dmesg, "2024-01-01T00:01:01.5Z");
        check("[12345.678901] x", Dmesg, "2024-01-01T03:25:45.678901Z");
        check(
            "2024-01-02T03:04:05,123456+00:00 kernel: x",
            Iso8601,
            "2024-01-02T03:04:05.123456Z",
        );
        check(
            "2024-01-02T03:04:05+0200 web1 kernel: x",
            Iso8601,
            "2024-01-02T01:04:05Z",
        );
        check(
            "2024-01-02T03:04:05.123456789Z stdout F x",
            Iso8601,
            "2024-01-02T03:04:05.123456789Z",
        );
        check(
            "Jan 02 03:04:05 web1 kernel: x",
            Syslog,
            "2024-01-02T03:04:05Z",
        );
        check(
            "Jan  2 03:04:05 web1 kernel: [1.0] x",
            Syslog,
            "2024-01-02T03:04:05Z",
        );
        check(
            "Jan 02 03:04:05.123456 web1 systemd[1]: x",
            Syslog,
            "2024-01-02T03:04:05.123456Z",
        );
        check(
            "[2024-01-02 03:04:05 +0000] [1201] [CRITICAL] x",
            Gunicorn,
            "2024-01-02T03:04:05Z",
        );
        check(
            "Tue Jan  2 03:05:05 2024 - *** HARAKIRI",
            Uwsgi,
            "2024-01-02T03:05:05Z",
        );
        check(
            "E, [2024-01-02T03:04:05.123456 #1234] ERROR -- : x",
            Ruby,
            "2024-01-02T03:04:05.123456Z",
        );
    }

    #[test]
    fn zone_less_stamps_take_the_given_zone() {
        let (stamp, _) = parse(b"2024/07/02 03:04:05 [error] x").unwrap();
        let mut c = ctx();
        c.tz = TimeZone::get("America/New_York").unwrap();
        assert_eq!(c.resolve(&stamp), Some(utc("2024-07-02T07:04:05Z")));
    }

    #[test]
    fn year_less_stamps_never_land_in_the_future() {
        let (stamp, _) = parse(b"Dec 31 23:59:59 web1 kernel: x").unwrap();
        let mut c = ctx();
        c.now = utc("2025-01-01T00:10:00Z");
        assert_eq!(c.resolve(&stamp), Some(utc("2024-12-31T23:59:59Z")));
    }

    #[test]
    fn an_explicit_year_wins() {
        let (stamp, _) = parse(b"Jan 02 03:04:05 web1 kernel: x").unwrap();
        let mut c = ctx();
        c.year = Some(2021);
        assert_eq!(c.resolve(&stamp), Some(utc("2021-01-02T03:04:05Z")));
    }

    #[test]
    fn dmesg_without_boot_time_is_unresolved() {
        let (stamp, _) = parse(b"[5.000000] x").unwrap();
        let mut c = ctx();
        c.boot = None;
        assert_eq!(c.resolve(&stamp), None);
    }

    #[test]
    fn no_stamp() {
        for line in [
            "Node.js v20.11.0",
            "!!! uWSGI process 2412 got Segmentation Fault !!!",
            "[1201] ! Terminating timed out worker: 1311",
            "",
            "[WARNING] [pool www] child 1 exited",
            "2024/13/45 99:99:99 garbage",
        ] {
            assert!(parse(line.as_bytes()).is_none(), "{line}");
        }
    }
}
