//! `--since` / `--until` values and `--boot-time auto`.

use jiff::civil::{Date, DateTime, Time};
use jiff::{SignedDuration, Span, SpanRelativeTo, Timestamp};

use crate::timestamp::TimeContext;

/// An age: `90s`, `15m`, `1h`, `2d`, `1h30m`, `2 hours ago`, `30 minutes ago` (one jiff span,
/// "ago" allowed; days count 24 hours). The result is how far back it reaches.
pub fn age(s: &str) -> Result<SignedDuration, String> {
    let bad = || format!("`{s}` is not an age: use 90s, 15m, 1h, 2d or `2 hours ago`");
    let span: Span = s.trim().parse().map_err(|_| bad())?;
    let d = span
        .to_duration(SpanRelativeTo::days_are_24_hours())
        .map_err(|_| bad())?;
    // "2 hours ago" parses as a negative span; both spellings mean "reach back this far".
    Ok(d.abs())
}

/// Parses a time bound, the one `--since`/`--until` grammar of every command: `now`, `today`,
/// `yesterday`, an [`age`] before now (`1h`, `2 hours ago`), an RFC 3339 instant, or a
/// zone-less `YYYY-MM-DD[ HH:MM[:SS]]` / `HH:MM[:SS]` read in the context's zone.
pub fn parse_bound(s: &str, ctx: &TimeContext) -> Result<Timestamp, String> {
    let t = s.trim();
    let midnight = |d: Date| {
        ctx.tz
            .to_timestamp(d.to_datetime(Time::midnight()))
            .map_err(|e| format!("`{s}`: {e}"))
    };
    let today = ctx.tz.to_datetime(ctx.now).date();
    match t {
        "now" => return Ok(ctx.now),
        "today" => return midnight(today),
        "yesterday" => return midnight(today.yesterday().map_err(|e| e.to_string())?),
        _ => {}
    }
    if let Ok(d) = age(t) {
        return ctx.now.checked_sub(d).map_err(|e| format!("`{s}`: {e}"));
    }
    if let Ok(ts) = t.parse::<Timestamp>() {
        return Ok(ts);
    }
    if let Ok(dt) = t.parse::<DateTime>() {
        return ctx.tz.to_timestamp(dt).map_err(|e| format!("`{s}`: {e}"));
    }
    if let Ok(d) = t.parse::<Date>() {
        return midnight(d);
    }
    if let Ok(time) = t.parse::<Time>() {
        return ctx
            .tz
            .to_timestamp(today.to_datetime(time))
            .map_err(|e| format!("`{s}`: {e}"));
    }
    Err(format!(
        "`{s}` is not a time: use `1h`, `2 hours ago`, `today`, `2024-01-02 03:04:05`, `03:04` or `2024-01-02T03:04:05Z`"
    ))
}

/// The boot instant from `/proc/stat` (`btime`), for raw dmesg stamps.
pub fn boot_time() -> Result<Timestamp, String> {
    let stat = std::fs::read_to_string("/proc/stat")
        .map_err(|e| format!("cannot read /proc/stat: {e}"))?;
    let secs: i64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .ok_or("no btime line in /proc/stat")?
        .trim()
        .parse()
        .map_err(|e| format!("bad btime in /proc/stat: {e}"))?;
    Timestamp::from_second(secs).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::TimeZone;

    fn ctx() -> TimeContext {
        TimeContext {
            tz: TimeZone::UTC,
            boot: None,
            now: "2024-01-02T12:00:00Z".parse().unwrap(),
            year: None,
        }
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn relative_and_absolute() {
        let c = ctx();
        assert_eq!(
            parse_bound("2 hours ago", &c),
            Ok(at("2024-01-02T10:00:00Z"))
        );
        assert_eq!(
            parse_bound("30 minutes ago", &c),
            Ok(at("2024-01-02T11:30:00Z"))
        );
        assert_eq!(parse_bound("1 day ago", &c), Ok(at("2024-01-01T12:00:00Z")));
        assert_eq!(parse_bound("10min ago", &c), Ok(at("2024-01-02T11:50:00Z")));
        assert_eq!(parse_bound("today", &c), Ok(at("2024-01-02T00:00:00Z")));
        assert_eq!(parse_bound("yesterday", &c), Ok(at("2024-01-01T00:00:00Z")));
        assert_eq!(
            parse_bound("2024-01-02 03:04:05", &c),
            Ok(at("2024-01-02T03:04:05Z"))
        );
        assert_eq!(
            parse_bound("2024-01-02T03:04:05+01:00", &c),
            Ok(at("2024-01-02T02:04:05Z"))
        );
        assert_eq!(
            parse_bound("2024-01-01", &c),
            Ok(at("2024-01-01T00:00:00Z"))
        );
        assert_eq!(parse_bound("03:04", &c), Ok(at("2024-01-02T03:04:00Z")));
        assert_eq!(parse_bound("90m", &c), Ok(at("2024-01-02T10:30:00Z")));
        assert!(parse_bound("two hours ago", &c).is_err());
        assert!(parse_bound("2 fortnights ago", &c).is_err());
        assert!(parse_bound("soon", &c).is_err());
    }
}
