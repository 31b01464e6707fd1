//! `--since` / `--until` values and `--boot-time auto`.

use jiff::civil::{Date, DateTime, Time};
use jiff::{SignedDuration, Timestamp};

use crate::timestamp::TimeContext;

/// Parses a time bound: `now`, `today`, `yesterday`, `N <unit>s ago` (seconds, minutes,
/// hours, days, weeks; short forms `s`, `min`, `m`, `h`, `d`, `w`), an RFC 3339 instant, or a
/// zone-less `YYYY-MM-DD[ HH:MM[:SS]]` / `HH:MM[:SS]` read in the context's zone.
pub fn parse_bound(s: &str, ctx: &TimeContext) -> Result<Timestamp, String> {
    let s = s.trim();
    let midnight = |d: Date| -> Result<Timestamp, String> {
        ctx.tz
            .to_timestamp(d.to_datetime(Time::midnight()))
            .map_err(|e| e.to_string())
    };
    let today = ctx.tz.to_datetime(ctx.now).date();
    match s {
        "now" => return Ok(ctx.now),
        "today" => return midnight(today),
        "yesterday" => return midnight(today.yesterday().map_err(|e| e.to_string())?),
        _ => {}
    }
    if let Some(rest) = s.strip_suffix(" ago") {
        let rest = rest.trim();
        let split = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (n, unit) = rest.split_at(split);
        let n: i64 = n.parse().map_err(|_| {
            format!("`{s}`: expected a number before the unit, as in `2 hours ago`")
        })?;
        let secs = match unit.trim() {
            "s" | "sec" | "secs" | "second" | "seconds" => 1,
            "m" | "min" | "mins" | "minute" | "minutes" => 60,
            "h" | "hour" | "hours" => 3600,
            "d" | "day" | "days" => 86_400,
            "w" | "week" | "weeks" => 604_800,
            other => {
                return Err(format!(
                    "`{s}`: unknown unit `{other}` (seconds, minutes, hours, days, weeks)"
                ))
            }
        };
        return ctx
            .now
            .checked_sub(SignedDuration::from_secs(n.saturating_mul(secs)))
            .map_err(|e| e.to_string());
    }
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    if let Ok(dt) = s.parse::<DateTime>() {
        return ctx.tz.to_timestamp(dt).map_err(|e| e.to_string());
    }
    if let Ok(d) = s.parse::<Date>() {
        return midnight(d);
    }
    if let Ok(t) = s.parse::<Time>() {
        return ctx
            .tz
            .to_timestamp(today.to_datetime(t))
            .map_err(|e| e.to_string());
    }
    Err(format!(
        "`{s}` is not a time: use `2 hours ago`, `today`, `2024-01-02 03:04:05`, `03:04` or `2024-01-02T03:04:05Z`"
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
        assert!(parse_bound("two hours ago", &c).is_err());
        assert!(parse_bound("2 fortnights ago", &c).is_err());
        assert!(parse_bound("soon", &c).is_err());
    }
}
