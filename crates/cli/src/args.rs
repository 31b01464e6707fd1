//! Value parsers and shared flag enums for every subcommand, so a duration, an age, a size or a
//! header is written the same way wherever a flag takes one.
//!
//! Each parser returns `Result<_, String>` so it plugs into clap's `value_parser = ...` and its
//! message names the bad value; clap adds the flag.

use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use originlens_wire::Profile;

/// The longest duration any flag takes: one day.
const MAX_DURATION: Duration = Duration::from_secs(86_400);

/// `--format` of every command.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// For people.
    #[default]
    Text,
    /// A versioned JSON document (each carries its `schema` id; see `schemas/`).
    Json,
}

/// `--color` of every command.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Color {
    /// Colour when stdout is a terminal and NO_COLOR is unset.
    #[default]
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

impl Color {
    /// Makes `anstream` output follow this choice for the rest of the process.
    pub fn apply(self) {
        let choice = match self {
            Color::Auto => anstream::ColorChoice::Auto,
            Color::Always => anstream::ColorChoice::Always,
            Color::Never => anstream::ColorChoice::Never,
        };
        choice.write_global();
    }
}

/// A duration: a plain number of seconds (`30`, `1.5`) or a number with a unit (`1.5s`, `250ms`,
/// `2m`, `1h`). Zero is allowed (for "off" settings); more than a day is not.
pub fn duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let d = if let Ok(secs) = t.parse::<f64>() {
        if !secs.is_finite() || secs < 0.0 {
            return Err(format!(
                "`{s}` is not a duration: give seconds (30, 1.5) or 250ms, 1.5s, 2m"
            ));
        }
        Duration::try_from_secs_f64(secs).map_err(|e| format!("`{s}`: {e}"))?
    } else {
        let signed: SignedDuration = t.parse().map_err(|_| {
            format!("`{s}` is not a duration: give seconds (30, 1.5) or 250ms, 1.5s, 2m")
        })?;
        if signed.is_negative() {
            return Err(format!("`{s}`: a duration cannot be negative"));
        }
        signed.unsigned_abs()
    };
    if d > MAX_DURATION {
        return Err(format!("`{s}`: at most one day (86400 s)"));
    }
    Ok(d)
}

/// A duration that must be more than zero (a timeout), same forms as [`duration`].
pub fn seconds(s: &str) -> Result<Duration, String> {
    match duration(s)? {
        Duration::ZERO => Err(format!("`{s}`: must be more than zero")),
        d => Ok(d),
    }
}

/// An age (`90s`, `1h`, `2 hours ago`): [`originlens_logs::bound::age`].
pub fn age(s: &str) -> Result<SignedDuration, String> {
    originlens_logs::bound::age(s)
}

/// A point in time for `--since`/`--until` at `now` in `tz`: the one grammar,
/// [`originlens_logs::bound::parse_bound`], which `logs` calls too.
pub fn since(s: &str, now: Timestamp, tz: &TimeZone) -> Result<Timestamp, String> {
    let ctx = originlens_logs::TimeContext {
        tz: tz.clone(),
        now,
        ..Default::default()
    };
    originlens_logs::bound::parse_bound(s, &ctx)
}

/// [`since`] at the current instant in this machine's zone, for clap.
pub fn since_now(s: &str) -> Result<Timestamp, String> {
    since(s, Timestamp::now(), &TimeZone::system())
}

