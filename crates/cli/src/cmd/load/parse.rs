//! Value parsers of `load`'s flags: durations, error rates, headers, profiles, URL files.

use std::time::Duration;

use anyhow::Context;
use originlens_wire::Profile;

/// `1.5` (seconds), `250ms`, `30s`, `2m`, `1h`.
pub fn duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (e.g. 1.5, 250ms, 30s, 2m, 1h)"))?;
    let secs = match unit.trim() {
        "" | "s" | "sec" | "secs" => n,
        "ms" => n / 1000.0,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        other => return Err(format!("`{s}`: unknown unit `{other}` (ms, s, m, h)")),
    };
    if !(secs.is_finite() && (0.0..=86_400.0).contains(&secs)) {
        return Err(format!("`{s}`: give a duration between 0 and 24 h"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `0.1%` or `0.001`: a share between 0 and 1.
pub fn fraction(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (num, scale) = match t.strip_suffix('%') {
        Some(n) => (n, 100.0),
        None => (t, 1.0),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a rate (e.g. 0.1% or 0.001)"))?;
    let v = v / scale;
    if !(0.0..=1.0).contains(&v) {
        return Err(format!("`{s}`: give a rate between 0 and 100%"));
    }
    Ok(v)
}

/// A profile by name.
pub fn profile(name: &str) -> Result<&'static Profile, String> {
    Profile::by_name(name).ok_or_else(|| {
        format!(
            "unknown profile `{name}` (one of: {})",
            Profile::names().join(", ")
        )
    })
}

/// `Name: value`.
pub fn header(h: &str) -> anyhow::Result<(String, String)> {
    let (name, value) = h
        .split_once(':')
        .with_context(|| format!("header `{h}` is not `Name: value`"))?;
    Ok((name.trim().to_owned(), value.trim().to_owned()))
}

/// The URLs of a `--urls` file: one per line, blank lines and `#` comments skipped.
pub fn url_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split_once('#').map_or(l, |(u, _)| u).trim())
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units_or_seconds() {
        assert_eq!(duration("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(duration("1h").unwrap(), Duration::from_secs(3600));
        assert!(duration("5 parsecs").is_err());
        assert!(duration("-1s").is_err());
        assert!(duration("48h").is_err());
    }

    #[test]
    fn rates_take_percent_or_fraction() {
        assert!((fraction("0.1%").unwrap() - 0.001).abs() < 1e-12);
        assert!((fraction("0.02").unwrap() - 0.02).abs() < 1e-12);
        assert!(fraction("150%").is_err());
        assert!(fraction("lots").is_err());
    }

    #[test]
    fn url_files_skip_comments_and_blanks() {
        let urls = url_lines("# routes\nhttp://a/x\n\n  http://a/y  # cart\n");
        assert_eq!(urls, vec!["http://a/x", "http://a/y"]);
    }
}