/// A byte size: `14238`, `18k`/`18K`/`18KiB` (×1024), `18kB`/`18KB` (×1000), `2M`/`2MiB`,
/// `2MB`, `1G`/`1GiB`, `1GB`.
pub fn byte_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{s}` is not a size: give bytes (14238) or 18k, 16KiB, 2M"))?;
    let mult: u64 = match unit.trim() {
        "" | "B" | "b" => 1,
        "k" | "K" | "KiB" | "kiB" => 1 << 10,
        "kB" | "KB" => 1_000,
        "m" | "M" | "MiB" => 1 << 20,
        "MB" => 1_000_000,
        "g" | "G" | "GiB" => 1 << 30,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "`{s}`: unknown unit `{other}` (k/KiB = 1024, kB = 1000, M/MiB, MB, G/GiB, GB)"
            ))
        }
    };
    n.checked_mul(mult)
        .and_then(|b| usize::try_from(b).ok())
        .ok_or_else(|| format!("`{s}` is too large"))
}

/// A request header `Name: value`; the value is trimmed, the name must be non-empty and neither
/// may hold CR or LF (the request would be split).
pub fn header(s: &str) -> Result<(String, String), String> {
    let (name, value) = s
        .split_once(':')
        .ok_or_else(|| format!("header `{s}` is not `Name: value`"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("header `{s}` has no name before the colon"));
    }
    if s.contains(['\r', '\n']) {
        return Err(format!("header `{}` holds a CR or LF", s.escape_debug()));
    }
    Ok((name.to_owned(), value.trim().to_owned()))
}

/// A request body (`-d`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Body(pub Vec<u8>);

/// A request body, `-d`: the text as given, `@FILE` for a file's bytes, `@-` for standard input
/// (both sent as they are, like curl's `--data-binary`).
pub fn data(s: &str) -> Result<Body, String> {
    read_data(s).map(Body)
}

fn read_data(s: &str) -> Result<Vec<u8>, String> {
    match s.strip_prefix('@') {
        None => Ok(s.as_bytes().to_vec()),
        Some("-") => {
            let mut body = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut body)
                .map_err(|e| format!("reading the body from standard input: {e}"))?;
            Ok(body)
        }
        Some(path) => std::fs::read(path).map_err(|e| format!("reading the body from {path}: {e}")),
    }
}

/// The method sent: `-X` when given, else POST with a body and GET without (as curl does).
pub fn method(given: Option<&str>, body: Option<&Body>) -> String {
    match (given, body) {
        (Some(m), _) => m.to_owned(),
        (None, Some(_)) => "POST".into(),
        (None, None) => "GET".into(),
    }
}

/// A profile name (`cloudflare`, `nginx-1.22`, ...).
pub fn profile(name: &str) -> Result<&'static Profile, String> {
    Profile::by_name(name).ok_or_else(|| {
        format!(
            "unknown profile `{name}` (one of: {})",
            Profile::names().join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_text_or_a_file_and_picks_the_method() {
        assert_eq!(data("a=1").unwrap().0, b"a=1");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("body.bin");
        std::fs::write(&file, b"\0raw\r\n").unwrap();
        assert_eq!(
            data(&format!("@{}", file.display())).unwrap().0,
            b"\0raw\r\n"
        );
        let missing = data("@/nonexistent/body").unwrap_err();
        assert!(missing.contains("/nonexistent/body"), "{missing}");
        assert_eq!(method(None, None), "GET");
        let body = Body(b"x".to_vec());
        assert_eq!(method(None, Some(&body)), "POST");
        assert_eq!(method(Some("PUT"), Some(&body)), "PUT");
    }

    #[test]
    fn durations_take_the_forms_load_documents() {
        assert_eq!(duration("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(duration("1h").unwrap(), Duration::from_secs(3600));
        assert!(duration("5 parsecs").is_err());
        assert!(duration("-1s").is_err());
        assert!(duration("48h").is_err());
    }

    #[test]
    fn durations_take_seconds_and_units() {
        assert_eq!(duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(duration("0"), Ok(Duration::ZERO));
        for bad in ["-1", "abc", "1.5x", "NaN", "inf", "2d", "90000"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
        assert!(duration("abc").unwrap_err().contains("`abc`"));
    }

    #[test]
    fn seconds_refuse_zero() {
        assert_eq!(seconds("0.5"), Ok(Duration::from_millis(500)));
        assert!(seconds("0").is_err());
        assert!(seconds("0s").is_err());
    }

    #[test]
    fn ages_take_short_and_spoken_forms() {
        let h = SignedDuration::from_hours(1);
        assert_eq!(age("1h"), Ok(h));
        assert_eq!(age("2 hours ago"), Ok(h * 2));
        assert_eq!(age("30 minutes ago"), Ok(SignedDuration::from_mins(30)));
        assert_eq!(age("90s"), Ok(SignedDuration::from_secs(90)));
        assert_eq!(age("15m"), Ok(SignedDuration::from_mins(15)));
        assert_eq!(age("2d"), Ok(h * 48));
        assert_eq!(age("1h30m"), Ok(SignedDuration::from_mins(90)));
        assert!(age("two hours ago").is_err());
        assert!(age("2 fortnights").is_err());
    }

    #[test]
    fn since_reads_ages_instants_and_local_times() {
        let now: Timestamp = "2024-01-02T12:00:00Z".parse().unwrap();
        let utc = TimeZone::UTC;
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        assert_eq!(since("1h", now, &utc), Ok(at("2024-01-02T11:00:00Z")));
        assert_eq!(
            since("2 hours ago", now, &utc),
            Ok(at("2024-01-02T10:00:00Z"))
        );
        assert_eq!(since("now", now, &utc), Ok(now));
        assert_eq!(since("today", now, &utc), Ok(at("2024-01-02T00:00:00Z")));
        assert_eq!(
            since("yesterday", now, &utc),
            Ok(at("2024-01-01T00:00:00Z"))
        );
        assert_eq!(
            since("2024-01-02T03:04:05Z", now, &utc),
            Ok(at("2024-01-02T03:04:05Z"))
        );
        assert_eq!(
            since("2024-01-02 03:04:05", now, &utc),
            Ok(at("2024-01-02T03:04:05Z"))
        );
        assert_eq!(since("03:04", now, &utc), Ok(at("2024-01-02T03:04:00Z")));
        let plus2 = TimeZone::fixed(jiff::tz::offset(2));
        assert_eq!(
            since("2024-01-02 03:04", now, &plus2),
            Ok(at("2024-01-02T01:04:00Z"))
        );
        assert!(since("soon", now, &utc).unwrap_err().contains("`soon`"));
    }

    #[test]
    fn byte_sizes_take_binary_and_decimal_units() {
        assert_eq!(byte_size("14238"), Ok(14238));
        assert_eq!(byte_size("18k"), Ok(18 * 1024));
        assert_eq!(byte_size("16KiB"), Ok(16 * 1024));
        assert_eq!(byte_size("16kB"), Ok(16_000));
        assert_eq!(byte_size("4M"), Ok(4 << 20));
        assert_eq!(byte_size("1GB"), Ok(1_000_000_000));
        for bad in ["", "k", "12q", "-5", "1.5k", "99999999999999999999"] {
            assert!(byte_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn headers_are_name_colon_value() {
        assert_eq!(header("X-A:  b c "), Ok(("X-A".into(), "b c".into())));
        assert_eq!(header("X-Empty:"), Ok(("X-Empty".into(), String::new())));
        assert_eq!(header("X-T: a:b"), Ok(("X-T".into(), "a:b".into())));
        assert!(header("nocolon").is_err());
        assert!(header(": v").is_err());
        assert!(header("X: a\r\nInjected: 1").is_err());
    }

    #[test]
    fn profiles_are_looked_up_by_name() {
        assert_eq!(profile("nginx-1.22").unwrap().name, "nginx-1.22");
        let err = profile("iis").unwrap_err();
        assert!(err.contains("iis") && err.contains("cloudflare"), "{err}");
    }

    #[test]
    fn colour_choices_parse() {
        use clap::ValueEnum;
        assert_eq!(Color::from_str("never", false), Ok(Color::Never));
        assert_eq!(Format::from_str("json", false), Ok(Format::Json));
        assert!(Format::from_str("yaml", false).is_err());
    }
}
